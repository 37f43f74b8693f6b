"""Recipes of Cumulo's base images: built locally from the OS package mirror, no registry needed.

``cumulo/busybox`` is the busybox-static binary on an empty root; ``cumulo/debian`` is an
mmdebstrap minbase root; the others are Dockerfiles on ``cumulo/debian`` (classic builder,
``apt-get clean`` so no .deb stays in a layer), ``cumulo/desktop`` among them: the browser in the
cloud (Xvfb, fluxbox, Firefox ESR, x11vnc), whose screen the console shows through noVNC. That one is
``on_demand``: built at the first launch of an instance from it (``compute.pending``), or ahead of time
by ``cumulo images bootstrap --all``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

SUITE = "bookworm"
EPOCH = 1700000000  # fixed timestamps: the same inputs give the same image id
BASE = "cumulo/debian"

APT = ("RUN apt-get update && apt-get install -y --no-install-recommends {pkgs} "
       "&& apt-get clean && rm -rf /var/lib/apt/lists/*")


def _apt(*pkgs: str) -> str:
    return APT.format(pkgs=" ".join(pkgs))


@dataclass(frozen=True)
class Recipe:
    name: str  # repository, tagged :latest
    kind: str  # rootfs | dockerfile
    dockerfile: str = ""
    files: dict[str, str] = field(default_factory=dict)
    description: str = ""
    registry: str | None = None  # tried first when CUMULO_REGISTRY_PULL=1
    # built at the first launch that names it, not by a plain `cumulo images bootstrap` (`--all`
    # builds it too): an image too heavy for every fresh install to pay for (cumulo/desktop, ~810 MB)
    on_demand: bool = False
    first_build: str = ""  # how long its first build takes, told to the user who waits for it

    @property
    def tag(self) -> str:
        return f"{self.name}:latest"

    def digest(self, parent: str = "") -> str:
        """Changes whenever anything that goes into the image changes (the cache key)."""
        payload = json.dumps([self.name, self.kind, self.dockerfile, self.files, parent, SUITE], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


POSTGRES_ENTRYPOINT = r"""#!/bin/sh
# POSTGRES_PASSWORD (none: trust), POSTGRES_USER (postgres), POSTGRES_DB (the user's name)
set -eu
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
user="${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  auth=trust; pwfile=""
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    auth=scram-sha-256; pwfile=$(mktemp); printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  fi
  initdb -D "$PGDATA" -U "$user" ${pwfile:+--pwfile="$pwfile"} --auth-local=trust --auth-host="$auth" \
    --locale=C.UTF-8 >/dev/null
  [ -n "$pwfile" ] && rm -f "$pwfile"
  printf 'host all all 0.0.0.0/0 %s\nhost all all ::/0 %s\n' "$auth" "$auth" >> "$PGDATA/pg_hba.conf"
  db="${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "$(printf '%s' "$db" | sed 's/"/""/g')" \
      | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
"""

MARIADB_ENTRYPOINT = r"""#!/bin/sh
# MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD (MYSQL_* accepted too)
set -eu
q() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }
root_pw="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
db="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
user="${MARIADB_USER:-${MYSQL_USER:-}}"
pw="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  chown mysql:mysql /var/lib/mysql
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi
init=/run/mysqld/init.sql
umask 077
: > "$init"
if [ -n "$root_pw" ]; then
  echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$(q "$root_pw")';" >> "$init"
  echo "ALTER USER 'root'@'%' IDENTIFIED BY '$(q "$root_pw")';" >> "$init"
  echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;" >> "$init"
fi
[ -n "$db" ] && echo "CREATE DATABASE IF NOT EXISTS \`$db\`;" >> "$init"
if [ -n "$user" ] && [ -n "$pw" ]; then
  echo "CREATE USER IF NOT EXISTS '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pw")';" >> "$init"
  echo "ALTER USER '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pw")';" >> "$init"
  if [ -n "$db" ]; then echo "GRANT ALL ON \`$db\`.* TO '$(q "$user")'@'%';" >> "$init"
  else echo "GRANT ALL ON *.* TO '$(q "$user")'@'%';" >> "$init"; fi
fi
chown mysql:mysql "$init"
exec mariadbd --user=mysql --bind-address=0.0.0.0 --skip-name-resolve --init-file="$init" "$@"
"""

DESKTOP_ENTRYPOINT = r"""#!/bin/sh
# A desktop on display :0 (Xvfb, DESKTOP_GEOMETRY=1280x800x24), fluxbox and Firefox, shown by x11vnc
# on port 5900 with the instance's password (/run/secrets/CUMULO_PASSWORD, else $VNC_PASSWORD; VNC
# uses its first 8 characters). Without a password it does not start: the screen is a whole session.
set -eu
pw=""
[ -r /run/secrets/CUMULO_PASSWORD ] && pw=$(cat /run/secrets/CUMULO_PASSWORD)
[ -z "$pw" ] && pw="${VNC_PASSWORD:-}"
if [ -z "$pw" ]; then
  echo "cumulo/desktop needs a password: launch the instance with one (it is also the VNC password)" >&2
  exit 64
