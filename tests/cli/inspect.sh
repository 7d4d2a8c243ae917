#!/usr/bin/env bash
# `frugal inspect` on every shared model, vocab and quant file (human and
# JSON output; JSON parsed by node and checked against facts from the shared
# READMEs and hand computations), on a LoRA adapter, and the error cases with
# their exit codes.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
command -v node >/dev/null || { echo "SKIP: node missing (scripts/deps.sh installs it)"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)

# json_check JSON EXPR: EXPR (JavaScript, the document is `d`) must be true.
json_check() {
  printf '%s' "$1" | node -e '
    const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (!eval(process.argv[1])) { console.error("false: " + process.argv[1]); process.exit(1); }' "$2" \
    || fail "JSON check failed: $2"
}

# --- every shared GGUF file: human output, and one valid JSON document
n=0
for f in "$SHARED"/models/*.gguf "$SHARED"/vocab/*.gguf "$SHARED"/quant/*.gguf; do
  run_ok "$FRUGAL" inspect "$f"
  expect_contains "$OUT" "GGUF v3"
  expect_contains "$OUT" "architecture"
  run_ok "$FRUGAL" inspect --json --tensors --metadata "$f"
  json_check "$OUT" 'typeof d === "object" && d.gguf_version === 3 && Array.isArray(d.tensors)'
  n=$((n + 1))
done
[ "$n" -ge 27 ] || fail "expected at least 27 shared GGUF files, found $n"

# --- stories260K: README facts; parameters by hand: token_embd and output
# 2 x 64x512, output_norm 64, per layer q,o 64x64, k,v 64x32, gate/up/down
# 3 x 64x172, 2 norms x 64 -> 65536 + 64 + 5 x 45440 = 292800
S="$SHARED/models/stories260K.gguf"
run_ok "$FRUGAL" inspect "$S"
expect_contains "$OUT" "kind           model"
expect_contains "$OUT" "292.80 K (292800)"
expect_contains "$OUT" "f32            48"
expect_contains "$OUT" "context_length                    2048"
expect_contains "$OUT" "512 tokens"
expect_contains "$OUT" 'bos            1  "<s>"'
expect_contains "$OUT" "chat template  no"
expect_contains "$OUT" "memory at context 2048"
# KV (f16): 2 x 5 layers x 2048 x 4 kv heads x 8 dims x 2 B = 1310720 B
expect_contains "$OUT" "1.25 MiB  2 (K,V) x 5 layers x 2048 positions x 4 kv heads x 8 dims x 2 B"
run_ok "$FRUGAL" inspect --json "$S"
json_check "$OUT" 'd.architecture === "llama" && d.kind === "model" && d.parameters === 292800'
json_check "$OUT" 'd.tokenizer.model === "llama" && d.tokenizer.vocab_size === 512'
json_check "$OUT" 'd.hparams.context_length === 2048 && d.hparams.block_count === 5 && d.hparams.head_count_kv === 4'
json_check "$OUT" 'd.tokenizer.special.eos.id === 2 && d.tokenizer.special.eos.text === "</s>"'
json_check "$OUT" 'd.memory.context === 2048 && d.memory.kv_cache_bytes === 1310720'
# work (batch 1) = 4 x (3x64 + 2x172 + 8x8 + 4x(8+8) + 8x2048 + 512) = 70240
json_check "$OUT" 'd.memory.work_bytes === 70240 && d.memory.weights_bytes === 1171200'
json_check "$OUT" 'd.memory.total_bytes === 1171200 + 1310720 + 70240'
json_check "$OUT" 'd.tensors === undefined && d.metadata["llama.attention.layer_norm_rms_epsilon"] === 1e-5'
run_ok "$FRUGAL" inspect --json --ctx 100 "$S"
# KV at 100: 2 x 5 x 100 x 4 x 8 x 2 = 64000
json_check "$OUT" 'd.memory.context === 100 && d.memory.kv_cache_bytes === 64000'
run_ok "$FRUGAL" inspect --ctx 8192 "$S"
expect_contains "$OUT" "beyond the training context 2048"
run_ok "$FRUGAL" inspect --tensors "$S"
expect_contains "$OUT" "token_embd.weight"
expect_contains "$OUT" "[64, 512]"
run_ok "$FRUGAL" inspect --metadata "$S"
expect_contains "$OUT" "tokenizer.ggml.tokens  (array)  [string x 512]"

# --- quant files: quant/README.md shapes, types and absolute data offsets
check_quant() { # file type w_ne0 w2_ne0 w_off w2_off
  run_ok "$FRUGAL" inspect --json --tensors "$SHARED/quant/$1.gguf"
  json_check "$OUT" "d.architecture === 'test' && d.kind === 'tensors' && d.tensor_count === 2"
  json_check "$OUT" "d.tensors[0].name === 'w' && d.tensors[0].type === '$2' && d.tensors[0].shape[0] === $3 && d.tensors[0].shape[1] === 8"
  json_check "$OUT" "d.tensors[1].name === 'w2' && d.tensors[1].shape[0] === $4 && d.tensors[1].shape[1] === 4"
  json_check "$OUT" "d.tensors[0].file_offset === $5 && d.tensors[1].file_offset === $6"
}
check_quant q4_0 q4_0 896 4864 448 4480
check_quant q4_1 q4_1 896 4864 448 4928
check_quant q5_0 q5_0 896 4864 448 5376
check_quant q5_1 q5_1 896 4864 448 5824
check_quant q8_0 q8_0 896 4864 448 8064
check_quant q2_k q2_K 2048 2048 448 5824
check_quant q3_k q3_K 2048 8192 480 7520
check_quant q4_k q4_K 2048 8192 480 9696
check_quant q5_k q5_K 2048 8192 480 11744
check_quant q6_k q6_K 2048 8192 448 13888
check_quant f16 f16 896 4864 384 14720
check_quant bf16 bf16 896 4864 448 14784
run_ok "$FRUGAL" inspect --tensors "$SHARED/quant/q6_k.gguf"
expect_contains "$OUT" "13888"
expect_contains "$OUT" "(lower bound)"

# --- vocab-only files: vocab/README.md tokenizer models and pre-tokenizers
check_vocab() { # name model pre
  run_ok "$FRUGAL" inspect --json "$SHARED/vocab/ggml-vocab-$1.gguf"
  json_check "$OUT" "d.kind === 'vocab' && d.tensor_count === 0 && d.memory === null"
  json_check "$OUT" "d.tokenizer.model === '$2' && d.tokenizer.pre === $3"
}
check_vocab llama-spm llama "'default'"
check_vocab llama-bpe gpt2 "'llama-bpe'"
check_vocab qwen2 gpt2 "'qwen2'"
check_vocab gpt-2 gpt2 "'gpt-2'"
check_vocab bert-bge bert "'bert-bge'"
check_vocab gpt-neox gpt2 null
run_ok "$FRUGAL" inspect --json "$SHARED/vocab/ggml-vocab-llama-bpe.gguf"
json_check "$OUT" 'd.tokenizer.vocab_size === 128256 && d.tokenizer.merges === 280147'
json_check "$OUT" 'd.tokenizer.chat_template.present && d.tokenizer.chat_template.first_line === "{{- bos_token }}"'
json_check "$OUT" 'd.tokenizer.special.bos.text === "<|begin_of_text|>" && d.file_type.name === "MOSTLY_F16"'
run_ok "$FRUGAL" inspect "$SHARED/vocab/ggml-vocab-qwen2.gguf"
expect_contains "$OUT" "kind           vocab"
expect_contains "$OUT" "151936 tokens, 151387 merges"
expect_contains "$OUT" "not applicable (vocab-only file"

# --- a LoRA adapter (built byte by byte by gguf_fixtures.js)
node "$HERE/gguf_fixtures.js" lora "$TMP/lora.gguf" || fail "cannot build the LoRA fixture"
run_ok "$FRUGAL" inspect "$TMP/lora.gguf"
expect_contains "$OUT" "kind           adapter (general.type = adapter)"
expect_contains "$OUT" "lora alpha     16"
expect_contains "$OUT" "lora pairs     2, rank 4"
expect_contains "$OUT" "blk.0.attn_v.weight  A f32 [64, 4]  B f32 [4, 32]"
expect_contains "$OUT" "add this to the base model's estimate"
run_ok "$FRUGAL" inspect --json "$TMP/lora.gguf"
json_check "$OUT" 'd.kind === "adapter" && d.adapter.type === "lora" && d.adapter.lora_alpha === 16'
json_check "$OUT" 'd.adapter.pairs.length === 2 && d.adapter.pairs[1].base === "blk.0.attn_v.weight" && d.adapter.pairs[1].rank === 4'
json_check "$OUT" 'd.memory.weights_bytes === 1024 + 1024 + 1024 + 512'

# --- errors and exit codes
run_status 2 "$FRUGAL" inspect
expect_contains "$ERR" "frugal: error:"
run_status 2 "$FRUGAL" inspect --bogus "$S"
run_status 2 "$FRUGAL" inspect --ctx abc "$S"
run_status 2 "$FRUGAL" inspect --ctx 0 "$S"
run_status 2 "$FRUGAL" inspect "$S" "$S"
run_status 1 "$FRUGAL" inspect "$TMP/missing.gguf"
expect_contains "$ERR" "frugal: error: $TMP/missing.gguf: cannot open"
run_status 1 "$FRUGAL" inspect "$SHARED/models/stories260K.bin"
expect_contains "$ERR" "llama2.c checkpoint"
expect_contains "$ERR" "frugal import"
run_status 1 "$FRUGAL" inspect "$SHARED/models/README.md"
expect_contains "$ERR" "text file"
: >"$TMP/empty.gguf"
run_status 1 "$FRUGAL" inspect "$TMP/empty.gguf"
expect_contains "$ERR" "empty"
head -c 100000 "$S" >"$TMP/cut.gguf"
run_status 1 "$FRUGAL" inspect "$TMP/cut.gguf"
expect_contains "$ERR" "cut.gguf: byte "
expect_contains "$ERR" "truncated"
run_status 1 "$FRUGAL" inspect --json "$TMP/cut.gguf"
[ -z "$OUT" ] || fail "--json printed output for a failed file"
node "$HERE/gguf_fixtures.js" iq "$TMP/iq.gguf" || fail "cannot build the IQ fixture"
run_status 1 "$FRUGAL" inspect "$TMP/iq.gguf"
expect_contains "$ERR" "iq2_xxs is not supported"
run_status 1 "$FRUGAL" inspect "$TMP"
run_ok "$FRUGAL" inspect --help
expect_contains "$OUT" "--ctx"
finish
