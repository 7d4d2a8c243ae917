#!/usr/bin/env bash
# frugal run / chat / import on the real stories260K model: greedy output
# equals llama2.c's recorded stdout, seeds reproduce, errors are clean.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
command -v node >/dev/null || { echo "SKIP: node is needed to read the reference JSON"; exit 77; }
M=$SHARED/models/stories260K.gguf
REF=$SHARED/models/stories260K.reference.txt

# CASE 2 of the reference: prompt "Once upon a time", 200 steps in run.c
# (prompt positions included), so 196 new tokens. run.c printed the prompt
# too and a final newline; frugal run prints only the new text, then "\n".
want=$(node -e '
  const t = require("fs").readFileSync(process.argv[1], "utf8");
  const c = t.split("=== CASE 2 ===")[1];
  const j = JSON.parse(c.split("STDOUT_JSON: ")[1].split("\n")[0]);
  process.stdout.write(j.slice("Once upon a time".length));' "$REF")
run_ok "$FRUGAL" run -m "$M" -p "Once upon a time" -n 196 --temp 0
[ "$OUT" == "${want%$'\n'}" ] || fail "greedy text differs from llama2.c's:
got:  ${OUT:0:200}
want: ${want:0:200}"
expect_contains "$ERR" "generated 196 tokens"
expect_contains "$ERR" "finish: length"

# --json: one document with the same text
run_ok "$FRUGAL" run -m "$M" -p "Once upon a time" -n 196 --temp 0 --json
printf '%s' "$OUT" > "$TMP/run.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (j.text !== process.argv[2]) { console.error("json text differs"); process.exit(1); }
  if (j.tokens.generated !== 196 || j.finish_reason !== "length") process.exit(1);' \
  "$TMP/run.json" "${want%$'\n'}" || fail "--json record wrong: ${OUT:0:300}"

# seeds: same seed same text, another seed another text
run_ok "$FRUGAL" run -m "$M" -p "Lily" -n 40 --seed 7 --temp 1
a=$OUT
run_ok "$FRUGAL" run -m "$M" -p "Lily" -n 40 --seed 7 --temp 1
[ "$OUT" == "$a" ] || fail "same seed gave different text"
run_ok "$FRUGAL" run -m "$M" -p "Lily" -n 40 --seed 8 --temp 1
[ "$OUT" != "$a" ] || fail "different seeds gave the same text"

# stop strings end the text before them
run_ok "$FRUGAL" run -m "$M" -p "Once upon a time" -n 196 --temp 0 --stop "Lily"
[ "$OUT" == ", there was a little girl named " ] || fail "stop string: got '$OUT'"
expect_contains "$ERR" "finish: stop"

# prompt from a file; threads do not change greedy output
printf 'Once upon a time' > "$TMP/p.txt"
run_ok "$FRUGAL" run -m "$M" -f "$TMP/p.txt" -n 196 --temp 0 -t 1
[ "$OUT" == "${want%$'\n'}" ] || fail "-f / -t 1 output differs"

# errors
run_status 2 "$FRUGAL" run -p "hi"
expect_contains "$ERR" "no model"
run_status 1 "$FRUGAL" run -m "$TMP/missing.gguf" -p "hi"
expect_contains "$ERR" "missing.gguf"
run_status 2 "$FRUGAL" run -m "$M" -p "hi" --system "x"
run_status 2 "$FRUGAL" run -m "$M" -p "hi" --temp abc
run_status 1 "$FRUGAL" run -m "$M" -p "Once upon a time there was a girl" --ctx 4
expect_contains "$ERR" "context"
run_status 1 "$FRUGAL" run -m "$SHARED/vocab/ggml-vocab-qwen2.gguf" -p "hi"
expect_contains "$ERR" "token_embd.weight"

# import llama2c, then the imported model says the same thing
run_ok "$FRUGAL" import llama2c "$SHARED/models/stories260K.bin" "$SHARED/models/tok512.bin" -o "$TMP/imp.gguf"
run_ok "$FRUGAL" run -m "$TMP/imp.gguf" -p "Once upon a time" -n 196 --temp 0
[ "$OUT" == "${want%$'\n'}" ] || fail "imported model output differs"
run_status 2 "$FRUGAL" import safetensors a b -o x
run_status 1 "$FRUGAL" import llama2c "$SHARED/models/tok512.bin" "$SHARED/models/tok512.bin" -o "$TMP/x.gguf"
[ ! -e "$TMP/x.gguf" ] || fail "a failed import left a file behind"

# "1 thread", not "1 threads"
run_ok "$FRUGAL" run -m "$M" -p "Once" -n 2 -t 1
expect_contains "$ERR" "ctx 2048, 1 thread,"

# chat: turns from stdin, /stats and /reset, clean exit
printf 'Hello\n/stats\n/reset\nTell me a story\n/exit\n' > "$TMP/turns"
_run "$FRUGAL" chat -m "$M" -n 16 --temp 0 < "$TMP/turns"
[ "$RC" -eq 0 ] || fail "chat exited $RC: $ERR"
expect_contains "$ERR" "context"
expect_contains "$ERR" "conversation reset"
[ -n "$OUT" ] || fail "chat printed nothing"
# /help; an unknown /command is refused, not sent to the model (the context
# stays empty); "//" sends a line starting with "/"; an answer cut by a full
# context says so
printf '/help\n/frobnicate now\n/stats\n//hello there\n' > "$TMP/turns2"
_run "$FRUGAL" chat -m "$M" --temp 0 --ctx 96 < "$TMP/turns2"
[ "$RC" -eq 0 ] || fail "chat exited $RC: $ERR"
expect_contains "$ERR" "/reset"
expect_contains "$ERR" "unknown command /frobnicate"
expect_contains "$ERR" "context 0/96 tokens"
expect_contains "$ERR" "the answer was cut: the 96-token context is full"
[ -n "$OUT" ] || fail "chat did not answer the // line"
finish
