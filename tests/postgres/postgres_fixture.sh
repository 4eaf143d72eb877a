#!/usr/bin/env bash
# CTest fixture for the `postgres` label: a throwaway PostgreSQL 15 cluster.
#   postgres_fixture.sh start STATE_DIR   initdb in a fresh temp folder, pg_ctl start on a free
#                                         loopback port with its own unix socket folder, create the
#                                         `hallmark` role and database, write STATE_DIR/dsn
#   postgres_fixture.sh stop STATE_DIR    pg_ctl stop and remove the temp folder
#   postgres_fixture.sh pause STATE_DIR   stop the server, keep the cluster (tests of an outage)
#   postgres_fixture.sh resume STATE_DIR  start it again on the same port
# initdb refuses to run as root, so as root every server command runs as the `postgres` user.
set -euo pipefail

action=${1:?start|stop}
state=${2:?state folder}
bin=${HALLMARK_PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_cluster() {
  [ -f "$state/cluster" ] || return 0
  local dir
  dir=$(cat "$state/cluster")
  if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  rm -f "$state/cluster" "$state/dsn"
}

server_start() {
  local dir=$1 port=$2
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
}

case "$action" in
  start)
    [ -x "$bin/initdb" ] || { echo "postgres fixture: $bin/initdb not found (run tools/deps.sh)" >&2; exit 1; }
    mkdir -p "$state"
    stop_cluster
    dir=$(mktemp -d /tmp/hallmark-pg.XXXXXX)
    chmod 0755 "$dir"
    mkdir -p "$dir/data" "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
    echo "$dir" >"$state/cluster"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    server_start "$dir" "$port"
    psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$port" -U postgres -d postgres)
    "${psql[@]}" -c "CREATE ROLE hallmark LOGIN CREATEDB PASSWORD 'fixture-secret'" \
      -c "CREATE DATABASE hallmark OWNER hallmark"
    echo "$port" >"$state/port"
    echo "$dir" >"$state/cluster"
    echo "postgresql://hallmark:fixture-secret@127.0.0.1:$port/hallmark" >"$state/dsn"
    ;;
  stop)
    stop_cluster
    ;;
  pause)
    as_owner "$bin/pg_ctl" -D "$(cat "$state/cluster")/data" -m fast -w stop >/dev/null
    ;;
  resume)
    server_start "$(cat "$state/cluster")" "$(cat "$state/port")"
    ;;
  *)
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
