#!/usr/bin/env bash
# frugal tune on the real stories260K model: usage errors, --dump-masks,
# --mem-limit refusal, progress formats, the adapter it writes (loadable
# by run --lora), resume from a checkpoint gives the same adapter byte for
# byte, SIGTERM writes a checkpoint that resumes to the uninterrupted
# result, a NaN loss names the last good checkpoint.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf

cat > "$TMP/story.txt" <<'EOF'
Once upon a time, there was a little dog named Max. Max liked to run in the garden. One day, Max saw
a big red ball under the tree. He ran to the ball and played with it all day. His friend, a small cat
named Tom, came to play too. They were very happy together. The sun was warm and the grass was green.
Tom and Max ran and jumped until the sun went down. Then they went home and slept. The next day, they
played again, and every day after that. They were best friends forever.
EOF
# a few more copies so there are enough windows
for i in 1 2 3; do cat "$TMP/story.txt"; done > "$TMP/train.txt"

# ---- usage errors
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt"
expect_contains "$ERR" "needs -o"
run_status 2 "$FRUGAL" tune -m "$M" -o "$TMP/a.gguf"
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/a.gguf" --val x --val-split 0.1
expect_contains "$ERR" "either --val"
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/a.gguf" --targets q,zz
expect_contains "$ERR" "unknown LoRA target 'zz'"
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/train.txt"
expect_contains "$ERR" "overwrite an input"
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/a.gguf" --mem-limit lots
run_status 1 "$FRUGAL" tune -m "$M" -d "$TMP/missing.txt" -o "$TMP/a.gguf"
expect_contains "$ERR" "missing.txt"
printf '{"text": "a"}\n{"text": 5}\n' > "$TMP/bad.jsonl"
run_status 1 "$FRUGAL" tune -m "$M" -d "$TMP/bad.jsonl" -o "$TMP/a.gguf"
expect_contains "$ERR" "bad.jsonl:2"
run_ok "$FRUGAL" tune --help
expect_contains "$OUT" "--dump-masks"

# ---- --dump-masks on chat data (the model has no template: ChatML, with a warning)
cat > "$TMP/chat.jsonl" <<'EOF'
{"messages": [{"role": "user", "content": "Who is Max?"}, {"role": "assistant", "content": "A dog."}]}
EOF
run_ok "$FRUGAL" tune -m "$M" -d "$TMP/chat.jsonl" --dump-masks 1
expect_contains "$OUT" "sample 0 (line 1)"
expect_contains "$OUT" "assistant"
expect_contains "$OUT" "⟧A dog.<|im_end|>⟦"
expect_contains "$ERR" "using chatml"

# ---- --mem-limit refuses with the breakdown
run_status 1 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/a.gguf" --mem-limit 1M
expect_contains "$ERR" "memory estimate:"
expect_contains "$ERR" "activations"
expect_contains "$ERR" "more than --mem-limit"
[ ! -e "$TMP/a.gguf" ] || fail "an adapter was written despite --mem-limit"

# ---- a short run: plain progress lines (stderr is a file), --json summary
COMMON=(-m "$M" -d "$TMP/train.txt" --ctx 32 --rank 4 --batch 2 --lr 5e-3 -t 1 --seed 5)
run_ok "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/a.gguf" --steps 12 --val-split 0.2 --eval-every 6 --json
expect_contains "$ERR" "memory estimate:"
expect_contains "$ERR" "step 12/12"
expect_contains "$ERR" "eval at step 6"
expect_contains "$ERR" "validation perplexity"
printf '%s' "$OUT" > "$TMP/sum.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (j.steps !== 12 || !(j.val_loss_after < j.val_loss_before) || !(j.tok_per_s > 0) ||
      !(j.peak_rss_bytes > 0)) { console.error(JSON.stringify(j)); process.exit(1); }' \
  "$TMP/sum.json" || fail "--json summary wrong: ${OUT:0:400}"
[ -s "$TMP/a.gguf" ] || fail "no adapter written"
# the adapter works with the runtime
run_ok "$FRUGAL" run -m "$M" --lora "$TMP/a.gguf" -p "Max" -n 8 --temp 0

# ---- --progress json: one object per step
run_ok "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/j.gguf" --steps 3 --progress json
n=$(printf '%s\n' "$ERR" | grep -c '"event":"step"')
[ "$n" -eq 3 ] || fail "expected 3 JSON step lines, got $n: ${ERR:0:300}"
expect_contains "$ERR" '"grad_norm"'

