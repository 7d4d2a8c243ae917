/*
 * tuner_impl.h - the inside of fr_tuner, shared by the training loop
 * (tuner.c) and checkpoints (checkpoint.c).
 *
 * Everything that decides what the next step does is here and is saved by a
 * checkpoint: the parameters, the AdamW moments and step count, the data
 * position (epoch, index into that epoch's permutation) and the RNG state.
 * The permutation of epoch e is a pure function of (seed, e, sample count),
 * so it is rebuilt, not stored.
 */
#ifndef FR_TUNE_TUNER_IMPL_H
#define FR_TUNE_TUNER_IMPL_H

#include <frugal/tune.h>

#include "tune/adamw.h"
#include "tune/linear.h"
#include "tune/tlora.h"
#include "tune/tmodel.h"

struct fr_tuner {
    fr_model *m;
    fr_tune_params p;
    fr_tlora *set;
    fr_adamw opt;
    fr_tune_exec ex;
    fr_tmodel *tm;

    uint64_t step;   /* optimizer steps done */
    uint64_t rng;    /* run RNG state (after initialisation) */
    uint64_t epoch;  /* epoch of the next sample */
    uint64_t cursor; /* index of the next sample in that epoch's permutation */

    size_t *perm;        /* [perm_n] permutation for perm_epoch */
    size_t perm_n;
    uint64_t perm_epoch; /* UINT64_MAX: none built */

    /* micro-batch assembly, batch * n_ctx rows */
    int32_t *btok, *btgt, *bpos;
    int64_t *boff; /* [batch + 1] */

    bool (*cancel)(void *);
    void *cancel_user;

    fr_tune_comm *comm; /* data-parallel ranks (borrowed); NULL: this process alone */
    const fr_dataset *agreed; /* training data the ranks found identical */
};

/* Tensor names, types, shapes and the first bytes of each tensor of m
 * (checkpoint.c): checkpoints and the ranks of a run compare it. */
uint64_t fr_tune_model_fingerprint(const fr_model *m);

/* Number of trainable parameters for model hp with these params. */
int64_t fr_tune_n_params(const fr_hparams *hp, uint32_t rank, unsigned targets);

#endif
