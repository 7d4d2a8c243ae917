/*
 * extract.c - txt, md, html, csv, json, jsonl and pdf to blocks (see
 * extract.h for the invariants).
 *
 * Plain text, Markdown and pdftotext output keep their bytes: Markdown
 * syntax is blanked to spaces in place (same length), so a sentence found in
 * a block maps to exact source offsets. HTML, CSV and JSON are rewritten
 * (entities decoded, fields labelled), so their blocks map to the source
 * range of the element or record they came from.
 *
 * Rejected: libxml2's HTML parser (builds a tree whose depth the document
 * controls, and is not among our dependencies); a regex tag stripper (cannot
 * skip <script> bodies or quoted '>' in attributes correctly).
 */
#include "rag/extract.h"

#include "base/buf.h"
#include "base/file.h"
#include "rag/text.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define FR_HEADING_MAX 200
#define FR_BLOCK_TEXT_MAX ((size_t)64 << 10) /* longer HTML/record text is split */
#define FR_JSON_DEPTH_MAX 16
#define FR_CSV_FIELDS_MAX 4096

static size_t opt_max_file(const fr_extract_opts *o)
{
    return o && o->max_file_bytes ? o->max_file_bytes : FR_EXTRACT_DEFAULT_MAX_FILE;
}

static size_t opt_max_line(const fr_extract_opts *o)
{
    return o && o->max_line_bytes ? o->max_line_bytes : FR_EXTRACT_DEFAULT_MAX_LINE;
}

void fr_doc_free(fr_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_blocks; i++) {
        free(d->blocks[i].text);
        free(d->blocks[i].heading);
    }
    free(d->blocks);
    free(d->title);
    free(d);
}

