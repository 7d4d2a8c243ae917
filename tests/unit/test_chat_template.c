/* Tests for src/text/chat_template.c.
 *
 * Each family is pinned with one six-message conversation (system, then
 * user/assistant alternating, an assistant answer with surrounding spaces so
 * trimming shows) and the generation prompt. The expected strings were
 * written by hand by evaluating each fixture template below on that
 * conversation (bos_token/eos_token = the model's usual texts), not by
 * running the code under test. The fixtures are the template texts (or, for
 * long ones, the parts that decide the output for plain text messages) of
 * the models named beside them, as published in their tokenizer_config.json
 * / GGUF files. */
#include "test.h"

#include <frugal/chat.h>

#include <frugal/gguf.h>

#include <regex.h>
#include <unistd.h>

/* ---- fixtures --------------------------------------------------------- */

/* Qwen/Qwen2.5-*-Instruct (also in ../shared/vocab/ggml-vocab-qwen2.gguf);
 * the tool-call branches are shortened. */
static const char QWEN25[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\n...</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or "
    "(message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

/* HuggingFaceTB/SmolLM2-*-Instruct */
static const char SMOLLM2[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

/* teknium/OpenHermes-2.5-Mistral-7B: plain ChatML, no default system. */
static const char HERMES[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* Qwen/Qwen3-* (tools branches shortened) */
static const char QWEN3[] =
    "{%- if messages[0].role == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
    "    {%- if ns.multi_step_tool and message.role == \"user\" %}\n"
    "        {%- set ns.multi_step_tool = false %}\n"
    "        {%- set ns.last_query_index = index %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- set content = message.content %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {%- set reasoning_content = '' %}\n"
    "        {%- if '</think>' in content %}\n"
    "            {%- set reasoning_content = "
    "content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
    "            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "        {%- endif %}\n"
    "        {%- if loop.index0 > ns.last_query_index %}\n"
    "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + "
    "reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
    "            {%- else %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "            {%- endif %}\n"
    "        {%- else %}\n"
    "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
    "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n";

/* meta-llama/Meta-Llama-3-8B-Instruct */
static const char LLAMA3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/* meta-llama/Llama-3.2-*-Instruct (in ../shared/vocab/ggml-vocab-llama-bpe.gguf);
 * the tool branches are left out. Llama 3.1 differs only in the date
 * default (no strftime_now). */
#define LLAMA32_HEAD                                                                  \
    "{{- bos_token }}\n"                                                              \
    "{%- if not date_string is defined %}\n"
#define LLAMA32_DATE                                                                  \
    "    {%- if strftime_now is defined %}\n"                                         \
    "        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n"                   \
    "    {%- else %}\n"                                                               \
    "        {%- set date_string = \"26 Jul 2024\" %}\n"                              \
    "    {%- endif %}\n"
#define LLAMA31_DATE "    {%- set date_string = \"26 Jul 2024\" %}\n"
#define LLAMA3X_TAIL                                                                  \
    "{%- endif %}\n"                                                                  \
    "{%- if messages[0]['role'] == 'system' %}\n"                                     \
    "    {%- set system_message = messages[0]['content']|trim %}\n"                   \
    "    {%- set messages = messages[1:] %}\n"                                        \
    "{%- else %}\n"                                                                   \
    "    {%- set system_message = \"\" %}\n"                                          \
    "{%- endif %}\n"                                                                  \
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"                   \
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"                           \
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"                            \
    "{{- system_message }}\n"                                                         \
    "{{- \"<|eot_id|>\" }}\n"                                                         \
    "{%- for message in messages %}\n"                                                \
    "        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ " \
    "message['content'] | trim + '<|eot_id|>' }}\n"                                   \
    "{%- endfor %}\n"                                                                 \
    "{%- if add_generation_prompt %}\n"                                               \
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"              \
    "{%- endif %}\n"
static const char LLAMA32[] = LLAMA32_HEAD LLAMA32_DATE LLAMA3X_TAIL;
static const char LLAMA31[] = LLAMA32_HEAD LLAMA31_DATE LLAMA3X_TAIL;

/* meta-llama/Llama-2-7b-chat-hf */
static const char LLAMA2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% "
    "set system_message = false %}{% endif %}{% for message in loop_messages %}{% if "
    "(message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
    "roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 "
    "and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% "
    "endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
    "eos_token }}{% endif %}{% endfor %}";

/* mistralai/Mistral-7B-Instruct-v0.1 (2024 template with system support) */
static const char MISTRAL_V01[] =
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token}}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

/* mistralai/Mixtral-8x7B-Instruct-v0.1 (and Mistral-7B-Instruct-v0.2 of early 2024) */
static const char MIXTRAL[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ "
    "'[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
    "are supported!') }}{% endif %}{% endfor %}";

/* mistralai/Mistral-7B-Instruct-v0.3; tool branches shortened */
static const char MISTRAL_V03[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- \"[AVAILABLE_TOOLS] [\" }}...{{- \"[/AVAILABLE_TOOLS]\" }}\n"
    "        {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- else %}\n"
    "            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- \" \" + message[\"content\"]|trim + eos_token}}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

/* mistralai/Mistral-Nemo-Instruct-2407 (Tekken); tool branches shortened */
static const char NEMO[] =
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- else %}\n"
    "            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- message[\"content\"] + eos_token}}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

/* microsoft/Phi-3-mini-4k-instruct (mid-2024 revision) */
static const char PHI3[] =
    "{{ bos_token }}{% for message in messages %}{{'<|' + message['role'] + '|>' + '\n' + "
    "message['content'] + '<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

/* microsoft/Phi-3.5-mini-instruct */
static const char PHI35[] =
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

/* google/gemma-2-*-it */
static const char GEMMA2[] =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
    "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
    "'<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor "
    "%}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

/* HuggingFaceH4/zephyr-7b-beta (rendered with trim_blocks, as transformers does) */
static const char ZEPHYR[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
    "'<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' "
    "%}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last "
    "and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

/* deepseek-ai/deepseek-llm-7b-chat, DeepSeek-V2-Chat */
static const char DEEPSEEK2[] =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif "
    "%}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + "
    "message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + "
    "message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] "
    "+ '\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif "
    "%}";

#define U_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define U_ASST "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"
#define U_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define U_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

/* deepseek-ai/DeepSeek-V3; tool branches shortened */
static const char DEEPSEEK3[] =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif "
    "%}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, "
    "system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] "
    "== 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + "
    "message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = "
    "ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ "
    "bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == "
    "'user' %}{%- set ns.is_tool = false -%}{{'" U_USER "' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if "
    "ns.is_tool %}{{'<\xef\xbd\x9ctool\xe2\x96\x81outputs\xe2\x96\x81" "end\xef\xbd\x9c>' + "
    "message['content'] + '" U_EOS "'}}{%- set ns.is_tool = false -%}{%- else %}{{'" U_ASST
    "' + message['content'] + '" U_EOS "'}}{%- endif %}{%- endif %}{%- endfor -%}{% if "
    "add_generation_prompt and not ns.is_tool %}{{'" U_ASST "'}}{% endif %}";

/* deepseek-ai/DeepSeek-R1-Distill-Qwen-32B; tool branches shortened */
static const char DEEPSEEK_R1[] =
    "{%- set ns = namespace(is_first=false, is_tool=false, is_output_first=true, "
    "system_prompt='') -%}\n"
    "{%- for message in messages -%}\n"
    "  {%- if message['role'] == 'system' -%}\n"
    "    {%- set ns.system_prompt = message['content'] -%}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}{{bos_token}}{{ns.system_prompt}}\n"
    "{%- for message in messages -%}\n"
    "  {%- if message['role'] == 'user' -%}\n"
    "    {%- set ns.is_tool = false -%}{{'" U_USER "' + message['content']}}\n"
    "  {%- endif -%}\n"
    "  {%- if message['role'] == 'assistant' and message['content'] is not none -%}\n"
    "      {%- set content = message['content'] -%}\n"
    "      {%- if '</think>' in content -%}\n"
    "        {%- set content = content.split('</think>')[-1] -%}\n"
    "      {%- endif -%}{{'" U_ASST "' + content + '" U_EOS "'}}\n"
    "  {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt and not ns.is_tool -%}{{'" U_ASST "<think>\\n'}}\n"
    "{%- endif %}";

/* microsoft/phi-4 */
static const char PHI4[] =
    "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system"
    "<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'"
    "<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] "
    "== 'assistant') %}{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}"
    "{% endif %}";

/* Phi-4 as some GGUF conversions carry it: the user turn opens the answer */
static const char PHI4_OPEN[] =
    "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system"
    "<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'"
    "<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant"
    "<|im_sep|>'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}"
    "{% endif %}{% endfor %}";

/* mistralai/Mistral-Small-24B-Instruct-2501 (v7 tekken) */
static const char MISTRAL_V7[] =
    "{{- bos_token }}\n\n{%- for message in messages %}\n    {%- if message['role'] == 'user' %}\n"
    "        {{- '[INST]' + message['content'] + '[/INST]' }}\n"
    "    {%- elif message['role'] == 'system' %}\n"
    "        {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- message['content'] + eos_token }}\n    {%- else %}\n"
    "        {{- raise_exception('Only user, system and assistant roles are supported!') }}\n"
    "    {%- endif %}\n{%- endfor %}";

/* The shape of Mistral Small 3.1's template: a default system message
 * (shortened here) printed when the conversation brings none */
static const char MISTRAL_V7_DEFAULT[] =
    "{%- set default_system_message = \"You are Mistral Small 3.1, a Large Language Model.\\n"
    "Say \\\"I don't know\\\" when unsure.\" %}\n{{- bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n{%- else %}\n"
    "    {%- set system_message = default_system_message %}\n"
    "    {%- set loop_messages = messages %}\n{%- endif %}\n"
    "{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}\n"
    "{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' %}\n"
    "        {{- '[INST]' + message['content'] + '[/INST]' }}\n"
    "    {%- elif message['role'] == 'system' %}\n"
    "        {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- message['content'] + eos_token }}\n    {%- endif %}\n{%- endfor %}";

/* mistralai/Mistral-Large-Instruct-2411 (v7, spaced) */
static const char MISTRAL_V7_LARGE[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' "
    "+ message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + "
    "message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and "
    "assistant roles are supported!') }}{% endif %}{% endfor %}";

/* meta-llama/Llama-4-Scout-17B-16E-Instruct; tool and image branches removed */
static const char LLAMA4[] =
    "{{- bos_token }}\n{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n    {%- set user_supplied_system_message = true %}\n"
    "{%- else %}\n    {%- set system_message = \"\" %}\n"
    "    {%- set user_supplied_system_message = false %}\n{%- endif %}\n"
    "{%- if user_supplied_system_message %}\n"
    "    {{- \"<|header_start|>system<|header_end|>\\n\\n\" }}\n"
    "    {{- system_message }}\n    {{- \"<|eot|>\" }}\n{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' }}\n"
    "    {{- message['content'] }}\n    {{- \"<|eot|>\" }}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|header_start|>assistant<|header_end|>\\n\\n' }}\n{%- endif %}\n";

/* ---- the conversation ------------------------------------------------- */

#define S "You are a helpful assistant"
/* openai/gpt-oss-20b / 120b (harmony): the main logic of the template for
 * plain text messages (tool rendering, thinking and tool-call branches
 * left out). */
static const char GPT_OSS[] =
    "{%- macro build_system_message() -%}\n"
    "    {%- if model_identity is not defined %}\n"
    "        {%- set model_identity = \"You are ChatGPT, a large language model trained by OpenAI.\" %}\n"
    "    {%- endif %}\n"
    "    {{- model_identity + \"\\n\" }}\n"
    "    {{- \"Knowledge cutoff: 2024-06\\n\" }}\n"
    "    {{- \"Current date: \" + strftime_now(\"%Y-%m-%d\") + \"\\n\\n\" }}\n"
    "    {%- if reasoning_effort is not defined %}\n"
    "        {%- set reasoning_effort = \"medium\" %}\n"
    "    {%- endif %}\n"
    "    {{- \"Reasoning: \" + reasoning_effort + \"\\n\\n\" }}\n"
    "    {{- \"# Valid channels: analysis, commentary, final. Channel must be included for every message.\" }}\n"
    "{%- endmacro -%}\n"
    "{{- \"<|start|>system<|message|>\" }}\n"
    "{{- build_system_message() }}\n"
    "{{- \"<|end|>\" }}\n"
    "{%- if messages[0].role == \"developer\" or messages[0].role == \"system\" %}\n"
    "    {%- set developer_message = messages[0].content %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set developer_message = \"\" %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- if developer_message or tools %}\n"
    "    {{- \"<|start|>developer<|message|>\" }}\n"
    "    {%- if developer_message %}\n"
    "        {{- \"# Instructions\\n\\n\" }}\n"
    "        {{- developer_message }}\n"
    "        {{- \"\\n\\n\" }}\n"
    "    {%- endif %}\n"
    "    {{- \"<|end|>\" }}\n"
    "{%- endif %}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if message.role == 'assistant' -%}\n"
    "        {%- if loop.last and not add_generation_prompt %}\n"
    "            {{- \"<|start|>assistant<|channel|>final<|message|>\" + message.content + \"<|return|>\" }}\n"
    "        {%- else %}\n"
    "            {{- \"<|start|>assistant<|channel|>final<|message|>\" + message.content + \"<|end|>\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message.role == 'user' -%}\n"
    "        {{- \"<|start|>user<|message|>\" + message.content + \"<|end|>\" }}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "<|start|>assistant\n"
    "{%- endif -%}";

static const fr_chat_msg CONV[] = {
    {FR_CHAT_SYSTEM, S, sizeof S - 1},
    {FR_CHAT_USER, "Hello", 5},
    {FR_CHAT_ASSISTANT, "Hi there", 8},
    {FR_CHAT_USER, "Who are you", 11},
    {FR_CHAT_ASSISTANT, "   I am an assistant   ", 23},
    {FR_CHAT_USER, "Another question", 16},
};
#define NCONV (sizeof CONV / sizeof CONV[0])

static fr_chat_template *detect(const char *jinja, const char *want_name)
{
    fr_chat_template *t = NULL;
    fr_err err = {0};
    fr_status st = fr_chat_template_detect(jinja, strlen(jinja), FR_CHAT_STRICT, &t, &err);
    CHECK_MSG(st == FR_OK, "detect %s: %s", want_name, err.msg);
    if (st)
        return NULL;
    CHECK_STR(fr_chat_template_name(t), want_name);
    CHECK(fr_chat_template_warning(t) == NULL);
    return t;
}

/* Renders msgs with t and compares with want (exact bytes). */
static void expect_render(const fr_chat_template *t, const fr_chat_msg *m, size_t n,
                          const fr_chat_opts *o, const char *want, bool want_bos)
{
    fr_chat_prompt p;
    fr_err err = {0};
    fr_status st = fr_chat_render(t, m, n, o, &p, &err);
    CHECK_MSG(st == FR_OK, "render: %s", err.msg);
    if (st)
        return;
    CHECK_EQ_INT(p.len, strlen(p.text));
    CHECK_STR(p.text, want);
    CHECK_EQ_INT(p.starts_with_bos, want_bos);
    fr_chat_prompt_clear(&p);
}

static void check_family(const char *jinja, const char *name, const char *want, bool want_bos)
{
    fr_chat_template *t = detect(jinja, name);
    if (!t)
        return;
    fr_chat_opts o = {.add_generation_prompt = true, .date_string = "01 Jan 2025"};
    expect_render(t, CONV, NCONV, &o, want, want_bos);
    fr_chat_template_free(t);
}

static void test_families(void)
{
    check_family(QWEN25, "chatml",
                 "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                 "<|im_start|>user\nHello<|im_end|>\n"
                 "<|im_start|>assistant\nHi there<|im_end|>\n"
                 "<|im_start|>user\nWho are you<|im_end|>\n"
                 "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
                 "<|im_start|>user\nAnother question<|im_end|>\n"
                 "<|im_start|>assistant\n",
                 false);
    check_family(QWEN3, "qwen3",
                 "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                 "<|im_start|>user\nHello<|im_end|>\n"
                 "<|im_start|>assistant\nHi there<|im_end|>\n"
                 "<|im_start|>user\nWho are you<|im_end|>\n"
                 "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
                 "<|im_start|>user\nAnother question<|im_end|>\n"
                 "<|im_start|>assistant\n",
                 false);
    check_family(LLAMA3, "llama3",
                 "<|begin_of_text|>"
                 "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n",
                 true);
    check_family(LLAMA32, "llama3.1",
                 "<|begin_of_text|>"
                 "<|start_header_id|>system<|end_header_id|>\n\n"
                 "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n"
                 "You are a helpful assistant<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n",
                 true);
    check_family(LLAMA2, "llama2",
                 "<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]"
                 " Hi there </s>"
                 "<s>[INST] Who are you [/INST]"
                 " I am an assistant </s>"
                 "<s>[INST] Another question [/INST]",
                 true);
    check_family(MISTRAL_V01, "mistral-v1",
                 "<s> [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s>"
                 " [INST] Who are you [/INST]    I am an assistant   </s>"
                 " [INST] Another question [/INST]",
                 true);
    check_family(MIXTRAL, "mistral-legacy",
                 "<s>[INST] You are a helpful assistant\n\nHello [/INST]Hi there</s>"
                 "[INST] Who are you [/INST]   I am an assistant   </s>"
                 "[INST] Another question [/INST]",
                 true);
    check_family(MISTRAL_V03, "mistral-v3",
                 "<s>[INST] Hello[/INST] Hi there</s>"
                 "[INST] Who are you[/INST] I am an assistant</s>"
                 "[INST] You are a helpful assistant\n\nAnother question[/INST]",
                 true);
    check_family(NEMO, "mistral-v3-tekken",
                 "<s>[INST]Hello[/INST]Hi there</s>"
                 "[INST]Who are you[/INST]   I am an assistant   </s>"
                 "[INST]You are a helpful assistant\n\nAnother question[/INST]",
                 true);
    check_family(PHI3, "phi3",
                 "<s><|system|>\nYou are a helpful assistant<|end|>\n"
                 "<|user|>\nHello<|end|>\n"
                 "<|assistant|>\nHi there<|end|>\n"
                 "<|user|>\nWho are you<|end|>\n"
                 "<|assistant|>\n   I am an assistant   <|end|>\n"
                 "<|user|>\nAnother question<|end|>\n"
                 "<|assistant|>\n",
                 true);
    check_family(PHI35, "phi3",
                 "<|system|>\nYou are a helpful assistant<|end|>\n"
                 "<|user|>\nHello<|end|>\n"
                 "<|assistant|>\nHi there<|end|>\n"
                 "<|user|>\nWho are you<|end|>\n"
                 "<|assistant|>\n   I am an assistant   <|end|>\n"
                 "<|user|>\nAnother question<|end|>\n"
                 "<|assistant|>\n",
                 false);
    check_family(GEMMA2, "gemma",
                 "<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n"
                 "<start_of_turn>model\nHi there<end_of_turn>\n"
                 "<start_of_turn>user\nWho are you<end_of_turn>\n"
                 "<start_of_turn>model\nI am an assistant<end_of_turn>\n"
                 "<start_of_turn>user\nAnother question<end_of_turn>\n"
                 "<start_of_turn>model\n",
                 true);
    check_family(ZEPHYR, "zephyr",
                 "<|system|>\nYou are a helpful assistant</s>\n"
                 "<|user|>\nHello</s>\n"
                 "<|assistant|>\nHi there</s>\n"
                 "<|user|>\nWho are you</s>\n"
                 "<|assistant|>\n   I am an assistant   </s>\n"
                 "<|user|>\nAnother question</s>\n"
                 "<|assistant|>\n",
                 false);
    check_family(DEEPSEEK2, "deepseek",
                 U_BOS "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there" U_EOS
                 "User: Who are you\n\nAssistant:    I am an assistant   " U_EOS
                 "User: Another question\n\nAssistant:",
                 true);
    check_family(DEEPSEEK3, "deepseek3",
                 U_BOS "You are a helpful assistant" U_USER "Hello" U_ASST "Hi there" U_EOS
                 U_USER "Who are you" U_ASST "   I am an assistant   " U_EOS
                 U_USER "Another question" U_ASST,
                 true);
    check_family(DEEPSEEK_R1, "deepseek-r1",
                 U_BOS "You are a helpful assistant" U_USER "Hello" U_ASST "Hi there" U_EOS
                 U_USER "Who are you" U_ASST "   I am an assistant   " U_EOS
                 U_USER "Another question" U_ASST "<think>\n",
                 true);
    static const char phi4_want[] =
        "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|>"
        "<|im_start|>user<|im_sep|>Hello<|im_end|>"
        "<|im_start|>assistant<|im_sep|>Hi there<|im_end|>"
        "<|im_start|>user<|im_sep|>Who are you<|im_end|>"
        "<|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|>"
        "<|im_start|>user<|im_sep|>Another question<|im_end|>"
        "<|im_start|>assistant<|im_sep|>";
    check_family(PHI4, "phi4", phi4_want, false);
    check_family(GPT_OSS, "gpt-oss",
                 "<|start|>system<|message|>You are ChatGPT, a large language model trained by "
                 "OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 01 Jan 2025\n\nReasoning: "
                 "medium\n\n# Valid channels: analysis, commentary, final. Channel must be "
                 "included for every message.<|end|>"
                 "<|start|>developer<|message|># Instructions\n\nYou are a helpful assistant\n\n<|end|>"
                 "<|start|>user<|message|>Hello<|end|>"
                 "<|start|>assistant<|channel|>final<|message|>Hi there<|end|>"
                 "<|start|>user<|message|>Who are you<|end|>"
                 "<|start|>assistant<|channel|>final<|message|>   I am an assistant   <|end|>"
                 "<|start|>user<|message|>Another question<|end|>"
                 "<|start|>assistant",
                 false);
    check_family(PHI4_OPEN, "phi4", phi4_want, false);
    check_family(MISTRAL_V7, "mistral-v7-tekken",
                 "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT]"
                 "[INST]Hello[/INST]Hi there</s>"
                 "[INST]Who are you[/INST]   I am an assistant   </s>"
                 "[INST]Another question[/INST]",
                 true);
    check_family(MISTRAL_V7_LARGE, "mistral-v7",
                 "<s>[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT]"
                 "[INST] Hello[/INST] Hi there</s>"
                 "[INST] Who are you[/INST]    I am an assistant   </s>"
                 "[INST] Another question[/INST]",
                 true);
    check_family(LLAMA4, "llama4",
                 "<|begin_of_text|><|header_start|>system<|header_end|>\n\n"
                 "You are a helpful assistant<|eot|>"
                 "<|header_start|>user<|header_end|>\n\nHello<|eot|>"
                 "<|header_start|>assistant<|header_end|>\n\nHi there<|eot|>"
                 "<|header_start|>user<|header_end|>\n\nWho are you<|eot|>"
                 "<|header_start|>assistant<|header_end|>\n\n   I am an assistant   <|eot|>"
                 "<|header_start|>user<|header_end|>\n\nAnother question<|eot|>"
                 "<|header_start|>assistant<|header_end|>\n\n",
                 true);
    check_family(MISTRAL_V7_DEFAULT, "mistral-v7-tekken",
                 "<s>[SYSTEM_PROMPT]You are a helpful assistant[/SYSTEM_PROMPT]"
                 "[INST]Hello[/INST]Hi there</s>"
                 "[INST]Who are you[/INST]   I am an assistant   </s>"
                 "[INST]Another question[/INST]",
                 true);
}

/* Details each family's template decides beyond the main conversation. */
static void test_details(void)
{
    fr_chat_opts gen = {.add_generation_prompt = true};
    fr_chat_opts nogen = {0};
    static const fr_chat_msg hello[] = {{FR_CHAT_USER, "Hello", 5}};

    /* Qwen2.5 and SmolLM2 carry a default system prompt; Hermes has none. */
    fr_chat_template *t = detect(QWEN25, "chatml");
    if (t) {
        CHECK_STR(fr_chat_template_default_system(t),
                  "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        expect_render(t, hello, 1, &gen,
                      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a "
                      "helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                      "<|im_start|>assistant\n",
                      false);
        fr_chat_opts nd = {.add_generation_prompt = true, .no_default_system = true};
        expect_render(t, hello, 1, &nd,
                      "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", false);
        CHECK_STR(fr_chat_template_eot(t), "<|im_end|>");
        fr_chat_template_free(t);
    }
    t = detect(SMOLLM2, "chatml");
    if (t) {
        CHECK_STR(fr_chat_template_default_system(t),
                  "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
        expect_render(t, hello, 1, &nogen,
                      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained "
                      "by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n",
                      false);
        fr_chat_template_free(t);
    }
    t = detect(HERMES, "chatml");
    if (t) {
        CHECK(fr_chat_template_default_system(t) == NULL);
        expect_render(t, hello, 1, &gen, "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
                      false);
        fr_chat_template_free(t);
    }

    /* Qwen3: reasoning is dropped from answers before the last user turn,
     * kept (and added empty) for an answer after it; enable_thinking=false. */
    t = detect(QWEN3, "qwen3");
    if (t) {
        CHECK(fr_chat_template_default_system(t) == NULL);
        static const fr_chat_msg m[] = {{FR_CHAT_USER, "Q1", 2},
                                        {FR_CHAT_ASSISTANT, "<think>\nplan\n</think>\n\nA1", 25},
                                        {FR_CHAT_USER, "Q2", 2}};
        expect_render(t, m, 3, &gen,
                      "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
                      "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n",
                      false);
        fr_chat_opts nothink = {.add_generation_prompt = true, .disable_thinking = true};
        expect_render(t, m, 3, &nothink,
                      "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
                      "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n"
                      "<think>\n\n</think>\n\n",
                      false);
        /* Rendering a finished exchange (for training): the last answer keeps
         * its reasoning; without reasoning it gets an empty block. */
        static const fr_chat_msg done[] = {{FR_CHAT_USER, "Q", 1},
                                           {FR_CHAT_ASSISTANT, "<think>\n\nr\n</think>\n\nA", 22}};
        expect_render(t, done, 2, &nogen,
                      "<|im_start|>user\nQ<|im_end|>\n"
                      "<|im_start|>assistant\n<think>\nr\n</think>\n\nA<|im_end|>\n",
                      false);
        static const fr_chat_msg plain_done[] = {{FR_CHAT_USER, "Q", 1}, {FR_CHAT_ASSISTANT, "A", 1}};
        expect_render(t, plain_done, 2, &nogen,
                      "<|im_start|>user\nQ<|im_end|>\n"
                      "<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n",
                      false);
        fr_chat_template_free(t);
    }
    /* disable_thinking means nothing to plain ChatML. */
    t = detect(HERMES, "chatml");
    if (t) {
        fr_chat_opts nothink = {.add_generation_prompt = true, .disable_thinking = true};
        expect_render(t, hello, 1, &nothink,
                      "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", false);
        fr_chat_template_free(t);
    }

    /* Llama 3.1 without a system message still has the date block; its
     * default date is the template's "26 Jul 2024". */
    t = detect(LLAMA31, "llama3.1");
    if (t) {
        expect_render(t, hello, 1, &gen,
                      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                      "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                      "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\n",
                      true);
        CHECK_STR(fr_chat_template_eot(t), "<|eot_id|>");
        fr_chat_template_free(t);
    }
    /* Llama 3.2 uses today's date: "DD Mon YYYY". */
    t = detect(LLAMA32, "llama3.1");
    if (t) {
        fr_chat_prompt p;
        CHECK(fr_chat_render(t, hello, 1, &gen, &p, NULL) == FR_OK);
        regex_t re;
        CHECK(regcomp(&re, "Today Date: [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                           "20[0-9][0-9]\n\n<\\|eot_id\\|>", REG_EXTENDED) == 0);
        CHECK_MSG(regexec(&re, p.text, 0, NULL, 0) == 0, "%s", p.text);
        regfree(&re);
        fr_chat_prompt_clear(&p);
        fr_chat_template_free(t);
    }

    /* Phi-3 without a generation prompt ends with eos_token. */
    t = detect(PHI35, "phi3");
    if (t) {
        expect_render(t, hello, 1, &nogen, "<|user|>\nHello<|end|>\n<|endoftext|>", false);
        CHECK_STR(fr_chat_template_eot(t), "<|end|>");
        fr_chat_template_free(t);
    }

    /* Gemma: the system text joins the first turn untrimmed, the turn text
     * is trimmed; the end-of-turn marker. */
    t = detect(GEMMA2, "gemma");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_SYSTEM, " Be brief. ", 11},
                                        {FR_CHAT_USER, "  Hi  ", 6}};
        expect_render(t, m, 2, &gen,
                      "<bos><start_of_turn>user\n Be brief. \n\nHi<end_of_turn>\n"
                      "<start_of_turn>model\n",
                      true);
        CHECK_STR(fr_chat_template_eot(t), "<end_of_turn>");
        /* The caller's BOS text wins over the family's usual one. */
        fr_chat_opts o = {.add_generation_prompt = true, .bos_text = "<BOS>"};
        expect_render(t, hello, 1, &o,
                      "<BOS><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n", true);
        fr_chat_template_free(t);
    }

    /* Llama 2: content.strip() of the joined "<<SYS>>...user" text keeps the
     * user text's leading spaces; the caller's EOS text is used. */
    t = detect(LLAMA2, "llama2");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_SYSTEM, "S", 1},
                                        {FR_CHAT_USER, "  U  ", 5},
                                        {FR_CHAT_ASSISTANT, " A ", 3},
                                        {FR_CHAT_USER, " V ", 3}};
        fr_chat_opts o = {.eos_text = "<EOS>"};
        expect_render(t, m, 4, &o,
                      "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n  U [/INST] A <EOS><s>[INST] V [/INST]", true);
        CHECK_STR(fr_chat_template_eot(t), "</s>");
        fr_chat_template_free(t);
    }

    /* DeepSeek R1 drops the reasoning of earlier answers. */
    t = detect(DEEPSEEK_R1, "deepseek-r1");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_USER, "Q", 1},
                                        {FR_CHAT_ASSISTANT, "<think>\nhmm</think>\n\nA", 22},
                                        {FR_CHAT_USER, "R", 1}};
        expect_render(t, m, 3, &gen,
                      U_BOS U_USER "Q" U_ASST "\n\nA" U_EOS U_USER "R" U_ASST "<think>\n", true);
        CHECK_STR(fr_chat_template_eot(t), U_EOS);
        fr_chat_template_free(t);
    }
    /* DeepSeek V3 joins several system messages with "\n\n" at the top. */
    t = detect(DEEPSEEK3, "deepseek3");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_SYSTEM, "A", 1},
                                        {FR_CHAT_USER, "Q", 1},
                                        {FR_CHAT_SYSTEM, "B", 1}};
        expect_render(t, m, 3, &nogen, U_BOS "A\n\nB" U_USER "Q", true);
        fr_chat_template_free(t);
    }

    /* An empty conversation: just the generation prompt (and preamble). */
    t = detect(HERMES, "chatml");
    if (t) {
        expect_render(t, NULL, 0, &gen, "<|im_start|>assistant\n", false);
        expect_render(t, NULL, 0, NULL, "", false);
        fr_chat_template_free(t);
    }

    /* Contents may hold any bytes, NUL included. */
    t = detect(HERMES, "chatml");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_USER, "a\0b", 3}};
        fr_chat_prompt p;
        CHECK(fr_chat_render(t, m, 1, NULL, &p, NULL) == FR_OK);
        static const char want[] = "<|im_start|>user\na\0b<|im_end|>\n";
        CHECK(p.len == sizeof want - 1 && memcmp(p.text, want, p.len) == 0);
        fr_chat_prompt_clear(&p);
        fr_chat_template_free(t);
    }
}

