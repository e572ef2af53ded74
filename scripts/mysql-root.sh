#!/usr/bin/env bash
# A Debian root with MySQL in it: Debian 12 ships only MariaDB, and its unstable suite (sid) ships
# mysql-server (9.7, the current MySQL LTS), so a minimal sid root is bootstrapped from Debian's mirror
# and mysql-server installed inside. Nothing starts in it and nothing of a test is kept in it: the same
# root serves `chroot ROOT mysqld ...` in the tests and can be packed as the database tier's image.
#
# Usage: scripts/mysql-root.sh              (run as root; prints the root's folder last)
# Root: $TWO_TIER_MYSQL_ROOT (default ~/.cache/two-tier-mysql/root); a root with its .complete marker
# is kept as it is, a partial one is removed and built again.
# Mirror: $TWO_TIER_DEBIAN_MIRROR (default http://deb.debian.org/debian, the one apt uses here).
set -euo pipefail

SUITE=sid
ROOT=${TWO_TIER_MYSQL_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/two-tier-mysql/root}
MIRROR=${TWO_TIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MARKER=$ROOT/.complete

step() { printf 'mysql root: %s\n' "$*" >&2; }

if [ -f "$MARKER" ]; then
  step "ready: $(cat "$MARKER") in $ROOT"
  echo "$ROOT"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "mysql root: debootstrap and chroot need root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "mysql root: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

if [ -e "$ROOT" ]; then
  step "removing the partial root at $ROOT"
  rm -rf --one-file-system "$ROOT"
fi
mkdir -p "$(dirname "$ROOT")"
log=$(dirname "$ROOT")/build.log
: >"$log"
# timed WHAT COMMAND...: runs the command with its output in the log, then prints how long it took;
# a failure names the step and shows the end of the log.
timed() {
  local what=$1 start=$SECONDS
  shift
  step "$what ..."
  "$@" >>"$log" 2>&1 || { step "$what failed; the end of $log:"; tail -n 30 "$log" >&2; exit 1; }
  step "$what: $((SECONDS - start)) s"
}

timed "debootstrap --variant=minbase $SUITE from $MIRROR" debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR"

# Package scripts must not start a server inside the root: invoke-rc.d asks policy-rc.d, 101 refuses.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

install_mysql() {
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mysql-server &&
    chroot "$ROOT" apt-get clean
}
timed "apt-get install mysql-server" install_mysql

version=$(chroot "$ROOT" mysqld --version)
echo "$version" >"$MARKER"
step "ready: $version in $ROOT"
echo "$ROOT"
