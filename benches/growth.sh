#!/usr/bin/env bash
# How the gateway's cost per request grows with the SQLite database: one gateway on a fresh
# database with the 10k licences of load.sh, then CHUNKS loads of CHUNK 5-item permit requests
# at c=64, one after the other. For each load: throughput, the gateway's user and system time
# per request (/proc/PID/stat), its read and write system calls per request (/proc/PID/io),
# and the size of the database file after it.
#
#   benches/growth.sh [--no-build] [--bin DIR] [--chunk N] [--chunks K]   (default 10000, 6)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
. benches/gateway.sh
OUT=$ROOT/target/bench-growth
BUILD=1
BIN=$ROOT/target/release
CHUNK=10000
CHUNKS=6
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --bin) BIN=$2; shift ;;
        --chunk) CHUNK=$2; shift ;;
        --chunks) CHUNKS=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
bench_binaries "$BUILD" "$BIN"
PORT=${BENCH_PORT:-18463}
ADMIN=${BENCH_ADMIN_PORT:-19463}
DATA=$OUT/data-10k
run=$OUT/run
GW_PID=""
trap '[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null; true' EXIT
serve_fresh "$GW" "$MOCK" "$OUT" "$PORT" "$ADMIN" || exit 1

TICK=$(getconf CLK_TCK)
times() { awk '{print $14, $15}' "/proc/$GW_PID/stat"; }
calls() { awk '/^syscr/ {r = $2} /^syscw/ {w = $2} END {print r, w}' "/proc/$GW_PID/io"; }
echo "| stored before | req/s | user µs/req | system µs/req | reads/req | writes/req | database MB after |"
echo "|---|---|---|---|---|---|---|"
for k in $(seq 1 "$CHUNKS"); do
    read -r u0 s0 < <(times)
    read -r r0 w0 < <(calls)
    "$MOCK" load --quiet --target "http://127.0.0.1:$PORT/ebms" --data "$DATA" --items 5 \
        --concurrency 64 --requests "$CHUNK" --seed "$((k * 1000 + 5))" --max-time 900s \
        --report-dir "$run/report-$k" > "$run/load-$k.txt" 2>&1
    read -r u1 s1 < <(times)
    read -r r1 w1 < <(calls)
    report_clean "$run/report-$k" "load $k" || exit 1
    echo "| $(( (k - 1) * CHUNK )) | $(jq -r '.throughput_rps | floor' "$run/report-$k/report.json") |" \
        "$(( (u1 - u0) * 1000000 / TICK / CHUNK )) | $(( (s1 - s0) * 1000000 / TICK / CHUNK )) |" \
        "$(( (r1 - r0) / CHUNK )) | $(( (w1 - w0) / CHUNK )) | $(du -m "$run/gateway.db" | cut -f1) |"
done
