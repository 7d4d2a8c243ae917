/*
 * Data-parallel tuning, the parts one process can check (tests/cli/tune_mpi.sh
 * runs mpirun):
 *  - not started by an MPI launcher, the communicator is one rank and
 *    fr_tune_comm_agree passes a status through;
 *  - a build without MPI refuses a launcher's environment for several
 *    ranks (and names the variable), and accepts one rank;
 *  - steps per epoch count the global batch (batch x grad-accum x ranks);
 *  - a tuner made for 2 ranks refuses to step or evaluate without a
 *    communicator of 2, changing nothing; out-of-range rank counts;
 *  - checkpoints record the rank count, read old ones (no "ranks") as one
 *    rank, and a checkpoint of 2 ranks does not load into a run of 1.
 */
#include "test.h"

#include <frugal/model.h>
#include <frugal/tokenizer.h>
#include <frugal/tune.h>
#include <unistd.h>

#include "base/file.h"

static const char *const LAUNCH_VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                          "PMI_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"};

static void clear_launcher(void)
{
    for (size_t i = 0; i < sizeof LAUNCH_VARS / sizeof *LAUNCH_VARS; i++)
        unsetenv(LAUNCH_VARS[i]);
}

static void test_comm_alone(void)
{
    clear_launcher();
    fr_tune_comm *c = NULL;
    fr_err e;
    CHECK(fr_tune_comm_create(&c, &e) == FR_OK);
    CHECK_EQ_INT(fr_tune_comm_rank(c), 0);
    CHECK_EQ_INT(fr_tune_comm_size(c), 1);
    CHECK_EQ_INT(fr_tune_comm_threads(c), 0);
    fr_err_set(&e, FR_E_IO, "disk full");
    CHECK(fr_tune_comm_agree(c, FR_E_IO, &e) == FR_E_IO);
    CHECK_STR(e.msg, "disk full");
    CHECK(fr_tune_comm_agree(c, FR_OK, &e) == FR_OK);
    fr_tune_comm_abort(c, 3); /* one rank: returns */
    fr_tune_comm_free(c);
    CHECK_EQ_INT(fr_tune_comm_size(NULL), 1);
    CHECK_EQ_INT(fr_tune_comm_rank(NULL), 0);
    fr_tune_comm_free(NULL);
}

static void test_no_mpi_build(void)
{
    if (fr_tune_mpi_library()) {
        fprintf(stderr, "built with %s: the refusal of a build without MPI is not checked here\n",
                fr_tune_mpi_library());
        return;
    }
    struct {
        const char *var, *value, *want;
    } cases[] = {{"OMPI_COMM_WORLD_SIZE", "3", "for 3 ranks"},
                 {"PMI_SIZE", "16", "for 16 ranks"},
                 {"PMIX_RANK", "0", "for several ranks"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clear_launcher();
        setenv(cases[i].var, cases[i].value, 1);
        fr_tune_comm *c = NULL;
        fr_err e;
        fr_err_clear(&e);
        CHECK(fr_tune_comm_create(&c, &e) == FR_E_UNSUPPORTED);
        CHECK(c == NULL);
        CHECK_MSG(strstr(e.msg, "built without MPI") && strstr(e.msg, cases[i].want) &&
                      strstr(e.msg, cases[i].var),
                  "%s", e.msg);
    }
    clear_launcher();
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    fr_tune_comm *c = NULL;
    fr_err e;
    CHECK(fr_tune_comm_create(&c, &e) == FR_OK);
    CHECK_EQ_INT(fr_tune_comm_size(c), 1);
    fr_tune_comm_free(c);
    clear_launcher();
}

static void test_steps_per_epoch(void)
{
    fr_tune_params p = fr_tune_default_params();
    p.batch = 2;
    p.grad_accum = 3;
    CHECK_EQ_INT(fr_tune_steps_per_epoch(&p, 25), 5); /* 6 a step: 25 / 6 rounded up */
    p.ranks = 2;
    CHECK_EQ_INT(fr_tune_steps_per_epoch(&p, 25), 3); /* 12 a step */
    p.ranks = 0;                                      /* 0 means 1 */
    CHECK_EQ_INT(fr_tune_steps_per_epoch(&p, 25), 5);
}

static const char *STORY =
    "Once upon a time, there was a little dog named Max. Max liked to run in the garden. One "
    "day, Max saw a big red ball under the tree. He ran to the ball and played with it all day.\n";

static void replace_in_file(const char *path, const char *from, const char *to)
{
    char *text = NULL;
    size_t len = 0;
    fr_err e;
    CHECK(fr_read_file(path, 1 << 20, &text, &len, &e) == FR_OK);
    if (!text)
        return;
    char *at = strstr(text, from);
    CHECK_MSG(at != NULL, "'%s' not in %s", from, path);
    if (at) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fwrite(text, 1, (size_t)(at - text), f);
            fputs(to, f);
            fputs(at + strlen(from), f);
            fclose(f);
        }
    }
    free(text);
}

