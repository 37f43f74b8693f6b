from tests.services.network.conftest import other_user_sqlite  # noqa: F401 - fixtures
from tests.services.network.dockerkit import busybox, containers, release_loop_devices  # noqa: F401 - fixtures
