// bench_table.js - the speed tables of BENCHMARKS.md from one run of
// scripts/bench.sh: frugal, ik_llama.cpp and llama.cpp measured side by side
// on the same files (raw JSON per row and engine in DIR), with the ratios
// and whether each of issue 15's targets is met. Also writes DIR/misses:
// the rows whose decode misses, for the profile section.
//
//   node bench_table.js DIR "MODEL:TYPE:THREADS ..." PP_LIST DEPTH QUANTIZER [TITLE]
"use strict";
const fs = require("fs");
const path = require("path");
const [dir, rowsArg, ppArg, depthArg, quantizer, titleArg] = process.argv.slice(2);
const rows = rowsArg.split(/\s+/).filter(Boolean).map((r) => {
  const [model, type, threads] = r.split(":");
  return { model, type, threads: +threads, key: r };
});
const pps = ppArg.split(",").map(Number).filter((x) => x > 0);
const depth = depthArg ? +depthArg : 0;

const read = (f) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  } catch (e) {
    return undefined;
  }
};

// Every engine's results as test name -> {ts, sd}; test names: pp128,
// tg64, tg64@d2048.
function frugalTests(j) {
  const out = {};
  if (!j) return out;
  for (const t of j.tests) {
    const name = t.test + t.n_tokens + (t.depth ? "@d" + t.depth : "");
    out[name] = { ts: t.tok_s, sd: t.tok_s_sd, share: t.bandwidth_share, gbs: t.gb_s, read: t.read_gb_s };
  }
  return out;
}
function llamaTests(arrs, gpIsDepth) {
  const out = {};
  for (const a of arrs) {
    if (!Array.isArray(a)) continue;
    for (const t of a) {
      const d = t.n_depth || 0;
      let name;
      if (t.n_gen === 0) name = "pp" + t.n_prompt;
      else if (t.n_prompt === 0) name = "tg" + t.n_gen + (d ? "@d" + d : "");
      else if (gpIsDepth) name = "tg" + t.n_gen + "@d" + t.n_prompt; // ik's -gp PP,TG
      else continue;
      out[name] = { ts: t.avg_ts, sd: t.stddev_ts };
    }
  }
  return out;
}
const version = (arrs) => {
  for (const a of arrs)
    if (Array.isArray(a) && a.length) return `${a[0].build_commit} (build ${a[0].build_number})`;
  return undefined;
};

const data = rows.map((r) => {
  const fj = read(`${r.key}.frugal.json`);
  const ij = read(`${r.key}.ik.json`);
  const lj = read(`${r.key}.llama.json`);
  const ldj = read(`${r.key}.llama-d.json`);
  let size;
  try {
    size = fs.statSync(fs.readFileSync(path.join(dir, `${r.key}.path`), "utf8").trim()).size;
  } catch (e) {}
  return {
    ...r, fj, size,
    frugal: frugalTests(fj),
    ik: llamaTests([ij], true),
    llama: llamaTests([lj, ldj], false),
    ikv: version([ij]),
    llv: version([lj, ldj]),
  };
});

const fmt = (x, d = 1) => (x === undefined || x === null || !isFinite(x) ? "n/a" : x.toFixed(d));
const cell = (t, d = 1) => (t ? `${fmt(t.ts, d)} ± ${fmt(t.sd, d)}` : "n/a");
const ratio = (a, b) => (a && b && b.ts > 0 ? (a.ts / b.ts).toFixed(2) + "x" : "n/a");
const mib = (b) => (b / 1048576).toFixed(0) + " MiB";

