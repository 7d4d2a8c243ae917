#!/usr/bin/env bash
# frugal serve over plain HTTP (curl): /health while loading, every error
# status in OpenAI's shape, the API-key matrix, SSE framing, /metrics in
# Prometheus text, energy in usage, CORS, tokenize/detokenize, the access
# log, a client that hangs up freeing its slot, a full queue, an error
# event during a stream at shutdown, and graceful shutdown.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf
KEY=test-secret-$$-key
J='-H Content-Type:application/json'
CHAT='{"model":"stories260K","messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"temperature":0}'

# ---- loading: the socket answers before the model is there -----------------
# (the three requests first, their checks after: each check starts node,
# which on a loaded machine can outlast the 1.5 s of loading)
FRUGAL_API_KEY=$KEY serve_start -m "$M" --test-load-delay 1500 --energy-meter estimate --parallel 2
expect_status 503 GET /health
H_BODY=$BODY
expect_status 200 GET /v1/models                     # public, needs no model
expect_status 503 POST /v1/chat/completions -H "Authorization: Bearer $KEY" $J -d "$CHAT"
expect_error_shape loading
expect_contains "$HDRS" "Retry-After"
BODY=$H_BODY expect_error_shape loading
serve_wait_ready
expect_status 200 GET /health
[ "$(json_get "$TMP/body" j.status)" = ok ] || fail "/health body: $BODY"

# ---- the key: public routes, then each protected route x {none, wrong, basic, right}
expect_status 200 GET /v1/models
[ "$(json_get "$TMP/body" 'j.object + " " + j.data[0].id + " " + j.data[0].object')" = "list stories260K model" ] ||
  fail "/v1/models: $BODY"
expect_status 200 GET /v1/models/stories260K
for route in "POST /v1/chat/completions" "POST /v1/completions" "GET /metrics" "GET /props" \
             "POST /tokenize" "POST /detokenize"; do
  set -- $route
  expect_status 401 "$1" "$2" $J -d '{}'
  expect_error_shape
  expect_contains "$HDRS" "WWW-Authenticate: Bearer"
  expect_status 401 "$1" "$2" -H "Authorization: Bearer wrong-$KEY" $J -d '{}'
  expect_error_shape invalid_api_key
  expect_not_contains "$BODY" "$KEY"
  expect_status 401 "$1" "$2" -H "Authorization: Basic $KEY" $J -d '{}'
  expect_status 401 "$1" "$2" -H "Authorization: Bearer ${KEY}x" $J -d '{}'
  expect_status 401 "$1" "$2" -H "Authorization: Bearer ${KEY:0:10}" $J -d '{}'
done
A=(-H "Authorization: Bearer $KEY")
expect_status 200 GET /metrics "${A[@]}"
expect_status 200 GET /props "${A[@]}"
[ "$(json_get "$TMP/body" 'j.total_slots + " " + j.model')" = "2 stories260K" ] || fail "/props: $BODY"

# ---- a plain completion: shape, usage, energy ----------------------------------
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "$CHAT"
node -e '
  const j = JSON.parse(process.argv[1]);
  const ok = j.object === "chat.completion" && /^chatcmpl-/.test(j.id) && j.model === "stories260K" &&
    /^fp_/.test(j.system_fingerprint) && Number.isInteger(j.created) &&
    j.choices.length === 1 && j.choices[0].index === 0 &&
    j.choices[0].message.role === "assistant" && typeof j.choices[0].message.content === "string" &&
    ["stop", "length"].includes(j.choices[0].finish_reason) && j.choices[0].logprobs === null &&
    j.usage.completion_tokens === 8 && j.usage.prompt_tokens > 0 &&
    j.usage.total_tokens === j.usage.prompt_tokens + 8 &&
    Number.isInteger(j.usage.prompt_tokens_details.cached_tokens) &&
    typeof j.usage.energy_joules === "number" && j.usage.energy_joules > 0 &&
    j.usage.energy_source === "estimate";
  if (!ok) process.exit(1);' "$BODY" || fail "chat.completion shape: $BODY"
# the same prompt again reuses the slot cache
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "$CHAT"
[ "$(json_get "$TMP/body" j.usage.prompt_tokens_details.cached_tokens)" -gt 0 ] ||
  fail "second identical prompt: no cached tokens: $BODY"

# ---- 404, 405 -----------------------------------------------------------------------
expect_status 404 GET /v1/nothing "${A[@]}"
expect_error_shape unknown_url
expect_status 404 POST /v1/chat/completions "${A[@]}" $J \
  -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}'
