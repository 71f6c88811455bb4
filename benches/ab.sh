#!/usr/bin/env bash
# Two builds (or two sets of mock-nsw options, or two ways to run the gateway) in alternating
# runs, for changes smaller than the machine's drift: each run starts a gateway on a fresh
# database (SQLite unless told) with the 10k licences of load.sh, warms it up, then runs a
# closed loop of 5-item permit requests at c=64 (by default: requests built ahead, answers
# judged after the clock). Pairs run A then B, and B then A in every other pair, so that a
# machine that slows down or speeds up during the runs favours neither. Prints each pair (req/s, p99, the gateway's and mock-nsw's CPU per request) and the
# medians; fails on any error or wrong decision.
#
#   benches/ab.sh --a DIR --b DIR [--pairs N] [--requests N] [--warmup N]
#                 [--a-args "…"] [--b-args "…"] [--rate R [--duration S]]
#                 [--a-gateway MODE] [--b-gateway MODE]
#
#   --a / --b       directories of the two builds' nsw-gateway and mock-nsw (default: both
#                   target/release, to compare options)
#   --a-args / --b-args  the mock-nsw load options of that side's measured run, instead of
#                   the default "--items 5 --build-ahead --judge-after --concurrency 64"; e.g.
#                   --b-args "--items 5 --build-ahead --concurrency 64" (answers judged as they
#                   come)
#   --pairs N       default 6; --requests N default 20000; --warmup N default 2000
#   --rate R        an open loop at R requests a second for --duration S seconds (default 5)
#                   instead of the closed loop's --requests N (give both sides' --a-args and
#                   --b-args without --concurrency then)
#   --a-gateway / --b-gateway  how that side's gateway runs: sqlite (default), postgres (a
#                   fresh database on $BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432),
#                   sqlite-tls or postgres-tls (mutual TLS, keep-alive connections), each
#                   with +log (the gateway's default log settings: text at level info) or
#                   +json (JSON at level info) instead of level warn; e.g. --a-gateway
#                   postgres --b-gateway postgres-tls for what TLS costs
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
. benches/gateway.sh
OUT=$ROOT/target/bench-ab
A=$ROOT/target/release
B=$ROOT/target/release
DEFAULT_ARGS="--items 5 --build-ahead --judge-after --concurrency 64"
A_ARGS=$DEFAULT_ARGS
B_ARGS=$DEFAULT_ARGS
PAIRS=6
REQUESTS=20000
WARMUP=2000
RATE=""
DURATION=5
A_MODE=sqlite
B_MODE=sqlite
while [ $# -gt 0 ]; do
    case "$1" in
        --a) A=$2; shift ;;
        --b) B=$2; shift ;;
        --a-args) A_ARGS=$2; shift ;;
        --b-args) B_ARGS=$2; shift ;;
        --pairs) PAIRS=$2; shift ;;
        --requests) REQUESTS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --a-gateway) A_MODE=$2; shift ;;
        --b-gateway) B_MODE=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for dir in "$A" "$B"; do
    for bin in nsw-gateway mock-nsw; do
        [ -x "$dir/$bin" ] || { echo "$dir/$bin is missing (cargo build --release --workspace --bins)" >&2; exit 1; }
    done
done
PORT=${BENCH_PORT:-18483}
ADMIN=${BENCH_ADMIN_PORT:-19483}
GW_PID=""
cleanup() {
    [ -n "$GW_PID" ] && { kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null; }
    if [[ "$A_MODE $B_MODE" == *postgres* ]]; then
        psql "${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}/postgres" -qc \
            "DROP DATABASE IF EXISTS bench_fresh WITH (FORCE)" >/dev/null 2>&1
    fi
    true
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)
mkdir -p "$OUT"
: > "$OUT/runs.tsv"