static char *fr_strndup0(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Appends a block. Text is repaired to valid UTF-8; collapse_ws squeezes
 * whitespace runs to one space (for rewritten formats). Empty text is
 * dropped. Returns false on out of memory. */
static bool doc_add(fr_doc *d, const char *text, size_t len, const char *heading, int page,
                    bool is_heading, bool verbatim, uint64_t src_off, uint64_t src_len)
{
    size_t a = 0;
    while (a < len && (unsigned char)text[a] <= ' ')
        a++;
    while (len > a && (unsigned char)text[len - 1] <= ' ')
        len--;
    if (len <= a)
        return true;
    if (verbatim) {
        src_off += a;
        src_len = len - a;
    }
    text += a;
    len -= a;
    fr_buf b = FR_BUF_INIT;
    size_t fixes = fr_utf8_repair(text, len, &b);
    if (fixes == SIZE_MAX) {
        fr_buf_free(&b);
        return false;
    }
    if (fixes) {
        d->n_repairs += fixes;
        verbatim = false;
    }
    if (d->n_blocks == d->cap_blocks) {
        size_t nc = d->cap_blocks ? d->cap_blocks * 2 : 16;
        fr_block *nb = realloc(d->blocks, nc * sizeof *nb);
        if (!nb) {
            fr_buf_free(&b);
            return false;
        }
        d->blocks = nb;
        d->cap_blocks = nc;
    }
    fr_block *bl = &d->blocks[d->n_blocks];
    memset(bl, 0, sizeof *bl);
    bl->text = fr_buf_take(&b);
    if (!bl->text)
        return false;
    bl->len = strlen(bl->text);
    if (heading && heading[0]) {
        bl->heading = strdup(heading);
        if (!bl->heading) {
            free(bl->text);
            return false;
        }
    }
    bl->page = page;
    bl->is_heading = is_heading;
    bl->verbatim = verbatim;
    bl->src_off = src_off;
    bl->src_len = src_len;
    d->n_blocks++;
    return true;
}

static fr_status doc_nomem(fr_err *err, const char *name)
{
    return fr_err_set(err, FR_E_NOMEM, "%s: out of memory while extracting text", name);
}

/* Longest line; fails when one exceeds the cap. */
static fr_status check_lines(const char *name, const char *s, size_t n, size_t cap, fr_err *err)
{
    size_t start = 0, line = 1;
    while (start < n) {
        const char *nl = memchr(s + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - s) : n;
        if (end - start > cap)
            return fr_err_set(err, FR_E_FORMAT,
                              "%s: line %zu is %zu bytes, over the %zu-byte line cap "
                              "(raise --max-line if the file is really text)",
                              name, line, end - start, cap);
        start = end + 1;
        line++;
    }
    return FR_OK;
}

/* Rejects binary data and text that is mostly not UTF-8. */
static fr_status check_text(const char *name, const char *s, size_t n, fr_err *err)
{
    if (fr_looks_binary(s, n))
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: binary data (NUL or control bytes), not a text document", name);
    size_t bad = 0, first = 0, i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = fr_utf8_seq_len(s + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        if (bad == 0)
            first = i;
        bad++;
        i++;
    }
    if (bad > 16 && bad * 100 > n)
        return fr_err_set(err, FR_E_FORMAT,
                          "%s: not UTF-8 text (%zu invalid bytes, the first at byte %zu); "
                          "convert it with iconv -f LATIN1 -t UTF-8",
                          name, bad, first);
    return FR_OK;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- txt / pdftotext output: paragraphs --------------------------------- */

/* Paragraphs of s[0..n) (split on blank lines and form feeds); offsets are
 * base + position. Form feeds advance the page when page > 0. */
static bool paragraphs(fr_doc *d, const char *s, size_t n, uint64_t base, int page)
{
    size_t i = 0;
    while (i < n) {
        size_t start = i, end = i;
        while (end < n) {
            if (s[end] == '\f')
                break;
            if (s[end] == '\n') {
                size_t j = end + 1;
                while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
                    j++;
                if (j >= n || s[j] == '\n' || s[j] == '\f')
                    break;
            }
            end++;
        }
        if (!doc_add(d, s + start, end - start, NULL, page, false, true, base + start,
                     end - start))
            return false;
        i = end;
        while (i < n && (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t' ||
                         s[i] == '\f')) {
            if (s[i] == '\f' && page > 0) {
                page++;
                d->n_pages = (size_t)page;
            }
            i++;
        }
    }
    return true;
}

static fr_status extract_txt(const char *name, const char *s, size_t n, fr_doc *d, fr_err *err)
{
    if (!paragraphs(d, s, n, 0, 0))
        return doc_nomem(err, name);
    return FR_OK;
}

/* ---- markdown ----------------------------------------------------------- */

/* Blanks Markdown syntax in line[0..n) with spaces, keeping the length. */
static void md_blank(char *l, size_t n)
{
    size_t i = 0;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    while (i < n && l[i] == '>') /* quotes */
        l[i++] = ' ';
    while (i < n && l[i] == ' ')
        i++;
    if (i + 1 < n && (l[i] == '-' || l[i] == '*' || l[i] == '+') && l[i + 1] == ' ')
        l[i] = ' '; /* bullet */
    bool table_rule = true;
    for (size_t k = 0; k < n; k++)
        if (!strchr("|-: \t", l[k]))
            table_rule = false;
    if (table_rule && memchr(l, '|', n)) {
        memset(l, ' ', n);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        char c = l[k];
        if (c == '*' || c == '`' || c == '|')
            l[k] = ' ';
        else if (c == '!' && k + 1 < n && l[k + 1] == '[')
            l[k] = ' ';
        else if (c == '[' || (c == ']' && !(k + 1 < n && l[k + 1] == '(')))
            l[k] = ' ';
        else if (c == ']') {
            /* [text](url): blank "](url)" */
            size_t e = k + 1;
            while (e < n && l[e] != ')' && l[e] != ' ')
                e++;
            if (e < n && l[e] == ')') {
                memset(l + k, ' ', e - k + 1);
                k = e;
            } else {
                l[k] = ' ';
            }
        }
    }
}

static bool set_heading(char levels[6][FR_HEADING_MAX + 1], int level, const char *t, size_t n,
                        char *path, size_t path_cap)
{
    if (level < 1 || level > 6)
        return false;
    while (n && (unsigned char)*t <= ' ')
        t++, n--;
    while (n && (unsigned char)t[n - 1] <= ' ')
        n--;
    if (n > FR_HEADING_MAX) {
        /* cut before the sequence that straddles the limit: t[n] is still
         * inside the heading here (t[n] past an uncut heading is not) */
        n = FR_HEADING_MAX;
        while (n && ((unsigned char)t[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(levels[level - 1], t, n);
    levels[level - 1][n] = '\0';
    for (int k = level; k < 6; k++)
        levels[k][0] = '\0';
    size_t p = 0;
    path[0] = '\0';
    for (int k = 0; k < 6; k++) {
        if (!levels[k][0])
            continue;
        int w = snprintf(path + p, path_cap - p, "%s%s", p ? " > " : "", levels[k]);
        if (w < 0 || (size_t)w >= path_cap - p)
            break;
        p += (size_t)w;
    }
    return true;
}

static fr_status extract_md(const char *name, const char *s, size_t n, fr_doc *d, fr_err *err)
{
    char levels[6][FR_HEADING_MAX + 1] = {{0}};
    char path[6 * (FR_HEADING_MAX + 3) + 1] = {0};
    char *copy = fr_strndup0(s, n);
    if (!copy)
        return doc_nomem(err, name);
    fr_status st = FR_OK;
    size_t i = 0, para = SIZE_MAX;
    bool fence = false;
    /* YAML front matter */
    if (n >= 4 && memcmp(s, "---\n", 4) == 0) {
        const char *e = memmem(s + 4, n - 4, "\n---", 4);
        if (e) {
            i = (size_t)(e - s) + 4;
            while (i < n && s[i] != '\n')
                i++;
        }
    }
    while (i <= n) {
        size_t end = i;
        while (end < n && s[end] != '\n')
            end++;
        size_t k = i;
        while (k < end && (s[k] == ' ' || s[k] == '\t'))
            k++;
        bool blank = k >= end || (end - k == 1 && s[k] == '\r');
        bool is_fence = end - k >= 3 && (memcmp(s + k, "```", 3) == 0 || memcmp(s + k, "~~~", 3) == 0);
        int hl = 0;
        if (!fence && k < end && s[k] == '#') {
            while (k + (size_t)hl < end && s[k + (size_t)hl] == '#')
                hl++;
            if (hl > 6 || (k + (size_t)hl < end && s[k + (size_t)hl] != ' '))
                hl = 0;
        }
        bool flush = i >= n || blank || is_fence || hl > 0;
        if (flush && para != SIZE_MAX) {
            if (!doc_add(d, copy + para, i - para, path, 0, false, true, para, i - para)) {
                st = doc_nomem(err, name);
                goto done;
            }
            para = SIZE_MAX;
        }
        if (i >= n)
            break;
        if (is_fence) {
            fence = !fence;
            memset(copy + i, ' ', end - i);
        } else if (hl > 0) {
            size_t t0 = k + (size_t)hl;
            size_t t1 = end;
            while (t1 > t0 && (s[t1 - 1] == '#' || s[t1 - 1] == ' ' || s[t1 - 1] == '\r'))
                t1--;
            set_heading(levels, hl, s + t0, t1 - t0, path, sizeof path);
            if (!d->title && hl == 1)
                d->title = fr_strndup0(levels[0], strlen(levels[0]));
            memset(copy + i, ' ', t0 - i);
            if (!doc_add(d, copy + t0, t1 > t0 ? t1 - t0 : 0, path, 0, true, true, t0,
                         t1 > t0 ? t1 - t0 : 0)) {
                st = doc_nomem(err, name);
                goto done;
            }
        } else if (!blank) {
            if (!fence)
                md_blank(copy + i, end - i);
            if (para == SIZE_MAX)
                para = i;
        }
        i = end + 1;
    }
done:
    free(copy);
    return st;
}

/* ---- html --------------------------------------------------------------- */

typedef struct html_ent {
    const char *name;
    const char *utf8;
} html_ent;

static const html_ent html_ents[] = {
    {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}, {"nbsp", " "},
    {"copy", "\xC2\xA9"}, {"reg", "\xC2\xAE"}, {"trade", "\xE2\x84\xA2"},
    {"mdash", "\xE2\x80\x94"}, {"ndash", "\xE2\x80\x93"}, {"hellip", "\xE2\x80\xA6"},
    {"euro", "\xE2\x82\xAC"}, {"pound", "\xC2\xA3"}, {"yen", "\xC2\xA5"}, {"cent", "\xC2\xA2"},
    {"rsquo", "\xE2\x80\x99"}, {"lsquo", "\xE2\x80\x98"}, {"rdquo", "\xE2\x80\x9D"},
    {"ldquo", "\xE2\x80\x9C"}, {"deg", "\xC2\xB0"}, {"times", "\xC3\x97"},
    {"eacute", "\xC3\xA9"}, {"egrave", "\xC3\xA8"}, {"agrave", "\xC3\xA0"},
    {"uuml", "\xC3\xBC"}, {"ouml", "\xC3\xB6"}, {"auml", "\xC3\xA4"}, {"szlig", "\xC3\x9F"},
    {"ccedil", "\xC3\xA7"}, {"middot", "\xC2\xB7"}, {"bull", "\xE2\x80\xA2"},
    {"shy", ""}, {"zwj", ""}, {"zwnj", ""},
};

static size_t utf8_encode(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the entity at s[0..n) (s[0] == '&'). Writes its text to out and
 * returns the bytes consumed, or 0 when it is not an entity we know. */
static size_t html_entity(const char *s, size_t n, char out[8], size_t *out_len)
{
    size_t semi = 1;
    while (semi < n && semi < 34 && s[semi] != ';' && s[semi] != '&' && s[semi] != '<' &&
           (unsigned char)s[semi] > ' ')
        semi++;
    if (semi >= n || s[semi] != ';' || semi < 2)
        return 0;
    if (s[1] == '#') {
        unsigned long cp = 0;
        size_t k = 2;
        int base = 10;
        if (k < semi && (s[k] == 'x' || s[k] == 'X')) {
            base = 16;
            k++;
        }
        if (k >= semi)
            return 0;
        for (; k < semi; k++) {
            int v;
            char c = s[k];
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                v = (c | 0x20) - 'a' + 10;
            else
                return 0;
            cp = cp * (unsigned long)base + (unsigned long)v;
            if (cp > 0x10FFFF)
                return 0;
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
            cp = 0xFFFD;
        if (cp < 0x20 && cp != '\t' && cp != '\n')
            cp = ' ';
        *out_len = utf8_encode((unsigned)cp, out);
        return semi + 1;
    }
    for (size_t e = 0; e < sizeof html_ents / sizeof *html_ents; e++) {
        size_t l = strlen(html_ents[e].name);
        if (l == semi - 1 && memcmp(s + 1, html_ents[e].name, l) == 0) {
            *out_len = strlen(html_ents[e].utf8);
            memcpy(out, html_ents[e].utf8, *out_len);
            return semi + 1;
        }
    }
    return 0;
}

static bool tag_in(const char *name, const char *list)
{
    size_t n = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* Case-insensitive search for "</name" in s[from..n). */
static size_t find_close(const char *s, size_t n, size_t from, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = from; i + 2 + l <= n; i++) {
        if (s[i] != '<' || s[i + 1] != '/')
            continue;
        if (strncasecmp(s + i + 2, name, l) == 0)
            return i;
    }
    return n;
}

typedef struct html_state {
    fr_doc *d;
    fr_buf text;       /* current block (whitespace collapsed) */
    uint64_t b_start;  /* source offset of its first text byte */
    uint64_t b_end;    /* source offset after its last text byte */
    bool in_title;
    fr_buf title;
    int in_heading;    /* 1..6 inside <hN> */
    char levels[6][FR_HEADING_MAX + 1];
    char path[6 * (FR_HEADING_MAX + 3) + 1];
} html_state;

static bool html_flush(html_state *h)
{
    if (!fr_buf_ok(&h->text))
        return false;
    bool ok = true;
    if (h->text.len) {
        if (h->in_heading) {
            set_heading(h->levels, h->in_heading, h->text.data, h->text.len, h->path,
                        sizeof h->path);
            if (!h->d->title && h->in_heading == 1)
                h->d->title = fr_strndup0(h->levels[0], strlen(h->levels[0]));
        }
        ok = doc_add(h->d, h->text.data, h->text.len, h->path, 0, h->in_heading > 0, false,
                     h->b_start, h->b_end - h->b_start);
    }
    fr_buf_reset(&h->text);
    return ok;
}

static void html_put(html_state *h, const char *t, size_t n, uint64_t src, uint64_t src_end)
{
    fr_buf *b = h->in_title ? &h->title : &h->text;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)t[k];
        if (c <= ' ') {
            if (b->len == 0 || b->data[b->len - 1] == ' ')
                continue;
            c = ' ';
        }
        if (!h->in_title && b->len == 0)
            h->b_start = src;
        fr_buf_putc(b, (char)c);
    }
    if (!h->in_title)
        h->b_end = src_end;
}

static fr_status extract_html(const char *name, const char *s, size_t n, fr_doc *d, fr_err *err)
{
    html_state *h = calloc(1, sizeof *h);
    if (!h)
        return doc_nomem(err, name);
    h->d = d;
    h->text.max = FR_BLOCK_TEXT_MAX * 2;
    h->title.max = 4096;
    fr_status st = FR_OK;
    size_t i = 0;
    while (i < n) {
        if (h->text.len >= FR_BLOCK_TEXT_MAX && !html_flush(h))
            goto nomem;
        char c = s[i];
        if (c == '&') {
            char out[8];
            size_t ol = 0, used = html_entity(s + i, n - i, out, &ol);
            if (used) {
                html_put(h, out, ol, i, i + used);
                i += used;
            } else {
                html_put(h, "&", 1, i, i + 1);
                i++;
            }
            continue;
        }
        if (c != '<') {
            html_put(h, s + i, 1, i, i + 1);
            i++;
            continue;
        }
        /* comments, doctype, processing instructions, CDATA */
        if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
            i = e ? (size_t)(e - s) + 3 : n;
            continue;
        }
        if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?')) {
            const char *e = memchr(s + i, '>', n - i);
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        size_t k = i + 1;
        bool closing = false;
        if (k < n && s[k] == '/') {
            closing = true;
            k++;
        }
        char tag[16];
        size_t tl = 0;
        while (k < n && ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z' ? 1 : (s[k] >= '0' && s[k] <= '9'))) {
            if (tl < sizeof tag - 1)
                tag[tl++] = (char)(s[k] | 0x20);
            k++;
        }
        tag[tl] = '\0';
        if (tl == 0) { /* "a < b": a literal '<' */
            html_put(h, "<", 1, i, i + 1);
            i++;
            continue;
        }
        /* scan to the closing '>' outside quotes */
        char q = 0;
        while (k < n) {
            if (q) {
                if (s[k] == q)
                    q = 0;
            } else if (s[k] == '"' || s[k] == '\'') {
                q = s[k];
            } else if (s[k] == '>') {
                break;
            }
            k++;
        }
        bool self_close = k > 0 && k < n && s[k - 1] == '/';
        size_t after = k < n ? k + 1 : n;
        if (!closing && !self_close && tag_in(tag, "script style noscript template svg iframe object math")) {
            size_t cl = find_close(s, n, after, tag);
            const char *e = cl < n ? memchr(s + cl, '>', n - cl) : NULL;
            i = e ? (size_t)(e - s) + 1 : n;
            continue;
        }
        i = after;
        if (strcmp(tag, "title") == 0) {
            h->in_title = !closing;
            continue;
        }
        if (tl == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6') {
            if (!h->in_heading && !html_flush(h))
                goto nomem;
            if (closing) {
                if (!html_flush(h))
                    goto nomem;
                h->in_heading = 0;
            } else {
                h->in_heading = tag[1] - '0';
            }
            continue;
        }
        if (tag_in(tag, "td th")) {
            if (h->text.len)
                html_put(h, " | ", 3, i, i);
            continue;
        }
        if (tag_in(tag, "p div br li ul ol tr table section article header footer nav aside "
                        "blockquote pre hr dd dt dl main body html head figure figcaption "
                        "caption form fieldset address details summary option")) {
            if (!h->in_heading && !html_flush(h))
                goto nomem;
        }
    }
    h->in_heading = 0;
    if (!html_flush(h))
        goto nomem;
    if (h->title.len && fr_buf_ok(&h->title)) {
        size_t tl = h->title.len;
        while (tl && h->title.data[tl - 1] == ' ')
            tl--;
        if (tl) {
            fr_buf rt = FR_BUF_INIT;
            fr_utf8_repair(h->title.data, tl, &rt);
            free(d->title);
            d->title = fr_buf_take(&rt);
        }
    }
    goto done;
nomem:
    st = doc_nomem(err, name);
done:
    fr_buf_free(&h->text);
    fr_buf_free(&h->title);
    free(h);
    return st;
}

/* ---- csv ---------------------------------------------------------------- */

typedef struct csv_row {
    size_t n;
    size_t off[FR_CSV_FIELDS_MAX]; /* into the unquoted field buffer */
    size_t len[FR_CSV_FIELDS_MAX];
} csv_row;

/* Parses one record starting at *pos into row/fields (fields buffer holds the
 * unquoted values). Returns 1 on a record, 0 at the end, -1 on error. */
static int csv_next(const char *s, size_t n, size_t *pos, char delim, csv_row *row, fr_buf *fields,
                    size_t max_rec, const char **why)
{
    size_t i = *pos;
    if (i >= n)
        return 0;
    row->n = 0;
    fr_buf_reset(fields);
    size_t start = i;
    for (;;) {
        if (row->n >= FR_CSV_FIELDS_MAX) {
            *why = "more than 4096 fields in one record";
            return -1;
        }
        size_t f0 = fields->len;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    *why = "unterminated quoted field";
                    return -1;
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        fr_buf_putc(fields, '"');
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                fr_buf_putc(fields, s[i]);
                i++;
                if (i - start > max_rec) {
                    *why = "record longer than the line cap";
                    return -1;
                }
            }
            while (i < n && s[i] != delim && s[i] != '\n' && s[i] != '\r')
                fr_buf_putc(fields, s[i++]); /* junk after the closing quote: keep it */
        } else {
            while (i < n && s[i] != delim && s[i] != '\n' && s[i] != '\r')
                fr_buf_putc(fields, s[i++]);
        }
        if (!fr_buf_ok(fields)) {
            *why = "out of memory";
            return -1;
        }
        row->off[row->n] = f0;
        row->len[row->n] = fields->len - f0;
        row->n++;
        if (i < n && s[i] == delim) {
            i++;
            continue;
        }
        if (i < n && s[i] == '\r')
            i++;
        if (i < n && s[i] == '\n')
            i++;
        break;
    }
    *pos = i;
    return 1;
}

static fr_status extract_csv(const char *name, const char *s, size_t n, size_t max_line,
                             fr_doc *d, fr_err *err)
{
    /* delimiter: the most frequent of , ; TAB on the first line */
    const char *nl = memchr(s, '\n', n);
    size_t l0 = nl ? (size_t)(nl - s) : n;
    size_t cc = 0, cs = 0, ct = 0;
    for (size_t k = 0; k < l0; k++) {
        cc += s[k] == ',';
        cs += s[k] == ';';
        ct += s[k] == '\t';
    }
    char delim = ct > cc && ct >= cs ? '\t' : cs > cc ? ';' : ',';
    csv_row *hdr = malloc(sizeof *hdr), *row = malloc(sizeof *row);
    fr_buf hf = FR_BUF_INIT, rf = FR_BUF_INIT, out = FR_BUF_INIT;
    fr_status st = FR_OK;
    if (!hdr || !row) {
        st = doc_nomem(err, name);
        goto done;
    }
    size_t pos = 0, recno = 1;
    const char *why = NULL;
    int r = csv_next(s, n, &pos, delim, hdr, &hf, max_line, &why);
    if (r < 0) {
        st = fr_err_set(err, FR_E_FORMAT, "%s: CSV header: %s", name, why);
        goto done;
    }
    for (;;) {
        size_t rec_start = pos;
        r = csv_next(s, n, &pos, delim, row, &rf, max_line, &why);
        recno++;
        if (r == 0)
            break;
        if (r < 0) {
            st = fr_err_set(err, FR_E_FORMAT, "%s: CSV record %zu (byte %zu): %s", name, recno,
                            rec_start, why);
            goto done;
        }
        fr_buf_reset(&out);
        for (size_t f = 0; f < row->n; f++) {
            if (row->len[f] == 0)
                continue;
            if (out.len)
                fr_buf_puts(&out, "; ");
            if (f < hdr->n && hdr->len[f]) {
                fr_buf_append(&out, hf.data + hdr->off[f], hdr->len[f]);
                fr_buf_puts(&out, ": ");
            }
            fr_buf_append(&out, rf.data + row->off[f], row->len[f]);
        }
        if (out.len)
            fr_buf_putc(&out, '.');
        if (!fr_buf_ok(&out)) {
            st = doc_nomem(err, name);
            goto done;
        }
        for (size_t k = 0; k < out.len; k++)
            if ((unsigned char)out.data[k] < ' ')
                out.data[k] = ' ';
        if (!doc_add(d, out.data ? out.data : "", out.len, NULL, 0, false, false, rec_start,
                     pos - rec_start)) {
            st = doc_nomem(err, name);
            goto done;
        }
    }
done:
    free(hdr);
    free(row);
    fr_buf_free(&hf);
    fr_buf_free(&rf);
    fr_buf_free(&out);
    return st;
}

/* ---- json / jsonl ------------------------------------------------------- */

/* Appends "path: value" lines for the leaves of v (depth-capped). */
static void json_flatten(const json_t *v, fr_buf *path, fr_buf *out, int depth)
{
    if (depth > FR_JSON_DEPTH_MAX || !fr_buf_ok(out))
        return;
    size_t plen = path->len;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            if (path->len)
                fr_buf_putc(path, '.');
            fr_buf_puts(path, key);
            json_flatten(val, path, out, depth + 1);
            path->len = plen;
            if (path->data)
                path->data[plen] = '\0';
        }
        return;
    }
    case JSON_ARRAY: {
        bool scalars = true;
        size_t idx;
        json_t *val;
        json_array_foreach(v, idx, val) if (json_is_object(val) || json_is_array(val)) scalars =
            false;
        if (scalars) {
            if (json_array_size(v) == 0)
                return;
            if (path->len) {
                fr_buf_append(out, path->data, path->len);
                fr_buf_puts(out, ": ");
            }
            json_array_foreach(v, idx, val)
            {
                if (idx)
                    fr_buf_puts(out, json_is_string(val) ? "\n" : ", ");
                fr_buf p2 = FR_BUF_INIT;
                json_flatten(val, &p2, out, depth + 1);
                fr_buf_free(&p2);
                if (out->len && out->data[out->len - 1] == '\n')
                    out->len--, out->data[out->len] = '\0';
            }
            fr_buf_putc(out, '\n');
            return;
        }
        json_array_foreach(v, idx, val) json_flatten(val, path, out, depth + 1);
        return;
    }
    case JSON_STRING:
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
        if (path->len) {
            fr_buf_append(out, path->data, path->len);
            fr_buf_puts(out, ": ");
        }
        if (json_is_string(v))
            fr_buf_append(out, json_string_value(v), json_string_length(v));
        else if (json_is_integer(v))
            fr_buf_printf(out, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            fr_buf_printf(out, "%.10g", json_real_value(v));
        else
            fr_buf_puts(out, json_is_true(v) ? "true" : "false");
        fr_buf_putc(out, '\n');
        return;
    case JSON_NULL:
        return;
    }
}

/* Heading of a record: its title/name/question/id field, if a string. */
static const char *json_heading(const json_t *v)
{
    static const char *const keys[] = {"title", "name", "question", "QUESTION", "subject", "id"};
    if (!json_is_object(v))
        return NULL;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const json_t *s = json_object_get(v, keys[k]);
        if (json_is_string(s))
            return json_string_value(s);
    }
    return NULL;
}

