#!/usr/bin/env bash
# Runs the whole test suite: unit and integration tests against SQLite and PostgreSQL, the
# benches once in test mode, the end-to-end scenario of mock-nsw against a freshly started
# gateway on each backend, the load benchmark, the growth script, the alternating runs and the
# WAL frames script in their short forms.
# Installs what it needs on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v jq >/dev/null || need_apt+=(jq)
command -v curl >/dev/null || need_apt+=(curl)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
fi

log "cargo test (SQLite and PostgreSQL at $TEST_DATABASE_URL)"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
cargo test --workspace --all-targets 2>&1 | tee "$results"
sum() { grep -Eo "test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed" "$results" | awk -v f="$1" '{s += $f} END {print s + 0}'; }
passed=$(sum 4)
failed=$(sum 6)

log "end-to-end scenario against a fresh gateway"
scripts/smoke.sh

log "load script in its smoke form (debug binaries, 5 % retries, two repetitions, each on a copy of the database as loaded; zero errors and wrong decisions)"
benches/load.sh --smoke --debug --duplicates 5% --repeats 2

log "growth script in a short form (debug binaries; fails on any error)"
benches/growth.sh --no-build --bin target/debug --chunk 300 --chunks 2

log "alternating runs in a short form: SQLite against PostgreSQL with mutual TLS and JSON log lines (debug binaries; fails on any error)"
benches/ab.sh --a target/debug --b target/debug --pairs 1 --requests 200 --warmup 50 \
  --a-gateway sqlite --b-gateway postgres-tls+json

log "WAL frames by b-tree in a short form (debug binaries; fails when no commit is read)"
benches/wal-frames.sh --no-build --bin target/debug --requests 1500 --warm-up 200

log "status page in a headless browser"
scripts/e2e-browser.sh

log "status API against its OpenAPI document (schemathesis)"
scripts/schemathesis.sh

echo
echo "cargo tests: $passed passed, $failed failed"
