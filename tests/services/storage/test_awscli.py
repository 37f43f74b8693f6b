"""The real AWS CLI (awscli from PyPI) against the S3 port: mb, cp up/down (multipart for big files),
ls, sync, presign, rm, rb; plus the `cumulo storage` CLI printing ready-to-use credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cumulo.cli.main import app
from cumulo.client import Client

AWS = str(Path(sys.executable).parent / "aws")


@pytest.fixture
def aws(server: Any, creds: dict[str, Any], tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": creds["access_key_id"],
           "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"], "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([AWS, "--endpoint-url", server.s3_url, *args], env=env, capture_output=True, check=False,
                                text=True, timeout=300)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_aws_cli_end_to_end(aws: Any, bucket_name: Any, tmp_path: Path) -> None:
    name = bucket_name()
    assert f"make_bucket: {name}" in aws("s3", "mb", f"s3://{name}").stdout
    assert name in aws("s3", "ls").stdout
    small = tmp_path / "small.txt"
    small.write_text("hello from the aws cli\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))  # above the CLI's 8 MiB threshold: multipart
    aws("s3", "cp", str(small), f"s3://{name}/docs/small.txt")
    aws("s3", "cp", str(big), f"s3://{name}/big.bin")
    listing = aws("s3", "ls", f"s3://{name}/", "--recursive").stdout
    assert "docs/small.txt" in listing and "big.bin" in listing and str(20 * 1024 * 1024) in listing
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{name}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    head = aws("s3api", "head-object", "--bucket", name, "--key", "big.bin").stdout
    assert '-3\\"' in head  # multipart ETag of 3 parts (8 + 8 + 4 MiB)
    aws("s3", "cp", f"s3://{name}/docs/small.txt", f"s3://{name}/copy.txt")
    url = aws("s3", "presign", f"s3://{name}/copy.txt", "--expires-in", "300").stdout.strip()
    assert httpx.get(url).text == "hello from the aws cli\n"
    src = tmp_path / "tree"
    (src / "a").mkdir(parents=True)
    for i in range(5):
        (src / "a" / f"f{i}.txt").write_text(str(i))
    aws("s3", "sync", str(src), f"s3://{name}/tree")
    assert aws("s3", "ls", f"s3://{name}/tree/a/").stdout.count(".txt") == 5
    failed = aws("s3", "rb", f"s3://{name}", ok=False)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws("s3", "rm", f"s3://{name}", "--recursive")
    aws("s3", "rb", f"s3://{name}")
    assert name not in aws("s3", "ls").stdout


def test_aws_cli_versioning_and_errors(aws: Any, bucket: str) -> None:
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert "Enabled" in aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout
    missing = aws("s3api", "get-object", "--bucket", bucket, "--key", "nope", "/dev/null", ok=False)
    assert "NoSuchKey" in missing.stderr


def test_cumulo_storage_cli(server: Any, user: Client, tmp_path: Path, bucket_name: Any) -> None:
    runner = CliRunner()
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": server.url, "CUMULO_API_KEY": user.api_key}

    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    out = cli("storage", "credentials", "create", "--name", "cli")
    lines = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines() if line.startswith("export"))
    assert lines["AWS_ACCESS_KEY_ID"].startswith("CMLO") and lines["AWS_ENDPOINT_URL"] == server.s3_url
    assert lines["AWS_ACCESS_KEY_ID"] in cli("--json", "storage", "credentials", "list")
    name = bucket_name()
    cli("storage", "mb", name)
    src = tmp_path / "in.txt"
    src.write_text("cli bytes")
    cli("storage", "put", str(src), f"{name}/dir/in.txt", "--content-type", "text/plain")
    assert "dir/in.txt" in cli("--json", "storage", "ls", name)
    dest = tmp_path / "out.txt"
    cli("storage", "get", f"{name}/dir/in.txt", str(dest))
    assert dest.read_text() == "cli bytes"
    # The printed credentials work as-is with boto3.
    import boto3

    s3 = boto3.client("s3", endpoint_url=lines["AWS_ENDPOINT_URL"], region_name=lines["AWS_DEFAULT_REGION"],
                      aws_access_key_id=lines["AWS_ACCESS_KEY_ID"], aws_secret_access_key=lines["AWS_SECRET_ACCESS_KEY"])
    assert s3.get_object(Bucket=name, Key="dir/in.txt")["Body"].read() == b"cli bytes"
    cli("storage", "rm", f"{name}/dir/in.txt", "--yes")
    cli("storage", "rb", name, "--yes")
    failed = runner.invoke(app, ["storage", "get", f"{name}/dir/in.txt"], env=env)
    assert failed.exit_code == 1 and "404" in failed.output
