"""API gateway: ``/routes``, hostnames, and the sole owner of the proxy configuration."""