static bool json_record(fr_doc *d, const json_t *v, const char *heading, uint64_t off,
                        uint64_t len)
{
    fr_buf path = FR_BUF_INIT, out = FR_BUF_INIT;
    json_flatten(v, &path, &out, 0);
    bool ok = fr_buf_ok(&out) && fr_buf_ok(&path);
    if (ok && out.len) {
        /* control characters from JSON strings (\u0000, \b) become spaces */
        for (size_t k = 0; k < out.len; k++)
            if ((unsigned char)out.data[k] < ' ' && out.data[k] != '\n')
                out.data[k] = ' ';
        char h[FR_HEADING_MAX + 1] = {0};
        if (!heading)
            heading = json_heading(v);
        if (heading) {
            size_t hl = strlen(heading);
            if (hl > FR_HEADING_MAX)
                hl = FR_HEADING_MAX;
            while (hl && ((unsigned char)heading[hl] & 0xC0) == 0x80)
                hl--;
            memcpy(h, heading, hl);
            for (size_t k = 0; k < hl; k++)
                if ((unsigned char)h[k] < ' ')
                    h[k] = ' ';
        }
        ok = doc_add(d, out.data, out.len, h[0] ? h : NULL, 0, false, false, off, len);
    }
    fr_buf_free(&path);
    fr_buf_free(&out);
    return ok;
}

