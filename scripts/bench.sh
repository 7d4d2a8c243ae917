#!/usr/bin/env bash
# make bench: the benchmark tables, written to BENCHMARKS.md. Benchmarks
# never fail on a number; they fail only when a program cannot run.
#
#   BENCH_QUICK=1 make bench     fewer repetitions, qwen2.5-0.5b shapes only
#   BENCH_SKIP="serve tune"      skip sections (speed profile tok quant gguf sampler lora rag rag-pg verifier verifier-cv serve tune mpi)
#
# The speed section measures random-weight models with the exact shapes of
# Llama-3.2-1B and Qwen2.5-0.5B (generated once into ~/.cache/frugal/synthetic)
# at Q8_0, Q4_0 and Q4_K_M with 1 and 2 threads, pp128 and tg64, as
# llama.cpp's figures in ../shared/bench/peers.md were measured, and puts
# llama.cpp's number and the ratio beside each row when that file is there.
set -euo pipefail
FRUGAL=${1:-build/frugal}
BUILD=$(dirname "$FRUGAL")
SHARED=${FR_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
OUT=BENCHMARKS.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
skip() { case " ${BENCH_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }
REPS=3
MODELS="llama-3.2-1b qwen2.5-0.5b"
if [ "${BENCH_QUICK:-0}" = 1 ]; then REPS=1; MODELS="qwen2.5-0.5b"; fi

{
  echo "# frugal benchmarks"
  echo
  echo "Written by \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ)). Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //' | grep . || echo "$(uname -m) CPU part $(grep -m1 'CPU part' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo). frugal $("$FRUGAL" --version | awk '{print $2, $3, $4}')."
  echo "These machines are shared and noisy: compare rows measured in one run."
  echo "ARM (neon / dotprod / i8mm kernel paths): speed is measured only on a real ARM machine (\`make bench\` runs there unchanged, peers built by \`../shared/peers/build-peers.sh\`); the qemu runs of \`make test-aarch64\` check correctness, and emulated timings say nothing about ARM hardware, so none are reported."
  echo
} > "$OUT"

if ! skip speed; then
  echo "bench: speed (synthetic models; the first run generates them)" >&2
  : > "$TMP/speed.jsonl"
  for m in $MODELS; do
    for q in q8_0 q4_0 q4_k_m; do
      "$FRUGAL" bench --synthetic "$m:$q" -p 128 -n 64 -r "$REPS" -t 1,2 --json >> "$TMP/speed.jsonl"
    done
  done
  node - "$TMP/speed.jsonl" "$SHARED/bench/peers.md" >> "$OUT" <<'JS'
const fs = require("fs");
const docs = [];
let buf = "";
for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
  buf += line + "\n";
  if (line === "}") { docs.push(JSON.parse(buf)); buf = ""; }
}
// llama.cpp rows: | model, TYPE | size | threads | pp128 | tg64 |
const peers = {};
try {
  for (const l of fs.readFileSync(process.argv[3], "utf8").split("\n")) {
    const m = l.match(/^\| (\S+) shape, (\S+) \| [^|]+\| (\d+) \| ([\d.]+)[^|]*\| ([\d.]+)/);
    if (m) peers[`${m[1]}:${m[2].toLowerCase()}:${m[3]}`] = { pp: +m[4], tg: +m[5] };
  }
} catch (e) {}
const f = (x, d = 1) => (x === undefined ? "n/a" : x.toFixed(d));
console.log("## Prefill and decode speed (tok/s)\n");
const d0 = docs[0];
console.log(`Method: \`frugal bench --synthetic MODEL:TYPE -p 128 -n 64 -t 1,2\` (warm-up, then mean ± sd), random weights with the exact shapes. ISA path: ${d0 && d0.machine.isa ? d0.machine.isa : "see frugal bench"}. llama.cpp: build 4748 figures from peers.md, same kind of machine, not measured side by side here.\n`);
console.log("| model | type | size | threads | pp128 | llama.cpp pp128 | ratio | tg64 | llama.cpp tg64 | ratio | decode GB/s | share of read bandwidth |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const d of docs) {
  const [name, type] = d.model.name.split(":");
  const size = (d.model.weight_bytes / 1048576).toFixed(0) + " MiB";
  for (const th of [...new Set(d.tests.map((t) => t.threads))]) {
    const pp = d.tests.find((t) => t.test === "pp" && t.threads === th);
    const tg = d.tests.find((t) => t.test === "tg" && t.threads === th);
    const p = peers[`${name}:${type}:${th}`] || {};
    const r = (a, b) => (a && b ? (a / b).toFixed(2) + "x" : "n/a");
    console.log(`| ${name} | ${type} | ${size} | ${th} | ${f(pp && pp.tok_s)} ± ${f(pp && pp.tok_s_sd)} | ${f(p.pp)} | ${r(pp && pp.tok_s, p.pp)} | ${f(tg && tg.tok_s, 2)} ± ${f(tg && tg.tok_s_sd, 2)} | ${f(p.tg)} | ${r(tg && tg.tok_s, p.tg)} | ${tg ? f(tg.tok_s * d.decode_bytes_per_token / 1e9, 2) : "n/a"} | ${tg && tg.bandwidth_share ? (100 * tg.bandwidth_share).toFixed(0) + "% of " + f(tg.read_gb_s) + " GB/s" : "n/a"} |`);
  }
}
if (d0) console.log(`\nJ/token in these runs: ${d0.meter.label}. Load average when the table was written: ${require("os").loadavg()[0].toFixed(2)} on ${require("os").cpus().length} CPUs (other work on the machine slows the 2-thread rows most).`);
console.log("");
JS
fi

# What we know of the kernel a profile puts on top, and what is next for it
# (from measurements in the commit history; kept here so the table says it).
next_step() {
  case "$1" in
    fr_gemm_q5_0_*) echo "Next: Q5_0 is what Q4_K_M falls back to for rows that are not a multiple of 256 (Qwen2.5-0.5B's 896-wide q/k/v/o/gate/up). Its one-token kernel is bound by compute, not memory: replacing the per-block scale extraction with a constant (a measurement, wrong results) made it 15-25% faster, and 3-row tiles already gained 5-13%. Next is a scale layout per group of 16 blocks that loads without permutes, and a cheaper decode of the fifth bit." ;;
    fr_gemm_q8_0_*) echo "Next: the Q8_0 one-token kernel (34-byte blocks) runs at 80-88% of read bandwidth on its own; tile height and prefetch distance now depend on the row width (2-row tiles below 2048 values, ~8 KiB prefetch). Wider rows get slower with fewer rows per tile, which is not understood yet." ;;
    fr_gemm_q4_0_*) echo "Next: Q4_0 at one thread sits at the 80% line; the rest of the time is the tied Q8_0 output matrix (151936 rows) and attention. Tile height and prefetch distance per row width, as for Q5_0 and Q8_0, are the next things to measure." ;;
    *) echo "Next: profile the top kernel above with bench_matmul (one token, one thread) against the read loop." ;;
  esac
}