/* Phi-4 without a generation prompt, and Mistral v7's default system message. */
static void test_details_phi4_v7(void)
{
    fr_chat_opts gen = {.add_generation_prompt = true};
    fr_chat_opts nogen = {0};
    static const fr_chat_msg qa[] = {{FR_CHAT_USER, "Q", 1}, {FR_CHAT_ASSISTANT, "A", 1}};
    static const fr_chat_msg q[] = {{FR_CHAT_USER, "Q", 1}};
    fr_chat_template *t = detect(PHI4, "phi4");
    if (t) {
        expect_render(t, qa, 2, &nogen,
                      "<|im_start|>user<|im_sep|>Q<|im_end|><|im_start|>assistant<|im_sep|>A<|im_end|>",
                      false);
        expect_render(t, q, 1, &nogen, "<|im_start|>user<|im_sep|>Q<|im_end|>", false);
        CHECK_STR(fr_chat_template_eot(t), "<|im_end|>");
        fr_chat_template_free(t);
    }
    /* this variant opens the answer after every user turn, prompt or not */
    t = detect(PHI4_OPEN, "phi4");
    if (t) {
        expect_render(t, q, 1, &nogen,
                      "<|im_start|>user<|im_sep|>Q<|im_end|><|im_start|>assistant<|im_sep|>", false);
        expect_render(t, q, 1, &gen,
                      "<|im_start|>user<|im_sep|>Q<|im_end|><|im_start|>assistant<|im_sep|>", false);
        fr_chat_template_free(t);
    }
    t = detect(MISTRAL_V7, "mistral-v7-tekken");
    if (t) {
        CHECK(fr_chat_template_default_system(t) == NULL);
        expect_render(t, q, 1, &gen, "<s>[INST]Q[/INST]", true);
        expect_render(t, qa, 2, &nogen, "<s>[INST]Q[/INST]A</s>", true);
        CHECK_STR(fr_chat_template_eot(t), "</s>");
        fr_chat_template_free(t);
    }
    t = detect(MISTRAL_V7_DEFAULT, "mistral-v7-tekken");
    if (t) {
        static const char want_sys[] =
            "You are Mistral Small 3.1, a Large Language Model.\nSay \"I don't know\" when unsure.";
        const char *ds = fr_chat_template_default_system(t);
        CHECK(ds != NULL);
        if (ds)
            CHECK_STR(ds, want_sys);
        expect_render(t, q, 1, &gen,
                      "<s>[SYSTEM_PROMPT]You are Mistral Small 3.1, a Large Language Model.\n"
                      "Say \"I don't know\" when unsure.[/SYSTEM_PROMPT][INST]Q[/INST]",
                      true);
        fr_chat_opts nods = {.add_generation_prompt = true, .no_default_system = true};
        expect_render(t, q, 1, &nods, "<s>[INST]Q[/INST]", true);
        fr_chat_template_free(t);
    }
    t = detect(LLAMA4, "llama4");
    if (t) {
        static const fr_chat_msg m[] = {{FR_CHAT_SYSTEM, " S ", 3}, {FR_CHAT_USER, " Q ", 3},
                                        {FR_CHAT_SYSTEM, " T ", 3}};
        expect_render(t, m, 3, &nogen,
                      "<|begin_of_text|><|header_start|>system<|header_end|>\n\nS<|eot|>"
                      "<|header_start|>user<|header_end|>\n\n Q <|eot|>"
                      "<|header_start|>system<|header_end|>\n\n T <|eot|>",
                      true);
        CHECK_STR(fr_chat_template_eot(t), "<|eot|>");
        fr_chat_template_free(t);
    }
    t = detect(MISTRAL_V7_LARGE, "mistral-v7");
    if (t) {
        expect_render(t, qa, 2, &nogen, "<s>[INST] Q[/INST] A</s>", true);
        fr_chat_template_free(t);
    }
    /* by name: no default system, BOS first */
    fr_err err = {0};
    CHECK(fr_chat_template_from_name("mistral-v7-tekken", &t, &err) == FR_OK);
    if (t) {
        expect_render(t, q, 1, &gen, "<s>[INST]Q[/INST]", true);
        fr_chat_template_free(t);
    }
    CHECK(fr_chat_template_from_name("phi4", &t, &err) == FR_OK);
    if (t) {
        expect_render(t, q, 1, &gen,
                      "<|im_start|>user<|im_sep|>Q<|im_end|><|im_start|>assistant<|im_sep|>", false);
        fr_chat_template_free(t);
    }
}

