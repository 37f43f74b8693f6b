from tests.services.network.dockerkit import busybox, containers  # noqa: F401 - fixtures
