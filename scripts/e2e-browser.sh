#!/usr/bin/env bash
# End-to-end check of the status page in a real browser: builds and starts a development
# gateway (debug binary, temporary SQLite, free ports), creates a permit through POST /ebms,
# loads /status in headless Chromium and checks that the decision, the item statuses and the
# reasons are shown in Thai and in English. Saves a phone-sized screenshot to
# target/e2e/status.png. Exits non-zero on any failure; every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

if ! command -v chromium >/dev/null; then
  log "installing chromium"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium >/dev/null
fi
# A Thai font, so that the screenshot shows Thai text rather than empty boxes.
if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=th 2>/dev/null)" ]]; then
  log "installing a Thai font"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq fonts-thai-tlwg >/dev/null \
    || log "no Thai font installed: the screenshot will show boxes for Thai (the DOM checks still apply)"
fi
command -v curl >/dev/null || fail "curl is required"

log "building the gateway (debug)"
timeout 1800 cargo build -q --workspace --all-targets  # the test feature set: nothing is rebuilt after cargo test
bin=target/debug/nsw-gateway

work=$(mktemp -d)
profile=$(mktemp -d)
gw_pid=
cleanup() {
  if [[ -n "$gw_pid" ]]; then kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; fi
  rm -rf "$work" "$profile"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port); admin_port=$(free_port); api_port=$(free_port)

log "starting the gateway (ebMS :$port, admin :$admin_port, API :$api_port)"
NSW_GATEWAY__DATABASE__URL="sqlite://$work/gateway.db" \
NSW_GATEWAY__REFDATA__SEED_DIR="$PWD/tests/fixtures/e2e-refdata" \
  "$bin" serve --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin_port" \
  --api-listen "127.0.0.1:$api_port" >"$work/gateway.log" 2>&1 &
gw_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$gw_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; fail "the gateway stopped"; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null || { cat "$work/gateway.log" >&2; fail "the gateway is not ready"; }

log "creating a permit through POST /ebms"
reference="E2E-$(date +%s)"
arrival=$(date -u -d '+10 days' +%F)
invoice_date=$(date -u -d '-5 days' +%F)
sed -e "s/@MESSAGE_ID@/$(cat /proc/sys/kernel/random/uuid)/g" -e "s/@NOW@/$(date -u +%FT%TZ)/" \
    -e "s/@REFERENCE@/$reference/" -e "s/@ARRIVAL@/$arrival/" -e "s/@INVOICE_DATE@/$invoice_date/" \
    tests/fixtures/e2e-permit-request.xml >"$work/request.xml"
code=$(curl -s -m 30 -o "$work/reply.xml" -w '%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' \
  -H 'SOAPAction: "ebXML"' --data-binary "@$work/request.xml" "http://127.0.0.1:$port/ebms")
[[ "$code" == 200 ]] || { cat "$work/reply.xml" >&2; fail "POST /ebms answered $code"; }
permit=$(grep -o 'TISI-P-[0-9]\{4\}-[0-9]\{8\}' "$work/reply.xml" | head -n1)
[[ -n "$permit" ]] || { cat "$work/reply.xml" >&2; fail "no permit number in the reply"; }
log "permit $permit"

url="http://127.0.0.1:$api_port/status?permit=$permit&tax=0105536112014"
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile")

log "loading $url in headless Chromium"
timeout 120 "${chrome[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.log" \
  || { tail -n 20 "$work/chromium.log" >&2; fail "chromium --dump-dom failed"; }
missing=()
for text in "$permit" "$reference" \
    "HOLD_FOR_INSPECTION" "กักตรวจสอบที่ด่านศุลกากร" "Held for inspection at the port" \
    "APPROVED" "อนุมัติ" "Approved" \
    "INSPECTION_SELECTED" "Written off" "ตัดบัญชีแล้ว" "Remaining" "คงเหลือ" "250 C62" \
    "ประวัติ" "History"; do
  grep -qF -- "$text" "$work/dom.html" || missing+=("$text")
done
# The reason of the held item, in both languages (its text comes from the decision rules).
reason_th=$(grep -A2 'INSPECTION_SELECTED' "$work/dom.html" | LC_ALL=C grep -c $'\xe0\xb8\|\xe0\xb9' || true)
reason_en=$(grep -A2 'INSPECTION_SELECTED' "$work/dom.html" | grep -ci 'inspect' || true)
((reason_th > 0)) || missing+=("the Thai reason of INSPECTION_SELECTED")
((reason_en > 0)) || missing+=("the English reason of INSPECTION_SELECTED")
((${#missing[@]} == 0)) || { printf '  missing: %s\n' "${missing[@]}" >&2; fail "the page lacks texts"; }

log "checking the bilingual not-found message"
timeout 120 "${chrome[@]}" --dump-dom \
  "http://127.0.0.1:$api_port/status?permit=$permit&tax=0994000617721" >"$work/notfound.html" 2>>"$work/chromium.log" \
  || fail "chromium --dump-dom failed"
grep -qF "ไม่พบคำขอ" "$work/notfound.html" && grep -qF "No request or permit matches" "$work/notfound.html" \
  || fail "the not-found page is not bilingual"
grep -qF "$reference" "$work/notfound.html" && fail "the not-found page shows the importer's data"

log "screenshot"
mkdir -p target/e2e
rm -f target/e2e/status.png
timeout 120 "${chrome[@]}" --hide-scrollbars --screenshot="$PWD/target/e2e/status.png" \
  --window-size=412,915 "$url" >>"$work/chromium.log" 2>&1 || fail "chromium --screenshot failed"
[[ -s target/e2e/status.png ]] || fail "no screenshot written"
log "OK: the status page shows the permit, statuses and reasons in Thai and English (target/e2e/status.png)"
