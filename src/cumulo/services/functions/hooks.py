"""What functions add to the services below them: ``function`` as a cron target and as a notify
protocol (imported by ``cumulo.ports.discover`` in every process before those registries are read)."""

from __future__ import annotations

from cumulo.services.functions import triggers

triggers.register()
