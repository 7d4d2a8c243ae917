#!/usr/bin/env bash
# `frugal tokenize`: ids as llama.cpp / llama2.c produce them (expected ids
# copied from ../shared: stories260K.reference.txt and the llama.cpp vocab
# test vectors), raw bytes through --file, output formats, exit codes and
# error messages.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
need_shared vocab/ggml-vocab-llama-bpe.gguf
need_shared vocab/ggml-vocab-qwen2.gguf
STORIES=$SHARED/models/stories260K.gguf
L3=$SHARED/vocab/ggml-vocab-llama-bpe.gguf
QW=$SHARED/vocab/ggml-vocab-qwen2.gguf

# llama2.c's prompt ids (PROMPT_TOKENS in stories260K.reference.txt)
run_ok "$FRUGAL" tokenize -m "$STORIES" --ids "Once upon a time"
[ "$OUT" = "1 403 407 261 378" ] || fail "stories ids: '$OUT'"
run_ok "$FRUGAL" tokenize -m "$STORIES" --ids "Lily and Tom went to the park."
[ "$OUT" = "1 317 269 274 287 263 377 267 265 282 295 433 426" ] || fail "stories ids 2: '$OUT'"
run_ok "$FRUGAL" tokenize -m "$STORIES" --ids --no-bos "Once upon a time"
[ "$OUT" = "403 407 261 378" ] || fail "--no-bos: '$OUT'"

# raw bytes through --file: " Hello world" -> 22691 1917 (llama.cpp vectors),
# with the BOS Llama 3 asks for (128000)
printf ' Hello world' >"$TMP/hw.txt"
run_ok "$FRUGAL" tokenize -m "$L3" --ids --file "$TMP/hw.txt"
[ "$OUT" = "128000 22691 1917" ] || fail "llama-bpe --file: '$OUT'"
printf '\n\n\n' >"$TMP/nl.txt"
run_ok "$FRUGAL" tokenize -m "$L3" --ids --no-bos --file "$TMP/nl.txt"
[ "$OUT" = "1432" ] || fail "three newlines: '$OUT'"
run_ok "$FRUGAL" tokenize -m "$QW" --ids --file - <"$TMP/hw.txt"
[ "$OUT" = "21927 1879" ] || fail "qwen2 from stdin: '$OUT'"

# hostile bytes: invalid UTF-8 and NULs are tokenized, not rejected
printf 'a\377\000b\300' >"$TMP/bad.bin"
run_ok "$FRUGAL" tokenize -m "$L3" --ids --file "$TMP/bad.bin"
run_ok "$FRUGAL" tokenize -m "$STORIES" --pieces --file "$TMP/bad.bin"
expect_contains "$OUT" '\xff'
expect_contains "$OUT" '\x00'
: >"$TMP/empty.txt"
run_ok "$FRUGAL" tokenize -m "$STORIES" --ids --no-bos --file "$TMP/empty.txt"
[ "$OUT" = "" ] || fail "empty file: '$OUT'"

# special tokens: plain text unless --parse-special
run_ok "$FRUGAL" tokenize -m "$QW" --ids "<|im_start|>"
[ "$OUT" != "151644" ] || fail "special text parsed without --parse-special"
run_ok "$FRUGAL" tokenize -m "$QW" --ids --parse-special "<|im_start|>"
[ "$OUT" = "151644" ] || fail "--parse-special: '$OUT'"

# formats
run_ok "$FRUGAL" tokenize -m "$STORIES" "Once upon"
expect_contains "$OUT" "     1 -> '<s>'"
expect_contains "$OUT" "   403 -> ' Once'"
run_ok "$FRUGAL" tokenize -m "$STORIES" --json "Once upon"
expect_contains "$OUT" '"ids": ['
expect_contains "$OUT" '"n_tokens": 3'
if command -v node >/dev/null 2>&1; then
  printf '%s' "$OUT" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.ids.join(" ")!=="1 403 407"||j.tokens[1].piece!==" Once")process.exit(1)})' ||
    fail "--json is not the expected JSON document"
fi
run_ok "$FRUGAL" tokenize -m "$STORIES" --json --file "$TMP/bad.bin"
expect_contains "$OUT" '"hex": "ff"'

# errors: exit 2 for usage, 1 for runtime, messages that say what to do
run_status 2 "$FRUGAL" tokenize "text"
expect_contains "$ERR" "--model"
run_status 2 "$FRUGAL" tokenize -m "$STORIES"
run_status 2 "$FRUGAL" tokenize -m "$STORIES" --file "$TMP/hw.txt" "also text"
run_status 2 "$FRUGAL" tokenize -m "$STORIES" --ids --json x
run_status 1 "$FRUGAL" tokenize -m "$TMP/missing.gguf" x
expect_contains "$ERR" "frugal: error:"
run_status 1 "$FRUGAL" tokenize -m "$STORIES" --file "$TMP/missing.txt"
if [ -e "$SHARED/vocab/ggml-vocab-bert-bge.gguf" ]; then
  # WordPiece: llama.cpp's ids for these strings (vocab/*.out) inside [CLS] .. [SEP]
  run_ok "$FRUGAL" tokenize -m "$SHARED/vocab/ggml-vocab-bert-bge.gguf" --ids "Hello, world!"
  [ "$OUT" = "101 7592 1010 2088 999 102" ] || fail "bert ids: $OUT"
  run_ok "$FRUGAL" tokenize -m "$SHARED/vocab/ggml-vocab-bert-bge.gguf" --ids --no-bos "Führer"
  [ "$OUT" = "11865 17875" ] || fail "bert ids without specials: $OUT"
fi
run_ok "$FRUGAL" tokenize --help
expect_contains "$OUT" "--parse-special"
finish
