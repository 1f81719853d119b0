#!/usr/bin/env bash
# End to end: alert rules in a real collector.  The demo workload turns
# failing (demo-payment --fail-rate 1) and a service turns slow (spans of
# 500 ms sent over OTLP/HTTP); the rules go pending then firing; a real HTTP
# receiver (node) gets the webhooks with the right fields (its first answer
# is a 500, so the retry is exercised) and a command notifier gets the
# fields in its environment; the collector restarts while the alerts fire
# and keeps their state without notifying twice; the workload recovers and
# the resolve notifications arrive.  Also: `sightline alerts` / `check`
# exit codes, rule changes over the API (a bad rule is refused naming the
# field, the rules in force stay), SIGHUP with a broken file.
source "$(dirname "$0")/lib.sh"

command -v node >/dev/null || bail "node is needed for the webhook receiver (make deps)"
command -v jq >/dev/null || bail "jq is needed"
CLI=("$BIN/sightline" --no-color)
jqc() { jq -e "$@" >/dev/null; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
  local limit=$1; shift
  for _ in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}

# --- the webhook receiver and the senders --------------------------------------------
cat >"$TMP/recv.js" <<'EOF'
// Appends every POST body as one JSON line to FILE; answers 500 to the
// first FAIL_FIRST requests (the collector must retry).
const http = require('http'), fs = require('fs');
const [port, file, failFirst] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4] || 0)];
let n = 0;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (++n <= failFirst) { res.writeHead(500); res.end('not yet'); return; }
    let parsed = null;
    try { parsed = JSON.parse(body); } catch (e) { parsed = { unparsable: body }; }
    fs.appendFileSync(file, JSON.stringify({ method: req.method, url: req.url,
      ctype: req.headers['content-type'], body: parsed }) + '\n');
    res.writeHead(200); res.end('ok');
  });
}).listen(port, '127.0.0.1', () => fs.writeFileSync(file + '.ready', 'ok'));
EOF
cat >"$TMP/spans.js" <<'EOF'
// Sends COUNT server spans of SERVICE lasting MS milliseconds, ending now,
// over OTLP/HTTP JSON to URL/v1/traces.
const http = require('http'), crypto = require('crypto');
const [url, service, count, ms] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const end = BigInt(Date.now()) * 1000000n, start = end - BigInt(ms) * 1000000n;
const spans = [];
for (let i = 0; i < count; i++)
  spans.push({ traceId: crypto.randomBytes(16).toString('hex'), spanId: crypto.randomBytes(8).toString('hex'),
    name: 'GET /stock', kind: 2, startTimeUnixNano: start.toString(), endTimeUnixNano: end.toString() });
const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name',
  value: { stringValue: service } }] }, scopeSpans: [{ spans }] }] });
const req = http.request(url + '/v1/traces', { method: 'POST', headers: { 'Content-Type': 'application/json' } },
  (res) => { res.resume(); res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 1)); });
req.on('error', () => process.exit(1));
req.end(body);
EOF

HP=$(free_port) || bail "no free port"
HOOK=$TMP/hook.jsonl
spawn receiver node "$TMP/recv.js" "$HP" "$HOOK" 1
wait_file "$HOOK.ready" 10 || bail "webhook receiver did not start: $(cat "$TMP/receiver.log")"

