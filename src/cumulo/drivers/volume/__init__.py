"""Block volumes for containers."""
