// Does llama.cpp read a file frugal wrote the way frugal does? Loads MODEL
// with llama.cpp (node-llama-cpp's prebuilt CPU binaries, F32 KV cache),
// feeds frugal's prompt ids, then teacher-forces frugal's greedy tokens one
// by one and checks each against llama.cpp's own next-token distribution:
// the token must be llama.cpp's argmax, or a near-tie (llama.cpp's top
// probability exceeds the token's by at most --tie). Different kernels round
// differently (8-bit activations, summation order), so exact agreement at a
// near-tie is not a fair demand; agreement everywhere else is, and near-ties
// must stay rare (at most a quarter of the steps).
//
// With --logits FILE (frugal's logits of the first K steps: a JSON array of
// K rows, for the last prompt position and the K - 1 positions after it,
// frugal's greedy tokens teacher-forced), llama.cpp's raw logits of the same
// positions must agree to --logit-tol relative (max |difference| over the
// row's max |logit|; default 1e-3).
//
//   node llamacpp_agree.mjs MODEL PROMPT_IDS FRUGAL_IDS [--lora FILE:SCALE] [--tie P]
//        [--logits FILE] [--logit-tol T]
//
// PROMPT_IDS and FRUGAL_IDS are JSON arrays. Prints one JSON line; exit 0
// when every step agrees, 1 when one does not, 2 on a usage or load error.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
let lora = null, tie = 0.01, logitsFile = null, logitTol = 1e-3;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--lora") lora = args[++i];
  else if (args[i] === "--tie") tie = Number(args[++i]);
  else if (args[i] === "--logits") logitsFile = args[++i];
  else if (args[i] === "--logit-tol") logitTol = Number(args[++i]);
  else pos.push(args[i]);
}
if (pos.length !== 3) {
  console.error("usage: llamacpp_agree.mjs MODEL PROMPT_IDS FRUGAL_IDS [--lora FILE:SCALE] [--tie P]");
  process.exit(2);
}
const [modelPath, promptJson, frugalJson] = pos;
const prompt = JSON.parse(promptJson), want = JSON.parse(frugalJson);
const root = process.env.LLAMACPP_NODE_MODULES;
const { getLlama } = await import(pathToFileURL(`${root}/node-llama-cpp/dist/index.js`).href);

let llama;
try {
  llama = await getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
  const model = await llama.loadModel({ modelPath });
  const opts = { contextSize: 512, batchSize: 512, threads: 1, sequences: 1,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" };
  if (lora) {
    const k = lora.lastIndexOf(":");
    opts.lora = { adapters: [{ filePath: lora.slice(0, k), scale: Number(lora.slice(k + 1)) }] };
  }
  const ctx = await model.createContext(opts);
  const gen = ctx.getSequence().evaluateWithMetadata(prompt, { probabilities: true },
    { temperature: 0, yieldEogToken: true });
  let exact = 0, ties = 0, worst = 0, bad = -1, detail = null;
  let r = await gen.next();
  for (let i = 0; i < want.length && !r.done; i++) {
    const o = r.value, p = o.probabilities;
    const top = o.token, gap = (p.get(top) ?? 0) - (p.get(want[i]) ?? 0);
    if (top === want[i]) exact++;
    else if (gap <= tie) { ties++; worst = Math.max(worst, gap); }
    else if (bad < 0) {
      bad = i;
      detail = { llama_token: top, llama_p: p.get(top), frugal_token: want[i], frugal_p: p.get(want[i]) ?? 0 };
    }
    if (i + 1 < want.length) r = await gen.next(want[i]);
  }
  // logits of the first steps, in a fresh sequence of a second context
  let logitErr = null;
  if (logitsFile) {
    const fr = JSON.parse(readFileSync(logitsFile, "utf8"));
    const K = fr.length;
    // without flash attention: its CPU kernel rounds through F16 (1.2e-3 off
    // an F32 reference). The greedy steps keep llama.cpp's default: on
    // quantized models activations round differently anyway (logits ~1e-2
    // apart), and which of two near-tied tokens wins is luck either way.
    const ctx2 = await model.createContext({ ...opts, flashAttention: false, lora: opts.lora });
    const seq = prompt.concat(want.slice(0, K - 1));
    const first = prompt.length - 1;
    const input = seq.map((t, i) => (i >= first ? [t, { generateNext: { logits: true } }] : t));
    const res = await ctx2.getSequence().controlledEvaluate(input);
    logitErr = 0;
    for (let k = 0; k < K; k++) {
      const got = res[first + k]?.next?.logits;
      if (!got) throw new Error(`llama.cpp returned no logits for step ${k}`);
      let md = 0, mx = 0;
      for (let t = 0; t < fr[k].length; t++) {
        const b = got.get(t) ?? -Infinity;
        md = Math.max(md, Math.abs(fr[k][t] - b));
        mx = Math.max(mx, Math.abs(b));
      }
      logitErr = Math.max(logitErr, md / (mx > 0 ? mx : 1));
    }
  }
  const rel = llama.llamaCppRelease;
  const out = { n: want.length, exact, near_ties: ties, worst_tie_gap: Number(worst.toFixed(4)),
    first_disagreement: bad, detail, logit_rel_err: logitErr === null ? null : Number(logitErr.toExponential(2)),
    llama_cpp: `${rel.repo}@${rel.release}`, build: llama.buildType };
  console.log(JSON.stringify(out));
  await llama.dispose();
  const logitsOk = logitErr === null || logitErr <= logitTol;
  process.exit(bad < 0 && exact + ties === want.length && 4 * ties <= want.length && logitsOk ? 0 : 1);
} catch (e) {
  console.error(`llama.cpp could not load or run ${modelPath}: ${e && e.message ? e.message : e}`);
  process.exit(2);
}
