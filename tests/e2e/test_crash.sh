#!/usr/bin/env bash
# Crash safety: kill -9 the collector twice while three clients send, restart
# it on the same data directory each time, and check that every span whose
# batch was acknowledged is stored exactly once (the per-minute span counts
# are committed in the same RocksDB write as their frame, so their sum is the
# number of spans stored, duplicates included) and that the clients resumed
# by themselves.  Also: traces by id are whole, SIGTERM still stops cleanly.
source "$(dirname "$0")/lib.sh"

LOAD=$BIN/bench-load
[[ -x $LOAD ]] || bail "$LOAD missing: make $O/bin/bench-load"
CLIENTS=3
SPANS=${CRASH_SPANS:-120000}   # per client

# Sealing (rewriting settled frames into sealed blocks) runs all the time
# here, so the kills also land in the middle of sealing passes.
SEAL=(--seal-after 1s --seal-interval 200ms --seal-block-items 2048)
start_collector "${SEAL[@]}"
ok "collector started"
t_start=$(date +%s)

spawn load "$LOAD" --url "$COL_NNG" --clients $CLIENTS --spans "$SPANS" --spans-per-frame 256 \
  --timeout 50 --ack-file "$TMP/acks.txt"
hp=${COL_HTTP##*:}

base=0
for round in 1 2; do
  # Let some batches through (the clients resumed), then pull the plug mid-stream.
  for _ in $(seq 200); do
    [[ -s $TMP/acks.txt && $(wc -l <"$TMP/acks.txt") -ge $((base + 60)) ]] && break
    sleep 0.05
  done
  kill -KILL "$PID_collector" 2>/dev/null
  wait "$PID_collector" 2>/dev/null
  acked_at_kill=$(wc -l <"$TMP/acks.txt")
  ok "round $round: collector killed with -9 after $acked_at_kill acknowledged batches"
  sleep 0.3
  spawn collector "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" \
    --http "127.0.0.1:$hp" "${SEAL[@]}"
  wait_http "$COL_HTTP/healthz" 30 || bail "collector did not restart: $(cat "$TMP/collector.log")"
  ok "round $round: collector restarted on the same data directory"
  base=$(wc -l <"$TMP/acks.txt")
done

for _ in $(seq 600); do kill -0 "$PID_load" 2>/dev/null || break; sleep 0.1; done
wait "$PID_load"
rc=$?
cat "$TMP/load.log" | sed 's/^/# /'
check "every client got every batch acknowledged after the crashes (exit $rc)" [ "$rc" -eq 0 ]
sent=$(jq -r .spans_sent "$TMP/load.log" 2>/dev/null | tail -1)
acked=$(awk '{s += $3} END {print s + 0}' "$TMP/acks.txt")
reconn=$(jq -r .reconnects "$TMP/load.log" 2>/dev/null | tail -1)
check "acknowledged spans ($acked) = spans sent ($sent)" [ "${acked:-0}" -eq "${sent:--1}" ]
check "clients reconnected by themselves ($reconn reconnects)" [ "${reconn:-0}" -gt 0 ]
ids=$(awk '{print $2}' "$TMP/acks.txt" | sort | uniq -d | wc -l)
check "no batch acknowledged twice by one client" [ "$ids" -eq 0 ]

# Stored exactly once: the stored span count (RED aggregates, over the whole
# generated time range) equals the acknowledged spans.
since=$(( (t_start - 7200) * 1000000000 ))
stored=$(curl -fsS "$COL_HTTP/api/v1/services?since=$since&until=$(( ($(date +%s) + 60) * 1000000000 ))" |
  jq '[.services[].spans] | add // 0')
check "spans stored ($stored) = spans acknowledged ($acked): none lost, none twice" \
  [ "${stored:-0}" -eq "${acked:-1}" ]

# Traces are whole and have no duplicate spans: a sample through the API.
curl -fsS "$COL_HTTP/api/v1/traces?since=3h&limit=20" >"$TMP/list.json"
n=$(jq '.traces | length' "$TMP/list.json")
bad=0
for id in $(jq -r '.traces[].trace_id' "$TMP/list.json"); do
  curl -fsS "$COL_HTTP/api/v1/traces/$id" >"$TMP/t.json" || { bad=$((bad + 1)); continue; }
  jq -e '(.spans | map(.span_id) | unique | length) == (.spans | length) and (.spans | length) >= 5' \
    "$TMP/t.json" >/dev/null || bad=$((bad + 1))
done
check "$n sampled traces are whole (>= 5 spans) with no span twice" bash -c "[[ $n -ge 10 && $bad -eq 0 ]]"

sealed=$(curl -fsS "$COL_HTTP/api/v1/stats" | jq '.store.sealing.frames_sealed // 0')
check "sealing ran during the test ($sealed frames sealed since the last restart)" \
  [ "${sealed:-0}" -gt 0 ]

stop_pid "$PID_collector"
check "collector stops cleanly on SIGTERM after the crashes" [ $? -eq 0 ]
elapsed=$(( $(date +%s) - t_start ))
check "finished in ${elapsed}s (< 60)" [ "$elapsed" -lt 60 ]
finish
