"""Print the README's settings table from `cumulo.core.config.Settings` (descriptions and defaults).

    .venv/bin/python scripts/settings-table.py > /tmp/table.md
"""

from __future__ import annotations

from cumulo.core.config import Settings

EXTRA = {
    "env": "`development` or `production` (production refuses to start without `CUMULO_MASTER_KEY`)",
    "host": "address the API and S3 endpoint bind to",
    "port": "API port",
    "s3_port": "S3 endpoint port",
    "data_dir": "where the SQLite database, blobs, outbox, keys and volumes live",
    "database_url": "`postgresql+asyncpg://user:pass@host/db` for PostgreSQL; default SQLite in the data dir",
    "public_url": "base URL used in mails and links (default `http://HOST:PORT`)",
    "log_level": "debug, info, warning, error",
    "installation_id": "names this installation on a shared Docker Engine (default: generated in the data dir)",
    "cors_origins": "comma-separated allowed origins, or `*`",
    "max_body_bytes": "largest API request body (object uploads, REST or S3, stream to disk and have their own limits)",
    "api_processes": "API processes sharing the port (see Running it for real; the key cache is off when > 1)",
    "require_email_verification": "refuse logins (403) until the email address is verified",
    "rate_limit": "per-user limit (all of a user's API keys share it), `N/second|minute|hour|day`",
    "auth_rate_limit": "per-IP limit on register, login, forgot/reset-password, verify",
    "key_cache_seconds": "how long an authenticated key is cached in memory (evicted at once on revoke)",
    "reset_token_ttl_seconds": "password-reset token lifetime",
    "verify_token_ttl_seconds": "email-verification link lifetime",
    "smtp_host": "SMTP server; unset = mail goes to `<data_dir>/outbox/*.eml` and the log",
    "smtp_port": "SMTP port",
    "smtp_user": "SMTP login",
    "smtp_password": "SMTP password",
    "smtp_starttls": "use STARTTLS",
    "smtp_from": "sender address",
    "master_key": "32-byte key (base64 or hex) that encrypts secrets and S3 credentials; default: generated "
                  "into `<data_dir>/master.key` (0600)",
}


def main() -> None:
    print("| variable | default | meaning |")
    print("|---|---|---|")
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is None else f"`{default}`"
        text = EXTRA.get(name) or field.description or ""
        print(f"| `CUMULO_{name.upper()}` | {shown} | {text} |")


if __name__ == "__main__":
    main()
