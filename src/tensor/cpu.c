/*
 * cpu.c - CPU feature detection and the choice of kernel path (see cpu.h).
 *
 * A feature counts only when both the CPU reports it (cpuid) and the OS
 * saves the registers it needs across context switches (xgetbv XCR0):
 * AVX-512 on a kernel that does not enable ZMM state would fault. Detection
 * runs once under pthread_once; FRUGAL_ISA is read at the same moment so the
 * choice cannot change while a model runs.
 *
 * Rejected: __builtin_cpu_supports - it does not report AVX-VNNI or
 * AVX512-BF16 on every compiler version we build with, and it hides the
 * xgetbv check we want to state explicitly.
 */
#include "tensor/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FR_X86 1
#endif

typedef struct fr_cpu_state {
    fr_cpu_features f;
    bool env_set;     /* FRUGAL_ISA had a non-empty value other than "auto" */
    bool env_known;   /* ... that names a path */
    fr_isa env_isa;
    char env_value[32];
} fr_cpu_state;

static fr_cpu_state fr_cpu_state_g; /* written once, under fr_cpu_once */
static pthread_once_t fr_cpu_once = PTHREAD_ONCE_INIT;

#ifdef FR_X86
static void fr_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static uint64_t fr_xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static void fr_cpu_detect(fr_cpu_features *f)
{
    memset(f, 0, sizeof *f);
#ifdef FR_X86
    unsigned r[4];
    fr_cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    memcpy(f->vendor, &r[1], 4);
    memcpy(f->vendor + 4, &r[3], 4);
    memcpy(f->vendor + 8, &r[2], 4);
    f->vendor[12] = '\0';
    if (max_leaf < 1)
        return;
    fr_cpuid(1, 0, r);
    unsigned fam = (r[0] >> 8) & 0xf, mod = (r[0] >> 4) & 0xf;
    f->stepping = r[0] & 0xf;
    f->family = fam == 0xf ? fam + ((r[0] >> 20) & 0xff) : fam;
    f->model = fam == 0x6 || fam == 0xf ? mod | (((r[0] >> 16) & 0xf) << 4) : mod;
    bool osxsave = (r[2] >> 27) & 1;
    f->sse42 = (r[2] >> 20) & 1;
    f->fma = (r[2] >> 12) & 1;
    f->avx = (r[2] >> 28) & 1;
    f->f16c = (r[2] >> 29) & 1;
    if (osxsave) {
        uint64_t xcr0 = fr_xgetbv0();
        f->os_ymm = (xcr0 & 0x6) == 0x6;     /* SSE + AVX state */
        f->os_zmm = (xcr0 & 0xe6) == 0xe6;   /* + opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (max_leaf >= 7) {
        fr_cpuid(7, 0, r);
        unsigned max_sub = r[0];
        f->avx2 = (r[1] >> 5) & 1;
        f->bmi2 = (r[1] >> 8) & 1;
        f->avx512f = (r[1] >> 16) & 1;
        f->avx512dq = (r[1] >> 17) & 1;
        f->avx512bw = (r[1] >> 30) & 1;
        f->avx512vl = (r[1] >> 31) & 1;
        f->avx512vbmi = (r[2] >> 1) & 1;
        f->avx512vnni = (r[2] >> 11) & 1;
        if (max_sub >= 1) {
            fr_cpuid(7, 1, r);
            f->avx_vnni = (r[0] >> 4) & 1;
            f->avx512bf16 = (r[0] >> 5) & 1;
        }
    }
    /* Without OS support the instructions fault: drop the features. */
    if (!f->os_ymm) {
        f->avx = f->avx2 = f->fma = f->f16c = f->avx_vnni = false;
    }
    if (!f->os_zmm) {
        f->avx512f = f->avx512bw = f->avx512vl = f->avx512dq = false;
        f->avx512vnni = f->avx512bf16 = f->avx512vbmi = false;
    }
#endif
}

static void fr_cpu_init(void)
{
    fr_cpu_state *s = &fr_cpu_state_g;
    fr_cpu_detect(&s->f);
    const char *v = getenv("FRUGAL_ISA");
    if (v && *v && strcmp(v, "auto") != 0) {
        s->env_set = true;
        snprintf(s->env_value, sizeof s->env_value, "%s", v);
        s->env_known = fr_isa_parse(v, &s->env_isa);
    }
}

const fr_cpu_features *fr_cpu_get(void)
{
    pthread_once(&fr_cpu_once, fr_cpu_init);
    return &fr_cpu_state_g.f;
}

const char *fr_isa_name(fr_isa isa)
{
    switch (isa) {
    case FR_ISA_GENERIC:
        return "generic";
    case FR_ISA_AVX2:
        return "avx2";
    case FR_ISA_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

bool fr_isa_parse(const char *s, fr_isa *out)
{
    for (int i = 0; i < FR_ISA_COUNT_; i++) {
        if (strcmp(s, fr_isa_name((fr_isa)i)) == 0) {
            *out = (fr_isa)i;
            return true;
        }
    }
    return false;
}

/* Names of the features path isa needs that this CPU lacks, or "" . */
static void fr_isa_missing(fr_isa isa, char *buf, size_t n)
{
    const fr_cpu_features *f = fr_cpu_get();
    buf[0] = '\0';
    size_t len = 0;
#define FR_NEED(cond, name)                                                            \
    do {                                                                               \
        if (!(cond) && len < n)                                                        \
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", name); \
    } while (0)
    if (isa >= FR_ISA_AVX2) {
#ifndef FR_X86
        FR_NEED(false, "x86-64");
#endif
        FR_NEED(f->avx2, "avx2");
        FR_NEED(f->fma, "fma");
        FR_NEED(f->f16c, "f16c");
        FR_NEED(f->bmi2, "bmi2");
        FR_NEED(f->os_ymm, "os-ymm-state");
    }
    if (isa >= FR_ISA_AVX512) {
        FR_NEED(f->avx512f, "avx512f");
        FR_NEED(f->avx512bw, "avx512bw");
        FR_NEED(f->avx512vl, "avx512vl");
        FR_NEED(f->avx512dq, "avx512dq");
        FR_NEED(f->avx512vnni, "avx512_vnni");
        FR_NEED(f->os_zmm, "os-zmm-state");
    }
#undef FR_NEED
    if (len >= n && n > 0)
        buf[n - 1] = '\0';
}

bool fr_isa_available(fr_isa isa)
{
    if (isa < 0 || isa >= FR_ISA_COUNT_)
        return false;
    char miss[128];
    fr_isa_missing(isa, miss, sizeof miss);
    return miss[0] == '\0';
}

fr_isa fr_isa_best(void)
{
    for (int i = FR_ISA_COUNT_ - 1; i > 0; i--)
        if (fr_isa_available((fr_isa)i))
            return (fr_isa)i;
    return FR_ISA_GENERIC;
}

fr_status fr_isa_select(fr_isa *out, fr_err *err)
{
    const fr_cpu_state *s = &fr_cpu_state_g;
    (void)fr_cpu_get();
    *out = fr_isa_best();
    if (!s->env_set)
        return FR_OK;
    if (!s->env_known)
        return fr_err_set(err, FR_E_INVALID,
                          "FRUGAL_ISA=%s is not a kernel path; use generic, avx2, avx512 or "
                          "auto (or unset it to pick the best path, %s)",
                          s->env_value, fr_isa_name(*out));
    if (!fr_isa_available(s->env_isa)) {
        char miss[128];
        fr_isa_missing(s->env_isa, miss, sizeof miss);
        return fr_err_set(err, FR_E_UNSUPPORTED,
                          "FRUGAL_ISA=%s: this CPU cannot run the %s kernels (missing: %s); "
                          "unset FRUGAL_ISA to use the best path this CPU has (%s)",
                          s->env_value, fr_isa_name(s->env_isa), miss, fr_isa_name(*out));
    }
    *out = s->env_isa;
    return FR_OK;
}

void fr_cpu_describe(char *buf, size_t n)
{
    const fr_cpu_features *f = fr_cpu_get();
    struct {
        bool on;
        const char *name;
    } t[] = {
        {f->sse42, "sse4.2"},         {f->avx, "avx"},           {f->avx2, "avx2"},
        {f->fma, "fma"},              {f->f16c, "f16c"},         {f->bmi2, "bmi2"},
        {f->avx_vnni, "avx_vnni"},    {f->avx512f, "avx512f"},   {f->avx512bw, "avx512bw"},
        {f->avx512vl, "avx512vl"},    {f->avx512dq, "avx512dq"}, {f->avx512vnni, "avx512_vnni"},
        {f->avx512bf16, "avx512_bf16"}, {f->avx512vbmi, "avx512_vbmi"},
    };
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof t / sizeof t[0] && len < n; i++)
        if (t[i].on)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? " " : "", t[i].name);
    if (n && len == 0)
        snprintf(buf, n, "none");
}

void fr_cpu_model_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *c = strchr(line, ':');
        if (c) {
            c++;
            while (*c == ' ' || *c == '\t')
                c++;
            c[strcspn(c, "\n")] = '\0';
            snprintf(buf, n, "%s", c);
        }
        break;
    }
    fclose(f);
}
