// Drives frugal serve with the official OpenAI Node client (pinned in
// serve_common.sh). Environment: OPENAI_NODE_MODULES, BASE (http://host:port),
// KEY, MODEL (the served id), EXPECT (a JSON file with `frugal run --json`
// outputs for the greedy checks: {completion: {prompt, n, text}, chat:
// {prompt, n, text}}), KIND ("stories" or "random": which checks apply).
// Prints one line per check; exits 1 on the first failure.
"use strict";
const path = require("path");
const fs = require("fs");
const OpenAI = require(path.join(process.env.OPENAI_NODE_MODULES, "openai"));

const client = new OpenAI({
  baseURL: process.env.BASE + "/v1",
  apiKey: process.env.KEY || "none",
  maxRetries: 0,
  timeout: 120000,
});
const MODEL = process.env.MODEL;
const KIND = process.env.KIND || "stories";
const expect = JSON.parse(fs.readFileSync(process.env.EXPECT, "utf8"));

function check(cond, what, detail) {
  if (!cond) {
    console.error("FAIL: " + what + (detail !== undefined ? ": " + JSON.stringify(detail).slice(0, 600) : ""));
    process.exit(1);
  }
  console.log("ok: " + what);
}

async function streamChat(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = "", finish = null, usage = null, role = null, chunks = 0, lps = [];
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (!c.choices.length) continue;
    const ch = c.choices[0];
    if (ch.delta.role) role = ch.delta.role;
    if (ch.delta.content) text += ch.delta.content;
    if (ch.logprobs && ch.logprobs.content) lps.push(...ch.logprobs.content);
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  return { text, finish, usage, role, chunks, lps };
}

async function streamCompletion(params) {
  const stream = await client.completions.create({ ...params, stream: true });
  let text = "", finish = null, usage = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    if (!c.choices.length) continue;
    text += c.choices[0].text;
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  return { text, finish, usage };
}

async function expectError(fn, status, what) {
  try {
    await fn();
  } catch (e) {
    check(e instanceof OpenAI.APIError && e.status === status, what, { status: e.status, msg: e.message });
    return e;
  }
  check(false, what + " (no error)");
}

