/*
 * claims.c - sub-claim splitting (see claims.h for what and why).
 *
 * Three passes over the sentence's tokens:
 *  1. chunks: cut at commas, semicolons, colons, parentheses and spaced
 *     dashes (not inside "November 2, 2004" or "1,299"), and before a
 *     conjunction (and, but, while, ...) whose right side has a verb of its
 *     own before the next cut ("... in Paris and was raised in Lyon"; not
 *     "publisher and editorial director").
 *  2. kinds: each chunk after the first is a relative clause, an
 *     apposition, a verb phrase, a clause with its own subject, a list of
 *     items or a modifier, by its first words and whether it has a verb.
 *     An apposition or relative clause followed by a chunk that starts
 *     with a verb is an insertion: the main clause continues after it
 *     ("The album, Emotive, was released ..." -> "The album was released
 *     ..." and "album Emotive").
 *  3. sub-claims: each chunk becomes its own sub-claim with the words it
 *     leans on prepended; a chunk with fewer than two content words of its
 *     own is not a claim and joins the one before it.
 * Rejected: a dependency parser (a model and a runtime we do not ship for
 * a decision that lexical scoring only needs roughly right), and cutting at
 * every "and" (noun coordination, "Microsoft and Roku", is one fact far
 * more often than two).
 */
#include "rag/claims.h"

#include "rag/text.h"

#include <stdbool.h>
#include <string.h>

#define CL_TOKENS_MAX 160 /* words considered; the rest stays in the last sub-claim */
#define CL_WORD_MAX 24

enum {
    GAP_COMMA = 1u << 0,
    GAP_SEMI = 1u << 1,  /* ; or : */
    GAP_OPEN = 1u << 2,  /* ( */
    GAP_CLOSE = 1u << 3, /* ) */
    GAP_DASH = 1u << 4,  /* a dash with a space on a side: " - ", " – ", " — " */
};

typedef struct cl_tok {
    uint32_t off, len;
    unsigned gap;   /* GAP_* in the bytes before this token */
    unsigned flags; /* FR_TF_* */
    bool stop;      /* stopword */
    bool verb;      /* an auxiliary, common irregular past form or "-ed" word */
    char w[CL_WORD_MAX]; /* lowercase ("" when longer) */
} cl_tok;

/* Sorted: auxiliaries and irregular verb forms that start a predicate. */
static const char *const cl_verbs[] = {
    "am", "are", "ate", "became", "become", "becomes", "began", "begins", "born", "bought",
    "brought", "built", "came", "can", "chose", "could", "did", "died", "does", "drew", "fell",
    "flew", "found", "gave", "got", "grew", "had", "has", "have", "held", "is", "joined", "kept",
    "knew", "led", "left", "lost", "made", "makes", "may", "met", "might", "moved", "must",
    "paid", "ran", "remains", "rose", "said", "sang", "saw", "says", "served", "serves", "shall",
    "should", "sold", "spent", "spoke", "stood", "taught", "thought", "told", "took", "was",
    "went", "were", "will", "won", "wrote", "would",
};

static const char *const cl_conj[] = {"although", "and", "but", "though", "whereas", "while", "yet"};
static const char *const cl_rel[] = {"when", "where", "which", "who", "whom", "whose"};
static const char *const cl_det[] = {"a", "an", "another", "her", "his", "its", "one", "the", "their"};
static const char *const cl_not_ed[] = {"bed", "hundred", "indeed", "need", "red", "seed", "shed", "speed", "united"};
static const char *const cl_months[] = {"april", "august", "december", "february", "january", "july",
                                        "june", "march", "may", "november", "october", "september"};

#define IN(w, list) fr_in_sorted((list), sizeof(list) / sizeof *(list), (w), strlen(w))

static bool ends_with(const char *w, const char *suf)
{
    size_t n = strlen(w), l = strlen(suf);
    return n >= l && memcmp(w + n - l, suf, l) == 0;
}

