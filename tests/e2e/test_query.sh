#!/usr/bin/env bash
# End to end: every query subcommand of `sightline` against a real collector
# holding real data (the three demo services passing traceparent, plus the
# realistic load of bench-load), checking output and exit codes:
# 0 results, 1 no results, 2 usage or connection errors.
source "$(dirname "$0")/lib.sh"

LOAD=$BIN/bench-load
[[ -x $LOAD ]] || bail "$LOAD missing: make $O/bin/bench-load"
NREQ=${NREQ:-8}
start_collector
ok "collector started ($COL_NNG, $COL_HTTP)"
CLI=("$BIN/sightline" --server "$COL_HTTP" --no-color)
jqc() { jq -e "$@" >/dev/null; }

# --- data: demo requests (frontend -> checkout -> payment), then bench load ----
export SIGHTLINE_ENDPOINT=$COL_NNG
spawn payment "$BIN/demo-payment" --listen 127.0.0.1:0 --port-file "$TMP/payment.port"
wait_file "$TMP/payment.port" || bail "demo-payment did not start: $(cat "$TMP/payment.log")"
spawn checkout "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$(cat "$TMP/payment.port")" \
  --port-file "$TMP/checkout.port"
wait_file "$TMP/checkout.port" || bail "demo-checkout did not start: $(cat "$TMP/checkout.log")"
timeout 60 "$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$TMP/checkout.port")" --requests "$NREQ" \
  >"$TMP/frontend.out" 2>"$TMP/frontend.log"
check "demo-frontend ran $NREQ requests" [ $? -eq 0 ]
mapfile -t ids < <(awk '$1 == "trace" {print $2}' "$TMP/frontend.out")
stop_pid "$PID_checkout"
stop_pid "$PID_payment"
timeout 60 "$LOAD" --url "$COL_NNG" --clients 1 --spans 20000 --seed 7 --timeout 50 >"$TMP/load1.json" 2>&1
check "bench-load stored 20000 spans" jqc '.complete == true' "$TMP/load1.json"
# the demo's last frames may still be in flight: wait for the first trace's three services
for _ in $(seq 50); do
  "${CLI[@]}" --json trace "${ids[0]}" 2>/dev/null | jq -e '[.spans[].service] | unique | length >= 3' >/dev/null && break
  sleep 0.1
done

# --- every subcommand has --help (exit 0) ------------------------------------------
for cmd in services traces trace latency errors top deps logs; do
  "${CLI[@]}" "$cmd" --help >"$TMP/help.txt" 2>&1
  rc=$?
  check "$cmd --help exits 0 and shows usage" bash -c "[[ $rc -eq 0 ]] && grep -q 'Usage: sightline $cmd' '$TMP/help.txt'"
done

# --- services ---------------------------------------------------------------------------
"${CLI[@]}" services --since 3h >"$TMP/services.txt" 2>&1
check "services: exit 0" [ $? -eq 0 ]
check "services: table with rates and the demo services" \
  bash -c "grep -q 'REQ/S' '$TMP/services.txt' && grep -q '^frontend ' '$TMP/services.txt' && grep -q '^payment ' '$TMP/services.txt'"
"${CLI[@]}" --json services --since 3h >"$TMP/services.json"
check "services --json: .services[] and .red.series with p99" \
  jqc '([.services[].name] | contains(["frontend","checkout","payment"])) and (.red.series | length > 0) and (.red.series[0].p99_ns | length == 1)' "$TMP/services.json"
"${CLI[@]}" services --until yesterday >/dev/null 2>"$TMP/err.txt"
check "services --until yesterday: exit 2 with the accepted forms" \
  bash -c "[[ $? -eq 2 ]] && grep -q 'RFC 3339' '$TMP/err.txt'"

# --- traces (search) ----------------------------------------------------------------------
"${CLI[@]}" traces --service frontend --since 3h --limit 100 >"$TMP/traces.txt" 2>&1
check "traces --service frontend: exit 0" [ $? -eq 0 ]
op=$("${CLI[@]}" --json trace "${ids[0]}" | jq -r .summary.root_name)
"${CLI[@]}" --json traces --service frontend --operation "$op" --since 3h --limit 100 >"$TMP/traces.json"
check "traces --service frontend --operation '$op': the demo's $NREQ requests, with summaries" \
  jqc --argjson n "$NREQ" '.count >= $n and ([.traces[] | select(.span_count >= 6 and (.services | length) == 3)] | length) >= $n' "$TMP/traces.json"
"${CLI[@]}" --json traces --since 3h --errors --attr http.response.status_code=503 --limit 50 >"$TMP/err.json"
check "traces --errors --attr code=503: only error spans with that code" \
  jqc '.count > 0 and ([.traces[] | select(.error != true)] | length) == 0' "$TMP/err.json"
"${CLI[@]}" --json traces --since 3h --attr http.response.status_code=503 --attr cloud.region=eu-west-1 --limit 20 \
  >"$TMP/attr2.json"
