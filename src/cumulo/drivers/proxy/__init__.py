"""Reverse-proxy data plane (Caddy): desired config, driver, process supervision."""
