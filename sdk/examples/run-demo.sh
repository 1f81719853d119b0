#!/usr/bin/env bash
# `make run`: the collector with its dashboard, and a demo workload of three
# instrumented services (frontend -> checkout -> payment) sending to it.
#
# Settings (environment): SIGHTLINE_DATA (default ./data), SIGHTLINE_HTTP
# (default 127.0.0.1:4380), SIGHTLINE_LISTEN (default tcp://127.0.0.1:4318),
# DEMO_RATE requests per second (default 20).  Ctrl-C stops everything.
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
BIN=$PWD/$O/bin
DATA=${SIGHTLINE_DATA:-$PWD/data}
HTTP=${SIGHTLINE_HTTP:-127.0.0.1:4380}
LISTEN=${SIGHTLINE_LISTEN:-tcp://127.0.0.1:4318}
RATE=${DEMO_RATE:-20}
LOGS=$DATA/logs
mkdir -p "$DATA" "$LOGS"

pids=()
stopping=0
stop() {
  stopping=1
  trap - INT TERM EXIT
  echo
  echo "stopping demo services and collector..."
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  wait 2>/dev/null
  echo "stopped. Data stays in $DATA (delete it to start afresh)."
}
trap stop INT TERM EXIT

if (exec 3<>"/dev/tcp/${HTTP%:*}/${HTTP##*:}") 2>/dev/null; then
  echo "error: something already listens on $HTTP (another 'make run'?)." >&2
  echo "       stop it, or pick another address: SIGHTLINE_HTTP=127.0.0.1:8081 make run" >&2
  trap - INT TERM EXIT
  exit 2
fi

"$BIN/sightline-collector" --data "$DATA/store" --listen "$LISTEN" --http "$HTTP" \
  --ui "$PWD/ui-static" 2>"$LOGS/collector.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS -o /dev/null --max-time 1 "http://$HTTP/healthz" 2>/dev/null && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "error: the collector exited; its log:" >&2
    cat "$LOGS/collector.log" >&2
    exit 1
  fi
  sleep 0.1
done

export SIGHTLINE_ENDPOINT=$LISTEN
rm -f "$DATA/payment.port" "$DATA/checkout.port"
"$BIN/demo-payment" --listen 127.0.0.1:0 --port-file "$DATA/payment.port" 2>"$LOGS/payment.log" >/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $DATA/payment.port ]] && break; sleep 0.1; done
"$BIN/demo-checkout" --listen 127.0.0.1:0 --payment "127.0.0.1:$(cat "$DATA/payment.port")" \
  --port-file "$DATA/checkout.port" 2>"$LOGS/checkout.log" >/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $DATA/checkout.port ]] && break; sleep 0.1; done
"$BIN/demo-frontend" --checkout "127.0.0.1:$(cat "$DATA/checkout.port")" --requests 0 --rate "$RATE" \
  >"$LOGS/frontend.out" 2>"$LOGS/frontend.log" &
pids+=($!)

cat <<MSG

  Sightline is running.
    dashboard + JSON API  http://$HTTP/
    ingest (nng)          $LISTEN   (SDK: SIGHTLINE_ENDPOINT=$LISTEN)
    data directory        $DATA/store
    logs                  $LOGS/
    demo workload         frontend -> checkout -> payment, $RATE requests/s

  Try, in another terminal:
    $O/bin/sightline --server http://$HTTP traces --limit 5
    $O/bin/sightline --server http://$HTTP trace \$(tail -1 $LOGS/frontend.out | cut -d' ' -f2)

  Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
if ((stopping == 0)); then
  echo "a process exited unexpectedly; see the logs in $LOGS/" >&2
  exit 1
fi