static void test_names_and_errors(void)
{
    /* Every name round-trips and gives the family's defaults. */
    CHECK(fr_chat_template_count() >= 10);
    for (size_t i = 0; i < fr_chat_template_count(); i++) {
        const char *name = fr_chat_template_name_at(i);
        fr_chat_template *t = NULL;
        fr_err err = {0};
        CHECK_MSG(fr_chat_template_from_name(name, &t, &err) == FR_OK, "%s: %s", name, err.msg);
        if (!t)
            continue;
        CHECK_STR(fr_chat_template_name(t), name);
        CHECK(fr_chat_template_warning(t) == NULL);
        CHECK(fr_chat_template_eot(t) && fr_chat_template_eot(t)[0]);
        fr_chat_prompt p;
        fr_chat_opts o = {.add_generation_prompt = true};
        CHECK(fr_chat_render(t, CONV, NCONV, &o, &p, &err) == FR_OK);
        CHECK(p.text && strstr(p.text, "Another question"));
        fr_chat_prompt_clear(&p);
        fr_chat_template_free(t);
        /* A GGUF may store the bare name as its template (llama.cpp allows it). */
        CHECK(fr_chat_template_detect(name, strlen(name), FR_CHAT_STRICT, &t, &err) == FR_OK);
        if (t)
            CHECK_STR(fr_chat_template_name(t), name);
        fr_chat_template_free(t);
    }
    CHECK(fr_chat_template_name_at(fr_chat_template_count()) == NULL);

    /* llama3 by name: the same rendering as the detected Llama 3 template. */
    fr_chat_template *t = NULL;
    fr_err err = {0};
    CHECK(fr_chat_template_from_name("llama3", &t, &err) == FR_OK);
    if (t) {
        static const fr_chat_msg hello[] = {{FR_CHAT_USER, "Hello", 5}};
        fr_chat_opts o = {.add_generation_prompt = true};
        expect_render(t, hello, 1, &o,
                      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\n",
                      true);
        fr_chat_template_free(t);
    }

    CHECK(fr_chat_template_from_name("vicuna", &t, &err) == FR_E_INVALID);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "vicuna") && strstr(err.msg, "chatml") && strstr(err.msg, "llama3"));
    CHECK(fr_chat_template_from_name(NULL, &t, &err) == FR_E_INVALID);

    /* Unknown template: ChatML with a warning, or an error when strict. */
    static const char odd[] = "{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}";
    CHECK(fr_chat_template_detect(odd, strlen(odd), 0, &t, &err) == FR_OK);
    if (t) {
        CHECK_STR(fr_chat_template_name(t), "chatml");
        const char *w = fr_chat_template_warning(t);
        CHECK(w && strstr(w, "not recognised") && strstr(w, "chatml") && strstr(w, "--chat-template"));
        fr_chat_template_free(t);
    }
    CHECK(fr_chat_template_detect(odd, strlen(odd), FR_CHAT_STRICT, &t, &err) == FR_E_UNSUPPORTED);
    CHECK(t == NULL && strstr(err.msg, "not recognised") && strstr(err.msg, "llama3"));
    /* No template at all. */
    CHECK(fr_chat_template_detect(NULL, 0, 0, &t, &err) == FR_OK);
    if (t) {
        CHECK(fr_chat_template_warning(t) && strstr(fr_chat_template_warning(t), "no chat template"));
        fr_chat_template_free(t);
    }
    CHECK(fr_chat_template_detect("", 0, FR_CHAT_STRICT, &t, &err) == FR_E_NOTFOUND);
    /* A look-alike that is not ChatML: SmolVLM. */
    static const char vlm[] = "{{'<|im_start|>' + message['role'] + '<end_of_utterance>'}}";
    CHECK(fr_chat_template_detect(vlm, strlen(vlm), FR_CHAT_STRICT, &t, &err) == FR_E_UNSUPPORTED);

    /* Bad arguments. */
    CHECK(fr_chat_template_from_name("chatml", &t, &err) == FR_OK);
    fr_chat_prompt p;
    fr_chat_msg bad[] = {{(fr_chat_role)7, "x", 1}};
    CHECK(fr_chat_render(t, bad, 1, NULL, &p, &err) == FR_E_INVALID);
    CHECK(p.text == NULL && strstr(err.msg, "message 0"));
    fr_chat_msg nul[] = {{FR_CHAT_USER, NULL, 3}};
    CHECK(fr_chat_render(t, nul, 1, NULL, &p, &err) == FR_E_INVALID);
    CHECK(fr_chat_render(t, NULL, 2, NULL, &p, &err) == FR_E_INVALID);
    CHECK(fr_chat_render(NULL, CONV, 1, NULL, &p, &err) == FR_E_INVALID);
    CHECK(fr_chat_render(t, CONV, 1, NULL, NULL, &err) == FR_E_INVALID);
    fr_chat_template_free(t);
    fr_chat_template_free(NULL);
    fr_chat_prompt_clear(NULL);

    fr_chat_role r = FR_CHAT_USER;
    CHECK(fr_chat_role_parse("system", &r) && r == FR_CHAT_SYSTEM);
    CHECK(fr_chat_role_parse("developer", &r) && r == FR_CHAT_SYSTEM);
    CHECK(fr_chat_role_parse("assistant", &r) && r == FR_CHAT_ASSISTANT);
    CHECK(fr_chat_role_parse("tool", &r) && r == FR_CHAT_TOOL);
    CHECK(!fr_chat_role_parse("function", &r) && r == FR_CHAT_TOOL);
    CHECK_STR(fr_chat_role_name(FR_CHAT_TOOL), "tool");
    CHECK_STR(fr_chat_role_name(FR_CHAT_USER), "user");
}

