"""Database plumbing: engine, sessions, base model, migrations. No service tables live here."""