async function main() {
  // models
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === MODEL, "models.list", models.data);

  // greedy completion equals frugal run, whole and streamed
  const ec = expect.completion;
  const c1 = await client.completions.create({ model: MODEL, prompt: ec.prompt, max_tokens: ec.n, temperature: 0 });
  check(c1.object === "text_completion" && c1.choices[0].text === ec.text,
    "completion greedy == frugal run", { got: c1.choices[0].text, want: ec.text });
  check(c1.usage.completion_tokens <= ec.n && c1.usage.prompt_tokens > 0 &&
    c1.usage.total_tokens === c1.usage.prompt_tokens + c1.usage.completion_tokens, "completion usage", c1.usage);
  const c2 = await streamCompletion({ model: MODEL, prompt: ec.prompt, max_tokens: ec.n, temperature: 0,
    stream_options: { include_usage: true } });
  check(c2.text === ec.text && c2.finish === c1.choices[0].finish_reason, "streamed completion == whole", c2);
  check(c2.usage && c2.usage.completion_tokens === c1.usage.completion_tokens, "completion include_usage", c2.usage);

  // greedy chat equals frugal run --chat
  const eh = expect.chat;
  const h1 = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: eh.prompt }],
    max_tokens: eh.n, temperature: 0 });
  check(h1.object === "chat.completion" && h1.choices[0].message.role === "assistant" &&
    h1.choices[0].message.content === eh.text, "chat greedy == frugal run --chat",
    { got: h1.choices[0].message.content, want: eh.text });
  check(typeof h1.system_fingerprint === "string" && h1.id.startsWith("chatcmpl-"), "chat id, fingerprint");
  check(typeof h1.usage.energy_joules === "number" && h1.usage.energy_joules >= 0 &&
    typeof h1.usage.energy_source === "string", "usage.energy_joules", h1.usage);
  const h2 = await streamChat({ model: MODEL, messages: [{ role: "user", content: eh.prompt }], max_tokens: eh.n,
    temperature: 0, stream_options: { include_usage: true } });
  check(h2.role === "assistant" && h2.text === eh.text && h2.finish === h1.choices[0].finish_reason,
    "streamed chat == whole", h2);
  check(h2.usage && h2.usage.completion_tokens === h1.usage.completion_tokens &&
    h2.usage.prompt_tokens === h1.usage.prompt_tokens, "chat include_usage", h2.usage);
  check(h2.usage.prompt_tokens_details.cached_tokens > 0, "second identical prompt reuses the cache", h2.usage);
  const h3 = await streamChat({ model: MODEL, messages: [{ role: "user", content: eh.prompt }], max_tokens: 3 });
  check(h3.usage === null, "no usage chunk unless asked");

  // seeds: same seed same text (whole and streamed), another seed another text
  const sp = { model: MODEL, messages: [{ role: "system", content: "Tell a story." }, { role: "user", content: "Lily" }],
    max_tokens: 40, temperature: 1.0, top_p: 1, seed: 1234 };
  if (KIND === "random") sp.logit_bias = { 2: -100 };
  const s1 = await client.chat.completions.create(sp);
  const s2 = await client.chat.completions.create(sp);
  const s3 = await streamChat(sp);
  const s4 = await client.chat.completions.create({ ...sp, seed: 4321 });
  check(s1.choices[0].message.content === s2.choices[0].message.content, "same seed, same text");
  check(s3.text === s1.choices[0].message.content, "same seed streamed, same text");
  check(s4.choices[0].message.content !== s1.choices[0].message.content, "other seed, other text",
    [s1.choices[0].message.content, s4.choices[0].message.content]);
  check(s1.system_fingerprint === s4.system_fingerprint, "fingerprint stable");

  // stop strings: the text ends before the first stop, finish_reason stop
  if (KIND === "stories") {
    const st = await client.completions.create({ model: MODEL, prompt: ec.prompt, max_tokens: 100, temperature: 0,
      stop: ["Lily", "zzz"] });
    const want = ec.text.split("Lily")[0];
    check(st.choices[0].text === want && st.choices[0].finish_reason === "stop", "stop (completions)",
      st.choices[0]);
    const st2 = await streamChat({ model: MODEL, messages: [{ role: "user", content: eh.prompt }], max_tokens: eh.n,
      temperature: 0, stop: "the" });
    const want2 = eh.text.includes("the") ? eh.text.split("the")[0] : eh.text;
    check(st2.text === want2, "stop (chat, streamed)", { got: st2.text, want: want2 });
    check(st2.finish === (eh.text.includes("the") ? "stop" : h1.choices[0].finish_reason), "stop finish_reason",
      st2.finish);
  }

  // logprobs (chat): one entry per token, top_logprobs sorted, greedy picks the first
  const lp = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: eh.prompt }],
    max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = lp.choices[0].logprobs.content;
  check(Array.isArray(content) && content.length > 0 && content.length <= lp.usage.completion_tokens,
    "logprobs.content entries", content.length);
  let bytes = [];
  for (const e of content) {
    check(typeof e.token === "string" && e.logprob <= 0 && Array.isArray(e.bytes) && e.top_logprobs.length === 3,
      "logprob entry shape", e);
    for (let i = 1; i < 3; i++) check(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob, "top sorted");
    check(e.top_logprobs[0].token === e.token && Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6,
      "greedy token is the most likely", e);
    bytes.push(...e.bytes);
  }
  if (KIND === "stories" && lp.choices[0].finish_reason === "length")
    check(Buffer.from(bytes).toString("utf8") === lp.choices[0].message.content, "token bytes spell the text",
      [Buffer.from(bytes).toString("utf8"), lp.choices[0].message.content]);
  const lps = await streamChat({ model: MODEL, messages: [{ role: "user", content: eh.prompt }], max_tokens: 8,
    temperature: 0, logprobs: true, top_logprobs: 2 });
  check(lps.lps.length === content.length && lps.lps.every((e, i) => e.token === content[i].token &&
    Math.abs(e.logprob - content[i].logprob) < 1e-6), "streamed logprobs == whole", lps.lps.length);
  // logprobs (completions, legacy shape)
  const lc = await client.completions.create({ model: MODEL, prompt: ec.prompt, max_tokens: 5, temperature: 0,
    logprobs: 2 });
  const l = lc.choices[0].logprobs;
  check(l && l.tokens.length === l.token_logprobs.length && l.tokens.length === l.top_logprobs.length &&
    l.text_offset.length === l.tokens.length && l.tokens.length > 0, "completions logprobs shape", l);

  // errors through the client
  await expectError(() => client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "x" }] }),
    404, "unknown model -> NotFoundError");
  await expectError(() => client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], n: 2 }),
    400, "n = 2 -> BadRequestError");
  await expectError(() => client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }],
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object", patternProperties: {} } } }] }),
    400, "a tool schema it cannot honour -> BadRequestError");
  if (process.env.KEY) {
    const bad = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "wrong", maxRetries: 0 });
    await expectError(() => bad.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }] }),
      401, "wrong key -> AuthenticationError");
  }
  console.log("all openai client checks passed");
}

main().catch((e) => {
  console.error("FAIL: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
