# llama.cpp for the compatibility tests (sourced after ../lib.sh, with
# HERE = tests/cli): node-llama-cpp's prebuilt CPU binaries (pinned),
# installed once per build tree; skips (exit 77) when npm or a recent enough
# node is missing, or the machine is not x86-64 Linux.
#
#   agree LABEL MODEL [--lora FILE:S] [--logits]   frugal's N greedy tokens
#       after $PROMPT, checked step by step by llama.cpp (argmax, or a near-tie
#       where kernels may round either way); --logits also compares the
#       logits of the first 4 steps (1e-3). Sets LAST_IDS. $RUN_BATCH, when
#       set, is frugal run's --batch (a small one makes the sliding-window
#       layers' cache a ring shorter than the generation).
B=${FR_BUILD:?FR_BUILD must name the build directory}
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are needed"; exit 77; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "SKIP: node-llama-cpp needs node >= 20"; exit 77; }
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "SKIP: llama.cpp binaries pinned for Linux x86-64 only"; exit 77; }
[ -x "$B/test_model_forward" ] || { echo "SKIP: $B/test_model_forward writes the random models"; exit 77; }

NLC_VERSION=3.22.1
root=$B/llamacpp-npm
npm_install_once "$root" "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION"
export LLAMACPP_NODE_MODULES=$root/node_modules

PROMPT="Once upon a time"
N=48
agree() {
  local label=$1 model=$2; shift 2
  local lora=() logits=0
  while [ $# -gt 0 ]; do
    case $1 in
      --lora) lora=(--lora "$2"); shift 2 ;;
      --logits) logits=1; shift ;;
      *) shift ;;
    esac
  done
  run_ok "$FRUGAL" tokenize -m "$model" --ids "$PROMPT"
  local prompt="[${OUT// /,}]" prompt_ids=$OUT
  run_ok "$FRUGAL" run -t 1 --ctx 512 --batch "${RUN_BATCH:-512}" --kv-type f32 -m "$model" \
    -p "$PROMPT" -n "$N" --temp 0 --json "${lora[@]}"
  local ids
  ids=$(node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
                 process.stdout.write(JSON.stringify(j.token_ids))' <<<"$OUT") ||
    { fail "$label: no token_ids in frugal run --json"; return; }
  [ "$ids" != "[]" ] || { fail "$label: frugal generated nothing"; return; }
  local extra=()
  if [ "$logits" = 1 ]; then
    local first3
    first3=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).slice(0, 3).join(" "))' "$ids")
    # shellcheck disable=SC2086
    "$B/test_model_forward" --logits "$model" 4 $prompt_ids $first3 > "$TMP/logits.json" ||
      { fail "$label: frugal's logits"; return; }
    extra=(--logits "$TMP/logits.json")
  fi
  _run node "$HERE/support/llamacpp_agree.mjs" "$model" "$prompt" "$ids" "${lora[@]}" "${extra[@]}"
  echo "$label: $OUT"
  [ "$RC" -eq 0 ] || fail "$label: llama.cpp disagrees with frugal (exit $RC): $OUT ${ERR: -400}"
  LAST_IDS=$ids
}
