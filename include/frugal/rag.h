/*
 * frugal/rag.h - answers grounded in a team's own documents.
 *
 *   fr_kb        a knowledge base: one SQLite file with the documents, their
 *                chunks, an FTS5 index (BM25, Porter stemming) and a trigram
 *                FTS5 index for codes such as "SKU-4821X"; or the same in a
 *                PostgreSQL database (full-text search + pg_trgm) named by a
 *                postgresql:// URI, for several machines and processes.
 *   retrieval    question -> OR query of its content terms -> BM25 + trigram
 *                ranks fused by reciprocal rank -> a gate that abstains when
 *                the question's rare terms are missing from the top passages.
 *   checker      how well passages support a sentence: the sentence split
 *                into sub-claims, each scored by a learned verifier on
 *                lexical features (IDF-weighted support, numbers, units,
 *                names, negation, where the support lies), times
 *                (optionally) the model's own probability for the tokens it
 *                did not copy.
 *   answers      sentence splitting, "[n]" citations, a prefix validator for
 *                constrained decoding, the prompt.
 *   fr_rag_ask   the whole pipeline, with generation as a callback so that it
 *                runs with any engine (or none, for --retrieve-only).
 *
 * Ownership is written beside each function. Nothing here prints or exits.
 * A fr_kb handle is not thread-safe: use one per thread.
 */
#ifndef FRUGAL_RAG_H
#define FRUGAL_RAG_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- knowledge base ------------------------------------------------------ */

#define FR_KB_SCHEMA_VERSION 1

typedef struct fr_kb fr_kb;

/* Opens (create: creates when missing) the knowledge base at path: a SQLite
 * file, or a libpq URI (postgresql://user@host:5432/db, or
 * postgresql:///db?host=/run/postgresql for a Unix socket) whose database
 * gets frugal's tables (frugal_*) and the pg_trgm and unaccent extensions.
 * Fails with FR_E_FORMAT for a SQLite file that is not a frugal KB or a
 * knowledge base with a newer schema; FR_E_UNSUPPORTED for a URI when frugal
 * was built without libpq. Owned by caller: fr_kb_free. */
FR_API fr_status fr_kb_open(const char *path, bool create, fr_kb **out, fr_err *err);
/* Opens an existing knowledge base for reading only (retrieval, stats): what
 * a server opens per request, so that `frugal index` may update the file
 * meanwhile. An empty file or a SQLite file without frugal's schema is
 * FR_E_FORMAT. Owned by caller: fr_kb_free. */
FR_API fr_status fr_kb_open_readonly(const char *path, fr_kb **out, fr_err *err);
FR_API void fr_kb_free(fr_kb *kb);
/* The knowledge base's name for messages: its file path, or its URI with
 * any password replaced by "***". Borrowed from kb. */
FR_API const char *fr_kb_name(const fr_kb *kb);
/* Its store: "sqlite" or "postgresql". Static. */
FR_API const char *fr_kb_kind(const fr_kb *kb);

typedef enum fr_kb_action {
    FR_KB_ADDED,
    FR_KB_UPDATED,
    FR_KB_SKIPPED,  /* unchanged content hash */
    FR_KB_REMOVED,  /* vanished from disk (or now rejected) */
    FR_KB_REJECTED  /* not indexed; reason says why */
} fr_kb_action;

/* Called once per file (path borrowed, reason NULL unless rejected/removed);
 * done/total count the files of this run, for a progress bar. */
typedef void (*fr_kb_event_fn)(void *user, const char *path, fr_kb_action action,
                               const char *reason, uint64_t done, uint64_t total);

/* Called before each step of the work on one file (path borrowed; phase:
 * "reading", "extracting text", "chunking and indexing"), with the files
 * finished so far and the number to do: a big file takes a while in each,
 * and a progress display can say which. */
typedef void (*fr_kb_phase_fn)(void *user, const char *path, const char *phase,
                               uint64_t files_done, uint64_t files_total);

typedef struct fr_kb_index_opts {
    size_t max_file_bytes; /* 0: 32 MiB; larger files are rejected unread */
    size_t max_line_bytes; /* 0: 1 MiB */
    size_t max_words;      /* chunk size; 0: 300 */
    const char *pdftotext; /* NULL: from PATH */
    fr_kb_event_fn on_event;
    void *user;
    fr_kb_phase_fn on_phase; /* may be NULL; called with user */
    bool follow_links;     /* index symbolic links to files outside the given paths
                              (default: rejected, so that a link planted in a shared
                              folder cannot publish /etc/passwd) */
} fr_kb_index_opts;

