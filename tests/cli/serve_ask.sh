#!/usr/bin/env bash
# Grounded answers over HTTP: POST /v1/ask (frugal serve --db) returns the
# JSON of `frugal ask --json` (same model answer for the same question) plus
# usage with energy; the gate abstains without generating; a model that
# cannot answer (stories260K knows nothing of the corpus) abstains; every
# caller mistake is a 400 in OpenAI's shape; the key is required; without
# --db the route says how to enable it. Chat completions with "documents":
# the grounding object, abstention, 400s for bad documents. An ask in flight
# does not hold up ordinary requests (it runs in a slot, batched), and those
# requests still produce their usual output.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf
CORPUS=$(cd "$(dirname "$0")/../data/rag" && pwd)
KEY=ask-secret-$$
J='-H Content-Type:application/json'
A=(-H "Authorization: Bearer $KEY")
Q='What does the Aurora X2 thermometer cost?'

run_ok "$FRUGAL" index --db "$TMP/kb.sqlite" "$CORPUS"

# ---- a --db that is not a knowledge base stops the server at start -----------
run_status 1 "$FRUGAL" serve -m "$M" --port 0 -t 1 --db "$TMP/missing.sqlite"
expect_contains "$ERR" "--db"
expect_contains "$ERR" "frugal index"
printf 'not a database at all, just some text that is long enough to be a header' > "$TMP/junk.sqlite"
run_status 1 "$FRUGAL" serve -m "$M" --port 0 -t 1 --db "$TMP/junk.sqlite"

# ---- without --db: 404 that says how to enable it ------------------------------
serve_start -m "$M"
serve_wait_ready
expect_status 404 POST /v1/ask $J -d "{\"question\":\"$Q\"}"
expect_error_shape ask_not_enabled
expect_contains "$BODY" "--db KB.sqlite"
serve_stop

# ---- with --db ------------------------------------------------------------------
FRUGAL_API_KEY=$KEY serve_start -m "$M" --db "$TMP/kb.sqlite" --parallel 2 --ctx 2304 \
  --energy-meter estimate
serve_wait_ready

# auth: none, wrong, right
expect_status 401 POST /v1/ask $J -d "{\"question\":\"$Q\"}"
expect_error_shape
expect_status 401 POST /v1/ask -H "Authorization: Bearer x$KEY" $J -d "{\"question\":\"$Q\"}"
expect_error_shape invalid_api_key
expect_status 405 GET /v1/ask "${A[@]}"
expect_error_shape method_not_allowed

# 400s, each naming its field
for bad in '' '{' '[]' '{}' '{"question":""}' '{"question":"   "}' '{"question":7}' \
           '{"question":"q","k":0}' '{"question":"q","k":99}' '{"question":"q","min_support":3}' \
           '{"question":"q","gate":"yes"}' '{"question":"q","max_bytes":1}' \
           '{"question":"q","temperature":0}'; do
  expect_status 400 POST /v1/ask "${A[@]}" $J -d "$bad"
  expect_error_shape
done
expect_status 400 POST /v1/ask "${A[@]}" $J -d '{}'
[ "$(json_get "$TMP/body" j.error.param)" = question ] || fail "missing question: $BODY"
expect_status 400 POST /v1/ask "${A[@]}" $J -d '{"question":"q","temperature":0}'
[ "$(json_get "$TMP/body" j.error.param)" = temperature ] || fail "unknown field: $BODY"
expect_status 404 POST /v1/ask "${A[@]}" $J -d '{"question":"q","model":"gpt-4o"}'
expect_error_shape model_not_found