first_tid=$(jq -r '.traces[0].trace_id // empty' "$TMP/attr2.json")
check "traces with two --attr filters finds traces" [ -n "$first_tid" ]
if [[ -n $first_tid ]]; then
  "${CLI[@]}" --json trace "$first_tid" >"$TMP/attr2-trace.json"
  check "...and the matching trace has a span with both attributes" \
    jqc '[.spans[] | select(.attributes["http.response.status_code"] == 503 and .attributes["cloud.region"] == "eu-west-1")] | length > 0' \
    "$TMP/attr2-trace.json"
fi
# repeated attr= over plain HTTP: http.c hands the handler every value, and
# the filters AND (a second filter no span matches empties the answer)
q="$COL_HTTP/api/v1/traces?since=3h&limit=20&summary=false&attr=http.response.status_code%3D503"
curl -fsS "$q&attr=cloud.region%3Deu-west-1" >"$TMP/attr-rep.json"
curl -fsS "$q&attr=cloud.region%3Dnowhere" >"$TMP/attr-none.json"
check "repeated attr= over HTTP: both filters apply (ANDed)" \
  bash -c "jq -e '.count > 0' '$TMP/attr-rep.json' >/dev/null && jq -e '.count == 0' '$TMP/attr-none.json' >/dev/null"
"${CLI[@]}" --json traces --since 3h --order slowest --min-duration 20ms --max-duration 150ms --limit 30 >"$TMP/slow.json"
check "traces --order slowest: durations non-increasing and within bounds" \
  jqc '.count > 0 and ([.traces[].duration_ns] | . == (sort | reverse)) and all(.traces[]; .duration_ns >= 20000000 and .duration_ns <= 150000000)' \
  "$TMP/slow.json"
"${CLI[@]}" traces --since 3h --min-duration 1h >/dev/null 2>&1
check "traces with no match: exit 1" [ $? -eq 1 ]
"${CLI[@]}" traces --min-duration fast >/dev/null 2>&1
check "traces --min-duration fast: exit 2" [ $? -eq 2 ]
"${CLI[@]}" traces --bogus >/dev/null 2>&1
check "traces --bogus: exit 2" [ $? -eq 2 ]

# --- trace ID -----------------------------------------------------------------------------
"${CLI[@]}" trace "${ids[0]}" >"$TMP/tree.txt" 2>&1
check "trace ID: exit 0, a tree with the three services" \
  bash -c "[[ $? -eq 0 ]] && grep -q frontend '$TMP/tree.txt' && grep -q payment '$TMP/tree.txt'"
"${CLI[@]}" trace 0123456789abcdef0123456789abcdef >/dev/null 2>&1
check "trace unknown id: exit 1" [ $? -eq 1 ]

# --- latency ------------------------------------------------------------------------------
"${CLI[@]}" latency --service frontend --since 3h --step 1m >"$TMP/lat.txt" 2>&1
check "latency --service frontend: exit 0 with percentiles" \
  bash -c "[[ $? -eq 0 ]] && grep -q 'P99' '$TMP/lat.txt' && grep -q '^frontend' '$TMP/lat.txt'"
"${CLI[@]}" --json latency --service checkout --by operation --since 3h --step 5m >"$TMP/lat.json"
check "latency --json: per-operation series, counts add up to the total" \
  jqc '(.series | length) > 0 and all(.series[]; (.count | add) == .total.count and has("operation"))' "$TMP/lat.json"
"${CLI[@]}" latency --since 10d --until 9d >/dev/null 2>&1
check "latency over an empty range: exit 1" [ $? -eq 1 ]
"${CLI[@]}" latency --step often >/dev/null 2>&1
check "latency --step often: exit 2" [ $? -eq 2 ]

# --- errors -------------------------------------------------------------------------------
"${CLI[@]}" errors --since 3h --limit 5 >"$TMP/errors.txt" 2>&1
check "errors: exit 0, failing operations and traces" \
  bash -c "[[ $? -eq 0 ]] && grep -q 'Failing operations' '$TMP/errors.txt' && grep -q 'Recent failing traces' '$TMP/errors.txt'"
"${CLI[@]}" --json errors --since 3h >"$TMP/errors.json"
check "errors --json: every operation listed has errors" \
  jqc '(.operations.operations | length) > 0 and all(.operations.operations[]; .errors > 0)' "$TMP/errors.json"
"${CLI[@]}" errors --since 10d --until 9d >/dev/null 2>&1
check "errors over an empty range: exit 1" [ $? -eq 1 ]

# --- top ----------------------------------------------------------------------------------
"${CLI[@]}" --json top --since 3h --limit 5 >"$TMP/top.json"
check "top --json: 5 operations, p99 non-increasing" \
  jqc '(.operations | length) == 5 and ([.operations[].p99_ns] | . == (sort | reverse))' "$TMP/top.json"
"${CLI[@]}" top --by errors --since 3h >"$TMP/top.txt" 2>&1
check "top --by errors: exit 0" [ $? -eq 0 ]
"${CLI[@]}" top --by size >/dev/null 2>&1
check "top --by size: exit 2" [ $? -eq 2 ]

