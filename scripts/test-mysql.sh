#!/usr/bin/env bash
# The pods run MySQL, `npm test` runs on MariaDB: this runs the MySQL store's contract, the routes and
# the deadline tests again on real MySQL. mysqld runs from scripts/mysql-root.sh's root on
# 127.0.0.1:$TWO_TIER_MYSQL_PORT (default 3307), with a datadir and a user of this run's own; it is
# stopped and its datadir removed when the script ends, whatever happened.
#
# Usage: scripts/test-mysql.sh        (as root, after npm ci; installs debootstrap if it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${TWO_TIER_MYSQL_PORT:-3307}
TESTS=(test/store-mysql.test.ts test/routes.test.ts test/deadlines.test.ts)
USER_NAME=two_tier_test
started=$SECONDS

step() { printf 'test-mysql: %s\n' "$*" >&2; }
# since START: seconds elapsed since START.
since() { echo "$((SECONDS - $1)) s"; }

bash scripts/host-packages.sh debootstrap
t=$SECONDS
ROOT=$(bash scripts/mysql-root.sh)
step "the MySQL root: $(since "$t")"

# mysqld sees only its root, so this run's folder lives inside it; the path is the same seen from inside.
RUN=/var/lib/two-tier-mysql/run-$$
pid=
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      step "mysqld did not stop within 30 s of SIGTERM; killing it"
      kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "${ROOT:-}" ]; then
    rm -rf --one-file-system "$ROOT$RUN"
    rmdir --ignore-fail-on-non-empty "$ROOT$(dirname "$RUN")" 2>/dev/null || true
  fi
}
trap stop EXIT
# in_root COMMAND...: a program of the root, run inside it.
in_root() { chroot "$ROOT" "$@"; }

t=$SECONDS
in_root install -d -o mysql -g mysql -m 700 "$RUN"
# --no-defaults everywhere: none of the root's option files, so the root stays as Debian made it.
in_root /usr/sbin/mysqld --no-defaults --initialize-insecure --user=mysql --datadir="$RUN/data" \
  --log-error="$RUN/initialize.log" || { tail -n 20 "$ROOT$RUN/initialize.log" >&2; exit 1; }
step "a new datadir in $ROOT$RUN: $(since "$t")"

t=$SECONDS
chroot "$ROOT" /usr/sbin/mysqld --no-defaults --user=mysql --datadir="$RUN/data" --socket="$RUN/mysqld.sock" \
  --pid-file="$RUN/mysqld.pid" --log-error="$RUN/error.log" --port="$PORT" --bind-address=127.0.0.1 \
  --mysqlx=OFF --skip-name-resolve --secure-file-priv=NULL &
pid=$!
# root@localhost (no password) over the socket, only for setting up; the tests get a user of their own.
admin() { in_root mysql --no-defaults --socket="$RUN/mysqld.sock" -u root "$@"; }
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || { step "mysqld exited at start; the end of its log:"; tail -n 20 "$ROOT$RUN/error.log" >&2; exit 1; }
  admin -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 1
done
admin -e 'SELECT 1' >/dev/null || { step "mysqld did not answer within 60 s"; tail -n 20 "$ROOT$RUN/error.log" >&2; exit 1; }
# The stop at the end signals $pid: it must be mysqld itself, not a shell around it.
mysqld_pid=$(cat "$ROOT$RUN/mysqld.pid")
[ "$mysqld_pid" = "$pid" ] || { step "mysqld is pid $mysqld_pid, not $pid"; pid=$mysqld_pid; exit 1; }
step "mysqld (pid $pid) answering: $(since "$t")"

# A password-protected user over TCP, as the pods connect; the password is this run's and never printed.
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
admin <<SQL
CREATE USER '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'127.0.0.1';
SQL
export MYSQL_HOST=127.0.0.1 MYSQL_PORT=$PORT MYSQL_USER=$USER_NAME MYSQL_PASSWORD=$password
# The version, read as the tests will read: their driver, over TCP, as their user.
version=$(node -e "
  const mysql = require('mysql2/promise');
  const { MYSQL_HOST: host, MYSQL_PORT: port, MYSQL_USER: user, MYSQL_PASSWORD: password } = process.env;
  mysql.createConnection({ host, port: Number(port), user, password }).then(async (connection) => {
    const [[row]] = await connection.query('SELECT VERSION() AS version');
    console.log(row.version);
    await connection.end();
  });
")
case $version in
  *MariaDB*) step "127.0.0.1:$PORT is MariaDB ($version), not MySQL"; exit 1 ;;
esac
step "MySQL $version on 127.0.0.1:$PORT, user $USER_NAME"

t=$SECONDS
node --import tsx --test --test-reporter=spec --test-concurrency=2 --test-timeout=300000 "${TESTS[@]}"
step "the tests on MySQL $version: $(since "$t") (all steps: $(since "$started"))"
