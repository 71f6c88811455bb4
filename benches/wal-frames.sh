#!/usr/bin/env bash
# Which tables and indexes the SQLite writer's commits write, frame by frame: one gateway on a
# fresh database with the 10k licences of load.sh, 5-item permit requests at c=64 to warm up,
# then N; the WAL is copied when a third and two thirds of them are stored, and
# benches/wal_frames.py counts the frames of every commit in the copies by the b-tree of their
# page. Prints frames per commit and per request, by b-tree.
#
#   benches/wal-frames.sh [--no-build] [--bin DIR] [--requests N] [--warm-up N]
#                                                   (default 30000 requests, 2000 to warm up)
#
# A copy taken just after the WAL started over holds few commits: it is taken again, a little
# later, until it holds at least three.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
. benches/gateway.sh
OUT=$ROOT/target/bench-wal-frames
BUILD=1
BIN=$ROOT/target/release
N=30000
WARMUP=2000
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --bin) BIN=$2; shift ;;
        --requests) N=$2; shift ;;
        --warm-up) WARMUP=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
bench_binaries "$BUILD" "$BIN"
PORT=${BENCH_PORT:-18473}
ADMIN=${BENCH_ADMIN_PORT:-19473}
DATA=$OUT/data-10k
run=$OUT/run
GW_PID=""
MOCK_PID=""
trap '[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null; true' EXIT
serve_fresh "$GW" "$MOCK" "$OUT" "$PORT" "$ADMIN" || exit 1

# The writer's figure NAME (jobs, transactions) from the gateway's metrics.
writer() {
    curl -fsS "http://127.0.0.1:$ADMIN/metrics" | awk -v m="nsw_sqlite_writer_$1_total" '$1 == m {print $2}'
}

target=(--target "http://127.0.0.1:$PORT/ebms" --data "$DATA" --items 5 --concurrency 64)
"$MOCK" load --quiet "${target[@]}" --requests "$WARMUP" --seed 11 --report-dir "$run/warm-up" >/dev/null
report_clean "$run/warm-up" "warm-up" || exit 1
jobs0=$(writer jobs)
tx0=$(writer transactions)
"$MOCK" load --quiet "${target[@]}" --requests "$N" --seed 13 --report-dir "$run/load" >/dev/null &
MOCK_PID=$!
copies=()
for k in 1 2; do
    until [ "$(writer jobs)" -ge $((jobs0 + N * k / 3)) ]; do
        kill -0 "$MOCK_PID" 2>/dev/null || { echo "the load ended before copy $k" >&2; exit 1; }
        sleep 0.05
    done
    for _ in $(seq 1 100); do
        cp "$run/gateway.db-wal" "$run/copy-$k.wal"
        [ "$(python3 benches/wal_frames.py --commits "$run/copy-$k.wal")" -ge 3 ] && break
        sleep 0.02
    done
    copies+=("$run/copy-$k.wal")
done
wait "$MOCK_PID"
MOCK_PID=""
report_clean "$run/load" "load" || exit 1
echo "over the whole load: $(( $(writer jobs) - jobs0 )) jobs in $(( $(writer transactions) - tx0 )) transactions"
stop_gateway
python3 benches/wal_frames.py "$run/gateway.db" "${copies[@]}"
