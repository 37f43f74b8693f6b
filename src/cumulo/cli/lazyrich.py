"""``rich.markdown`` only when something renders Markdown.

typer's help formatter (``typer.rich_utils``) imports ``rich.markdown`` at its top, which pulls in
markdown-it: about 200 ms of every ``cumulo --help``, for a parser used only in typer's "markdown"
markup mode, which the CLI does not use. Until the real module is imported, ``rich.markdown`` is a
stand-in whose ``Markdown`` imports the real one when first made. Anything else asked of the
stand-in also brings the real module in, so a later user of ``rich.markdown`` sees it whole.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

NAME = "rich.markdown"


def _real() -> types.ModuleType:
    stand_in = sys.modules.get(NAME)
    if isinstance(stand_in, _StandIn):
        del sys.modules[NAME]
    module = importlib.import_module(NAME)
    import rich

    rich.markdown = module
    return module


class _LazyMarkdown:
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real().Markdown(*args, **kwargs)


class _StandIn(types.ModuleType):
    Markdown = _LazyMarkdown

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system asks for __path__ and the like: not a use
            raise AttributeError(name)
        return getattr(_real(), name)


def install() -> None:
    if NAME not in sys.modules:
        sys.modules[NAME] = _StandIn(NAME, __doc__)
