#!/usr/bin/env bash
# frugal merge on stories260K with adapters built by lora_fixture.js: the
# merged model scores a text like the runtime adapter (--verify and a
# separate perplexity run), generates the same greedy text, output types,
# keep on a quantized base, --json, and the refusals (never over an input).
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
command -v node >/dev/null || { echo "SKIP: node is needed for the fixtures and JSON"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
M=$SHARED/models/stories260K.gguf

run_ok "$FRUGAL" run -t 1 -m "$M" -p "Once upon a time" -n 700 --seed 5 --temp 1 --ignore-eos
printf '%s\n' "$OUT" > "$TMP/story.txt"
node "$HERE/lora_fixture.js" "$TMP/a.gguf" rank=4 seed=9 bscale=0.1 || fail "fixture"
node "$HERE/lora_fixture.js" "$TMP/b.gguf" rank=2 seed=4 bscale=0.05 alpha=0 only=attn_q,ffn_up
node "$HERE/lora_fixture.js" "$TMP/zero.gguf" rank=4 bscale=0
cp "$M" "$TMP/base.gguf"
B=$TMP/base.gguf
final_of() { sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\)$/\1 \2/p' <<<"$1"; }

# --- f32: --verify passes, and the merged file scores exactly like the runtime adapter
run_ok "$FRUGAL" merge -t 1 -m "$B" --lora "$TMP/a.gguf:0.8" -o "$TMP/m32.gguf" --out-type f32 \
  --verify "$TMP/story.txt" -c 128
expect_contains "$ERR" "36 of 48 tensors merged"
expect_contains "$ERR" "verify: runtime adapter PPL = "
expect_contains "$ERR" "(ok)"
run_ok "$FRUGAL" perplexity -t 1 -m "$B" -f "$TMP/story.txt" -c 128 --lora "$TMP/a.gguf:0.8"
runtime=$(final_of "$OUT")
run_ok "$FRUGAL" perplexity -t 1 -m "$TMP/m32.gguf" -f "$TMP/story.txt" -c 128
[ "$(final_of "$OUT")" == "$runtime" ] || fail "merged f32 model: $(final_of "$OUT"), runtime: $runtime"
run_ok "$FRUGAL" perplexity -t 1 -m "$B" -f "$TMP/story.txt" -c 128
[ "$(final_of "$OUT")" != "$runtime" ] || fail "the adapter changed nothing"
# greedy text: merged model == base + runtime adapter
run_ok "$FRUGAL" run -t 1 -m "$B" -p "Once upon a time" -n 40 --temp 0 --lora "$TMP/a.gguf:0.8"
want=$OUT
run_ok "$FRUGAL" run -t 1 -m "$TMP/m32.gguf" -p "Once upon a time" -n 40 --temp 0
[ "$OUT" == "$want" ] || fail "merged model generates other text"
# the base file is untouched
cmp -s "$B" "$M" || fail "merge modified the base model"

# --- two adapters; a zero adapter adds nothing, byte for byte
run_ok "$FRUGAL" merge -t 1 -m "$B" --lora "$TMP/a.gguf:0.8" --lora "$TMP/zero.gguf:5" -o "$TMP/mz.gguf" --out-type f32
cmp -s "$TMP/mz.gguf" "$TMP/m32.gguf" || fail "a zero second adapter changed the merged bytes"
run_ok "$FRUGAL" merge -t 1 -m "$B" --lora "$TMP/a.gguf:0.8" --lora "$TMP/b.gguf:-1" -o "$TMP/mab.gguf" \
  --verify "$TMP/story.txt" -c 128 --chunks 2
expect_contains "$ERR" "(ok)"

# --- --json, f16 (auto on an f32 base is f32)
run_ok "$FRUGAL" merge -t 1 -m "$B" --lora "$TMP/a.gguf" -o "$TMP/m16.gguf" --out-type f16 \
  --verify "$TMP/story.txt" -c 128 --chunks 2 --json
printf '%s' "$OUT" > "$TMP/m.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")), v = j.verify;
  const ok = j.n_tensors === 48 && j.n_merged === 36 && j.out_type === "f16" &&
    j.update_rel_err > 0 && j.update_rel_err < 0.01 && v && v.ok === true && v.n_ctx === 128 &&
    v.n_chunks === 2 && v.tolerance === 0.01 && v.rel_diff < 0.01 && v.runtime_ppl > 1;
  if (!ok) { console.error(JSON.stringify(j)); process.exit(1); }' "$TMP/m.json" ||
  fail "merge --json record wrong"
run_ok "$FRUGAL" merge -t 1 -m "$B" --lora "$TMP/a.gguf" -o "$TMP/mauto.gguf" --json
printf '%s' "$OUT" > "$TMP/a.json"
node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  process.exit(j.file_type === 0 && j.verify === undefined ? 0 : 1)' "$TMP/a.json" ||
  fail "auto on an f32 base should write f32 (file type 0)"
run_ok "$FRUGAL" inspect "$TMP/m16.gguf"
expect_contains "$OUT" "f16"

# --- keep on a quantized base warns and reports the loss; q4_k falls back
run_ok "$FRUGAL" quantize "$B" "$TMP/q8.gguf" q8_0
run_ok "$FRUGAL" merge -t 1 -m "$TMP/q8.gguf" --lora "$TMP/a.gguf" -o "$TMP/mkeep.gguf" --out-type keep \
  --verify "$TMP/story.txt" -c 128 --chunks 2
expect_contains "$ERR" "keep re-quantized"
expect_contains "$ERR" "update kept to a relative error of"
expect_contains "$ERR" "not judged"
run_ok "$FRUGAL" merge -t 1 -m "$TMP/q8.gguf" --lora "$TMP/a.gguf" -o "$TMP/mq4.gguf" --out-type q4_k
expect_contains "$ERR" "do not fill q4_k blocks"

# --- refusals
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/a.gguf" -o "$B"
expect_contains "$ERR" "refusing to overwrite"
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/a.gguf" -o "$TMP/a.gguf"
expect_contains "$ERR" "refusing to overwrite"
cmp -s "$B" "$M" || fail "a refused merge touched the base"
run_status 2 "$FRUGAL" merge -m "$B" -o "$TMP/x.gguf"
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/a.gguf"
run_status 2 "$FRUGAL" merge --lora "$TMP/a.gguf" -o "$TMP/x.gguf"
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/a.gguf" -o "$TMP/x.gguf" --out-type q2_k
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/a.gguf:zz" -o "$TMP/x.gguf"
node "$HERE/lora_fixture.js" "$TMP/qwen.gguf" arch=qwen2
run_status 2 "$FRUGAL" merge -m "$B" --lora "$TMP/qwen.gguf" -o "$TMP/x.gguf"
expect_contains "$ERR" "wrong base model"
[ ! -e "$TMP/x.gguf" ] || fail "a failed merge left a file behind"
finish
