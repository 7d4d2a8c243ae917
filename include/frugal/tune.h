/*
 * frugal/tune.h - LoRA fine-tuning of a frozen, possibly quantized base
 * model (QLoRA-style) on the CPU.
 *
 * The base model (fr_model) is never modified and never dequantized as a
 * whole. A fr_tuner owns the trainable LoRA pairs (A [r][n_in], B [n_out][r]
 * per targeted weight), their gradients, the AdamW state, the learning-rate
 * schedule and the position in the training data, so that a checkpoint of a
 * tuner resumes to exactly the run that was interrupted.
 *
 * A fr_dataset holds tokenized training samples, each with a loss mask
 * (which tokens are predicted and counted in the loss): plain text is
 * learned everywhere; prompt/completion data only on the completion and its
 * end token; chat data only on the assistant's turns including their
 * end-of-turn token.
 *
 * Typical use (cli/cmd_tune.c is the full version):
 *
 *     fr_dataset *train; fr_dataset_load(path, tok, &dopts, &train, &err);
 *     fr_tune_params p = fr_tune_default_params(); p.total_steps = ...;
 *     fr_tuner *t; fr_tuner_create(model, &p, &t, &err);
 *     while (fr_tuner_step_count(t) < p.total_steps)
 *         fr_tuner_step(t, train, &info, &err);
 *     fr_tuner_save_adapter(t, "adapter.gguf", &err);
 */
#ifndef FRUGAL_TUNE_H
#define FRUGAL_TUNE_H

#include <frugal/base.h>
#include <frugal/chat.h>
#include <frugal/model.h>
#include <frugal/tokenizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- targets -------------------------------------------------------------- */

/* The weights a LoRA pair can adapt, in the order adapters store them. */
enum {
    FR_TARGET_Q = 0,  /* attn_q */
    FR_TARGET_K,      /* attn_k */
    FR_TARGET_V,      /* attn_v */
    FR_TARGET_O,      /* attn_output */
    FR_TARGET_GATE,   /* ffn_gate */
    FR_TARGET_UP,     /* ffn_up */
    FR_TARGET_DOWN,   /* ffn_down */
    FR_TARGET_COUNT
};
#define FR_TARGETS_ALL ((1u << FR_TARGET_COUNT) - 1u)

/* "q,k,v,o,gate,up,down" (any subset, comma-separated), "all", "attn"
 * (q,k,v,o) or "mlp" (gate,up,down) -> bit mask of 1 << FR_TARGET_*. */
FR_API fr_status fr_tune_parse_targets(const char *list, unsigned *out, fr_err *err);
/* "q", "k", ... ; NULL out of range. */
FR_API const char *fr_tune_target_name(int t);
/* Short text of a mask: "q,k,v,o,gate,up,down". */
FR_API void fr_tune_targets_str(unsigned targets, char *buf, size_t size);

/* ---- data ----------------------------------------------------------------- */

typedef enum fr_data_format {
    FR_DATA_AUTO = 0,          /* .txt -> text; .jsonl -> from the first record's keys */
    FR_DATA_TEXT,              /* .txt, or JSONL with "text" */
    FR_DATA_CHAT,              /* JSONL with "messages": [{"role", "content"}, ...] */
    FR_DATA_PROMPT_COMPLETION  /* JSONL with "prompt" and "completion" */
} fr_data_format;

FR_API bool fr_data_format_parse(const char *name, fr_data_format *out);
FR_API const char *fr_data_format_name(fr_data_format f); /* "auto", "text", ... */

typedef struct fr_dataset_opts {
    fr_data_format format;
    uint32_t n_ctx; /* tokens a sample may predict; samples hold up to n_ctx + 1 tokens */
    /* Chat data: the template that renders conversations (borrowed for the
     * call). Required for FR_DATA_CHAT. */
    const fr_chat_template *tmpl;
    /* Chat data: do not insert the template's default system prompt. */
    bool no_default_system;
} fr_dataset_opts;

typedef struct fr_dataset fr_dataset;

/* Reads and tokenizes a training file. Text (.txt, or any file with format
 * text that is not JSONL) is split into windows of n_ctx predicted tokens
 * (each window starts with BOS when the vocabulary adds one); JSONL records
 * become one sample each (text records longer than a window are split,
 * chat and prompt/completion records are cut at n_ctx + 1 tokens and
 * counted as truncated). Errors name the file, line and key. tok is
 * borrowed for the call. Owned by the caller; free with fr_dataset_free. */