static bool is_number(const cl_tok *t) { return (t->flags & FR_TF_DIGIT) && !(t->flags & FR_TF_ALPHA); }

/* A participle that opens a modifier: "offering views", "titled ...". */
static bool is_participle(const cl_tok *t)
{
    return !(t->flags & FR_TF_UPPER) && strlen(t->w) >= 6 && (ends_with(t->w, "ing") || ends_with(t->w, "ed"));
}

static size_t tokenize(const char *s, size_t n, cl_tok *tk, bool *truncated)
{
    size_t pos = 0, m = 0, prev_end = 0;
    fr_token t;
    while (m < CL_TOKENS_MAX && fr_next_token(s, n, &pos, &t)) {
        if ((t.flags & FR_TF_DIGIT) && !(t.flags & FR_TF_ALPHA) && t.off > 0 && s[t.off - 1] == '[' &&
            t.off + t.len < n && s[t.off + t.len] == ']')
            continue; /* a citation mark "[2]" */
        cl_tok *c = &tk[m];
        c->off = (uint32_t)t.off;
        c->len = (uint32_t)t.len;
        c->flags = t.flags;
        c->gap = 0;
        for (size_t k = prev_end; k < t.off; k++) {
            unsigned char ch = (unsigned char)s[k];
            if (ch == ',')
                c->gap |= GAP_COMMA;
            else if (ch == ';' || ch == ':')
                c->gap |= GAP_SEMI;
            else if (ch == '(')
                c->gap |= GAP_OPEN;
            else if (ch == ')')
                c->gap |= GAP_CLOSE;
            else if (ch == '-' || (ch == 0xE2 && k + 2 < t.off && (unsigned char)s[k + 1] == 0x80 &&
                                   ((unsigned char)s[k + 2] == 0x93 || (unsigned char)s[k + 2] == 0x94))) {
                bool sp = (k > 0 && s[k - 1] == ' ') || (k + 1 < t.off && s[k + 1] == ' ') ||
                          (k + 3 < t.off && s[k + 3] == ' ');
                if (sp && m > 0)
                    c->gap |= GAP_DASH;
            }
        }
        c->w[0] = '\0';
        if (t.kind == FR_TOK_WORD && t.len < CL_WORD_MAX) {
            for (size_t k = 0; k < t.len; k++) {
                char ch = s[t.off + k];
                c->w[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : ch;
            }
            c->w[t.len] = '\0';
        }
        c->stop = t.kind != FR_TOK_WORD || fr_is_stopword(c->w, strlen(c->w));
        /* a capitalised word inside the sentence is a name ("16 May 2001") */
        c->verb = (m == 0 || !(t.flags & FR_TF_UPPER)) &&
                  (IN(c->w, cl_verbs) ||
                   (strlen(c->w) >= 4 && ends_with(c->w, "ed") && !IN(c->w, cl_not_ed)));
        prev_end = t.off + t.len;
        m++;
    }
    *truncated = m == CL_TOKENS_MAX && fr_next_token(s, n, &pos, &t);
    return m;
}

/* A comma that is part of a date or a number, not a cut: "November 2, 2004". */
static bool date_comma(const cl_tok *tk, size_t i)
{
    if (i < 2 || !is_number(&tk[i]) || tk[i].len != 4 || !is_number(&tk[i - 1]))
        return false;
    return IN(tk[i - 2].w, cl_months);
}

/* Content words of tokens [a, b). */
static int content(const cl_tok *tk, size_t a, size_t b)
{
    int c = 0;
    for (size_t i = a; i < b; i++)
        c += !tk[i].stop;
    return c;
}

static bool has_verb(const cl_tok *tk, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (tk[i].verb)
            return true;
    return false;
}

typedef struct chunk {
    size_t a, b; /* tokens [a, b) */
    fr_subclaim_kind kind;
    bool insertion; /* an apposition/relative clause inside the main clause */
    int seg;        /* the sub-claim it went to */
} chunk;

/* The next cut after token a; returns m when none. A chunk that opens a
 * parenthesis runs to its closing one. */
static size_t next_cut(const cl_tok *tk, size_t m, size_t a)
{
    const unsigned punct = GAP_COMMA | GAP_SEMI | GAP_OPEN | GAP_CLOSE | GAP_DASH;
    if (tk[a].gap & GAP_OPEN) {
        for (size_t i = a + 1; i < m; i++)
            if (tk[i].gap & (GAP_CLOSE | GAP_OPEN))
                return i;
        return m;
    }
    for (size_t i = a + 1; i < m; i++) {
        unsigned g = tk[i].gap;
        if ((g & GAP_COMMA) && date_comma(tk, i))
            g &= ~(unsigned)GAP_COMMA;
        if (g & punct)
            return i;
        if (IN(tk[i].w, cl_conj) && i + 1 < m) {
            /* the right side up to the next punctuation cut needs a verb */
            size_t e = i + 1;
            while (e < m && !(tk[e].gap & punct))
                e++;
            if (has_verb(tk, i + 1, e) && content(tk, i + 1, e) >= 2 && content(tk, a, i) >= 2)
                return i;
        }
    }
    return m;
}

/* True when tokens [a, b) hold "and" or "or". */
static int and_or_at(const cl_tok *tk, size_t a, size_t b)
{
    for (size_t i = a + 1; i < b; i++)
        if (strcmp(tk[i].w, "and") == 0 || strcmp(tk[i].w, "or") == 0)
            return (int)i;
    return -1;
}

/* The noun phrase that ends chunk c: back from its end over content words
 * (at most 4). */
static size_t head_start(const cl_tok *tk, const chunk *c)
{
    size_t i = c->b;
    while (i > c->a && c->b - i < 4 && !tk[i - 1].stop && !tk[i - 1].verb)
        i--;
    return i == c->b ? c->b - 1 : i;
}

static void add_part(fr_subclaim *sc, const cl_tok *tk, size_t a, size_t b)
{
    if (a >= b)
        return;
    uint32_t o = tk[a].off, e = tk[b - 1].off + tk[b - 1].len;
    if (sc->n_parts > 0) {
        uint32_t *lo = &sc->off[sc->n_parts - 1], *ll = &sc->len[sc->n_parts - 1];
        if (o <= *lo + *ll) { /* touching or overlapping: extend */
            if (e > *lo + *ll)
                *ll = e - *lo;
            return;
        }
        if (sc->n_parts == FR_SUBCLAIM_PARTS) { /* full: cover the gap */
            *ll = e - *lo;
            return;
        }
    }
    sc->off[sc->n_parts] = o;
    sc->len[sc->n_parts] = e - o;
    sc->n_parts++;
}

/* The kind of chunk c (after the main clause) by its first words. */
static fr_subclaim_kind kind_of(const cl_tok *tk, const chunk *ch, size_t nc, size_t c)
{
    const cl_tok *f = &tk[ch[c].a];
    size_t a1 = ch[c].a + (IN(f->w, cl_conj) && ch[c].b > ch[c].a + 1 ? 1 : 0);
    const cl_tok *g = &tk[a1];
    bool verb = has_verb(tk, ch[c].a, ch[c].b), conj = a1 > ch[c].a;
    if (IN(f->w, cl_rel))
        return FR_SUB_RELATIVE;
    if (f->gap & GAP_OPEN)
        return FR_SUB_APPOSITION;
    if (g->verb || is_participle(g))
        return FR_SUB_VERB;
    if (verb)
        return FR_SUB_CLAUSE;
    /* no verb: a list item, an apposition or a modifier */
    if (!g->stop || IN(g->w, cl_det)) {
        /* a run of short verbless chunks with "and/or X" in it or as its
         * last chunk, not followed by a verb ("A, B and C"; not "X, and
         * their son, Bear, was born") */
        size_t k = c;
        bool list = false;
        for (; k < nc && ch[k].b - ch[k].a <= 6 && !has_verb(tk, ch[k].a, ch[k].b); k++)
            list |= and_or_at(tk, ch[k].a, ch[k].b) >= 0 || (k > c && IN(tk[ch[k].a].w, cl_conj));
        if (list && !(k < nc && tk[ch[k].a].verb))
            return FR_SUB_LIST_ITEM;
        if (conj)
            return FR_SUB_CLAUSE; /* "and their son, Bear, was born": a subject */
        return FR_SUB_APPOSITION;
    }
    return FR_SUB_VERB; /* "in San Diego", "mainly due to ...": leans on the subject */
}

size_t fr_split_claim(const char *s, size_t n, fr_subclaim *out)
{
    cl_tok tk[CL_TOKENS_MAX];
    bool truncated;
    size_t m = tokenize(s, n, tk, &truncated);
    if (m == 0)
        return 0;
    chunk ch[CL_TOKENS_MAX];
    size_t nc = 0;
    for (size_t a = 0; a < m;) {
        size_t b = next_cut(tk, m, a);
        ch[nc++] = (chunk){a, b, FR_SUB_MAIN, false, -1};
        a = b;
    }
    /* the lead-in: verbless chunks before the first verb ("In 2018,", "As
     * a result,") belong to the main clause */
    const unsigned punct = GAP_COMMA | GAP_SEMI | GAP_OPEN | GAP_CLOSE | GAP_DASH;
    size_t lead = 0;
    while (lead + 1 < nc && lead < 5 && !has_verb(tk, ch[lead].a, ch[lead].b) &&
           (tk[ch[lead + 1].a].gap & punct)) /* cut at a comma, not at "and" */
        lead++;
    if (lead == nc || has_verb(tk, ch[lead].a, ch[lead].b) == false)
        lead = 0;
    /* the subject: the words before the main clause's first verb */
    size_t subj_a = ch[lead].a, subj_b = ch[lead].a;
    while (subj_b < ch[lead].b && !tk[subj_b].verb)
        subj_b++;
    if (subj_b < subj_a + 8 && subj_b < ch[lead].b && IN(tk[subj_a].w, cl_conj))
        subj_a++;
    if (subj_b >= ch[lead].b || subj_b > subj_a + 8) {
        /* no verb we know ("costs"): the leading names, "The Aurora X2" */
        subj_b = subj_a;
        while (subj_b < ch[lead].b && subj_b < subj_a + 6 &&
               ((tk[subj_b].flags & (FR_TF_UPPER | FR_TF_DIGIT)) || IN(tk[subj_b].w, cl_det)))
            subj_b++;
        if (content(tk, subj_a, subj_b) == 0 || subj_b == ch[lead].b)
            subj_b = subj_a;
    }

    for (size_t c = lead + 1; c < nc; c++)
        ch[c].kind = kind_of(tk, ch, nc, c);
    /* a list chunk "Chelsea and Liverpool" is two items */
    for (size_t c = lead + 1; c < nc && nc < CL_TOKENS_MAX; c++) {
        int j = ch[c].kind == FR_SUB_LIST_ITEM ? and_or_at(tk, ch[c].a, ch[c].b) : -1;
        if (j < 0 || content(tk, (size_t)j, ch[c].b) == 0 || content(tk, ch[c].a, (size_t)j) == 0)
            continue;
        memmove(&ch[c + 1], &ch[c], (nc - c) * sizeof *ch);
        ch[c].b = ch[c + 1].a = (size_t)j;
        nc++;
        c++;
    }
    /* insertions: "S, apposition/relative clause, verb ..." */
    for (size_t c = lead + 1; c + 1 < nc; c++) {
        bool ins = ch[c].kind == FR_SUB_APPOSITION ||
                   (ch[c].kind == FR_SUB_RELATIVE && has_verb(tk, ch[c].a, ch[c].b));
        size_t p = c - 1;
        if (ins && tk[ch[c + 1].a].verb && !has_verb(tk, ch[p].a, ch[p].b) &&
            (p == lead || ch[p].kind == FR_SUB_CLAUSE)) {
            ch[c].insertion = true;
            ch[c + 1].kind = FR_SUB_MAIN; /* continues chunk p */
        }
    }

    memset(&out[0], 0, sizeof out[0]);
    out[0].kind = FR_SUB_MAIN;
    size_t ns = 1;
    for (size_t c = 0; c < nc; c++) {
        chunk *k = &ch[c];
        if (c <= lead) {
            add_part(&out[0], tk, k->a, k->b);
            k->seg = 0;
            continue;
        }
        if (k->kind == FR_SUB_MAIN && ch[c - 1].insertion) {
            /* the clause resumes after an insertion */
            k->seg = ch[c - 2].seg;
            add_part(&out[k->seg], tk, k->a, k->b);
            continue;
        }
        bool resumed = c + 2 < nc && ch[c + 1].insertion; /* "and their son, Bear, was born" */
        bool own = content(tk, k->a, k->b) >= 2 || k->kind == FR_SUB_LIST_ITEM || resumed;
        if (!own || ns == FR_SUBCLAIMS_MAX) {
            /* too small to be a claim (or too many): joins the chunk before */
            k->seg = ch[c - 1].seg;
            add_part(&out[k->seg], tk, k->a, k->b);
            continue;
        }
        fr_subclaim *sc = &out[ns];
        memset(sc, 0, sizeof *sc);
        sc->kind = k->kind;
        switch (k->kind) {
        case FR_SUB_VERB:
            add_part(sc, tk, subj_a, subj_b);
            break;
        case FR_SUB_RELATIVE:
        case FR_SUB_APPOSITION:
            add_part(sc, tk, head_start(tk, &ch[c - 1]), ch[c - 1].b);
            break;
        case FR_SUB_LIST_ITEM: {
            /* the words before the first item: the chunk before the list
             * without its last noun phrase (the first item) */
            size_t p = c - 1;
            while (p > lead && ch[p].kind == FR_SUB_LIST_ITEM)
                p--;
            size_t h = head_start(tk, &ch[p]);
            if (h > ch[p].a)
                add_part(sc, tk, h > ch[p].a + 8 ? h - 8 : ch[p].a, h);
            break;
        }
        default:
            break;
        }
        add_part(sc, tk, k->a, k->b);
        k->seg = (int)ns++;
    }
    if (truncated) { /* words past CL_TOKENS_MAX stay with the last chunk */
        fr_subclaim *sc = &out[ch[nc - 1].seg];
        size_t e = n;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r'))
            e--;
        if (e > sc->off[sc->n_parts - 1])
            sc->len[sc->n_parts - 1] = (uint32_t)(e - sc->off[sc->n_parts - 1]);
    }
    return ns;
}

size_t fr_subclaim_text(const char *s, const fr_subclaim *c, char *out, size_t cap)
{
    size_t k = 0;
    if (cap == 0)
        return 0;
    for (int p = 0; p < c->n_parts; p++) {
        if (p && k + 1 < cap)
            out[k++] = ' ';
        size_t l = c->len[p];
        if (l > cap - 1 - k)
            l = cap - 1 - k;
        memcpy(out + k, s + c->off[p], l);
        k += l;
    }
    out[k] = '\0';
    return k;
}

const char *fr_subclaim_kind_str(fr_subclaim_kind k)
{
    switch (k) {
    case FR_SUB_MAIN: return "main";
    case FR_SUB_CLAUSE: return "clause";
    case FR_SUB_VERB: return "verb_phrase";
    case FR_SUB_RELATIVE: return "relative";
    case FR_SUB_APPOSITION: return "apposition";
    case FR_SUB_LIST_ITEM: return "list_item";
    }
    return "unknown";
}
