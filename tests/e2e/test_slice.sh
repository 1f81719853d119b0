#!/usr/bin/env bash
# End to end: a real collector, the three demo services (frontend ->
# checkout -> payment) passing traceparent, and the CLI reading the request
# trees back.  All run on one host, so no clock-skew shift may appear; a
# server span may end a little after its client span (it ends after writing
# the reply), never start before it.  Checks the stored tree of every request: span count, parent
# links, names, services, durations within bounds, stored exactly once.
source "$(dirname "$0")/lib.sh"

NREQ=${NREQ:-12}
start_collector
ok "collector started ($COL_NNG, $COL_HTTP)"

export SIGHTLINE_ENDPOINT=$COL_NNG
spawn payment "$BIN/demo-payment" --listen 127.0.0.1:0 --port-file "$TMP/payment.port"
wait_file "$TMP/payment.port" || bail "demo-payment did not start: $(cat "$TMP/payment.log")"
spawn checkout "$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$(cat "$TMP/payment.port")" \
  --port-file "$TMP/checkout.port"
wait_file "$TMP/checkout.port" || bail "demo-checkout did not start: $(cat "$TMP/checkout.log")"

timeout 60 "$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$TMP/checkout.port")" --requests "$NREQ" \
  >"$TMP/frontend.out" 2>"$TMP/frontend.log"
check "demo-frontend ran $NREQ requests and exited 0" [ $? -eq 0 ]
mapfile -t ids < <(awk '$1 == "trace" {print $2}' "$TMP/frontend.out")
check "frontend printed $NREQ trace ids" [ "${#ids[@]}" -eq "$NREQ" ]

# The servers flush their SDK on SIGTERM; stop them so every span is sent.
stop_pid "$PID_checkout"
check "demo-checkout stopped cleanly on SIGTERM" [ $? -eq 0 ]
stop_pid "$PID_payment"
check "demo-payment stopped cleanly on SIGTERM" [ $? -eq 0 ]

CLI=("$BIN/sightline" --server "$COL_HTTP")

