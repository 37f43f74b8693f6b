"""One folder per product. Each folder may hold:

- ``api.py`` with ``router`` (mounted by ``cumulo.api.app.create_app``),
- ``reconciler.py`` with ``register(platform)`` (background loops, run by ``cumulo up``/``worker``),
- ``lifecycle.py`` with ``async startup(platform)`` (runs at start in every role, e.g. health checks),
- ``hooks.py``, imported once per process before a port is read (``cumulo.ports.discover``): it
  fills the ports and registries of the services below this one (``cumulo.ports``: ``resolve``,
  ``users_of``, cron targets, notify protocols, gateway route providers),
- ``migrations/`` (an Alembic branch of its own).

CLI commands live in ``cumulo/cli/<name>.py`` (``register(app)``).

Discovery is by folder, so adding a service touches only its folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def modules(part: str) -> list[tuple[str, ModuleType]]:
    """Import ``cumulo.services.<name>.<part>`` for every service that has it."""
    found = []
    for name in names():
        qualified = f"{__name__}.{name}.{part}"
        if importlib.util.find_spec(qualified) is not None:
            found.append((name, importlib.import_module(qualified)))
    return found
