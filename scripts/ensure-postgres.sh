#!/bin/sh
# Install (Debian package) and start a local PostgreSQL for the test suite; create role `cumulo`.
# Prints nothing on success. Idempotent.
set -eu
here=$(dirname "$0")
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing PostgreSQL from the OS packages (about a minute)" >&2
  "$here/apt-get.sh" update -qq && "$here/apt-get.sh" install -y -qq postgresql >/dev/null
fi
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "pg_lsclusters missing: install postgresql-common" >&2; exit 1
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
  pg_createcluster "$version" main >/dev/null
fi
# The suite runs two workers, each with a few live servers (a pool of up to 30 connections each)
# and helper processes: Debian's default of 100 connections is too few under load.
conf=/etc/postgresql/$version/main/conf.d/cumulo-tests.conf
want=300
if [ ! -f "$conf" ] || ! grep -q "max_connections = $want" "$conf"; then
  mkdir -p "$(dirname "$conf")"
  echo "max_connections = $want  # written by cumulo's scripts/ensure-postgres.sh" > "$conf"
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
elif [ "$(su postgres -c "psql -qtAc 'show max_connections'" 2>/dev/null)" != "$want" ]; then
  pg_ctlcluster "$version" main restart  # max_connections takes a restart
fi
for i in $(seq 1 30); do
  su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.5
done
su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='cumulo'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"create role cumulo login createdb password 'cumulo'\"" >/dev/null