/* ---- the real templates in ../shared/vocab (through the GGUF reader) ---- */

/* Path under ../shared, or NULL (and a note) when it is absent: the other
 * checks of this program still count, so no exit(77) here. */
static const char *shared_path(const char *rel, char *buf, size_t n)
{
    const char *root = getenv("FR_SHARED");
    snprintf(buf, n, "%s/%s", root ? root : "../shared", rel);
    FILE *f = fopen(buf, "rb");
    if (!f) {
        fprintf(stderr, "note: %s not found; its checks are skipped\n", buf);
        return NULL;
    }
    fclose(f);
    return buf;
}

/* Token id of `text` in the vocab, or -1. */
static int64_t vocab_find(const fr_gguf *g, const char *text)
{
    fr_gguf_arr toks;
    if (fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) != FR_OK)
        return -1;
    size_t n = strlen(text);
    for (uint64_t i = 0; i < toks.n; i++) {
        fr_gguf_str t;
        if (fr_gguf_arr_str(&toks, i, &t) == FR_OK && t.len == n && memcmp(t.ptr, text, n) == 0)
            return (int64_t)i;
    }
    return -1;
}

/* Detects the template stored in a real vocab file, renders the test
 * conversation, and checks that the markers the renderer writes are tokens
 * of that vocabulary and that the prompt starts with the vocab's BOS text. */
