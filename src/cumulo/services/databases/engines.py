"""What differs between the engines: image, port, data directory, first-boot credentials, the
server's command line (with the validated parameters), readiness, dump, restore and password change.

The catalogue's images (``cumulo/postgres``: PostgreSQL 15, ``cumulo/mariadb``: MariaDB 10.11) take
their first-boot password from the environment; Cumulo puts it in a tmpfs file under
``/run/secrets`` that a wrapper exports for the entrypoint only (see ``secretfiles.WRAPPER``), and
empties the folder once the server answers. A new password is sent as the engine's verifier
(SCRAM-SHA-256 for PostgreSQL, the ``mysql_native_password`` hash for MariaDB), never in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cumulo.core.errors import InvalidInput
from cumulo.drivers.compute import secretfiles

WRAP = ["/bin/sh", "-c", secretfiles.WRAPPER, "cumulo-secrets"]


@dataclass(frozen=True)
class Param:
    low: int
    high: int
    unit: str = ""  # "MB": given in MB, passed with the engine's suffix
    restart: bool = True


@dataclass(frozen=True)
class Engine:
    name: str  # the API's engine name
    product: str
    versions: tuple[str, ...]
    image: str
    port: int
    data_path: str
    params: dict[str, Param]
    defaults: dict[str, int]

    def validate(self, params: dict[str, int], memory_mb: int) -> dict[str, int]:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise InvalidInput(f"parameters: {unknown[0]} is not settable on {self.product}; settable: "
                               f"{', '.join(sorted(self.params))}")
        for key, value in params.items():
            p = self.params[key]
            if isinstance(value, bool) or not isinstance(value, int) or not p.low <= value <= p.high:
                raise InvalidInput(f"parameters: {key} must be an integer from {p.low} to {p.high}{p.unit}")
            if p.unit == "MB" and value > memory_mb * 3 // 4:
                raise InvalidInput(f"parameters: {key} ({value} MB) must leave room in memory_mb ({memory_mb} MB): "
                                   f"at most {memory_mb * 3 // 4} MB")
        return dict(params)


def _pg_flags(params: dict[str, int]) -> list[str]:
    out: list[str] = []
    for key, value in sorted(params.items()):
        name = key.removesuffix("_mb")
        out += ["-c", f"{name}={value}MB" if key.endswith("_mb") else f"{name}={value}"]
    return out


def _maria_flags(params: dict[str, int]) -> list[str]:
    out = []
    for key, value in sorted(params.items()):
        name = key.removesuffix("_mb").replace("_", "-")
        out.append(f"--{name}={value}M" if key.endswith("_mb") else f"--{name}={value}")
    return out


POSTGRES = Engine(
    name="postgres", product="PostgreSQL", versions=("15",), image="cumulo/postgres", port=5432,
    data_path="/var/lib/postgresql/data",
    params={"max_connections": Param(10, 5000), "shared_buffers_mb": Param(16, 65536, "MB"),
            "work_mem_mb": Param(1, 2048, "MB"), "log_min_duration_statement": Param(-1, 3_600_000)},
    defaults={"max_connections": 100})
MARIADB = Engine(
    name="mysql", product="MariaDB", versions=("10.11",), image="cumulo/mariadb", port=3306,
    data_path="/var/lib/mysql",
    params={"max_connections": Param(10, 5000), "innodb_buffer_pool_size_mb": Param(16, 65536, "MB"),
            "long_query_time": Param(0, 3600)},
    defaults={"max_connections": 151})
ENGINES = {"postgres": POSTGRES, "mysql": MARIADB, "mariadb": MARIADB}


def engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise InvalidInput("engine must be postgres or mysql (MariaDB)") from None


# A segment is archived on the database's disk at least this often, and shipped to the backup bucket
# within the backups loop's minute (``reconciler.BACKUP_INTERVAL``): at most 5 minutes of committed
# data at risk in all when the host and its disks are lost.
ARCHIVE_TIMEOUT = 240
WAL_DIR = f"{POSTGRES.data_path}/cumulo_wal"  # on the database's disk; Cumulo ships it to the backup bucket
_ARCHIVE = (f"mkdir -p {WAL_DIR} && test ! -f {WAL_DIR}/%f && cp %p {WAL_DIR}/%f.part "
            f"&& mv {WAL_DIR}/%f.part {WAL_DIR}/%f")
PG_ARCHIVING = ["-c", "wal_level=replica", "-c", "archive_mode=on", "-c", f"archive_timeout={ARCHIVE_TIMEOUT}",
                "-c", f"archive_command={_ARCHIVE}"]


def command(e: Engine, params: dict[str, int]) -> list[str]:
    merged = {**e.defaults, **params}
    if e is POSTGRES:
        return [*WRAP, "/usr/local/bin/cumulo-entrypoint", *PG_ARCHIVING, *_pg_flags(merged)]
    return [*WRAP, "/usr/local/bin/cumulo-entrypoint", *_maria_flags(merged)]


def env(e: Engine, database: str, username: str) -> dict[str, str]:
    if e is POSTGRES:
        return {"POSTGRES_USER": username, "POSTGRES_DB": database}
    return {"MARIADB_DATABASE": database, "MARIADB_USER": username}


def first_boot_files(e: Engine, password: str) -> dict[str, str]:
    return {"POSTGRES_PASSWORD" if e is POSTGRES else "MARIADB_PASSWORD": password}


def ready_probe(e: Engine, database: str, username: str) -> list[str]:
    """Exits 0 once the server accepts TCP connections on its port."""
    if e is POSTGRES:
        return ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(e.port), "-U", username, "-d", database]
    # ping answers "alive" only when the server accepts connections (even with access denied); the
    # user's database must exist too (made by the init file before networking starts)
    probe = (f"mariadb-admin ping -h 127.0.0.1 --protocol=tcp -P {e.port} -u cumulo-probe --silent "
             f"--connect-timeout=2 >/dev/null 2>&1 && test -d /var/lib/mysql/{database}")
    return ["sh", "-c", probe]


def dump_command(e: Engine, database: str, username: str) -> tuple[list[str], str | None]:
    """(argv, user) writing a logical dump of the user's database to standard output."""
    if e is POSTGRES:
        return ["pg_dump", "-Fc", "-U", username, "-d", database], "postgres"
    return ["mariadb-dump", "--single-transaction", "--routines", "--triggers", "--events", database], "root"


