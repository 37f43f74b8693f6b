"""The HTTP shell: app factory, dependencies, middleware, one error handler."""
