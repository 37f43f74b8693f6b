"""Secrets Manager: encrypted, versioned values (envelope encryption under the master key)."""