expect_error_shape model_not_found
expect_status 404 GET /v1/models/gpt-4o
expect_error_shape model_not_found
expect_status 405 GET /v1/chat/completions "${A[@]}"
expect_error_shape
expect_contains "$HDRS" "Allow: POST"
expect_status 405 POST /health
expect_status 405 DELETE /v1/models
expect_status 405 OPTIONS /v1/models                  # no CORS unless --cors
expect_not_contains "$HDRS" "Access-Control-Allow-Origin"

# ---- 400s: each names what is wrong ---------------------------------------------------
bad() { # WANT_SUBSTRING BODY [PATH]
  expect_status 400 POST "${3:-/v1/chat/completions}" "${A[@]}" $J --data-binary "$2"
  expect_error_shape
  expect_contains "$BODY" "$1"
}
bad "parse" '{"model":'
bad "messages" '{"model":"stories260K"}'
bad "empty array" '{"model":"stories260K","messages":[]}'
bad "max_tokens" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"max_tokens":0}'
bad "temperature" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"temperature":3}'
bad "top_logprobs" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}'
bad "tools" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}'
bad "response_format" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}'
bad "n = 2" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"n":2}'
bad "frobnicate" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"frobnicate":1}'
bad "role" '{"model":"stories260K","messages":[{"role":"tool","content":"x"}]}'
bad "stream_options" '{"model":"stories260K","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}'
bad "prompt" '{"model":"stories260K"}' /v1/completions
bad "echo" '{"model":"stories260K","prompt":"x","echo":true}' /v1/completions
bad "vocabulary" '{"model":"stories260K","prompt":[1,99999]}' /v1/completions
# bookkeeping fields are accepted
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d \
  '{"model":"stories260K","messages":[{"role":"user","content":"Hi"}],"max_tokens":2,"user":"u1","metadata":{"a":"b"},"store":false,"n":1,"tools":null}'
# a prompt longer than the context: both numbers in the message
long=$(printf 'Once upon a time %.0s' $(seq 1 700))
expect_status 200 POST /tokenize "${A[@]}" $J -d "{\"content\":\"$long\",\"add_special\":true}"
n_long=$(json_get "$TMP/body" j.tokens.length)
[ "$n_long" -gt 2048 ] || fail "long prompt has only $n_long tokens"
expect_status 400 POST /v1/completions "${A[@]}" $J -d "{\"model\":\"stories260K\",\"prompt\":\"$long\"}"
expect_error_shape context_length_exceeded
expect_contains "$BODY" "2048"
expect_contains "$BODY" "$n_long"
# max_tokens past the context is accepted (as OpenAI and llama-server do):
# the answer stops where the context is full, finish_reason "length", and
# the usage says what the context allowed (a prompt of ~1900 tokens keeps
# the generation short; EOS is biased away so that only the context stops it)
mid=$(printf 'Once upon a time %.0s' $(seq 1 480))
expect_status 200 POST /v1/completions "${A[@]}" $J -d \
  "{\"model\":\"stories260K\",\"prompt\":\"$mid\",\"max_tokens\":4096,\"temperature\":0,\"logit_bias\":{\"2\":-100}}"
node -e '
  const j = JSON.parse(process.argv[1]), u = j.usage;
  // 2048 tokens in the context, and the last one sampled from it
  if (j.choices[0].finish_reason !== "length" || u.prompt_tokens + u.completion_tokens !== 2049 ||
      !u.context || u.context.n_ctx !== 2048 ||
      u.context.completion_tokens_allowed !== u.completion_tokens) process.exit(1);
' "$BODY" || fail "max_tokens 4096 on a 2048-token context: ${BODY:0:200} ... usage $(json_get "$TMP/body" j.usage)"
# stopped by max_tokens, not the context: no "context" in the usage
expect_status 200 POST /v1/completions "${A[@]}" $J -d '{"model":"stories260K","prompt":"Once","max_tokens":3,"logit_bias":{"2":-100}}'
[ "$(json_get "$TMP/body" '[j.choices[0].finish_reason, "context" in j.usage].join()')" = "length,false" ] ||
  fail "max_tokens 3: $(json_get "$TMP/body" j.usage)"

# ---- SSE framing ----------------------------------------------------------------------------
curl -sN -D "$TMP/sse.h" "${A[@]}" $J "$BASE/v1/chat/completions" -o "$TMP/sse" \
  -d '{"model":"stories260K","messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
