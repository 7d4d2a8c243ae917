// Structured output and tool calls through frugal serve, driven by the
// official OpenAI Node client (unchanged), with the answers validated by a
// real JSON Schema validator (ajv) and by zod through the client's own
// parse() helpers - never by frugal. The model is stories260K, which knows
// nothing of JSON or tools: every valid answer is the constraint's doing.
// Environment: OPENAI_NODE_MODULES, BASE, MODEL (and HARMONY). Prints one line per check;
// exits 1 on the first failure.
"use strict";
const path = require("path");
const M = process.env.OPENAI_NODE_MODULES;
const OpenAI = require(path.join(M, "openai"));
const { zodResponseFormat, zodFunction } = require(path.join(M, "openai/helpers/zod"));
const { z } = require(path.join(M, "zod"));
const Ajv = require(path.join(M, "ajv"));

const client = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "none", maxRetries: 0,
                            timeout: 300000 });
const MODEL = process.env.MODEL;
// under the sanitizers every token costs ~20x: one case of each kind then
const QUICK = !!process.env.FR_SANITIZED;
const ajv = new Ajv({ strict: true, allErrors: true });

function check(cond, what, detail) {
  if (!cond) {
    console.error("FAIL: " + what + (detail !== undefined ? ": " + JSON.stringify(detail).slice(0, 800) : ""));
    process.exit(1);
  }
  console.log("ok: " + what);
}

function validates(schema, value, what) {
  const v = ajv.compile(schema);
  check(v(value), what + " validates (ajv)", { value, errors: v.errors });
}

const weather = {
  type: "object",
  properties: {
    city: { type: "string", maxLength: 24 },
    unit: { enum: ["celsius", "fahrenheit"] },
    days: { type: "integer", minimum: 1, maximum: 14 },
  },
  required: ["city", "unit", "days"],
  additionalProperties: false,
};
const tools = [
  { type: "function", function: { name: "get_weather", description: "Weather for a city",
                                  parameters: weather, strict: true } },
  { type: "function", function: { name: "get_time", description: "Time in a zone",
                                  parameters: { type: "object", properties: { zone: { type: "string", pattern: "^[A-Z][a-z]{1,12}/[A-Z][a-z]{1,12}$" } },
                                                required: ["zone"], additionalProperties: false } } },
];
const ask = [{ role: "user", content: "What is the weather in Paris for the next three days?" }];

