"""Per-user quotas: one registry of every resource kind a user can multiply (``GET /quotas``)."""