FR_API fr_status fr_dataset_load(const char *path, const fr_tokenizer *tok,
                                 const fr_dataset_opts *o, fr_dataset **out, fr_err *err);
/* The same from memory; name is used in messages and, for FR_DATA_AUTO, its
 * extension picks text or JSONL. */
FR_API fr_status fr_dataset_load_memory(const char *data, size_t len, const char *name,
                                        const fr_tokenizer *tok, const fr_dataset_opts *o,
                                        fr_dataset **out, fr_err *err);
FR_API void fr_dataset_free(fr_dataset *d);

typedef struct fr_dataset_stats {
    fr_data_format format; /* as detected */
    size_t n_records;      /* lines of JSONL, or 1 for a text file */
    size_t n_samples;
    size_t n_truncated;    /* records cut at n_ctx + 1 tokens */
    size_t n_skipped;      /* records with nothing to learn (no loss token) */
    uint64_t n_tokens;     /* in all samples */
    uint64_t n_loss_tokens;
} fr_dataset_stats;

FR_API void fr_dataset_get_stats(const fr_dataset *d, fr_dataset_stats *out);
FR_API size_t fr_dataset_count(const fr_dataset *d);
/* Sample i: n tokens and their loss mask (mask[j] = 1: token j is predicted
 * from tokens 0..j-1 and counted; mask[0] is always 0). Borrowed. */
FR_API void fr_dataset_sample(const fr_dataset *d, size_t i, const int32_t **tokens,
                              const uint8_t **mask, uint32_t *n);
/* Record (line) a sample came from, 1-based. */
FR_API size_t fr_dataset_sample_record(const fr_dataset *d, size_t i);
/* Moves a seeded random fraction frac (0 < frac < 1) of d into a new
 * validation set *val: whole records when d has several, else samples.
 * At least one sample stays on each side (FR_E_INVALID when impossible). */
FR_API fr_status fr_dataset_split(fr_dataset *d, double frac, uint64_t seed, fr_dataset **val,
                                  fr_err *err);
/* Sample i as text with the spans that are NOT learned wrapped in
 * open/close markers (e.g. "[[" "]]"); special tokens are shown. *text is
 * malloc'd (caller frees). */
FR_API fr_status fr_dataset_render_mask(const fr_dataset *d, size_t i, const fr_tokenizer *tok,
                                        const char *open, const char *close, char **text,
                                        fr_err *err);
/* A 64-bit fingerprint of every sample's tokens and mask (resume checks it). */
FR_API uint64_t fr_dataset_fingerprint(const fr_dataset *d);

/* ---- training --------------------------------------------------------------- */

typedef enum fr_lr_schedule {
    FR_SCHED_COSINE = 0, /* warm-up, then cosine decay to lr * min_lr_ratio */
    FR_SCHED_LINEAR,     /* warm-up, then linear decay to lr * min_lr_ratio */
    FR_SCHED_CONSTANT    /* warm-up, then constant */
} fr_lr_schedule;

FR_API bool fr_lr_schedule_parse(const char *name, fr_lr_schedule *out);
FR_API const char *fr_lr_schedule_name(fr_lr_schedule s);

typedef struct fr_tune_params {
    uint32_t rank;         /* LoRA rank r (default 16) */
    float alpha;           /* scale = alpha / r (default 32) */
    unsigned targets;      /* FR_TARGETS_ALL */
    uint32_t n_ctx;        /* predicted tokens per sample (default 512) */
    uint32_t batch;        /* samples per micro-batch (default 1) */
    uint32_t grad_accum;   /* micro-batches per optimizer step (default 1) */
    uint64_t total_steps;  /* optimizer steps of the whole run (schedule length); required */
    double lr;             /* peak learning rate (default 2e-4) */
    double beta1, beta2;   /* 0.9, 0.999 */
    double eps;            /* 1e-8 */
    double weight_decay;   /* decoupled (AdamW); default 0 */
    double clip;           /* global gradient-norm clip; 0 = off (default 1.0) */
    fr_lr_schedule schedule;
    uint32_t warmup;       /* warm-up steps (default 0) */
    double min_lr_ratio;   /* floor of the decay, as a fraction of lr (default 0) */
    uint64_t seed;         /* adapter initialisation and data order (default 42) */
    uint32_t n_threads;    /* 0 = all online CPUs */
    uint32_t logit_rows;   /* rows of logits computed at a time; 0 = auto */
    uint32_t ranks;        /* data-parallel ranks (mpirun -np N; 0 = 1): each step takes
                              batch * grad_accum * ranks samples, batch per rank per
                              micro-batch. Must equal the communicator's size. */
} fr_tune_params;

