#!/usr/bin/env bash
# Load figures of the gateway with mock-nsw, on SQLite and on PostgreSQL, plain HTTP and mutual
# TLS, on loopback only. Writes target/bench-load/figures.md and every mock-nsw report
# (report.json, report.md, latency.svg) under target/bench-load/.
#
#   benches/load.sh                 full run (1M and 10k licences, 3 repetitions per figure)
#   benches/load.sh --smoke         tiny counts; fails on any error or wrong decision, or when
#                                   check-db finds a problem in the database; no speed checks
#   benches/load.sh --smoke --debug the same with the debug binaries of `cargo test` (CI)
#   options: --repeats N  --only sqlite|postgres  --no-build  --pg URL (server URL, no database)
#            --scales "1m 10k"  reference-data sizes to run (default both; smoke: 10k)
#            --items N|mixed  goods items per permit request (default 5, as the targets name;
#                             "mixed": mock-nsw's own 1–20)
#            --duplicates P   share of messages that are retries of a recent one (same
#                             MessageId and bytes), as mock-nsw takes it: "5%" (default none)
#
# Each repetition starts from the same state: the database as it was right after the reference
# data was loaded (a copy kept of the SQLite file, a PostgreSQL template database), and a
# gateway started afresh on it. Within a repetition the runs share its database, in the same
# order every time. Seeds differ per run (and modulo 1000: mock-nsw derives declaration-number
# prefixes from seed % 1000), so the runs of a repetition never reuse a MessageId, a reference
# or a declaration number.
# Every load is bounded in count and in time (--max-time); the gateway is stopped at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
. benches/gateway.sh
OUT=$ROOT/target/bench-load
SMOKE=0
REPEATS=3
ONLY=""
BUILD=1
PG=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
ITEMS=5
SCALES_OPT=""
DUPLICATES=""
PROFILE=release
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; REPEATS=1 ;;
        --repeats) REPEATS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --no-build) BUILD=0 ;;
        --debug) PROFILE=debug ;;
        --pg) PG=$2; shift ;;
        --items) ITEMS=$2; shift ;;
        --scales) SCALES_OPT=$2; shift ;;
        --duplicates) DUPLICATES=$2; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$SMOKE" = 1 ]; then
    N_CLOSED=300; OPEN_RATE=200; OPEN_SECS=2; N_DECL=200; WARMUP=50
    CONCURRENCIES="16 64"; SCALES="10k"
    OUT=$ROOT/target/bench-load-smoke
else
    N_CLOSED=5000; OPEN_RATE=5000; OPEN_SECS=5; N_DECL=3000; WARMUP=300
    CONCURRENCIES="16 64 256"; SCALES="1m 10k"
fi
[ -n "$SCALES_OPT" ] && SCALES=$SCALES_OPT
PORT=${BENCH_PORT:-18443}
ADMIN=${BENCH_ADMIN_PORT:-19443}
BIN=$ROOT/target/$PROFILE
GW=$BIN/nsw-gateway
MOCK=$BIN/mock-nsw
TODAY=$(date -u +%F)
mkdir -p "$OUT"
FIG=$OUT/figures.md
ROWS=$OUT/rows.tsv
: > "$ROWS"
: > "$OUT/failures.txt"
GW_PID=""
PG_DBS=()

cleanup() {
    if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
        kill "$GW_PID" 2>/dev/null || true
        wait "$GW_PID" 2>/dev/null || true
    fi
    for db in "${PG_DBS[@]:-}"; do
        [ -n "$db" ] && psql "$PG/test" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

log() { echo "[$(date -u +%T)] $*" >&2; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

if [ "$BUILD" = 1 ]; then
    if [ "$PROFILE" = debug ]; then
        log "building debug binaries (the targets and features of cargo test: nothing is rebuilt)"
        cargo build --workspace --all-targets
    else
        log "building release binaries"
        cargo build --release --workspace --bins
    fi
fi

# Reference data, generated once per scale and kept (same seed → same files).
gen_data() {
    local scale=$1 n
    case $scale in 10k) n=10000 ;; 1m) n=1000000 ;; esac
    local dir=$OUT/data-$scale
    if [ ! -f "$dir/.done-$TODAY" ]; then
        log "generating $n licences into $dir"
        rm -rf "$dir"
        "$MOCK" gen-data --out "$dir" --licences "$n" --seed 7 --today "$TODAY" >&2
        touch "$dir/.done-$TODAY"
    fi
    echo "$dir"
}

