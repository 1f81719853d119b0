#!/usr/bin/env bash
# End to end: the HTTP side of hardening (docs/security.md).  A collector with
# HTTPS (a self-signed certificate made here with openssl), API tokens with
# read and admin scopes and an ingest token is driven with curl and the CLI;
# a second, plain-HTTP collector with small connection limits takes hostile
# traffic: slowloris-style clients that trickle header bytes, idle
# connections up to the per-address limit, oversized headers and URLs, bad
# methods, malformed JSON.  It must answer each with a 4xx, keep serving
# normal requests within a few seconds, and keep running.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || bail "openssl is needed (apt-get install openssl)"
command -v python3 >/dev/null || bail "python3 is needed for the slow-client checks"
CLI=$BIN/sightline

# ---- a self-signed certificate for 127.0.0.1 / localhost ----------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.log" 2>&1 ||
  bail "openssl could not make a certificate: $(tail -3 "$TMP/openssl.log")"
ok "self-signed certificate generated"

# start_retry NAME URL CMD...: spawns CMD (with "--listen tcp://127.0.0.1:NP
# --http HOST:HP" added, fresh free ports each try) until URL (with HP
# substituted) answers 200; other tests on the machine may take a "free"
# port between free_port and the bind, so up to 3 tries.  Sets HP.
start_retry() {
  local name=$1 url=$2 np try pid
  shift 2
  for try in 1 2 3; do
    np=$(free_port) && HP=$(free_port) || bail "no free port"
    spawn "$name" "$@" --listen "tcp://127.0.0.1:$np" --http "$BIND:$HP"
    pid=${PIDS[-1]}
    for _ in $(seq 100); do
      curl -fsS -o /dev/null --max-time 1 --cacert "$TMP/cert.pem" "${url/HP/$HP}" 2>/dev/null && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    grep -q 'Address already in use' "$TMP/$name.log" || break
    stop_pid "$pid"
  done
  cat "$TMP/$name.log"
  return 1
}

# ---- collector A: HTTPS + API tokens + an ingest token -------------------------
BIND=127.0.0.1
start_retry collector "https://127.0.0.1:HP/healthz" "$BIN/sightline-collector" --data "$TMP/data-a" \
  --http-tls-cert "$TMP/cert.pem" --http-tls-key "$TMP/key.pem" \
  --api-token-read read-tok-1 --api-token-admin admin-tok-1 --ingest-token ingest-tok-1 ||
  bail "HTTPS collector did not start"
hp=$HP
HTTPS=https://127.0.0.1:$hp
ok "collector serves HTTPS; /healthz needs no token (curl --cacert)"

C=(curl -sS --max-time 5 --cacert "$TMP/cert.pem")
# code ARGS...: the HTTP status of a request (000 when none came back).
code() { "${C[@]}" -o "$TMP/body" -w '%{http_code}' "$@" 2>/dev/null; }

check "the certificate is really checked: curl without --cacert fails" \
  bash -c "! curl -sS -o /dev/null --max-time 5 '$HTTPS/healthz' 2>/dev/null"
check "plain HTTP on the HTTPS port gets no answer" \
  bash -c "[[ \$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 'http://127.0.0.1:$hp/healthz' 2>/dev/null) != 200 ]]"
check "the dashboard files are served without a token" [ "$(code "$HTTPS/")" = 200 ]

c=$(code -D "$TMP/head" "$HTTPS/api/v1/services")
check "no token: 401 with WWW-Authenticate and a message naming the flags ($c)" \
  bash -c "[[ $c == 401 ]] && grep -qi '^WWW-Authenticate: Bearer' '$TMP/head' &&
           jq -e '.error.code == \"unauthorized\" and (.error.message | contains(\"--api-token-read\"))' '$TMP/body' >/dev/null"