# ---- resume from a periodic checkpoint = the uninterrupted run, byte for byte
run_ok "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/full.gguf" --steps 10 --checkpoint-every 4 \
  --keep-checkpoints 0 --progress none
[ -f "$TMP/full.gguf.ckpt/step-000004/state.json" ] || fail "no checkpoint at step 4"
[ -f "$TMP/full.gguf.ckpt/step-000004/adapter.gguf" ] || fail "checkpoint lacks its adapter"
run_ok "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/res.gguf" -t 1 \
  --resume "$TMP/full.gguf.ckpt/step-000004" --progress none
cmp -s "$TMP/full.gguf" "$TMP/res.gguf" || fail "resumed adapter differs from the uninterrupted one"
# the checkpoint's adapter itself is loadable
run_ok "$FRUGAL" run -m "$M" --lora "$TMP/full.gguf.ckpt/step-000004/adapter.gguf" -p "Max" -n 4 --temp 0
# other data: refused
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/story.txt" -o "$TMP/x.gguf" -t 1 \
  --resume "$TMP/full.gguf.ckpt" --progress none
expect_contains "$ERR" "training data differ"

# ---- --resume DIR alone: every option comes from the checkpoint (the files,
# -t, the validation set and its schedule), from any directory
mkdir -p "$TMP/elsewhere"
cp "$TMP/story.txt" "$TMP/val.txt"
run_ok "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/v.gguf" --steps 8 --checkpoint-every 4 \
  --val "$TMP/val.txt" --eval-every 2 --keep-checkpoints 0
cp "$TMP/v.gguf" "$TMP/v-full.gguf"
_run bash -c "cd '$TMP/elsewhere' && '$FRUGAL' tune --resume '$TMP/v.gguf.ckpt/step-000004'"
[ "$RC" -eq 0 ] || fail "--resume DIR alone: exit $RC: ${ERR:0:400}"
expect_contains "$ERR" "eval at step 6"
expect_contains "$ERR" "validation perplexity"
cmp -s "$TMP/v.gguf" "$TMP/v-full.gguf" || fail "--resume DIR alone gave another adapter"
# an option given again replaces the saved one (here: no progress output)
run_ok "$FRUGAL" tune --resume "$TMP/v.gguf.ckpt/step-000004" --progress none -o "$TMP/v2.gguf"
[ -z "$ERR" ] || fail "--progress none on resume: ${ERR:0:200}"
cmp -s "$TMP/v2.gguf" "$TMP/v-full.gguf" || fail "resumed into -o v2.gguf: another adapter"

# ---- SIGTERM: checkpoint, message, and resuming finishes the same run
# (one thread: on a loaded 2-core CI machine a tiny model is fastest on one)
STEPS=200
[ -n "${FR_SANITIZED:-}" ] && STEPS=40
"$FRUGAL" tune "${COMMON[@]}" -o "$TMP/sig.gguf" --steps $STEPS >"$TMP/sig.out" 2>"$TMP/sig.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "step " "$TMP/sig.err" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "note: the run finished before SIGTERM arrived; skipping the signal checks"
else
  [ "$rc" -eq 1 ] || fail "SIGTERM: exit $rc"
  grep -q "stopped at step" "$TMP/sig.err" || fail "no stop message: $(cat "$TMP/sig.err")"
  grep -q -- "continue with: frugal tune --resume $TMP/sig.gguf.ckpt/step-[0-9]*\$" "$TMP/sig.err" ||
    fail "no resume hint: $(grep continue "$TMP/sig.err")"
  [ ! -e "$TMP/sig.gguf" ] || fail "an adapter was written for an interrupted run"
  run_ok "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/sig.gguf" -t 1 \
    --resume "$TMP/sig.gguf.ckpt" --progress none
  run_ok "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/nosig.gguf" --steps $STEPS --progress none
  cmp -s "$TMP/sig.gguf" "$TMP/nosig.gguf" || fail "SIGTERM + resume differs from an uninterrupted run"
fi

# ---- NaN: the run stops and names the last good checkpoint
FRUGAL_TUNE_INJECT_NAN=7 run_status 1 "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/nan.gguf" --steps 10 \
  --checkpoint-every 5 --progress none
expect_contains "$ERR" "not finite"
expect_contains "$ERR" "last good checkpoint is $TMP/nan.gguf.ckpt/step-000005"
[ ! -e "$TMP/nan.gguf" ] || fail "an adapter was written after a NaN"

finish
