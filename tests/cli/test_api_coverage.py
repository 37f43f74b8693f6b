"""Every API feature has its CLI command (issue 13): every route of every service is reached by a method
of the SDK (``cumulo.client``), and every SDK method is called by a CLI command, unless it is named
below with the reason. Read from the source (routers, the SDK's calls, the CLI's calls): no server."""

from __future__ import annotations

import ast
import inspect
import re
from functools import cached_property
from pathlib import Path

from cumulo import services
from cumulo.client import Client

SRC = Path(__file__).resolve().parents[2] / "src" / "cumulo"
VERBS = {"get": "GET", "post": "POST", "put": "PUT", "delete": "DELETE", "patch": "PATCH"}

# (method, path) -> why the SDK (and so the CLI) does not call it
ROUTES_WITHOUT_SDK: dict[tuple[str, str], str] = {
    **{route: "a seed project's path (aliases, README table), answered by the service the SDK calls"
       for route in [("GET", "/"), ("POST", "/auth/signup"), ("DELETE", "/container/{}"), ("GET", "/health"),
                     ("POST", "/register"), ("POST", "/token"), ("GET", "/user"), ("DELETE", "/users/container"),
                     ("POST", "/users/container"), ("GET", "/users/containers"),
                     ("POST", "/apps/create"), ("POST", "/apps/deploy"), ("GET", "/apps/list"), ("POST", "/apps/start"),
                     ("POST", "/apps/stop"), ("GET", "/apps/{}/status"),
                     ("GET", "/vm/list"), ("POST", "/vm/start"), ("POST", "/vm/stop"), ("POST", "/vm/delete"),
                     ("GET", "/vm/stats/runtime"), ("GET", "/vm/runtime-stats"),
                     *[("POST", f"/vm/{p}") for p in ("disk/create", "create-disk", "disk/info", "disk-info",
                                                     "disk/resize", "resize-disk", "disk/convert", "convert-disk",
                                                     "disk/rename", "rename-disk")],
                     ("POST", "/auth/keys/{}/regenerate"), ("POST", "/deployments/{}/scale"),
                     ("GET", "/topics/{}/subscriptions"), ("POST", "/topics/{}/subscriptions"),
                     ("DELETE", "/loadbalancers/{}/targets/{}")]},
    ("GET", "/git/{}/info/refs"): "git's smart HTTP: `git push` talks to it (cumulo apps git-remote)",
    ("POST", "/git/{}/git-receive-pack"): "git's smart HTTP",
    ("POST", "/git/{}/git-upload-pack"): "git's smart HTTP",
    ("GET", "/health/live"): "the liveness probe of orchestrators; `cumulo health` asks readiness",
    **{("PATCH", path): "the PATCH twin of the PUT the SDK sends"
       for path in ("/autoscaling/groups/{}", "/cron/{}", "/deployments/{}", "/functions/{}", "/instances/{}",
                    "/queues/{}")},
    ("PUT", "/apps/{}/source"): "the first form of POST /apps/{app}/source, kept for scripts",
    ("POST", "/snapshots"): "POST /volumes/{volume}/snapshots with the volume in the body",
    ("GET", "/volumes/{}/snapshots"): "GET /snapshots?volume_id= (volumes.snapshots)",
    ("WS", "/vm/{}/vnc"): "a VNC display for noVNC in the console, not a terminal",
    ("WS", "/instances/{}/vnc"): "a container's desktop for noVNC in the console, not a terminal",
}
# "namespace.method" -> why no CLI command calls it
SDK_ONLY: dict[str, str] = {
    "instances.wait": "the SDK's poll until a steady state (the CLI's launch prints at once)",
    "storage.get": "the in-memory form of storage.download, which `cumulo storage get` streams",
    "images.build_wait": "the SDK's blocking form of images.build (the CLI streams the build)",
    "instances.console_url": "used by instances.console, which `cumulo ssh` calls",
    "functions.create_multipart": "the multipart form of functions.create (the CLI sends JSON)",
    "deployments.replicas": "`cumulo deployments show` prints the same replicas with the deployment",
}


