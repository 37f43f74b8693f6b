"""Shared kernel: errors, ids, clock, config, events. Imports nothing else of cumulo."""
