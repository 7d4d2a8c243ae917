/*
 * chunk.c - sentences to chunks (see chunk.h).
 *
 * Two passes: list the sentences of every block (with word counts and
 * source ranges), then group them greedily. Greedy grouping up to max_words
 * gives chunks of roughly max/2..max words when sentences are short, which
 * is the 150-300 range at the default; a smarter balance (equal-sized chunks
 * per section) was rejected because it moves every cut when one sentence
 * changes, which would defeat the overlap guarantee no more than it helps.
 */
#include "rag/chunk.h"

#include "base/buf.h"
#include "rag/text.h"

#include <stdlib.h>
#include <string.h>

typedef struct sent {
    size_t block;
    size_t off, len; /* in the block text */
    size_t words;
} sent;

typedef struct sent_list {
    sent *v;
    size_t n, cap;
} sent_list;

static bool sent_push(sent_list *l, sent s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        sent *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return false;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = s;
    return true;
}

static size_t count_words(const char *s, size_t n)
{
    size_t pos = 0, w = 0;
    fr_token t;
    while (fr_next_token(s, n, &pos, &t))
        w += t.kind == FR_TOK_WORD;
    return w;
}

/* Splits block b into sentences, cutting any sentence over max words. */
static bool split_block(const fr_block *b, size_t bi, size_t max_words, sent_list *out)
{
    size_t off = 0;
    while (off < b->len) {
        while (off < b->len && (unsigned char)b->text[off] <= ' ')
            off++;
        if (off >= b->len)
            break;
        size_t end = fr_sentence_end(b->text, b->len, off);
        if (end <= off)
            end = b->len;
        size_t words = count_words(b->text + off, end - off);
        if (words <= max_words) {
            if (!sent_push(out, (sent){bi, off, end - off, words}))
                return false;
        } else {
            /* cut every max_words words */
            size_t pos = off, piece = off, w = 0;
            fr_token t;
            while (fr_next_token(b->text, end, &pos, &t)) {
                if (t.kind != FR_TOK_WORD)
                    continue;
                if (w == max_words) {
                    if (!sent_push(out, (sent){bi, piece, t.off - piece, w}))
                        return false;
                    piece = t.off;
                    w = 0;
                }
                w++;
            }
            if (!sent_push(out, (sent){bi, piece, end - piece, w}))
                return false;
        }
        off = end;
    }
    return true;
}

static bool same_section(const fr_block *a, const fr_block *b)
{
    if (a->page != b->page)
        return false;
    if (!a->heading || !b->heading)
        return a->heading == b->heading;
    return strcmp(a->heading, b->heading) == 0;
}

/* Appends text with whitespace runs collapsed to one space. */
static void put_collapsed(fr_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ') {
            if (out->len == 0 || out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\n')
                continue;
            c = ' ';
        }
        fr_buf_putc(out, (char)c);
    }
    while (out->len && out->data[out->len - 1] == ' ')
        out->data[--out->len] = '\0';
}

static bool emit(const fr_doc *d, const sent *s, size_t n, fr_chunk **out, size_t *nout,
                 size_t *cap)
{
    if (n == 0)
        return true;
    if (*nout == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        fr_chunk *nv = realloc(*out, nc * sizeof *nv);
        if (!nv)
            return false;
        *out = nv;
        *cap = nc;
    }
    fr_buf text = FR_BUF_INIT;
    uint64_t lo = UINT64_MAX, hi = 0;
    size_t words = 0;
    for (size_t i = 0; i < n; i++) {
        const fr_block *b = &d->blocks[s[i].block];
        if (i > 0)
            fr_buf_putc(&text, s[i].block == s[i - 1].block ? ' ' : '\n');
        put_collapsed(&text, b->text + s[i].off, s[i].len);
        uint64_t a = b->verbatim ? b->src_off + s[i].off : b->src_off;
        uint64_t e = b->verbatim ? a + s[i].len : b->src_off + b->src_len;
        lo = a < lo ? a : lo;
        hi = e > hi ? e : hi;
        words += s[i].words;
    }
    if (!fr_buf_ok(&text)) {
        fr_buf_free(&text);
        return false;
    }
    fr_chunk *c = &(*out)[*nout];
    memset(c, 0, sizeof *c);
    c->len = text.len;
    c->text = fr_buf_take(&text);
    if (!c->text)
        return false;
    const fr_block *b0 = &d->blocks[s[0].block];
    if (b0->heading) {
        c->heading = strdup(b0->heading);
        if (!c->heading) {
            free(c->text);
            return false;
        }
    }
    c->page = b0->page;
    c->src_off = lo;
    c->src_len = hi - lo;
    c->n_words = words;
    (*nout)++;
    return true;
}

fr_status fr_chunk_doc(const fr_doc *d, const fr_chunk_opts *opts, fr_chunk **out, size_t *n,
                       fr_err *err)
{
    *out = NULL;
    *n = 0;
    size_t max_words = opts && opts->max_words ? opts->max_words : 300;
    sent_list sl = {0};
    fr_chunk *chunks = NULL;
    size_t nc = 0, cap = 0;
    for (size_t b = 0; b < d->n_blocks; b++)
        if (!split_block(&d->blocks[b], b, max_words, &sl))
            goto nomem;
    size_t start = 0, words = 0;
    for (size_t i = 0; i < sl.n; i++) {
        const sent *s = &sl.v[i];
        if (i > start && !same_section(&d->blocks[sl.v[start].block], &d->blocks[s->block])) {
            if (!emit(d, sl.v + start, i - start, &chunks, &nc, &cap))
                goto nomem;
            start = i;
            words = 0;
        } else if (i > start && words + s->words > max_words) {
            if (!emit(d, sl.v + start, i - start, &chunks, &nc, &cap))
                goto nomem;
            /* one sentence of overlap, when it fits beside the next one */
            size_t last = i - 1;
            if (last > start && sl.v[last].words + s->words <= max_words) {
                start = last;
                words = sl.v[last].words;
            } else {
                start = i;
                words = 0;
            }
        }
        words += s->words;
    }
    if (!emit(d, sl.v + start, sl.n - start, &chunks, &nc, &cap))
        goto nomem;
    free(sl.v);
    if (nc == 0) {
        free(chunks);
        return fr_err_set(err, FR_E_FORMAT, "document has no sentences to index");
    }
    *out = chunks;
    *n = nc;
    return FR_OK;
nomem:
    free(sl.v);
    fr_chunks_free(chunks, nc);
    return fr_err_set(err, FR_E_NOMEM, "out of memory while chunking");
}

void fr_chunks_free(fr_chunk *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].heading);
    }
    free(c);
}
