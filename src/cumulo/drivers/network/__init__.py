"""Private networks (VPCs) on a container engine."""