# a question the corpus covers: retrieval passes, the model generates, and
# since stories260K cannot answer, the answer is not shown (k 2 keeps the
# prompt short: prefill is the slow part under the sanitizers)
expect_status 200 POST /v1/ask "${A[@]}" $J -d "{\"question\":\"$Q\",\"k\":2,\"max_bytes\":120}"
cp "$TMP/body" "$TMP/ask.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const errs = [];
  if (j.question !== process.argv[2]) errs.push("question");
  if (!["abstain_low_support", "abstain_not_found"].includes(j.outcome)) errs.push("outcome " + j.outcome);
  if (j.abstained !== true || j.answer !== "The documents do not answer this.") errs.push("abstained/answer");
  // an abstention does not hand out the draft it did not stand behind
  if ("model_answer" in j || (j.sentences || []).some(s => "text" in s ||
      (s.subclaims || []).some(u => "text" in u))) errs.push("draft shown");
  // document paths are relative to the indexed directory, not the server'"'"'s layout
  const paths = (j.passages || []).map(p => p.path).concat(
      (j.sentences || []).flatMap(s => s.citations.map(c => c.path).filter(Boolean)));
  if (paths.some(p => p.startsWith("/") || p.includes(process.argv[3]))) errs.push("absolute path");
  if (!(j.gate && j.gate.pass === true)) errs.push("gate");
  if (!Array.isArray(j.passages) || j.passages.length < 1 || j.passages[0].path !== "products.md") errs.push("passages");
  if (!Array.isArray(j.sentences) || typeof j.score !== "number" || !(j.threshold > 0 && j.threshold < 1)) errs.push("check");
  if (j.sentences.some(s => !Array.isArray(s.subclaims))) errs.push("subclaims");
  if (!(j.energy && j.energy.tokens > 0 && typeof j.energy.joules === "number")) errs.push("energy");
  const u = j.usage;
  if (!u || u.completion_tokens !== j.energy.tokens || !(u.prompt_tokens > 100) ||
      u.energy_source !== "estimate" || !(u.energy_joules > 0)) errs.push("usage");
  if (!/^ask-/.test(j.id) || j.model !== "stories260K") errs.push("id/model");
  if (errs.length) { console.error(errs.join(", ")); process.exit(1); }
' "$TMP/ask.json" "$Q" "$CORPUS" || fail "/v1/ask answer shape: ${BODY:0:600}"
# the same generation as `frugal ask` (constrained greedy decoding is
# deterministic): the same tokens, scores and passages; the CLI names its
# documents by their full path (it is the user's own disk)
run_ok "$FRUGAL" ask --db "$TMP/kb.sqlite" -m "$M" -t 1 --k 2 --max-bytes 120 --json "$Q"
printf '%s' "$OUT" > "$TMP/cli.json"
same='[j.energy.tokens, j.score, j.sentences.map(s => s.score).join(";")].join("|")'
[ "$(json_get "$TMP/cli.json" "$same")" = "$(json_get "$TMP/ask.json" "$same")" ] ||
  fail "server and frugal ask differ: '$(json_get "$TMP/cli.json" "$same")' vs '$(json_get "$TMP/ask.json" "$same")'"
[ "$(json_get "$TMP/cli.json" 'j.passages.map(p => p.path + p.byte_off).join()')" = \
  "$(json_get "$TMP/ask.json" "j.passages.map(p => '$CORPUS/' + p.path + p.byte_off).join()")" ] ||
  fail "server and frugal ask retrieved different passages"

# a question the corpus does not cover: the gate abstains, nothing generated
expect_status 200 POST /v1/ask "${A[@]}" $J -d '{"question":"Which drones does the Zephyr 9000 support?"}'
[ "$(json_get "$TMP/body" '[j.outcome, j.abstained, j.answer, j.energy.tokens, j.usage.completion_tokens].join("|")')" = \
  "abstain_retrieval|true|The documents do not answer this.|0|0" ] || fail "gate abstention: ${BODY:0:400}"
# k and min_support are applied
expect_status 200 POST /v1/ask "${A[@]}" $J -d "{\"question\":\"$Q\",\"k\":2,\"min_support\":0.9,\"max_bytes\":40}"
[ "$(json_get "$TMP/body" '[j.passages.length, j.threshold].join()')" = "2,0.9" ] || fail "k/min_support: ${BODY:0:300}"

