/*
 * ground_json.c - the JSON of a sentence's sub-claims, one definition for
 * `frugal check --json`, `frugal ask --json` / POST /v1/ask and the
 * server's "grounding" object:
 *
 *   [{"text", "kind", "verdict": "supported" | "unsupported", "score",
 *     "support", "facts", "facts_missing", "missing",
 *     "evidence": {"passage": 1-based, "offset", "length", "text",
 *                  "truncated"} | null}]
 *
 * "evidence" is the best window (one or two sentences) of the passages the
 * sub-claim was scored against; offset/length are bytes of that passage's
 * text; the text is cut at 400 bytes on a UTF-8 boundary.
 */
#include "rag/ground_json.h"

#include "base/buf.h"
#include "rag/text.h"

#include <string.h>

json_t *fr_rag_json_text(const char *t, size_t n)
{
    if (fr_utf8_valid(t, n, NULL))
        return json_stringn(t, n);
    fr_buf b = FR_BUF_INIT;
    fr_utf8_repair(t, n, &b);
    json_t *j = fr_buf_ok(&b) ? json_stringn(b.data ? b.data : "", b.len) : json_string("");
    fr_buf_free(&b);
    return j;
}

static json_t *evidence(const fr_rag_subclaim *s, const char *const *ptext, const size_t *plen, size_t np)
{
    if (s->passage < 0 || (size_t)s->passage >= np || !ptext[s->passage])
        return json_null();
    const char *t = ptext[s->passage];
    size_t off = s->span_off, len = s->span_len, pl = plen[s->passage];
    if (off > pl || len > pl - off)
        return json_null();
    size_t show = len < 400 ? len : 400;
    while (show < len && show > 0 && ((unsigned char)t[off + show] & 0xC0) == 0x80)
        show--;
    json_t *j = json_object();
    json_object_set_new(j, "passage", json_integer(s->passage + 1));
    json_object_set_new(j, "offset", json_integer((json_int_t)off));
    json_object_set_new(j, "length", json_integer((json_int_t)len));
    json_object_set_new(j, "text", fr_rag_json_text(t + off, show));
    json_object_set_new(j, "truncated", json_boolean(show < len));
    return j;
}

json_t *fr_ground_subclaims_json(const fr_rag_checked *c, size_t sentence, const char *const *ptext,
                                 const size_t *plen, size_t np)
{
    json_t *a = json_array();
    if (!a || sentence >= c->n)
        return a;
    const fr_rag_sentence *s = &c->sentences[sentence];
    for (size_t q = s->first_sub; q < s->first_sub + s->n_subs && q < c->n_subs; q++) {
        const fr_rag_subclaim *u = &c->subs[q];
        json_t *j = json_object();
        json_object_set_new(j, "text", fr_rag_json_text(u->text, strlen(u->text)));
        json_object_set_new(j, "kind", json_string(u->kind));
        json_object_set_new(j, "verdict", json_string(u->supported ? "supported" : "unsupported"));
        json_object_set_new(j, "score", json_real(u->prob));
        json_object_set_new(j, "support", json_real(u->support));
        json_object_set_new(j, "facts", json_integer(u->n_facts));
        json_object_set_new(j, "facts_missing", json_integer(u->n_facts_missing));
        json_object_set_new(j, "missing", u->missing[0] ? fr_rag_json_text(u->missing, strlen(u->missing)) : json_null());
        json_object_set_new(j, "evidence", evidence(u, ptext, plen, np));
        json_array_append_new(a, j);
    }
    return a;
}
