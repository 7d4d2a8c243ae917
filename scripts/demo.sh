#!/usr/bin/env bash
# make demo: a short tour of frugal on a real model.
#   FRUGAL_MODEL=/path/to/model.gguf make demo    use that model
#   FRUGAL_DEMO_MODEL=NAME make demo              another `frugal pull --list` name
# Without either, the default small instruct model is downloaded once into
# ~/.cache/frugal/models (and verified by its sha256).
set -euo pipefail
FRUGAL=${1:-build/frugal}
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

# --- the model: $FRUGAL_MODEL, else `frugal pull` the default small model ---
DEMO_NAME=${FRUGAL_DEMO_MODEL:-qwen2.5-0.5b}
if [ -n "${FRUGAL_MODEL:-}" ]; then
  if [ ! -f "$FRUGAL_MODEL" ]; then
    echo "frugal demo: FRUGAL_MODEL=$FRUGAL_MODEL is not a file" >&2
    exit 1
  fi
  MODEL=$FRUGAL_MODEL
elif MODEL=$("$FRUGAL" pull "$DEMO_NAME"); then
  echo "frugal demo: using $MODEL" >&2
else
  PLAN=$("$FRUGAL" pull "$DEMO_NAME" --dry-run) || exit 1
  URL=$(printf '%s\n' "$PLAN" | awk '$1 == "url" {print $2}')
  DEST=$(printf '%s\n' "$PLAN" | awk '$1 == "path" {print $2}')
  SHA=$(printf '%s\n' "$PLAN" | awk '$1 == "sha256" {print $2}')
  FILE=${DEST##*/}
  cat >&2 <<MSG

frugal demo: could not download the demo model $DEMO_NAME (the reason is above).
Without network access here, get the file on another machine and bring it over:

  1. download it (about $("$FRUGAL" pull --list | awk -v n="$DEMO_NAME" '$1 == n {print $2, $3}')):
       curl -L -o $FILE '$URL'
  2. check it: sha256sum $FILE   (expect $SHA)
  3. then either run
       FRUGAL_MODEL=/path/to/$FILE make demo
     or copy it to $DEST
     and run 'make demo' again (it is verified there, offline).

Any GGUF instruct model (llama, qwen2, qwen3) works with FRUGAL_MODEL=/path/to/model.gguf.
MSG
  exit 1
fi

say "1. What is in the file (frugal inspect)"
"$FRUGAL" inspect "$MODEL" --ctx 2048

say "2. One question, answered with the model's chat template (frugal run --chat)"
"$FRUGAL" run -m "$MODEL" --chat --ctx 2048 -n 96 --temp 0 \
  --system "You are a concise assistant for a small company." \
  -p "In two sentences: why would a startup fine-tune a small open model instead of training one from scratch?"

say "3. A chat turn (frugal chat, reading the turn from stdin)"
printf 'Name three things a small local language model can do for a support team.\n' |
  "$FRUGAL" chat -m "$MODEL" --ctx 2048 -n 96 --temp 0

say "4. How fast, and what each token costs here (frugal bench)"
"$FRUGAL" bench -m "$MODEL" -p 64 -n 32 -r 1

say "5. What training it from scratch would have cost instead (frugal plan)"
"$FRUGAL" plan lora --params 0.5e9 --tokens 50e6 --gpu rtx4090

say "done: see README.md for every command ('frugal --help', 'frugal CMD --help')"