static void test_tuner_ranks(fr_model *m, const fr_tokenizer *tok, const char *tmp)
{
    fr_dataset_opts o = {FR_DATA_TEXT, 16, NULL, false};
    fr_dataset *d = NULL;
    fr_err e;
    CHECK(fr_dataset_load_memory(STORY, strlen(STORY), "story.txt", tok, &o, &d, &e) == FR_OK);
    fr_tune_params p = fr_tune_default_params();
    p.rank = 2;
    p.n_ctx = 16;
    p.total_steps = 2;
    p.n_threads = 1;
    p.ranks = 70000;
    fr_tuner *t = NULL;
    CHECK(fr_tuner_create(m, &p, &t, &e) == FR_E_INVALID);
    CHECK_MSG(strstr(e.msg, "70000 ranks"), "%s", e.msg);

    /* made for 2 ranks, used without a communicator of 2 */
    p.ranks = 2;
    CHECK(fr_tuner_create(m, &p, &t, &e) == FR_OK);
    CHECK(fr_tuner_set_comm(t, NULL, &e) == FR_E_INVALID);
    CHECK_MSG(strstr(e.msg, "created for 2 ranks, the communicator has 1"), "%s", e.msg);
    fr_tune_step_info info;
    CHECK(fr_tuner_step(t, d, &info, &e) == FR_E_INVALID);
    CHECK_MSG(strstr(e.msg, "fr_tuner_set_comm"), "%s", e.msg);
    double loss = 0;
    CHECK(fr_tuner_eval(t, d, &loss, NULL, &e) == FR_E_INVALID);
    CHECK_EQ_INT(fr_tuner_step_count(t), 0);
    fr_tuner_free(t);

    /* one rank: the checkpoint says so; an old one without "ranks" reads as
     * one; one of 2 ranks does not load into a run of 1 */
    p.ranks = 1;
    CHECK(fr_tuner_create(m, &p, &t, &e) == FR_OK);
    CHECK(fr_tuner_set_comm(t, NULL, &e) == FR_OK);
    CHECK(fr_tuner_step(t, d, &info, &e) == FR_OK);
    char dir[512], state[600];
    snprintf(dir, sizeof dir, "%s/ck", tmp);
    snprintf(state, sizeof state, "%s/state.json", dir);
    CHECK(fr_tuner_save_checkpoint(t, d, dir, NULL, &e) == FR_OK);
    fr_tune_params q;
    memset(&q, 0, sizeof q);
    CHECK(fr_tune_checkpoint_read(dir, &q, NULL, NULL, &e) == FR_OK);
    CHECK_EQ_INT(q.ranks, 1);
    replace_in_file(state, "\"ranks\": 1", "\"old\": 1");
    q.ranks = 9;
    CHECK(fr_tune_checkpoint_read(dir, &q, NULL, NULL, &e) == FR_OK);
    CHECK_EQ_INT(q.ranks, 1);
    CHECK(fr_tuner_load_checkpoint(t, d, dir, &e) == FR_OK);
    replace_in_file(state, "\"old\": 1", "\"ranks\": 2");
    CHECK(fr_tune_checkpoint_read(dir, &q, NULL, NULL, &e) == FR_OK);
    CHECK_EQ_INT(q.ranks, 2);
    uint64_t before = fr_tuner_step_count(t);
    CHECK(fr_tuner_step(t, d, &info, &e) == FR_OK);
    CHECK(fr_tuner_load_checkpoint(t, d, dir, &e) == FR_E_INVALID);
    CHECK_MSG(strstr(e.msg, "run on 2 ranks, this run has 1"), "%s", e.msg);
    CHECK_EQ_INT(fr_tuner_step_count(t), before + 1); /* unchanged by the refusal */
    fr_tuner_free(t);
    fr_dataset_free(d);
    const char *files[] = {"adapter.gguf", "optimizer.gguf", "state.json"};
    for (int i = 0; i < 3; i++) {
        char f[700];
        snprintf(f, sizeof f, "%s/%s", dir, files[i]);
        unlink(f);
    }
    rmdir(dir);
}

int main(void)
{
    test_comm_alone();
    test_no_mpi_build();
    test_steps_per_epoch();
    char path[512], tmp[256];
    fr_err e;
    fr_test_shared("models/stories260K.gguf", path, sizeof path);
    fr_model *m = NULL;
    fr_tokenizer *tok = NULL;
    if (fr_model_load(path, &m, &e) != FR_OK || fr_tokenizer_load(path, &tok, &e) != FR_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    fr_test_tmpdir(tmp, sizeof tmp);
    test_tuner_ranks(m, tok, tmp);
    rmdir(tmp);
    fr_tokenizer_free(tok);
    fr_model_free(m);
    TEST_END();
}