check "wrong token: 401" [ "$(code -H 'Authorization: Bearer read-tok-2' "$HTTPS/api/v1/services")" = 401 ]
check "read token: 200" [ "$(code -H 'Authorization: Bearer read-tok-1' "$HTTPS/api/v1/services")" = 200 ]
check "admin token reads too: 200" [ "$(code -H 'Authorization: Bearer admin-tok-1' "$HTTPS/api/v1/stats")" = 200 ]
check "/metrics needs the read token" \
  bash -c "[[ \$(${C[*]} -o /dev/null -w '%{http_code}' '$HTTPS/metrics') == 401 &&
           \$(${C[*]} -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer read-tok-1' '$HTTPS/metrics') == 200 ]]"
RULE='{"expr":"p99(checkout) > 300ms over 5m","severity":"warning"}'
c=$(code -X PUT -H 'Content-Type: application/json' -H 'Authorization: Bearer read-tok-1' -d "$RULE" \
  "$HTTPS/api/v1/alerts/rules/sec-test")
check "read token on a rule change: 403 that names --api-token-admin ($c)" \
  bash -c "[[ $c == 403 ]] && jq -e '.error.message | contains(\"--api-token-admin\")' '$TMP/body' >/dev/null"
check "no token on a rule change: 401" \
  [ "$(code -X DELETE "$HTTPS/api/v1/alerts/rules/sec-test")" = 401 ]
c=$(code -X PUT -H 'Content-Type: application/json' -H 'Authorization: Bearer admin-tok-1' -d "$RULE" \
  "$HTTPS/api/v1/alerts/rules/sec-test")
check "admin token changes a rule ($c)" [ "${c:0:1}" = 2 ]
c=$(code -X PUT -H 'Content-Type: application/json' -H 'Authorization: Bearer admin-tok-1' -d '{"expr": ' \
  "$HTTPS/api/v1/alerts/rules/sec-test")
check "malformed JSON on a rule change: 400 ($c)" [ "$c" = 400 ]

# The receivers use the ingest token, not the API tokens.
OTLP='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"sec-svc"}}]},
 "scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319d","spanId":"b7ad6b7169203332",
 "name":"GET /x","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000500000000"}]}]}]}'
post() { code -X POST -H 'Content-Type: application/json' --data-binary "$OTLP" "$@" "$HTTPS/v1/traces"; }
c=$(post -D "$TMP/head")
check "OTLP without the ingest token: 401 with WWW-Authenticate ($c)" \
  bash -c "[[ $c == 401 ]] && grep -qi '^WWW-Authenticate: Bearer' '$TMP/head'"
check "OTLP with an API token instead of the ingest token: 401" \
  [ "$(post -H 'Authorization: Bearer admin-tok-1')" = 401 ]
check "OTLP with the ingest token: 200" [ "$(post -H 'Authorization: Bearer ingest-tok-1')" = 200 ]

# The CLI: --token / SIGHTLINE_API_TOKEN, --cacert / --insecure.
cli() { timeout 20 "$CLI" --no-color --server "$HTTPS" "$@" >"$TMP/cli.out" 2>"$TMP/cli.err"; echo $?; }
rc=$(cli --cacert "$TMP/cert.pem" services)
check "CLI without a token: exit 2 and says to pass --token ($rc)" \
  bash -c "[[ $rc == 2 ]] && grep -q -- '--token' '$TMP/cli.err'"
rc=$(cli --cacert "$TMP/cert.pem" --token read-tok-1 services --since 7d)
check "CLI --token over HTTPS: lists the OTLP service ($rc)" \
  bash -c "[[ $rc == 0 ]] && grep -q sec-svc '$TMP/cli.out'"
rc=$(SIGHTLINE_API_TOKEN=read-tok-1 cli services --since 7d --cacert "$TMP/cert.pem")
check "CLI with SIGHTLINE_API_TOKEN: exit 0 ($rc)" [ "$rc" = 0 ]
rc=$(cli --token read-tok-1 services)
check "CLI without --cacert refuses the self-signed certificate and says what to do ($rc)" \
  bash -c "[[ $rc == 2 ]] && grep -q -- '--cacert' '$TMP/cli.err'"
rc=$(cli --insecure --token read-tok-1 services)
check "CLI --insecure: exit 0 ($rc)" [ "$rc" = 0 ]
check "the collector logged no warning about tokens in clear text (loopback)" \
  bash -c "! grep -q 'clear text\|reachable from other hosts' '$TMP/collector.log'"
stop_pid "$PID_collector" || not_ok "collector A did not stop"

# ---- collector B: plain HTTP, small limits, hostile clients ---------------------
BIND=0.0.0.0
start_retry collector_b "http://127.0.0.1:HP/healthz" "$BIN/sightline-collector" --data "$TMP/data-b" \
  --http-max-conns 40 --http-max-conns-per-ip 20 --http-timeout 3 \
  --http-max-header-bytes 8192 --http-max-url-bytes 2048 || bail "collector B did not start"
hp=$HP
HTTP=http://127.0.0.1:$hp
check "binding --http to 0.0.0.0 without an API token prints a warning" \
  grep -q 'reachable from other hosts without a token' "$TMP/collector_b.log"

