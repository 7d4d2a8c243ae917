// Perplexity of a token sequence by llama.cpp itself (node-llama-cpp's
// prebuilt CPU binaries, F32 KV cache, flash attention off), by llama.cpp's
// perplexity method, as frugal perplexity computes it: chunks of CTX tokens
// (the first replaced by BOS), each a fresh sequence, the second half of
// each chunk scored (position i predicts token i + 1 for CTX/2 <= i < CTX -
// 1). Used to check that llama.cpp loads a frugal tune adapter and agrees
// with frugal's perplexity.
//
//   node llamacpp_ppl.mjs MODEL TOKEN_IDS CTX BOS [--lora FILE:SCALE]
//
// TOKEN_IDS is a JSON array (the text's tokens, as frugal tokenize writes
// them). Prints one JSON line {ppl, chunks, scored}; exit 0, or 2 on a usage
// or load error.
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
let lora = null;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--lora") lora = args[++i];
  else pos.push(args[i]);
}
if (pos.length !== 4) {
  console.error("usage: llamacpp_ppl.mjs MODEL TOKEN_IDS CTX BOS [--lora FILE:SCALE]");
  process.exit(2);
}
const [modelPath, idsJson, ctxArg, bosArg] = pos;
const tokens = JSON.parse(idsJson), nCtx = Number(ctxArg), bos = Number(bosArg);
const root = process.env.LLAMACPP_NODE_MODULES;
const { getLlama } = await import(pathToFileURL(`${root}/node-llama-cpp/dist/index.js`).href);

try {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
  const model = await llama.loadModel({ modelPath });
  const opts = { contextSize: Math.max(nCtx, 64), batchSize: Math.max(nCtx, 64), threads: 1,
    sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" };
  if (lora) {
    const k = lora.lastIndexOf(":");
    opts.lora = { adapters: [{ filePath: lora.slice(0, k), scale: Number(lora.slice(k + 1)) }] };
  }
  const ctx = await model.createContext(opts);
  const seq = ctx.getSequence();
  const nChunks = Math.floor(tokens.length / nCtx), first = Math.floor(nCtx / 2);
  let nll = 0, count = 0;
  for (let c = 0; c < nChunks; c++) {
    const chunk = tokens.slice(c * nCtx, (c + 1) * nCtx);
    chunk[0] = bos;
    await seq.clearHistory();
    const input = chunk.map((t, i) =>
      i >= first && i + 1 < nCtx ? [t, { generateNext: { probabilities: true } }] : t);
    const res = await seq.controlledEvaluate(input);
    for (let i = first; i + 1 < nCtx; i++) {
      const p = res[i]?.next?.probabilities?.get(chunk[i + 1]) ?? 0;
      nll -= Math.log(p);
      count++;
    }
  }
  console.log(JSON.stringify({ ppl: Math.exp(nll / count), chunks: nChunks, scored: count }));
  await llama.dispose();
  process.exit(0);
} catch (e) {
  console.error(`llama.cpp could not load or run ${modelPath}: ${e && e.message ? e.message : e}`);
  process.exit(2);
}
