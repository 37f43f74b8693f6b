"""Auto-scaling groups: instances from a launch template, scaled by target tracking."""