# Writes a settings file: $1 database URL, $2 "tls" or "plain".
config() {
    local url=$1 mode=$2 file=$OUT/run/gateway-$2.toml
    mkdir -p "$OUT/run"
    gateway_settings "$url" "$PORT" "$ADMIN" > "$file"
    if [ "$mode" = tls ]; then
        echo 'cert_subject_cn = "NSW"' >> "$file"
        cat >> "$file" <<EOF

[tls]
cert = "$OUT/certs/server.pem"
key = "$OUT/certs/server-key.pem"
client_ca = "$OUT/certs/ca.pem"
EOF
    fi
    cat >> "$file" <<EOF

[log]
format = "json"
filter = "warn"
EOF
    echo "$file"
}

fresh_db() {
    local backend=$1 tag=$2
    case $backend in
        sqlite)
            rm -rf "$OUT/run/db-$tag"
            mkdir -p "$OUT/run/db-$tag"
            echo "sqlite://$OUT/run/db-$tag/gateway.db" ;;
        postgres)
            local db="bench_${tag//-/_}_$$"
            psql "$PG/test" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
            psql "$PG/test" -qc "CREATE DATABASE $db" >/dev/null
            PG_DBS+=("$db")
            echo "$PG/$db" ;;
    esac
}

# Keeps the database of URL as it is now (the reference data just loaded, no gateway on it), so
# that restore_db can put it back: a copy of the SQLite file (the load closed it with its WAL
# copied in and truncated), a PostgreSQL template database.
keep_db() {
    local backend=$1 tag=$2 url=$3
    case $backend in
        sqlite) cp "${url#sqlite://}" "$OUT/run/db-$tag/kept.db" ;;
        postgres)
            local db=${url##*/}
            psql "$PG/test" -qc "DROP DATABASE IF EXISTS ${db}_kept" >/dev/null
            psql "$PG/test" -qc "CREATE DATABASE ${db}_kept TEMPLATE $db STRATEGY FILE_COPY" >/dev/null
            PG_DBS+=("${db}_kept") ;;
    esac
}

# Puts back the database that keep_db kept, and waits until the copy is on the disk, so that
# no run's writes queue behind it.
restore_db() {
    local backend=$1 tag=$2 url=$3
    case $backend in
        sqlite)
            local file=${url#sqlite://}
            rm -f "$file" "$file-wal" "$file-shm"
            cp "$OUT/run/db-$tag/kept.db" "$file" ;;
        postgres)
            local db=${url##*/}
            psql "$PG/test" -qc "DROP DATABASE $db" >/dev/null
            psql "$PG/test" -qc "CREATE DATABASE $db TEMPLATE ${db}_kept STRATEGY FILE_COPY" >/dev/null ;;
    esac
    sync
}

# A database with 1M licences takes about a gigabyte: removed as soon as its runs are done.
drop_db() {
    case $1 in
        sqlite) rm -rf "$OUT/run/db-$2" ;;
        postgres)
            psql "$PG/test" -qc "DROP DATABASE IF EXISTS ${3##*/}" >/dev/null || true
            psql "$PG/test" -qc "DROP DATABASE IF EXISTS ${3##*/}_kept" >/dev/null || true ;;
    esac
}

start_gateway() {
    local cfg=$1 name=$2
    "$GW" --config "$cfg" serve > "$OUT/run/$name.log" 2>&1 &
    GW_PID=$!
    wait_ready "$ADMIN" "$GW_PID" "$OUT/run/$name.log" 120 || exit 1
}

rss_kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$GW_PID/status"; }
TICK=$(getconf CLK_TCK)