fi
mkdir -p /root/.vnc /tmp/.X11-unix && chmod 1777 /tmp/.X11-unix
x11vnc -storepasswd "$pw" /root/.vnc/passwd >/dev/null 2>&1
unset pw VNC_PASSWORD
export DISPLAY=:0 HOME=/root
Xvfb :0 -screen 0 "${DESKTOP_GEOMETRY:-1280x800x24}" -nolisten tcp -dpi 96 &
i=0
while [ ! -e /tmp/.X11-unix/X0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fluxbox >/tmp/fluxbox.log 2>&1 &
(while :; do firefox-esr --no-remote "${DESKTOP_HOME_PAGE:-about:blank}" >/tmp/firefox.log 2>&1; sleep 2; done) &
exec x11vnc -display :0 -rfbport 5900 -rfbauth /root/.vnc/passwd -forever -shared -noxdamage -desktop cumulo-desktop -quiet
"""

RECIPES: list[Recipe] = [
    Recipe("cumulo/busybox", "rootfs", description="busybox-static on an empty root (sh, httpd, nc, wget)",
           registry="busybox:latest"),
    Recipe(BASE, "rootfs", description=f"Debian {SUITE} minbase (mmdebstrap)", registry=f"debian:{SUITE}-slim"),
    Recipe("cumulo/python", "dockerfile", description="Python 3 (python3 and python on PATH)", dockerfile="\n".join([
        f"FROM {BASE}:latest",
        _apt("python3", "ca-certificates") + " && ln -sf /usr/bin/python3 /usr/local/bin/python",
        'CMD ["python3"]'])),
    Recipe("cumulo/node", "dockerfile", description="Node.js (node on PATH, no npm)", dockerfile="\n".join([
        f"FROM {BASE}:latest",
        _apt("nodejs", "ca-certificates"),
        'CMD ["node"]'])),
    Recipe("cumulo/nginx", "dockerfile", description="nginx serving /var/www/html on port 80", dockerfile="\n".join([
        f"FROM {BASE}:latest",
        _apt("nginx") + " && ln -sf /dev/stdout /var/log/nginx/access.log"
        " && ln -sf /dev/stderr /var/log/nginx/error.log",
        "EXPOSE 80",
        'CMD ["nginx", "-g", "daemon off;"]'])),
    Recipe("cumulo/redis", "dockerfile", description="Redis server on port 6379", dockerfile="\n".join([
        f"FROM {BASE}:latest",
        _apt("redis-server"),
        "USER redis",
        "WORKDIR /var/lib/redis",
        "EXPOSE 6379",
        'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]'])),
    Recipe("cumulo/postgres", "dockerfile", description="PostgreSQL 15 on port 5432 (POSTGRES_PASSWORD, _USER, _DB)",
           files={"entrypoint.sh": POSTGRES_ENTRYPOINT}, dockerfile="\n".join([
               f"FROM {BASE}:latest",
               ("RUN mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' "
                "> /etc/postgresql-common/createcluster.conf"),
               _apt("postgresql-15") + " && install -d -o postgres -g postgres -m 2775 /var/run/postgresql",
               "ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data",
               "COPY entrypoint.sh /usr/local/bin/cumulo-entrypoint",
               "RUN chmod 755 /usr/local/bin/cumulo-entrypoint",
               "EXPOSE 5432",
               'ENTRYPOINT ["/usr/local/bin/cumulo-entrypoint"]'])),
    Recipe("cumulo/desktop", "dockerfile", on_demand=True, first_build="about 5 minutes",
           description="a desktop and a web browser (Xvfb, fluxbox, Firefox ESR) with x11vnc on port 5900: the "
                       "console shows it through noVNC, with the instance's password",
           files={"desktop.sh": DESKTOP_ENTRYPOINT}, dockerfile="\n".join([
               f"FROM {BASE}:latest",
               _apt("xvfb", "x11vnc", "fluxbox", "firefox-esr", "xterm", "fonts-dejavu-core", "ca-certificates"),
               "COPY desktop.sh /usr/local/bin/cumulo-desktop",
               "RUN chmod 755 /usr/local/bin/cumulo-desktop",
               "EXPOSE 5900",
               'CMD ["/usr/local/bin/cumulo-desktop"]'])),
    Recipe("cumulo/mariadb", "dockerfile",
           description="MariaDB on port 3306 (MARIADB_ROOT_PASSWORD, _DATABASE, _USER, _PASSWORD)",
           files={"entrypoint.sh": MARIADB_ENTRYPOINT}, dockerfile="\n".join([
               f"FROM {BASE}:latest",
               _apt("mariadb-server"),
               "COPY entrypoint.sh /usr/local/bin/cumulo-entrypoint",
               "RUN chmod 755 /usr/local/bin/cumulo-entrypoint",
               "EXPOSE 3306",
               'ENTRYPOINT ["/usr/local/bin/cumulo-entrypoint"]'])),
]


def by_name() -> dict[str, Recipe]:
    return {r.name: r for r in RECIPES}
