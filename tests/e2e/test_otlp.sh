#!/usr/bin/env bash
# End to end: the OTLP/HTTP and Zipkin receivers.  The real OpenTelemetry
# JavaScript SDK (npm, tests/otel-js, run by Node.js) sends spans and log
# records through its OTLP/HTTP exporters - JSON and protobuf, plain and
# gzip, with Transfer-Encoding: chunked as that exporter always does - and
# curl sends Zipkin v2 and hand-written OTLP payloads.  Everything is read
# back with the CLI (`sightline --json trace ID`) and compared field by field;
# malformed payloads of each format must get a 400 with a reason and store
# nothing.
source "$(dirname "$0")/lib.sh"

OTEL_JS=$SL_ROOT/tests/otel-js
command -v node >/dev/null && command -v npm >/dev/null ||
  bail "node and npm are needed (install Node.js 20 or newer)"
if [[ ! -d $OTEL_JS/node_modules/@opentelemetry/exporter-trace-otlp-proto ]]; then
  (cd "$OTEL_JS" && npm ci --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1 ||
    bail "npm ci in tests/otel-js failed (network?): $(tail -5 "$TMP/npm.log")"
fi
ok "OpenTelemetry JS SDK installed from tests/otel-js/package-lock.json"

start_collector
ok "collector started ($COL_HTTP)"
CLI=("$BIN/sightline" --server "$COL_HTTP")

# stat KEY: a number from /api/v1/stats .ingest
stat() { curl -fsS "$COL_HTTP/api/v1/stats" | jq -r ".ingest.$1"; }

# fetch ID FILE: the trace as the CLI prints it (waits briefly: a 2xx means
# committed, but be tolerant of slow machines).
fetch() {
  for _ in $(seq 30); do
    "${CLI[@]}" --json trace "$1" >"$2" 2>"$2.err" && return 0
    sleep 0.1
  done
  return 1
}

# post PATH CTYPE FILE [curl args...]: prints the HTTP status; the body goes
# to $TMP/resp.
post() {
  local path=$1 ctype=$2 file=$3
  shift 3
  curl -sS -o "$TMP/resp" -w '%{http_code}' -H "Content-Type: $ctype" "$@" \
    --data-binary "@$file" "$COL_HTTP$path"
}

# ---- the OpenTelemetry JS SDK, four ways ------------------------------------
for variant in "json" "protobuf" "json --gzip" "protobuf --gzip"; do
  tag=${variant// /}
  # shellcheck disable=SC2086
  if node "$OTEL_JS/send.mjs" --url "$COL_HTTP" --protocol $variant --out "$TMP/exp-$tag.json" \
    >"$TMP/send-$tag.log" 2>&1; then
    ok "OTel JS SDK exported spans and logs over OTLP/HTTP $variant (chunked)"
  else
    not_ok "OTel JS SDK export over OTLP/HTTP $variant: $(cat "$TMP/send-$tag.log")"
    continue
  fi
  tid=$(jq -r .trace_id "$TMP/exp-$tag.json")
  if fetch "$tid" "$TMP/got-$tag.json"; then
    ok "CLI reads back trace $tid ($variant)"
  else
    not_ok "CLI cannot read trace $tid ($variant): $(cat "$TMP/got-$tag.json.err")"
    continue
  fi
  if node "$OTEL_JS/check.mjs" "$TMP/exp-$tag.json" "$TMP/got-$tag.json" >"$TMP/check-$tag.log"; then
    ok "every span and log field matches what the SDK sent ($variant)"
  else
    not_ok "fields differ ($variant): $(cat "$TMP/check-$tag.log")"
  fi
done

# ---- Zipkin v2, chunked ---------------------------------------------------------
cat >"$TMP/zipkin.json" <<'JSON'
[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get /api","kind":"SERVER",
  "timestamp":1700000000123456,"duration":250000,
  "localEndpoint":{"serviceName":"zfrontend","ipv4":"10.0.0.1"},
  "tags":{"http.method":"GET","http.path":"/api"},
  "annotations":[{"timestamp":1700000000200000,"value":"cache miss"}]},
 {"traceId":"5af7183fb1d4cf5f","id":"6b221d5bc9e6496c","parentId":"352bff9a74ca9ad2","name":"select","kind":"CLIENT",
  "timestamp":1700000000130000,"duration":100000,
  "localEndpoint":{"serviceName":"zfrontend"},
  "remoteEndpoint":{"serviceName":"postgres","ipv4":"10.0.0.9","port":5432},
  "tags":{"db.statement":"select 1","error":"connection reset"}}]
JSON
code=$(post /api/v2/spans application/json "$TMP/zipkin.json" -H 'Transfer-Encoding: chunked')
check "Zipkin v2 POST /api/v2/spans (chunked) answers 202 (got $code $(cat "$TMP/resp"))" [ "$code" = 202 ]
ztid=00000000000000005af7183fb1d4cf5f
if fetch "$ztid" "$TMP/zipkin-got.json"; then
  errs=$(jq -r '
    def want(c; m): if c then empty else m end;
    (.spans | map({key: .span_id, value: .}) | from_entries) as $s
    | $s["352bff9a74ca9ad2"] as $a | $s["6b221d5bc9e6496c"] as $b
    | want(.trace_id == "00000000000000005af7183fb1d4cf5f"; "64-bit trace id not padded"),
      want($a.service == "zfrontend" and $a.name == "get /api" and $a.kind == "server"; "root service/name/kind"),
      want($a.parent_id == "" and $a.start_ns == "1700000000123456000" and $a.duration_ns == 250000000; "root times"),
      want($a.attributes["http.method"] == "GET" and $a.attributes["http.path"] == "/api"; "root tags"),
      want($a.attributes["network.local.address"] == "10.0.0.1"; "local endpoint"),
      want($a.events[0].name == "cache miss" and $a.events[0].time_us == 1700000000200000; "annotation"),
      want($a.status == "unset"; "root status"),
      want($b.parent_id == "352bff9a74ca9ad2" and $b.kind == "client" and $b.duration_ns == 100000000; "child"),
      want($b.status == "error" and $b.status_message == "connection reset"; "error tag -> status"),
      want($b.attributes["db.statement"] == "select 1" and ($b.attributes | has("error") | not); "child tags"),
      want($b.attributes["peer.service"] == "postgres" and $b.attributes["server.address"] == "10.0.0.9"
           and $b.attributes["network.peer.address"] == "10.0.0.9" and $b.attributes["network.peer.port"] == 5432
           and $b.attributes["server.port"] == 5432; "remote endpoint")
  ' "$TMP/zipkin-got.json")
  check "Zipkin spans read back with every field mapped${errs:+: $errs}" [ -z "$errs" ]
else
  not_ok "CLI cannot read the Zipkin trace: $(cat "$TMP/zipkin-got.json.err")"
fi

# ---- hand-written OTLP/JSON with curl: chunked, gzip, retry dedupe --------------
cat >"$TMP/otlp.json" <<'JSON'
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"curl-svc"}},
  {"key":"host.name","value":{"stringValue":"curl-host"}}]},
 "scopeSpans":[{"scope":{"name":"curl"},"spans":[
  {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"POST /pay","kind":2,
   "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000",
   "attributes":[{"key":"n","value":{"intValue":"7"}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"boolValue":true}]}}}],
   "status":{"code":2,"message":"boom"}}]}]}]}
