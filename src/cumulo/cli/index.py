"""The CLI's top-level commands: name -> (the ``cumulo.cli`` module that registers it, its one-line
help). ``cumulo --help`` lists them from here without importing any module, and a command's module
is imported only when that command runs (start-up under 0.3 s). tests/cli/test_index.py checks this
table against what the modules really register."""

from __future__ import annotations

INDEX: dict[str, tuple[str, str]] = {
    "admin": ("admin", "Server administration (direct database access)"),
    "apps": ("apps", "Apps: git push to deploy, with build detection and a subdomain each"),
    "autoscaling": ("autoscaling", "Auto-scaling groups: instances from a template, scaled on CPU, memory or requests"),
    "billing": ("billing", "Billing: plans, credits, usage and invoices"),
    "cache": ("caches", "Managed caches: Redis, always with a password"),
    "ssh": ("compute", "An interactive shell inside a running instance (over the console WebSocket)."),
    "exec": ("compute", "Run a command in an instance, no TTY: its output as it is, its exit code as ours."),
    "instances": ("compute", "Compute instances (containers on Docker)."),
    "cron": ("cron", "Scheduled jobs (cron, @daily, rate(5 minutes))"),
    "db": ("databases", "Managed databases: PostgreSQL and MariaDB (engine mysql), with backups"),
    "deployments": ("deployments", "Container deployments: replicated, health-checked, rolled out without downtime"),
    "disks": ("disks", "Virtual disks: create, upload, resize, convert, rename, clone, snapshot, attach"),
    "functions": ("functions", "Cloud Functions: deploy, invoke, logs"),
    "register": ("identity", "Create an account."),
    "login": ("identity", "Log in; the new API key is saved (0600) in your config folder."),
    "logout": ("identity", "Revoke the saved API key on the server and forget it."),
    "whoami": ("identity", "Show the account behind the current key."),
    "forgot-password": ("identity", "Ask for a password-reset token by mail."),
    "reset-password": ("identity", "Set a new password with the token from the reset mail."),
    "health": ("identity", "Readiness of the server and its dependencies."),
    "events": ("identity", "Your latest events, newest first."),
    "keys": ("identity", "Manage API keys"),
    "images": ("images", "Images: Cumulo's catalogue (built locally) and your own builds."),
    "keypairs": ("keypairs", "SSH key pairs: made here (private key shown once) or imported"),
    "lb": ("lb", "Load balancers: HTTP traffic spread over your instances, with health checks"),
    "vpcs": ("network", "VPCs: isolated private networks"),
    "subnets": ("network", "Subnets: address ranges inside a VPC"),
    "topics": ("notify", "Pub/sub topics"),
    "subscriptions": ("notify", "Topic subscriptions (webhook, queue) and their delivery log"),
    "queues": ("queues", "Message queues (SQS-style)"),
    "routes": ("routes", "API gateway: route a hostname and path prefix to a target"),
    "secrets": ("secrets", "Secrets Manager: encrypted, versioned values"),
    "up": ("server", "Run everything in one process: API, S3 endpoint and background workers."),
    "api": ("server", "Run only the API (scale out against one PostgreSQL)."),
    "s3": ("server", "Run only the S3 endpoint."),
    "worker": ("server", "Run only the background workers (reconcilers, schedulers)."),
    "storage": ("storage", "Object storage: buckets, objects, S3 credentials"),
    "volumes": ("volumes", "Block volumes: persistent, size-limited disks for instances"),
}
