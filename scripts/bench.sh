#!/usr/bin/env bash
# make bench: the benchmark tables, written to BENCHMARKS.md. Benchmarks
# never fail on a number; they fail only when a program cannot run.
#
#   BENCH_QUICK=1 make bench     a few minutes: qwen2.5-0.5b shapes, 2 threads,
#                                pp128 pp512 tg64, one repetition
#   BENCH_SKIP="serve tune"      skip sections (speed profile tok quant gguf sampler lora rag verifier verifier-cv serve tune)
#   BENCH_MODELS, BENCH_TYPES, BENCH_THREADS, BENCH_REPS   override the speed rows
#   FRUGAL_PEERS=DIR             where the peer engines are built (default ~/.cache/frugal-peers)
#
# The speed section measures frugal, ik_llama.cpp and llama.cpp side by side
# in this run, on the same files, with the same threads, interleaved row by
# row (the engine that goes first rotates). The files: random weights with
# the exact shapes of Qwen2.5-0.5B, Llama-3.2-1B and Llama-3.1-8B and their
# real tokenizers (`frugal bench --synthetic M --write-f16`, vocab from
# ../shared/vocab), quantized to Q4_0, Q8_0 and Q4_K_M by llama.cpp's own
# llama-quantize, so every engine reads the same tensor types. The peers
# are built once by ../shared/peers/build-peers.sh (cached); one that cannot
# be built is reported as "peer not available" and the table goes on.
# llama.cpp runs with llama-bench's defaults, ik_llama.cpp with -rtr 1 -fa 1
# (run-time repacking and flash attention, as its users run it on CPUs).
set -euo pipefail
FRUGAL=${1:-build/frugal}
BUILD=$(dirname "$FRUGAL")
SHARED=${FR_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
PEERS=${FRUGAL_PEERS:-$HOME/.cache/frugal-peers}
MODELDIR=${XDG_CACHE_HOME:-$HOME/.cache}/frugal/bench-models
OUT=BENCHMARKS.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
skip() { case " ${BENCH_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  REPS=${BENCH_REPS:-1}; PP=128,512; DEPTH=""
  ROWS_DEFAULT="qwen2.5-0.5b:q4_0:2 qwen2.5-0.5b:q8_0:2 qwen2.5-0.5b:q4_k_m:2"
else
  REPS=${BENCH_REPS:-3}; PP=128,512,2048; DEPTH=2048
  ROWS_DEFAULT=""
  for m in qwen2.5-0.5b llama-3.2-1b; do
    for th in 2 1; do
      for q in q4_0 q8_0 q4_k_m; do ROWS_DEFAULT="$ROWS_DEFAULT $m:$q:$th"; done
    done
  done
  ROWS_DEFAULT="$ROWS_DEFAULT llama-3.1-8b:q4_k_m:2"
fi
ROWS=$ROWS_DEFAULT
if [ -n "${BENCH_MODELS:-}${BENCH_TYPES:-}${BENCH_THREADS:-}" ]; then
  ROWS=""
  for m in ${BENCH_MODELS:-qwen2.5-0.5b llama-3.2-1b}; do
    for th in ${BENCH_THREADS:-2 1}; do
      for q in ${BENCH_TYPES:-q4_0 q8_0 q4_k_m}; do ROWS="$ROWS $m:$q:$th"; done
    done
  done
fi

cpu_line() {
  node -e '
    const f = require("fs").readFileSync("/proc/cpuinfo", "utf8");
    const g = (k) => ((f.match(new RegExp("^" + k + "\\s*: (.*)$", "m")) || [])[1] || "?");
    console.log(`${g("model name")} (${g("vendor_id")} family ${g("cpu family")} model ${g("model")} stepping ${g("stepping")})`);' 2>/dev/null || echo unknown
}

{
  echo "# frugal benchmarks"
  echo
  echo "Written by \`make bench\`$([ "$QUICK" = 1 ] && echo " with BENCH_QUICK=1 (a quick run: fewer rows, one repetition)") ($(date -u +%Y-%m-%dT%H:%MZ)). Machine: $(cpu_line), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo). frugal $("$FRUGAL" --version | awk '{print $2, $3, $4}')."
  echo "These machines may be shared and noisy: compare rows measured in one run."
  echo
} > "$OUT"

# ---- the peers and the model files ----------------------------------------
peer_bin() { # engine -> its bin directory, or nothing
  [ -x "$PEERS/$1/build/bin/llama-bench" ] && echo "$PEERS/$1/build/bin" || true
}
vocab_of() {
  case "$1" in qwen*) echo "$SHARED/vocab/ggml-vocab-qwen2.gguf" ;; *) echo "$SHARED/vocab/ggml-vocab-llama-bpe.gguf" ;; esac
}
# the F16 file of model m, then m-TYPE.gguf by llama-quantize (by frugal
# quantize when no peer is available, and the table says so)
QUANTIZER=""
model_file() { # model type -> path on stdout
  local m=$1 q=$2 f16="$MODELDIR/$1-f16.gguf" out="$MODELDIR/$1-$2.gguf"
  if [ ! -s "$out" ]; then
    mkdir -p "$MODELDIR"
    if [ ! -s "$f16" ]; then
      echo "bench: writing $f16" >&2
      "$FRUGAL" bench --synthetic "$m" --write-f16 "$f16.tmp" --vocab "$(vocab_of "$m")" >/dev/null 2>"$TMP/write.err" ||
        { cat "$TMP/write.err" >&2; return 1; }
      mv "$f16.tmp" "$f16"
    fi
    echo "bench: quantizing $out" >&2
    if [ -n "$QUANTIZER" ]; then
      "$QUANTIZER" "$f16" "$out.tmp" "$(echo "$q" | tr a-z A-Z)" "$(nproc)" >"$TMP/quant.log" 2>&1 ||
        { tail -5 "$TMP/quant.log" >&2; return 1; }
    else
      "$FRUGAL" quantize "$f16" "$out.tmp" "$q" >"$TMP/quant.log" 2>&1 || { tail -5 "$TMP/quant.log" >&2; return 1; }
    fi
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

if ! skip speed; then
  if [ -x "$SHARED/peers/build-peers.sh" ] && [ "${BENCH_NO_PEER_BUILD:-0}" != 1 ]; then
    echo "bench: peer engines (built once into $PEERS; ~20 min the first time)" >&2
    "$SHARED/peers/build-peers.sh" "$PEERS" >&2 || echo "bench: a peer engine could not be built (logs in $PEERS)" >&2
  fi
  LLAMA=$(peer_bin llama.cpp); IK=$(peer_bin ik_llama.cpp)
  for b in "$LLAMA" "$IK"; do
    if [ -n "$b" ] && [ -x "$b/llama-quantize" ] && [ -z "$QUANTIZER" ]; then QUANTIZER=$b/llama-quantize; fi
  done
  mkdir -p "$TMP/raw"
  i=0
  for row in $ROWS; do
    IFS=: read -r m q th <<< "$row"
    f=$(model_file "$m" "$q") || { echo "bench: no model file for $m $q" >&2; continue; }
    base="$TMP/raw/$m:$q:$th"
    echo "$f" > "$base.path"
    run_frugal() {
      "$FRUGAL" bench -m "$f" -p "$PP" -n 64 ${DEPTH:+-d 0,$DEPTH} -t "$th" -r "$REPS" --json \
        > "$base.frugal.json" 2> "$TMP/err" || { tail -3 "$TMP/err" >&2; rm -f "$base.frugal.json"; }
    }
    run_ik() {
      [ -n "$IK" ] || return 0
      "$IK/llama-bench" -m "$f" -t "$th" -p "$PP" -n 64 ${DEPTH:+-gp $DEPTH,64} -r "$REPS" \
        -rtr 1 -fa 1 -o json > "$base.ik.json" 2> "$TMP/err" || { tail -3 "$TMP/err" >&2; rm -f "$base.ik.json"; }
    }
    run_llama() {
      [ -n "$LLAMA" ] || return 0
      "$LLAMA/llama-bench" -m "$f" -t "$th" -p "$PP" -n 64 -r "$REPS" -o json \
        > "$base.llama.json" 2> "$TMP/err" || { tail -3 "$TMP/err" >&2; rm -f "$base.llama.json"; }
      if [ -n "$DEPTH" ]; then
        "$LLAMA/llama-bench" -m "$f" -t "$th" -p 0 -n 64 -d "$DEPTH" -r "$REPS" -o json \
          > "$base.llama-d.json" 2> "$TMP/err" || { tail -3 "$TMP/err" >&2; rm -f "$base.llama-d.json"; }
      fi
    }
    echo "bench: $m $q, $th thread(s)" >&2
    case $((i % 3)) in
      0) run_frugal; run_ik; run_llama ;;
      1) run_ik; run_llama; run_frugal ;;
      2) run_llama; run_frugal; run_ik ;;
    esac
    i=$((i + 1))
  done
  node "$(dirname "$0")/bench_table.js" "$TMP/raw" "$ROWS" "$PP" "$DEPTH" "${QUANTIZER:-frugal quantize}" >> "$OUT"
  if [ -n "${BENCH_RAW:-}" ]; then mkdir -p "$BENCH_RAW" && cp "$TMP/raw"/* "$BENCH_RAW/"; fi
fi

# Rows that miss a target get a profile: where frugal's time goes (perf,
# cpu-clock samples) in that row's decode.
if ! skip speed && ! skip profile && command -v perf >/dev/null 2>&1 && [ -s "$TMP/raw/misses" ]; then
  { echo "## Where frugal's decode time goes in the rows that miss"; echo
    echo "\`perf record -e cpu-clock\` over \`frugal bench -m FILE -p 0 -n 256 -r 2 -t N\`; the top symbols by share of samples (the read-bandwidth measurement bench starts with is sampled too: fr_read_sum, page clearing)."; echo; } >> "$OUT"
  while read -r m q th why; do
    f=$(cat "$TMP/raw/$m:$q:$th.path")
    perf record -q -e cpu-clock -o "$TMP/perf.data" "$FRUGAL" bench -m "$f" -p 0 -n 256 -r 2 -t "$th" >/dev/null 2>&1 || continue
    # awk reads to the end: head would close the pipe and, under pipefail, fail the script
    perf report -q -i "$TMP/perf.data" --no-children --sort symbol --stdio 2>/dev/null | awk 'NF && n++ < 12' > "$TMP/top"
    { echo "**$m $q, $th thread(s): $why**"; echo; echo '```'
      cat "$TMP/top"
      echo '```'; echo; } >> "$OUT"
  done < "$TMP/raw/misses"
fi

run_section() { # name title command...
  local name=$1 title=$2; shift 2
  skip "$name" && return 0
  echo "bench: $name" >&2
  { echo "## $title"; echo; } >> "$OUT"
  # the programs' own headings become sub-headings of this section
  if "$@" 2> "$TMP/$name.err" | sed -e 's/^#\{1,2\} /### /' >> "$OUT" && [ "${PIPESTATUS[0]}" = 0 ]; then
    echo >> "$OUT"
  else
    echo "(failed: $(tail -1 "$TMP/$name.err"))" >> "$OUT"; echo >> "$OUT"
  fi
}
run_section tok "Tokenizer speed" env FR_SHARED="$SHARED" "$BUILD/bench_tokenize" "$SHARED"
run_section quant "Quantizer speed" "$BUILD/bench_quant"
run_section gguf "GGUF open" env FR_SHARED="$SHARED" "$BUILD/bench_gguf"
run_section sampler "Sampler cost per token" "$BUILD/bench_sampler" 200
run_section lora "LoRA adapter cost at run time" "$BUILD/bench_lora"
SERVE_TOKENS=32; [ "${BENCH_QUICK:-0}" = 1 ] && SERVE_TOKENS=16
run_section serve "Server: aggregate decode tok/s at 1, 2, 4, 8 parallel streams (continuous batching)" "$BUILD/bench_serve" --type q8_0 --streams 1,2,4,8 --tokens "$SERVE_TOKENS"
run_section tune "LoRA fine-tuning (stories260K on PubMedQA abstracts; qwen2.5-0.5b Q4_0 shape)" env FR_SHARED="$SHARED" "$BUILD/bench_tune" --shared "$SHARED" $([ "${BENCH_QUICK:-0}" = 1 ] && echo --quick)
run_section rag "Grounding: checker quality, retrieval, abstention" "$BUILD/bench_rag" --data "$SHARED/data"
run_section verifier "Groundedness verdict: time per claim (one core)" "$BUILD/bench_verifier" --data "$SHARED/data" --reps "$([ "${BENCH_QUICK:-0}" = 1 ] && echo 20 || echo 200)"
run_section verifier-cv "Groundedness verdict: 5-fold cross-validation (make train-verifier, nothing written)" "$BUILD/train_verifier" --data "$SHARED/data" --report-only
echo "bench: wrote $OUT" >&2
