"""Deployments and auto-scaling (issue 16) against Docker Swarm, in one run on this machine.

1. Rollout time of a 3-replica deployment (one env change; start-first, one replica at a time,
   a health check every 1 s, 2 retries, 1 CPU and 64 MB per replica; the check's timeout is 1 s for
   Cumulo's HTTP GET and 3 s for Swarm's, whose check starts python3 inside the container and often
   fails updates on a loaded machine; a failed Swarm update is counted and tried again): Cumulo's ``PUT /deployments/{id}`` until the
   deployment is RUNNING at the new revision, against a Swarm service with the same image,
   health check and update policy (``--update-order start-first --update-parallelism 1``, host-mode
   ports) until its ``UpdateStatus`` is ``completed``.
2. Auto-scaling reaction: a group of 1 instance (target tracking on cpu_percent, the default 15 s
   evaluation and 5 s metrics sampling) behind a load balancer; a CPU burn starts in the member; the
   time until a second member answers through the load balancer. Swarm has no auto-scaling.

Swarm is initialised only when this node is not in a swarm (and left again at the end), on an
address pool outside Cumulo's VPC pool. Run under the bench lock:
``flock /tmp/bench.lock .venv/bin/python bench/scaling.py``.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for

IMAGE = "cumulo/python"
# answers its host name; burns CPU in a thread while /tmp/burn exists
APP = r"""
import os, socket, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
def burn():
    while True:
        if os.path.exists("/tmp/burn"):
            t = time.monotonic()
            while time.monotonic() - t < 0.1:
                pass
        else:
            time.sleep(0.2)
