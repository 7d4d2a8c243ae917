#!/usr/bin/env bash
# frugal serve against clients that try to take it over or lock others out
# (issue 18), all on loopback with bounded waits:
#  - a second server on a port in use fails with "address already in use"
#    (it used to start and take part of the first one's traffic);
#  - 300 half-open connections (request headers or body never finished) from
#    four loopback addresses: each address holds at most
#    --max-client-connections of them, /health and a completion from another
#    address still answer at once, and the server closes the half-open ones
#    after --read-timeout (they used to fill every slot for --timeout, 600 s);
#  - a request whose answer takes longer than --read-timeout (it waits in the
#    queue behind another) is not cut by it.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf
J='-H Content-Type:application/json'
SUP=$(dirname "$0")/support

# ---- a port in use ------------------------------------------------------------------
serve_start -m "$M"
serve_wait_ready
_run timeout 20 "$FRUGAL" serve -m "$M" --port "$PORT" -t 1
[ "$RC" -eq 1 ] || fail "a second server on port $PORT: exit $RC (want 1: the port is in use): $ERR"
expect_contains "$ERR" "ddress already in use"
expect_status 200 GET /health
serve_stop

# ---- half-open connections -------------------------------------------------------------
serve_start -m "$M" --read-timeout 5 --max-client-connections 32 --parallel 1
serve_wait_ready
node "$SUP/half_open.js" "$PORT" 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 75 6 > "$TMP/ho" 2>&1 &
HO=$!
for _ in $(seq 1 400); do
  grep -q '^open' "$TMP/ho" && break
  kill -0 "$HO" 2>/dev/null || break
  sleep 0.05
done
held=$(sed -n 's/^open //p' "$TMP/ho")
[ -n "$held" ] || fail "half_open.js did not connect: $(cat "$TMP/ho")"
[ "${held:-999}" -le 128 ] || fail "$held half-open connections held (4 addresses x 32 at most)"
for i in 1 2 3 4 5; do
  CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/health")
  [ "$CODE" = 200 ] || fail "/health under half-open load (try $i): status $CODE"
done
CODE=$(curl -s -m 30 -o /dev/null -w '%{http_code}' $J "$BASE/v1/completions" \
  -d '{"model":"stories260K","prompt":"Once","max_tokens":4}')
[ "$CODE" = 200 ] || fail "a completion under half-open load: status $CODE"
wait "$HO"
res=$(sed -n 's/^still_open //p' "$TMP/ho")
[ "${res%% *}" = 0 ] || fail "half-open connections still open 6 s later (--read-timeout 5): $res"
expect_status 200 GET /health
serve_stop

# ---- an answer that takes longer than the read timeout ------------------------------------
# one slot: the second request waits in the queue while the first generates
serve_start -m "$M" --read-timeout 1 --parallel 1
serve_wait_ready
# (fewer tokens under the sanitizers, which generate ~10x slower)
LONG_TOKENS=1800
[ -n "${FR_SANITIZED:-}" ] && LONG_TOKENS=120
t0=$(date +%s%N)
curl -s -m 300 $J "$BASE/v1/completions" -o "$TMP/first" \
  -d "{\"model\":\"stories260K\",\"prompt\":\"Once upon a time\",\"max_tokens\":$LONG_TOKENS,\"logit_bias\":{\"2\":-100}}" &
FIRST=$!
sleep 0.2
CODE=$(curl -s -m 300 -o "$TMP/second" -w '%{http_code}' $J "$BASE/v1/completions" \
  -d '{"model":"stories260K","prompt":"Once","max_tokens":4}')
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$FIRST"
[ "$CODE" = 200 ] || fail "a request queued for $waited ms: status $CODE: $(head -c 300 "$TMP/second")"
if [ "$waited" -lt 1500 ]; then
  echo "note: the first answer took only $waited ms; the queue wait did not outlast --read-timeout"
fi
node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (!(j.usage.completion_tokens > 60)) process.exit(1);' "$TMP/first" 2>/dev/null ||
  fail "the long answer: $(head -c 300 "$TMP/first" 2>/dev/null)"

serve_stop
finish
