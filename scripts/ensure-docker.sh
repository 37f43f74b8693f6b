#!/bin/sh
# Install Docker Engine from the OS packages when absent and start dockerd when its socket does not answer.
set -eu
if ! command -v dockerd >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
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
