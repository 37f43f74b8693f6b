"""Cache tests share the databases' module fixture (one live server per module, Docker)."""

from tests.services.databases.conftest import stack  # noqa: F401 - the fixture, re-exported
