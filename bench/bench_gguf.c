/* bench_gguf: GGUF open and full-walk time per file, and writer throughput.
 *
 *   build/bench_gguf [FILE.gguf ...]
 *
 * Without arguments it uses every .gguf in $FR_SHARED/{models,vocab,quant}
 * (default ../shared). "open" is fr_gguf_open (map + validate + index);
 * "walk" visits every key, every array element (every vocabulary string)
 * and every tensor through the public accessors. The writer row streams a
 * 256 MiB F32 model through the fill callback into a temporary directory
 * (includes fsync). Prints a Markdown table; never fails on a number. */
#include "base/clock.h"
#include "gguf_walk.h"

#include <dirent.h>
#include <frugal/gguf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void bench_file(const char *path)
{
    fr_gguf *g;
    fr_err e;
    double t0 = fr_now_s(), t_open = 0;
    int n = 0;
    /* repeat for at least 0.2 s to average out page-cache noise */
    do {
        double a = fr_now_s();
        if (fr_gguf_open(path, &g, &e) != FR_OK) {
            printf("| %s | error: %s | | | |\n", path, e.msg);
            return;
        }
        t_open += fr_now_s() - a;
        n++;
        if (fr_now_s() - t0 < 0.2)
            fr_gguf_free(g);
        else
            break;
    } while (1);
    uint64_t sum = 0;
    double a = fr_now_s();
    const fr_gguf_tensor *t0t = fr_gguf_tensor_at(g, 0);
    const uint8_t *base =
        t0t ? (const uint8_t *)t0t->data - fr_gguf_data_offset(g) - t0t->offset : NULL;
    int bad = base ? gw_walk(g, base, fr_gguf_file_size(g), &sum) : 0;
    if (!base) { /* no tensors: walk metadata only (no data range to check) */
        for (int64_t i = 0; i < fr_gguf_n_kv(g); i++) {
            fr_gguf_arr arr;
            fr_gguf_str s;
            if (fr_gguf_kv_get_arr(g, i, &arr, NULL) == FR_OK && arr.type == FR_GGUF_STRING)
                for (uint64_t k = 0; k < arr.n; k++)
                    if (fr_gguf_arr_str(&arr, k, &s) == FR_OK && s.len)
                        sum += (uint8_t)s.ptr[0];
        }
    }
    double t_walk = fr_now_s() - a;
    const char *slash = strrchr(path, '/');
    printf("| %s | %.1f MiB | %lld / %lld | %.3f | %.3f%s |\n", slash ? slash + 1 : path,
           (double)fr_gguf_file_size(g) / 1048576.0, (long long)fr_gguf_n_kv(g),
           (long long)fr_gguf_n_tensors(g), 1e3 * t_open / n, 1e3 * t_walk,
           bad ? " (inconsistent!)" : "");
    fr_gguf_free(g);
}

static fr_status fill(void *user, int64_t index, void *dst, uint64_t nbytes, fr_err *err)
{
    (void)user;
    (void)err;
    memset(dst, (int)(index & 0x7f), (size_t)nbytes);
    return FR_OK;
}

static void bench_writer(void)
{
    char dir[] = "/tmp/frugal-bench-XXXXXX";
    if (!mkdtemp(dir))
        return;
    char path[64];
    snprintf(path, sizeof path, "%s/w.gguf", dir);
    fr_gguf_writer *w;
    fr_err e;
    if (fr_gguf_writer_create(&w, &e) != FR_OK)
        return;
    fr_gguf_writer_set_str(w, "general.architecture", "llama");
    const int64_t ne[2] = {4096, 4096}; /* 64 MiB each */
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        fr_gguf_writer_add_tensor(w, name, FR_TYPE_F32, 2, ne, NULL, &e);
    }
    double a = fr_now_s();
    fr_status st = fr_gguf_writer_write(w, path, NULL, 0, fill, NULL, &e);
    double dt = fr_now_s() - a;
    fr_gguf_writer_free(w);
    if (st == FR_OK)
        printf("\nwriter: 256 MiB (4 x f32 4096x4096 via fill callback, fsync) in %.2f s = %.0f "
               "MiB/s\n",
               dt, 256.0 / dt);
    else
        printf("\nwriter: error: %s\n", e.msg);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    struct utsname u;
    uname(&u);
    printf("# bench_gguf\n\nmachine: %s %s, %ld cpus; threads: 1; frugal %s (commit %s)\n\n",
           u.sysname, u.machine, sysconf(_SC_NPROCESSORS_ONLN), fr_version(), fr_commit());
    printf("| file | size | keys / tensors | open ms | walk ms |\n|---|---|---|---|---|\n");
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            bench_file(argv[i]);
    } else {
        const char *root = getenv("FR_SHARED") ? getenv("FR_SHARED") : "../shared";
        const char *subs[] = {"models", "vocab", "quant"};
        for (int s = 0; s < 3; s++) {
            char d[1024];
            snprintf(d, sizeof d, "%s/%s", root, subs[s]);
            struct dirent **list;
            int n = scandir(d, &list, NULL, alphasort);
            for (int i = 0; i < n; i++) {
                size_t len = strlen(list[i]->d_name);
                if (len > 5 && strcmp(list[i]->d_name + len - 5, ".gguf") == 0) {
                    char p[2048];
                    snprintf(p, sizeof p, "%s/%s", d, list[i]->d_name);
                    bench_file(p);
                }
                free(list[i]);
            }
            if (n >= 0)
                free(list);
        }
    }
    bench_writer();
    return 0;
}