# Rows whose decode misses 80% of the measured read bandwidth get a profile:
# where the time goes (perf, cpu-clock samples) for that model and thread count.
if ! skip speed && ! skip profile && command -v perf >/dev/null 2>&1; then
  node - "$TMP/speed.jsonl" > "$TMP/misses" <<'JS'
const fs = require("fs");
let buf = "";
for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
  buf += line + "\n";
  if (line !== "}") continue;
  const d = JSON.parse(buf); buf = "";
  for (const t of d.tests)
    if (t.test === "tg" && t.bandwidth_share !== undefined && t.bandwidth_share < 0.8)
      console.log(`${d.model.name} ${t.threads} ${(100 * t.bandwidth_share).toFixed(1)}`);
}
JS
  if [ -s "$TMP/misses" ]; then
    { echo "## Where decode time goes in the rows below 80% of read bandwidth"; echo
      echo "\`perf record -e cpu-clock\` over \`frugal bench --synthetic MODEL -p 0 -n 256 -r 2 -t N\`; the top symbols by share of samples (the read-bandwidth measurement bench starts with is sampled too: fr_read_sum, page clearing)."; echo; } >> "$OUT"
    while read -r model th share; do
      perf record -q -e cpu-clock -o "$TMP/perf.data" "$FRUGAL" bench --synthetic "$model" -p 0 -n 256 -r 2 -t "$th" >/dev/null 2>&1 || continue
      # awk reads to the end: head would close the pipe and, under pipefail, fail the script
      perf report -q -i "$TMP/perf.data" --no-children --sort symbol --stdio 2>/dev/null | awk 'NF && n++ < 12' > "$TMP/top"
      top=$(awk '$2 == "[.]" { print $3; exit }' "$TMP/top")
      { echo "**$model, $th thread(s): decode at $share% of read bandwidth**"; echo; echo '```'
        cat "$TMP/top"
        echo '```'; echo
        next_step "$top"; echo; } >> "$OUT"
    done < "$TMP/misses"
  fi
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
echo "bench: wrote $OUT" >&2
