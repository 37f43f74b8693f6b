"""``cumulo instances launch --user-data FILE|-``: the script goes to the API as ``user_data`` (a
container refuses it with the API's 400, so nothing is launched and no Docker is needed); a file
that cannot be read is the CLI's own error, before any request."""

from __future__ import annotations

from pathlib import Path

from cumulo.client import Client


def test_user_data_from_a_file_or_stdin_reaches_the_api(sqlite_cli, sqlite_user: Client,  # type: ignore[no-untyped-def]
                                                        tmp_path: Path) -> None:
    script = tmp_path / "init.sh"
    script.write_text("#!/bin/sh\necho hello > /root/hello\n")
    for source, stdin in ((str(script), None), ("-", script.read_text())):
        out = sqlite_cli("instances", "launch", "ud", "--image", "cumulo/busybox", "--user-data", source, ok=False,
                         input=stdin)
        assert out.exit_code == 1 and "user_data is for VMs" in out.output, out.output
    missing = sqlite_cli("instances", "launch", "ud", "--image", "cumulo/busybox", "--user-data",
                         str(tmp_path / "missing.sh"), ok=False)
    assert missing.exit_code == 2 and "--user-data" in missing.output, missing.output
    assert [i for i in sqlite_user.instances.list() if i["name"] == "ud"] == []