# Each trace: fetch it (waiting briefly for the last frames) and check it.
counts=()
bad=0
for id in "${ids[@]}"; do
  json=$TMP/trace-$id.json
  for _ in $(seq 50); do
    "${CLI[@]}" --json trace "$id" >"$json" 2>/dev/null &&
      [[ $(jq '[.spans[].service] | unique | length' "$json") -ge 3 ]] && break
    sleep 0.1
  done
  n=$(jq '.spans | length' "$json" 2>/dev/null || echo 0)
  counts+=("$n")
  errs=$(jq -r --arg id "$id" '
    def fail(m): m;
    [ (if .trace_id != $id then fail("trace_id") else empty end),
      (if (.spans | map(.span_id) | unique | length) != (.spans | length) then fail("a span is stored twice") else empty end),
      (if ([.spans[] | select(.parent_id == "")] | length) != 1 then fail("not exactly one root") else empty end),
      (if .spans[0].service != "frontend" or .spans[0].depth != 0 then fail("root is not the frontend span") else empty end),
      (if ([.spans[].service] | unique) != ["checkout","frontend","payment"] then fail("services are not frontend, checkout, payment") else empty end),
      (. as $t | ($t.spans | map({key: .span_id, value: .}) | from_entries) as $by
        | $t.spans[] | select(.parent_id != "")
        | if $by[.parent_id] == null then fail("span \(.name) has an unknown parent")
          elif .missing_parent then fail("span \(.name) marked missing parent")
          elif .depth != $by[.parent_id].depth + 1 then fail("span \(.name) depth")
          elif .start_us < $by[.parent_id].start_us
            then fail("span \(.name) starts before its parent on one host")
          elif (.start_us + .duration_ns / 1000) > ($by[.parent_id].start_us + $by[.parent_id].duration_ns / 1000 + 5000)
            then fail("span \(.name) ends over 5 ms after its parent on one host")
          else empty end),
      (.spans[] | select(.duration_ns <= 0 or .duration_ns > 10000000000) | fail("span \(.name) duration \(.duration_ns) out of bounds")),
      (.spans[] | select(.name == "" or .skew_ns != 0) | fail("span \(.name // "?") empty name or skew on one host")),
      (if ([.spans[] | select(.critical)] | length) < 1 then fail("no critical path") else empty end),
      (if .summary.span_count != (.spans | length) then fail("summary span_count") else empty end),
      (if .summary.root_service != "frontend" then fail("summary root_service") else empty end),
      (if ([.spans[] | select(.kind == "server")] | length) < 3 then fail("fewer than 3 server spans") else empty end)
    ] | .[]' "$json" 2>&1)
  if [[ -n $errs ]]; then
    bad=$((bad + 1))
    echo "# trace $id: $errs" | head -5
  fi
done
check "every trace's tree is right (parents, depths, services, durations, exactly once)" [ "$bad" -eq 0 ]
uniq_counts=$(printf '%s\n' "${counts[@]}" | sort -u | tr '\n' ' ')
check "every trace has the same span count (>= 6): $uniq_counts" \
  bash -c "[[ \$(printf '%s\n' ${counts[*]} | sort -u | wc -l) -eq 1 && ${counts[0]:-0} -ge 6 ]]"

# Logs travel with the trace.
first=${ids[0]}
check "the trace carries the services' logs with span ids" \
  bash -c "jq -e '(.logs | length) >= 3 and ([.logs[] | select(.span_id == \"\")] | length) == 0' '$TMP/trace-$first.json' >/dev/null"

# The human view: an indented tree with the three services.
"${CLI[@]}" --no-color trace "$first" >"$TMP/tree.txt" 2>&1
rc=$?
check "sightline trace prints a tree (exit 0)" [ $rc -eq 0 ]
check "the tree names the three services" \
  bash -c "grep -q frontend '$TMP/tree.txt' && grep -q checkout '$TMP/tree.txt' && grep -q payment '$TMP/tree.txt'"
check "the tree is indented by depth" grep -qE '^ +.*payment' "$TMP/tree.txt"

# The trace list finds the requests.
"${CLI[@]}" --json traces --service frontend --limit 100 >"$TMP/list.json"
check "sightline traces lists every request" \
  bash -c "[[ \$(jq '[.traces[].trace_id] | length' '$TMP/list.json') -ge $NREQ ]]"
"${CLI[@]}" --json services >"$TMP/services.json"
check "sightline services lists the three services" \
  bash -c "jq -e '[.services[].name] | contains([\"frontend\",\"checkout\",\"payment\"])' '$TMP/services.json' >/dev/null"

# Exit codes scripts rely on.
"${CLI[@]}" trace 0123456789abcdef0123456789abcdef >/dev/null 2>&1
check "unknown trace id: exit 1" [ $? -eq 1 ]
"${CLI[@]}" trace not-a-trace-id >/dev/null 2>&1
check "malformed trace id: exit 2" [ $? -eq 2 ]
"$BIN/sightline" --server http://127.0.0.1:1 trace "$first" >/dev/null 2>"$TMP/conn.err"
rc=$?
check "collector unreachable: exit 2 ($rc) with advice" bash -c "[[ $rc -eq 2 ]] && grep -qi 'collector' '$TMP/conn.err'"

# Restart on the same data: everything is still there.
stop_pid "$PID_collector"
check "collector stops cleanly on SIGTERM" [ $? -eq 0 ]
hp=${COL_HTTP##*:}
spawn collector2 "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" --http "127.0.0.1:$hp"
wait_http "$COL_HTTP/healthz" 30 || bail "collector did not restart: $(cat "$TMP/collector2.log")"
"${CLI[@]}" --json trace "$first" >"$TMP/after.json"
before_ids=$(jq -c '.spans | map(.span_id) | sort' "$TMP/trace-$first.json")
after_ids=$(jq -c '.spans | map(.span_id) | sort' "$TMP/after.json")
check "after a restart the trace is unchanged" [ -n "$after_ids" -a "$before_ids" = "$after_ids" ]

finish
