// Load test: CLIENTS concurrent streaming clients, each sending REQUESTS chat
// requests one after another through the OpenAI client. Every request must
// succeed with MAX_TOKENS tokens (end-of-generation banned) and a usage
// chunk. Prints requests, failures, p50/p95 latency and aggregate tok/s as
// one JSON line. Environment: OPENAI_NODE_MODULES, BASE, MODEL, CLIENTS,
// REQUESTS, MAX_TOKENS.
"use strict";
const path = require("path");
const OpenAI = require(path.join(process.env.OPENAI_NODE_MODULES, "openai"));
const client = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "none", maxRetries: 0, timeout: 300000 });
const CLIENTS = Number(process.env.CLIENTS || 8), REQUESTS = Number(process.env.REQUESTS || 25);
const MAX_TOKENS = Number(process.env.MAX_TOKENS || 16);
const prompts = ["Once upon a time", "Lily and Tom", "The little dog", "A big red ball", "The sun was hot"];

async function one(i, k) {
  const t0 = process.hrtime.bigint();
  const stream = await client.chat.completions.create({
    model: process.env.MODEL, stream: true, stream_options: { include_usage: true },
    messages: [{ role: "user", content: prompts[(i + k) % prompts.length] + " " + i }],
    max_tokens: MAX_TOKENS, temperature: 0.8, seed: i * 1000 + k, logit_bias: { 2: -100 },
  });
  let usage = null, first = null, text = "";
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    if (c.choices.length && c.choices[0].delta.content) {
      if (first === null) first = process.hrtime.bigint();
      text += c.choices[0].delta.content;
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!usage || usage.completion_tokens !== MAX_TOKENS) throw new Error("usage " + JSON.stringify(usage));
  return { ms, ttft: first === null ? ms : Number(first - t0) / 1e6, tokens: usage.completion_tokens };
}

async function worker(i, out) {
  for (let k = 0; k < REQUESTS; k++) {
    try { out.ok.push(await one(i, k)); } catch (e) { out.failed.push(String(e && e.message)); }
  }
}

function pct(a, p) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
}

(async () => {
  const out = { ok: [], failed: [] };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => worker(i, out)));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const tokens = out.ok.reduce((s, r) => s + r.tokens, 0);
  const lat = out.ok.map((r) => r.ms), ttft = out.ok.map((r) => r.ttft);
  console.log(JSON.stringify({
    clients: CLIENTS, requests: CLIENTS * REQUESTS, ok: out.ok.length, failed: out.failed.length,
    p50_ms: +pct(lat, 0.5).toFixed(1), p95_ms: +pct(lat, 0.95).toFixed(1),
    ttft_p50_ms: +pct(ttft, 0.5).toFixed(1), ttft_p95_ms: +pct(ttft, 0.95).toFixed(1),
    wall_s: +wall.toFixed(2), tok_per_s: +(tokens / wall).toFixed(1), first_errors: out.failed.slice(0, 3),
  }));
  process.exit(out.failed.length ? 1 : 0);
})();
