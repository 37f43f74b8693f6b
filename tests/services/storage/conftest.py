"""Storage fixtures: S3 credentials for the ``user``/``other_user`` clients and boto3 clients on the
live server's S3 port (real botocore signing, no mocks)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cumulo.client import Client
from cumulo.testing.server import LiveServer


def s3_client(live: LiveServer, creds: dict[str, Any] | None, **config: Any) -> Any:
    """A boto3 S3 client on ``live``; ``creds=None`` makes anonymous (unsigned) requests."""
    from botocore import UNSIGNED

    options: dict[str, Any] = {"s3": {"addressing_style": config.pop("addressing_style", "path")},
                               "retries": {"max_attempts": 1}}
    if creds is None:
        options["signature_version"] = UNSIGNED
    return boto3.client(
        "s3", endpoint_url=live.s3_url, region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"] if creds else "x",
        aws_secret_access_key=creds["secret_access_key"] if creds else "x",
        config=Config(**options, **config))


@pytest.fixture
def creds(user: Client) -> dict[str, Any]:
    return user.storage.create_credentials("tests")  # type: ignore[no-any-return]


@pytest.fixture
def s3(server: LiveServer, creds: dict[str, Any]) -> Any:
    return s3_client(server, creds)


@pytest.fixture
def other_s3(server: LiveServer, other_user: Client) -> Any:
    return s3_client(server, other_user.storage.create_credentials("other"))


@pytest.fixture
def bucket_name() -> Callable[[], str]:
    return lambda: f"b-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bucket(s3: Any, bucket_name: Callable[[], str]) -> str:
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name