static void check_vocab(const char *file, const char *family, const char *want, bool want_bos,
                        const char *const *markers)
{
    char path[512];
    if (!shared_path(file, path, sizeof path))
        return;
    fr_gguf *g = NULL;
    fr_err err = {0};
    CHECK_MSG(fr_gguf_open(path, &g, &err) == FR_OK, "%s", err.msg);
    if (!g)
        return;
    fr_chat_template *t = NULL;
    CHECK_MSG(fr_chat_template_from_gguf(g, FR_CHAT_STRICT, &t, &err) == FR_OK, "%s", err.msg);
    if (t) {
        CHECK_STR(fr_chat_template_name(t), family);
        CHECK(fr_chat_template_warning(t) == NULL);
        fr_chat_opts o = {.add_generation_prompt = true, .date_string = "01 Jan 2025"};
        expect_render(t, CONV, NCONV, &o, want, want_bos);
        CHECK_MSG(vocab_find(g, fr_chat_template_eot(t)) >= 0, "%s: end-of-turn %s is not a token",
                  file, fr_chat_template_eot(t));
        for (const char *const *m = markers; *m; m++)
            CHECK_MSG(vocab_find(g, *m) >= 0, "%s: marker %s is not a token", file, *m);
        uint32_t bos_id;
        fr_gguf_arr toks;
        fr_gguf_str bos;
        if (want_bos && fr_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos_id, NULL) == FR_OK &&
            fr_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == FR_OK &&
            fr_gguf_arr_str(&toks, bos_id, &bos) == FR_OK)
            CHECK_MSG(bos.len <= strlen(want) && memcmp(want, bos.ptr, bos.len) == 0,
                      "%s: prompt does not start with the BOS token %.*s", file, (int)bos.len,
                      bos.ptr);
        fr_chat_template_free(t);
    }
    fr_gguf_free(g);
}

