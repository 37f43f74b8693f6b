"""What kind of app a source tree is, and how it starts (first match wins, see README "Apps"):

1. ``Dockerfile`` -> ``docker`` (built with the rules of user images: catalogue or own images only).
2. ``package.json`` -> ``nodejs`` (dependencies with ``npm ci`` / ``npm install``; ``scripts.start``,
   else ``node <main>``, else ``node index.js``/``server.js``/``app.js``).
3. ``requirements.txt``, ``pyproject.toml``, ``app.py``, ``main.py`` or ``bot.py`` -> ``python``; a
   Flask or FastAPI object in ``app.py``/``main.py`` is served by gunicorn / uvicorn, Django
   (``manage.py`` + ``<pkg>/wsgi.py``) by gunicorn, otherwise ``python app.py``/``main.py``. A tree
   with ``bot.py`` and neither ``app.py`` nor ``main.py`` is ``telegram-bot``: a worker, no port.
4. ``index.html`` -> ``static`` (nginx).

A ``Procfile`` overrides the start command on the detected language: ``web:`` (served on
``$PORT``), else ``worker:`` (no port, no route); ``release:`` runs before the switch.
An explicit ``app_type`` overrides the detection.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cumulo.core.errors import InvalidInput

TYPES = ("docker", "nodejs", "python", "telegram-bot", "static")
APP_OBJECT = re.compile(r"^(\w+)\s*=\s*(Flask|FastAPI)\(", re.MULTILINE)
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.+)$")


@dataclass
class Plan:
    app_type: str
    process: str = "web"  # web | worker
    command: str | None = None  # shell command (None: the image's own CMD)
    release_command: str | None = None
    framework: str | None = None  # flask | fastapi | django
    extra_python: list[str] = field(default_factory=list)  # server packages added to the requirements


def _read(root: Path, name: str, limit: int = 256 * 1024) -> str:
    path = root / name
    if not path.is_file() or path.is_symlink():
        return ""
    return path.read_bytes()[:limit].decode("utf-8", "replace")


def procfile(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        if not match:
            raise InvalidInput(f"Procfile: cannot read {line[:80]!r} (use 'web: <command>')")
        out[match.group(1).lower()] = match.group(2).strip()
    return out


def language(root: Path) -> str | None:
    def has(name: str) -> bool:
        return (root / name).is_file() and not (root / name).is_symlink()

    if has("Dockerfile"):
        return "docker"
    if has("package.json"):
        return "nodejs"
    if any(has(n) for n in ("requirements.txt", "pyproject.toml", "app.py", "main.py", "bot.py")):
        if has("bot.py") and not has("app.py") and not has("main.py"):
            return "telegram-bot"
        return "python"
    if has("index.html"):
        return "static"
    return None


def _python(root: Path, plan: Plan) -> None:
    wants = _read(root, "requirements.txt").lower() + _read(root, "pyproject.toml").lower()
    for module in ("app", "main"):
        match = APP_OBJECT.search(_read(root, f"{module}.py"))
        if match:
            var, kind = match.group(1), match.group(2)
            if kind == "FastAPI":
                plan.framework = "fastapi"
                plan.command = f"exec python -m uvicorn {module}:{var} --host 0.0.0.0 --port $PORT"
                if "uvicorn" not in wants:
                    plan.extra_python.append("uvicorn")
            else:
                plan.framework = "flask"
                plan.command = f"exec python -m gunicorn --bind 0.0.0.0:$PORT --access-logfile - {module}:{var}"
                if "gunicorn" not in wants:
                    plan.extra_python.append("gunicorn")
            return
    if (root / "manage.py").is_file():
        for wsgi in sorted(root.glob("*/wsgi.py")):
            plan.framework = "django"
            plan.command = f"exec python -m gunicorn --bind 0.0.0.0:$PORT {wsgi.parent.name}.wsgi"
            if "gunicorn" not in wants:
                plan.extra_python.append("gunicorn")
            return
    for script in ("app.py", "main.py"):
        if (root / script).is_file():
            plan.command = f"exec python {script}"
            return
    raise InvalidInput("a Python app needs app.py or main.py (or a Procfile with 'web:')")


def _node(root: Path, plan: Plan) -> None:
    try:
        package = json.loads(_read(root, "package.json") or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"package.json is not valid JSON: {exc}") from None
    if not isinstance(package, dict):
        raise InvalidInput("package.json must hold an object")
    start = (package.get("scripts") or {}).get("start") if isinstance(package.get("scripts"), dict) else None
    if isinstance(start, str) and start.strip():
        plan.command = start.strip()
        return
    main = package.get("main")
    candidates = [main] if isinstance(main, str) and main else []
    candidates += ["index.js", "server.js", "app.js"]
    for candidate in candidates:
        path = (root / candidate).resolve()
        if path.is_file() and path.is_relative_to(root.resolve()):
            plan.command = f"exec node {json.dumps(candidate)}"
            return
    raise InvalidInput("a Node.js app needs scripts.start or main in package.json, or an index.js")


def detect(root: Path, forced: str | None = None) -> Plan:
    """The plan for the tree at ``root`` (400 when nothing matches)."""
    kind = forced or language(root)
    if kind is None:
        raise InvalidInput("cannot tell what this app is: add a Dockerfile, package.json, requirements.txt, "
                           "app.py, bot.py or index.html (README: Apps, detection)")
    plan = Plan(app_type=kind)
    procs = procfile(_read(root, "Procfile")) if (root / "Procfile").is_file() else {}
    if kind == "python":
        if "web" not in procs and "worker" not in procs:
            _python(root, plan)
    elif kind == "telegram-bot":
        plan.process, plan.command = "worker", "exec python bot.py"
    elif kind == "nodejs":
        if "web" not in procs and "worker" not in procs:
            _node(root, plan)
    elif kind == "static":
        if not (root / "index.html").is_file():
            raise InvalidInput("a static site needs index.html")
    elif kind == "docker" and not (root / "Dockerfile").is_file():
        raise InvalidInput("app_type docker needs a Dockerfile")
    if "web" in procs:
        plan.process, plan.command = "web", procs["web"]
    elif "worker" in procs:
        plan.process, plan.command = "worker", procs["worker"]
    plan.release_command = procs.get("release")
    return plan
