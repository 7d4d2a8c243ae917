#!/usr/bin/env bash
# pg_cluster.sh start [WATCH_PID] | stop DIR | down DIR | up DIR
#
# A throwaway PostgreSQL cluster for the tests of the PostgreSQL knowledge
# base: initdb + pg_ctl in a new directory under /tmp, listening only on a
# Unix socket in that directory (no TCP port, so concurrent test runs never
# collide), fsync off. `start` prints shell assignments on stdout:
#
#   PG_DIR=/tmp/frugal-pg-XXXXXX
#   PG_URI=postgresql:///frugal?host=/tmp/frugal-pg-XXXXXX&user=frugal   (superuser)
#   PG_URI_USER=postgresql:///kb?host=/tmp/frugal-pg-XXXXXX&user=kb       (a plain role
#                                                   that owns database kb)
#
# and exits 77 (the tests' "skipped") when PostgreSQL's server binaries are
# not installed. PostgreSQL refuses to run as root, so when the tests run as
# root (CI) the server runs as the `postgres` system user that Debian's
# package creates (or `nobody`), through runuser; the directory is handed
# to that user. With WATCH_PID, a watchdog stops the cluster and removes the
# directory when that process exits, so a test killed by a timeout leaves no
# server behind. `stop DIR` stops it and removes DIR at once; `down DIR`
# and `up DIR` stop and start its server, keeping the data.
set -euo pipefail

find_bin() {
  local b
  b=$(command -v initdb 2>/dev/null || true)
  if [ -z "$b" ]; then
    b=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [ -n "$b" ] && [ -x "$b" ] || return 1
  b=$(readlink -f "$b")
  dirname "$b"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}

owner_of() {
  if [ "$(id -u)" != 0 ]; then id -un; return; fi
  if getent passwd postgres >/dev/null; then echo postgres; else echo nobody; fi
}

stop_cluster() {
  local d=$1
  case "$d" in /tmp/frugal-pg-*) ;; *) echo "pg_cluster.sh: refusing to remove $d" >&2; exit 2 ;; esac
  [ -f "$d/.frugal-pg" ] || { rm -rf "$d"; return 0; }
  local bin
  bin=$(cat "$d/.frugal-pg")
  OWNER=$(stat -c %U "$d")
  if [ -f "$d/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$d/data" stop -m immediate -w -t 20 >/dev/null 2>&1 || true
  fi
  rm -rf "$d"
}

server_up() {
  as_owner "$BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$1' -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB \
        -c max_connections=50" start >/dev/null 2>&1
}

case "${1:-}" in
down | up)
  # stop or start the server of a cluster, keeping its data (a database
  # restart, as a test sees it)
  [ -f "${2:-}/.frugal-pg" ] || { echo "usage: pg_cluster.sh down|up DIR" >&2; exit 2; }
  BIN=$(cat "$2/.frugal-pg")
  OWNER=$(stat -c %U "$2")
  if [ "$1" = down ]; then
    as_owner "$BIN/pg_ctl" -D "$2/data" stop -m fast -w -t 30 >/dev/null
  else
    server_up "$2" || { tail -n 20 "$2/server.log" >&2; exit 1; }
  fi
  ;;
start)
  BIN=$(find_bin) || { echo "SKIP: PostgreSQL server binaries (initdb) not installed"; exit 77; }
  [ -x "$BIN/pg_ctl" ] || { echo "SKIP: $BIN/pg_ctl missing"; exit 77; }
  OWNER=$(owner_of)
  if [ "$(id -u)" = 0 ] && ! command -v runuser >/dev/null; then
    echo "SKIP: running as root without runuser: cannot start PostgreSQL as a normal user"
    exit 77
  fi
  D=$(mktemp -d /tmp/frugal-pg-XXXXXX)
  echo "$BIN" > "$D/.frugal-pg"
  chmod 755 "$D"
  [ "$(id -u)" = 0 ] && chown "$OWNER" "$D"
  # C.UTF-8 where the C library has it (Debian does), plain C otherwise
  locale=C
  locale -a 2>/dev/null | grep -qix 'C.utf-\?8' && locale=C.UTF-8
  if ! as_owner "$BIN/initdb" -D "$D/data" -U frugal --auth=trust -E UTF8 --locale="$locale" \
      -N >"$D/initdb.log" 2>&1; then
    echo "pg_cluster.sh: initdb failed:" >&2; tail -n 20 "$D/initdb.log" >&2
    stop_cluster "$D"; exit 1
  fi
  if ! server_up "$D"; then
    echo "pg_cluster.sh: the server did not start:" >&2; tail -n 20 "$D/server.log" >&2
    stop_cluster "$D"; exit 1
  fi
  PSQL=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$D" -U frugal -d postgres)
  if ! "${PSQL[@]}" -c "CREATE DATABASE frugal" -c "CREATE ROLE kb LOGIN" \
      -c "CREATE DATABASE kb OWNER kb" >"$D/setup.log" 2>&1; then
    echo "pg_cluster.sh: setting up databases failed:" >&2; cat "$D/setup.log" >&2
    stop_cluster "$D"; exit 1
  fi
  if [ -n "${2:-}" ]; then
    # its own session, so that a kill of the test's process group (a
    # CTest timeout) does not take the watchdog with it
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
      watchdog "$2" "$(readlink -f "$0")" "$D" </dev/null >/dev/null 2>&1 &
  fi
  echo "PG_DIR=$D"
  echo "PG_BIN=$BIN"
  echo "PG_URI='postgresql:///frugal?host=$D&user=frugal'"
  echo "PG_URI_USER='postgresql:///kb?host=$D&user=kb'"
  ;;
stop)
  [ -n "${2:-}" ] || { echo "usage: pg_cluster.sh stop DIR" >&2; exit 2; }
  stop_cluster "$2"
  ;;
*)
  echo "usage: pg_cluster.sh start [WATCH_PID] | stop DIR | down DIR | up DIR" >&2
  exit 2
  ;;
esac
