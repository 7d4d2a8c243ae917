/*
 * chat_impl.h - what chat_template.c (detection) and chat_render.c
 * (rendering) share: the family table and the template struct. Internal to
 * src/text.
 */
#ifndef FR_TEXT_CHAT_IMPL_H
#define FR_TEXT_CHAT_IMPL_H

#include <frugal/chat.h>

#include <stdbool.h>

typedef enum family {
    F_CHATML,
    F_QWEN3,
    F_LLAMA3,
    F_LLAMA31,
    F_LLAMA2,
    F_MISTRAL_V1,
    F_MISTRAL_LEGACY,
    F_MISTRAL_V3,
    F_MISTRAL_V3_TEKKEN,
    F_PHI3,
    F_GEMMA,
    F_ZEPHYR,
    F_DEEPSEEK,
    F_DEEPSEEK3,
    F_DEEPSEEK_R1,
    F_PHI4,
    F_MISTRAL_V7_TEKKEN,
    F_MISTRAL_V7,
    F_LLAMA4,
    F_GPT_OSS,
    F_COUNT
} family;

typedef struct family_info {
    const char *name;
    const char *bos;  /* usual BOS text; NULL = the family has none */
    const char *eos;  /* usual EOS text (used where the template says eos_token) */
    const char *eot;  /* end-of-turn marker; NULL = the EOS text */
    bool bos_default; /* template starts with bos_token (when chosen by name) */
} family_info;

#define DS_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define DS_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"

extern const family_info fr_chat_families[F_COUNT];

struct fr_chat_template {
    family fam;
    bool starts_with_bos;
    bool llama2_bos_inside;  /* llama2: bos_token before every [INST], not only the first */
    bool phi3_auto_assistant; /* phi3 (first Phi-3-mini template): "<|assistant|>\n" follows every user turn */
    bool phi3_eos_at_end;    /* phi3: without a generation prompt, end with eos_token */
    bool phi4_user_opens;    /* phi4 (some conversions): every user turn opens the assistant's */
    bool date_today;         /* llama3.1: template uses strftime_now */
    bool asst_space_trim;    /* mistral-v3/tekken: assistant turn is " " + content|trim */
    char *eos_text;          /* family EOS unless the template hard-codes another; owned */
    char *default_system;    /* owned; NULL = none */
    char *warning;           /* owned; NULL = recognised */
};

#endif
