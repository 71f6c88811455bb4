#!/usr/bin/env bash
# End-to-end smoke test of the built binaries (debug): for SQLite and for PostgreSQL it starts a
# fresh gateway with the sample reference data, runs the mock-nsw scenario against it, then loads
# generated reference data into the running gateway (refdata load + SIGHUP) and runs a short load
# that must see zero errors and zero wrong decisions. Bounded in time; loopback only; everything
# it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

BIN=$root/target/debug
# the same targets and features as `cargo test --workspace --all-targets`: nothing is rebuilt
cargo build --quiet --workspace --all-targets
PG_SERVER="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_BASE="${PG_SERVER%/*}"
work=$(mktemp -d)
pids=()
dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${dbs[@]}"; do
    psql -q "$PG_SERVER" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "--- generating reference data for the load run"
"$BIN/mock-nsw" gen-data --out "$work/gen" --licences 2000 --seed 11 >/dev/null

run_against() { # name database-url
  local name=$1 url=$2 port admin api cfg pid
  port=$(free_port); admin=$(free_port); api=$(free_port)
  cfg="$work/$name.toml"
  cat >"$cfg" <<TOML
[server]
listen = "127.0.0.1:$port"
[admin]
listen = "127.0.0.1:$admin"
[api]
listen = "127.0.0.1:$api"
[database]
url = "$url"
[gateway]
party_id = "TISI"
[[partners]]
party_id = "NSW"
cpa_id = "NSW-TISI-PERMIT"
rate_per_second = 100000
rate_burst = 100000
delivery_url = "http://127.0.0.1:9/ebms"
[delivery]
enabled = false
[refdata]
seed_dir = "$root/data/sample"
[log]
format = "text"
filter = "warn"
TOML
  echo "--- $name: gateway on 127.0.0.1:$port"
  "$BIN/nsw-gateway" serve --config "$cfg" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null \
    || { cat "$work/$name.log"; echo "gateway did not become ready" >&2; return 1; }

  echo "--- $name: scenario"
  timeout 300 "$BIN/mock-nsw" scenario --target "http://127.0.0.1:$port/ebms" --data "$root/data/sample"

  echo "--- $name: load generated reference data into the running gateway"
  "$BIN/nsw-gateway" refdata load "$work/gen" --config "$cfg" >/dev/null
  kill -HUP "$pid"
  sleep 1
  curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null

  echo "--- $name: short load (closed loop), zero errors and wrong decisions required"
  timeout 300 "$BIN/mock-nsw" load --target "http://127.0.0.1:$port/ebms" --data "$work/gen" \
    --concurrency 8 --requests 400 --duplicates 5% --quiet --report-dir "$work/$name-load"
  timeout 300 "$BIN/mock-nsw" load --target "http://127.0.0.1:$port/ebms" --data "$work/gen" \
    --kind declaration --warmup 40 --concurrency 4 --requests 200 --quiet \
    --report-dir "$work/$name-declarations"
}

run_against sqlite "sqlite://$work/smoke.db"
db="smoke_$$_$RANDOM"
psql -q "$PG_SERVER" -c "CREATE DATABASE $db" >/dev/null
dbs+=("$db")
run_against postgres "$PG_BASE/$db"
echo "smoke: scenario and load passed on SQLite and PostgreSQL"
