// gpt-oss's harmony format through frugal serve, on stories260K with the gpt-oss chat
// template (--chat-template gpt-oss): the answer is read back from its channels, so a
// required call comes back as tool_calls (whole and streamed), a json_schema answer as the
// final channel's content, and the analysis channel as reasoning_content. stories260K knows
// nothing of harmony: every header is the grammar's doing, as for the other formats.
// Environment: OPENAI_NODE_MODULES, BASE, MODEL. Exits 1 on the first failure.
"use strict";
const path = require("path");
const M = process.env.OPENAI_NODE_MODULES;
const OpenAI = require(path.join(M, "openai"));
const Ajv = require(path.join(M, "ajv"));

const client = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "none", maxRetries: 0,
                            timeout: 300000 });
const MODEL = process.env.MODEL;
const ajv = new Ajv({ strict: true, allErrors: true });

function check(cond, what, detail) {
  if (!cond) {
    console.error("FAIL: " + what + (detail !== undefined ? ": " + JSON.stringify(detail).slice(0, 800) : ""));
    process.exit(1);
  }
  console.log("ok: " + what);
}

const weather = { type: "object", properties: { city: { type: "string", maxLength: 24 },
  days: { type: "integer", minimum: 1, maximum: 14 } }, required: ["city", "days"], additionalProperties: false };
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: weather } }];
const ask = [{ role: "user", content: "What is the weather in Paris?" }];
const noMarkers = s => typeof s === "string" && !s.includes("<|");

async function main() {
  const params = { model: MODEL, messages: ask, tools, tool_choice: "required", seed: 3, temperature: 1, max_tokens: 300 };
  const r = await client.chat.completions.create(params);
  const ch = r.choices[0];
  check(ch.finish_reason === "tool_calls" && ch.message.content === null && ch.message.tool_calls.length === 1,
    "harmony: a required call comes back as tool_calls", ch);
  const call = ch.message.tool_calls[0];
  check(call.function.name === "get_weather" && ajv.compile(weather)(JSON.parse(call.function.arguments)),
    "harmony: the call's name and arguments (ajv)", call);

  const stream = await client.chat.completions.create({ ...params, stream: true });
  let name = "", args = "", finish = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.finish_reason) finish = c.finish_reason;
    for (const tc of (c.delta && c.delta.tool_calls) || []) {
      name += tc.function.name || "";
      args += tc.function.arguments || "";
    }
  }
  check(finish === "tool_calls" && name === call.function.name && args === call.function.arguments,
    "harmony: the streamed call reassembles to the same call", { name, args, finish });

  // json_schema: at once on the final channel, whose text is the content
  const person = { type: "object", properties: { name: { type: "string", maxLength: 20 },
    age: { type: "integer", minimum: 0, maximum: 120 } }, required: ["name", "age"], additionalProperties: false };
  const j = await client.chat.completions.create({ model: MODEL, seed: 1, temperature: 1, max_tokens: 200,
    messages: [{ role: "user", content: "Describe a person." }],
    response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: person } } });
  const jm = j.choices[0].message;
  check(j.choices[0].finish_reason === "stop" && noMarkers(jm.content) && ajv.compile(person)(JSON.parse(jm.content)),
    "harmony: json_schema content from the final channel (ajv)", j.choices[0]);

  // tool_choice auto: the model may reason first; the analysis channel is reasoning_content,
  // whole and streamed, and never shows in the content
  // (stories260K picks the analysis channel for some seeds, a call for others)
  let auto = null, a = null;
  for (let seed = 1; seed <= 12 && !auto; seed++) {
    const p = { model: MODEL, messages: ask, tools, seed, temperature: 1, max_tokens: 120 };
    const m = (await client.chat.completions.create(p)).choices[0].message;
    check(!m.content || noMarkers(m.content), `harmony: auto (seed ${seed}) content has no markers`, m);
    if (m.reasoning_content !== undefined) {
      auto = p;
      a = m;
    }
  }
  check(a && noMarkers(a.reasoning_content) && a.reasoning_content.length > 0 && !a.content,
    "harmony: the analysis channel is reasoning_content", a);
  let reasoning = "", content = "";
  for await (const chunk of await client.chat.completions.create({ ...auto, stream: true })) {
    const d = chunk.choices[0] && chunk.choices[0].delta;
    reasoning += (d && d.reasoning_content) || "";
    content += (d && d.content) || "";
  }
  check(reasoning === a.reasoning_content && content === "",
    "harmony: streamed reasoning_content deltas reassemble to the same", { reasoning, content });
}

main().catch(e => { console.error("FAIL: exception: " + (e && e.stack || e)); process.exit(1); });