async function main() {
  // tool_choice "required": one valid call, for several seeds and temperatures
  for (const [seed, temperature] of QUICK ? [[2, 1]] : [[1, 0], [2, 1], [3, 1], [4, 0.7]]) {
    const r = await client.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: "required",
      parallel_tool_calls: false, seed, temperature, max_tokens: 400 });
    const ch = r.choices[0];
    check(ch.finish_reason === "tool_calls" && ch.message.tool_calls.length === 1 && ch.message.content === null,
      `required (seed ${seed}, temp ${temperature}): one call`, ch);
    const call = ch.message.tool_calls[0];
    check(/^call_[A-Za-z0-9]{24}$/.test(call.id) && call.type === "function", "call id and type", call);
    const tool = tools.find(t => t.function.name === call.function.name);
    check(tool !== undefined, "the call names a tool", call.function.name);
    let args;
    try { args = JSON.parse(call.function.arguments); } catch (e) { check(false, "arguments parse", call.function.arguments); }
    validates(tool.function.parameters, args, `arguments of ${call.function.name}`);
  }

  // a named function
  const named = await client.chat.completions.create({ model: MODEL, messages: ask, tools, seed: 5,
    tool_choice: { type: "function", function: { name: "get_time" } }, parallel_tool_calls: false, max_tokens: 300 });
  const nc = named.choices[0].message.tool_calls;
  check(nc && nc.length === 1 && nc[0].function.name === "get_time", "tool_choice names get_time", named.choices[0]);
  validates(tools[1].function.parameters, JSON.parse(nc[0].function.arguments), "get_time arguments");

  // parallel calls: every one valid
  const par = await client.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: "required",
    seed: 6, temperature: 1, max_tokens: QUICK ? 150 : 500 });
  for (const c of par.choices[0].message.tool_calls.filter((c, i, a) => i < a.length - 1 || par.choices[0].finish_reason === "tool_calls"))
    validates(tools.find(t => t.function.name === c.function.name).function.parameters,
      JSON.parse(c.function.arguments), "a parallel call's arguments");

  // streamed tool calls reassemble to the same call (same seed, same answer)
  for (const seed of QUICK ? [7] : [7, 8]) {
    const params = { model: MODEL, messages: ask, tools, tool_choice: "required", parallel_tool_calls: false,
                     seed, temperature: 1, max_tokens: 400 };
    const whole = (await client.chat.completions.create(params)).choices[0].message.tool_calls[0];
    const stream = await client.chat.completions.create({ ...params, stream: true });
    const calls = [];
    let finish = null, first = null, n = 0;
    for await (const chunk of stream) {
      const d = chunk.choices[0] && chunk.choices[0].delta;
      if (chunk.choices[0] && chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
      if (!d || !d.tool_calls) continue;
      for (const tc of d.tool_calls) {
        n++;
        if (!calls[tc.index]) {
          first = first || tc;
          calls[tc.index] = { id: tc.id, name: tc.function.name, arguments: tc.function.arguments || "" };
        } else {
          calls[tc.index].arguments += tc.function.arguments || "";
        }
      }
    }
    check(first && first.id && first.type === "function" && first.function.arguments === "",
      "first tool-call delta: id, type, name, empty arguments", first);
    check(n > 2, "arguments arrive over several deltas", n);
    check(finish === "tool_calls", "streamed finish_reason", finish);
    check(calls.length === 1 && calls[0].name === whole.function.name && calls[0].arguments === whole.function.arguments,
      `streamed call (seed ${seed}) == whole call`, { streamed: calls, whole });
    // the client's own stream helper reassembles it the same way
    const runner = client.beta.chat.completions.stream(params);
    const fin = await runner.finalChatCompletion();
    const rc = fin.choices[0].message.tool_calls[0];
    check(rc.function.name === whole.function.name && rc.function.arguments === whole.function.arguments,
      "beta.chat.completions.stream reassembles the same call", rc);
  }

  // response_format json_schema (strict): the content validates
  const person = { type: "object",
    properties: { name: { type: "string", maxLength: 30 }, age: { type: "integer", minimum: 0, maximum: 120 },
                  pets: { type: "array", items: { type: "string", maxLength: 10 }, maxItems: 3 },
                  owner: { type: ["boolean", "null"] } },
    required: ["name", "age", "pets", "owner"], additionalProperties: false };
  for (const seed of QUICK ? [1] : [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: MODEL, seed, temperature: 1, max_tokens: 500,
      messages: [{ role: "user", content: "Describe a person." }],
      response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: person } } });
    const ch = r.choices[0];
    check(ch.finish_reason === "stop", `json_schema (seed ${seed}) finishes`, ch);
    validates(person, JSON.parse(ch.message.content), `json_schema content (seed ${seed})`);
  }
  // json_object: a JSON object
  const jo = await client.chat.completions.create({ model: MODEL, seed: 9, max_tokens: QUICK ? 60 : 600,
    messages: [{ role: "user", content: "Reply in JSON." }], response_format: { type: "json_object" } });
  if (jo.choices[0].finish_reason === "stop") {
    const v = JSON.parse(jo.choices[0].message.content);
    check(v !== null && typeof v === "object" && !Array.isArray(v), "json_object content is an object", v);
  }

  // zod through the client's parse(): structured content and tool arguments
  const Pet = z.object({ name: z.string().max(20), kind: z.enum(["cat", "dog", "bird"]), age: z.number().int() });
  const parsed = await client.beta.chat.completions.parse({ model: MODEL, seed: 4, max_tokens: 400,
    messages: [{ role: "user", content: "A pet, please." }], response_format: zodResponseFormat(Pet, "pet") });
  const pet = parsed.choices[0].message.parsed;
  check(pet && Pet.safeParse(pet).success, "parse() with a zod schema", parsed.choices[0].message);
  const withTool = await client.beta.chat.completions.parse({ model: MODEL, seed: 5, max_tokens: 400, messages: ask,
    tools: [zodFunction({ name: "book_table", parameters: z.object({ guests: z.number().int().min(1).max(8), name: z.string().max(16) }) })],
    tool_choice: "required", parallel_tool_calls: false });
  const pa = withTool.choices[0].message.tool_calls[0].function.parsed_arguments;
  check(pa && Number.isInteger(pa.guests) && pa.guests >= 1 && pa.guests <= 8, "zodFunction parsed_arguments", pa);

  // a conversation with a call and its result continues
  const hist = await client.chat.completions.create({ model: MODEL, max_tokens: 20, seed: 1, tools, messages: [
    ...ask,
    { role: "assistant", content: null, tool_calls: [{ id: "call_abc", type: "function",
      function: { name: "get_weather", arguments: "{\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3}" } }] },
    { role: "tool", tool_call_id: "call_abc", content: "{\"forecast\": \"sunny\"}" },
    { role: "user", content: "Thanks!" }] });
  check(hist.choices[0].message.role === "assistant", "history with tool_calls and a tool result", hist.choices[0]);
  // tool_choice none: text, never a call
  const none = await client.chat.completions.create({ model: MODEL, max_tokens: 30, seed: 2, tools, tool_choice: "none", messages: ask });
  check(!none.choices[0].message.tool_calls && typeof none.choices[0].message.content === "string" &&
    !none.choices[0].message.content.includes("<tool_call>"), "tool_choice none answers in text", none.choices[0]);

  // what cannot be honoured is a 400 that says what
  for (const [what, params, needle] of [
    ["unsupported schema keyword", { response_format: { type: "json_schema", json_schema: { name: "x",
        schema: { type: "object", properties: { a: { not: { type: "string" } } } } } } }, "\"not\""],
    ["unknown named tool", { tools, tool_choice: { type: "function", function: { name: "nope" } } }, "nope"],
    ["tool schema keyword", { tools: [{ type: "function", function: { name: "f", parameters: { type: "array", uniqueItems: true } } }] }, "uniqueItems"],
  ]) {
    try {
      await client.chat.completions.create({ model: MODEL, messages: ask, max_tokens: 5, ...params });
      check(false, what + " (no error)");
    } catch (e) {
      check(e instanceof OpenAI.APIError && e.status === 400 && e.message.includes(needle), what + " is a 400", e.message);
    }
  }
}

