# What the load scripts (load.sh, instructions.sh, growth.sh) do with the gateway, sourced by
# them.

# The gateway's settings: listeners on loopback, room for many requests in flight, the
# partner's rate limit lifted.
#
#   gateway_settings DATABASE_URL PORT ADMIN_PORT > file
#
# The output ends in the partner's table, so that a script can add to it (the TLS client
# certificate's name) before its own tables.
gateway_settings() {
    cat <<SETTINGS
[server]
listen = "127.0.0.1:$2"
max_in_flight = 8192
max_connections = 4096

[admin]
listen = "127.0.0.1:$3"

[api]
listen = "127.0.0.1:0"

[database]
url = "$1"
max_connections = 16

[gateway]
party_id = "TISI"
issuer_tax_number = "0994000159994"
issuer_name = "Thai Industrial Standards Institute"

[[partners]]
party_id = "NSW"
cpa_id = "NSW-TISI-PERMIT"
rate_per_second = 1000000
rate_burst = 1000000
delivery_url = "http://127.0.0.1:9/ebms"
SETTINGS
}

# Waits until the gateway started as PID answers on its admin port. Fails, with the gateway's
# log, when it exits first; fails when it is not ready within SECONDS.
#
#   wait_ready ADMIN_PORT PID LOG SECONDS || exit 1
wait_ready() {
    local deadline=$((SECONDS + $4))
    until curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; do
        if ! kill -0 "$2" 2>/dev/null; then
            cat "$3" >&2; echo "gateway did not start" >&2; return 1
        fi
        if [ "$SECONDS" -gt "$deadline" ]; then
            echo "gateway not ready after $4 s" >&2; return 1
        fi
        sleep 0.2
    done
}

# Builds the release binaries when BUILD is 1; sets GW and MOCK (the caller's variables) to
# the gateway and mock-nsw in BIN.
#
#   bench_binaries BUILD BIN
bench_binaries() {
    if [ "$1" = 1 ]; then
        cargo build --release --workspace --bins
    fi
    GW=$2/nsw-gateway
    MOCK=$2/mock-nsw
}

# The 10k licences of load.sh's smaller scale, generated into DIR once.
#
#   licences_10k MOCK DIR
licences_10k() {
    if [ ! -f "$2/.done" ]; then
        "$1" gen-data --out "$2" --licences 10000 --seed 7 --today "$(date -u +%F)" >/dev/null
        touch "$2/.done"
    fi
}

# A fresh gateway in DIR: its settings in DIR/gateway.toml (log level warn) and its database,
# with the reference data of DATA loaded. MODE is sqlite (DIR/gateway.db; the default),
# postgres (the database bench_fresh on the PostgreSQL server $BENCH_PG_URL, default
# postgres://postgres@127.0.0.1:5432, made afresh), or either with -tls: mutual TLS with the
# development certificates in DIR/../certs (see client_args); and any of them with +log: the
# gateway's default log settings (text at level info: a line for every answered request)
# instead of level warn, or +json: JSON lines at level info, as config/example.toml has them.
#
#   fresh_gateway GW DIR DATA PORT ADMIN_PORT [MODE]
fresh_gateway() {
    local mode=${6:-sqlite} url log='filter = "warn"'
    case $mode in
        *+log) mode=${mode%+log}; log="" ;;
        *+json) mode=${mode%+json}; log='format = "json"' ;;
    esac
    rm -rf "$2"
    mkdir -p "$2"
    case $mode in
        sqlite|sqlite-tls) url="sqlite://$2/gateway.db" ;;
        postgres|postgres-tls)
            local pg=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
            PGOPTIONS="-c client_min_messages=warning" \
                psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS bench_fresh WITH (FORCE)" >/dev/null
            psql "$pg/postgres" -qc "CREATE DATABASE bench_fresh" >/dev/null
            url="$pg/bench_fresh" ;;
        *) echo "unknown gateway mode $mode (sqlite, sqlite-tls, postgres, postgres-tls; each with +log, +json or neither)" >&2; return 1 ;;
    esac
    gateway_settings "$url" "$4" "$5" > "$2/gateway.toml"
    if [[ $mode == *-tls ]]; then
        local certs
        certs=$(dirname "$2")/certs
        [ -f "$certs/ca.pem" ] || "$1" certs dev "$certs" >/dev/null
        cat >> "$2/gateway.toml" <<EOF
cert_subject_cn = "NSW"

[tls]
cert = "$certs/server.pem"
key = "$certs/server-key.pem"
client_ca = "$certs/ca.pem"
EOF
    fi
    [ -z "$log" ] || printf '\n[log]\n%s\n' "$log" >> "$2/gateway.toml"
    "$1" --config "$2/gateway.toml" refdata load "$3" >/dev/null
}

# mock-nsw's options to reach the gateway that fresh_gateway made in OUT/run: its address,
# and with a -tls MODE the CA and the client certificate.
#
#   client_args OUT PORT [MODE]
client_args() {
    if [[ ${3:-sqlite} == *-tls* ]]; then
        echo "--target https://localhost:$2/ebms --ca $1/certs/ca.pem --cert $1/certs/client.pem --key $1/certs/client-key.pem"
    else
        echo "--target http://127.0.0.1:$2/ebms"
    fi
}

# Starts a gateway (see fresh_gateway for MODE) on a fresh database in OUT/run (its log
# OUT/run/gateway.log) with the 10k licences, generated into OUT/data-10k once; sets GW_PID,
# and waits until it answers.
#
#   serve_fresh GW MOCK OUT PORT ADMIN_PORT [MODE] || exit 1
serve_fresh() {
    mkdir -p "$3"
    licences_10k "$2" "$3/data-10k"
    fresh_gateway "$1" "$3/run" "$3/data-10k" "$4" "$5" "${6:-sqlite}" || return 1
    "$1" --config "$3/run/gateway.toml" serve > "$3/run/gateway.log" 2>&1 &
    GW_PID=$!
    wait_ready "$5" "$GW_PID" "$3/run/gateway.log" 60
}

# Stops the gateway started as $GW_PID (the caller's variable) and waits for it to exit.
stop_gateway() {
    kill -TERM "$GW_PID" 2>/dev/null || true
    wait "$GW_PID" 2>/dev/null || true
    GW_PID=""
}

# Fails, naming WHAT, unless the mock-nsw report in DIR counts no error.
#
#   report_clean DIR WHAT || exit 1
report_clean() {
    local errors
    errors=$(jq -r '.errors' "$1/report.json")
    [ "$errors" = 0 ] || { echo "$2: mock-nsw reported $errors errors" >&2; return 1; }
}

# CPU time the gateway started as $GW_PID (the caller's variable) has used, in clock ticks
# (user + system; `getconf CLK_TCK` a second).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }

# mock-nsw's own CPU while the clock of the run in report DIR ran, in µs per completed
# request; empty where mock-nsw could not read it.
#
#   mock_cpu_us DIR
mock_cpu_us() {
    jq -r 'if .run.own_cpu_s == null then "" else (.run.own_cpu_s * 1000000 / ([.completed, 1] | max) | floor) end' "$1/report.json"
}