threading.Thread(target=burn, daemon=True).start()
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (socket.gethostname() + " " + os.environ.get("V", "")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("", 8000), H).serve_forever()
"""
ROUNDS = 3
SWARM_SERVICE = "cumulo-bench-scaling"
SWARM_POOL = "192.168.240.0/20"


def wait(check: Callable[[], Any], timeout: float = 300, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError("timed out")


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check).stdout.strip()


# --- Cumulo --------------------------------------------------------------------------------------

def cumulo_rollouts(client: Client) -> list[float]:
    health = {"http_path": "/", "port": 8000, "interval_seconds": 1, "timeout_seconds": 1, "retries": 2}
    dep = client.deployments.create("bench", IMAGE, replicas=3, command=["python3", "-c", APP], env={"V": "0"},
                                    ports=[8000], memory_mb=64, cpus=1, health_check=health,
                                    update={"max_surge": 1, "max_unavailable": 0, "order": "start-first"})
    times = []
    try:
        wait(lambda: client.deployments.get(dep["id"])["status"] == "RUNNING")
        for i in range(1, ROUNDS + 1):
            start = time.monotonic()
            revision = client.deployments.update(dep["id"], env={"V": str(i)})["revision"]
            wait(lambda r=revision: (d := client.deployments.get(dep["id"]))["revision"] == r
                 and d["status"] == "RUNNING" and d["ready_replicas"] == 3 and len(d["members"]) == 3, interval=0.05)
            times.append(time.monotonic() - start)
            print(f"cumulo rollout {i}: {times[-1]:.2f} s", flush=True)
    finally:
        client.deployments.delete(dep["id"])
        wait(lambda: not client.deployments.list())
    return times


def cumulo_scale_out(client: Client) -> float:
    lb = client.lb.create("benchasg", health_check={"path": "/", "interval_seconds": 1, "timeout_seconds": 0.5,
                                                     "healthy_threshold": 2, "unhealthy_threshold": 2},
                          deregistration_delay_seconds=1)
    group = client.autoscaling.create("benchasg", {"image": IMAGE, "command": ["python3", "-c", APP], "cpus": 0.5,
                                                   "memory_mb": 64}, min_size=1, max_size=2, load_balancer_id=lb["id"],
                                      target_port=8000, warmup_seconds=10,
                                      policies=[{"type": "target_tracking", "metric": "cpu_percent",
                                                 "target_value": 20}])
    host = httpx.URL(lb["url"]).host
    port = httpx.URL(lb["url"]).port or 80
    front = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": host}, timeout=5, trust_env=False)
    try:
        first = wait(lambda: (g := client.autoscaling.get(group["id"]))["members"] and g["members"][0])
        wait(lambda: front.get("/").text.startswith(first["name"]))
        time.sleep(12)  # past the warm-up, so the policy may act
        container = docker("ps", "-q", "--filter", f"label=cumulo.resource={first['instance_id']}")
        start = time.monotonic()
        docker("exec", container, "touch", "/tmp/burn")

        def second_serves() -> bool:
            names = {front.get("/").text.split(" ")[0] for _ in range(6)}
            return any(n and not n.startswith(first["name"]) for n in names)

        wait(second_serves, timeout=300, interval=0.2)
        took = time.monotonic() - start
        print(f"cumulo scale-out: {took:.1f} s from the burn to a second member serving", flush=True)
        acts = client.autoscaling.activities(group["id"])
        print("  activity:", next(a["cause"] for a in acts if a["description"].startswith("scale out")), flush=True)
        return took
    finally:
        front.close()
        client.autoscaling.delete(group["id"])
        wait(lambda: not client.autoscaling.list())
        client.lb.delete(lb["id"])


# --- Swarm ---------------------------------------------------------------------------------------

def swarm_rollouts() -> list[float]:
    health_cmd = "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/', timeout=1)\""
    docker("service", "create", "--detach", "--no-resolve-image", "--name", SWARM_SERVICE, "--replicas", "3",
           "--publish", "mode=host,target=8000", "--env", "V=0", "--limit-memory", "64m", "--limit-cpu", "1",
           "--health-cmd", health_cmd, "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "2",
           "--update-order", "start-first", "--update-parallelism", "1", "--update-delay", "0s",
           "--update-monitor", "1s", "--update-failure-action", "rollback", IMAGE, "python3", "-c", APP)
    times = []

    def running() -> int:
        out = docker("service", "ps", SWARM_SERVICE, "--filter", "desired-state=running", "--format",
                     "{{.CurrentState}}")
        return sum(1 for line in out.splitlines() if line.startswith("Running"))

    try:
        wait(lambda: running() == 3)
        wait(lambda: len([c for c in docker("ps", "--filter", f"label=com.docker.swarm.service.name={SWARM_SERVICE}",
                                            "--format", "{{.Status}}").splitlines() if "(healthy)" in c]) == 3)
        failures, i = 0, 0
        while len(times) < ROUNDS and failures < 2 * ROUNDS:
            i += 1
            start = time.monotonic()
            docker("service", "update", "--detach", "--no-resolve-image", "--env-add", f"V={i}", SWARM_SERVICE)

            def done() -> bool:
                status = json.loads(docker("service", "inspect", SWARM_SERVICE))[0].get("UpdateStatus") or {}
                if status.get("State") in ("rollback_completed", "paused", "rollback_paused"):
                    raise RuntimeError(str(status.get("Message")))
                return status.get("State") == "completed"

            try:
                wait(done, interval=0.05, timeout=180)
            except RuntimeError as exc:
                failures += 1
                print(f"swarm update {i} failed ({exc}); waiting for its rollback", flush=True)
                wait(lambda: (json.loads(docker("service", "inspect", SWARM_SERVICE))[0].get("UpdateStatus") or {})
                     .get("State") in ("rollback_completed", "completed"), timeout=180, interval=0.5)
                continue
            times.append(time.monotonic() - start)
            print(f"swarm rollout {i}: {times[-1]:.2f} s", flush=True)
        print(f"swarm: {failures} update(s) failed their health checks and were rolled back", flush=True)
    finally:
        docker("service", "rm", SWARM_SERVICE, check=False)
    return times


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups (the swarm is left)
    with tempfile.TemporaryDirectory() as data:
        live = LiveServer(settings_for(data, log_level="warning")).start()
        try:
            client = Client(live.url)
            client.identity.register("bench@example.com", "Sup3r-secret!", "Bench")
            client.identity.login("bench@example.com", "Sup3r-secret!")
            cumulo = cumulo_rollouts(client)
            scale_out = cumulo_scale_out(client)
        finally:
            live.stop()
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}")
    joined = state == "inactive"
    if joined:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--default-addr-pool", SWARM_POOL)
    try:
        swarm = swarm_rollouts()
    finally:
        if joined:
            docker("swarm", "leave", "--force", check=False)
    result: dict[str, Any] = {"cumulo_rollout_s": [round(t, 2) for t in cumulo],
                              "swarm_rollout_s": [round(t, 2) for t in swarm],
                              "asg_burn_to_second_member_serving_s": round(scale_out, 1)}
    if cumulo and swarm:
        result["cumulo_median_s"] = round(statistics.median(cumulo), 2)
        result["swarm_median_s"] = round(statistics.median(swarm), 2)
        result["ratio_cumulo_over_swarm"] = round(result["cumulo_median_s"] / result["swarm_median_s"], 2)
    print(json.dumps(result, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