// gpt-oss's harmony format (HARMONY=1, the server run with --chat-template gpt-oss): the answer
// is read back from its channels, so a required call comes back as tool_calls (whole and
// streamed), a json_schema answer as the final channel's content, and the analysis channel as
// reasoning_content. stories260K knows nothing of harmony: every header is the grammar's doing.
const hWeather = { type: "object", properties: { city: { type: "string", maxLength: 24 },
  days: { type: "integer", minimum: 1, maximum: 14 } }, required: ["city", "days"], additionalProperties: false };
const hTools = [{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: hWeather } }];
const hAsk = [{ role: "user", content: "What is the weather in Paris?" }];
const noMarkers = s => typeof s === "string" && !s.includes("<|");

async function harmony() {
  const params = { model: MODEL, messages: hAsk, tools: hTools, tool_choice: "required", seed: 3, temperature: 1, max_tokens: 300 };
  const r = await client.chat.completions.create(params);
  const ch = r.choices[0];
  check(ch.finish_reason === "tool_calls" && ch.message.content === null && ch.message.tool_calls.length === 1,
    "harmony: a required call comes back as tool_calls", ch);
  const call = ch.message.tool_calls[0];
  check(call.function.name === "get_weather" && ajv.compile(hWeather)(JSON.parse(call.function.arguments)),
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
    const p = { model: MODEL, messages: hAsk, tools: hTools, seed, temperature: 1, max_tokens: 120 };
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

(process.env.HARMONY ? harmony() : main())
  .catch(e => { console.error("FAIL: exception: " + (e && e.stack || e)); process.exit(1); });
