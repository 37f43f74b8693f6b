"""Container deployments (the seed's CloudContainers): replicas, health checks, rolling updates."""