RULES=$TMP/rules.json
cat >"$RULES" <<EOF
{
  "version": 1,
  "notifiers": [
    {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:$HP/alerts", "timeout": "2s", "backoff": "200ms"},
    {"name": "script", "type": "command", "timeout": "5s",
     "argv": ["/bin/sh", "-c", "env | grep '^SIGHTLINE_ALERT_' > \"$TMP/cmd-\$SIGHTLINE_ALERT_RULE-\$SIGHTLINE_ALERT_STATUS.env\""]}
  ],
  "rules": [
    {"name": "payment-errors", "expr": "error_rate(payment) > 30% over 1m for 1s",
     "severity": "critical", "labels": {"team": "payments"}, "notify": ["hook", "script"],
     "description": "{{service}} fails {{value}}% of payments (limit {{threshold}}%)"},
    {"name": "inventory-p99", "metric": "p99", "service": "inventory", "op": ">", "threshold": "300ms",
     "window": "1m", "for": "1s", "notify": ["hook"],
     "description": "{{service}} p99 is {{value}} ms"}
  ]
}
EOF

start_collector --rules "$RULES" --alert-interval 300ms
ok "collector started with two rules ($COL_HTTP)"
CLI+=(--server "$COL_HTTP")

# --- before: everything ok -------------------------------------------------------------
"${CLI[@]}" alerts >"$TMP/alerts0.txt" 2>&1
check "sightline alerts: exit 0, both rules listed ok" \
  bash -c "[[ $? -eq 0 ]] && grep -q '^ok .*payment-errors' '$TMP/alerts0.txt' && grep -q '^ok .*inventory-p99' '$TMP/alerts0.txt'"
"${CLI[@]}" check 'p99(inventory) > 300ms over 1m' >"$TMP/check0.txt" 2>&1
check "sightline check on a quiet service: exit 0" [ $? -eq 0 ]
"${CLI[@]}" check 'p99(inventory) >> 300ms' >/dev/null 2>"$TMP/check-bad.txt"
rc=$?
check "sightline check with a bad expression: exit 2 and says where" \
  bash -c "[[ $rc -eq 2 ]] && grep -q 'at 17: the threshold' '$TMP/check-bad.txt'"
"${CLI[@]}" check no-such-rule >/dev/null 2>&1
check "sightline check of an unknown rule: exit 2" [ $? -eq 2 ]

# --- the workload turns failing and slow ----------------------------------------------------
export SIGHTLINE_ENDPOINT=$COL_NNG
PAY_PORT=$(free_port)
spawn payment "$BIN/demo-payment" --listen "127.0.0.1:$PAY_PORT" --fail-rate 1
spawn checkout "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$PAY_PORT" --port-file "$TMP/checkout.port"
wait_file "$TMP/checkout.port" || bail "demo-checkout did not start: $(cat "$TMP/checkout.log")"
CO_PORT=$(cat "$TMP/checkout.port")
timeout 30 "$BIN/demo-frontend" --checkout "127.0.0.1:$CO_PORT" --requests 10 --rate 0 >"$TMP/fe1.out" 2>&1
check "demo: 10 requests with payment failing" [ $? -eq 0 ]
stop_pid "$PID_payment" # flushes its spans
node "$TMP/spans.js" "$COL_HTTP" inventory 20 500
check "20 slow (500 ms) inventory spans sent over OTLP" [ $? -eq 0 ]

firing() { curl -fsS "$COL_HTTP/api/v1/alerts" | jq -e --arg r "$1" '.alerts[] | select(.rule == $r and .state == "firing")' >/dev/null; }
check "payment-errors fires" wait_for 20 firing payment-errors
check "inventory-p99 fires" wait_for 20 firing inventory-p99
curl -fsS "$COL_HTTP/api/v1/alerts/history?limit=1000" >"$TMP/hist1.json"
check "history: pending before firing, for both rules" \
  jqc '[.history | reverse | .[] | select(.event == "pending" or .event == "firing") | "\(.rule):\(.event)"] as $e
       | ($e | index("payment-errors:pending")) < ($e | index("payment-errors:firing"))
       and ($e | index("inventory-p99:pending")) < ($e | index("inventory-p99:firing"))' "$TMP/hist1.json"
"${CLI[@]}" alerts >"$TMP/alerts1.txt"
check "sightline alerts shows both firing with rendered descriptions" \
  bash -c "grep -q '^firing .*payment-errors.*payment fails 100% of payments (limit 30%)' '$TMP/alerts1.txt' && grep -Eq '^firing .*inventory-p99.*inventory p99 is [0-9.]+ ms' '$TMP/alerts1.txt'"
"${CLI[@]}" check 'p99(inventory) > 300ms over 1m' >"$TMP/check1.txt"
check "sightline check expression now exits 1 (would fire)" [ $? -eq 1 ]
"${CLI[@]}" check inventory-p99 >/dev/null
check "sightline check RULE exits 1" [ $? -eq 1 ]

hook_has() { [[ -s $HOOK ]] && jq -e -s "$1" "$HOOK" >/dev/null; }
check "webhook: firing of payment-errors with the documented fields" wait_for 15 hook_has \
  '[.[] | select(.body.rule == "payment-errors" and .body.status == "firing")] | length == 1 and
   (.[0].method == "POST") and (.[0].url == "/alerts") and (.[0].ctype | startswith("application/json")) and
   (.[0].body | .version == 1 and .event == "firing" and .severity == "critical" and .labels.team == "payments"
    and .service == "payment" and .value == 100 and .threshold == 30 and .unit == "%"
    and .description == "payment fails 100% of payments (limit 30%)"
    and (.starts_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")) and (.id | length > 0))'
check "webhook: firing of inventory-p99 with a value above 300 ms" wait_for 15 hook_has \
  '[.[] | select(.body.rule == "inventory-p99" and .body.status == "firing" and .body.value > 300 and .body.unit == "ms")] | length == 1'
curl -fsS "$COL_HTTP/api/v1/alerts/history?rule=payment-errors&limit=1000" >"$TMP/hist2.json"
check "history: the receiver's 500 was retried (delivery_retry, then delivered on attempt 2)" \
  jqc '[.history[] | select(.event == "delivery_retry" and .notifier == "hook")] | length >= 1' "$TMP/hist2.json"
ENVF="$TMP/cmd-payment-errors-firing.env"
check "command notifier ran with the alert in its environment" wait_for 10 bash -c \
  "grep -q '^SIGHTLINE_ALERT_RULE=payment-errors$' '$ENVF' && grep -q '^SIGHTLINE_ALERT_SEVERITY=critical$' '$ENVF' && grep -q '^SIGHTLINE_ALERT_LABEL_TEAM=payments$' '$ENVF' && grep -q '^SIGHTLINE_ALERT_VALUE=100$' '$ENVF'"
curl -fsS "$COL_HTTP/api/v1/stats" >"$TMP/stats1.json"
check "stats: deliveries and the failed attempt are counted" \
  jqc '.alerts.notifications_delivered >= 3 and .alerts.delivery_failures >= 1 and .alerts.firing == 2' "$TMP/stats1.json"

# --- restart while firing: the state survives, nobody is notified twice -----------------------
since1=$(curl -fsS "$COL_HTTP/api/v1/alerts" | jq -r '.alerts[] | select(.rule == "payment-errors") | .active_since_ns')
stop_pid "$PID_checkout"
stop_pid "$PID_collector"
check "collector stopped cleanly" [ $? -eq 0 ]
cp "$TMP/collector.log" "$TMP/collector-1.log"
start_collector --rules "$RULES" --alert-interval 300ms
CLI=("$BIN/sightline" --no-color --server "$COL_HTTP")
sleep 1.5 # a few evaluation passes
curl -fsS "$COL_HTTP/api/v1/alerts" >"$TMP/alerts2.json"
check "after the restart both alerts are still firing, since the same time" \
  jqc --arg s "$since1" '([.alerts[] | select(.state == "firing")] | length == 2) and
     (.alerts[] | select(.rule == "payment-errors") | .active_since_ns == $s)' "$TMP/alerts2.json"
check "...and no second firing notification was sent" \
  hook_has '[.[] | select(.body.status == "firing")] | length == 2'

# --- rule changes over the API ------------------------------------------------------------------
code=$(curl -sS -o "$TMP/put-bad.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"metric":"p99","service":"checkout","op":">","threshold":"fast"}' "$COL_HTTP/api/v1/alerts/rules/checkout-p99")
check "PUT a bad rule: 400 naming the rule and the field" \
  bash -c "[[ $code == 400 ]] && jq -e '.error.message | contains(\"checkout-p99\") and contains(\"threshold\")' '$TMP/put-bad.json' >/dev/null"
check "...and the rules in force did not change" \
  bash -c "curl -fsS '$COL_HTTP/api/v1/alerts/rules' | jq -e '.document.rules | length == 2' >/dev/null"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -d '{}' "$COL_HTTP/api/v1/alerts/rules/x")
check "PUT without Content-Type: application/json: 415" [ "$code" = 415 ]
code=$(curl -sS -o "$TMP/put-ok.json" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  -d '{"expr":"p99(checkout) > 300ms over 5m","severity":"warning"}' "$COL_HTTP/api/v1/alerts/rules/checkout-p99")
check "PUT a good rule: 201, written to the rules file" \
  bash -c "[[ $code == 201 ]] && jq -e '.rules | map(.name) | index(\"checkout-p99\") != null' '$RULES' >/dev/null"
check "the new rule is listed by GET /api/v1/alerts" \
  bash -c "curl -fsS '$COL_HTTP/api/v1/alerts' | jq -e '[.alerts[].rule] | index(\"checkout-p99\") != null' >/dev/null"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"name":"checkout-p99","expr":"p50(checkout) > 1s"}' "$COL_HTTP/api/v1/alerts/rules")
check "POST an existing name: 409" [ "$code" = 409 ]
code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$COL_HTTP/api/v1/alerts/rules/checkout-p99")
check "DELETE the rule: 200, gone from the file" \
  bash -c "[[ $code == 200 ]] && jq -e '.rules | length == 2' '$RULES' >/dev/null"

# --- SIGHUP with a broken rules file keeps the rules in force ------------------------------------
cp "$RULES" "$TMP/rules.good"
jq '.rules[1].threshold = "slow"' "$TMP/rules.good" >"$RULES"
kill -HUP "$PID_collector"
check "SIGHUP with a bad rule: logged, naming the rule and the field" \
  wait_for 5 grep -q "alert rules not reloaded.*inventory-p99.*threshold" "$TMP/collector.log"
check "...and the alerts are still there and firing" \
  bash -c "curl -fsS '$COL_HTTP/api/v1/alerts' | jq -e '[.alerts[] | select(.state == \"firing\")] | length == 2' >/dev/null"
cp "$TMP/rules.good" "$RULES"
kill -HUP "$PID_collector"

# --- recovery: the resolve notifications arrive --------------------------------------------------
export SIGHTLINE_ENDPOINT=$COL_NNG
spawn payment2 "$BIN/demo-payment" --listen "127.0.0.1:$PAY_PORT" --fail-rate 0
spawn checkout2 "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$PAY_PORT" --port-file "$TMP/checkout2.port"
wait_file "$TMP/checkout2.port" || bail "demo-checkout did not restart: $(cat "$TMP/checkout2.log")"
timeout 30 "$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$TMP/checkout2.port")" --requests 40 --rate 0 >"$TMP/fe2.out" 2>&1
check "demo: 40 requests with payment healthy again" [ $? -eq 0 ]
stop_pid "$PID_payment2"
node "$TMP/spans.js" "$COL_HTTP" inventory 3000 5
check "3000 fast inventory spans sent" [ $? -eq 0 ]
check "webhook: payment-errors resolved, value below the threshold" wait_for 20 hook_has \
  '[.[] | select(.body.rule == "payment-errors" and .body.status == "resolved" and .body.event == "resolved"
     and .body.value < 27 and (.body.ends_at | length > 0))] | length == 1'
check "webhook: inventory-p99 resolved" wait_for 20 hook_has \
  '[.[] | select(.body.rule == "inventory-p99" and .body.status == "resolved" and .body.value < 300)] | length == 1'
check "command notifier ran for the resolve" wait_for 10 \
  grep -q '^SIGHTLINE_ALERT_STATUS=resolved$' "$TMP/cmd-payment-errors-resolved.env"
"${CLI[@]}" alerts --history --rule payment-errors >"$TMP/history.txt"
check "sightline alerts --history: exit 0, shows firing, delivered and resolved" \
  bash -c "[[ $? -eq 0 ]] && grep -q ' firing ' '$TMP/history.txt' && grep -q ' delivered ' '$TMP/history.txt' && grep -q ' resolved ' '$TMP/history.txt'"
"${CLI[@]}" check 'p99(inventory) > 300ms over 1m' >/dev/null
check "sightline check exits 0 again" [ $? -eq 0 ]
stop_pid "$PID_checkout2"
finish
