"""Managed caches (``/caches``): Redis with an ACL user per credential, never unauthenticated."""
