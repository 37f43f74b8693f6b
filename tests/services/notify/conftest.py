from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.notify.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r