# ---- chat completions with documents ----------------------------------------------
DOCS='"documents":["Lily went to the park.",{"text":"Tom stayed home with his dog.","title":"Tom"}]'
CH='"model":"stories260K","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Where did Lily go?"}]'
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "{$CH,$DOCS,\"max_tokens\":40}"
node -e '
  const j = JSON.parse(process.argv[1]);
  const errs = [];
  if (j.object !== "chat.completion" || !/^chatcmpl-/.test(j.id)) errs.push("envelope");
  const c = j.choices && j.choices[0];
  if (!c || c.message.role !== "assistant" || typeof c.message.content !== "string") errs.push("message");
  if (!["stop", "length"].includes(c.finish_reason)) errs.push("finish_reason");
  const g = j.grounding;
  if (!g || typeof g.abstained !== "boolean" || typeof g.score !== "number" || !(g.threshold > 0 && g.threshold < 1) ||
      !Array.isArray(g.sentences) || !Array.isArray(g.citations) || typeof g.model_answer !== "string")
    errs.push("grounding");
  else {
    if (!["answered", "abstain_low_support", "abstain_not_found"].includes(g.outcome)) errs.push("outcome");
    if (g.abstained !== (g.outcome !== "answered")) errs.push("abstained vs outcome");
    if (g.abstained && (c.message.content !== "The documents do not answer this." || g.citations.length))
      errs.push("abstained content/citations");
    if (!g.abstained && c.message.content !== g.model_answer) errs.push("answered content");
    for (const s of g.sentences)
      if (typeof s.text !== "string" || typeof s.score !== "number" || !Array.isArray(s.citations))
        errs.push("sentence");
  }
  if (!(j.usage.completion_tokens > 0 && j.usage.completion_tokens <= 40) || j.usage.energy_source !== "estimate")
    errs.push("usage");
  if (errs.length) { console.error(errs.join(", ")); process.exit(1); }
' "$BODY" || fail "chat with documents: ${BODY:0:600}"
# stories260K cannot follow the citation format: it abstains
[ "$(json_get "$TMP/body" 'j.grounding.abstained + "|" + j.choices[0].message.content')" = \
  "true|The documents do not answer this." ] || fail "expected an abstention: ${BODY:0:300}"
# min_support lands in the threshold
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "{$CH,$DOCS,\"max_tokens\":8,\"min_support\":0.75}"
[ "$(json_get "$TMP/body" j.grounding.threshold)" = 0.75 ] || fail "min_support: ${BODY:0:300}"
# bad documents and what cannot go with them
for bad in '"documents":"Lily went to the park."' '"documents":[]' '"documents":[42]' \
           '"documents":[{"title":"no text"}]' '"documents":[{"text":"a","url":"u"}]' \
           '"documents":[""]' '"documents":[{"text":"a","title":3}]' \
           '"documents":["a"],"stream":true' '"documents":["a"],"stop":"."' \
           '"documents":["a"],"logprobs":true' '"min_support":0.5'; do
  expect_status 400 POST /v1/chat/completions "${A[@]}" $J -d "{$CH,$bad}"
  expect_error_shape
done
expect_status 400 POST /v1/chat/completions "${A[@]}" $J -d "{$CH,\"documents\":[\"a\"],\"stream\":true}"
expect_contains "$BODY" "not supported with 'documents'"
expect_status 401 POST /v1/chat/completions $J -d "{$CH,$DOCS}"

