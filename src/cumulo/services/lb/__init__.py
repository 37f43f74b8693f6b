"""Load balancers: listeners on the Caddy data plane, target groups of the caller's instances, health checks."""