expect_contains "$(cat "$TMP/sse.h")" "text/event-stream"
node -e '
  const t = require("fs").readFileSync(process.argv[1], "utf8");
  if (!t.endsWith("data: [DONE]\n\n")) throw new Error("no final [DONE]");
  const events = t.split("\n\n").filter(e => e.length);
  let text = "", role = false, finish = null, usage = null;
  for (const ev of events) {
    if (!ev.startsWith("data: ") || ev.includes("\n")) throw new Error("bad framing: " + JSON.stringify(ev));
    const d = ev.slice(6);
    if (d === "[DONE]") continue;
    const j = JSON.parse(d);
    if (j.object !== "chat.completion.chunk") throw new Error("object " + j.object);
    if (!("usage" in j)) throw new Error("include_usage: every chunk has usage");
    if (j.choices.length === 0) { usage = j.usage; continue; }
    if (j.usage !== null) throw new Error("usage before the end");
    const c = j.choices[0];
    if (c.delta.role === "assistant") role = true;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  if (!role || finish !== "length" || !usage || usage.completion_tokens !== 6)
    throw new Error("role/finish/usage: " + role + " " + finish + " " + JSON.stringify(usage));
  if (typeof usage.energy_joules !== "number") throw new Error("usage without energy");
' "$TMP/sse" || fail "SSE framing: $(head -c 600 "$TMP/sse")"
# without include_usage no chunk carries usage
curl -sN "${A[@]}" $J "$BASE/v1/completions" -o "$TMP/sse2" \
  -d '{"model":"stories260K","prompt":"Once","max_tokens":4,"stream":true}'
expect_not_contains "$(cat "$TMP/sse2")" '"usage"'
expect_contains "$(cat "$TMP/sse2")" '"object":"text_completion"'
expect_contains "$(cat "$TMP/sse2")" 'data: [DONE]'

# ---- tokenize / detokenize ------------------------------------------------------------------
expect_status 200 POST /tokenize "${A[@]}" $J -d '{"content":"Once upon a time"}'
toks=$(json_get "$TMP/body" 'j.tokens')
expect_status 200 POST /detokenize "${A[@]}" $J -d "{\"tokens\":$toks}"
[ "$(json_get "$TMP/body" j.content)" = "Once upon a time" ] || fail "detokenize: $BODY"
expect_status 200 POST /tokenize "${A[@]}" $J -d '{"content":"Once","with_pieces":true}'
expect_contains "$BODY" '"piece"'
expect_status 400 POST /detokenize "${A[@]}" $J -d '{"tokens":[-1]}'

# ---- /metrics: Prometheus text ------------------------------------------------------------
expect_status 200 GET /metrics "${A[@]}"
expect_contains "$HDRS" "text/plain; version=0.0.4"
printf '%s\n' "$BODY" > "$TMP/metrics"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? -?[0-9.e+Inf-]+$/;
  const typed = new Set();
  for (const l of lines) {
    if (l.startsWith("# HELP ")) continue;
    if (l.startsWith("# TYPE ")) { typed.add(l.split(" ")[2]); continue; }
    if (!sample.test(l)) throw new Error("bad sample line: " + l);
    const name = l.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, "");
    if (!typed.has(name)) throw new Error("no TYPE before " + l);
  }
  const need = ["frugal_requests_total{endpoint=\"chat_completions\",status=\"200\"}",
    "frugal_requests_total{endpoint=\"chat_completions\",status=\"401\"}",
    "frugal_requests_total{endpoint=\"chat_completions\",status=\"400\"}",
    "frugal_energy_joules_total{source=\"estimate\"}",
    "frugal_energy_joules_per_token{source=\"estimate\"}",
    "frugal_request_duration_seconds_bucket{endpoint=\"chat_completions\",le=\"+Inf\"}",
    "frugal_slots 2", "frugal_slots_active 0", "frugal_queue_depth 0", "frugal_model_loaded 1",
    "frugal_generated_tokens_total", "frugal_prompt_tokens_total", "frugal_tokens_per_second"];
  const text = lines.join("\n");
  for (const n of need) if (!text.includes(n)) throw new Error("missing " + n);
  const j = Number(text.match(/frugal_energy_joules_total\{source="estimate"\} ([0-9.e+-]+)/)[1]);
  if (!(j > 0)) throw new Error("energy total " + j);
' "$TMP/metrics" || fail "/metrics format: $(head -c 800 "$TMP/metrics")"

