#!/usr/bin/env bash
# A full disk (root only: each part mounts its own tmpfs).  < 90 s.
#  1. The reserve (--min-free-disk-mb 8, ballast 4 MiB): ingest fills the
#     disk down to the reserve and is answered RETRY "disk full"; RocksDB
#     never meets ENOSPC; with the disk taken below the reserve, frames are
#     refused; once space returns ingest resumes by itself; after a restart
#     every acknowledged trace reads back whole.
#  2. A real ENOSPC (reserve off): the sender fills the disk until RocksDB's
#     own write fails.  The collector does not abort: it answers RETRY and
#     queries; once space returns it stores again by itself; a restart with
#     ~1 MiB free opens the store (WAL replay into memory); every
#     acknowledged trace reads back whole.
# Sizes are chosen so that each step holds whatever RocksDB holds at that
# moment (WAL, memtables, tables being flushed): the fillers are large
# next to what the store can hold, so no check depends on flush timing.
source "$(dirname "$0")/lib.sh"
t_start=$SECONDS

if [[ $(id -u) -ne 0 ]]; then
  ok "disk full # SKIP not root (needs mount -t tmpfs)"
  finish
fi
SENDER=$(build_fault_sender) || bail "cannot build fault_sender: $(cat "$TMP/cc.log")"
MOUNTS=()
trap 'for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done; cleanup' EXIT

# small_fs DIR MB: mounts a tmpfs of MB megabytes on DIR.
small_fs() {
  mkdir -p "$1"
  mount -t tmpfs -o size="$2"m tmpfs "$1" 2>"$TMP/mount.log" || return 1
  MOUNTS+=("$1")
}
free_kb() { df -k --output=avail "$1" | tail -1 | tr -d ' '; }
# fill_to DIR FILE KB: a filler file that leaves about KB free on DIR, which
# must still be this test's tmpfs (never fill the machine's own disk, e.g.
# when the mount went away under a killed run).
fill_to() {
  local have
  mountpoint -q "$1" || bail "$1 is not mounted any more; not writing a filler there"
  have=$(free_kb "$1")
  ((have > $3)) && dd if=/dev/zero of="$1/$2" bs=1K count=$((have - $3)) 2>/dev/null
  return 0
}
disk() { curl -fsS --max-time 5 "$COL_HTTP/api/v1/stats" | jq -r ".store.disk.$1"; }
# trace_spans ID: spans the API returns for a trace; 0 if it is not there.
# A 503 (the store being reopened) is asked again, for up to 5 s.
trace_spans() {
  local code
  for _ in $(seq 50); do
    code=$(curl -sS --max-time 5 -o "$TMP/trace.json" -w '%{http_code}' "$COL_HTTP/api/v1/traces/$1" 2>/dev/null)
    [[ $code == 503 ]] || break
    sleep 0.1
  done
  if [[ $code == 200 ]]; then jq '.spans | length' "$TMP/trace.json" 2>/dev/null || echo 0; else echo 0; fi
}
# wait_value FIELD VALUE SECONDS: until the collector's store.disk.FIELD is VALUE.
wait_value() {
  for _ in $(seq $(($3 * 10))); do [[ $(disk "$1") == "$2" ]] && return 0; sleep 0.1; done
  return 1
}
# read_back FILE: "whole acked" for the STORED lines of FILE.
read_back() {
  local acked=0 whole=0
  for id in $(awk '$3 == "STORED" {print $5}' "$1"); do
    acked=$((acked + 1))
    [[ $(trace_spans "$id") -eq 3 ]] && whole=$((whole + 1))
  done
  echo "$whole $acked"
}
restart_collector() {
  stop_pid "$PID_collector" || return 1
  cp "$TMP/collector.log" "$TMP/collector-reserve.log"
  spawn collector "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" \
    --http "127.0.0.1:${COL_HTTP##*:}" "$@"
  wait_http "$COL_HTTP/healthz" 30
}

# ---- 1. the reserve -----------------------------------------------------------
A=$TMP/reserve
small_fs "$A" 64 || { ok "disk full # SKIP cannot mount a tmpfs: $(cat "$TMP/mount.log")"; finish; }
COL_DATA=$A/data
start_collector --write-buffer-mb 1 --memory-budget-mb 64 --min-free-disk-mb 8 --disk-ballast-mb 4
check "reserve 8 MiB and a 4 MiB ballast in place ($(disk state))" \
  bash -c "[[ $(disk reserve_bytes) -ge 8388608 && $(disk ballast_bytes) -eq 4194304 ]]"
fill_to "$A" filler1 20480
ok "collector on a 64 MB filesystem, $(($(free_kb "$A") / 1024)) MB free"
"$SENDER" "$COL_NNG" fill 300 2000 200 >"$TMP/fill.txt" 2>&1
rc=$?
nst=$(grep -c ' STORED ' "$TMP/fill.txt")
last=$(tail -1 "$TMP/fill.txt")
echo "# last answer: $last"
echo "# $(($(free_kb "$A") / 1024)) MB free after the fill"
check "the disk filled up to the reserve: $nst frames stored, then RETRY (exit $rc)" \
  bash -c "[[ $rc -eq 0 && $nst -gt 20 ]]"
check "the RETRY says why: disk full, below the reserve" grep -q 'RETRY .*disk full.*reserve' <<<"$last"
refused=$(awk '{print $5}' <<<"$last")
check "RocksDB never met ENOSPC (failures $(disk failures), state $(disk state))" \
  bash -c "[[ $(disk failures) -eq 0 ]] && ! grep -q 'No space left' '$TMP/collector.log'"
