"""Helpers for tests (ours and yours): a real Cumulo server in a thread, on a free port."""