# timed URL: prints "STATUS SECONDS" of one normal request (max 8 s).
# (curl prints the -w line also when the connection is refused or reset.)
timed() { curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 8 "$1" 2>/dev/null; true; }
# fast "STATUS SECONDS": a 200 within 3 seconds.
fast() { [[ ${1%% *} == 200 ]] && awk -v t="${1##* }" 'BEGIN { exit !(t < 3) }'; }

# Slowloris: 15 clients each send a request line, then one header byte every
# 0.3 s for 6 s, never finishing their headers.
cat >"$TMP/slow.py" <<'PY'
import socket, sys, time
port, n, secs, mode = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    if mode == "trickle":
        s.sendall(b"GET /api/v1/services HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    socks.append(s)
print("open", len(socks), flush=True)
end = time.time() + secs
while time.time() < end:
    time.sleep(0.3)
    if mode == "trickle":
        for s in socks:
            try:
                s.send(b"a")
            except OSError:
                pass
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print("closed_by_server", closed, flush=True)
PY
python3 "$TMP/slow.py" "$hp" 15 6 trickle >"$TMP/slow.out" 2>&1 &
slow=$!
sleep 1
t=$(timed "$HTTP/api/v1/services")
check "15 slowloris clients: a normal request is still answered 200 within 3 s ($t)" fast "$t"
t=$(timed "$HTTP/healthz")
check "...and again ($t)" fast "$t"
wait "$slow"
check "the slow clients did connect ($(head -1 "$TMP/slow.out"))" grep -q '^open 15' "$TMP/slow.out"

# Idle connections up to the per-address limit (20): the next request from
# the same address is answered or refused at once, never left hanging; the
# server closes idle connections after --http-timeout (3 s).
python3 "$TMP/slow.py" "$hp" 20 5 idle >"$TMP/idle.out" 2>&1 &
idle=$!
sleep 1
t=$(timed "$HTTP/healthz")
check "20 idle connections: a 21st is served or refused cleanly, within 3 s ($t)" \
  awk -v t="${t##* }" 'BEGIN { exit !(t < 3) }'
wait "$idle"
check "the server closed the idle connections after --http-timeout ($(tail -1 "$TMP/idle.out"))" \
  grep -q '^closed_by_server 20' "$TMP/idle.out"
t=$(timed "$HTTP/api/v1/services")
check "after the idle clients, a normal request is served ($t)" fast "$t"

# Hostile requests: each gets a 4xx and nothing else breaks.
big=$(head -c 20000 /dev/zero | tr '\0' a)
hc() { curl -sS -o "$TMP/body" -w '%{http_code}' --max-time 5 "$@" 2>/dev/null; }
c=$(hc -H "X-Big: $big" "$HTTP/api/v1/services")
check "a 20 KB header: 431 ($c)" [ "$c" = 431 ]
args=(); for i in $(seq 80); do args+=(-H "X-H$i: v"); done
c=$(hc "${args[@]}" "$HTTP/api/v1/services")
check "80 header lines: 431 ($c)" [ "$c" = 431 ]
c=$(hc "$HTTP/api/v1/services?x=$(head -c 3000 /dev/zero | tr '\0' b)")
check "a 3 KB URL: 414 ($c)" [ "$c" = 414 ]
c=$(hc -X BREW "$HTTP/api/v1/services")
check "a bad method: 405 ($c)" [ "$c" = 405 ]
c=$(hc -X POST -H 'Content-Type: application/json' -d '{"expr": [' "$HTTP/api/v1/alerts/rules")
check "malformed JSON on alert rules: 400 ($c)" [ "$c" = 400 ]
c=$(hc -X PUT -H 'Content-Type: application/json' --data-binary @<(head -c 1100000 /dev/zero | tr '\0' ' ') \
  "$HTTP/api/v1/alerts/rules/x")
check "a 1.1 MB rule body: 413 ($c)" [ "$c" = 413 ]
c=$(hc --path-as-is "$HTTP/../../etc/passwd")
check "path traversal: refused ($c)" bash -c "[[ $c == 400 || $c == 403 || $c == 404 ]] && ! grep -q root: '$TMP/body'"
reply=$(python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $hp), timeout=5)
s.sendall(b'\x16\x03\x01garbage \x00\xff\r\n\r\n'); print(s.recv(64)[:12].decode('latin1'))" 2>&1)
check "binary garbage: a 4xx or a closed connection ($reply)" bash -c "[[ -z '$reply' || '$reply' == 'HTTP/1.1 4'* ]]"
check "the collector is still running" kill -0 "$PID_collector_b"
t=$(timed "$HTTP/api/v1/services")
check "...and serving ($t)" fast "$t"
check "...and stops cleanly" stop_pid "$PID_collector_b"
finish