def _namespaces() -> dict[str, str]:
    """SDK class name -> the ``Client`` attribute that holds it (``Instances`` -> ``instances``)."""
    out = {}
    for name, member in inspect.getmembers(Client):
        if isinstance(member, cached_property):
            out[str(inspect.get_annotations(member.func)["return"])] = name
    return out


def _path(node: ast.expr, helpers: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
        text = helpers[node.func.id]
    else:
        return None
    return re.sub(r"\{[^}]*\}", "{}", text).split("?")[0]


def sdk_calls() -> dict[str, set[tuple[str, str]]]:
    """``namespace.method`` -> the (method, path) it sends; the base ``Client``'s own as ``.method``."""
    found: dict[str, set[tuple[str, str]]] = {}
    names = _namespaces()
    for file in sorted((SRC / "client").glob("*.py")):
        tree = ast.parse(file.read_text())
        helpers = {f.name: p for f in tree.body if isinstance(f, ast.FunctionDef)
                   for r in ast.walk(f) if isinstance(r, ast.Return) and r.value is not None
                   and (p := _path(r.value, {})) is not None}
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            owner = names.get(cls.name, "" if cls.name in ("Client", "Transport") else None)
            if owner is None:
                continue
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
                       and not n.decorator_list):  # a namespace (cached_property) is no call
                calls = found.setdefault(f"{owner}.{fn.name}", set())
                for call in ast.walk(fn):
                    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                        continue
                    attr, args, verb, path = call.func.attr, call.args, "", None
                    if attr in ("request", "stream") and len(args) >= 2 and isinstance(args[0], ast.Constant):
                        verb, path = str(args[0].value), _path(args[1], helpers)
                    elif attr in VERBS and args:
                        verb, path = VERBS[attr], _path(args[0], helpers)
                    if path and path.startswith("/"):
                        calls.add((verb, path))
    return found


def routes() -> set[tuple[str, str]]:
    out = set()
    for _name, module in services.modules("api"):
        for route in module.router.routes:
            path = re.sub(r"\{[^}]*\}", "{}", route.path)
            for method in getattr(route, "methods", None) or {"WS"}:
                if method not in ("HEAD", "OPTIONS"):
                    out.add((method, path))
    return out


def test_every_route_is_in_the_sdk() -> None:
    sent = set().union(*sdk_calls().values())
    sent |= {("WS", "/instances/{}/console")}  # instances.console connects to console_url()
    missing = sorted(r for r in routes() - sent if r not in ROUTES_WITHOUT_SDK)
    assert not missing, f"routes no SDK method calls: {missing}"
    stale = sorted(r for r in ROUTES_WITHOUT_SDK if r not in routes())
    assert not stale, f"ROUTES_WITHOUT_SDK names routes that are gone: {stale}"


def test_every_sdk_method_has_a_cli_command() -> None:
    cli = {f.name: f.read_text() for f in (SRC / "cli").glob("*.py")}
    missing = []
    for qualified in sorted(sdk_calls()):
        owner, method = qualified.split(".")
        if qualified in SDK_ONLY or not owner and method in ("request", "send", "stream", "get", "post", "put", "delete",
                                                             "headers", "close"):
            continue
        direct = re.compile(rf"\.{owner}\.{method}\(" if owner else rf"(\bc|client\(\))\.{method}\(")
        by_verb = re.compile(rf"getattr\((c|client\(\))\.{owner}, ")  # getattr(c.caches, verb) over ("reboot", ...)
        if not any(direct.search(text) or (owner and by_verb.search(text) and f'"{method}"' in text)
                   for text in cli.values()):
            missing.append(qualified)
    assert not missing, f"SDK methods no CLI command calls: {missing}"
    unknown = sorted(set(SDK_ONLY) - set(sdk_calls()))
    assert not unknown, f"SDK_ONLY names methods that are gone: {unknown}"
