"""The seed documents' own curl examples, run verbatim with the real ``curl`` against a live server.

Seed 000's quick start sends JSON with ``curl -d`` and no Content-Type (curl labels it
``application/x-www-form-urlencoded``): the bodies must be read as JSON. Its example password
``password`` is refused by the password policy (upstream refused it too), so the test checks that
refusal is about the password, then runs the same commands with only the password changed.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
QUICK_START = """\
curl -X POST http://localhost:8080/auth/register \\
  -d '{"email":"user@example.com", "password":"password", "name":"User"}'

curl -X POST http://localhost:8080/auth/login \\
  -d '{"email":"user@example.com", "password":"password"}'
# Copy the "api_key" from the response

# 3. Test Access
# All protected endpoints require the X-API-Key header
curl -H "X-API-Key: YOUR_API_KEY" http://localhost:8080/instances
"""
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def _commands(text: str) -> list[list[str]]:
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip().startswith("curl ")]


def _curl(argv: list[str], live: LiveServer, replace: dict[str, str]) -> tuple[int, object]:
    args = []
    for arg in argv[1:]:
        arg = arg.replace("http://localhost:8080", live.url)
        for old, new in replace.items():
            arg = arg.replace(old, new)
        args.append(arg)
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True,
                          timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body else None


def test_the_quick_start_examples_are_the_seeds_own() -> None:
    seed = SEEDS / "000_c6bbc8a5ff56a2af.txt"
    if not seed.exists():
        pytest.skip("shared/seeds is not beside the repository")
    assert QUICK_START in seed.read_text()


def test_seed_quick_start_curl_verbatim(server: LiveServer) -> None:
    register, login, instances = _commands(QUICK_START)
    email = new_email()
    same = {"user@example.com": email}
    status, body = _curl(register, server, same)
    assert status == 400, body  # the seed's "password" is too weak; the JSON itself was read
    assert "password" in body["error"]["message"] and "valid dictionary" not in body["error"]["message"]

    strong = {**same, '"password":"password"': f'"password":"{PASSWORD}"'}
    status, body = _curl(register, server, strong)
    assert status == 201 and body["message"], body
    status, body = _curl(login, server, strong)
    assert status == 200 and body["api_key"].startswith("cml_"), body
    status, body = _curl(instances, server, {"YOUR_API_KEY": body["api_key"]})
    assert status == 200 and body == []
