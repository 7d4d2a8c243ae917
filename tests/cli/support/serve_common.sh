# Helpers for the frugal serve tests (sourced after ../lib.sh).
#
#   serve_start [ARGS...]   start `frugal serve --port 0 ARGS` in the background,
#                           wait for "listening", set SPID, PORT, BASE, SLOG
#   serve_wait_ready        wait until /health answers 200
#   serve_stop              SIGTERM, wait, check the exit status is 0
#   req METHOD PATH [curl args...]   one request: status in $CODE, body in $BODY,
#                           headers in $HDRS
#   json_get FILE EXPR      evaluate a JS expression over the parsed JSON (j)
#   need_openai             install the pinned openai npm package once per build
#                           tree (exit 77 when npm cannot)
#   random_model PATH       write the random-weight byte-vocab test model
#
# Servers run with -t 1: the CI machine has two cores shared by two test
# processes, and spinning worker threads on an oversubscribed machine make
# every step slow.
command -v curl >/dev/null || { echo "SKIP: curl is needed"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node is needed"; exit 77; }

SERVE_N=0
SPID=
serve_start() {
  SERVE_N=$((SERVE_N + 1))
  SLOG=$TMP/serve.$SERVE_N.log
  "$FRUGAL" serve --port 0 -t 1 "$@" 2>"$SLOG" &
  SPID=$!
  PORT=
  for _ in $(seq 1 400); do
    PORT=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\) .*|\1|p' "$SLOG" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "server did not start: $(cat "$SLOG")" >&2
    exit 1
  fi
  BASE=http://127.0.0.1:$PORT
}

serve_wait_ready() {
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" = 200 ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "server not ready: $(cat "$SLOG")" >&2
  exit 1
}

serve_stop() {
  [ -n "$SPID" ] || return 0
  kill -TERM "$SPID" 2>/dev/null
  local rc=0
  wait "$SPID" || rc=$?
  [ "$rc" -eq 0 ] || fail "frugal serve exited with $rc: $(tail -5 "$SLOG")"
  grep -q "ThreadSanitizer\|AddressSanitizer\|runtime error" "$SLOG" &&
    fail "sanitizer report in the server log: $(grep -m3 -A5 'Sanitizer\|runtime error' "$SLOG")"
  SPID=
}

_serve_cleanup() {
  [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
  rm -rf "$TMP"
}
trap _serve_cleanup EXIT

req() {
  local method=$1 path=$2
  shift 2
  CODE=$(curl -s -X "$method" -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' "$@" "$BASE$path")
  BODY=$(cat "$TMP/body")
  HDRS=$(cat "$TMP/hdrs")
}

# expect_status WANT METHOD PATH [curl args...]
expect_status() {
  local want=$1
  shift
  req "$@"
  [ "$CODE" = "$want" ] || fail "$1 $2: status $CODE, want $want: ${BODY:0:300}"
}

# An OpenAI error body with this code (or any code when empty).
expect_error_shape() {
  node -e '
    const j = JSON.parse(process.argv[1]);
    const e = j.error;
    if (!e || typeof e.message !== "string" || typeof e.type !== "string" ||
        !("param" in e) || !("code" in e)) { console.error("not an OpenAI error"); process.exit(1); }
    if (process.argv[2] && e.code !== process.argv[2]) { console.error("code " + e.code); process.exit(1); }
  ' "$BODY" "${1:-}" || fail "error body shape/code (want '${1:-}'): ${BODY:0:300}"
}

json_get() {
  node -e '
    const fs = require("fs");
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const v = eval(process.argv[2]);
    process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
  ' "$1" "$2"
}

OPENAI_VERSION=4.95.0
need_openai() {
  npm_install_once "${FR_BUILD:-$TMP}/serve-npm" "openai@$OPENAI_VERSION"
  export OPENAI_NODE_MODULES=${FR_BUILD:-$TMP}/serve-npm/node_modules
}

random_model() {
  local helper=${FR_BUILD:-}/test_serve_sched
  if [ ! -x "$helper" ]; then
    echo "SKIP: $helper (built with the tests) is needed to write the random model"
    exit 77
  fi
  "$helper" --write-model "$1" || { echo "could not write the random model" >&2; exit 1; }
}
