"""Cloud Functions: Lambda-like handlers served by warm containers with a runtime agent inside."""