FR_API fr_tune_params fr_tune_default_params(void);

/* Memory a run will use (bytes), computed before anything is allocated. */
typedef struct fr_tune_mem {
    uint64_t base;        /* mapped model weights */
    uint64_t adapter;     /* LoRA parameters + gradients */
    uint64_t optimizer;   /* AdamW moments */
    uint64_t activations; /* per-layer checkpoints + one layer's intermediates */
    uint64_t logits;      /* one chunk of logits rows */
    uint64_t scratch;     /* per-thread buffers */
    uint64_t total;
    int64_t n_params;     /* trainable parameters */
} fr_tune_mem;

FR_API fr_status fr_tune_estimate(const fr_model *m, const fr_tune_params *p, fr_tune_mem *out,
                                  fr_err *err);

typedef struct fr_tuner fr_tuner;

/* Validates p against the model, allocates everything (the estimate's
 * amount) and initialises the adapter (A random from seed, B = 0). m is
 * borrowed and must outlive the tuner. Owned by the caller. */
FR_API fr_status fr_tuner_create(fr_model *m, const fr_tune_params *p, fr_tuner **out,
                                 fr_err *err);
FR_API void fr_tuner_free(fr_tuner *t);
FR_API const fr_tune_params *fr_tuner_params(const fr_tuner *t);

/* Called between micro-batches and layers; returning true stops the step
 * (fr_tuner_step returns FR_E_CANCELLED and nothing changes). */
FR_API void fr_tuner_set_cancel(fr_tuner *t, bool (*cancel)(void *user), void *user);

typedef struct fr_tune_step_info {
    uint64_t step;          /* optimizer steps done, this one included */
    uint64_t epoch;         /* 0-based epoch of the step's first sample */
    double epoch_pos;       /* epochs completed, fractional (e.g. 1.25) */
    double loss;            /* mean cross-entropy over the step's loss tokens */
    double lr;              /* learning rate applied */
    double grad_norm;       /* global norm before clipping */
    uint64_t n_tokens;      /* tokens processed (positions run through the model) */
    uint64_t n_loss_tokens; /* tokens in the loss */
    bool nonfinite;         /* loss or gradient was NaN/Inf: the update was NOT applied */
} fr_tune_step_info;

/* One optimizer step: batch * grad_accum samples taken in the run's order
 * (a seeded permutation per epoch), forward and backward, clipping, AdamW.
 * When the loss or gradient is not finite, the update is skipped, info->
 * nonfinite is set and FR_E_RANGE returned (the tuner stays at the last good
 * state). train must be the same dataset for the whole run. */
FR_API fr_status fr_tuner_step(fr_tuner *t, const fr_dataset *train, fr_tune_step_info *info,
                               fr_err *err);
/* Mean cross-entropy (nats per loss token) of the current adapter on every
 * sample of d; *n_loss_tokens may be NULL. */
FR_API fr_status fr_tuner_eval(fr_tuner *t, const fr_dataset *d, double *mean_loss,
                               uint64_t *n_loss_tokens, fr_err *err);
FR_API uint64_t fr_tuner_step_count(const fr_tuner *t);
/* Trainable values (all A and B). */
FR_API int64_t fr_tuner_n_params(const fr_tuner *t);
/* Optimizer steps in one pass over a dataset of n samples (global batch:
 * batch * grad_accum * ranks). */
FR_API uint64_t fr_tune_steps_per_epoch(const fr_tune_params *p, size_t n_samples);

/* ---- output and checkpoints -------------------------------------------------- */

/* Writes the current adapter in llama.cpp's GGUF LoRA format (frugal/lora.h:
 * F32 A and B for every targeted weight, adapter.lora.alpha), atomically;
 * never over the base model's file. */
FR_API fr_status fr_tuner_save_adapter(const fr_tuner *t, const char *path, fr_err *err);

/* Writes a checkpoint directory at dir: adapter.gguf (loadable with --lora),
 * optimizer.gguf (AdamW moments), state.json (step, epoch and position in
 * the data order, RNG state, every training parameter, fingerprints of the
 * model and of train). It is written into a temporary directory beside dir
 * and renamed into place, so dir is either the old checkpoint or the new
 * one, never a mix. extra_json (may be NULL) is a JSON object text the
 * caller wants back on resume (e.g. its moving averages); it is stored
 * under "extra". */
