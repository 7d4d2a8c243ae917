#!/usr/bin/env bash
# make bench: the benchmark tables, written to BENCHMARKS.md. Benchmarks
# never fail on a number; they fail only when a program cannot run.
#
#   BENCH_QUICK=1 make bench     a few minutes: qwen2.5-0.5b shapes, 2 threads,
#                                pp128 pp512 tg64, one repetition
#   BENCH_SKIP="serve tune"      skip sections (speed profile tok quant gguf sampler lora rag rag-pg verifier verifier-cv serve tune mpi grammar)
#   BENCH_MODELS, BENCH_TYPES, BENCH_THREADS, BENCH_REPS   override the speed rows
#   BENCH_ROWS="MODEL:TYPE:THREADS ..."   the speed rows, listed
#   BENCH_LONG_ROWS="..."        rows of the long-prompt table (pp2048 and
#                                decode at depth 2048; "" skips it)
#   BENCH_PP=128,512             prompt lengths of the main table
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
# The main table: every row at pp128 and pp512 and tg64. The long-prompt
# table (pp2048, and 64 tokens decoded after 2048 in the cache) runs on a
# few rows: on a 2-core machine each of its rows takes ~5-12 minutes for the
# three engines, so all rows at every length would take hours.
if [ "$QUICK" = 1 ]; then
  REPS=${BENCH_REPS:-1}
  ROWS_DEFAULT="qwen2.5-0.5b:q4_0:2 qwen2.5-0.5b:q8_0:2 qwen2.5-0.5b:q4_k_m:2"
  LONG_DEFAULT=""
else
  REPS=${BENCH_REPS:-3}
  ROWS_DEFAULT=""
  for m in qwen2.5-0.5b llama-3.2-1b; do
    for th in 2 1; do
      for q in q4_0 q8_0 q4_k_m; do ROWS_DEFAULT="$ROWS_DEFAULT $m:$q:$th"; done
    done
  done
  ROWS_DEFAULT="$ROWS_DEFAULT llama-3.1-8b:q4_k_m:2"
  LONG_DEFAULT="qwen2.5-0.5b:q4_0:2 llama-3.2-1b:q4_k_m:2"
fi
PP=${BENCH_PP:-128,512}
LONG_ROWS=${BENCH_LONG_ROWS-$LONG_DEFAULT}
ROWS=${BENCH_ROWS:-$ROWS_DEFAULT}
if [ -n "${BENCH_MODELS:-}${BENCH_TYPES:-}${BENCH_THREADS:-}" ]; then
  ROWS=""
  for m in ${BENCH_MODELS:-qwen2.5-0.5b llama-3.2-1b}; do
    for th in ${BENCH_THREADS:-2 1}; do
      for q in ${BENCH_TYPES:-q4_0 q8_0 q4_k_m}; do ROWS="$ROWS $m:$q:$th"; done
    done
  done
fi

# x86: /proc/cpuinfo's model name and family / model / stepping; elsewhere
# (ARM Linux has no "model name", macOS no /proc) the CPU as frugal names it
# (`frugal --version`: the core from the MIDR implementer / part, cpu.c's table)
cpu_line() {
  if grep -q '^model name' /proc/cpuinfo 2>/dev/null; then
    node -e '
      const f = require("fs").readFileSync("/proc/cpuinfo", "utf8");
      const g = (k) => ((f.match(new RegExp("^" + k + "\\s*: (.*)$", "m")) || [])[1] || "?");
      console.log(`${g("model name")} (${g("vendor_id")} family ${g("cpu family")} model ${g("model")} stepping ${g("stepping")})`);' 2>/dev/null || echo unknown
  else
    "$FRUGAL" --version | sed -n 's/^cpu: \([^;]*\);.*; kernels \(.*\)$/\1, kernels \2/p' | grep . || echo unknown
  fi
}

