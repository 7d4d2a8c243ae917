/* Tests for src/text/chat_tools.c and chat_render_tools.c: tools, tool
 * calls and tool results in the chat templates, and reading calls back out
 * of generated text.
 *
 * Rendering: the templates are the real ones in ../shared/vocab (Qwen2.5's
 * in ggml-vocab-qwen2.gguf, Llama 3.2's in ggml-vocab-llama-bpe.gguf, with
 * their tool branches). The expected strings were produced by evaluating
 * those template texts with jinja2 3.1 the way transformers'
 * apply_chat_template does (trim_blocks, lstrip_blocks, tojson =
 * json.dumps(ensure_ascii=False)), arguments given as parsed objects, as
 * OpenAI-compatible servers pass them; not by the code under test.
 * Llama 4's template (with its tool branches) is written out whole below,
 * from transformers' convert_llama4_weights_to_hf.py, which published it,
 * and so is Qwen3-4B-Thinking-2507's (its tool branches are those of the
 * Qwen3 templates); their expected strings were rendered from them the same way.
 * Mistral v0.3's and Mistral Nemo's templates are written out whole too
 * (their tokenizer_config.json's, as llama.cpp's models/templates carry
 * them), with expected strings rendered the same way.
 *
 * Parsing: every answer is fed whole and then split at every byte, and
 * must give the same events. */
#include "test.h"

#include "base/file.h"
#include "text/chat_impl.h"

#include <frugal/chat.h>
#include <frugal/gguf.h>
#include <frugal/grammar.h>

static const char WANT_QWEN25[] =
    "<|im_start|>system\n"
    "You are terse.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \""
    "Weather by city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {"
    "\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}"
    "\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time"
    "\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <"
    "tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"lat\":"
    " 48.8566, \"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3\xa9" "\\\"\\n"
    "\"}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n";

static const char WANT_QWEN25_TWO[] =
    "<|im_start|>system\n"
    "You are terse.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \""
    "Weather by city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {"
    "\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}"
    "\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time"
    "\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <"
    "tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "Checking.\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
    "</tool_call>\n"
    "<tool_call>\n"
    "{\"name\": \"now\", \"arguments\": {}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response>\n"
    "<tool_response>\n"
    "12:00\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n";

static const char WANT_QWEN25_NOSYS[] =
    "<|im_start|>system\n"
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \""
    "Weather by city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {"
    "\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}"
    "\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time"
    "\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <"
    "tool_call></tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"lat\":"
    " 48.8566, \"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3\xa9" "\\\"\\n"
    "\"}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n";

static const char WANT_LLAMA32[] =
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"
    "\n"
    "Environment: ipython\n"
    "Cutting Knowledge Date: December 2023\n"
    "Today Date: 26 Jul 2024\n"
    "\n"
    "You are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
    "\n"
    "Given the following functions, please respond with a JSON for a function call with its"
    " proper arguments that best answers the given prompt.\n"
    "\n"
    "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument"
    " name and its value}.Do not use variables.\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"get_weather\",\n"
    "        \"description\": \"Weather by city\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {\n"
    "                \"city\": {\n"
    "                    \"type\": \"string\"\n"
    "                },\n"
    "                \"days\": {\n"
    "                    \"type\": \"integer\"\n"
    "                }\n"
    "            },\n"
    "            \"required\": [\n"
    "                \"city\"\n"
    "            ]\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"now\",\n"
    "        \"description\": \"The time\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {}\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
    "\n"
    "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2, \"lat\""
    ": 48.8566, \"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3\xa9" "\\\"\\"
    "n\"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n"
    "\n"
    "\"{\\\"temp\\\": 21.5}\"<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
    "\n"
    "Thanks<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
    "\n";

/* meta-llama/Llama-4-Scout-17B-16E-Instruct: the whole template (with its tool branches), as
 * transformers' convert_llama4_weights_to_hf.py writes it */
