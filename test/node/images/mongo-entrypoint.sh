#!/bin/bash
# The mongodb stand-in's entrypoint: FerretDB (SQLite backend) behind the official mongo image's
# contract as far as the program relies on it: MONGO_INITDB_ROOT_USERNAME and _PASSWORD create the
# administrator on the first boot of an empty /data/db, /docker-entrypoint-initdb.d/*.js run once in
# MONGO_INITDB_DATABASE with mongosh, mongod's flags are accepted (the storage engine's are
# WiredTiger's and mean nothing here), and clients must authenticate.
set -Eeuo pipefail

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
fail() { note "$*"; exit 1; }
# One line naming the cause when the script itself fails; once it execs FerretDB, FerretDB logs its own.
trap 'status=$?; note "exiting with status $status: \`$BASH_COMMAND\` failed (line $LINENO)"' ERR
# As PID 1 the script would ignore SIGTERM and be killed 60 s later (137) with nothing said.
trap 'note "stopped by SIGTERM during the first boot: the kubelet stops the container (a failed startup probe or the pod deleted)"; exit 143' TERM

if [ -z "$(ls -A /data/db)" ]; then
  : "${MONGO_INITDB_ROOT_USERNAME:?the database is uninitialized and MONGO_INITDB_ROOT_USERNAME is not set}"
  : "${MONGO_INITDB_ROOT_PASSWORD:?the database is uninitialized and MONGO_INITDB_ROOT_PASSWORD is not set}"
  note "first boot: creating the administrator on a server bound to 127.0.0.1"
  # FerretDB gives its setup 30 s and then exits 1 (the official image's first boot has no such limit).
  "${FERRETDB[@]}" --listen-addr=127.0.0.1:$port --setup-database=admin --setup-timeout=240s \
    --setup-username="$MONGO_INITDB_ROOT_USERNAME" --setup-password="$MONGO_INITDB_ROOT_PASSWORD" &
  temporary=$!
  # --password=, as the official entrypoint has it: after -p a password that starts with "-" is taken
  # for an option, and every login fails ("unrecognized option").
  shell() {
    mongosh --quiet --norc "mongodb://127.0.0.1:$port/${MONGO_INITDB_DATABASE:-test}" \
      --username="$MONGO_INITDB_ROOT_USERNAME" --password="$MONGO_INITDB_ROOT_PASSWORD" \
      --authenticationDatabase=admin "$@"
  }
  # Bounded in time, under the startup probe's 300 s, so the cause is said before the kubelet stops it.
  started=$SECONDS
  until answer=$(shell --eval 'db.runCommand({ ping: 1 }).ok' 2>&1); do
    kill -0 "$temporary" 2>/dev/null || fail "the temporary FerretDB exited before it answered a ping; its log is above"
    if [ $((SECONDS - started)) -ge 240 ]; then
      # mongosh's own words on the last attempt, the password masked wherever it appears in them.
      answer=${answer//"$MONGO_INITDB_ROOT_PASSWORD"/<the root password>}
      fail "the temporary FerretDB did not answer a ping within 240 s; mongosh's last answer: $(tail -n 3 <<<"$answer")"
    fi
    sleep 1
  done
  note "the temporary FerretDB answered after $((SECONDS - started)) s"
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
