#!/usr/bin/env bash
# bench.sh — `make bench`: run tenantctl's benchmarks (internal/bench) on a
# throwaway PostgreSQL cluster of their own, never the test or shared
# server, with production durability (fsync, synchronous_commit and
# full_page_writes on), and write BENCHMARKS.md. The cluster is deleted
# afterwards.
#   BENCH_SCALE=small|full (default full)   BENCH=<regexp of benchmark names>
# Benchmarks report, they do not fail: a benchmark that errs is a row of
# BENCHMARKS.md saying why. The script fails only when the cluster cannot
# be had or the harness cannot run at all.
set -euo pipefail
ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCALE=${BENCH_SCALE:-full}
PATTERN=${BENCH:-}
GO=${GO:-go}
[[ $PATTERN == . ]] && PATTERN=

# The server binaries, installed by pg.sh when missing (it knows how).
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z $BIN || ! -x $BIN/initdb ]]; then
	"$ROOT/scripts/pg.sh" test -- true
	BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

PGU=; [[ $EUID -eq 0 ]] && PGU=postgres
as_pg() { if [[ -n $PGU ]]; then (cd / && runuser -u "$PGU" -- "$@"); else "$@"; fi; }
DIR=$(mktemp -d /tmp/tenantctl-bench.XXXXXX); chmod 755 "$DIR"
[[ -n $PGU ]] && chown "$PGU:" "$DIR"
cleanup() { as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
as_pg "$BIN/initdb" -D "$DIR/data" --auth=trust --username=postgres -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 ||
	{ cat "$DIR/initdb.log" >&2; exit 1; }
PORT=
for p in $(seq 57432 57532); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && continue; PORT=$p; break; done
[[ -n $PORT ]] || { echo "bench.sh: no free port in 57432-57532" >&2; exit 1; }
# Production durability; the rest is PostgreSQL's defaults but for room
# for the request benchmarks' connections (16 clients of pgbench, or the
# apiserver's pool, plus the harness's own).
cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = on
synchronous_commit = on
full_page_writes = on
shared_preload_libraries = 'pg_stat_statements'
CONF
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 120 start >/dev/null || { tail "$DIR/log" >&2; exit 1; }
URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
cd "$ROOT"
$GO run ./internal/bench/cmd/benchrun -url "$URL" -bindir "$BIN" -scale "$SCALE" -only "$PATTERN" -out BENCHMARKS.md
echo "bench.sh: wrote BENCHMARKS.md" >&2
