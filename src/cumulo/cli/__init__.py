"""The ``cumulo`` command line: one module per service, each with ``register(app)``."""
