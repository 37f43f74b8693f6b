#!/bin/sh
# apt-get that waits for the dpkg/apt locks instead of failing (a fresh cloud VM runs unattended
# upgrades for minutes after boot). `-o DPkg::Lock::Timeout` covers the dpkg lock of `install`;
# `apt-get update` ignores it for the lists lock (apt 2.6), so a lock error is retried here too.
# Waits up to CUMULO_APT_LOCK_TIMEOUT seconds (default 600) and says what it is waiting for.
set -u
timeout=${CUMULO_APT_LOCK_TIMEOUT:-600}
waited=0
said=""
err=$(mktemp)
rcf=$(mktemp)
trap 'rm -f "$err" "$rcf"' EXIT
lockerr="Could not get lock|Unable to acquire the dpkg|Unable to lock"
while :; do
  # stderr shows live (apt's own "Waiting for cache lock" too), except the lock errors retried below
  { { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$timeout" "$@"; echo $? >"$rcf"; } 2>&1 1>&3 |
    tee "$err" | grep --line-buffered -v -E "$lockerr" >&2; } 3>&1
  rc=$(cat "$rcf")
  if [ "$rc" -ne 0 ] && grep -q -E "$lockerr" "$err" \
      && [ "$waited" -lt "$timeout" ]; then
    holder=$(grep -m1 -o -E "held by process [0-9]+ \([^)]*\)" "$err")
    lock=$(grep -m1 -o -E "Could not get lock [^ ]+" "$err" | sed 's/^Could not get lock //; s/\.$//')
    line="apt-get $1: waiting for ${lock:-the apt lock} (${holder:-held by another apt process}; up to ${timeout}s)"
    if [ "$line" != "$said" ] || [ $((waited % 30)) -eq 0 ]; then
      echo "$line, ${waited}s so far" >&2
      said=$line
    fi
    sleep 2
    waited=$((waited + 2))
    continue
  fi
  exit "$rc"
done
