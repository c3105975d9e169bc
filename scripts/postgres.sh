#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, from Debian's packages (no Docker).
#
#   scripts/postgres.sh start DIR   -> prints the port of a running server on 127.0.0.1
#   scripts/postgres.sh stop DIR    -> stops the cluster started in DIR (and nothing else)
#
# `start` installs the `postgresql` package when no server binaries are found, runs initdb in
# DIR with trust authentication on 127.0.0.1 only, picks a free port and starts the server with
# durability off (test data is throwaway). initdb refuses to run as root, so as root the cluster
# belongs to the `postgres` OS user the package creates (or `salesops-pg`, created here).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

find_bindir() {
  local candidate
  if [ -n "${SALESOPS_PG_BINDIR:-}" ] && [ -x "$SALESOPS_PG_BINDIR/initdb" ]; then
    echo "$SALESOPS_PG_BINDIR"
    return
  fi
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/postgres" ]; then
      echo "$candidate"
      return
    fi
  done
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then
    owner=postgres
  else
    id salesops-pg >/dev/null 2>&1 || useradd --system --no-create-home salesops-pg
    owner=salesops-pg
  fi
fi

# The cluster lives in DIR, or (as root, when the owner cannot reach DIR, e.g. under pytest's
# private 0700 temp directory) in a /tmp directory of its own whose path is kept in DIR/cluster.
cluster_dir() {
  if [ -f "$dir/cluster" ]; then
    cat "$dir/cluster"
  elif [ "$(id -u)" = 0 ] && ! runuser -u "$owner" -- test -w "$dir"; then
    local private
    private=$(mktemp -d /tmp/salesops-pg.XXXXXX)
    chown "$owner" "$private"
    echo "$private" >"$dir/cluster"
    echo "$private"
  else
    echo "$dir"
  fi
}

case "$cmd" in
  start)
    bindir=$(find_bindir)
    if [ -z "$bindir" ]; then
      if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL server binaries not found; install Debian's postgresql package " \
          "(apt-get install postgresql) or set SALESOPS_PG_BINDIR" >&2
        exit 1
      fi
      bash "$(dirname "$0")/system-packages.sh" postgresql >&2
      bindir=$(find_bindir)
    fi
    if [ -z "$bindir" ]; then
      echo "postgresql was installed but no initdb was found under /usr/lib/postgresql" >&2
      exit 1
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown "$owner" "$dir"; fi
    cluster=$(cluster_dir)
    if [ ! -f "$cluster/data/PG_VERSION" ]; then
      as_owner "$bindir/initdb" -D "$cluster/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
      -o "-p $port -k $cluster -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 -c TimeZone=UTC" \
      >&2 || {
      cat "$cluster/server.log" >&2
      exit 1
    }
    echo "$port"
    ;;
  stop)
    bindir=$(find_bindir)
    cluster=$dir
    if [ -f "$dir/cluster" ]; then cluster=$(cat "$dir/cluster"); fi
    if [ -f "$cluster/data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >&2
    fi
    if [ -f "$dir/cluster" ]; then
      case "$cluster" in /tmp/salesops-pg.*) rm -rf "$cluster" ;; esac
    fi
    ;;
  *)
    echo "unknown command $cmd; use start or stop" >&2
    exit 2
    ;;
esac