JSON
stored0=$(stat frames_stored)
code=$(post /v1/traces application/json "$TMP/otlp.json" -H 'Transfer-Encoding: chunked')
check "OTLP/JSON via curl (chunked) answers 200 with an empty response (got $code $(cat "$TMP/resp"))" \
  [ "$code" = 200 ] && [ "$(cat "$TMP/resp")" = "{}" ]
code=$(post /v1/traces application/json "$TMP/otlp.json")
check "the same body again (a client retry) answers 200" [ "$code" = 200 ]
check "a retried body is stored once (frames_stored +1, duplicates counted)" \
  [ "$(($(stat frames_stored) - stored0))" = 1 ] && [ "$(stat duplicates)" -ge 1 ]
sed 's/b7ad6b7169203331/b7ad6b7169203332/' "$TMP/otlp.json" | gzip -c >"$TMP/otlp.json.gz"
code=$(post /v1/traces application/json "$TMP/otlp.json.gz" -H 'Content-Encoding: gzip')
check "OTLP/JSON gzip body answers 200 (got $code $(cat "$TMP/resp"))" [ "$code" = 200 ]
if fetch 0af7651916cd43dd8448eb211c80319c "$TMP/curl-got.json"; then
  errs=$(jq -r '
    def want(c; m): if c then empty else m end;
    want((.spans | length) == 2; "want 2 spans (plain + gzip)"),
    (.spans[] | want(.service == "curl-svc" and .name == "POST /pay" and .kind == "server"
       and .status == "error" and .status_message == "boom" and .duration_ns == 500000000
       and .attributes.n == 7 and .attributes.tags == "[\"a\",true]"
       and .attributes["host.name"] == "curl-host" and .attributes["otel.scope.name"] == "curl"; "span \(.span_id)"))
  ' "$TMP/curl-got.json")
  check "hand-written OTLP/JSON spans read back correctly${errs:+: $errs}" [ -z "$errs" ]
else
  not_ok "CLI cannot read the curl OTLP trace"
fi

# partial success: one span valid, one with a short trace id
cat >"$TMP/partial.json" <<'JSON'
{"resourceSpans":[{"scopeSpans":[{"spans":[
 {"traceId":"1111111111111111111111111111111a","spanId":"1111111111111111","name":"ok","startTimeUnixNano":"1","endTimeUnixNano":"2"},
 {"traceId":"1111","spanId":"1111111111111112","name":"bad","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}
JSON
code=$(post /v1/traces application/json "$TMP/partial.json")
check "a partly invalid request answers 200 with partialSuccess.rejectedSpans=1 (got $code $(cat "$TMP/resp"))" \
  [ "$code" = 200 ] && [ "$(jq -r .partialSuccess.rejectedSpans "$TMP/resp")" = 1 ]

# ---- malformed payloads of each format: 400 with a reason, nothing stored ------
stored0=$(stat frames_stored)
# a valid span inside a body that is malformed elsewhere (resource is not an object)
cat >"$TMP/bad-traces.json" <<'JSON'
{"resourceSpans":[{"resource":5,"scopeSpans":[{"spans":[{"traceId":"2222222222222222222222222222222b",
 "spanId":"2222222222222222","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}
JSON
echo '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"intValue":"x"}}]}]}]}' >"$TMP/bad-logs.json"
printf '\x0a\x05\x12\x03\x12\x01' >"$TMP/bad.pb"   # ResourceSpans whose inner length runs past the end
printf '\x0a\x02\x12\x00\x0b' >"$TMP/bad2.pb"      # a group wire type
echo '[{"traceId":"2222222222222222222222222222222c","id":"2222222222222223","timestamp":"soon"}]' >"$TMP/bad-zipkin.json"
echo '{"not":"an array"}' >"$TMP/bad-zipkin2.json"
for c in "/v1/traces application/json bad-traces.json resource" \
         "/v1/logs application/json bad-logs.json intValue" \
         "/v1/traces application/x-protobuf bad.pb malformed" \
         "/v1/logs application/x-protobuf bad2.pb malformed" \
         "/api/v2/spans application/json bad-zipkin.json timestamp" \
         "/api/v2/spans application/json bad-zipkin2.json array"; do
  read -r path ctype file why <<<"$c"
  code=$(post "$path" "$ctype" "$TMP/$file")
  check "malformed $file to $path ($ctype) gets 400 naming '$why' (got $code: $(head -c 200 "$TMP/resp" | tr -d '\0'))" \
    [ "$code" = 400 ] && grep -qa "$why" "$TMP/resp"
done
check "malformed payloads stored nothing (frames_stored unchanged)" [ "$(stat frames_stored)" = "$stored0" ]
"${CLI[@]}" --json trace 2222222222222222222222222222222b >/dev/null 2>&1
check "the valid span inside a malformed request is not stored" [ $? -eq 1 ]

# wrong content type, wrong method, too large
code=$(post /v1/traces text/plain "$TMP/otlp.json")
check "OTLP with Content-Type text/plain gets 415" [ "$code" = 415 ]
code=$(curl -sS -o /dev/null -w '%{http_code}' "$COL_HTTP/v1/traces")
check "GET /v1/traces gets 405" [ "$code" = 405 ]
head -c $((17 * 1024 * 1024)) /dev/zero >"$TMP/big.bin"
code=$(post /v1/traces application/x-protobuf "$TMP/big.bin")
check "a 17 MiB body gets 413 (limit 16 MiB)" [ "$code" = 413 ]
code=$(post /v1/traces application/x-protobuf "$TMP/big.bin" -H 'Transfer-Encoding: chunked')
check "a 17 MiB chunked body gets 413 too" [ "$code" = 413 ]
check "nothing was stored by the refused requests" [ "$(stat frames_stored)" = "$stored0" ]
check "the collector is still healthy" curl -fsS -o /dev/null "$COL_HTTP/healthz"

finish