FR_API fr_status fr_tuner_save_checkpoint(const fr_tuner *t, const fr_dataset *train,
                                          const char *dir, const char *extra_json, fr_err *err);

/* Reads the training parameters of the checkpoint at dir (a checkpoint
 * directory, or a directory of "step-N" checkpoints: the highest N is
 * used; *resolved (may be NULL; malloc'd) names the one chosen), so the
 * caller can load its data with the same n_ctx and create the tuner.
 * *extra_json (may be NULL; malloc'd) receives the saved extra object. */
FR_API fr_status fr_tune_checkpoint_read(const char *dir, fr_tune_params *p, char **resolved,
                                         char **extra_json, fr_err *err);

/* Restores the checkpoint at dir (a checkpoint directory) into t, which
 * must have been created for the same model with the checkpoint's
 * parameters (n_threads may differ). Fails, changing nothing, when the
 * model or the training data (fingerprint) differ from the checkpoint's.
 * Continuing from here gives bit for bit the run that was interrupted. */
FR_API fr_status fr_tuner_load_checkpoint(fr_tuner *t, const fr_dataset *train, const char *dir,
                                          fr_err *err);

/* ---- data parallelism over MPI -------------------------------------------------------- */

/* `mpirun -np N frugal tune ...` trains one adapter on N processes (on one
 * machine or several): every rank holds the whole adapter, takes its share
 * of every global batch (rank r runs samples [r*batch, (r+1)*batch) of each
 * micro-batch of batch * ranks samples), the LoRA gradients and the loss
 * are summed over the ranks (MPI_Allreduce), and every rank applies the
 * same clipping and AdamW step, so the ranks stay identical. The result is
 * a single-process run with batch * ranks samples per micro-batch, up to
 * the order of float sums. */
typedef struct fr_tune_comm fr_tune_comm;

/* Joins the MPI job this process was started in by an MPI launcher (or the
 * one the program already initialised). Not started by a launcher: a
 * communicator of one rank, without MPI. Fails with FR_E_UNSUPPORTED when
 * started by a launcher for several ranks and frugal was built without MPI
 * (each copy would train the whole adapter alone), or when the launcher
 * belongs to another MPI. Once per process; owned by the caller:
 * fr_tune_comm_free (MPI_Finalize when this call initialised MPI). */
FR_API fr_status fr_tune_comm_create(fr_tune_comm **out, fr_err *err);
FR_API void fr_tune_comm_free(fr_tune_comm *c);
FR_API int fr_tune_comm_rank(const fr_tune_comm *c); /* NULL: 0 */
FR_API int fr_tune_comm_size(const fr_tune_comm *c); /* NULL: 1 */
/* CPUs this rank may use when there are several ranks: the machine's
 * CPUs shared among its ranks, or fewer when the launcher bound the rank;
 * 0 without MPI (use the default). */
FR_API int fr_tune_comm_threads(const fr_tune_comm *c);
/* Collective: every rank passes its own status. FR_OK on every rank when all
 * passed FR_OK; else, on every rank, the status of the lowest failing rank
 * and its message (prefixed "rank R: " on the other ranks). One rank: st. */
FR_API fr_status fr_tune_comm_agree(fr_tune_comm *c, fr_status st, fr_err *err);
/* Ends every rank of the job now (MPI_Abort) with exit status code, for an
 * error met by some ranks where the others cannot be told. No-op with one
 * rank. */
FR_API void fr_tune_comm_abort(fr_tune_comm *c, int code);
/* "Open MPI 4.1.4", or NULL when frugal was built without MPI. */
FR_API const char *fr_tune_mpi_library(void);

/* Makes t data-parallel over c (borrowed; outlives t). c's size must equal
 * the tuner's params.ranks. Call before the first step and before
 * fr_tuner_load_checkpoint. From then on fr_tuner_step, fr_tuner_eval,
 * fr_tuner_save_adapter, fr_tuner_save_checkpoint and
 * fr_tuner_load_checkpoint are collective (every rank calls them, in the
 * same order, with the same data) and every rank returns the same status;
 * saving writes on rank 0 only. A cancel callback that fires on any rank
 * cancels the step on all of them. */
FR_API fr_status fr_tuner_set_comm(fr_tuner *t, fr_tune_comm *c, fr_err *err);

#ifdef __cplusplus
}
#endif
#endif