const d0 = data.find((d) => d.fj);
const ikv = (data.find((d) => d.ikv) || {}).ikv;
const llv = (data.find((d) => d.llv) || {}).llv;
console.log(`## ${titleArg || "Prefill and decode speed (tok/s): frugal, ik_llama.cpp and llama.cpp in one run"}\n`);
console.log(
  `Method: for each row, the three engines run one after the other on the same GGUF file ` +
  `(random weights with the model's exact shapes and its real tokenizer, written as F16 by ` +
  `\`frugal bench --synthetic MODEL --write-f16\`, quantized by \`${quantizer}\`), with the same ` +
  `threads; the engine that goes first rotates from row to row. Each figure is the mean ± sd ` +
  `of the timed runs after a warm-up. frugal: \`frugal bench -m FILE -p ${ppArg} -n 64` +
  `${depth ? ` -d 0,${depth}` : ""} -t N\` (kernels: ${d0 ? d0.fj.machine.isa : "n/a"}); ` +
  `ik_llama.cpp: \`llama-bench -m FILE -t N -p ${ppArg} -n 64${depth ? ` -gp ${depth},64` : ""} ` +
  `-rtr 1 -fa 1\` (commit ${ikv || "peer not available"}); llama.cpp: \`llama-bench -m FILE -t N ` +
  `-p ${ppArg} -n 64\`${depth ? ` and \`-p 0 -n 64 -d ${depth}\`` : ""}, its defaults ` +
  `(commit ${llv || "peer not available"}). tg64@d${depth || "D"}: 64 tokens decoded after a ` +
  `${depth || "D"}-token prompt already in the cache.\n`
);

// Targets (issue 15): prefill >= 1.2x ik at pp128/pp512, >= 1.0x at
// pp2048; decode >= 90% of read bandwidth and >= ik (>= 1.1x ik where ik is
// under 85% of the bandwidth); decode at depth >= ik.
const tests = [...pps.map((p) => "pp" + p), "tg64", ...(depth ? ["tg64@d" + depth] : [])];
const misses = [];
for (const test of tests) {
  const isTg = test.startsWith("tg");
  const head = ["model", "type", "threads", "frugal", "ik_llama.cpp", "llama.cpp", "frugal / ik", "frugal / llama.cpp"];
  if (test === "tg64") head.push("frugal: share of read bandwidth", "ik: share");
  head.push("target");
  console.log(`### ${test}\n`);
  console.log("| " + head.join(" | ") + " |");
  console.log("|" + head.map(() => "---").join("|") + "|");
  for (const d of data) {
    const f = d.frugal[test], ik = d.ik[test], ll = d.llama[test];
    const cols = [d.model, d.type, d.threads, cell(f, isTg ? 2 : 1), cell(ik, isTg ? 2 : 1), cell(ll, isTg ? 2 : 1), ratio(f, ik), ratio(f, ll)];
    let target = "n/a";
    if (f && ik) {
      const r = f.ts / ik.ts;
      if (test === "tg64") {
        const ikShare = f.read && d.fj ? (ik.ts * d.fj.decode_bytes_per_token) / 1e9 / f.read : undefined;
        const need = ikShare !== undefined && ikShare < 0.85 ? 1.1 : 1.0;
        cols.push(f.share ? (100 * f.share).toFixed(0) + "% of " + fmt(f.read) + " GB/s" : "n/a",
                  ikShare !== undefined ? (100 * ikShare).toFixed(0) + "%" : "n/a");
        const okBw = f.share === undefined || f.share >= 0.9;
        const ok = r >= need && okBw;
        target = ok ? "met" : `missed (${!okBw ? "< 90% of bandwidth" : ""}${!okBw && r < need ? ", " : ""}${r < need ? `< ${need.toFixed(1)}x ik` : ""})`;
        if (!ok) misses.push(`${d.model} ${d.type} ${d.threads} decode ${fmt(f.ts, 2)} tok/s = ${f.share ? (100 * f.share).toFixed(0) : "?"}% of read bandwidth, ${r.toFixed(2)}x ik_llama.cpp`);
      } else {
        const need = test.startsWith("pp") ? (+test.slice(2) >= 2048 ? 1.0 : 1.2) : 1.0;
        target = r >= need ? "met" : `missed (< ${need.toFixed(1)}x ik)`;
      }
    } else if (test === "tg64") {
      cols.push(f && f.share ? (100 * f.share).toFixed(0) + "% of " + fmt(f.read) + " GB/s" : "n/a", "n/a");
    }
    cols.push(target);
    console.log("| " + cols.join(" | ") + " |");
  }
  console.log("");
}

// Memory: peak RSS against the file plus the KV cache (target: within 10%).
console.log("### Peak RSS (frugal)\n");
console.log("Target: no more than 10% above the model file plus the KV cache. frugal bench's context holds the longest test (prompt or depth + 64 tokens); prompts run in batches of 512.\n");
console.log("| model | type | threads | file | KV cache (type, positions) | peak RSS | / (file + KV) | target |");
console.log("|---|---|---|---|---|---|---|---|");
for (const d of data) {
  if (!d.fj || !d.size) continue;
  const kv = d.fj.kv_cache_bytes || 0;
  const rss = d.fj.peak_rss_bytes;
  const r = rss / (d.size + kv);
  console.log(`| ${d.model} | ${d.type} | ${d.threads} | ${mib(d.size)} | ${mib(kv)} (${d.fj.kv_type || "?"}, ${d.fj.n_ctx || "?"}) | ${mib(rss)} | ${r.toFixed(2)} | ${r <= 1.1 ? "met" : "missed"} |`);
}
console.log("");
if (d0)
  console.log(`J/token and load: ${d0.fj.meter.label}. Load average when the table was written: ${require("os").loadavg()[0].toFixed(2)} on ${require("os").cpus().length} CPUs (other work on the machine slows the 2-thread rows most).\n`);
fs.writeFileSync(path.join(dir, "misses"), misses.map((m) => m.replace(/^(\S+) (\S+) (\S+) /, "$1 $2 $3 ")).join("\n") + (misses.length ? "\n" : ""));
