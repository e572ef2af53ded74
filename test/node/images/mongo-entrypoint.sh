#!/bin/bash
# The mongodb stand-in's entrypoint: FerretDB (SQLite backend) behind the official mongo image's
# contract as far as the program relies on it: MONGO_INITDB_ROOT_USERNAME and _PASSWORD create the
# administrator on the first boot of an empty /data/db, /docker-entrypoint-initdb.d/*.js run once in
# MONGO_INITDB_DATABASE with mongosh, mongod's flags are accepted (the storage engine's are
# WiredTiger's and mean nothing here), and clients must authenticate.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then set -- mongod "$@"; fi
[ "$1" = mongod ] || exec "$@"
shift

port=27017
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --wiredTigerCacheSizeGB | --dbpath | --bind_ip) shift 2 ;;
    *) shift ;;
  esac
done

# FerretDB keeps no roles (every user may do everything) and refuses createUser with any: the init
# scripts' users are created without them.
ROLELESS='const roleless = (database) => {
  const create = database.createUser.bind(database);
  database.createUser = (user, ...rest) => create({ ...user, roles: [] }, ...rest);
  const sibling = database.getSiblingDB.bind(database);
  database.getSiblingDB = (name) => roleless(sibling(name));
  return database;
};
roleless(db);'

# Data in /data/db, FerretDB's own state in /data/configdb (the root is read-only), no telemetry.
FERRETDB=(ferretdb --handler=sqlite --sqlite-url=file:/data/db/ --state-dir=/data/configdb
  --telemetry=disable --test-enable-new-auth --debug-addr=127.0.0.1:8088)
note() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*"; }

if [ -z "$(ls -A /data/db)" ]; then
  : "${MONGO_INITDB_ROOT_USERNAME:?the database is uninitialized and MONGO_INITDB_ROOT_USERNAME is not set}"
  : "${MONGO_INITDB_ROOT_PASSWORD:?the database is uninitialized and MONGO_INITDB_ROOT_PASSWORD is not set}"
  note "first boot: creating the administrator on a server bound to 127.0.0.1"
  "${FERRETDB[@]}" --listen-addr=127.0.0.1:$port --setup-database=admin \
    --setup-username="$MONGO_INITDB_ROOT_USERNAME" --setup-password="$MONGO_INITDB_ROOT_PASSWORD" &
  temporary=$!
  shell() {
    mongosh --quiet --norc "mongodb://127.0.0.1:$port/${MONGO_INITDB_DATABASE:-test}" \
      -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin "$@"
  }
  for _ in $(seq 60); do shell --eval 'db.runCommand({ ping: 1 }).ok' >/dev/null 2>&1 && break; sleep 1; done
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sh) note "running $file"; . "$file" ;;
      *.js) note "running $file"; shell --eval "$ROLELESS" --file "$file" ;;
    esac
  done
  kill "$temporary" && wait "$temporary" || true
  note "init process done; ready for start up"
fi

exec "${FERRETDB[@]}" --listen-addr=:$port
