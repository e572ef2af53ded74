#!/bin/bash
# The mysql stand-in's entrypoint: the official image's contract as far as the program relies on it.
# MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD on the first boot of an empty
# data directory; /docker-entrypoint-initdb.d run once; flags after the command passed to mysqld; as the
# official image does, the first boot is recognised by the missing `mysql` schema folder, so a boot
# interrupted after initialisation skips it next time.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then set -- mysqld "$@"; fi
[ "$1" = mysqld ] || exec "$@"

datadir=/var/lib/mysql
socket=/var/run/mysqld/mysqld.sock
note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date -u +%FT%TZ)" "$*"; }
fail() { note "$*"; exit 1; }
# One line naming the cause when the script itself fails; once it execs mysqld, mysqld logs its own.
trap 'status=$?; note "exiting with status $status: \`$BASH_COMMAND\` failed (line $LINENO)"' ERR
# As PID 1 the script would ignore SIGTERM and be killed 60 s later (137) with nothing said.
trap 'note "stopped by SIGTERM during the first boot: the kubelet stops the container (a failed startup probe or the pod deleted)"; exit 143' TERM

if [ ! -d "$datadir/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?the database is uninitialized and MYSQL_ROOT_PASSWORD is not set}"
  note "initializing the database files"
  "$@" --initialize-insecure --datadir="$datadir"
  note "starting a temporary server on the socket only"
  "$@" --datadir="$datadir" --skip-networking --socket="$socket" &
  temporary=$!
  # Bounded in time, under the startup probe's 300 s, so the cause is said before the kubelet stops it.
  started=$SECONDS
  until mysql --protocol=socket --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
    kill -0 "$temporary" 2>/dev/null || fail "the temporary server exited before it answered; its log is above"
    [ $((SECONDS - started)) -lt 240 ] || fail "the temporary server did not answer within 240 s"
    sleep 1
  done
  sql() { mysql --protocol=socket --socket="$socket" -uroot --password="$MYSQL_ROOT_PASSWORD" "$@"; }
  # The official entrypoint writes the values into SQL as they are.
  mysql --protocol=socket --socket="$socket" -uroot <<SQL
CREATE USER 'root'@'%' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
SQL
  if [ -n "${MYSQL_DATABASE:-}" ]; then
    note "creating database $MYSQL_DATABASE"
    sql -e "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`"
  fi
  if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
    note "creating user $MYSQL_USER"
    sql -e "CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD'"
    [ -z "${MYSQL_DATABASE:-}" ] || sql -e "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%'"
  fi
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sh) note "running $file"; . "$file" ;;
      *.sql) note "running $file"; sql ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$file" ;;
      *.sql.gz) note "running $file"; gunzip -c "$file" | sql ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} ;;
    esac
  done
  sql -e 'SHUTDOWN'
  wait "$temporary"
  note "init process done; ready for start up"
fi

exec "$@" --datadir="$datadir"