typedef struct fr_kb_index_report {
    uint64_t added, updated, skipped, removed, rejected;
    uint64_t chunks_written; /* chunks inserted by this run */
    uint64_t missing;        /* given paths that do not exist (and had no documents to
                                remove); also counted in rejected */
} fr_kb_index_report;

/* Indexes files and directories (recursively; hidden entries and symlinked
 * directories are skipped). A symbolic link to a file is indexed when the
 * file lies under one of the given paths (or with follow_links); otherwise
 * it is rejected with the reason. A document whose path lies under one of
 * the given roots but was not seen in this walk is removed. Each document
 * is written in its own transaction. Fails only on database errors; a bad
 * file is reported through on_event and counted as rejected. */
FR_API fr_status fr_kb_index(fr_kb *kb, const char *const *paths, size_t n_paths,
                             const fr_kb_index_opts *opts, fr_kb_index_report *rep, fr_err *err);

/* Adds or replaces one document from text already in memory (name is its
 * key; format as fr_extract_format: "txt", "md", "html", ...). For
 * benchmarks and servers that receive documents. *action (may be NULL) gets
 * added/updated/skipped. */
FR_API fr_status fr_kb_add_text(fr_kb *kb, const char *name, const char *format, const char *text,
                                size_t len, const fr_kb_index_opts *opts, fr_kb_action *action,
                                fr_err *err);
/* Removes one document by name/path; FR_E_NOTFOUND when absent. */
FR_API fr_status fr_kb_remove(fr_kb *kb, const char *name, fr_err *err);

typedef struct fr_kb_stats {
    uint64_t documents, chunks;
    uint64_t terms;    /* distinct terms in the BM25 index */
    uint64_t words;    /* words over all chunks */
    uint64_t db_bytes; /* page_count * page_size */
    int schema_version;
} fr_kb_stats;

FR_API fr_status fr_kb_stats_get(fr_kb *kb, fr_kb_stats *st, fr_err *err);

/* The deepest directory that holds every document, with its final '/'
 * ("/srv/docs/"; "" when the documents are not absolute paths, or there are
 * none): strip it to name documents without giving away where they live.
 * Owned by caller: free(). */
FR_API fr_status fr_kb_common_dir(fr_kb *kb, char **dir, fr_err *err);

/* Document frequency of a (lowercase) term over the chunks, and the number
 * of chunks: the IDF statistics the gate and the checker use. */
FR_API fr_status fr_kb_df(fr_kb *kb, const char *term, uint64_t *df, uint64_t *n_chunks,
                          fr_err *err);

/* ---- retrieval ------------------------------------------------------------- */

typedef struct fr_kb_passage {
    int64_t chunk_id;
    char *path;    /* document path or name */
    char *title;   /* document title */
    char *heading; /* NULL when none */
    int page;      /* 0 when none */
    uint64_t byte_off, byte_len; /* source bytes */
    char *text;
    double score;  /* fused reciprocal-rank score */
    int bm25_rank; /* 1-based rank in the BM25 list, 0 when absent */
    int tri_rank;  /* 1-based rank in the trigram list, 0 when absent */
    double coverage; /* IDF share of the question's terms this passage contains */
} fr_kb_passage;

typedef struct fr_kb_hits {
    fr_kb_passage *v; /* n passages, best first */
    size_t n;
    char *fts_query;  /* the BM25 MATCH expression ("" when no content terms) */
    char *tri_query;  /* the trigram MATCH expression ("" when no codes) */
    /* the gate */
    bool gate_pass;
    double coverage;       /* best passage's IDF-weighted coverage */
    char *missing;         /* rarest question term absent from the top passages, or NULL */
    double missing_share;  /* its share of the question's IDF weight (0 when none) */
    char *gate_reason;     /* one line: why it passed or abstained */
} fr_kb_hits;

typedef struct fr_kb_retrieve_opts {
    int k;              /* passages to return; 0: 5 */
    int depth;          /* candidates per list before fusion; 0: max(50, 4k) */
    double gate_min;    /* minimum coverage to pass; 0: 0.5; < 0: gate off */
    double rare_idf;    /* a missing term with IDF share >= this abstains; <= 0: 0.35 */
    int gate_top;       /* passages the gate looks at; 0: min(k, 3) */
    int64_t exclude_chunk_lo, exclude_chunk_hi; /* chunk ids to skip (0,0: none) */
} fr_kb_retrieve_opts;

/* Retrieves passages for a question. Never fails on what the question
 * contains (quotes, NEAR, column filters are all taken literally). Owned by
 * caller: fr_kb_hits_free. */
FR_API fr_status fr_kb_retrieve(fr_kb *kb, const char *question, const fr_kb_retrieve_opts *opts,
                                fr_kb_hits **out, fr_err *err);