# ---- the official OpenAI client passes documents through and reads grounding --------
# (skipped, not failed, when npm cannot install it)
if ( need_openai >/dev/null 2>&1 ); then
  OPENAI_NODE_MODULES=${FR_BUILD:-$TMP}/serve-npm/node_modules BASE=$BASE KEY=$KEY node -e '
    const OpenAI = require(require("path").join(process.env.OPENAI_NODE_MODULES, "openai"));
    const client = new OpenAI({baseURL: process.env.BASE + "/v1", apiKey: process.env.KEY, maxRetries: 0});
    (async () => {
      const r = await client.chat.completions.create({model: "stories260K", max_tokens: 12,
        messages: [{role: "user", content: "Where did Lily go?"}],
        documents: ["Lily went to the park.", {text: "Tom stayed home.", title: "Tom"}]});
      if (!r.grounding || typeof r.grounding.abstained !== "boolean" ||
          typeof r.choices[0].message.content !== "string") throw new Error(JSON.stringify(r));
      const a = await client.post("/ask", {body: {question: "What does the Aurora X2 thermometer cost?", k: 2, max_bytes: 30}});
      if (typeof a.abstained !== "boolean" || !Array.isArray(a.passages)) throw new Error(JSON.stringify(a));
      try {
        await client.chat.completions.create({model: "stories260K", stream: true,
          messages: [{role: "user", content: "Q"}], documents: ["a"]});
        throw new Error("stream with documents was accepted");
      } catch (e) {
        if (!(e instanceof OpenAI.BadRequestError) || !/documents/.test(e.message)) throw e;
      }
    })().catch(e => { console.error(e.message || e); process.exit(1); });
  ' > "$TMP/js.out" 2>&1 || fail "openai client with documents / ask: $(tail -3 "$TMP/js.out")"
fi

# ---- an ask in flight does not hold up ordinary requests ---------------------------
CHAT='{"model":"stories260K","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":24,"temperature":0}'
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "$CHAT"
SOLO=$(json_get "$TMP/body" 'j.choices[0].message.content')
# a long ask (no gate; stories260K writes ~2 bytes a token, so ~500 tokens)
curl -s -o "$TMP/long.json" -w '%{http_code}' "${A[@]}" $J -d "{\"question\":\"$Q\",\"k\":2,\"gate\":false,\"max_bytes\":1000}" \
  "$BASE/v1/ask" > "$TMP/long.code" &
APID=$!
for _ in $(seq 1 400); do
  curl -s "${A[@]}" "$BASE/metrics" | grep -q '^frugal_slots_active 1' && break
  sleep 0.02
done
kill -0 "$APID" 2>/dev/null || fail "the long ask ended before the concurrent requests (too short to test)"
curl -s -N -o "$TMP/stream.txt" "${A[@]}" $J -d "${CHAT%\}},\"stream\":true}" "$BASE/v1/chat/completions" &
SPID2=$!
expect_status 200 POST /v1/chat/completions "${A[@]}" $J -d "$CHAT"
wait "$SPID2"
kill -0 "$APID" 2>/dev/null || fail "the chats waited for the ask to finish (no batching with it?)"
[ "$(json_get "$TMP/body" 'j.choices[0].message.content')" = "$SOLO" ] ||
  fail "a chat beside an ask differs from the same chat alone"
expect_contains "$(cat "$TMP/stream.txt")" "data: [DONE]"
wait "$APID"
[ "$(cat "$TMP/long.code")" = 200 ] || fail "long ask: $(head -c 300 "$TMP/long.json")"
[ "$(json_get "$TMP/long.json" '[j.abstained, j.energy.tokens > 100, j.usage.completion_tokens === j.energy.tokens].join()')" = "true,true,true" ] ||
  fail "long ask: $(head -c 300 "$TMP/long.json")"

# ---- the log and the metrics count the asks ----------------------------------------
expect_status 200 GET /metrics "${A[@]}"
expect_contains "$BODY" 'frugal_requests_total{endpoint="ask",status="200"}'
expect_contains "$BODY" 'frugal_requests_total{endpoint="ask",status="400"}'
expect_contains "$BODY" 'frugal_request_duration_seconds_count{endpoint="ask"}'
serve_stop
expect_contains "$(cat "$SLOG")" "POST /v1/ask 200"
expect_not_contains "$(cat "$SLOG")" "$KEY"
finish
