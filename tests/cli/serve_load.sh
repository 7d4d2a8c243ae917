#!/usr/bin/env bash
# A bounded load test on loopback: 8 concurrent streaming clients x 25
# requests (x 5 under sanitizers) through the OpenAI client against
# `frugal serve --parallel 4` on stories260K (so requests also queue).
# Zero failures; prints p50/p95 latency and aggregate tok/s; the server's
# /metrics agree with what the clients counted.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
need_openai
M=$SHARED/models/stories260K.gguf
REQUESTS=25
[ -n "${FR_SANITIZED:-}" ] && REQUESTS=5
serve_start -m "$M" --parallel 4 --max-queue 16 --energy-meter estimate
serve_wait_ready
BASE=$BASE MODEL=stories260K CLIENTS=8 REQUESTS=$REQUESTS MAX_TOKENS=16 \
  node "$(dirname "$0")/support/serve_load.js" > "$TMP/load.json" 2>&1 ||
  fail "load test: $(cat "$TMP/load.json")"
echo "serve load: $(cat "$TMP/load.json")"
n=$((8 * REQUESTS))
[ "$(json_get "$TMP/load.json" "j.ok + ' ' + j.failed")" = "$n 0" ] || fail "load: $(cat "$TMP/load.json")"
req GET /metrics
expect_contains "$BODY" "frugal_requests_total{endpoint=\"chat_completions\",status=\"200\"} $n"
expect_contains "$BODY" "frugal_generated_tokens_total $((n * 16))"
expect_contains "$BODY" "frugal_slots_active 0"
[ "$(grep -c 'POST /v1/chat/completions 200 .* stream' "$SLOG")" -eq "$n" ] || fail "access log lines"
serve_stop
finish