# One mock-nsw load run; appends a row to rows.tsv:
# name, throughput, p50, p99, p999, completed, errors, wrong decisions, load average, gateway
# CPU and mock-nsw's own CPU per request (µs).
run_load() {
    local name=$1; shift
    local dir=$OUT/reports/$name
    mkdir -p "$dir"
    local before
    before=$(load_avg)
    local failed=0 cpu0 cpu1
    cpu0=$(cpu_ticks)
    "$MOCK" load --quiet --report-dir "$dir" "$@" > "$dir/stdout.txt" 2>&1 || failed=1
    cpu1=$(cpu_ticks)
    local r=$dir/report.json
    if [ ! -f "$r" ]; then
        cat "$dir/stdout.txt" >&2; echo "mock-nsw load failed: $name" >&2; exit 1
    fi
    if [ "$failed" = 1 ]; then
        # The measured phase has its report; a later phase (declaration follow-ups) failed.
        echo "$name: $(grep -m1 '^Error' "$dir/stdout.txt")" >> "$OUT/failures.txt"
        log "$name: mock-nsw reported a failure after the measured phase (see failures.txt)"
    fi
    local completed
    completed=$(jq -r '.completed' "$r")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" \
        "$(jq -r '.throughput_rps | floor' "$r")" \
        "$(jq -r '.latency_us.p50' "$r")" "$(jq -r '.latency_us.p99' "$r")" \
        "$(jq -r '.latency_us.p999' "$r")" "$(jq -r '.completed' "$r")" \
        "$(jq -r '.errors' "$r")" "$(jq -r '.errors_by_kind.wrong_decision // 0' "$r")" \
        "$before" "$(( (cpu1 - cpu0) * 1000000 / TICK / (completed > 0 ? completed : 1) ))" \
        "$(mock_cpu_us "$dir")" >> "$ROWS"
    log "$name: $(tail -1 "$ROWS" | cut -f2) req/s, p99 $(tail -1 "$ROWS" | cut -f4) µs, errors $(tail -1 "$ROWS" | cut -f7), gateway CPU $(tail -1 "$ROWS" | cut -f10) µs/req, mock-nsw $(tail -1 "$ROWS" | cut -f11) µs/req, load $before"
}

target_for() { if [ "$1" = tls ]; then echo "https://localhost:$PORT/ebms"; else echo "http://127.0.0.1:$PORT/ebms"; fi; }
tls_args() {
    if [ "$1" = tls ]; then
        echo "--ca $OUT/certs/ca.pem --cert $OUT/certs/client.pem --key $OUT/certs/client-key.pem"
    fi
}

"$GW" certs dev "$OUT/certs" >/dev/null
BACKENDS="sqlite postgres"
[ -n "$ONLY" ] && BACKENDS=$ONLY
if [[ " $BACKENDS " == *" postgres "* ]] && ! psql "$PG/test" -qc "SELECT 1" >/dev/null 2>&1; then
    echo "PostgreSQL at $PG is not reachable" >&2; exit 1
fi
MEM_ROWS=""

for backend in $BACKENDS; do
    for scale in $SCALES; do
        data=$(gen_data "$scale")
        for mode in plain tls; do
            # The 10k scale shows how figures move with the size of the reference data: closed
            # loop only, plain HTTP.
            if [ "$scale" = 10k ] && [ "$mode" = tls ] && [ "$SMOKE" = 0 ]; then continue; fi
            tag="$backend-$scale-$mode"
            url=$(fresh_db "$backend" "$tag")
            cfg=$(config "$url" "$mode")
            log "loading $scale reference data into $backend"
            "$GW" --config "$cfg" refdata load "$data" > "$OUT/run/refdata-$tag.txt" 2>&1
            if [ "$REPEATS" -gt 1 ]; then keep_db "$backend" "$tag" "$url"; fi
            target=$(target_for "$mode")
            # shellcheck disable=SC2046
            common=(--target "$target" --data "$data" $(tls_args "$mode"))
            if [ "$ITEMS" != mixed ]; then common+=(--items "$ITEMS"); fi
            if [ -n "$DUPLICATES" ]; then common+=(--duplicates "$DUPLICATES"); fi
            hwm=0
            for rep in $(seq 1 "$REPEATS"); do
                if [ "$REPEATS" -gt 1 ]; then
                    # Every repetition on a copy, the first too: the same state, on disk and
                    # in the caches, for each.
                    log "$tag: the database as loaded, for repetition $rep"
                    restore_db "$backend" "$tag" "$url"
                fi
                start_gateway "$cfg" "$tag-r$rep"
                if [ "$rep" = 1 ]; then rss_idle=$(rss_kib VmRSS); fi
                concs=$CONCURRENCIES
                if [ "$mode" = tls ] || [ "$scale" = 10k ]; then concs=64; fi
                for c in $concs; do
                    run_load "$tag-closed-c$c-r$rep" "${common[@]}" --build-ahead --judge-after --concurrency "$c" \
                        --requests "$N_CLOSED" --seed "$((rep * 100000 + c * 16))" --max-time 300s
                done
                if [ "$mode" = plain ] && [ "$scale" != 10k ] || [ "$SMOKE" = 1 ]; then
                    run_load "$tag-open-r$rep" "${common[@]}" --build-ahead --judge-after --rate "$OPEN_RATE" \
                        --duration "${OPEN_SECS}s" --seed "$((rep * 100000 + 50000))" --max-time "$((OPEN_SECS + 60))s"
                    # Below capacity, whatever the machine: 60 % of what the closed loop at c=64
                    # of this repetition answered.
                    below=$(awk -F'\t' -v n="$tag-closed-c64-r$rep" '$1 == n {r = int($2 * 0.6)} END {print (r > 0 ? r : 1)}' "$ROWS")
                    run_load "$tag-open-60pct-r$rep" "${common[@]}" --build-ahead --judge-after --rate "$below" \
                        --duration "${OPEN_SECS}s" --seed "$((rep * 100000 + 60500))" --max-time "$((OPEN_SECS + 60))s"
                    run_load "$tag-declaration-r$rep" "${common[@]}" --build-ahead --judge-after --kind declaration \
                        --warmup "$WARMUP" --concurrency 64 --requests "$N_DECL" --seed "$((rep * 100000 + 70000 + rep * 7))" \
                        --max-time 300s
                fi
                rss_end=$(rss_kib VmRSS)
                rep_hwm=$(rss_kib VmHWM)
                if [ "$rep_hwm" -gt "$hwm" ]; then hwm=$rep_hwm; fi
                stop_gateway
                if [ "$SMOKE" = 1 ]; then
                    # The SQLite writer does not enforce foreign keys: every row's parent is there.
                    "$GW" --config "$cfg" check-db > "$OUT/run/check-db-$tag-r$rep.txt" 2>&1 \
                        || { cat "$OUT/run/check-db-$tag-r$rep.txt" >&2; echo "check-db failed: $tag-r$rep" >&2; exit 1; }
                fi
            done
            MEM_ROWS+="| $tag | $((rss_idle / 1024)) | $((rss_end / 1024)) | $((hwm / 1024)) |"$'\n'
            drop_db "$backend" "$tag" "$url"
        done
    done