{
  echo "# frugal benchmarks"
  echo
  echo "Written by \`make bench\`$([ "$QUICK" = 1 ] && echo " with BENCH_QUICK=1 (a quick run: fewer rows, one repetition)") ($(date -u +%Y-%m-%dT%H:%MZ)). Machine: $(cpu_line), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo). frugal $("$FRUGAL" --version | awk 'NR == 1 {print $2, $3, $4}')."
  echo "These machines may be shared and noisy: compare rows measured in one run."
  echo "ARM (neon / dotprod / i8mm kernel paths): speed is measured only on a real ARM machine (\`make bench\` runs there unchanged, peers built by \`../shared/peers/build-peers.sh\`); the qemu runs of \`make test-aarch64\` check correctness, and emulated timings say nothing about ARM hardware, so none are reported."
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

# One speed table: ROWS at prompt lengths PP (and decode at DEPTH), raw
# results in DIR, the table (heading TITLE) appended to BENCHMARKS.md.
speed_table() { # dir "rows" pp depth title
  local raw=$1 rows=$2 PP=$3 DEPTH=$4 title=$5 i=0 row m q th f base
  mkdir -p "$raw"
  for row in $rows; do
    IFS=: read -r m q th <<< "$row"
    f=$(model_file "$m" "$q") || { echo "bench: no model file for $m $q" >&2; continue; }
    base="$raw/$m:$q:$th"
    echo "$f" > "$base.path"
    run_frugal() {
      "$FRUGAL" bench -m "$f" ${PP:+-p "$PP"} -n 64 ${DEPTH:+-d 0,$DEPTH} -t "$th" -r "$REPS" --json \
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
    echo "bench: $m $q, $th thread(s)${DEPTH:+, prompt $PP, depth $DEPTH}" >&2
    case $((i % 3)) in
      0) run_frugal; run_ik; run_llama ;;
      1) run_ik; run_llama; run_frugal ;;
      2) run_llama; run_frugal; run_ik ;;
    esac
    i=$((i + 1))
  done
  node "$(dirname "$0")/bench_table.js" "$raw" "$rows" "$PP" "$DEPTH" "${QUANTIZER:-frugal quantize}" "$title" >> "$OUT"
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
  speed_table "$TMP/raw" "$ROWS" "$PP" "" "Prefill and decode speed (tok/s): frugal, ik_llama.cpp and llama.cpp in one run"
  if [ -n "$LONG_ROWS" ]; then
    speed_table "$TMP/raw-long" "$LONG_ROWS" 2048 2048 "Long prompts (tok/s): pp2048 and decode after 2048 tokens, the same three engines in the same run"
    cat "$TMP/raw-long/misses" >> "$TMP/raw/misses" 2>/dev/null || true
  fi
  if [ -n "${BENCH_RAW:-}" ]; then mkdir -p "$BENCH_RAW" && cp -r "$TMP/raw" "$TMP"/raw-long "$BENCH_RAW/" 2>/dev/null || true; fi
fi

# Rows that miss a target get a profile: where frugal's time goes (perf,
# cpu-clock samples) in that row's decode.
if ! skip speed && ! skip profile && command -v perf >/dev/null 2>&1 && [ -s "$TMP/raw/misses" ]; then
  { echo "## Where frugal's decode time goes in the rows that miss"; echo
    echo "\`perf record -e cpu-clock\` over \`frugal bench -m FILE -p 0 -n 256 -r 2 -t N\`; the top symbols by share of samples (the read-bandwidth measurement bench starts with is sampled too: fr_read_sum, page clearing)."; echo; } >> "$OUT"
  awk '!seen[$1 " " $2 " " $3]++' "$TMP/raw/misses" > "$TMP/misses1"
  while read -r m q th why; do
    f=$(cat "$TMP/raw/$m:$q:$th.path" 2>/dev/null || cat "$TMP/raw-long/$m:$q:$th.path")
    perf record -q -e cpu-clock -o "$TMP/perf.data" "$FRUGAL" bench -m "$f" -p 0 -n 256 -r 2 -t "$th" >/dev/null 2>&1 || continue
    # awk reads to the end: head would close the pipe and, under pipefail, fail the script
    perf report -q -i "$TMP/perf.data" --no-children --sort symbol --stdio 2>/dev/null | awk 'NF && n++ < 12' > "$TMP/top"
    { echo "**$m $q, $th thread(s): $why**"; echo; echo '```'
      cat "$TMP/top"
      echo '```'; echo; } >> "$OUT"
  done < "$TMP/misses1"
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

