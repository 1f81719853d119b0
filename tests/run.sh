#!/usr/bin/env bash
# Runs every test: the cmocka unit tests in $O/tests, then the end-to-end
# scripts in tests/e2e (and tests/browser when present).  Each runs in its own
# process with a time limit; every check prints a TAP line ("ok"/"not ok"),
# and the last line is the total: "N passed, N failed".
#   O=build bash tests/run.sh [FILTER]     # FILTER: substring of test names
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
FILTER=${1:-}
export O
export CMOCKA_MESSAGE_OUTPUT=TAP
export SL_ROOT=$PWD
passed=0
failed=0
failures=()
logdir=$O/test-logs
mkdir -p "$logdir"

# run_one NAME TIMEOUT CMD...: runs a test program, counts its TAP lines.
run_one() {
  local name=$1 limit=$2
  shift 2
  [[ -n $FILTER && $name != *$FILTER* ]] && return
  local log=$logdir/$name.log start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  local rc=$?
  local ok nok
  ok=$(grep -cE '^ok ' "$log")
  nok=$(grep -cE '^not ok ' "$log")
  if ((rc != 0 && nok == 0)); then
    nok=1
    if ((rc == 124 || rc == 137)); then
      echo "not ok - $name: timed out after ${limit}s" >>"$log"
    else
      echo "not ok - $name: exited with status $rc" >>"$log"
    fi
  fi
  passed=$((passed + ok))
  failed=$((failed + nok))
  if ((nok > 0)); then
    failures+=("$name")
    printf 'FAIL %-28s %3d passed, %d failed (%ds) - log: %s\n' "$name" "$ok" "$nok" $((SECONDS - start)) "$log"
    grep -E '^not ok|ERROR|LINE|Assertion|Sanitizer|runtime error' "$log" | head -20 | sed 's/^/     /'
  else
    printf 'ok   %-28s %3d passed (%ds)\n' "$name" "$ok" $((SECONDS - start))
  fi
}

echo "== unit tests ($O/tests)"
for t in "$O"/tests/test_*; do
  [[ -x $t ]] || continue
  run_one "$(basename "$t")" 300 "$t"
done

for dir in tests/arch tests/e2e tests/browser; do
  [[ -d $dir ]] || continue
  shopt -s nullglob
  scripts=("$dir"/test_*.sh)
  shopt -u nullglob
  ((${#scripts[@]})) || continue
  echo "== $(basename "$dir") tests"
  for s in "${scripts[@]}"; do
    run_one "$(basename "$dir")-$(basename "$s" .sh)" 300 bash "$s"
  done
done

# The sanitizer phases (make test sets SL_FULL=1): the whole suite again
# with the ASan+UBSan build, the SDK's threaded tests under TSan, and the
# SDK tests under valgrind's memcheck.
if [[ ${SL_FULL:-0} == 1 ]]; then
  ASAN_O=${ASAN_O:-build/asan}
  echo "== the whole suite under ASan+UBSan ($ASAN_O)"
  for t in "$ASAN_O"/tests/test_*; do
    [[ -x $t ]] || continue
    run_one "asan-$(basename "$t")" 300 "$t"
  done
  for dir in tests/e2e tests/browser; do
    shopt -s nullglob
    for s in "$dir"/test_*.sh; do
      O=$ASAN_O run_one "asan-$(basename "$dir")-$(basename "$s" .sh)" 400 bash "$s"
    done
    shopt -u nullglob
  done
  echo "== SDK tests under ThreadSanitizer"
  run_one "tsan-sdk" 400 bash tests/unit/sdk_tsan.sh
  if command -v valgrind >/dev/null; then
    # The exporter and TLS tests assert wall-clock bounds (an absent
    # collector must not delay sl_init past 500 ms...) that valgrind's
    # 20-50x slowdown breaks; they run under ASan and TSan above.
    echo "== SDK tests under valgrind memcheck"
    for t in "$O"/tests/test_sdk_w3c "$O"/tests/test_sdk_span "$O"/tests/test_sdk_safety; do
      [[ -x $t ]] || continue
      run_one "valgrind-$(basename "$t")" 400 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite "$t"
    done
  fi
fi

echo
if ((failed > 0)); then
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