done

# Figures: the median of the repetitions of each configuration.
{
    echo "# Load figures ($(date -u +%FT%TZ))"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
        "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo). Gateway and mock-nsw share it."
    echo "Repetitions per figure: $REPEATS (median shown; all runs in rows.tsv), each on the database as loaded with the reference data and a gateway started afresh. Load average: 1, 5, 15 min before the run."
    echo
    echo "Requests built by mock-nsw before each run's clock starts (\`--build-ahead\`), answers judged after it stops (\`--judge-after\`)."
    echo "Goods items per approvable request: $ITEMS. Retries of a recent message: ${DUPLICATES:-none}." \
        "Gateway CPU: user + system time of the gateway process per completed request;" \
        "mock-nsw CPU: its own while the clock ran, per completed request."
    echo
    echo "| run | req/s (median) | p50 µs | p99 µs | p99.9 µs | completed | errors | wrong decisions | gateway CPU µs/req | mock-nsw CPU µs/req | runs (req/s) | load avg at the median run |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    cut -f1 "$ROWS" | sed 's/-r[0-9]*$//' | awk '!seen[$0]++' | while read -r cfgname; do
        grep -P "^\Q$cfgname\E-r[0-9]+\t" "$ROWS" | sort -t$'\t' -k2,2n > "$OUT/.sel"
        n=$(wc -l < "$OUT/.sel")
        med=$(sed -n "$(( (n + 1) / 2 ))p" "$OUT/.sel")
        all=$(cut -f2 "$OUT/.sel" | paste -sd/)
        IFS=$'\t' read -r _ rps p50 p99 p999 done_ err wrong la cpu mock_cpu <<< "$med"
        echo "| $cfgname | $rps | $p50 | $p99 | $p999 | $done_ | $err | $wrong | $cpu | $mock_cpu | $all | $la |"
    done
    echo
    echo "Gateway memory (MiB): after start-up (reference data loaded) in the first repetition, at the end of the last, and the highest high-water mark (VmHWM) of the repetitions' gateways."
    echo
    echo "| gateway | RSS idle | RSS end | VmHWM |"
    echo "|---|---|---|---|"
    printf '%s' "$MEM_ROWS"
} > "$FIG"
rm -f "$OUT/.sel"
cat "$FIG"

if [ "$SMOKE" = 1 ]; then
    bad=$(awk -F'\t' '$7 != 0 || $8 != 0' "$ROWS"; cat "$OUT/failures.txt")
    if [ -n "$bad" ]; then
        echo "smoke: errors or wrong decisions:" >&2
        echo "$bad" >&2
        exit 1
    fi
    echo "smoke: every run without errors or wrong decisions"
fi