# ---- access log: one line per request; the key never appears ----------------------------
expect_contains "$(cat "$SLOG")" "POST /v1/chat/completions 200 prompt="
expect_contains "$(cat "$SLOG")" "GET /health 503"
expect_contains "$(cat "$SLOG")" "POST /v1/completions 401"
expect_not_contains "$(cat "$SLOG")" "$KEY"
serve_stop

# ---- CORS on request; energy off -------------------------------------------------------------
serve_start -m "$M" --cors "https://app.example" --energy-meter none --alias tiny
serve_wait_ready
expect_status 204 OPTIONS /v1/chat/completions -H "Origin: https://app.example" \
  -H "Access-Control-Request-Method: POST"
expect_contains "$HDRS" "Access-Control-Allow-Origin: https://app.example"
expect_contains "$HDRS" "Access-Control-Allow-Methods"
expect_status 200 POST /v1/completions $J -d '{"model":"tiny","prompt":"Once","max_tokens":3}'
expect_contains "$HDRS" "Access-Control-Allow-Origin: https://app.example"
[ "$(json_get "$TMP/body" 'j.usage.energy_joules + " " + j.usage.energy_source')" = "null none" ] ||
  fail "energy off: $BODY"
serve_stop

# ---- one slot: a client that hangs up frees it at once; a full queue is a 503 --------------
serve_start -m "$M" --parallel 1 --max-queue 1 --shutdown-timeout 0.5
serve_wait_ready
LONG='{"model":"stories260K","prompt":"Once upon a time","max_tokens":2000,"temperature":0,"logit_bias":{"2":-100},"stream":true}'
curl -sN $J "$BASE/v1/completions" -d "$LONG" -o "$TMP/long1" & C1=$!
for _ in $(seq 1 200); do [ -s "$TMP/long1" ] && break; sleep 0.05; done
curl -sN $J "$BASE/v1/completions" -d "$LONG" -o "$TMP/long2" & C2=$!
for _ in $(seq 1 100); do
  req GET /metrics
  case "$BODY" in *"frugal_queue_depth 1"*) break ;; esac
  sleep 0.05
done
expect_contains "$BODY" "frugal_slots_active 1"
expect_contains "$BODY" "frugal_queue_depth 1"
expect_status 503 POST /v1/completions $J -d '{"model":"stories260K","prompt":"Once","max_tokens":2}'
expect_error_shape overloaded
expect_contains "$HDRS" "Retry-After"
# hang up both clients: the slot and the queue empty at once
kill "$C1" "$C2" 2>/dev/null
wait "$C1" "$C2" 2>/dev/null
t0=$(date +%s%N)
for _ in $(seq 1 100); do
  req GET /metrics
  case "$BODY" in *"frugal_slots_active 0"*"frugal_queue_depth 0"*) break ;; esac
  sleep 0.02
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_contains "$BODY" "frugal_slots_active 0"
expect_contains "$BODY" "frugal_queue_depth 0"
[ "$ms" -lt 1500 ] || fail "slot freed only after $ms ms"
expect_status 200 POST /v1/completions $J -d '{"model":"stories260K","prompt":"Once","max_tokens":2}'
# the log line is written by the slot's thread: give a loaded machine a moment
for _ in $(seq 1 100); do grep -q client-gone "$SLOG" && break; sleep 0.05; done
expect_contains "$(cat "$SLOG")" "client-gone"

# ---- shutdown: a stream past the deadline ends with an error event; exit 0 --------------
curl -sN $J "$BASE/v1/completions" -d "$LONG" -o "$TMP/long3" & C3=$!
for _ in $(seq 1 200); do [ -s "$TMP/long3" ] && break; sleep 0.05; done
t0=$(date +%s)
serve_stop
wait "$C3" 2>/dev/null
[ $(( $(date +%s) - t0 )) -le 5 ] || fail "shutdown took more than 5 s"
expect_contains "$(cat "$TMP/long3")" 'data: {"error":'
expect_contains "$(cat "$TMP/long3")" "shutting_down"
expect_contains "$(cat "$SLOG")" "stopped"

# ---- usage errors -----------------------------------------------------------------------------
run_status 2 "$FRUGAL" serve
expect_contains "$ERR" "no model"
run_status 2 "$FRUGAL" serve -m "$M" --api-key a --api-key-file b
run_status 1 "$FRUGAL" serve -m "$TMP/missing.gguf" --port 0
expect_contains "$ERR" "missing.gguf"
finish
