"""Functions tests need the real dockerd and the runtime images (``cumulo images bootstrap``)."""

from __future__ import annotations

import subprocess

import pytest

from cumulo.client.functions import zip_files


def _have_images() -> bool:
    try:
        out = subprocess.run(["docker", "images", "-q", "cumulo/python"], capture_output=True, text=True, timeout=30,
                             check=False)
        out2 = subprocess.run(["docker", "images", "-q", "cumulo/node"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(out.stdout.strip()) and bool(out2.stdout.strip())


@pytest.fixture(scope="session", autouse=True)
def runtime_images() -> None:
    if not _have_images():
        pytest.fail("functions tests need dockerd and the cumulo/python and cumulo/node images: run "
                    "./scripts/ensure-docker.sh and `cumulo images bootstrap`", pytrace=False)


PY_CODE = '''
import json, os, socket, time

def handler(event, context):
    print("got", json.dumps(event))
    return {"echo": event, "host": socket.gethostname(), "fn": context.function_name}

def fail(event, context):
    raise ValueError("bad input: " + str(event))

def sleepy(event, context):
    time.sleep(event.get("seconds", 5))
    return {"slept": event.get("seconds", 5), "host": socket.gethostname()}

def hog(event, context):
    blocks = []
    while True:
        blocks.append(bytearray(16 * 1024 * 1024))

def env(event, context):
    return {k: os.environ.get(k) for k in event["names"]}

def files(event, context):
    out = {}
    with open("/tmp/scratch.txt", "w") as fh:
        fh.write("ok")
    out["tmp"] = open("/tmp/scratch.txt").read()
    try:
        open("/etc/hacked", "w").write("x")
        out["root"] = "writable"
    except OSError as exc:
        out["root"] = type(exc).__name__
    try:
        open("/var/task/new.txt", "w").write("x")
        out["code"] = "writable"
    except OSError as exc:
        out["code"] = type(exc).__name__
    return out

def network(event, context):
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        return {"network": True}
    except OSError as exc:
        return {"network": False, "error": type(exc).__name__}

async def coro(event, context):
    return {"async": True, "left_ms": context.get_remaining_time_in_millis() > 0}

def flaky(event, context):
    path = "/tmp/attempts"
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(n))
    if n < event.get("succeed_on", 99):
        raise RuntimeError(f"attempt {n} fails")
    return {"attempt": n}

def records(event, context):
    bodies = [r["body"] for r in event["Records"]]
    print("batch", bodies)
    if any(b == "poison" for b in bodies):
        raise ValueError("poison message")
    return {"count": len(bodies)}
'''

NODE_CODE = '''
const os = require('os');
exports.handler = async (event, context) => {
  console.log('node got', JSON.stringify(event));
  return { echo: event, host: os.hostname(), fn: context.functionName, node: process.version };
};
exports.fail = async () => { throw new TypeError('node says no'); };
exports.sync = (event) => ({ doubled: event.n * 2 });
'''


@pytest.fixture(scope="session")
def py_zip() -> bytes:
    return zip_files({"main.py": PY_CODE})


@pytest.fixture(scope="session")
def node_zip() -> bytes:
    return zip_files({"index.js": NODE_CODE})
