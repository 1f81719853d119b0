#!/usr/bin/env bash
# Fault tests (bounded, < 60 s):
#  1. corrupted, truncated, header-damaged and garbage frames among valid
#     ones: only the bad ones are rejected, every valid one is stored whole;
#  2. clients that connect and send nothing, or send garbage bytes, over
#     tcp: other clients are not affected (bench-load finishes, in time);
#  3. disk full (root only: a 20 MB tmpfs): ingest answers RETRY with a
#     clear reason, nothing acknowledged is lost, ingest resumes by itself
#     when space returns, and after a restart every acknowledged span reads.
# ipc:// is not tested for (2): nng 1.5.2's ipc transport wedges after a
# client dial-then-close during its handshake (docs/security.md).
source "$(dirname "$0")/lib.sh"
t_start=$SECONDS

SENDER=$TMP/fault_sender
SAN=()
[[ $O == *asan* ]] && SAN=(-fsanitize=address,undefined)
cc -std=c11 -D_GNU_SOURCE -O1 "${SAN[@]}" -I"$SL_ROOT/sdk/include" -I"$SL_ROOT/common" \
  -o "$SENDER" "$SL_ROOT/tests/e2e/fault_sender.c" "$SL_ROOT/$O/lib/libslcommon.a" \
  -lnng -lz -lm 2>"$TMP/cc.log" || bail "cannot build fault_sender: $(cat "$TMP/cc.log")"
LOAD=$BIN/bench-load
[[ -x $LOAD ]] || bail "$LOAD missing: make $O/bin/bench-load"

# trace_spans ID: number of spans the API returns for a trace (0 if none).
trace_spans() {
  curl -fsS --max-time 5 "$COL_HTTP/api/v1/traces/$1" 2>/dev/null | jq '.spans | length' 2>/dev/null ||
    echo 0
}

# ---- 1. bad frames among valid ones --------------------------------------------
start_collector
"$SENDER" "$COL_NNG" mixed 60 1000 >"$TMP/mixed.txt" 2>&1
rc=$?
nvalid=$(grep -c ' valid STORED ' "$TMP/mixed.txt")
nbad=$(grep -cE ' (corrupt|truncated|header|garbage) REJECTED ' "$TMP/mixed.txt")
check "60 frames: $nvalid valid stored, $nbad bad rejected, nothing else (exit $rc)" \
  bash -c "[[ $rc -eq 0 && $nvalid -eq 20 && $nbad -eq 40 ]]"
grep -v ' valid ' "$TMP/mixed.txt" | awk '{print "# " $2 ": " substr($0, index($0, $6))}' | sort -u | head -8
whole=0
for id in $(awk '$2 == "valid" {print $5}' "$TMP/mixed.txt"); do
  [[ $(trace_spans "$id") -eq 3 ]] && whole=$((whole + 1))
done
check "every valid frame's trace is stored whole ($whole of $nvalid)" [ "$whole" -eq "$nvalid" ]

