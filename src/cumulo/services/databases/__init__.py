"""Managed databases (``/databases``): PostgreSQL and MariaDB on Cumulo block volumes, with backups to
Cumulo's object storage."""
