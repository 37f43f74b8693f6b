"""Function containers: the runtime agents (``agent/``), the host side of their socket protocol
(``protocol``) and the Docker adapter that starts and removes the containers (``docker``)."""

from pathlib import Path

AGENT_DIR = Path(__file__).parent / "agent"