# ---- 2. idle and garbage tcp clients ---------------------------------------------
port=${COL_NNG##*:}
idle=()
for _ in $(seq 40); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" && idle+=("$fd")
done
exec {g1}<>"/dev/tcp/127.0.0.1/$port"
head -c 200000 /dev/urandom >&"$g1" 2>/dev/null
# An SP handshake as a req peer, then a message announcing 2^63 bytes.
exec {g2}<>"/dev/tcp/127.0.0.1/$port"
printf '\x00SP\x00\x00\x30\x00\x00\x7f\xff\xff\xff\xff\xff\xff\xff' >&"$g2" 2>/dev/null
exec {g3}<>"/dev/tcp/127.0.0.1/$port"
printf '\x00SP\x00\x00\x30\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40' >&"$g3" 2>/dev/null # a partial message
ok "${#idle[@]} idle connections and 3 garbage senders connected"
t0=$SECONDS
"$LOAD" --url "$COL_NNG" --clients 3 --spans 20000 --spans-per-frame 256 --timeout 30 \
  >"$TMP/load.json" 2>&1
rc=$?
took=$((SECONDS - t0))
check "bench-load beside them: every frame acknowledged (exit $rc) in ${took}s" \
  bash -c "[[ $rc -eq 0 && $took -lt 25 ]]"
"$SENDER" "$COL_NNG" mixed 12 5000 >"$TMP/mixed2.txt" 2>&1
check "a new client still gets correct answers" [ $? -eq 0 ]
check "the collector is alive" kill -0 "$PID_collector"
for fd in "${idle[@]}" "$g1" "$g2" "$g3"; do exec {fd}>&-; done
stop_pid "$PID_collector"
check "collector stops cleanly with those clients around" [ $? -eq 0 ]

# ---- 3. disk full ----------------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  ok "disk full # SKIP not root (needs mount -t tmpfs)"
  finish
fi
SMALL=$TMP/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=20m tmpfs "$SMALL" 2>"$TMP/mount.log"; then
  ok "disk full # SKIP cannot mount a tmpfs: $(cat "$TMP/mount.log")"
  finish
fi
trap 'umount -l "$SMALL" 2>/dev/null; cleanup' EXIT
dd if=/dev/zero of="$SMALL/filler" bs=1M count=5 2>/dev/null
COL_DATA=$SMALL/data
start_collector --write-buffer-mb 1 --memory-budget-mb 64 --min-free-disk-mb 6
ok "collector on a 20 MB filesystem ($(df -m --output=avail "$SMALL" | tail -1 | tr -d ' ') MB free)"
"$SENDER" "$COL_NNG" fill 300 2000 200 >"$TMP/fill.txt" 2>&1
rc=$?
nst=$(grep -c ' STORED ' "$TMP/fill.txt")
last=$(tail -1 "$TMP/fill.txt")
echo "# last answer: $last"
check "the disk filled up: $nst frames stored, then RETRY (exit $rc)" \
  bash -c "[[ $rc -eq 0 && $nst -gt 3 ]]"
check "the RETRY says why: disk full" grep -q 'RETRY .*disk full' <<<"$last"
refused=$(awk '{print $5}' <<<"$last")
# The fill stops at the first RETRY, within one 200 KB frame of the
# reserve: a small frame may still fit.  Another filler takes the disk to ~4 MB free (below the
# 6 MB reserve, above what a 1 MB memtable flush needs) so "still full"
# does not depend on that.
avail_kb=$(df -k --output=avail "$SMALL" | tail -1 | tr -d ' ')
if [[ $avail_kb -gt 4096 ]]; then
  dd if=/dev/zero of="$SMALL/filler2" bs=1K count=$((avail_kb - 4096)) 2>/dev/null
fi
sleep 0.3 # the collector re-reads free space at most every 100 ms
"$SENDER" "$COL_NNG" one 3000 >"$TMP/one.txt" 2>&1
check "still full: RETRY again, nothing stored" grep -q ' RETRY ' "$TMP/one.txt"

rm -f "$SMALL/filler" "$SMALL/filler2"
sleep 0.3
resumed=0
for i in 1 2 3 4 5; do
  if "$SENDER" "$COL_NNG" one $((3000 + i)) >>"$TMP/resume.txt" 2>&1; then resumed=$i; break; fi
  sleep 0.5
done
check "ingest resumes by itself once space returns (after $resumed tries)" [ "$resumed" -gt 0 ]
grep ' STORED ' "$TMP/resume.txt" >>"$TMP/fill.txt"

stop_pid "$PID_collector"
check "collector stops cleanly after the disk-full episode" [ $? -eq 0 ]
spawn collector "$BIN/sightline-collector" --data "$COL_DATA" --listen "$COL_NNG" \
  --http "127.0.0.1:${COL_HTTP##*:}" --write-buffer-mb 1 --memory-budget-mb 64 --min-free-disk-mb 1
wait_http "$COL_HTTP/healthz" 30 || bail "collector did not restart: $(tail -5 "$TMP/collector.log")"
ok "collector restarted on the same data"
acked=0 whole=0
for id in $(awk '$3 == "STORED" {print $5}' "$TMP/fill.txt"); do
  acked=$((acked + 1))
  [[ $(trace_spans "$id") -eq 3 ]] && whole=$((whole + 1))
done
check "every acknowledged trace reads back whole after the restart ($whole of $acked)" \
  bash -c "[[ $acked -gt 3 && $whole -eq $acked ]]"
check "the refused frame was not stored" [ "$(trace_spans "$refused")" -eq 0 ]
elapsed=$((SECONDS - t_start))
check "finished in ${elapsed}s (< 60)" [ "$elapsed" -lt 60 ]
finish