static void test_real_vocabs(void)
{
    static const char *const qwen_markers[] = {"<|im_start|>", "<|im_end|>", NULL};
    check_vocab("vocab/ggml-vocab-qwen2.gguf", "chatml",
                "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                "<|im_start|>user\nHello<|im_end|>\n"
                "<|im_start|>assistant\nHi there<|im_end|>\n"
                "<|im_start|>user\nWho are you<|im_end|>\n"
                "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
                "<|im_start|>user\nAnother question<|im_end|>\n"
                "<|im_start|>assistant\n",
                false, qwen_markers);
    static const char *const llama_markers[] = {"<|begin_of_text|>", "<|start_header_id|>",
                                                "<|end_header_id|>", "<|eot_id|>", NULL};
    check_vocab("vocab/ggml-vocab-llama-bpe.gguf", "llama3.1",
                "<|begin_of_text|>"
                "<|start_header_id|>system<|end_header_id|>\n\n"
                "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n"
                "You are a helpful assistant<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
                "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n",
                true, llama_markers);
    /* The first Phi-3-mini template: BOS, the assistant turn opened after
     * each user turn, system kept in the <|system|> form. */
    static const char *const phi_markers[] = {"<s>", "<|system|>", "<|user|>", "<|assistant|>",
                                              "<|end|>", NULL};
    check_vocab("vocab/ggml-vocab-phi-3.gguf", "phi3",
                "<s><|system|>\nYou are a helpful assistant<|end|>\n"
                "<|user|>\nHello<|end|>\n"
                "<|assistant|>\nHi there<|end|>\n"
                "<|user|>\nWho are you<|end|>\n"
                "<|assistant|>\n   I am an assistant   <|end|>\n"
                "<|user|>\nAnother question<|end|>\n"
                "<|assistant|>\n",
                true, phi_markers);

    char path[512];
    fr_gguf *g = NULL;
    fr_chat_template *t = NULL;
    fr_err err = {0};
    /* The Qwen2.5 default system prompt comes out of the real file too. */
    if (shared_path("vocab/ggml-vocab-qwen2.gguf", path, sizeof path) &&
        fr_gguf_open(path, &g, &err) == FR_OK) {
        CHECK(fr_chat_template_from_gguf(g, 0, &t, &err) == FR_OK);
        if (t)
            CHECK_STR(fr_chat_template_default_system(t),
                      "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
        fr_chat_template_free(t);
        fr_gguf_free(g);
    }
    /* A vocab without a template: ChatML with a warning, or an error
     * naming the file when strict. */
    if (shared_path("vocab/ggml-vocab-gpt-2.gguf", path, sizeof path) &&
        fr_gguf_open(path, &g, &err) == FR_OK) {
        CHECK(fr_chat_template_from_gguf(g, 0, &t, &err) == FR_OK);
        if (t) {
            CHECK_STR(fr_chat_template_name(t), "chatml");
            CHECK(fr_chat_template_warning(t) && strstr(fr_chat_template_warning(t), "no chat template"));
        }
        fr_chat_template_free(t);
        CHECK(fr_chat_template_from_gguf(g, FR_CHAT_STRICT, &t, &err) == FR_E_NOTFOUND);
        CHECK(t == NULL && strstr(err.msg, "ggml-vocab-gpt-2.gguf") && strstr(err.msg, "--chat-template"));
        fr_gguf_free(g);
    }
    CHECK(fr_chat_template_from_gguf(NULL, 0, &t, &err) == FR_E_INVALID);

    /* tokenizer.chat_template stored as a number: a format error naming the key. */
    char dir[256], file[300];
    fr_test_tmpdir(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/bad.gguf", dir);
    fr_gguf_writer *w = NULL;
    CHECK(fr_gguf_writer_create(&w, &err) == FR_OK);
    if (w) {
        CHECK(fr_gguf_writer_set_u32(w, "tokenizer.chat_template", 7) == FR_OK);
        CHECK_MSG(fr_gguf_writer_write(w, file, NULL, 0, NULL, NULL, &err) == FR_OK, "%s", err.msg);
        fr_gguf_writer_free(w);
        if (fr_gguf_open(file, &g, &err) == FR_OK) {
            CHECK(fr_chat_template_from_gguf(g, 0, &t, &err) == FR_E_FORMAT);
            CHECK(t == NULL && strstr(err.msg, "tokenizer.chat_template"));
            fr_gguf_free(g);
        }
        remove(file);
    }
    rmdir(dir);
}

int main(void)
{
    test_families();
    test_details();
    test_details_phi4_v7();
    test_names_and_errors();
    test_real_vocabs();
    TEST_END();
}