FR_API void fr_kb_hits_free(fr_kb_hits *h);

/* The FTS5 query for a question: its content terms, each a quoted string,
 * joined by OR ("" when it has none). Owned by caller: free(). NULL on OOM. */
FR_API char *fr_rag_fts_query(const char *question);
/* The trigram query: code-like terms ("SKU-4821X") quoted, joined by OR. */
FR_API char *fr_rag_code_query(const char *question);

/* ---- groundedness checker -------------------------------------------------- */

/* The model's log-probability of one generated token, located by its bytes
 * in the answer text: how generation tells the checker how sure it was. */
typedef struct fr_rag_token_lp {
    uint32_t off, len; /* bytes of the answer text */
    float logprob;     /* natural log of the chosen token's probability */
} fr_rag_token_lp;

/* Inverse document frequency of a word: word is its lowercase surface form
 * (what an FTS5 index looks up), term the stemmed form frugal matches on
 * (what an in-memory table counts). NULL idf means "every word weighs 1". */
typedef double (*fr_rag_idf_fn)(void *user, const char *word, const char *term);

/* The learned verdict's weights (logistic regression on the features of
 * each sub-claim; see src/rag/verifier.c). The library carries built-in
 * weights, trained by `make train-verifier` on public data and shipped as
 * data/verifier.json; a file in that format can replace them. Owned by
 * caller: fr_rag_verifier_free. A verifier is read-only once made, and may
 * be shared between threads. */
typedef struct fr_rag_verifier fr_rag_verifier;

FR_API fr_status fr_rag_verifier_builtin(fr_rag_verifier **out, fr_err *err);
/* Reads a weights file (hostile input: every field checked; the error
 * names the file and the field). */
FR_API fr_status fr_rag_verifier_load(const char *path, fr_rag_verifier **out, fr_err *err);
/* The same from memory; name labels errors (NULL: "verifier weights"). */
FR_API fr_status fr_rag_verifier_parse(const char *text, size_t len, const char *name,
                                       fr_rag_verifier **out, fr_err *err);
/* The threshold stored with the weights: chosen on held-out folds for
 * balanced accuracy. */
FR_API double fr_rag_verifier_threshold(const fr_rag_verifier *v);
FR_API void fr_rag_verifier_free(fr_rag_verifier *v);

typedef struct fr_rag_check_opts {
    fr_rag_idf_fn idf;
    void *idf_user;
    const fr_rag_verifier *verifier; /* borrowed; NULL: the built-in weights */
    const fr_rag_token_lp *lps; /* optional, sorted by off */
    size_t n_lps;
    double lp_weight;   /* exponent on the probability term; 0: ignore lps */
    double threshold;   /* a sentence/answer abstains below this; <= 0: the verifier's */
} fr_rag_check_opts;

/* The threshold that opts (NULL: defaults) apply: opts->threshold when
 * > 0, else the verifier's; NAN when the built-in weights are missing. */
FR_API double fr_rag_check_threshold(const fr_rag_check_opts *opts);

/* One sub-claim of a sentence ("X was born in Paris and raised in Lyon"
 * asserts two), scored on its own against the passages. */
typedef struct fr_rag_subclaim {
    const char *text;   /* what was scored: its words and the words it leans on
                           (owned by the fr_rag_checked) */
    const char *kind;   /* "main", "clause", "verb_phrase", "relative", "apposition",
                           "list_item" (static) */
    size_t sentence;    /* index into fr_rag_checked.sentences */
    double prob;        /* the verifier's probability that it is supported */
    bool supported;     /* prob >= the threshold */
    double support;     /* IDF-weighted share of its content words found */
    int n_facts, n_facts_missing; /* numbers (with units) and names; how many absent */
    char missing[64];   /* first missing fact, else its heaviest missing word */
    int passage;        /* best evidence: 0-based index into the passages given, -1: none */
    uint32_t span_off, span_len; /* the best window (one or two sentences): bytes of that passage */
} fr_rag_subclaim;

typedef struct fr_rag_sentence {
    uint32_t off, len;  /* bytes of the answer (citation marks excluded) */
    int cites[8];       /* 1-based passage numbers cited, in order */
    int n_cites;
    size_t first_sub, n_subs; /* its sub-claims in fr_rag_checked.subs (0 from fr_rag_score_sentence) */
    /* the weakest sub-claim's figures: */
    double support;     /* IDF-weighted share of content words found */
    int n_facts;        /* numbers, units, names */
    int n_facts_missing;
    char missing[64];   /* first missing fact or word ("" when none) */
    double prob;        /* the lowest sub-claim probability */
    double lp_term;     /* exp(mean logprob) of uncopied tokens; 1 when none */
    double score;       /* prob * lp_term^lp_weight, in [0, 1] */
} fr_rag_sentence;

