"""Cumulo: a self-hosted cloud platform."""

__version__ = "0.1.0"
