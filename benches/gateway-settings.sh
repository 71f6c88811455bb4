# The gateway's settings for the load scripts (sourced by load.sh and instructions.sh): listeners
# on loopback, room for many requests in flight, the partner's rate limit lifted.
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
