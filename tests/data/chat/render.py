#!/usr/bin/env python3
"""Renders the chat-template fixtures in this folder with jinja2 the way
transformers' apply_chat_template does (sandboxed environment, trim_blocks,
lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False)), and
writes what each template prints for the conversation of its test case in
tests/unit/test_chat_tools.c to NAME.want. These expected strings come from
the templates, not from frugal. Run: python3 render.py (jinja2 3.1).

Templates: mistral-v7-spm.jinja and mistral-v7-tekken.jinja are
mistral-common's integrations/chat_templates/templates/v7_spm.jinja and
v7.jinja (Mistral's own templates for its v7 tokenizers: Large 2411;
Small 3 / 3.1). gpt-oss.jinja is OpenAI's gpt-oss template as llama.cpp's
models/templates/openai-gpt-oss-120b.jinja carries it; its strftime_now
gives the date the test passes."""
import json
import os
import jinja2
import jinja2.ext
import jinja2.sandbox

HERE = os.path.dirname(os.path.abspath(__file__))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(m):
    raise Exception(m)


def render(name, **kw):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda fmt: "2025-08-05"
    with open(os.path.join(HERE, name + '.jinja'), encoding='utf-8') as f:
        text = f.read()
    return env.from_string(text).render(**kw)


def write(name, out):
    with open(os.path.join(HERE, name + '.want'), 'w', encoding='utf-8') as f:
        f.write(out)


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                       "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "now", "description": "The time",
        "parameters": {"type": "object", "properties": {}}}},
]

# test_mistral_v7: arguments as JSON text in json.dumps' form
MISTRAL_V7 = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "abcDEF123", "type": "function", "function": {
            "name": "get_weather",
            "arguments": json.dumps({"city": "Paris", "note": "\u00e9"}, ensure_ascii=False)}},
        {"id": "xyzXYZ789", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "abcDEF123", "content": '{"temp": 21.5}'},
    {"role": "tool", "tool_call_id": "xyzXYZ789", "content": "12:00"},
    {"role": "assistant", "content": "It is 21.5 C."},
    {"role": "user", "content": "Thanks"},
]

for name in ("mistral-v7-spm", "mistral-v7-tekken"):
    write(name, render(name, messages=MISTRAL_V7, tools=TOOLS, add_generation_prompt=True,
                       bos_token="<s>", eos_token="</s>"))

# test_gpt_oss: a schema with each branch of the template's TypeScript rendering
GPT_OSS_TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city"},
            "unit": {"type": "string", "enum": ["C", "F"], "default": "C"},
            "days": {"type": "integer", "default": 1},
            "hours": {"type": "array", "items": {"type": "integer"}},
            "tags": {"type": ["string", "null"]},
            "where": {"type": "object", "properties": {"lat": {"type": "number"},
                                                      "lon": {"type": "number"}},
                      "required": ["lat"]},
            "spots": {"type": "array",
                      "items": {"type": "object", "properties": {"x": {"type": "boolean"}}}},
            "any": {},
            "note": {"type": "string", "nullable": True},
            "pick": {"oneOf": [{"type": "string", "description": "a name"},
                               {"type": "integer", "default": 3}]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "now", "description": "The time",
        "parameters": {"type": "object", "properties": {}}}},
]
# a: a call, its result, a final answer, a new question
GPT_OSS_A = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris", "note": "\u00e9\"\n"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21.5}'},
    {"role": "assistant", "content": "It is 21.5 C."},
    {"role": "user", "content": "Thanks"},
]
# b: a call with content and no final answer yet (the content is an analysis message)
GPT_OSS_B = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "Need the weather.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": {}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
]
for suffix, conv in (("a", GPT_OSS_A), ("b", GPT_OSS_B)):
    write("gpt-oss-" + suffix, render("gpt-oss", messages=conv, tools=GPT_OSS_TOOLS,
                                      add_generation_prompt=True))