# --- deps ---------------------------------------------------------------------------------
"${CLI[@]}" deps --since 3h >"$TMP/deps.txt" 2>&1
check "deps: exit 0 and the demo's frontend -> checkout edge" \
  bash -c "[[ $? -eq 0 ]] && grep -Eq '^frontend +-> checkout ' '$TMP/deps.txt'"
"${CLI[@]}" --json deps --since 3h >"$TMP/deps.json"
check "deps --json: checkout -> payment has $NREQ+ calls" \
  jqc --argjson n "$NREQ" '[.edges[] | select(.caller == "checkout" and .callee == "payment" and .calls >= $n)] | length == 1' \
  "$TMP/deps.json"
"${CLI[@]}" deps --since 10d --until 9d >/dev/null 2>&1
check "deps over an empty range: exit 1" [ $? -eq 1 ]

# --- logs ---------------------------------------------------------------------------------
"${CLI[@]}" logs --since 3h --limit 5 >"$TMP/logs.txt" 2>"$TMP/logs.err"
check "logs --limit 5: exit 0, 5 lines, a cursor for more" \
  bash -c "[[ $? -eq 0 && \$(wc -l <'$TMP/logs.txt') -eq 5 ]] && grep -q -- '--cursor' '$TMP/logs.err'"
"${CLI[@]}" --json logs --since 3h --limit 3 >"$TMP/p1.json"
cur=$(jq -r .next_cursor "$TMP/p1.json")
"${CLI[@]}" --json logs --since 3h --limit 3 --cursor "$cur" >"$TMP/p2.json"
check "logs paging: page 2 is older than page 1, nothing repeated" \
  bash -c "jq -s -e '(.[0].logs[-1].time_ns | tonumber) >= (.[1].logs[0].time_ns | tonumber) and ([.[].logs[] | .time_ns + .body] | unique | length) == 6' '$TMP/p1.json' '$TMP/p2.json' >/dev/null"
"${CLI[@]}" logs --trace "${ids[0]}" >"$TMP/tlogs.txt" 2>&1
check "logs --trace ID: exit 0, every line links the trace" \
  bash -c "[[ $? -eq 0 && -s '$TMP/tlogs.txt' ]] && ! grep -v 'trace=${ids[0]}' '$TMP/tlogs.txt'"
"${CLI[@]}" --json logs --since 3h --level error --limit 50 >"$TMP/elogs.json"
check "logs --level error: only error and fatal records" \
  jqc '.count > 0 and all(.logs[]; .severity >= 17)' "$TMP/elogs.json"
"${CLI[@]}" logs --since 3h --grep 'no such text anywhere' >/dev/null 2>&1
check "logs with no match: exit 1" [ $? -eq 1 ]
"${CLI[@]}" logs --level loud >/dev/null 2>&1
check "logs --level loud: exit 2" [ $? -eq 2 ]

# --follow: prints the newest 20, then records that arrive while it runs (new
# demo requests: their logs carry the current time).
"${CLI[@]}" logs --follow --interval 200ms --since 3h >"$TMP/follow.txt" 2>"$TMP/follow.err" &
fpid=$!
sleep 1
before=$(wc -l <"$TMP/follow.txt")
spawn payment2 "$BIN/demo-payment" --listen 127.0.0.1:0 --port-file "$TMP/payment2.port"
wait_file "$TMP/payment2.port" || bail "demo-payment did not start again"
spawn checkout2 "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$(cat "$TMP/payment2.port")" \
  --port-file "$TMP/checkout2.port"
wait_file "$TMP/checkout2.port" || bail "demo-checkout did not start again"
timeout 60 "$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$TMP/checkout2.port")" --requests 3 \
  >"$TMP/frontend2.out" 2>"$TMP/frontend2.log"
stop_pid "$PID_checkout2"
stop_pid "$PID_payment2"
new_id=$(awk '$1 == "trace" {print $2; exit}' "$TMP/frontend2.out")
for _ in $(seq 30); do grep -q "trace=$new_id" "$TMP/follow.txt" && break; sleep 0.2; done
kill -TERM "$fpid"
wait "$fpid"
frc=$?
after=$(wc -l <"$TMP/follow.txt")
check "logs --follow: 20 records at start ($before), then the new requests' logs ($after lines), exit 0 on SIGTERM ($frc)" \
  bash -c "[[ $before -eq 20 && $after -gt 20 && $frc -eq 0 ]] && grep -q 'trace=$new_id' '$TMP/follow.txt'"
check "logs --follow prints no record twice" \
  bash -c "[[ \$(sort '$TMP/follow.txt' | uniq -d | wc -l) -eq 0 ]]"

# --- connection errors: exit 2 with advice, for every subcommand ------------------------------
for cmd in services traces latency errors top deps logs; do
  "$BIN/sightline" --server http://127.0.0.1:1 "$cmd" >/dev/null 2>"$TMP/conn.err"
  rc=$?
  check "$cmd with the collector unreachable: exit 2 with advice" \
    bash -c "[[ $rc -eq 2 ]] && grep -q 'is it running' '$TMP/conn.err'"
done

finish
