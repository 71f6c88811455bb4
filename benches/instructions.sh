#!/usr/bin/env bash
# Instructions the gateway executes per permit request, counted by valgrind (cachegrind without
# its cache simulation): a figure that does not drift with the machine's load, for comparing two
# builds where throughput runs differ by a third between runs.
#
#   benches/instructions.sh [--no-build] [--requests N] [--kind permit|declaration] [--bin DIR]
#                           [--items N|mixed]   goods items per request (default 5; "mixed": 1–20)
#                           [--stored N]        permit requests stored before the count starts
#                                               (default 0: a fresh database), sent to the
#                                               gateway without valgrind
#                           [--gateway MODE]    sqlite (default), sqlite+log or sqlite+json:
#                                               the gateway's log at level info (see
#                                               fresh_gateway in benches/gateway.sh)
#
# The gateway runs under valgrind on a fresh SQLite database with the 10k licences of load.sh;
# mock-nsw sends 1,000 5-item permit requests, then 500 requests of the kind measured; then the
# same on another fresh database with 500 + N. The difference of the two totals, divided by N,
# leaves out the start, the reference data and the warm-ups. Prints that figure and the
# functions that take the most instructions of the longer run
# (target/bench-instructions/cachegrind.out).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
. benches/gateway.sh
OUT=$ROOT/target/bench-instructions
BUILD=1
N=4000
KIND=permit
ITEMS=5
STORED=0
BIN=$ROOT/target/release
MODE=sqlite
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --requests) N=$2; shift ;;
        --kind) KIND=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --stored) STORED=$2; shift ;;
        --gateway) MODE=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
bench_binaries "$BUILD" "$BIN"
PORT=${BENCH_PORT:-18453}
ADMIN=${BENCH_ADMIN_PORT:-19453}
mkdir -p "$OUT"
DATA=$OUT/data-10k
licences_10k "$MOCK" "$DATA"
GW_PID=""
trap '[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null; true' EXIT

# One run: $1 requests of the kind measured after the warm-up; prints the gateway's total
# instruction count.
run() {
    local n=$1 run=$OUT/run
    fresh_gateway "$GW" "$run" "$DATA" "$PORT" "$ADMIN" "$MODE"
    if [ "$STORED" != 0 ]; then
        "$GW" --config "$run/gateway.toml" serve > "$run/stored.log" 2>&1 &
        GW_PID=$!
        wait_ready "$ADMIN" "$GW_PID" "$run/stored.log" 60 || exit 1
        "$MOCK" load --quiet --target "http://127.0.0.1:$PORT/ebms" --data "$DATA" \
            --items 5 --concurrency 64 --requests "$STORED" --seed 21 --max-time 900s \
            --report-dir "$run/stored" > "$run/stored.txt"
        report_clean "$run/stored" "the prefill" || exit 1
        stop_gateway
    fi
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$run/cachegrind.out" \
        "$GW" --config "$run/gateway.toml" serve > "$run/gateway.log" 2>&1 &
    GW_PID=$!
    # Under valgrind the start takes tens of seconds.
    wait_ready "$ADMIN" "$GW_PID" "$run/gateway.log" 300 || exit 1
    local common=(--quiet --target "http://127.0.0.1:$PORT/ebms" --data "$DATA"
        --concurrency 16 --max-time 900s)
    if [ "$ITEMS" != mixed ]; then common+=(--items "$ITEMS"); fi
    "$MOCK" load "${common[@]}" --requests 1000 --seed 11 > "$run/warmup.txt"
    "$MOCK" load "${common[@]}" --kind "$KIND" --requests "$n" --seed 12 \
        --report-dir "$run/report" > "$run/load.txt"
    report_clean "$run/report" "the measured run" || exit 1
    stop_gateway
    awk '/^summary:/ {print $2}' "$run/cachegrind.out"
}

base=$(run 500)
total=$(run "$((500 + N))")
cp "$OUT/run/cachegrind.out" "$OUT/cachegrind.out"
echo "instructions per $KIND request: $(( (total - base) / N )) ($N requests at c=16, items: $ITEMS, 10k licences, SQLite, $STORED permit requests stored before)"
cg_annotate --auto=no "$OUT/cachegrind.out" | awk '/file:function/ {p = 1; next} p && NF && !/^-/' \
    | sed -E 's#[^ ]*/(registry/src/[^/]+|rustc/[0-9a-f]+/library|multiarch)/##' | head -25
