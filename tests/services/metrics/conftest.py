from tests.services.network.dockerkit import busybox, containers, release_loop_devices  # noqa: F401 - fixtures
