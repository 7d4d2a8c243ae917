#!/usr/bin/env bash
# The files frugal writes, read by llama.cpp itself: every `frugal quantize`
# type of stories260K, random llama / qwen2 / qwen3 models (n_embd 256, so
# the K types use real 256-wide super-blocks) at F32 and quantized, a LoRA
# adapter trained by `frugal tune` and the model `frugal merge` bakes it into.
# llama.cpp must load each one and agree with frugal's greedy tokens step by
# step (support/llamacpp.sh). The newer architectures are in
# llamacpp_archs.sh.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/support/llamacpp.sh"
M=$SHARED/models/stories260K.gguf

# ---- stories260K as shipped, and every type frugal quantize writes
agree "stories260K f32" "$M"
for t in f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m; do
  run_ok "$FRUGAL" quantize "$M" "$TMP/s-$t.gguf" "$t"
  agree "stories260K $t" "$TMP/s-$t.gguf"
done

# ---- random models of each architecture; K types on 256-wide rows
for arch in llama qwen2 qwen3; do
  "$B/test_model_forward" --write-model "$arch" "$TMP/$arch.gguf" || { fail "write $arch"; continue; }
  agree "$arch f32" "$TMP/$arch.gguf"
  for t in q8_0 q4_0 q4_k_m q5_k_m q6_k; do
    run_ok "$FRUGAL" quantize "$TMP/$arch.gguf" "$TMP/$arch-$t.gguf" "$t"
    agree "$arch $t" "$TMP/$arch-$t.gguf"
  done
done

# ---- a LoRA adapter from frugal tune, and the model frugal merge writes with it
cat > "$TMP/train.txt" <<'EOF'
Once upon a time, there was a little dog named Max. Max liked to run in the garden. One day, Max saw
a big red ball under the tree. He ran to the ball and played with it all day. His friend, a small cat
named Tom, came to play too. They were very happy together. Tom and Max ran and jumped until the sun
went down. Then they went home and slept. The next day, they played again.
EOF
run_ok "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/lora.gguf" --ctx 32 --rank 4 --batch 2 \
  --lr 2e-2 --steps 30 -t 1 --seed 5
agree "stories260K" "$M"
base_ids=$LAST_IDS
agree "stories260K + frugal tune adapter" "$M" --lora "$TMP/lora.gguf:1"
[ "$LAST_IDS" != "$base_ids" ] || fail "the adapter did not change the greedy tokens: the check would prove nothing"
run_ok "$FRUGAL" merge -t 1 -m "$M" --lora "$TMP/lora.gguf:1" -o "$TMP/merged.gguf" --out-type f32
agree "frugal merge (f32)" "$TMP/merged.gguf"
run_ok "$FRUGAL" merge -t 1 -m "$TMP/s-q8_0.gguf" --lora "$TMP/lora.gguf:1" -o "$TMP/merged-q8.gguf"
agree "frugal merge (q8_0 base, q8_0 out)" "$TMP/merged-q8.gguf"

finish
