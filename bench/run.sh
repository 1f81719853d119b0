#!/usr/bin/env bash
# `make bench`: runs every benchmark that is built, each printing medians of
# several runs and ratios against a baseline measured in the same run.
# Results also go to build/bench/*.json.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
mkdir -p "$O/bench"
rc=0
for b in ingest sdk query otlp; do
  bin=$O/bin/bench-$b
  [[ -x $bin ]] || continue
  echo "== bench-$b"
  if "$bin" --json >"$O/bench/$b.json"; then
    cat "$O/bench/$b.json"
  else
    echo "bench-$b failed" >&2
    rc=1
  fi
done
exit $rc
