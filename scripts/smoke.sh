#!/usr/bin/env bash
# End-to-end smoke test: starts a fresh gateway (debug build) on SQLite and on PostgreSQL, runs the
# mock-nsw scenario against each, and a short load run that must see zero errors and zero wrong
# decisions. Bounded in time; everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/debug
[[ -x $BIN/nsw-gateway && -x $BIN/mock-nsw ]] || cargo build --workspace --bins
PG_URL_BASE="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_URL_BASE="${PG_URL_BASE%/*}"
work=$(mktemp -d)
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${dbs[@]}"; do psql -q "$PG_URL_BASE/postgres" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_against() { # name database-url
  local name=$1 url=$2 port admin
  port=$(free_port); admin=$(free_port)
  echo "--- $name: gateway on 127.0.0.1:$port ($url)"
  (cd "$work" && ln -sfn "$OLDPWD/data" data && exec "$OLDPWD/$BIN/nsw-gateway" serve \
      --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --database "$url") \
      >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null || { cat "$work/$name.log"; echo "gateway did not become ready" >&2; return 1; }
  timeout 300 "$BIN/mock-nsw" scenario --target "http://127.0.0.1:$port/ebms" --data data/sample
  timeout 300 "$BIN/mock-nsw" load --target "http://127.0.0.1:$port/ebms" --data data/sample \
      --concurrency 8 --requests 300 --duplicates 5% --quiet --report-dir "$work/$name-load" \
      --fail-on-error
}

run_against sqlite "sqlite://$work/smoke.db"
db="smoke_$$_$RANDOM"
psql -q "$PG_URL_BASE/postgres" -c "CREATE DATABASE $db" >/dev/null
dbs+=("$db")
run_against postgres "$PG_URL_BASE/$db"
echo "smoke: scenario and load passed on SQLite and PostgreSQL"
