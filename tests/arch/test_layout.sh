#!/usr/bin/env bash
# The architecture rules (docs/architecture.md "Rules the build checks"), as
# TAP.  Each rule is a grep over the product folders' #include lines (and,
# for the CLI, the symbols of its binary); a break names the file and line.
#   bash tests/arch/test_layout.sh         (run by tests/run.sh as arch-test_layout)
set -uo pipefail
cd "$(dirname "$0")/../.."
O=${O:-build}
n=0
fails=0

# rule DESCRIPTION VIOLATIONS: ok when VIOLATIONS (lines) is empty.
rule() {
  n=$((n + 1))
  if [[ -z $2 ]]; then
    echo "ok $n - $1"
  else
    fails=$((fails + 1))
    echo "not ok $n - $1"
    sed 's/^/#   /' <<<"$2" | head -20
  fi
}

# includes DIR...: every '#include "..."' and '#include <...>' line of the
# C files below DIR, as FILE:LINE:TEXT.
includes() { grep -rnE '^[[:space:]]*#[[:space:]]*include' --include='*.c' --include='*.h' "$@" 2>/dev/null; }

PRODUCT=(collector common query sdk)

rule "only collector/store/ includes rocksdb/c.h" \
  "$(includes "${PRODUCT[@]}" | grep 'rocksdb/' | grep -v '^collector/store/')"

rule "the store includes no ingest, HTTP or alerts code" \
  "$(includes collector/store | grep -E '"(ingest|http|alerts)/')"

rule "alerts and ingest include no HTTP code" \
  "$(includes collector/alerts collector/ingest | grep -E '"http/|microhttpd')"

# query/ is the read-side engine: store API yes; RocksDB, the store's
# private header, HTTP (server or client) and the collector's rooms no.
rule "query/ (the engine) includes neither RocksDB nor HTTP headers" \
  "$(includes query --exclude-dir=cli |
    grep -E 'rocksdb/|microhttpd|curl/|"http/|"ingest/|"alerts/|store_int\.h|coldblock_int\.h')"

rule "the SDK includes no collector or query headers" \
  "$(includes sdk | grep -E '"(store|http|ingest|alerts|query)/|"(log|config|stats)\.h"|rocksdb|microhttpd|jansson')"

rule "in the SDK only sl_transport.c uses nng" \
  "$(includes sdk | grep -E '<nng/' | grep -v '^sdk/src/sl_transport\.c:')"

rule "the CLI's sources include no collector or engine headers" \
  "$(includes query/cli | grep -E '"(store|http|ingest|alerts|query)/|"(log|config|stats)\.h"|"slq_|rocksdb|microhttpd')"

# The CLI binary: no symbol that the collector's or the engine's archives
# define (it links the shared code and libcurl only).
cli_syms=""
if [[ -x $O/bin/sightline && -f $O/lib/libslcollector.a && -f $O/lib/libslquery.a ]]; then
  cli_syms=$(comm -12 \
    <(nm --defined-only "$O/bin/sightline" 2>/dev/null | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u) \
    <(nm --defined-only "$O/lib/libslcollector.a" "$O/lib/libslquery.a" 2>/dev/null |
      awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u))
  rule "the CLI binary links no collector or engine code" "$cli_syms"
else
  rule "the CLI binary links no collector or engine code # SKIP $O/bin/sightline not built" ""
fi

# The dashboard reads only the JSON API: requests go through api.js/boot.js,
# and every API path it names is under /api/v1/.
rule "ui-static/ calls only /api/v1" \
  "$(grep -rnE 'fetch\(|XMLHttpRequest|WebSocket\(|EventSource\(' ui-static/js | grep -vE '^ui-static/js/(api|boot)\.js:' | grep -v '^[^:]*:[0-9]*:[[:space:]]*//'
    grep -rnoE "[\"'\`]/api/[^\"'\`]*" ui-static | grep -v "/api/v1/")"

echo "1..$n"
((fails == 0))