static fr_status extract_json(const char *name, const char *s, size_t n, fr_doc *d, fr_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(s, n, JSON_ALLOW_NUL, &je);
    if (!root)
        return fr_err_set(err, FR_E_FORMAT, "%s: JSON error at line %d, column %d: %s", name,
                          je.line, je.column, je.text);
    fr_status st = FR_OK;
    bool ok = true;
    if (json_is_array(root)) {
        size_t i;
        json_t *v;
        json_array_foreach(root, i, v) if (ok) ok = json_record(d, v, NULL, 0, n);
    } else if (json_is_object(root)) {
        /* {"id1": {...}, "id2": {...}}: one record per value */
        bool all_obj = json_object_size(root) > 0;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) if (!json_is_object(v)) all_obj = false;
        if (all_obj) {
            json_object_foreach(root, key, v)
            {
                if (!ok)
                    break;
                const char *hd = json_heading(v);
                ok = json_record(d, v, hd ? hd : key, 0, n);
            }
        } else {
            ok = json_record(d, root, NULL, 0, n);
        }
    } else {
        ok = json_record(d, root, NULL, 0, n);
    }
    if (!ok)
        st = doc_nomem(err, name);
    json_decref(root);
    return st;
}

static fr_status extract_jsonl(const char *name, const char *s, size_t n, fr_doc *d, fr_err *err)
{
    size_t i = 0, line = 0;
    while (i < n) {
        line++;
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        size_t k = i;
        while (k < end && (unsigned char)s[k] <= ' ')
            k++;
        if (k < end) {
            json_error_t je;
            json_t *v = json_loadb(s + i, end - i, JSON_ALLOW_NUL, &je);
            if (!v)
                return fr_err_set(err, FR_E_FORMAT, "%s: line %zu, column %d: JSON error: %s",
                                  name, line, je.column, je.text);
            bool ok = json_record(d, v, NULL, i, end - i);
            json_decref(v);
            if (!ok)
                return doc_nomem(err, name);
        }
        i = end + 1;
    }
    return FR_OK;
}

