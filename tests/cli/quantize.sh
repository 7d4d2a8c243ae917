#!/usr/bin/env bash
# `frugal quantize`: every TYPE on stories260K, the summary and --json, the
# usage errors and refusal to overwrite the input (exit 2, input
# untouched), and no partial output after a failure.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
IN="$SHARED/models/stories260K.gguf"
export FRUGAL_PROGRESS=1

for t in f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m; do
  run_ok "$FRUGAL" quantize "$IN" "$TMP/s-$t.gguf" "$t" -t 2
  expect_contains "$OUT" "wrote $TMP/s-$t.gguf"
  expect_contains "$OUT" "48 tensors, 37 converted"
  expect_contains "$ERR" "quantizing"
  [ -s "$TMP/s-$t.gguf" ] || fail "$t: no output file"
done
run_ok "$FRUGAL" quantize "$IN" "$TMP/m.gguf" Q4_K_M
expect_contains "$OUT" "(Q4_K_M)"
expect_contains "$OUT" "q8_0 3"
cmp -s "$TMP/m.gguf" "$TMP/s-q4_k_m.gguf" || fail "thread count changed the bytes"

run_ok "$FRUGAL" quantize "$IN" "$TMP/j.gguf" q5_k_m --json -t 1
expect_contains "$OUT" '"file_type": "Q5_K_M"'
expect_contains "$OUT" '"file_type_id": 17'
expect_contains "$OUT" '"converted": 37'
expect_not_contains "$ERR" "quantizing"

# usage errors
run_status 2 "$FRUGAL" quantize "$IN" "$TMP/x.gguf"
run_status 2 "$FRUGAL" quantize "$IN" "$TMP/x.gguf" q3_k
expect_contains "$ERR" "frugal: error: unknown TYPE 'q3_k'"
run_status 2 "$FRUGAL" quantize "$IN" "$TMP/x.gguf" q8_0 -t 0
run_status 2 "$FRUGAL" quantize "$IN" "$TMP/x.gguf" q8_0 --bogus
run_ok "$FRUGAL" quantize --help
expect_contains "$OUT" "q4_k_m"
[ -e "$TMP/x.gguf" ] && fail "usage error left an output file"

# never over the input, directly or through a link (a usage error: exit 2)
cp "$IN" "$TMP/in.gguf"
ln -s "$TMP/in.gguf" "$TMP/link.gguf"
run_status 2 "$FRUGAL" quantize "$TMP/in.gguf" "$TMP/in.gguf" q8_0
expect_contains "$ERR" "refusing to overwrite the input"
run_status 2 "$FRUGAL" quantize "$TMP/in.gguf" "$TMP/link.gguf" q8_0
cmp -s "$IN" "$TMP/in.gguf" || fail "the input was modified"

# runtime errors leave nothing behind
mkdir "$TMP/d"
run_status 1 "$FRUGAL" quantize "$TMP/s-q8_0.gguf" "$TMP/d/out.gguf" q4_0
expect_contains "$ERR" "already quantized"
run_status 1 "$FRUGAL" quantize "$TMP/missing.gguf" "$TMP/d/out.gguf" q4_0
printf 'GGUF\003\000\000\000' > "$TMP/trunc.gguf"
run_status 1 "$FRUGAL" quantize "$TMP/trunc.gguf" "$TMP/d/out.gguf" q4_0
[ -z "$(ls -A "$TMP/d")" ] || fail "a failed run left files: $(ls -A "$TMP/d")"
run_ok "$FRUGAL" quantize "$TMP/s-q8_0.gguf" "$TMP/d/out.gguf" q4_0 --allow-requantize
# every TYPE of stories260K still tells the same story's opening: the
# quantized model runs, and its greedy text starts as llama2.c's does
for t in f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m; do
  run_ok "$FRUGAL" quantize "$SHARED/models/stories260K.gguf" "$TMP/run-$t.gguf" "$t"
  run_ok "$FRUGAL" run -m "$TMP/run-$t.gguf" -p "Once upon a time" -n 12 --temp 0 -t 1
  expect_contains "$OUT" ", there was a little girl named Lily."
  rm -f "$TMP/run-$t.gguf"
done
finish
