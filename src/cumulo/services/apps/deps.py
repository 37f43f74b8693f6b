"""Dependencies of Python and Node.js apps, installed on the server from the package registries it
reaches, into a per-app cache keyed by what was asked for (a push that changes only code reuses
the directory, and Docker then reuses the layer built from it).

Nothing from the user's tree runs on the server: Python packages are wheels only
(``--only-binary=:all:``, no ``setup.py``), npm runs with ``--ignore-scripts``; requirement lines
are plain names with versions (no ``-r``/``-e``/``--index-url``, no URL or path), npm specs are
registry versions (no ``file:``, git or URL), and a lockfile may only point at the registry. What
the installer sees is a file Cumulo writes, in a directory of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform as pyplatform
import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from cumulo.core.errors import InvalidInput

PYTHON_VERSION = "3.11"  # the catalogue image's (cumulo/python: Debian bookworm)
GLIBC_MINOR = 36  # bookworm's glibc 2.36
NPM_SPEC = re.compile(r"^[\w.^~<>=|* +-]{1,100}$")
LogFn = Callable[[str], None]


def _requirement(text: str, where: str) -> str:
    if text.startswith("-"):
        raise InvalidInput(f"{where}: options ({text.split()[0]}) are not allowed; list packages only")
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    if req.url:
        raise InvalidInput(f"{where}: '{req.name} @ <url>' is not allowed; name a version from the registry")
    return str(req)


def python_requirements(root: Path) -> list[str]:
    """The app's requirements, checked (400 names the line)."""
    out: list[str] = []
    req = root / "requirements.txt"
    if req.is_file() and not req.is_symlink():
        for n, line in enumerate(req.read_text("utf-8", "replace").splitlines(), 1):
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if line:
                out.append(_requirement(line, f"requirements.txt line {n}"))
    elif (root / "pyproject.toml").is_file() and not (root / "pyproject.toml").is_symlink():
        try:
            data = tomllib.loads((root / "pyproject.toml").read_text("utf-8", "replace"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"pyproject.toml: {exc}") from None
        deps = (data.get("project") or {}).get("dependencies") or []
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise InvalidInput("pyproject.toml: project.dependencies must be a list of strings")
        out = [_requirement(d, "pyproject.toml project.dependencies") for d in deps]
    return out


def node_manifest(root: Path, registry: str) -> tuple[dict[str, object], dict[str, object] | None]:
    """package.json reduced to its dependencies, and the lockfile (checked), or None."""
    package = json.loads((root / "package.json").read_text("utf-8", "replace"))
    deps = package.get("dependencies") or {}
    if not isinstance(deps, dict):
        raise InvalidInput("package.json: dependencies must be an object")
    for name, spec in deps.items():
        if not isinstance(spec, str) or not NPM_SPEC.match(spec) or ":" in spec:
            raise InvalidInput(f"package.json: dependency {name!r} must be a registry version (not {spec!r}: "
                               "no file:, git, URL or alias)")
    manifest: dict[str, object] = {"name": "cumulo-app", "version": "1.0.0", "private": True, "dependencies": deps}
    lock_path = root / "package-lock.json"
    lock = None
    if lock_path.is_file() and not lock_path.is_symlink() and deps:
        try:
            lock = json.loads(lock_path.read_text("utf-8", "replace"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"package-lock.json: {exc}") from None
        for key, entry in (lock.get("packages") or {}).items():
            if not key:
                lock["packages"][key] = {**entry, "name": "cumulo-app", "version": "1.0.0"}
                continue
            if not isinstance(entry, dict) or entry.get("link"):
                raise InvalidInput(f"package-lock.json: {key} is a link; only registry packages are installed")
            resolved = entry.get("resolved")
            if resolved is not None and not str(resolved).startswith(registry):
                raise InvalidInput(f"package-lock.json: {key} resolves outside the registry ({registry})")
        lock["name"] = "cumulo-app"
    return manifest, lock


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


async def _run(argv: list[str], cwd: Path, env: dict[str, str], log: LogFn, timeout: float) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None

    async def pump() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line and "Running pip as the 'root' user" not in line and "[notice]" not in line:
                log(f"       {line}\n")

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise InvalidInput(f"installing dependencies took longer than {int(timeout)} s") from None
    if proc.returncode != 0:
        raise InvalidInput(f"installing dependencies failed ({argv[0]} exited with {proc.returncode})")


def _env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "SSL_CERT_FILE", "PIP_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
            "PIP_DEFAULT_TIMEOUT", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy",
            "npm_config_registry", "PYENV_ROOT", "PYENV_VERSION")
    env = {k: v for k, v in os.environ.items() if k in keep}
    pyenv = Path(os.path.expanduser("~/.pyenv"))
    if "PYENV_ROOT" not in env and pyenv.is_dir():  # a pyenv shim finds its Python through it
        env["PYENV_ROOT"] = str(pyenv)
    env["HOME"] = str(home)  # the installer's caches live under the server's cache dir
    return env


def _fix_scripts(target: Path) -> None:
    """Console scripts point at the server's Python: make them use the container's."""
    bin_dir = target / "bin"
    if not bin_dir.is_dir():
        return
    for script in bin_dir.iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]:
                script.write_bytes(b"#!/usr/bin/python3\n" + data.split(b"\n", 1)[1])


async def python(cache: Path, requirements: list[str], pip: str, log: LogFn, timeout: float) -> tuple[Path, bool]:
    """The site-packages directory for ``requirements`` (cached); True when it was reused."""
    machine = pyplatform.machine() or "x86_64"
    key = _key("python", PYTHON_VERSION, machine, sorted(requirements))
    target = cache / f"py-{key}"
    if target.is_dir():
        return target, True
    work = cache / f".py-{key}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "requirements.txt").write_text("\n".join(requirements) + "\n")
    platforms = [f"manylinux_2_{v}_{machine}" for v in range(GLIBC_MINOR, 16, -1)]
    platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    # --no-warn-conflicts: pip would check the server's own installed packages against the target's
    # and print them into the user's build log (the resolver already made the app's set consistent)
    argv = [pip, "install", "--no-input", "--disable-pip-version-check", "--no-warn-script-location",
            "--no-warn-conflicts",
            "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp",
            *[a for p in platforms for a in ("--platform", p)], "--target", str(work / "site"),
            "-r", str(work / "requirements.txt")]
    home = cache.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    await _run(argv, work, _env(home), log, timeout)
    (work / "site").mkdir(exist_ok=True)
    _fix_scripts(work / "site")
    (work / "site").rename(target)
    shutil.rmtree(work, ignore_errors=True)
    return target, False


async def node(cache: Path, manifest: dict[str, object], lock: dict[str, object] | None, npm: str, log: LogFn,
               timeout: float) -> tuple[Path, bool]:
    """The node_modules directory for ``manifest`` (cached); True when it was reused."""
    key = _key("node", manifest, lock)
    target = cache / f"node-{key}"
    if target.is_dir():
        return target, True
    work = cache / f".node-{key}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "package.json").write_text(json.dumps(manifest))
    if lock is not None:
        (work / "package-lock.json").write_text(json.dumps(lock))
    home = cache.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    argv = [npm, "ci" if lock is not None else "install", "--ignore-scripts", "--omit=dev", "--no-audit",
            "--no-fund", "--no-update-notifier", "--userconfig", str(home / ".npmrc")]
    await _run(argv, work, _env(home), log, timeout)
    (work / "node_modules").mkdir(exist_ok=True)
    (work / "node_modules").rename(target)
    shutil.rmtree(work, ignore_errors=True)
    return target, False