/* ---- pdf ---------------------------------------------------------------- */

const char *fr_pdftotext_path(const fr_extract_opts *opts, char *buf, size_t n)
{
    if (opts && opts->pdftotext) {
        if (access(opts->pdftotext, X_OK) != 0)
            return NULL;
        snprintf(buf, n, "%s", opts->pdftotext);
        return buf;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *e = strchr(path, ':');
        size_t l = e ? (size_t)(e - path) : strlen(path);
        if (l > 0 && l + 12 < n) {
            memcpy(buf, path, l);
            memcpy(buf + l, "/pdftotext", 11);
            if (access(buf, X_OK) == 0)
                return buf;
        }
        if (!e)
            break;
        path = e + 1;
    }
    return NULL;
}

/* Runs pdftotext on path; output capped at cap bytes, killed after timeout. */
static fr_status run_pdftotext(const char *tool, const char *path, size_t cap, double timeout,
                               fr_buf *out, fr_err *err)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return fr_err_set(err, FR_E_IO, "%s: pipe: %s", path, strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {(char *)"pdftotext", (char *)"-layout", (char *)"-enc", (char *)"UTF-8",
                    (char *)"-q", (char *)path, (char *)"-", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, tool, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        return fr_err_set(err, FR_E_UNSUPPORTED, "%s: cannot run %s: %s", path, tool,
                          strerror(rc));
    }
    fr_status st = FR_OK;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char chunk[65536];
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double left = timeout - ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
        if (left <= 0) {
            st = fr_err_set(err, FR_E_FORMAT, "%s: pdftotext took more than %.0f s; skipped",
                            path, timeout);
            break;
        }
        struct pollfd p = {pfd[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t r = read(pfd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (out->len + (size_t)r > cap) {
            st = fr_err_set(err, FR_E_NOMEM, "%s: pdftotext output is over %zu bytes; skipped",
                            path, cap);
            break;
        }
        fr_buf_append(out, chunk, (size_t)r);
    }
    close(pfd[0]);
    if (st != FR_OK)
        kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (st == FR_OK && (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
        st = fr_err_set(err, FR_E_FORMAT, "%s: pdftotext failed (%s %d): damaged or encrypted PDF",
                        path, WIFEXITED(ws) ? "exit" : "signal",
                        WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
    if (st == FR_OK && !fr_buf_ok(out))
        st = fr_err_set(err, FR_E_NOMEM, "%s: out of memory reading pdftotext output", path);
    return st;
}

static fr_status extract_pdf(const char *path, const fr_extract_opts *opts, fr_doc *d, fr_err *err)
{
    char tool[4096];
    if (!fr_pdftotext_path(opts, tool, sizeof tool))
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "%s: PDF needs pdftotext, which is not installed "
                          "(apt-get install poppler-utils)",
                          path);
    size_t cap = opt_max_file(opts);
    fr_buf out = FR_BUF_INIT;
    fr_status st = run_pdftotext(tool, path, cap, opts && opts->pdf_timeout_s > 0 ? opts->pdf_timeout_s : 60.0, &out, err);
    if (st == FR_OK && out.len) {
        st = check_text(path, out.data, out.len, err);
        if (st == FR_OK) {
            if (!paragraphs(d, out.data, out.len, 0, 1))
                st = doc_nomem(err, path);
            d->n_pages = d->n_blocks ? (size_t)d->blocks[d->n_blocks - 1].page : 0;
        }
    }
    fr_buf_free(&out);
    return st;
}

/* ---- dispatch ----------------------------------------------------------- */

const char *fr_extract_format(const char *path)
{
    static const char *const map[][2] = {
        {"txt", "txt"},   {"text", "txt"}, {"md", "md"},     {"markdown", "md"},
        {"html", "html"}, {"htm", "html"}, {"xhtml", "html"}, {"csv", "csv"},
        {"tsv", "csv"},   {"json", "json"}, {"jsonl", "jsonl"}, {"ndjson", "jsonl"},
        {"pdf", "pdf"},
    };
    const char *b = base_name(path);
    const char *dot = strrchr(b, '.');
    if (!dot || dot == b)
        return NULL;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcasecmp(dot + 1, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static fr_doc *doc_new(const char *format)
{
    fr_doc *d = calloc(1, sizeof *d);
    if (d)
        d->format = format;
    return d;
}

static fr_status finish_doc(const char *name, fr_doc *d, fr_err *err)
{
    if (d->n_blocks == 0)
        return fr_err_set(err, FR_E_FORMAT, "%s: no text could be extracted (empty %s document)",
                          name, d->format);
    if (!d->title) {
        const char *b = base_name(name);
        d->title = strdup(b);
        if (!d->title)
            return doc_nomem(err, name);
    }
    return FR_OK;
}

fr_status fr_extract_memory(const char *name, const char *format, const char *data, size_t n,
                            const fr_extract_opts *opts, fr_doc **out, fr_err *err)
{
    *out = NULL;
    static const char *const formats[] = {"txt", "md", "html", "csv", "json", "jsonl"};
    const char *fmt = NULL;
    for (size_t i = 0; format && i < sizeof formats / sizeof *formats; i++)
        if (strcmp(format, formats[i]) == 0)
            fmt = formats[i];
    if (!fmt)
        return fr_err_set(err, FR_E_UNSUPPORTED, "%s: unsupported format '%s'", name,
                          format ? format : "(none)");
    if (n > opt_max_file(opts))
        return fr_err_set(err, FR_E_NOMEM, "%s: %zu bytes is over the %zu-byte file cap", name, n,
                          opt_max_file(opts));
    fr_status st = check_text(name, data, n, err);
    if (st)
        return st;
    if (strcmp(fmt, "html") && strcmp(fmt, "json")) {
        st = check_lines(name, data, n, opt_max_line(opts), err);
        if (st)
            return st;
    }
    fr_doc *d = doc_new(fmt);
    if (!d)
        return doc_nomem(err, name);
    if (strcmp(fmt, "txt") == 0)
        st = extract_txt(name, data, n, d, err);
    else if (strcmp(fmt, "md") == 0)
        st = extract_md(name, data, n, d, err);
    else if (strcmp(fmt, "html") == 0)
        st = extract_html(name, data, n, d, err);
    else if (strcmp(fmt, "csv") == 0)
        st = extract_csv(name, data, n, opt_max_line(opts), d, err);
    else if (strcmp(fmt, "json") == 0)
        st = extract_json(name, data, n, d, err);
    else
        st = extract_jsonl(name, data, n, d, err);
    if (st == FR_OK)
        st = finish_doc(name, d, err);
    if (st) {
        fr_doc_free(d);
        return st;
    }
    *out = d;
    return FR_OK;
}

fr_status fr_extract_file(const char *path, const fr_extract_opts *opts, fr_doc **out, fr_err *err)
{
    *out = NULL;
    const char *fmt = fr_extract_format(path);
    if (!fmt)
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "%s: unsupported file type (known: .txt .md .html .csv .json .jsonl .pdf)",
                          path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fr_err_set(err, errno == ENOENT ? FR_E_NOTFOUND : FR_E_IO, "%s: %s", path,
                          strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return fr_err_set(err, FR_E_IO, "%s: not a regular file", path);
    size_t cap = opt_max_file(opts);
    if ((uint64_t)sb.st_size > cap)
        return fr_err_set(err, FR_E_NOMEM,
                          "%s: %lld bytes is over the %zu-byte file cap (raise --max-file)", path,
                          (long long)sb.st_size, cap);
    if (strcmp(fmt, "pdf") == 0) {
        fr_doc *d = doc_new("pdf");
        if (!d)
            return doc_nomem(err, path);
        fr_status st = extract_pdf(path, opts, d, err);
        if (st == FR_OK)
            st = finish_doc(path, d, err);
        if (st) {
            fr_doc_free(d);
            return st;
        }
        *out = d;
        return FR_OK;
    }
    char *data = NULL;
    size_t n = 0;
    fr_status st = fr_read_file(path, cap, &data, &n, err);
    if (st)
        return st;
    st = fr_extract_memory(path, fmt, data, n, opts, out, err);
    free(data);
    return st;
}