check "the ballast was given back to RocksDB" wait_value ballast_bytes 0 2
# Below the reserve for certain, whatever RocksDB flushed meanwhile.
fill_to "$A" filler2 6144
wait_value state low 5
"$SENDER" "$COL_NNG" one 3000 >"$TMP/one.txt" 2>&1
check "below the reserve: RETRY again, nothing stored" grep -q ' RETRY .*disk full' "$TMP/one.txt"

rm -f "$A/filler1" "$A/filler2"
echo "# $(($(free_kb "$A") / 1024)) MB free after removing the fillers"
check "space returned: the collector says so by itself" wait_value state ok 10
check "... and has made its ballast again" wait_value ballast_bytes 4194304 2
"$SENDER" "$COL_NNG" one 3001 >"$TMP/resume.txt" 2>&1
check "ingest resumes: the next frame is stored" grep -q ' STORED ' "$TMP/resume.txt"
grep ' STORED ' "$TMP/resume.txt" >>"$TMP/fill.txt"

restart_collector --write-buffer-mb 1 --memory-budget-mb 64 --min-free-disk-mb 8 --disk-ballast-mb 4
check "collector stopped cleanly and restarted on the same data" [ $? -eq 0 ]
read -r whole acked < <(read_back "$TMP/fill.txt")
check "every acknowledged trace reads back whole after the restart ($whole of $acked)" \
  bash -c "[[ $acked -gt 20 && $whole -eq $acked ]]"
check "the refused frame was not stored" [ "$(trace_spans "$refused")" -eq 0 ]
stop_pid "$PID_collector"

# ---- 2. a real ENOSPC, reserve off --------------------------------------------------
B=$TMP/enospc
small_fs "$B" 48 || bail "cannot mount a second tmpfs: $(cat "$TMP/mount.log")"
COL_DATA=$B/data
OPTS=(--write-buffer-mb 1 --memory-budget-mb 64 --min-free-disk-mb 0)
start_collector "${OPTS[@]}"
fill_to "$B" filler 12288
"$SENDER" "$COL_NNG" fill 300 5000 200 >"$TMP/fill2.txt" 2>&1
rc=$?
nst=$(grep -c ' STORED ' "$TMP/fill2.txt")
last=$(tail -1 "$TMP/fill2.txt")
echo "# last answer: $last"
check "the sender filled the disk: $nst frames stored, then RETRY (exit $rc)" \
  bash -c "[[ $rc -eq 0 && $nst -gt 5 ]]"
check "the RETRY says why: disk full" grep -q 'RETRY .*disk full' <<<"$last"
check "RocksDB met ENOSPC (failures: $(disk failures))" [ "$(disk failures)" -ge 1 ]
check "the collector is alive and answers" bash -c "kill -0 $PID_collector && curl -fsS -o /dev/null '$COL_HTTP/healthz'"
first=$(awk '$3 == "STORED" {print $5; exit}' "$TMP/fill2.txt")
# The store is closed and reopened read-only first (RocksDB's close waits
# out its 1 s pause after a failed flush); queries answer 503 meanwhile.
readable=0
for _ in $(seq 100); do
  [[ $(trace_spans "$first") -eq 3 ]] && { readable=1; break; }
  sleep 0.1
done
check "queries work on the full disk once it is read-only (a stored trace reads whole; $(disk state))" \
  [ "$readable" -eq 1 ]
"$SENDER" "$COL_NNG" one 5500 >"$TMP/still.txt" 2>&1
check "still full: RETRY, nothing stored" grep -q ' RETRY .*disk full' "$TMP/still.txt"

rm -f "$B/filler"
resumed=0
for i in $(seq 30); do
  if "$SENDER" "$COL_NNG" one $((6000 + i)) >>"$TMP/resume2.txt" 2>&1; then resumed=$i; break; fi
  sleep 0.5
done
check "space returned: ingest stores again by itself (after $resumed tries)" [ "$resumed" -gt 0 ]
check "... after one read-write reopen (reopens: $(disk reopens), state $(disk state))" \
  [ "$(disk reopens)" -ge 1 ]
"$SENDER" "$COL_NNG" fill 20 7000 50 >"$TMP/more.txt" 2>&1
check "and keeps storing: 20 more frames" [ "$(grep -c ' STORED ' "$TMP/more.txt")" -eq 20 ]
cat "$TMP/resume2.txt" "$TMP/more.txt" >>"$TMP/fill2.txt"
check "the collector never aborted" bash -c "! grep -qE 'Assertion|AddressSanitizer|core dumped' '$TMP/collector.log'"

# A restart on a nearly full disk: the WAL is replayed into memory.
stop_pid "$PID_collector"
check "collector stops cleanly after the episode" [ $? -eq 0 ]
cp "$TMP/collector.log" "$TMP/collector-enospc.log"
fill_to "$B" filler 1024
spawn collector "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" \
  --http "127.0.0.1:${COL_HTTP##*:}" "${OPTS[@]}"
check "the store opens with $(($(free_kb "$B") / 1024)) MB free" wait_http "$COL_HTTP/healthz" 30
read -r whole acked < <(read_back "$TMP/fill2.txt")
check "every acknowledged trace reads back whole ($whole of $acked)" \
  bash -c "[[ $acked -gt 25 && $whole -eq $acked ]]"
rm -f "$B/filler"
elapsed=$((SECONDS - t_start))
check "finished in ${elapsed}s (< 120)" [ "$elapsed" -lt 120 ]
finish
