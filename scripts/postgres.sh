# postgres.sh - a throw-away PostgreSQL cluster on loopback for the storage tests (sourced).
#
# pg_start: initdb as the postgres user (initdb refuses root) in a temp dir, start on a free port,
# create database "wcfs_test", export WCFS_TEST_POSTGRES_URL. pg_stop: stop and delete it.
# Without PostgreSQL binaries, pg_start fails: CI must test against a real server.
pg_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bindir" ] || { echo "postgres: no server binaries (apt-get install postgresql)" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/wcfs-pg.XXXXXX)
  chown postgres "$PG_DIR" 2>/dev/null || true
  local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  PG_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
     -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" start >/dev/null
  "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres wcfs_test
  export WCFS_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/wcfs_test"
  PG_BINDIR=$bindir
  echo "postgres: test cluster at $WCFS_TEST_POSTGRES_URL"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
