// Drives two frugal serve replicas behind nginx (serve_nginx.sh) with the
// official OpenAI Node client: plain and streamed requests through nginx,
// then replica A is stopped (SIGTERM with --drain-delay) in the middle:
// its /health turns 503 "draining" while requests still succeed, its
// listener closes, and every later request still succeeds (nginx hands it
// to replica B). The client never retries (maxRetries 0): only nginx may.
// Environment: OPENAI_NODE_MODULES, NGINX (http://host:port of nginx),
// A (http://host:port of replica A), A_PID, MODEL, EXPECT (JSON from
// `frugal run --json`: {completion: {prompt, n, text}, chat: {...}}).
"use strict";
const path = require("path");
const fs = require("fs");
const http = require("http");
const OpenAI = require(path.join(process.env.OPENAI_NODE_MODULES, "openai"));

const client = new OpenAI({ baseURL: process.env.NGINX + "/v1", apiKey: "none", maxRetries: 0, timeout: 60000 });
const MODEL = process.env.MODEL;
const expect = JSON.parse(fs.readFileSync(process.env.EXPECT, "utf8"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what, detail) {
  if (!cond) {
    console.error("FAIL: " + what + (detail !== undefined ? ": " + JSON.stringify(detail).slice(0, 600) : ""));
    process.exit(1);
  }
  console.log("ok: " + what);
}

async function chat(stream) {
  const eh = expect.chat;
  const p = { model: MODEL, messages: [{ role: "user", content: eh.prompt }], max_tokens: eh.n, temperature: 0 };
  if (!stream) {
    const r = await client.chat.completions.create(p);
    return r.choices[0].message.content;
  }
  const s = await client.chat.completions.create({ ...p, stream: true });
  let text = "", chunks = 0;
  for await (const c of s) {
    chunks++;
    if (c.choices.length && c.choices[0].delta.content) text += c.choices[0].delta.content;
  }
  check(chunks > 2, "stream arrives as several chunks", chunks);
  return text;
}

async function completion(stream) {
  const ec = expect.completion;
  const p = { model: MODEL, prompt: ec.prompt, max_tokens: ec.n, temperature: 0 };
  if (!stream) return (await client.completions.create(p)).choices[0].text;
  const s = await client.completions.create({ ...p, stream: true });
  let text = "";
  for await (const c of s) if (c.choices.length) text += c.choices[0].text;
  return text;
}

// n requests at once, alternating kinds; each must give `frugal run`'s text
async function wave(n, what) {
  const jobs = [];
  for (let i = 0; i < n; i++) {
    const stream = i % 2 === 0;
    jobs.push(i % 4 < 2 ? chat(stream).then((t) => [t, expect.chat.text, "chat", stream])
                        : completion(stream).then((t) => [t, expect.completion.text, "completion", stream]));
  }
  const res = await Promise.allSettled(jobs);
  res.forEach((r, i) => {
    check(r.status === "fulfilled", `${what}: request ${i} succeeded`, r.reason && String(r.reason));
    const [got, want, kind, stream] = r.value;
    check(got === want, `${what}: ${kind}${stream ? " (streamed)" : ""} == frugal run`, { got, want });
  });
}

// GET /health on a new connection each time (a pooled keep-alive connection
// would see the replica close it, not the listener refuse a new one)
function health(base) {
  return new Promise((resolve) => {
    const req = http.get(base + "/health", { agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
      res.on("error", (e) => resolve({ status: 0, error: e.code || String(e) }));
    });
    req.on("error", (e) => resolve({ status: 0, error: e.code || String(e) }));
  });
}

async function main() {
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === MODEL, "models.list through nginx", models.data);
  await wave(6, "both replicas");

  // stop replica A in the middle of the test
  process.kill(Number(process.env.A_PID), "SIGTERM");
  let h;
  for (let i = 0; i < 200; i++) {
    h = await health(process.env.A);
    if (h.status !== 200) break;
    await sleep(10);
  }
  check(h.status === 503 && JSON.parse(h.body).error.code === "draining", "A's /health: 503 draining", h);
  await wave(4, "while A drains");
  // until the listener is closed: 503 answers, or a connection that was
  // queued as the listener closed and is reset, then refused ones
  for (let i = 0; i < 3000; i++) {
    h = await health(process.env.A);
    if (h.status === 0 && h.error === "ECONNREFUSED") break;
    check(h.status === 503 || (h.status === 0 && h.error === "ECONNRESET"),
      "A's /health stays 503 until its listener closes", h);
    await sleep(10);
  }
  check(h.status === 0 && h.error === "ECONNREFUSED", "A's listener is closed", h);
  await wave(6, "after A stopped");
  for (let i = 0; i < 2; i++) check((await chat(true)) === expect.chat.text, `sequential request ${i} after A stopped`);
}

main().catch((e) => {
  console.error("FAIL: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
