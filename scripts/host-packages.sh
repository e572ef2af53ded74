#!/usr/bin/env bash
# Installs, from Debian, every program the tests, benchmarks and scripts run that a new machine of this
# project's kind lacks. One table: a command and the package that brings it. test/host-commands.test.ts
# reads the code for what it spawns and fails on a command that is neither here nor in the base image.
#
# Usage: scripts/host-packages.sh [command ...]   (default: every command in the table)
set -euo pipefail

declare -A PACKAGE=(
  [wrk]=wrk                                # bench/wrk.ts: the bench's load and the lifecycle's
  [mariadbd]=mariadb-server                # test/support/mariadb-instance.ts, .ci/run
  [mariadb-install-db]=mariadb-server
  [mariadb]=mariadb-client                 # .ci/run: MariaDB's root over TCP
  [chromium]=chromium                      # test/browser.test.ts
  [containerd]=containerd                  # the real node (test/node/)
  [ctr]=containerd
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [conntrack]=conntrack
  [nft]=nftables                           # test/node/host.ts: the node's rules, recorded and removed
  [buildah]=buildah                        # scripts/node-images.sh, test/node/web-image.ts
  [debootstrap]=debootstrap                # scripts/node-images.sh, scripts/mysql-root.sh
  [openssl]=openssl                        # test/node/pki.ts
  [venv]=python3-venv                      # scripts/schemathesis.sh: python3 -m venv
)

present() {
  case "$1" in
    venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 ;; # pyenv's python3 brings its own
    /*) [ -e "$1" ] ;;
    *) PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null ;;
  esac
}

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${!PACKAGE[@]}")
missing=()
for command in "${wanted[@]}"; do
  package=${PACKAGE[$command]:-}
  [ -n "$package" ] || { echo "host-packages: no package known for '$command'" >&2; exit 2; }
  present "$command" && continue
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "host-packages: installing Debian's ${missing[*]}"
started=$SECONDS
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "host-packages: installed in $((SECONDS - started)) s"