/*
 * Scores one sentence against passages: splits it into sub-claims, scores
 * each with the verifier, and keeps the weakest (the sentence is supported
 * only when every part is). passages[i] has passage_lens[i] bytes.
 * Fails only when the verifier cannot be had (FR_E_NOTFOUND: no built-in
 * weights) or on out of memory.
 */
FR_API fr_status fr_rag_score_sentence(const char *sentence, size_t len, const char *const *passages,
                                       const size_t *passage_lens, size_t n_passages,
                                       const fr_rag_check_opts *opts, fr_rag_sentence *out,
                                       fr_err *err);

/* The plain baseline the checker is measured against: the share of the
 * sentence's distinct content words (no stopwords) that occur in the
 * passages, unweighted. */
FR_API double fr_rag_overlap_score(const char *sentence, size_t len, const char *const *passages,
                                   const size_t *passage_lens, size_t n_passages);

typedef struct fr_rag_checked {
    fr_rag_sentence *sentences; /* owned */
    size_t n;
    fr_rag_subclaim *subs; /* owned: every sentence's sub-claims, in order */
    size_t n_subs;
    double score;   /* min over sentences (0 for NOT_FOUND or no sentence) */
    double threshold; /* the one applied */
    bool not_found; /* the answer was NOT_FOUND */
    bool abstain;   /* not_found, or score below the threshold */
    bool bad_citation; /* a citation [n] outside 1..n_passages */
    char *text_;    /* owned storage of the sub-claim texts */
} fr_rag_checked;

typedef enum fr_rag_cites {
    FR_RAG_CITES_REQUIRED, /* a sentence is scored against the passages it cites; no
                              citation, or one outside 1..n, scores 0 */
    FR_RAG_CITES_OPTIONAL, /* as REQUIRED, but an uncited sentence is scored against all */
    FR_RAG_CITES_IGNORED   /* every sentence against all passages ("[n]" still skipped) */
} fr_rag_cites;

/* Splits answer into sentences with their citations, and scores each as
 * mode says. Owned by caller: fr_rag_checked_free. */
FR_API fr_status fr_rag_check_answer(const char *answer, size_t len, const char *const *passages,
                                     const size_t *passage_lens, size_t n_passages,
                                     fr_rag_cites mode, const fr_rag_check_opts *opts,
                                     fr_rag_checked **out, fr_err *err);
FR_API void fr_rag_checked_free(fr_rag_checked *c);

/* The span of passage p (0-based, as given to fr_rag_check_answer) that
 * supports c->sentences[sentence]: the best evidence window of those of
 * its sub-claims whose best evidence lies in p (fr_rag_subclaim.passage,
 * span_off, span_len); when several do, that of the one the verifier is
 * surest of. What the web page highlights behind a citation [p+1]. False
 * (and 0, 0) when none does: that passage is not the best evidence for
 * any part of the sentence. */
FR_API bool fr_rag_sentence_span(const fr_rag_checked *c, size_t sentence, size_t p, uint32_t *off,
                                 uint32_t *len);

/* ---- answers: citations and constrained decoding -------------------------- */

#define FR_RAG_NOT_FOUND "NOT_FOUND"
#define FR_RAG_ABSTAIN_TEXT "The documents do not answer this."

/*
 * A prefix validator for constrained decoding. The answer grammar:
 *
 *   answer   := ws* ( "NOT_FOUND" | sentence (ws+ sentence)* ) ws*
 *   sentence := body cite+ [.!?]?  |  body [.!?] ws* cite+
 *   cite     := ws* "[" n "]"          with n in 1..k, no leading zero
 *   body     := text without '[' ']' or control characters (other than
 *               newline), at most max_body bytes, not ending in a sentence
 *               terminator followed by a new sentence
 *
 * A state is a small value: copy it, feed a candidate token's bytes, and
 * keep it if feeding succeeded. That is how a sampler masks tokens:
 *
 *     fr_rag_cite_state t = s;
 *     if (fr_rag_cite_feed(&t, piece, piece_len)) allowed[tok] = true;
 */
typedef struct fr_rag_cite_state {
    int k;          /* passages: valid citations are 1..k */
    int st;         /* internal state */
    int num;        /* citation number being read */
    int nf;         /* bytes of "NOT_FOUND" matched; -1 when that branch died */
    int sents;      /* sentences completed */
    uint32_t body;  /* bytes in the current body */
    uint32_t max_body;
    bool dead;      /* the sentence branch died */
    bool cited;     /* the current sentence has a citation */
    bool punct;     /* its terminator came before its citation */
} fr_rag_cite_state;

