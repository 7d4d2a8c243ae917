#!/usr/bin/env bash
# Replicas behind nginx: docs/nginx-replicas.conf, as shipped (only its
# ports replaced), in front of two `frugal serve` replicas on loopback.
# nginx runs as a normal process with its own prefix in the test's temp
# directory. The official OpenAI client sends plain and streamed requests
# through it; replica A is stopped mid-test (SIGTERM, --drain-delay) and
# every request keeps succeeding: served by A while it drains, handed to B
# by nginx once A's listener is closed. Skipped without nginx.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
NGINX_BIN=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
[ -n "$NGINX_BIN" ] || { echo "SKIP: nginx is not installed (scripts/deps.sh installs it)"; exit 77; }
need_shared models/stories260K.gguf
need_openai
CONF_SRC=${FR_SRC:-$(dirname "$0")/../..}/docs/nginx-replicas.conf
[ -f "$CONF_SRC" ] || { echo "FAIL: $CONF_SRC missing" >&2; exit 1; }
M=$SHARED/models/stories260K.gguf

# expected greedy outputs from `frugal run`
run_ok "$FRUGAL" run -m "$M" -p "Once upon a time" -n 24 --temp 0 --json -t 1
printf '%s' "$OUT" > "$TMP/c.json"
run_ok "$FRUGAL" run -m "$M" -p "Tell me a story." -n 16 --temp 0 --json --chat -t 1
printf '%s' "$OUT" > "$TMP/h.json"
node -e '
  const fs = require("fs");
  const c = JSON.parse(fs.readFileSync(process.argv[1])), h = JSON.parse(fs.readFileSync(process.argv[2]));
  fs.writeFileSync(process.argv[3], JSON.stringify({
    completion: {prompt: "Once upon a time", n: 24, text: c.text},
    chat: {prompt: "Tell me a story.", n: 16, text: h.text}}));
' "$TMP/c.json" "$TMP/h.json" "$TMP/expect.json"

# two replicas (serve_start keeps one SPID: remember both)
serve_start -m "$M" --parallel 2 --alias stories --drain-delay 1.5
serve_wait_ready
APID=$SPID A_PORT=$PORT A_LOG=$SLOG
serve_start -m "$M" --parallel 2 --alias stories
serve_wait_ready
BPID=$SPID B_PORT=$PORT B_LOG=$SLOG
SPID=

NG=$TMP/nginx
NGPID=
cleanup() {
  [ -n "$NGPID" ] && kill -TERM "$NGPID" 2>/dev/null
  [ -n "$APID" ] && kill -KILL "$APID" 2>/dev/null
  [ -n "$BPID" ] && kill -KILL "$BPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# nginx on a free loopback port (retried: the port is picked before nginx binds it)
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); });'
}
mkdir -p "$NG/logs" "$NG/tmp"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;" # workers keep access to the temp prefix
for attempt in 1 2 3; do
  N_PORT=$(free_port)
  sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$N_PORT/" -e "s/127\.0\.0\.1:8081/127.0.0.1:$A_PORT/" \
      -e "s/127\.0\.0\.1:8082/127.0.0.1:$B_PORT/" "$CONF_SRC" > "$NG/frugal.conf"
  grep -q "127.0.0.1:$A_PORT" "$NG/frugal.conf" && grep -q "127.0.0.1:$B_PORT" "$NG/frugal.conf" &&
    grep -q "listen 127.0.0.1:$N_PORT;" "$NG/frugal.conf" ||
    { echo "FAIL: the ports in $CONF_SRC are not the documented 8080/8081/8082" >&2; exit 1; }
  cat > "$NG/nginx.conf" <<NGINX
$user_line
worker_processes 1;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log info;
events { worker_connections 256; }
http {
  access_log $NG/logs/access.log;
  client_body_temp_path $NG/tmp/body;
  proxy_temp_path $NG/tmp/proxy;
  fastcgi_temp_path $NG/tmp/fastcgi;
  uwsgi_temp_path $NG/tmp/uwsgi;
  scgi_temp_path $NG/tmp/scgi;
  include $NG/frugal.conf;
}
NGINX
  "$NGINX_BIN" -t -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" >"$NG/t.log" 2>&1 ||
    { echo "FAIL: nginx -t: $(cat "$NG/t.log")" >&2; exit 1; }
  "$NGINX_BIN" -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" 2>>"$NG/logs/error.log" &
  NGPID=$!
  up=""
  for _ in $(seq 1 200); do
    kill -0 "$NGPID" 2>/dev/null || break
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$N_PORT/v1/models")" = 200 ] && { up=1; break; }
    sleep 0.05
  done
  [ -n "$up" ] && break
  kill -TERM "$NGPID" 2>/dev/null; wait "$NGPID" 2>/dev/null; NGPID=
done
[ -n "$NGPID" ] || { echo "FAIL: nginx did not start: $(tail -5 "$NG/logs/error.log")" >&2; exit 1; }

OPENAI_NODE_MODULES=$OPENAI_NODE_MODULES NGINX=http://127.0.0.1:$N_PORT A=http://127.0.0.1:$A_PORT \
  A_PID=$APID MODEL=stories EXPECT=$TMP/expect.json node "$(dirname "$0")/support/serve_nginx.js" \
  > "$TMP/js.out" 2>&1 || fail "through nginx: $(grep -m3 FAIL "$TMP/js.out") $(tail -3 "$TMP/js.out")"

# A drained and exited cleanly; both replicas served; nginx retried on B
rc=0; wait "$APID" || rc=$?
APID=
[ "$rc" -eq 0 ] || fail "replica A exited with $rc: $(tail -5 "$A_LOG")"
expect_contains "$(cat "$A_LOG")" "draining for 1.5 s"
a_n=$(grep -c 'POST /v1/[a-z/]* 200' "$A_LOG")
b_n=$(grep -c 'POST /v1/[a-z/]* 200' "$B_LOG")
[ "$a_n" -ge 1 ] && [ "$b_n" -ge 1 ] || fail "requests were not spread: A served $a_n, B served $b_n"
[ $((a_n + b_n)) -eq 18 ] || fail "18 requests sent, the replicas logged $((a_n + b_n)) (A $a_n, B $b_n)"
grep -q 'connect() failed (111: Connection refused) while connecting to upstream' "$NG/logs/error.log" ||
  fail "nginx never met the stopped replica (no retry exercised): $(tail -5 "$NG/logs/error.log")"
# the status follows the request's closing quote ("combined" format); a bare ' 50x ' also matches a body size
grep -q '" 50[0-9] ' "$NG/logs/access.log" && fail "nginx answered a 5xx: $(grep '" 50[0-9] ' "$NG/logs/access.log" | head -3)"

kill -TERM "$NGPID"; wait "$NGPID" 2>/dev/null; NGPID=
SPID=$BPID; BPID=
serve_stop
finish
