"""Data plane cost: wrk at 50 connections against one nginx instance, all in one run.

1. straight to the instance (its VPC address, port 80);
2. through a Cumulo gateway route (``instance:<id>:80``) and, when the load balancer service is
   there, through a Cumulo load balancer with that instance as its target;
3. through a Caddy configured by hand (``reverse_proxy <ip>:80``, nothing else), same binary;
4. a gateway route with ``require_api_key`` + ``rate_limit`` (forward_auth to Cumulo's check
   endpoint) against the plain route: the p50 they add;
5. config churn: 100 route creations sent at once (16 client threads), then 100 made through the
   service layer on the server's loop -> how many proxy reloads, and how long until the last serves;
   and 100 target changes on a load balancer in one request -> reloads and time until Caddy has them.

Usage: flock /tmp/bench.lock .venv/bin/python bench/proxy.py [--seconds 10] [--rounds 2]
Targets (issue 12): LB >= 95% of hand-configured Caddy; key auth + rate limit <= +2 ms p50.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import free_port, wait_http, wrk

from cumulo.client import Client
from cumulo.services.gateway.dataplane import dataplane
from cumulo.testing.server import LiveServer, test_settings

PASSWORD = "Bench-passw0rd"


def hand_caddy(ip: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    caddyfile = workdir / "Caddyfile"
    caddyfile.write_text(f"{{\n  admin off\n  auto_https off\n}}\n:{port} {{\n  reverse_proxy {ip}:80\n}}\n")
    binary = str(Path(sys.executable).parent / "caddy")
    env = {**os.environ, "XDG_CONFIG_HOME": str(workdir), "XDG_DATA_HOME": str(workdir), "HOME": str(workdir)}
    proc = subprocess.Popen([binary, "run", "--config", str(caddyfile), "--adapter", "caddyfile"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/")
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_serving(port: int, host: str, path: str = "/", timeout: float = 60, key: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            headers = {"Host": host, **({"X-API-Key": key} if key else {})}
            if httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{host}{path} not served")


def churn(live: LiveServer, client: Client, inst_id: str) -> tuple[int, float]:
    from cumulo.services.gateway.dataplane import dataplane

    assert live.platform is not None
    dp = dataplane(live.platform)
    time.sleep(live.settings.gateway_push_seconds + 0.5)
    before = dp.reloads
    started = time.monotonic()

    def make(i: int) -> None:
        with Client(live.url, api_key=client.api_key) as c:
            c.routes.create(f"churn-{i}", f"instance:{inst_id}:80", prefix=f"/c{i}", strip_prefix=True)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(make, range(100)))
    host = client.routes.get("churn-99")["hostname"]
    wait_serving(live.settings.proxy_http_port, host, "/c99")
    elapsed = time.monotonic() - started
    time.sleep(live.settings.gateway_push_seconds + 1)
    return dp.reloads - before, elapsed


def churn_in_process(live: LiveServer, client: Client, inst_id: str) -> tuple[int, float, float]:
    """100 route creations through the service layer on the server's loop (no HTTP): reloads, the
    time the 100 writes took, and the time until the last one serves."""
    import asyncio

    from cumulo.core.principal import Principal
    from cumulo.services.gateway import service as gateway
    from cumulo.services.gateway.dataplane import dataplane
    from cumulo.services.gateway.schemas import RouteCreate

    assert live.platform is not None
    platform = live.platform
    dp = dataplane(platform)
    time.sleep(live.settings.gateway_push_seconds + 0.5)
    me = client.identity.me()
    user = Principal(user_id=me["id"], email=me["email"], name=me["name"], role="user", key_id="-")
    before = dp.reloads

    async def burst() -> float:
        started = asyncio.get_running_loop().time()
        for i in range(100):
            async with platform.db.session() as session:
                await gateway.create(platform, session, user, RouteCreate(
                    name=f"fast-{i}", target=f"instance:{inst_id}:80", prefix=f"/f{i}", strip_prefix=True))
        return asyncio.get_running_loop().time() - started

    started = time.monotonic()
    writes = live.call(burst())
    wait_serving(live.settings.proxy_http_port, client.routes.get("fast-99")["hostname"], "/f99")
    served = time.monotonic() - started
    time.sleep(live.settings.gateway_push_seconds + 1)
    return dp.reloads - before, writes, served


def churn_targets(live: LiveServer, client: Client, inst_id: str) -> tuple[int, float]:
    """100 target changes (99 new targets, one new weight) in one request to a load balancer whose
    checks never act during the run: proxy reloads, and seconds until Caddy's config holds all 100."""
    from cumulo.services.gateway.dataplane import dataplane
    from cumulo.services.lb.pool import route_id

    assert live.platform is not None
    dp = dataplane(live.platform)
    still = {"path": "/", "interval_seconds": 300, "unhealthy_threshold": 10, "matcher": "418"}
    lb = client.lb.create("churn-lb", targets=[{"instance_id": inst_id, "port": 80}], health_check=still)
    time.sleep(3 * live.settings.gateway_push_seconds)
    before = dp.reloads
    changes = [{"instance_id": inst_id, "port": 80, "weight": 2}]
    changes += [{"instance_id": inst_id, "port": p} for p in range(8001, 8100)]
    started = time.monotonic()
    client.lb.add_targets(lb["id"], changes)
    while True:
        applied = dp.applied
        route = next((r for r in applied.routes if r.id == route_id(lb["id"])), None) if applied else None
        if route is not None and len(route.pool.upstreams) == 100:
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    time.sleep(3 * live.settings.gateway_push_seconds)
    reloads = dp.reloads - before
    client.lb.delete(lb["id"])
    return reloads, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cumulo-bench-proxy-"))
    live = LiveServer(test_settings(str(work / "data"), outbound_allow="", proxy_https_port=0,
                                    key_cache_seconds=30, quota_routes=1000)).start()
    hand: subprocess.Popen[bytes] | None = None
    client = Client(live.url)
    try:
        client.identity.register("bench-proxy@example.com", PASSWORD, "Bench")
        client.identity.login("bench-proxy@example.com", PASSWORD)
        inst = client.instances.launch("bench-nginx", "cumulo/nginx", cpus=1, memory_mb=256)
        assert inst["status"] == "RUNNING", inst
        ip = client.instances.get(inst["id"])["ip_address"]
        wait_http(f"http://{ip}:80/")
        port = live.settings.proxy_http_port
        plain = client.routes.create("plain", f"instance:{inst['id']}:80")
        guarded = client.routes.create("guarded", f"instance:{inst['id']}:80", require_api_key=True,
                                       rate_limit=100000)
        wait_serving(port, plain["hostname"])
        wait_serving(port, guarded["hostname"], key=client.api_key or "")
        cases: list[tuple[str, str, dict[str, str]]] = [
            ("direct to the instance", f"http://{ip}:80/", {}),
            ("Cumulo route", f"http://127.0.0.1:{port}/", {"Host": plain["hostname"]}),
        ]
        lb_api = getattr(client, "lb", None)
        if lb_api is not None:
            try:
                from cumulo.client.lb import target
                lb = lb_api.create("bench", targets=[target(inst["id"], 80)])
                lb_host = httpx.URL(lb["url"]).host
                wait_serving(port, lb_host)
                cases.append(("Cumulo load balancer", f"http://127.0.0.1:{port}/", {"Host": lb_host}))
            except Exception as exc:  # noqa: BLE001 - the load balancer service may not be there yet
                print(f"(load balancer skipped: {exc})")
        hand_port = free_port()
        hand = hand_caddy(ip, hand_port, work)
        cases.append(("hand-configured Caddy", f"http://127.0.0.1:{hand_port}/", {}))
        cases.append(("route + key auth + rate limit", f"http://127.0.0.1:{port}/",
                      {"Host": guarded["hostname"], "X-API-Key": client.api_key or ""}))
        results: dict[str, list] = {name: [] for name, _, _ in cases}
        # Caddy's CPU per request: what each configuration costs on the request path, which the load
        # other processes put on a shared machine moves far less than requests/s
        cumulo_caddy = dataplane(live.platform).process.pid if live.platform is not None else None
        caddy_of = {name: (hand.pid if name == "hand-configured Caddy" else cumulo_caddy)
                    for name, _, _ in cases if name != "direct to the instance"}
        cpu_us: dict[str, list[float]] = {name: [] for name in caddy_of}
        for _round in range(args.rounds):  # interleaved, so every case sees the same machine load
            for name, url, headers in cases:
                pid = caddy_of.get(name)
                before = cpu_seconds(pid) if pid else 0.0
                result = wrk(url, headers, connections=50, seconds=args.seconds)
                results[name].append(result)
                if pid:
                    cpu_us[name].append((cpu_seconds(pid) - before) * 1e6 / (result.requests_per_s * args.seconds))
        print(f"\nwrk -c50 -t2 -d{args.seconds}s, {args.rounds} rounds interleaved (best round shown, all rounds below)")
        best = {}
        for name, runs in results.items():
            best[name] = max(runs, key=lambda r: r.requests_per_s)
            print(f"{name:32s} {best[name].row()}")
            for r in runs:
                print(f"{'':34s}{r.row()}")
        if "Cumulo load balancer" in best:
            ratio = best["Cumulo load balancer"].requests_per_s / best["hand-configured Caddy"].requests_per_s
            print(f"load balancer / hand Caddy: {ratio:.1%}")
        ratio = best["Cumulo route"].requests_per_s / best["hand-configured Caddy"].requests_per_s
        print(f"route / hand Caddy: {ratio:.1%}")
        hand_runs = results["hand-configured Caddy"]
        for name in ("Cumulo load balancer", "Cumulo route"):
            if name in results:
                per_round = sorted(r.requests_per_s / h.requests_per_s for r, h in zip(results[name], hand_runs))
                print(f"{name} / hand Caddy, round by round: {', '.join(f'{x:.1%}' for x in per_round)} "
                      f"(median {statistics.median(per_round):.1%})")
        print("Caddy CPU per request (µs, median of rounds): " + ", ".join(
            f"{name} {statistics.median(v):.0f}" for name, v in cpu_us.items() if v))
        hand_cpu = statistics.median(cpu_us["hand-configured Caddy"])
        for name in ("Cumulo load balancer", "Cumulo route"):
            if cpu_us.get(name):
                print(f"{name}: hand Caddy's CPU per request / this one's = {hand_cpu / statistics.median(cpu_us[name]):.1%}")
        p50s = [g.p50_ms - p.p50_ms for g, p in zip(results["route + key auth + rate limit"], results["Cumulo route"])]
        print(f"key auth + rate limit adds p50 at 50 connections (saturated): {', '.join(f'{d:+.2f} ms' for d in p50s)}")
        # Unsaturated: one connection, so p50 is the time of one request through each path.
        plain_url, plain_headers = cases[1][1], cases[1][2]
        guarded_url, guarded_headers = cases[-1][1], cases[-1][2]
        single: dict[str, list] = {"route, 1 connection": [], "route + key auth + rate limit, 1 connection": []}
        for _round in range(args.rounds):
            single["route, 1 connection"].append(wrk(plain_url, plain_headers, connections=1, seconds=args.seconds,
                                                     threads=1))
            single["route + key auth + rate limit, 1 connection"].append(
                wrk(guarded_url, guarded_headers, connections=1, seconds=args.seconds, threads=1))
        for name, runs in single.items():
            for r in runs:
                print(f"{name:46s} {r.row()}")
        deltas = [g.p50_ms - p.p50_ms for p, g in zip(*single.values())]
        print(f"key auth + rate limit adds p50 at 1 connection: {', '.join(f'{d:+.3f} ms' for d in deltas)}")
        reloads, elapsed = churn(live, client, inst["id"])
        print(f"100 route creations at once (16 threads): {reloads} proxy reload(s); last route served after "
              f"{elapsed:.2f} s")
        reloads, writes, served = churn_in_process(live, client, inst["id"])
        print(f"100 route creations in-process: written in {writes:.2f} s, {reloads} proxy reload(s); last route "
              f"served after {served:.2f} s")
        if hasattr(client, "lb"):
            reloads, elapsed = churn_targets(live, client, inst["id"])
            print(f"100 target changes in one request: {reloads} proxy reload(s); in Caddy's config after "
                  f"{elapsed:.2f} s")
    finally:
        if hand is not None:
            os.killpg(hand.pid, signal.SIGTERM)
        for inst in client.instances.list() if client.api_key else []:
            client.instances.terminate(inst["id"])
        live.stop()
        threading.Event().wait(0.5)


if __name__ == "__main__":
    main()
