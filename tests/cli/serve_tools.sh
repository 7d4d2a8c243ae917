#!/usr/bin/env bash
# Structured output and tool calls through frugal serve with the official
# openai npm client (pinned), validated with ajv and zod (pinned), on
# stories260K: tools with tool_choice required / named / parallel, streamed
# calls reassembled, response_format json_schema and json_object, the
# client's parse() with zod, tool history, and the 400s for what cannot be
# honoured; then gpt-oss's harmony format (--chat-template gpt-oss).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
npm_install_once "${FR_BUILD:-$TMP}/serve-npm" "openai@$OPENAI_VERSION" "ajv@8.17.1" "zod@3.24.2"
export OPENAI_NODE_MODULES=${FR_BUILD:-$TMP}/serve-npm/node_modules
serve_start -m "$SHARED/models/stories260K.gguf" --parallel 2
serve_wait_ready
BASE=$BASE MODEL=stories260K node "$(dirname "$0")/support/serve_tools.js" > "$TMP/js.out" 2>&1 ||
  fail "openai client with tools: $(tail -5 "$TMP/js.out")"
serve_stop
# gpt-oss's harmony format: calls, the final channel and reasoning_content read back
serve_start -m "$SHARED/models/stories260K.gguf" --chat-template gpt-oss
serve_wait_ready
BASE=$BASE MODEL=stories260K HARMONY=1 node "$(dirname "$0")/support/serve_tools.js" > "$TMP/js2.out" 2>&1 ||
  fail "openai client with harmony: $(tail -5 "$TMP/js2.out")"
serve_stop
finish
