#!/usr/bin/env bash
# tests/browser/test_dashboard.sh - the dashboard in headless Chromium against
# a real collector fed by the three demo services (frontend -> checkout ->
# payment, whose SDKs also report their own counters) and by seed.mjs, which
# posts half an hour of an eight-service shop and one 5,000-span trace
# through the OTLP/JSON receiver.  Installs what it needs
# (tests/browser/deps.sh), then dashboard.test.mjs drives every page, checks
# it against the JSON API and times the trace and services pages.
# Screenshots land in $O/screenshots/.
# TAP output; run alone with: bash tests/browser/test_dashboard.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
HERE=$SL_ROOT/tests/browser
REQUESTS=${DEMO_REQUESTS:-30}

bash "$HERE/deps.sh" || bail "browser test dependencies are missing (see deps.sh's message above)"
ok "chromium and playwright-core are installed"

for b in sightline-collector demo-frontend demo-checkout demo-payment; do
  [[ -x $BIN/$b ]] || bail "$BIN/$b is not built; run: make $O/bin/$b"
done

# Alert rules are evaluated every second when the collector has them.
extra=()
"$BIN/sightline-collector" --help 2>&1 | grep -q -- --alert-interval && extra=(--alert-interval 1s)
start_collector --ui "$SL_ROOT/ui-static" "${extra[@]}"
ok "collector started at $COL_HTTP"

export SIGHTLINE_ENDPOINT=$COL_NNG
spawn payment "$BIN/demo-payment" --listen 127.0.0.1:0 --port-file "$TMP/payment.port"
wait_file "$TMP/payment.port" 10 || { cat "$TMP/payment.log"; bail "demo-payment did not start"; }
spawn checkout "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$(cat "$TMP/payment.port")" \
  --port-file "$TMP/checkout.port"
wait_file "$TMP/checkout.port" 10 || { cat "$TMP/checkout.log"; bail "demo-checkout did not start"; }
spawn frontend "$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$TMP/checkout.port")" \
  --requests "$REQUESTS" --rate 20

# The frontend stops after its requests; then stop the other two so their
# exporters flush everything (the SDK flushes on shutdown).
for _ in $(seq 300); do kill -0 "$PID_frontend" 2>/dev/null || break; sleep 0.1; done
stop_pid "$PID_frontend" || bail "demo-frontend did not finish its $REQUESTS requests"
stop_pid "$PID_checkout"
stop_pid "$PID_payment"

# Wait until the store answers with the traffic (ingest is asynchronous).
n=0
for _ in $(seq 100); do
  n=$(curl -fsS "$COL_HTTP/api/v1/traces?service=frontend&limit=1000&since=1h" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).traces.length)}catch{console.log(0)}})')
  ((n >= REQUESTS)) && break
  sleep 0.1
done
if ((n >= REQUESTS)); then ok "the API lists the $REQUESTS demo traces"; else not_ok "the API lists $n of $REQUESTS demo traces"; fi

# Half an hour of shop traffic and one 5,000-span trace, through OTLP/JSON.
seed_out=$(cd "$HERE" && BASE=$COL_HTTP timeout 60 node seed.mjs --traces "${SEED_TRACES:-2400}" --minutes 30 --big 5000 2>&1)
if [[ $seed_out == *big_trace_id* ]]; then ok "seeded OTLP traffic: $seed_out"; else bail "seed.mjs failed: $seed_out"; fi
BIG_TRACE=$(node -e 'console.log(JSON.parse(process.argv[1]).big_trace_id)' "$seed_out")
# The big trace is readable once its frames are stored.
for _ in $(seq 50); do
  curl -fsS -o /dev/null "$COL_HTTP/api/v1/traces/$BIG_TRACE" 2>/dev/null && break
  sleep 0.1
done

SHOTS=$SL_ROOT/$O/screenshots
mkdir -p "$SHOTS"
start=$SECONDS
(cd "$HERE" && BASE=$COL_HTTP SHOTS=$SHOTS BIG_TRACE=$BIG_TRACE timeout 120 node dashboard.test.mjs) >"$TMP/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
  case $line in
    "RESULT ok "*) ok "${line#RESULT ok }" ;;
    "RESULT not_ok "*) not_ok "${line#RESULT not_ok }" ;;
    *) echo "# $line" ;;
  esac
done <"$TMP/browser.out"
((rc == 0)) || grep -q '^RESULT not_ok' "$TMP/browser.out" || not_ok "dashboard.test.mjs exited with status $rc"
echo "# browser session took $((SECONDS - start)) s; screenshots in $SHOTS"

# A second collector that requires a read token: the dashboard asks for it.
tp=$(free_port) && tn=$(free_port) || bail "no free port"
spawn collector_tok "$BIN/sightline-collector" --data "$TMP/data-tok" --listen "tcp://127.0.0.1:$tn" \
  --http "127.0.0.1:$tp" --ui "$SL_ROOT/ui-static" --api-token-read browser-read-tok
if wait_http "http://127.0.0.1:$tp/healthz" 30; then
  (cd "$HERE" && BASE=http://127.0.0.1:$tp TOKEN=browser-read-tok timeout 60 node token.test.mjs) >"$TMP/token.out" 2>&1
  rc=$?
  while IFS= read -r line; do
    case $line in
      "RESULT ok "*) ok "token: ${line#RESULT ok }" ;;
      "RESULT not_ok "*) not_ok "token: ${line#RESULT not_ok }" ;;
      *) echo "# $line" ;;
    esac
  done <"$TMP/token.out"
  ((rc == 0)) || grep -q '^RESULT not_ok' "$TMP/token.out" || not_ok "token.test.mjs exited with status $rc"
else
  not_ok "the collector with an API token did not start: $(tail -3 "$TMP/collector_tok.log")"
fi
finish
