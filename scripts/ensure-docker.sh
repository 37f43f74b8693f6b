#!/bin/sh
# Install Docker Engine from the OS packages when absent and start dockerd when its socket does not answer.
set -eu
here=$(dirname "$0")
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing Docker Engine (docker.io) from the OS packages (about a minute)" >&2
  "$here/apt-get.sh" update -qq && "$here/apt-get.sh" install -y -qq docker.io >/dev/null
fi
if docker info >/dev/null 2>&1; then exit 0; fi
mkdir -p /var/log
nohup dockerd >/var/log/cumulo-dockerd.log 2>&1 &
for i in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not start; see /var/log/cumulo-dockerd.log" >&2
tail -20 /var/log/cumulo-dockerd.log >&2
exit 1
