#!/usr/bin/env bash
# frugal serve driven by the official OpenAI Node client (openai@4, pinned,
# installed from npm on first use): chat and completions, whole and
# streamed, include_usage, stop, seeds, logprobs, errors; greedy output
# through the server equals `frugal run` for the same prompt. Once on
# stories260K and once on a random-weight model with a byte vocabulary.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
need_openai
JS=$(dirname "$0")/support/serve_openai.js

# expected outputs from `frugal run --json` (its text field is exact)
expect_file() { # MODEL CPROMPT CN HPROMPT HN OUT
  run_ok "$FRUGAL" run -m "$1" -p "$2" -n "$3" --temp 0 --json -t 1
  printf '%s' "$OUT" > "$TMP/c.json"
  run_ok "$FRUGAL" run -m "$1" -p "$4" -n "$5" --temp 0 --json --chat -t 1
  printf '%s' "$OUT" > "$TMP/h.json"
  node -e '
    const fs = require("fs");
    const c = JSON.parse(fs.readFileSync(process.argv[1])), h = JSON.parse(fs.readFileSync(process.argv[2]));
    fs.writeFileSync(process.argv[3], JSON.stringify({
      completion: {prompt: process.argv[4], n: Number(process.argv[5]), text: c.text},
      chat: {prompt: process.argv[6], n: Number(process.argv[7]), text: h.text}}));
  ' "$TMP/c.json" "$TMP/h.json" "$6" "$2" "$3" "$4" "$5"
}

# ---- stories260K, with a key ---------------------------------------------------------
M=$SHARED/models/stories260K.gguf
expect_file "$M" "Once upon a time" 60 "Tell me a story about a cat." 40 "$TMP/expect1.json"
KEY=sk-local-$$
FRUGAL_API_KEY=$KEY serve_start -m "$M" --parallel 3
serve_wait_ready
BASE=$BASE KEY=$KEY MODEL=stories260K EXPECT=$TMP/expect1.json KIND=stories node "$JS" > "$TMP/js1.out" 2>&1 ||
  fail "openai client on stories260K: $(tail -5 "$TMP/js1.out")"
serve_stop

# ---- a random-weight model (byte vocabulary), no key ---------------------------------
R=$TMP/random.gguf
random_model "$R"
expect_file "$R" "the quick brown fox" 30 "hello there" 30 "$TMP/expect2.json"
serve_start -m "$R" --parallel 2 --alias random-test
serve_wait_ready
BASE=$BASE KEY= MODEL=random-test EXPECT=$TMP/expect2.json KIND=random node "$JS" > "$TMP/js2.out" 2>&1 ||
  fail "openai client on the random model: $(tail -5 "$TMP/js2.out")"
serve_stop
finish