# One run of side $1 (A or B) in pair $2; appends side, pair, req/s, p99 µs, gateway and
# mock-nsw CPU µs per request to runs.tsv.
run() {
    local side=$1 pair=$2 dir args mode
    if [ "$side" = A ]; then dir=$A; args=$A_ARGS; mode=$A_MODE; else dir=$B; args=$B_ARGS; mode=$B_MODE; fi
    local gw=$dir/nsw-gateway mock=$dir/mock-nsw run=$OUT/run-$pair-$side
    serve_fresh "$gw" "$mock" "$OUT" "$PORT" "$ADMIN" "$mode" > /dev/null || exit 1
    # shellcheck disable=SC2207
    local common=(--quiet $(client_args "$OUT" "$PORT" "$mode") --data "$OUT/data-10k" --max-time 900s)
    rm -rf "$run"
    # shellcheck disable=SC2086
    "$mock" load "${common[@]}" $DEFAULT_ARGS --requests "$WARMUP" --seed "$((pair * 100 + 1))" \
        --report-dir "$run/warm-up" > /dev/null 2>&1
    report_clean "$run/warm-up" "warm-up of $side in pair $pair" || exit 1
    local t0 t1 count=(--requests "$REQUESTS")
    [ -n "$RATE" ] && count=(--rate "$RATE" --duration "${DURATION}s")
    t0=$(cpu_ticks)
    # shellcheck disable=SC2086
    "$mock" load "${common[@]}" "${count[@]}" --seed "$((pair * 100 + 2))" \
        --report-dir "$run/report" $args > "$run/load.txt" 2>&1 \
        || { cat "$run/load.txt" >&2; echo "mock-nsw load failed: $side in pair $pair" >&2; exit 1; }
    t1=$(cpu_ticks)
    stop_gateway
    local r=$run/report/report.json
    report_clean "$run/report" "$side in pair $pair" || exit 1
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$pair" "$(jq -r '.throughput_rps | floor' "$r")" \
        "$(jq -r '.latency_us.p99' "$r")" \
        "$(( (t1 - t0) * 1000000 / TICK / $(jq -r '[.completed, 1] | max' "$r") ))" \
        "$(mock_cpu_us "$run/report")" \
        >> "$OUT/runs.tsv"
}

for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then order="A B"; else order="B A"; fi
    for side in $order; do
        echo "[$(date -u +%T)] pair $pair: $side" >&2
        run "$side" "$pair"
    done
done

# The table: per pair A and B (req/s, p99 ms, gateway µs, mock-nsw µs) and B / A.
cell() { awk -F'\t' -v s="$1" -v p="$2" '$1 == s && $2 == p {printf "%s (%.1f ms; %s µs; %s µs)", $3, $4 / 1000, $5, $6}' "$OUT/runs.tsv"; }
rps() { awk -F'\t' -v s="$1" -v p="$2" '$1 == s && $2 == p {print $3}' "$OUT/runs.tsv"; }
median() { sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s {print $c}' "$OUT/runs.tsv" | median; }
{
    echo "A: $A, gateway on $A_MODE, mock-nsw load $A_ARGS"
    echo "B: $B, gateway on $B_MODE, mock-nsw load $B_ARGS"
    echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); per run a fresh database with 10k licences, $WARMUP requests at c=64 to warm up, then $([ -n "$RATE" ] && echo "an open loop at $RATE/s for ${DURATION} s" || echo "$REQUESTS requests") with the side's options"
    echo
    echo "| pair | A: req/s (p99; gateway, mock-nsw CPU per request) | B | B / A |"
    echo "|---|---|---|---|"
    for pair in $(seq 1 "$PAIRS"); do
        first=A; [ $((pair % 2)) = 0 ] && first=B
        echo "| $pair ($first first) | $(cell A "$pair") | $(cell B "$pair") | $(awk -v a="$(rps A "$pair")" -v b="$(rps B "$pair")" 'BEGIN {printf "%+.1f %%", (b / a - 1) * 100}') |"
    done
    echo
    echo "Medians: A $(col A 3) req/s, gateway $(col A 5) µs, mock-nsw $(col A 6) µs;" \
        "B $(col B 3) req/s, gateway $(col B 5) µs, mock-nsw $(col B 6) µs."
} | tee "$OUT/table.md"