static const char LLAMA4_TEMPLATE[] =
    "{{- bos_token }}\n"
    "{%- if custom_tools is defined %}\n"
    "    {%- set tools = custom_tools %}\n"
    "{%- endif %}\n"
    "{%- if not tools_in_user_message is defined %}\n"
    "    {%- set tools_in_user_message = true %}\n"
    "{%- endif %}\n"
    "{%- if not date_string is defined %}\n"
    "    {%- if strftime_now is defined %}\n"
    "        {%- set date_string = strftime_now(\"%d %b %Y\") %}\n"
    "    {%- else %}\n"
    "        {%- set date_string = \"26 Jul 2024\" %}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "\n"
    "{#- This block extracts the system message, so we can slot it into the right place. #}\n"
    "{%- if messages[0]['role'] == 'system' %}    \n"
    "    {%- if messages[0]['content'] is string %}\n"
    "        {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- else %}\n"
    "        {#- FIXME: The processor requires an array, always. #}\n"
    "        {%- set system_message = messages[0]['content'][0]['text']|trim %}\n"
    "    {%- endif %}\n"
    "    {%- set messages = messages[1:] %}\n"
    "    {%- set user_supplied_system_message = true %}\n"
    "{%- else %}\n"
    "    {%- set system_message = \"\" %}\n"
    "    {%- set user_supplied_system_message = false %}\n"
    "{%- endif %}\n"
    "\n"
    "{#- System message if the user supplied one #}\n"
    "{%- if user_supplied_system_message %}\n"
    "    {{- \"<|header_start|>system<|header_end|>\n"
    "\n"
    "\" }}\n"
    "    {%- if tools is not none %}\n"
    "        {{- \"Environment: ipython\n"
    "\" }}\n"
    "    {%- endif %}\n"
    "    {%- if tools is not none and not tools_in_user_message %}\n"
    "        {{- \"You have access to the following functions. To call a function, please respond wit"
    "h JSON for a function call.\" }}\n"
    "        {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argum"
    "ent name and its value}.' }}\n"
    "        {{- \"Do not use variables.\n"
    "\n"
    "\" }}\n"
    "        {%- for t in tools %}\n"
    "            {{- t | tojson(indent=4) }}\n"
    "            {{- \"\n"
    "\n"
    "\" }}\n"
    "        {%- endfor %}\n"
    "    {%- endif %}\n"
    "    {{- system_message }}\n"
    "    {{- \"<|eot|>\" }}\n"
    "{%- endif %}\n"
    "\n"
    "{#- Custom tools are passed in a user message with some extra guidance #}\n"
    "{%- if tools_in_user_message and not tools is none %}\n"
    "    {#- Extract the first user message so we can plug it in here #}\n"
    "    {%- if messages | length != 0 %}\n"
    "        {%- set first_user_message = messages[0]['content']|trim %}\n"
    "        {%- set messages = messages[1:] %}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Cannot put tools in the first user message when there's no first u"
    "ser message!\") }}\n"
    "{%- endif %}\n"
    "    {{- '<|header_start|>user<|header_end|>\n"
    "\n"
    "' -}}\n"
    "    {{- \"Given the following functions, please respond with a JSON for a function call \" }}\n"
    "    {{- \"with its proper arguments that best answers the given prompt.\n"
    "\n"
    "\" }}\n"
    "    {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
    "name and its value}.' }}\n"
    "    {{- \"Do not use variables.\n"
    "\n"
    "\" }}\n"
    "    {%- for t in tools %}\n"
    "        {{- t | tojson(indent=4) }}\n"
    "        {{- \"\n"
    "\n"
    "\" }}\n"
    "    {%- endfor %}\n"
    "    {{- first_user_message + \"<|eot|>\"}}\n"
    "{%- endif %}\n"
    "\n"
    "{%- for message in messages %}\n"
    "    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) "
    "%}\n"
    "    {{- '<|header_start|>' + message['role'] + '<|header_end|>\n"
    "\n"
    "' }}\n"
    "        {%- if message['content'] is string %}\n"
    "            {{- message['content'] }}\n"
    "        {%- else %}\n"
    "            {%- for content in message['content'] %}\n"
    "                {%- if content['type'] == 'image' %}\n"
    "                    {{- '<|image|>' }}\n"
    "                {%- elif content['type'] == 'text' %}\n"
    "                    {{- content['text'] }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "        {{- \"<|eot|>\" }}\n"
    "    {%- elif 'tool_calls' in message and message.tool_calls|length > 0 %}\n"
    "       {{- '<|header_start|>assistant<|header_end|>\n"
    "\n"
    "' -}}\n"
    "       {{- '<|python_start|>' }}\n"
    "        {%- if message['content'] is string %}\n"
    "            {{- message['content'] }}\n"
    "        {%- else %}\n"
    "            {%- for content in message['content'] %}\n"
    "                {%- if content['type'] == 'image' %}\n"
    "                    {{- '<|image|>' }}\n"
    "                {%- elif content['type'] == 'text' %}\n"
    "                    {{- content['text'] }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "       {{- '<|python_end|>' }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "           {{- '{\"name\": \"' + tool_call.function.name + '\", ' }}\n"
    "           {{- '\"parameters\": ' }}\n"
    "           {{- tool_call.function.arguments | tojson }}\n"
    "           {{- \"}\" }}\n"
    "        {%- endfor %}\n"
    "       {{- \"<|eot|>\" }}\n"
    "    {%- elif message.role == \"tool\" or message.role == \"ipython\" %}\n"
    "        {{- \"<|header_start|>ipython<|header_end|>\n"
    "\n"
    "\" }}\n"
    "        {%- if message.content is mapping or message.content is iterable %}\n"
    "            {{- message.content | tojson }}\n"
    "        {%- else %}\n"
    "            {{- message.content }}\n"
    "        {%- endif %}\n"
    "        {{- \"<|eot|>\" }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|header_start|>assistant<|header_end|>\n"
    "\n"
    "' }}\n"
    "{%- endif %}\n";

static const char WANT_LLAMA4[] =
    "<|begin_of_text|><|header_start|>system<|header_end|>\n"
    "\n"
    "Environment: ipython\n"
    "You are terse.<|eot|><|header_start|>user<|header_end|>\n"
    "\n"
    "Given the following functions, please respond with a JSON for a function call with its proper ar"
    "guments that best answers the given prompt.\n"
    "\n"
    "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and "
    "its value}.Do not use variables.\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"get_weather\",\n"
    "        \"description\": \"Weather by city\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {\n"
    "                \"city\": {\n"
    "                    \"type\": \"string\"\n"
    "                },\n"
    "                \"days\": {\n"
    "                    \"type\": \"integer\"\n"
    "                }\n"
    "            },\n"
    "            \"required\": [\n"
    "                \"city\"\n"
    "            ]\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"now\",\n"
    "        \"description\": \"The time\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {}\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "Weather in Paris?<|eot|><|header_start|>assistant<|header_end|>\n"
    "\n"
    "<|python_start|><|python_end|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", "
    "\"days\": 2, \"lat\": 48.8566, \"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3"
    "\xa9" "\\\"\\n\"}}<|eot|><|header_start|>ipython<|header_end|>\n"
    "\n"
    "\"{\\\"temp\\\": 21.5}\"<|eot|><|header_start|>user<|header_end|>\n"
    "\n"
    "Thanks<|eot|><|header_start|>assistant<|header_end|>\n"
    "\n";

static const char WANT_LLAMA4_TWO[] =
    "<|begin_of_text|><|header_start|>system<|header_end|>\n"
    "\n"
    "Environment: ipython\n"
    "You are terse.<|eot|><|header_start|>user<|header_end|>\n"
    "\n"
    "Given the following functions, please respond with a JSON for a function call with its proper ar"
    "guments that best answers the given prompt.\n"
    "\n"
    "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and "
    "its value}.Do not use variables.\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"get_weather\",\n"
    "        \"description\": \"Weather by city\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {\n"
    "                \"city\": {\n"
    "                    \"type\": \"string\"\n"
    "                },\n"
    "                \"days\": {\n"
    "                    \"type\": \"integer\"\n"
    "                }\n"
    "            },\n"
    "            \"required\": [\n"
    "                \"city\"\n"
    "            ]\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "{\n"
    "    \"type\": \"function\",\n"
    "    \"function\": {\n"
    "        \"name\": \"now\",\n"
    "        \"description\": \"The time\",\n"
    "        \"parameters\": {\n"
    "            \"type\": \"object\",\n"
    "            \"properties\": {}\n"
    "        }\n"
    "    }\n"
    "}\n"
    "\n"
    "Weather in Paris?<|eot|><|header_start|>assistant<|header_end|>\n"
    "\n"
    "<|python_start|>Checking.<|python_end|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \""
    "Paris\"}}{\"name\": \"now\", \"parameters\": {}}<|eot|><|header_start|>ipython<|header_end|>\n"
    "\n"
    "\"{\\\"temp\\\": 21.5}\"<|eot|><|header_start|>ipython<|header_end|>\n"
    "\n"
    "\"12:00\"<|eot|><|header_start|>user<|header_end|>\n"
    "\n"
    "Thanks<|eot|><|header_start|>assistant<|header_end|>\n"
    "\n";

/* Qwen3-4B-Thinking-2507's template (the generation prompt opens <think>), with its tool
 * branches as in every Qwen3 template */
static const char QWEN3_TEMPLATE[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0].role == 'system' %}\n"
    "        {{- messages[0].content + '\\n\\n' }}\n"
    "    {%- endif %}\n"
    "    {{- \"# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYo"
    "u are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and a"
    "rguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>"
    ", \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0].role == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
    "    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and not"
    "(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>'))"
    " %}\n"
    "        {%- set ns.multi_step_tool = false %}\n"
    "        {%- set ns.last_query_index = index %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.content is string %}\n"
    "        {%- set content = message.content %}\n"
    "    {%- else %}\n"
    "        {%- set content = '' %}\n"
    "    {%- endif %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {%- set reasoning_content = '' %}\n"
    "        {%- if message.reasoning_content is string %}\n"
    "            {%- set reasoning_content = message.reasoning_content %}\n"
    "        {%- else %}\n"
    "            {%- if '</think>' in content %}\n"
    "                {%- set reasoning_content = ((content.split('</think>')|first).rstrip('\\n').spl"
    "it('<think>')|last).lstrip('\\n') %}\n"
    "                {%- set content = (content.split('</think>')|last).lstrip('\\n') %}\n"
    "            {%- endif %}\n"
    "        {%- endif %}\n"
    "        {%- if loop.index0 > ns.last_query_index %}\n"
    "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('"
    "\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
    "            {%- else %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "            {%- endif %}\n"
    "        {%- else %}\n"
    "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "        {%- endif %}\n"
    "        {%- if message.tool_calls %}\n"
    "            {%- for tool_call in message.tool_calls %}\n"
    "                {%- if (loop.first and content) or (not loop.first) %}\n"
    "                    {{- '\\n' }}\n"
    "                {%- endif %}\n"
    "                {%- if tool_call.function %}\n"
    "                    {%- set tool_call = tool_call.function %}\n"
    "                {%- endif %}\n"
    "                {{- '<tool_call>\\n{\"name\": \"' }}\n"
    "                {{- tool_call.name }}\n"
    "                {{- '\", \"arguments\": ' }}\n"
    "                {%- if tool_call.arguments is string %}\n"
    "                    {{- tool_call.arguments }}\n"
    "                {%- else %}\n"
    "                    {{- tool_call.arguments | tojson }}\n"
    "                {%- endif %}\n"
    "                {{- '}\\n</tool_call>' }}\n"
    "            {%- endfor %}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if loop.first or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n<think>\\n' }}\n"
    "{%- endif %}";

static const char WANT_QWEN3[] =
    "<|im_start|>system\n"
    "You are terse.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather by"
    " city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\""
    "}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time\", \"para"
    "meters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <tool_call>"
    "</tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"lat\": 48.8566, "
    "\"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3\xa9" "\\\"\\n\"}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<think>\n";

static const char WANT_QWEN3_TWO[] =
    "<|im_start|>system\n"
    "You are terse.\n"
    "\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather by"
    " city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\""
    "}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time\", \"para"
    "meters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <tool_call>"
    "</tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "Checking.\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
    "</tool_call>\n"
    "<tool_call>\n"
    "{\"name\": \"now\", \"arguments\": {}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response>\n"
    "<tool_response>\n"
    "12:00\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<think>\n";

static const char WANT_QWEN3_NOSYS[] =
    "<|im_start|>system\n"
    "# Tools\n"
    "\n"
    "You may call one or more functions to assist with the user query.\n"
    "\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather by"
    " city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\""
    "}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time\", \"para"
    "meters\": {\"type\": \"object\", \"properties\": {}}}}\n"
    "</tools>\n"
    "\n"
    "For each function call, return a json object with function name and arguments within <tool_call>"
    "</tool_call> XML tags:\n"
    "<tool_call>\n"
    "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "Weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<tool_call>\n"
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"lat\": 48.8566, "
    "\"scale\": 1e-05, \"big\": 1e+20, \"x\": 1.0, \"note\": \"\xc3\xa9" "\\\"\\n\"}}\n"
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n"
    "<tool_response>\n"
    "{\"temp\": 21.5}\n"
    "</tool_response><|im_end|>\n"
    "<|im_start|>user\n"
    "Thanks<|im_end|>\n"
    "<|im_start|>assistant\n"
    "<think>\n";

/* mistralai/Mistral-7B-Instruct-v0.3's template (with its tool branches) */
static const char MISTRAL_V03_TEMPLATE[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
    "\n"
    "{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}"
    "\n"
    "{%- set ns = namespace() %}\n"
    "{%- set ns.index = 0 %}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_ca"
    "lls is defined and message.tool_calls is not none)) %}\n"
    "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
    "            {{- raise_exception(\"After the optional system message, conversation roles must alt"
    "ernate user/assistant/user/assistant/...\") }}\n"
    "        {%- endif %}\n"
    "        {%- set ns.index = ns.index + 1 %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- \"[AVAILABLE_TOOLS] [\" }}\n"
    "            {%- for tool in tools %}\n"
    "                {%- set tool = tool.function %}\n"
    "                {{- '{\"type\": \"function\", \"function\": {' }}\n"
    "                {%- for key, val in tool.items() if key != \"return\" %}\n"
    "                    {%- if val is string %}\n"
    "                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
    "                    {%- else %}\n"
    "                        {{- '\"' + key + '\": ' + val|tojson }}\n"
    "                    {%- endif %}\n"
    "                    {%- if not loop.last %}\n"
    "                        {{- \", \" }}\n"
    "                    {%- endif %}\n"
    "                {%- endfor %}\n"
    "                {{- \"}}\" }}\n"
    "                {%- if not loop.last %}\n"
    "                    {{- \", \" }}\n"
    "                {%- else %}\n"
    "                    {{- \"]\" }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
    "            {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }"
    "}\n"
    "        {%- else %}\n"
    "            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif message.tool_calls is defined and message.tool_calls is not none %}\n"
    "        {{- \"[TOOL_CALLS] [\" }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- set out = tool_call.function|tojson %}\n"
    "            {{- out[:-1] }}\n"
    "            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n"
    "                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9"
    "!\") }}\n"
    "            {%- endif %}\n"
    "            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
    "            {%- if not loop.last %}\n"
    "                {{- \", \" }}\n"
    "            {%- else %}\n"
    "                {{- \"]\" + eos_token }}\n"
    "            {%- endif %}\n"
    "        {%- endfor %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- \" \" + message[\"content\"]|trim + eos_token}}\n"
    "    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n"
    "        {%- if message.content is defined and message.content.content is defined %}\n"
    "            {%- set content = message.content.content %}\n"
    "        {%- else %}\n"
    "            {%- set content = message.content %}\n"
    "        {%- endif %}\n"
    "        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" }}\n"
    "        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n"
    "            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\")"
    " }}\n"
    "        {%- endif %}\n"
    "        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of"
    " an initial optional system message!\") }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n";

static const char WANT_MISTRAL_V03[] =
    "<s>[INST] Q[/INST][TOOL_CALLS] [{\"name\": \"now\", \"arguments\": {\"tz\": \"UTC\"}, \"id\": \""
    "abcDEF123\"}]</s>[TOOL_RESULTS] {\"content\": sunny, \"call_id\": \"abcDEF123\"}[/TOOL_RESULTS] "
    "It is sunny.</s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"now\", \""
    "description\": \"The time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}][/AVAI"
    "LABLE_TOOLS][INST] S\n"
    "\n"
    "R[/INST]";

/* mistralai/Mistral-Nemo-Instruct-2407's template (its tokenizer_config.json, as llama.cpp's
 * models/templates carries it) */
static const char NEMO_TEMPLATE[] =
    "{%- if messages[0][\"role\"] == \"system\" %}\n"
    "    {%- set system_message = messages[0][\"content\"] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- if not tools is defined %}\n"
    "    {%- set tools = none %}\n"
    "{%- endif %}\n"
    "{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", \"user\") | list %}\n"
    "\n"
    "{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}"
    "\n"
    "{%- set ns = namespace() %}\n"
    "{%- set ns.index = 0 %}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if not (message.role == \"tool\" or message.role == \"tool_results\" or (message.tool_ca"
    "lls is defined and message.tool_calls is not none)) %}\n"
    "        {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n"
    "            {{- raise_exception(\"After the optional system message, conversation roles must alt"
    "ernate user/assistant/user/assistant/...\") }}\n"
    "        {%- endif %}\n"
    "        {%- set ns.index = ns.index + 1 %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if message[\"role\"] == \"user\" %}\n"
    "        {%- if tools is not none and (message == user_messages[-1]) %}\n"
    "            {{- \"[AVAILABLE_TOOLS][\" }}\n"
    "            {%- for tool in tools %}\n"
    "                {%- set tool = tool.function %}\n"
    "                {{- '{\"type\": \"function\", \"function\": {' }}\n"
    "                {%- for key, val in tool.items() if key != \"return\" %}\n"
    "                    {%- if val is string %}\n"
    "                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
    "                    {%- else %}\n"
    "                        {{- '\"' + key + '\": ' + val|tojson }}\n"
    "                    {%- endif %}\n"
    "                    {%- if not loop.last %}\n"
    "                        {{- \", \" }}\n"
    "                    {%- endif %}\n"
    "                {%- endfor %}\n"
    "                {{- \"}}\" }}\n"
    "                {%- if not loop.last %}\n"
    "                    {{- \", \" }}\n"
    "                {%- else %}\n"
    "                    {{- \"]\" }}\n"
    "                {%- endif %}\n"
    "            {%- endfor %}\n"
    "            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
    "            {%- endif %}\n"
    "        {%- if loop.last and system_message is defined %}\n"
    "            {{- \"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\" }}"
    "\n"
    "        {%- else %}\n"
    "            {{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}\n"
    "        {%- endif %}\n"
    "    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}\n"
    "        {{- \"[TOOL_CALLS][\" }}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- set out = tool_call.function|tojson %}\n"
    "            {{- out[:-1] }}\n"
    "            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}\n"
    "                {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9"
    "!\") }}\n"
    "            {%- endif %}\n"
    "            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
    "            {%- if not loop.last %}\n"
    "                {{- \", \" }}\n"
    "            {%- else %}\n"
    "                {{- \"]\" + eos_token }}\n"
    "            {%- endif %}\n"
    "        {%- endfor %}\n"
    "    {%- elif message[\"role\"] == \"assistant\" %}\n"
    "        {{- message[\"content\"] + eos_token}}\n"
    "    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\"] == \"tool\" %}\n"
    "        {%- if message.content is defined and message.content.content is defined %}\n"
    "            {%- set content = message.content.content %}\n"
    "        {%- else %}\n"
    "            {%- set content = message.content %}\n"
    "        {%- endif %}\n"
    "        {{- '[TOOL_RESULTS]{\"content\": ' + content|string + \", \" }}\n"
    "        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n"
    "            {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!"
    "\") }}\n"
    "        {%- endif %}\n"
    "        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n"
    "    {%- else %}\n"
    "        {{- raise_exception(\"Only user and assistant roles are supported, with the exception of"
    " an initial optional system message!\") }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
;

static const char WANT_NEMO[] =
    "<s>[INST]Q[/INST][TOOL_CALLS][{\"name\": \"now\", \"arguments\": {\"tz\": \"UTC\"}, \"id\": \"ab"
    "cDEF123\"}]</s>[TOOL_RESULTS]{\"content\": sunny, \"call_id\": \"abcDEF123\"}[/TOOL_RESULTS] It "
    "is sunny. </s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"now\", \"des"
    "cription\": \"The time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}][/AVAILAB"
    "LE_TOOLS][INST]S\n"
    "\n"
    "R[/INST]";

/* microsoft/Phi-4-mini-instruct's template: it prints a system message's "tools" string
 * in <|tool|> and knows no calls or results (those follow the model card) */
static const char PHI4_MINI_TEMPLATE[] =
    "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and messag"
    "e['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + me"
    "ssage['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + message["
    "'content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>'"
    " }}{% else %}{{ eos_token }}{% endif %}";

static const char WANT_PHI4_MINI_TWO[] =
    "<|system|>You are terse.<|tool|>[{\"name\": \"get_weather\", \"description\": \"Weather by city"
    "\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \""
    "days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}, {\"name\": \"now\", \"description"
    "\": \"The time\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}]<|/tool|><|end|><|"
    "user|>Weather in Paris?<|end|><|assistant|>Checking.<|tool_call|>[{\"name\": \"get_weather\", \""
    "arguments\": {\"city\": \"Paris\"}}, {\"name\": \"now\", \"arguments\": {}}]<|/tool_call|><|end|"
    "><|tool|>{\"temp\": 21.5}<|end|><|tool|>12:00<|end|><|user|>Thanks<|end|><|assistant|>";

static const char TOOLS[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
    "\"Weather by city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
    "{\"type\": \"string\"}, \"days\": {\"type\": \"integer\"}}, \"required\": [\"city\"]}}}, "
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time\", "
    "\"parameters\": {\"type\": \"object\", \"properties\": {}}}}]";
static const char ARGS[] = "{\"city\": \"Paris\", \"days\": 2, \"lat\": 48.8566, \"scale\": 1e-05, "
                           "\"big\": 1e+20, \"x\": 1.0, \"note\": \"\\u00e9\\\"\\n\"}";

/* The conversation the expected strings were rendered from (mode "", "two", "nosys"). */
static char *render(const fr_chat_template *t, const char *mode)
{
    fr_chat_msg m[8];
    fr_chat_msg_tools mt[8];
    memset(mt, 0, sizeof mt);
    size_t k = 0;
    bool two = strcmp(mode, "two") == 0;
    if (strcmp(mode, "nosys") != 0)
        m[k++] = (fr_chat_msg){FR_CHAT_SYSTEM, "You are terse.", 14};
    m[k++] = (fr_chat_msg){FR_CHAT_USER, "Weather in Paris?", 17};
    static fr_chat_tool_call calls[2];
    calls[0] = (fr_chat_tool_call){"call_1", "get_weather", two ? "{\"city\": \"Paris\"}" : ARGS};
    calls[1] = (fr_chat_tool_call){"call_2", "now", "{}"};
    m[k] = two ? (fr_chat_msg){FR_CHAT_ASSISTANT, "Checking.", 9}
               : (fr_chat_msg){FR_CHAT_ASSISTANT, "", 0};
    mt[k].calls = calls;
    mt[k++].n_calls = two ? 2 : 1;
    m[k] = (fr_chat_msg){FR_CHAT_TOOL, "{\"temp\": 21.5}", 14};
    mt[k++].call_id = "call_1";
    if (two) {
        m[k] = (fr_chat_msg){FR_CHAT_TOOL, "12:00", 5};
        mt[k++].call_id = "call_2";
    }
    m[k++] = (fr_chat_msg){FR_CHAT_USER, "Thanks", 6};
    fr_chat_opts o = {0};
    o.add_generation_prompt = true;
    o.tools = TOOLS;
    o.msg_tools = mt;
    o.date_string = "26 Jul 2024";
    o.bos_text = "<|begin_of_text|>";
    fr_chat_prompt p;
    fr_err e;
    if (fr_chat_render(t, m, k, &o, &p, &e) != FR_OK) {
        CHECK_MSG(false, "render: %s", e.msg);
        return NULL;
    }
    return p.text;
}

static void same(const char *got, const char *want, const char *what)
{
    if (!got)
        return;
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    CHECK_MSG(!got[i] && !want[i], "%s differs at byte %zu:\n--- got ---\n%s\n--- want ---\n%s",
              what, i, got + (i > 40 ? i - 40 : 0), want + (i > 40 ? i - 40 : 0));
}

static void test_real_templates(void)
{
    static const struct {
        const char *file, *family, *mode, *want;
    } cases[] = {
        {"vocab/ggml-vocab-qwen2.gguf", "chatml", "", WANT_QWEN25},
        {"vocab/ggml-vocab-qwen2.gguf", "chatml", "two", WANT_QWEN25_TWO},
        {"vocab/ggml-vocab-qwen2.gguf", "chatml", "nosys", WANT_QWEN25_NOSYS},
        {"vocab/ggml-vocab-llama-bpe.gguf", "llama3.1", "", WANT_LLAMA32},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[512];
        const char *root = getenv("FR_SHARED") ? getenv("FR_SHARED") : "../shared";
        snprintf(path, sizeof path, "%s/%s", root, cases[c].file);
        fr_gguf *g = NULL;
        fr_err e;
        if (fr_gguf_open(path, &g, &e) != FR_OK) {
            fprintf(stderr, "(%s absent: case skipped)\n", path);
            continue;
        }
        fr_chat_template *t = NULL;
        CHECK(fr_chat_template_from_gguf(g, 0, &t, &e) == FR_OK);
        if (t) {
            CHECK_STR(fr_chat_template_name(t), cases[c].family);
            CHECK(fr_chat_template_tools_native(t));
            char *got = render(t, cases[c].mode);
            same(got, cases[c].want, cases[c].file);
            free(got);
        }
        fr_chat_template_free(t);
        fr_gguf_free(g);
    }
}

/* Llama 4: the whole published template, detected as llama4 and rendered as jinja2 renders it */
static void test_llama4(void)
{
    fr_chat_template *t = NULL;
    fr_err e = {0};
    CHECK_MSG(fr_chat_template_detect(LLAMA4_TEMPLATE, strlen(LLAMA4_TEMPLATE), FR_CHAT_STRICT, &t,
                                      &e) == FR_OK,
              "detect: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(fr_chat_template_name(t), "llama4");
    CHECK(fr_chat_template_tools_native(t));
    CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_LLAMA4);
    char *got = render(t, "");
    same(got, WANT_LLAMA4, "llama4");
    free(got);
    got = render(t, "two");
    same(got, WANT_LLAMA4_TWO, "llama4, two calls");
    free(got);
    fr_chat_template_free(t);
}

/* Qwen3: a published template with its tool branches, rendered as jinja2 renders it */
static void test_qwen3(void)
{
    fr_chat_template *t = NULL;
    fr_err e = {0};
    CHECK_MSG(fr_chat_template_detect(QWEN3_TEMPLATE, strlen(QWEN3_TEMPLATE), FR_CHAT_STRICT, &t,
                                      &e) == FR_OK,
              "detect: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(fr_chat_template_name(t), "qwen3");
    CHECK(fr_chat_template_tools_native(t));
    CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_HERMES);
    static const struct {
        const char *mode, *want;
    } cases[] = {{"", WANT_QWEN3}, {"two", WANT_QWEN3_TWO}, {"nosys", WANT_QWEN3_NOSYS}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char *got = render(t, cases[c].mode);
        same(got, cases[c].want, cases[c].mode[0] ? cases[c].mode : "qwen3");
        free(got);
    }
    fr_chat_template_free(t);
}

/* Mistral v0.3 and Nemo: their published templates with tool branches. The
 * conversation has a final answer between the tool result and the next
 * question: the templates refuse two user turns in a row around calls.
 * (After a tool result as the last message the templates drop the system
 * message, which only a user turn that ends the conversation carries; we
 * keep it on the last user turn, as mistral-common encodes it.) */
static void mistral_case(const char *tmpl, const char *family, const char *want)
{
    fr_chat_template *t = NULL;
    fr_err e = {0};
    CHECK_MSG(fr_chat_template_detect(tmpl, strlen(tmpl), FR_CHAT_STRICT, &t, &e) == FR_OK,
              "detect: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(fr_chat_template_name(t), family);
    CHECK(fr_chat_template_tools_native(t));
    CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_MISTRAL);
    static const char tools[] = "[{\"type\": \"function\", \"function\": {\"name\": \"now\", "
                                "\"description\": \"The time\", \"parameters\": {\"type\": "
                                "\"object\", \"properties\": {}}}}]";
    fr_chat_tool_call call = {"abcDEF123", "now", "{\"tz\": \"UTC\"}"};
    fr_chat_msg m[6] = {{FR_CHAT_SYSTEM, "S", 1},        {FR_CHAT_USER, "Q", 1},
                        {FR_CHAT_ASSISTANT, "", 0},      {FR_CHAT_TOOL, "sunny", 5},
                        {FR_CHAT_ASSISTANT, " It is sunny. ", 14}, {FR_CHAT_USER, "R", 1}};
    fr_chat_msg_tools mt[6] = {{0}};
    mt[2].calls = &call;
    mt[2].n_calls = 1;
    mt[3].call_id = "abcDEF123";
    fr_chat_opts o = {0};
    o.add_generation_prompt = true;
    o.tools = tools;
    o.msg_tools = mt;
    o.bos_text = "<s>";
    fr_chat_prompt p = {0};
    CHECK_MSG(fr_chat_render(t, m, 6, &o, &p, &e) == FR_OK, "render: %s", e.msg);
    same(p.text, want, family);
    free(p.text);
    fr_chat_template_free(t);
}

static void test_mistral_v03(void)
{
    mistral_case(MISTRAL_V03_TEMPLATE, "mistral-v3", WANT_MISTRAL_V03);
    mistral_case(NEMO_TEMPLATE, "mistral-v3-tekken", WANT_NEMO);
}

/* A fixture under tests/data/chat (malloc'd, NUL-terminated), or NULL. */
static char *fixture(const char *name)
{
    char path[512];
    const char *root = getenv("FR_SRC") ? getenv("FR_SRC") : "..";
    snprintf(path, sizeof path, "%s/tests/data/chat/%s", root, name);
    char *text = NULL;
    size_t n = 0;
    fr_err e = {0};
    CHECK_MSG(fr_read_file(path, (size_t)1 << 20, &text, &n, &e) == FR_OK, "%s", e.msg);
    return text;
}

/* Mistral v7: mistral-common's v7_spm (Large 2411) and v7 (Tekken: Small 3,
 * 3.1) templates, in tests/data/chat with what jinja2 renders of this
 * conversation (render.py there). The arguments are given as JSON text in
 * the form Python's json.dumps writes, which those templates print as it
 * is (and which equals what mistral-common's tokenizer encodes). */
static void test_mistral_v7(void)
{
    static const struct {
        const char *file, *family;
    } cases[] = {{"mistral-v7-spm", "mistral-v7"}, {"mistral-v7-tekken", "mistral-v7-tekken"}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.jinja", cases[k].file);
        char *tmpl = fixture(name);
        snprintf(name, sizeof name, "%s.want", cases[k].file);
        char *want = fixture(name);
        fr_chat_template *t = NULL;
        fr_err e = {0};
        if (tmpl)
            CHECK_MSG(fr_chat_template_detect(tmpl, strlen(tmpl), FR_CHAT_STRICT, &t, &e) == FR_OK,
                      "detect: %s", e.msg);
        if (t && want) {
            CHECK_STR(fr_chat_template_name(t), cases[k].family);
            CHECK(fr_chat_template_tools_native(t));
            CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_MISTRAL);
            CHECK(fr_chat_template_default_system(t) == NULL);
            fr_chat_tool_call calls[2] = {
                {"abcDEF123", "get_weather", "{\"city\": \"Paris\", \"note\": \"\xc3\xa9\"}"},
                {"xyzXYZ789", "now", "{}"}};
            fr_chat_msg m[7] = {{FR_CHAT_SYSTEM, "S", 1},
                                {FR_CHAT_USER, "Weather in Paris?", 17},
                                {FR_CHAT_ASSISTANT, "Checking.", 9},
                                {FR_CHAT_TOOL, "{\"temp\": 21.5}", 14},
                                {FR_CHAT_TOOL, "12:00", 5},
                                {FR_CHAT_ASSISTANT, "It is 21.5 C.", 13},
                                {FR_CHAT_USER, "Thanks", 6}};
            fr_chat_msg_tools mt[7] = {{0}};
            mt[2].calls = calls;
            mt[2].n_calls = 2;
            mt[3].call_id = "abcDEF123";
            mt[4].call_id = "xyzXYZ789";
            fr_chat_opts o = {0};
            o.add_generation_prompt = true;
            o.tools = TOOLS;
            o.msg_tools = mt;
            o.bos_text = "<s>";
            fr_chat_prompt p = {0};
            CHECK_MSG(fr_chat_render(t, m, 7, &o, &p, &e) == FR_OK, "render: %s", e.msg);
            same(p.text, want, cases[k].file);
            CHECK(p.starts_with_bos);
            free(p.text);
        }
        fr_chat_template_free(t);
        free(tmpl);
        free(want);
    }
}

/* gpt-oss: OpenAI's template (tests/data/chat/gpt-oss.jinja) with a schema that takes
 * each branch of its TypeScript rendering; a: a call, its result, a final answer and a new
 * question; b: a call whose content becomes an analysis message (no final answer yet).
 * Expected strings from jinja2 (render.py there). */
static const char GPT_OSS_TOOLS[] =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather b"
    "y city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string"
    "\", \"description\": \"The city\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"C\", \"F\"], "
    "\"default\": \"C\"}, \"days\": {\"type\": \"integer\", \"default\": 1}, \"hours\": {\"type\": "
    "\"array\", \"items\": {\"type\": \"integer\"}}, \"tags\": {\"type\": [\"string\", \"null\"]}, "
    "\"where\": {\"type\": \"object\", \"properties\": {\"lat\": {\"type\": \"number\"}, \"lon\": {"
    "\"type\": \"number\"}}, \"required\": [\"lat\"]}, \"spots\": {\"type\": \"array\", \"items\": {"
    "\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"boolean\"}}}}, \"any\": {}, \"note"
    "\": {\"type\": \"string\", \"nullable\": true}, \"pick\": {\"oneOf\": [{\"type\": \"string\", "
    "\"description\": \"a name\"}, {\"type\": \"integer\", \"default\": 3}]}}, \"required\": [\"city"
    "\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time"
    "\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}]";

static void test_gpt_oss(void)
{
    char *tmpl = fixture("gpt-oss.jinja");
    char *want_a = fixture("gpt-oss-a.want"), *want_b = fixture("gpt-oss-b.want");
    fr_chat_template *t = NULL;
    fr_err e = {0};
    if (tmpl)
        CHECK_MSG(fr_chat_template_detect(tmpl, strlen(tmpl), FR_CHAT_STRICT, &t, &e) == FR_OK,
                  "detect: %s", e.msg);
    if (t && want_a && want_b) {
        CHECK_STR(fr_chat_template_name(t), "gpt-oss");
        CHECK(fr_chat_template_tools_native(t));
        CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_HARMONY);
        fr_chat_opts o = {0};
        o.add_generation_prompt = true;
        o.tools = GPT_OSS_TOOLS;
        o.date_string = "2025-08-05";
        fr_chat_prompt p = {0};
        /* a */
        fr_chat_tool_call ca = {"call_1", "get_weather",
                                "{\"city\": \"Paris\", \"note\": \"\\u00e9\\\"\\n\"}"};
        fr_chat_msg ma[6] = {{FR_CHAT_SYSTEM, "You are terse.", 14},
                             {FR_CHAT_USER, "Weather in Paris?", 17},
                             {FR_CHAT_ASSISTANT, "", 0},
                             {FR_CHAT_TOOL, "{\"temp\": 21.5}", 14},
                             {FR_CHAT_ASSISTANT, "It is 21.5 C.", 13},
                             {FR_CHAT_USER, "Thanks", 6}};
        fr_chat_msg_tools mta[6] = {{0}};
        mta[2].calls = &ca;
        mta[2].n_calls = 1;
        mta[3].call_id = "call_1";
        o.msg_tools = mta;
        CHECK_MSG(fr_chat_render(t, ma, 6, &o, &p, &e) == FR_OK, "render: %s", e.msg);
        same(p.text, want_a, "gpt-oss a");
        fr_chat_prompt_clear(&p);
        /* b */
        fr_chat_tool_call cb = {"call_1", "now", "{}"};
        fr_chat_msg mb[3] = {{FR_CHAT_USER, "Weather in Paris?", 17},
                             {FR_CHAT_ASSISTANT, "Need the weather.", 17},
                             {FR_CHAT_TOOL, "12:00", 5}};
        fr_chat_msg_tools mtb[3] = {{0}};
        mtb[1].calls = &cb;
        mtb[1].n_calls = 1;
        mtb[2].call_id = "call_1";
        o.msg_tools = mtb;
        CHECK_MSG(fr_chat_render(t, mb, 3, &o, &p, &e) == FR_OK, "render: %s", e.msg);
        same(p.text, want_b, "gpt-oss b");
        fr_chat_prompt_clear(&p);
    }
    fr_chat_template_free(t);
    free(tmpl);
    free(want_a);
    free(want_b);
}

/* Phi-4-mini: the template's own output for a system message carrying the tools' functions
 * as one JSON list and an assistant turn whose content ends with the calls as the model
 * writes them (rendered by jinja2); tool results are "tool" turns */
static void test_phi4_mini(void)
{
    fr_chat_template *t = NULL;
    fr_err e = {0};
    CHECK_MSG(fr_chat_template_detect(PHI4_MINI_TEMPLATE, strlen(PHI4_MINI_TEMPLATE), FR_CHAT_STRICT,
                                      &t, &e) == FR_OK,
              "detect: %s", e.msg);
    if (!t)
        return;
    CHECK_STR(fr_chat_template_name(t), "phi3");
    CHECK(fr_chat_template_tools_native(t));
    CHECK(fr_chat_template_tool_format(t) == FR_TOOLS_PHI4);
    char *got = render(t, "two");
    same(got, WANT_PHI4_MINI_TWO, "phi-4-mini");
    free(got);
    fr_chat_template_free(t);
}

/* Tool grammars of each call format: answers written out by hand, accepted or refused */
static void grammar_case(fr_tool_format f, fr_tool_choice ch, bool parallel, const char *text,
                         int want)
{
    static const char tools[] = "[{\"type\": \"function\", \"function\": {\"name\": \"now\", "
                                "\"parameters\": {\"type\": \"object\", \"properties\": {\"tz\": "
                                "{\"type\": \"string\", \"enum\": [\"UTC\", \"CET\"]}}, \"required\": "
                                "[\"tz\"], \"additionalProperties\": false}}}]";
    fr_tool_grammar_opts o = {f, ch, NULL, parallel, NULL};
    char *gbnf = NULL;
    fr_err e = {0};
    fr_grammar *g = NULL;
    CHECK_MSG(fr_tool_grammar(tools, strlen(tools), &o, &gbnf, &e) == FR_OK, "tool grammar: %s",
              e.msg);
    if (gbnf)
        CHECK_MSG(fr_grammar_parse(gbnf, strlen(gbnf), "tools", &g, &e) == FR_OK, "parse: %s",
                  e.msg);
    if (g) {
        int got = fr_grammar_match(g, text, strlen(text));
        CHECK_MSG(got == want, "format %d choice %d: %s -> %d, want %d", (int)f, (int)ch, text,
                  got, want);
    }
    fr_grammar_free(g);
    free(gbnf);
}

static void test_tool_grammars(void)
{
    const fr_tool_choice A = FR_TOOL_CHOICE_AUTO, R = FR_TOOL_CHOICE_REQUIRED;
    const char *call = "{\"name\": \"now\", \"arguments\": {\"tz\": \"UTC\"}}";
    char buf[512];
    /* Phi-4-mini */
    snprintf(buf, sizeof buf, "<|tool_call|>[%s]<|/tool_call|>", call);
    grammar_case(FR_TOOLS_PHI4, R, true, buf, 1);
    snprintf(buf, sizeof buf, "<|tool_call|>[%s, %s]<|/tool_call|>", call, call);
    grammar_case(FR_TOOLS_PHI4, R, true, buf, 1);
    grammar_case(FR_TOOLS_PHI4, R, false, buf, -1); /* one call only */
    snprintf(buf, sizeof buf, "<|tool_call|>[%s]", call);
    grammar_case(FR_TOOLS_PHI4, R, true, buf, 0); /* the closing tag still to come */
    grammar_case(FR_TOOLS_PHI4, R, true,
                 "<|tool_call|>[{\"name\": \"now\", \"arguments\": {\"tz\": \"PST\"}}]", -1);
    grammar_case(FR_TOOLS_PHI4, A, true, "It is noon.", 1);
    snprintf(buf, sizeof buf, "Let me look. <|tool_call|>[%s]<|/tool_call|>", call);
    grammar_case(FR_TOOLS_PHI4, A, true, buf, 1);
    grammar_case(FR_TOOLS_PHI4, FR_TOOL_CHOICE_NONE, true, "<|tool_call|>[", -1);
    /* Mistral, Hermes and Llama 3 for comparison */
    snprintf(buf, sizeof buf, "[TOOL_CALLS] [%s]", call);
    grammar_case(FR_TOOLS_MISTRAL, R, true, buf, 1);
    snprintf(buf, sizeof buf, "<tool_call>\n%s\n</tool_call>", call);
    grammar_case(FR_TOOLS_HERMES, R, true, buf, 1);
    grammar_case(FR_TOOLS_LLAMA3, R, true, "{\"name\": \"now\", \"parameters\": {\"tz\": \"CET\"}}",
                 1);
    grammar_case(FR_TOOLS_LLAMA3, R, true, call, -1); /* "arguments" is not Llama's key */
    /* Llama 4: the calls after an empty <|python_start|><|python_end|>, back to back, as its
     * template writes an answer's calls */
    const char *l4 = "{\"name\": \"now\", \"parameters\": {\"tz\": \"UTC\"}}";
    snprintf(buf, sizeof buf, "<|python_start|><|python_end|>%s", l4);
    grammar_case(FR_TOOLS_LLAMA4, R, false, buf, 1);
    snprintf(buf, sizeof buf, "<|python_start|><|python_end|>%s%s", l4, l4);
    grammar_case(FR_TOOLS_LLAMA4, R, true, buf, 1);
    grammar_case(FR_TOOLS_LLAMA4, R, false, buf, -1); /* one call only */
    grammar_case(FR_TOOLS_LLAMA4, R, true, l4, -1);   /* generated with the wrapper */
    grammar_case(FR_TOOLS_LLAMA4, R, true, "<|python_start|><|python_end|>{\"name\": \"now\"", 0);
    grammar_case(FR_TOOLS_LLAMA4, A, true, "It is noon.", 1);
    grammar_case(FR_TOOLS_LLAMA4, A, true, "<b>noon</b>", 1);
    grammar_case(FR_TOOLS_LLAMA4, A, true, "{", -1);
    grammar_case(FR_TOOLS_LLAMA4, A, true, "Noon. <|python_start|>", -1);
    grammar_case(FR_TOOLS_LLAMA4, A, true, buf, 1);
    grammar_case(FR_TOOLS_LLAMA4, FR_TOOL_CHOICE_NONE, true, "<|python_start|>", -1);
    grammar_case(FR_TOOLS_LLAMA4, FR_TOOL_CHOICE_NONE, true, "It is noon.", 1);
    /* harmony: reasoning if the model likes, then the final answer or one call */
    const fr_tool_format HY = FR_TOOLS_HARMONY;
    const char *hc = "<|channel|>commentary to=functions.now <|constrain|>json<|message|>"
                     "{\"tz\": \"UTC\"}";
    const char *ha = "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant";
    grammar_case(HY, R, true, hc, 1);
    snprintf(buf, sizeof buf, "%s%s", ha, hc);
    grammar_case(HY, R, true, buf, -1); /* a required call comes at once */
    grammar_case(HY, A, true, buf, 1);
    grammar_case(HY, R, true, "<|channel|>final<|message|>Noon.", -1);
    grammar_case(HY, A, true, "<|channel|>final<|message|>It is noon.", 1);
    snprintf(buf, sizeof buf, "%s<|channel|>final<|message|>Noon.", ha);
    grammar_case(HY, A, true, buf, 1);
    grammar_case(HY, A, true, hc, 1);
    grammar_case(HY, A, true, "<|channel|>final<|message|>Noon.<|end|>", -1); /* no markers */
    grammar_case(HY, A, true, "Noon.", -1);
    grammar_case(HY, FR_TOOL_CHOICE_NONE, true, hc, -1);
    snprintf(buf, sizeof buf, "%s%s", hc, hc);
    grammar_case(HY, R, true, buf, -1); /* one call per answer */
}

/* One call, one result, by family name. */
static char *render_small(const char *family, const char *id)
{
    fr_chat_template *t = NULL;
    fr_err e;
    CHECK(fr_chat_template_from_name(family, &t, &e) == FR_OK);
    if (!t)
        return NULL;
    static const char tools[] = "[{\"type\": \"function\", \"function\": {\"name\": \"now\", "
                                "\"description\": \"The time\", \"parameters\": {\"type\": "
                                "\"object\", \"properties\": {}}}}]";
    fr_chat_tool_call call = {id, "now", "{}"};
    fr_chat_msg m[4] = {{FR_CHAT_USER, "Q", 1}, {FR_CHAT_ASSISTANT, "", 0}, {FR_CHAT_TOOL, "sunny", 5},
                        {FR_CHAT_USER, "R", 1}};
    fr_chat_msg_tools mt[4] = {{0}};
    mt[1].calls = &call;
    mt[1].n_calls = 1;
    mt[2].call_id = id;
    fr_chat_opts o = {0};
    o.add_generation_prompt = true;
    o.tools = tools;
    o.msg_tools = mt;
    fr_chat_prompt p = {0};
    if (fr_chat_render(t, m, 4, &o, &p, &e) != FR_OK)
        CHECK_MSG(false, "%s: %s", family, e.msg);
    fr_chat_template_free(t);
    return p.text;
}

#define HERMES_BLOCK                                                                               \
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"            \
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"      \
    "{\"type\": \"function\", \"function\": {\"name\": \"now\", \"description\": \"The time\", "    \
    "\"parameters\": {\"type\": \"object\", \"properties\": {}}}}\n</tools>\n\n"                  \
    "For each function call, return a json object with function name and arguments within "     \
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": " \
    "<args-json-object>}\n</tool_call>"

static void test_other_families(void)
{
    /* Qwen3: the block without a default system prompt; calls right after the content */
    char *q3 = render_small("qwen3", "call_1");
    same(q3,
         "<|im_start|>system\n" HERMES_BLOCK "<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
         "<|im_start|>assistant\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n"
         "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n</tool_response>"
         "<|im_end|>\n<|im_start|>user\nR<|im_end|>\n<|im_start|>assistant\n",
         "qwen3");
    free(q3);
    /* Mistral v0.3: tools before the last user turn; ids of 9 characters kept */
    char *mv3 = render_small("mistral-v3", "abcDEF123");
    same(mv3,
         "<s>[INST] Q[/INST][TOOL_CALLS] [{\"name\": \"now\", \"arguments\": {}, \"id\": "
         "\"abcDEF123\"}]</s>[TOOL_RESULTS] {\"content\": sunny, \"call_id\": \"abcDEF123\"}"
         "[/TOOL_RESULTS][AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": "
         "\"now\", \"description\": \"The time\", \"parameters\": {\"type\": \"object\", "
         "\"properties\": {}}}}][/AVAILABLE_TOOLS][INST] R[/INST]",
         "mistral-v3");
    free(mv3);
    /* an OpenAI id becomes one 9-character id, the same for the call and its result */
    char *mx = render_small("mistral-v3", "call_Gk9P2JTyHINr9aB4pCrS79Wr");
    if (mx) {
        const char *a = strstr(mx, "\"id\": \""), *b = strstr(mx, "\"call_id\": \"");
        CHECK(a && b && strncmp(a + 7, b + 12, 9) == 0 && a[16] == '"');
        free(mx);
    }
    /* a family without tools (gemma): the Hermes block in the system text, which gemma
     * puts at the start of the first turn; calls and results as text */
    char *gm = render_small("gemma", "call_1");
    same(gm,
         "<bos><start_of_turn>user\n" HERMES_BLOCK "\n\nQ<end_of_turn>\n<start_of_turn>model\n"
         "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call><end_of_turn>\n"
         "<start_of_turn>user\n<tool_response>\nsunny\n</tool_response><end_of_turn>\n"
         "<start_of_turn>user\nR<end_of_turn>\n<start_of_turn>model\n",
         "gemma");
    free(gm);
    /* tools that are not an array of functions */
    fr_chat_template *t = NULL;
    fr_err e;
    CHECK(fr_chat_template_from_name("chatml", &t, &e) == FR_OK);
    fr_chat_msg m = {FR_CHAT_USER, "Q", 1};
    fr_chat_opts o = {0};
    o.tools = "{\"name\": \"x\"}";
    fr_chat_prompt p;
    CHECK(fr_chat_render(t, &m, 1, &o, &p, &e) == FR_E_INVALID);
    o.tools = "[{\"type\": \"function\"}]";
    CHECK(fr_chat_render(t, &m, 1, &o, &p, &e) == FR_E_INVALID);
    CHECK(strstr(e.msg, "tools[0]") != NULL);
    fr_chat_template_free(t);
}

/* ---- reading calls back ---- */

typedef struct summary {
    char s[8192];
    size_t n;
    int last; /* kind of the last event, -1 none */
} summary;

static void add(summary *sm, const char *t, size_t n)
{
    if (sm->n + n + 1 < sizeof sm->s) {
        memcpy(sm->s + sm->n, t, n);
        sm->n += n;
        sm->s[sm->n] = '\0';
    }
}

/* The events as one string: "|T:text" for content (pieces joined), "|R:text" for
 * reasoning, "|C0:name(args)" per call, ")" once it ended. Any split of the same text must give the same string. */
static bool collect(void *user, const fr_tool_event *ev)
{
    summary *sm = user;
    char head[32];
    switch (ev->kind) {
    case FR_TOOL_EV_CONTENT:
        if (sm->last != FR_TOOL_EV_CONTENT)
            add(sm, "|T:", 3);
        add(sm, ev->text, ev->len);
        break;
    case FR_TOOL_EV_CALL:
        snprintf(head, sizeof head, "|C%d:", ev->index);
        add(sm, head, strlen(head));
        add(sm, ev->text, ev->len);
        add(sm, "(", 1);
        break;
    case FR_TOOL_EV_ARGS: add(sm, ev->text, ev->len); break;
    case FR_TOOL_EV_END: add(sm, ")", 1); break;
    case FR_TOOL_EV_REASONING:
        if (sm->last != FR_TOOL_EV_REASONING)
            add(sm, "|R:", 3);
        add(sm, ev->text, ev->len);
        break;
    }
    sm->last = (int)ev->kind;
    return true;
}

static void parse_in_pieces(fr_tool_format f, const char *text, size_t step, summary *sm)
{
    memset(sm, 0, sizeof *sm);
    sm->last = -1;
    fr_tool_parser *p = NULL;
    CHECK(fr_tool_parser_create(f, &p, NULL) == FR_OK);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
        CHECK(fr_tool_parser_feed(p, text + i, i + step > n ? n - i : step, collect, sm));
    CHECK(fr_tool_parser_finish(p, collect, sm));
    fr_tool_parser_free(p);
}

static void parses(fr_tool_format f, const char *text, const char *want)
{
    for (size_t step = 1; step <= strlen(text) + 1; step++) {
        summary sm;
        parse_in_pieces(f, text, step, &sm);
        CHECK_MSG(strcmp(sm.s, want) == 0, "format %d, pieces of %zu bytes:\n  text %s\n  got  %s\n  want %s",
                  (int)f, step, text, sm.s, want);
        if (strcmp(sm.s, want) != 0)
            break;
    }
}

static void test_parser(void)
{
    const fr_tool_format H = FR_TOOLS_HERMES, L = FR_TOOLS_LLAMA3, M = FR_TOOLS_MISTRAL;
    parses(H, "Just text, <tools> and <tool_ca too.", "|T:Just text, <tools> and <tool_ca too.");
    parses(H, "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
           "|C0:now({})");
    parses(H, "Let me check.\n<tool_call>\n{\"name\": \"w\", \"arguments\": {\"c\": \"}{\\\"\", "
              "\"n\": [1, {\"x\": 2}]}}\n</tool_call>\n<tool_call>\n{\"name\": \"t\", \"arguments\": "
              "{}}\n</tool_call>",
           "|T:Let me check.\n|C0:w({\"c\": \"}{\\\"\", \"n\": [1, {\"x\": 2}]})|C1:t({})");
    /* not a call after all: the text comes back as content */
    parses(H, "<tool_call> oops", "|T:<tool_call> oops");
    /* an unfinished call stays a call (the answer ran out of tokens) */
    parses(H, "<tool_call>\n{\"name\": \"w\", \"arguments\": {\"c\": 1", "|C0:w({\"c\": 1");
    parses(L, "{\"name\": \"w\", \"parameters\": {\"c\": 1}}", "|C0:w({\"c\": 1})");
    parses(L, "  {\"name\": \"w\", \"parameters\": {}}", "|C0:w({})");
    parses(L, "Hello {not a call}", "|T:Hello {not a call}");
    parses(L, "{oops", "|T:{oops");
    parses(M, "[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", "
              "\"arguments\": {}, \"id\": \"abcDEF123\"}]",
           "|C0:a({\"x\": 1})|C1:b({})");
    parses(M, "Sure. [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}]", "|T:Sure. |C0:a({})");
    parses(M, "no calls [TOOL", "|T:no calls [TOOL");
    const fr_tool_format P = FR_TOOLS_PHI4;
    parses(P, "<|tool_call|>[{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", "
              "\"arguments\": {}}]<|/tool_call|>",
           "|C0:a({\"x\": 1})|C1:b({})");
    parses(P, "Sure.<|tool_call|>[{\"name\": \"a\", \"arguments\": {}}]<|/tool_call|>",
           "|T:Sure.|C0:a({})");
    parses(P, "no calls <|tool_c", "|T:no calls <|tool_c");
    parses(P, "<|tool_call|> oops", "|T:<|tool_call|> oops");
    /* Llama 4: the template's form (content in the wrapper, calls back to back), or a bare
     * call as Llama 3 writes it */
    const fr_tool_format L4 = FR_TOOLS_LLAMA4;
    parses(L4, "<|python_start|><|python_end|>{\"name\": \"w\", \"parameters\": {\"c\": 1}}",
           "|C0:w({\"c\": 1})");
    parses(L4, "<|python_start|>Checking.<|python_end|>{\"name\": \"a\", \"parameters\": {}}"
               "{\"name\": \"b\", \"parameters\": {\"x\": [2]}}",
           "|T:Checking.|C0:a({})|C1:b({\"x\": [2]})");
    parses(L4, " <|python_start|><|python_end|>\n{\"name\": \"a\", \"parameters\": {}} bye",
           "|C0:a({})");
    parses(L4, "{\"name\": \"w\", \"parameters\": {}}", "|C0:w({})");
    parses(L4, "Hello <|python_start|> x", "|T:Hello <|python_start|> x");
    parses(L4, "<|python_sta", "|T:<|python_sta");
    parses(L4, "<|python_start|>a <|python_e", "|T:a <|python_e");
    parses(L4, "<|python_start|>a<|python_end|>not a call", "|T:a");
    /* a list cut short, or going wrong after a call: the calls read stay calls, and are
     * not given back as content (fuzz_chat found that) */
    parses(M, "[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}", "|C0:a({})");
    parses(M, "[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {oops}]", "|C0:a({})");
    parses(L4, "<|python_start|><|python_end|>{\"name\": \"a\", \"parameters\": {}}{\"nam oops",
           "|C0:a({})");
    /* harmony: channels; a recipient makes a call; text without headers is content */
    const fr_tool_format HY = FR_TOOLS_HARMONY;
    parses(HY, "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final"
               "<|message|>Hello.",
           "|R:Think.|T:Hello.");
    parses(HY, "<|channel|>analysis<|message|>Need it.<|end|><|start|>assistant<|channel|>"
               "commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Pa"
               "ris\"}<|call|>",
           "|R:Need it.|C0:get_weather({\"city\": \"Paris\"})");
    parses(HY, " to=functions.now<|channel|>commentary json<|message|>{}", "|C0:now({})");
    parses(HY, "<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant<|channel|>"
               "commentary to=functions.now <|constrain|>json<|message|>{}",
           "|T:Let me check.|C0:now({})");
    parses(HY, "<|channel|>commentary to=functions.w <|constrain|>json<|message|>{\"c\": ",
           "|C0:w({\"c\": ");
    parses(HY, "<|channel|>final<|message|>a <|en", "|T:a <|en");
    parses(HY, "<|channel|>final<|message|>a<|return|>", "|T:a");
    parses(HY, "Once upon a time <|channel|>", "|T:Once upon a time <|channel|>");
    /* a header running past 256 bytes without <|message|>: content */
    char longh[400], longw[410];
    snprintf(longh, sizeof longh, "<|channel|>final%0300d<|message|>x", 0);
    snprintf(longw, sizeof longw, "|T:%s", longh);
    parses(HY, longh, longw);
}

int main(void)
{
    test_real_templates();
    test_llama4();
    test_qwen3();
    test_mistral_v03();
    test_mistral_v7();
    test_gpt_oss();
    test_phi4_mini();
    test_tool_grammars();
    test_other_families();
    test_parser();
    TEST_END();
}
