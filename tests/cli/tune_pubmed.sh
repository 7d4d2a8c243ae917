#!/usr/bin/env bash
# The done-criterion through the command line, short version: tune
# stories260K (children's stories) on PubMedQA abstracts, then
# `frugal perplexity --compare` on held-out abstracts (every 10th, never
# trained on) shows lower perplexity with a paired standard error.
# The full run is bench/bench_tune.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
need_shared data/pubmedqa_ori_pqal.json
command -v node >/dev/null || { echo "SKIP: node is needed to read the PubMedQA JSON"; exit 77; }
M=$SHARED/models/stories260K.gguf
NTRAIN=300 STEPS=60 CHUNKS=16
if [ -n "${FR_SANITIZED:-}" ]; then NTRAIN=60 STEPS=15 CHUNKS=6; fi

node -e '
  const fs = require("fs");
  const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const keys = Object.keys(d).sort();
  const train = [], held = [];
  keys.forEach((k, i) => {
    const text = d[k].CONTEXTS.join(" ");
    if (i % 10 === 9) held.push(text);
    else if (train.length < +process.argv[3]) train.push(JSON.stringify({text}));
  });
  fs.writeFileSync(process.argv[2] + "/train.jsonl", train.join("\n") + "\n");
  fs.writeFileSync(process.argv[2] + "/heldout.txt", held.join("\n\n") + "\n");' \
  "$SHARED/data/pubmedqa_ori_pqal.json" "$TMP" "$NTRAIN" || fail "could not convert PubMedQA"

run_ok "$FRUGAL" tune -m "$M" -d "$TMP/train.jsonl" -o "$TMP/pubmed.gguf" --ctx 64 --rank 8 \
  --alpha 16 --batch 4 --lr 3e-3 --warmup 5 --steps "$STEPS" -t 1 --progress none --json
printf '%s' "$OUT" > "$TMP/tune.json"

run_ok "$FRUGAL" perplexity -m "$M" --lora "$TMP/pubmed.gguf" -f "$TMP/heldout.txt" -c 128 \
  --chunks "$CHUNKS" --compare -t 1 --json
printf '%s' "$OUT" > "$TMP/ppl.json"
node -e '
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).compare;
  console.log(`held-out PPL ${c.base_ppl.toFixed(2)} -> ${c.tuned_ppl.toFixed(2)}, ` +
              `delta log-PPL ${c.delta_log_ppl.toFixed(3)} +/- ${c.delta_log_ppl_se.toFixed(3)}`);
  if (!(c.tuned_ppl < c.base_ppl) || !(c.delta_log_ppl + 3 * c.delta_log_ppl_se < 0)) {
    console.error("tuning did not lower held-out perplexity: " + JSON.stringify(c));
    process.exit(1);
  }' "$TMP/ppl.json" || fail "perplexity --compare: ${OUT:0:600}"

finish
