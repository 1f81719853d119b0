# tests/e2e/lib.sh - helpers for end-to-end tests: temp dirs, free loopback
# ports, starting and always stopping real processes, TAP output.
# Source it; it sets up a trap that kills every process started with `spawn`.
set -uo pipefail
SL_ROOT=${SL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
O=${O:-build}
case $O in /*) BIN=$O/bin ;; *) BIN=$SL_ROOT/$O/bin ;; esac
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sl-e2e.XXXXXX")
PIDS=()
NCHECK=0
NFAIL=0

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [[ ${KEEP_TMP:-0} == 1 || $NFAIL -gt 0 ]]; then
    echo "# logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

ok() { NCHECK=$((NCHECK + 1)); echo "ok $NCHECK - $*"; }
not_ok() { NCHECK=$((NCHECK + 1)); NFAIL=$((NFAIL + 1)); echo "not ok $NCHECK - $*"; }
# check DESCRIPTION CMD...: ok when CMD succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# bail MESSAGE: a fatal failure; stops the script.
bail() { not_ok "$*"; exit 1; }
finish() { echo "1..$NCHECK"; ((NFAIL == 0)); exit $?; }

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on, taken
# below the kernel's ephemeral range (ip_local_port_range, 32768+ here), so
# a port-0 bind or an outgoing connection cannot take it between the check
# and the moment the test binds it.
free_port() {
  local p lo=10000 hi=32000
  if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph _ </proc/sys/net/ipv4/ip_local_port_range
    ((eph > 11000 && eph - 1 < hi)) && hi=$((eph - 1))
  fi
  for _ in $(seq 200); do
    p=$((lo + RANDOM % (hi - lo)))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

# spawn NAME CMD...: starts CMD in the background, output to $TMP/NAME.log.
spawn() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}

# wait_http URL [SECONDS]: waits until URL answers 200.
wait_http() {
  local url=$1 limit=${2:-20}
  for _ in $(seq $((limit * 10))); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# wait_file FILE [SECONDS]: waits until FILE exists and is not empty.
wait_file() {
  local f=$1 limit=${2:-20}
  for _ in $(seq $((limit * 10))); do
    [[ -s $f ]] && return 0
    sleep 0.1
  done
  return 1
}

# start_collector: starts a collector on a fresh data dir and free ports;
# sets COL_NNG (nng URL), COL_HTTP (http://host:port), COL_DATA.
start_collector() {
  COL_DATA=${COL_DATA:-$TMP/data}
  local np hp
  np=$(free_port) && hp=$(free_port) || bail "no free port"
  while [[ $hp == "$np" ]]; do hp=$(free_port) || bail "no free port"; done
  COL_NNG=tcp://127.0.0.1:$np
  COL_HTTP=http://127.0.0.1:$hp
  spawn collector "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" \
    --http "127.0.0.1:$hp" "$@"
  wait_http "$COL_HTTP/healthz" 30 || { cat "$TMP/collector.log"; bail "collector did not start"; }
}

# stop_pid PID: SIGTERM, wait up to 10 s.
stop_pid() {
  local p=$1
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

# build_fault_sender: builds tests/e2e/fault_sender.c against this flavour's
# shared code; prints its path (compiler output in $TMP/cc.log).
build_fault_sender() {
  local san=()
  [[ $O == *asan* ]] && san=(-fsanitize=address,undefined)
  cc -std=c11 -D_GNU_SOURCE -O1 "${san[@]}" -I"$SL_ROOT/sdk/include" -I"$SL_ROOT" \
    -o "$TMP/fault_sender" "$SL_ROOT/tests/e2e/fault_sender.c" "$SL_ROOT/$O/lib/libslcommon.a" \
    -lnng -lz -lm 2>"$TMP/cc.log" && echo "$TMP/fault_sender"
}