# Data-parallel tuning: one global batch of 2 samples per step, as 1 rank x 2
# threads and as 2 ranks x 1 thread (mpirun), on the Qwen2.5-0.5B-shaped Q4_0
# model, interleaved. Needs a frugal built with MPI and openmpi-bin.
if ! skip mpi; then
  echo "bench: mpi" >&2
  {
    echo "## Data-parallel tuning: 1 rank x 2 threads vs 2 ranks x 1 thread (MPI)"
    echo
    SYN=${XDG_CACHE_HOME:-$HOME/.cache}/frugal/synthetic/qwen2.5-0.5b-q4_0.gguf
    [ -f "$SYN" ] || "$FRUGAL" bench --synthetic qwen2.5-0.5b:q4_0 -p 8 -n 4 -r 1 -t 2 --json >/dev/null 2>&1 || true
    if ! command -v mpirun >/dev/null || "$FRUGAL" tune --help | grep -q '^This build: no MPI'; then
      echo "(skipped: needs frugal built with MPI, and mpirun from openmpi-bin)"
    elif [ ! -f "$SYN" ]; then
      echo "(skipped: could not generate $SYN)"
    else
      [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
      MREPS=2; [ "${BENCH_QUICK:-0}" = 1 ] && MREPS=1
      T=(tune -m "$SYN" -d "$(dirname "$0")/../README.md" --ctx 128 --rank 16 --steps 3 --eval-every 0 --seed 1 --json --progress none)
      : > "$TMP/mpi.tsv"
      for r in $(seq 1 "$MREPS"); do
        "$FRUGAL" "${T[@]}" --batch 2 -t 2 -o "$TMP/mpi1.gguf" > "$TMP/mpi1.json" 2>"$TMP/mpi.err" &&
          node -e 'const j = require(process.argv[1]); console.log(`1x2\t${j.tok_per_s}\t${j.final_loss}`)' "$TMP/mpi1.json" >> "$TMP/mpi.tsv"
        mpirun -np 2 --bind-to none "$FRUGAL" "${T[@]}" --batch 1 -t 1 -o "$TMP/mpi2.gguf" > "$TMP/mpi2.json" 2>"$TMP/mpi.err" &&
          node -e 'const j = require(process.argv[1]); console.log(`2x1\t${j.tok_per_s}\t${j.final_loss}`)' "$TMP/mpi2.json" >> "$TMP/mpi.tsv"
      done
      echo "Method: \`frugal tune\` on $(basename "$SYN") (random weights, Qwen2.5-0.5B shapes), rank 16, ctx 128, 3 steps of a global batch of 2 samples (256 tokens) from README.md: \`--batch 2 -t 2\` in one process, and \`mpirun -np 2 --bind-to none ... --batch 1 -t 1\`; $MREPS interleaved run(s) each; training tok/s as \`--json\` reports it (all ranks' tokens over rank 0's step time). The final loss shows both train the same run."
      echo
      echo "| layout | training tok/s (each run) | mean | final loss |"
      echo "|---|---|---|---|"
      node -e '
        const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((l) => l.split("\t"));
        for (const [k, name] of [["1x2", "1 rank x 2 threads"], ["2x1", "2 ranks x 1 thread"]]) {
          const r = rows.filter((x) => x[0] === k);
          if (!r.length) { console.log(`| ${name} | failed | | |`); continue; }
          const v = r.map((x) => +x[1]);
          console.log(`| ${name} | ${v.map((x) => x.toFixed(1)).join(", ")} | ${(v.reduce((a, b) => a + b) / v.length).toFixed(1)} | ${(+r[0][2]).toFixed(5)} |`);
        }' "$TMP/mpi.tsv"
      grep -q . "$TMP/mpi.tsv" || echo "(failed: $(tail -1 "$TMP/mpi.err"))"
    fi
    echo
  } >> "$OUT"
fi

# PubMedQA retrieval with the knowledge base in PostgreSQL, next to SQLite on
# the same documents, in a throwaway cluster started as the tests start it
rag_pg() {
  local src env rc=0
  src=$(cd "$(dirname "$0")/.." && pwd)
  env=$("$src/tests/pg_cluster.sh" start $$) || { echo "skipped: ${env:-no PostgreSQL cluster}"; return 0; }
  eval "$env"
  "$BUILD/bench_rag" --data "$SHARED/data" --pg "$PG_URI" pubmedqa || rc=$?
  "$src/tests/pg_cluster.sh" stop "$PG_DIR"
  return "$rc"
}
run_section rag-pg "Knowledge base in PostgreSQL: PubMedQA retrieval next to SQLite" rag_pg

# structured output (i17): decode with and without a JSON Schema constraint, interleaved
GRAMMAR_ARGS="-n 128 -r 3"; [ "${BENCH_QUICK:-0}" = 1 ] && GRAMMAR_ARGS="-n 64 -r 1"
run_section grammar "Structured output: decode with and without a JSON Schema constraint (qwen2.5-0.5b shape, Qwen2's 151936-token vocabulary)" env FR_SHARED="$SHARED" "$BUILD/bench_grammar" $GRAMMAR_ARGS
echo "bench: wrote $OUT" >&2