FR_API void fr_rag_cite_init(fr_rag_cite_state *s, int k);
/* Feeds bytes; false when the text so far can no longer become a valid
 * answer (s is then unusable). */
FR_API bool fr_rag_cite_feed(fr_rag_cite_state *s, const char *text, size_t len);
/* True when the text fed so far is a complete valid answer (generation may
 * stop here). */
FR_API bool fr_rag_cite_complete(const fr_rag_cite_state *s);
/* Both at once on a whole string: 1 complete, 0 valid prefix, -1 invalid. */
FR_API int fr_rag_cite_check(const char *text, size_t len, int k);

/* The prompt: system rules and the user message with numbered passages,
 * each "[n] (title, heading, page) text". Owned by caller: free() both. */
FR_API fr_status fr_rag_build_prompt(const char *question, const fr_kb_passage *passages,
                                     size_t n, size_t max_passage_bytes, char **system,
                                     char **user, fr_err *err);

/* ---- the ask pipeline ------------------------------------------------------ */

/* What the pipeline hands the engine, and what it expects back. */
typedef struct fr_rag_gen_request {
    const char *system;    /* rules (borrowed) */
    const char *user;      /* question and numbered passages (borrowed) */
    int n_passages;        /* valid citations are [1]..[n_passages] */
    fr_rag_cite_state constraint; /* initial validator state: mask tokens with it */
    size_t max_bytes;      /* stop after this much answer text */
} fr_rag_gen_request;

typedef struct fr_rag_gen_result {
    char *text;             /* malloc'd answer text; the pipeline frees it */
    fr_rag_token_lp *lps;   /* malloc'd or NULL; the pipeline frees it */
    size_t n_lps;
    int n_tokens;
    double joules;          /* energy spent generating, < 0 when unknown */
    double seconds;
} fr_rag_gen_result;

/* Generates an answer greedily while keeping fr_rag_cite_feed true. Return
 * FR_OK with res filled, or an error (which fr_rag_ask passes on). */
typedef fr_status (*fr_rag_generate_fn)(void *user, const fr_rag_gen_request *req,
                                        fr_rag_gen_result *res, fr_err *err);

typedef struct fr_rag_ask_opts {
    fr_kb_retrieve_opts retrieve;
    fr_rag_check_opts check;  /* idf is filled from the KB when NULL */
    fr_rag_generate_fn generate; /* NULL: stop after retrieval and the gate */
    void *gen_user;
    size_t max_answer_bytes;  /* 0: 2048 */
    size_t max_passage_bytes; /* per passage in the prompt; 0: 2000 */
} fr_rag_ask_opts;

typedef enum fr_rag_outcome {
    FR_RAG_ANSWERED,
    FR_RAG_ABSTAIN_GATE,      /* retrieval did not cover the question */
    FR_RAG_ABSTAIN_NOT_FOUND, /* the model said NOT_FOUND */
    FR_RAG_ABSTAIN_SUPPORT,   /* the answer scored below the threshold */
    FR_RAG_RETRIEVED_ONLY     /* no generate callback: passages and gate only */
} fr_rag_outcome;

typedef struct fr_rag_result {
    fr_rag_outcome outcome;
    bool abstained;
    char *answer;          /* the model's text, or NULL */
    char *shown;           /* what to show: answer, or FR_RAG_ABSTAIN_TEXT */
    fr_kb_hits *hits;      /* owned */
    fr_rag_checked *check; /* owned, NULL when nothing was generated */
    double threshold;
    int n_tokens;
    double gen_joules, gen_seconds, retrieve_seconds;
} fr_rag_result;

FR_API const char *fr_rag_outcome_str(fr_rag_outcome o);

/* Retrieve, gate, prompt, generate (callback), check, decide. Owned by
 * caller: fr_rag_result_free. */
FR_API fr_status fr_rag_ask(fr_kb *kb, const char *question, const fr_rag_ask_opts *opts,
                            fr_rag_result **out, fr_err *err);
FR_API void fr_rag_result_free(fr_rag_result *r);

/* The JSON document of `frugal ask --json` and POST /v1/ask: passages with
 * their text, each sentence's sub-claims with their evidence, and its
 * citations with "span" ({"off", "len"}: bytes of that passage's text that
 * support it, fr_rag_sentence_span; or null). Owned by caller: free().
 * NULL on out of memory. */
FR_API char *fr_rag_result_json(const fr_rag_result *r, const char *question);

#ifdef __cplusplus
}
#endif
#endif