def base_backup_command(username: str) -> tuple[list[str], str | None]:
    """(argv, user) writing a gzipped tar base backup of the whole PostgreSQL cluster to standard output
    (its WAL comes from the archive)."""
    return ["pg_basebackup", "-D", "-", "-Ft", "-z", "-X", "none", "-c", "fast", "-U", username], "postgres"


def restore_command(e: Engine, database: str, username: str, path: str,
                    custom: bool = True) -> tuple[list[str], str | None]:
    """Load the dump at ``path``: ``pg_restore`` for PostgreSQL's custom format, else plain SQL."""
    if e is POSTGRES and custom:
        return ["pg_restore", "--no-owner", "--no-acl", "--exit-on-error", "-U", username, "-d", database,
                path], "postgres"
    if e is POSTGRES:
        return ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-U", username, "-d", database, "-f", path], "postgres"
    return ["sh", "-c", 'mariadb "$1" < "$2"', "restore", database, path], "root"


def scram_verifier(password: str, iterations: int = 4096) -> str:
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored = hashlib.sha256(client_key).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server).decode()}"


def native_hash(password: str) -> str:
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def set_password_command(e: Engine, username: str, password: str) -> tuple[list[str], str | None]:
    """(argv, user) changing the master password; the argv holds the verifier, not the password."""
    if e is POSTGRES:
        ident = '"' + username.replace('"', '""') + '"'
        sql = f"ALTER ROLE {ident} PASSWORD '{scram_verifier(password)}'"
        return ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-U", username, "-d", "postgres", "-c", sql], "postgres"
    sql = f"ALTER USER '{username}'@'%' IDENTIFIED BY PASSWORD '{native_hash(password)}'"
    return ["mariadb", "-e", sql], "root"


def check_version(e: Engine, version: str | None) -> str:
    if version is None:
        return e.versions[-1]
    for v in e.versions:
        if version == v or v.startswith(f"{version}.") or version.startswith(f"{v}."):
            return v
    raise InvalidInput(f"version {version} of {e.product} is not in this installation's catalogue; available: "
                       f"{', '.join(e.versions)}")
