#!/usr/bin/env bash
# Property-based test of the status API against its own OpenAPI document: starts a development
# gateway (debug binary, temporary SQLite, free ports), creates a permit through POST /ebms and
# an API key for its importer, then runs schemathesis with a bounded number of examples and
# fails on any server error or response that does not match the document.
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES]   (default 100 per operation)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
examples="${1:-100}"

if ! command -v schemathesis >/dev/null; then
  log "installing schemathesis"
  timeout 600 python3 -m pip install -q schemathesis
fi
schemathesis --version

log "building the gateway (debug)"
timeout 1800 cargo build -q --workspace --all-targets  # the test feature set: nothing is rebuilt after cargo test
bin=target/debug/nsw-gateway

work=$(mktemp -d)
gw_pid=
cleanup() {
  if [[ -n "$gw_pid" ]]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port); admin_port=$(free_port); api_port=$(free_port)
export NSW_GATEWAY__DATABASE__URL="sqlite://$work/gateway.db"
export NSW_GATEWAY__REFDATA__SEED_DIR="$PWD/tests/fixtures/e2e-refdata"
# The run sends thousands of requests: lift the rate limits so that answers are not all 429.
export NSW_GATEWAY__API__RATE_PER_MINUTE=1000000 NSW_GATEWAY__API__RATE_BURST=100000
export NSW_GATEWAY__API__AUTH_FAILURES_PER_MINUTE=1000000

log "starting the gateway (ebMS :$port, admin :$admin_port, API :$api_port)"
"$bin" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" \
  --api-listen "127.0.0.1:$api_port" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; fail "the gateway stopped"; }
  sleep 0.2
done

log "creating a permit and an API key"
sed -e "s/@MESSAGE_ID@/$(cat /proc/sys/kernel/random/uuid)/g" -e "s/@NOW@/$(date -u +%FT%TZ)/" \
    -e "s/@REFERENCE@/ST-1/" -e "s/@ARRIVAL@/$(date -u -d '+10 days' +%F)/" \
    -e "s/@INVOICE_DATE@/$(date -u -d '-5 days' +%F)/" \
    tests/fixtures/e2e-permit-request.xml >"$work/request.xml"
code=$(curl -s -m 30 -o "$work/reply.xml" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
  --data-binary "@$work/request.xml" "http://127.0.0.1:$port/ebms")
[[ "$code" == 200 ]] || { cat "$work/reply.xml" >&2; fail "POST /ebms answered $code"; }
key=$("$bin" apikey create --importer 0105536112014/00000 | sed -n 's/^key: //p')
[[ -n "$key" ]] || fail "no API key created"

log "schemathesis: $examples examples per operation"
timeout 1200 schemathesis run "http://127.0.0.1:$api_port/api/v1/openapi.json" \
  --checks not_a_server_error,response_schema_conformance \
  --header "Authorization: Bearer $key" \
  --max-examples "$examples" --seed 20261126 --workers 2 \
  --report junit --report-dir target/schemathesis \
  || { tail -n 40 "$work/gateway.log" >&2; fail "schemathesis found problems"; }
grep -q '"status"' "$work/gateway.log" 2>/dev/null || true
if grep -q 'status API: internal error' "$work/gateway.log"; then
  grep 'status API: internal error' "$work/gateway.log" | head >&2
  fail "the gateway logged internal errors"
fi
log "OK: no server error, every response matches the OpenAPI document"
