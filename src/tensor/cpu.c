/*
 * cpu.c - CPU feature detection and the choice of kernel path (see cpu.h).
 *
 * A feature counts only when both the CPU reports it (cpuid) and the OS
 * saves the registers it needs across context switches (xgetbv XCR0):
 * AVX-512 on a kernel that does not enable ZMM state would fault. Detection
 * runs once under pthread_once; FRUGAL_ISA is read at the same moment so the
 * choice cannot change while a model runs.
 *
 * On 64-bit ARM, Advanced SIMD is architectural (every armv8-a CPU has it)
 * and the optional dot-product and int8 matrix-multiply extensions are
 * reported by the kernel (getauxval HWCAP_ASIMDDP, HWCAP2_I8MM on Linux and
 * Android) or by sysctl on macOS (hw.optional.arm.FEAT_DotProd / FEAT_I8MM);
 * the OS saves the SIMD registers whatever the extension, so there is no
 * second check as on x86.
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
#if defined(__aarch64__)
#define FR_ARM64 1
#if defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(__linux__)
#include <sys/auxv.h>
/* The bits, in case the C library's headers predate them (Linux uapi
 * asm/hwcap.h values, stable ABI). */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1UL << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#endif
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

#if defined(FR_ARM64) && defined(__APPLE__)
static bool fr_sysctl_flag(const char *name)
{
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(name, &v, &len, NULL, 0) == 0 && v != 0;
}
#endif

static void fr_cpu_detect(fr_cpu_features *f)
{
    memset(f, 0, sizeof *f);
#ifdef FR_ARM64
    f->neon = true; /* Advanced SIMD is mandatory in armv8-a */
#if defined(__APPLE__)
    f->dotprod = fr_sysctl_flag("hw.optional.arm.FEAT_DotProd");
    f->i8mm = fr_sysctl_flag("hw.optional.arm.FEAT_I8MM");
    f->fp16 = fr_sysctl_flag("hw.optional.arm.FEAT_FP16");
#elif defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->neon = (hw & HWCAP_ASIMD) != 0;
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
    f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
    f->i8mm = (hw2 & HWCAP2_I8MM) != 0;
#endif
#endif
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
    case FR_ISA_NEON:
        return "neon";
    case FR_ISA_DOTPROD:
        return "dotprod";
    case FR_ISA_I8MM:
        return "i8mm";
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
    bool x86 = isa == FR_ISA_AVX2 || isa == FR_ISA_AVX512;
    if (x86) {
#ifndef FR_X86
        FR_NEED(false, "x86-64");
#endif
        FR_NEED(f->avx2, "avx2");
        FR_NEED(f->fma, "fma");
        FR_NEED(f->f16c, "f16c");
        FR_NEED(f->bmi2, "bmi2");
        FR_NEED(f->os_ymm, "os-ymm-state");
    }
    if (isa == FR_ISA_AVX512) {
        FR_NEED(f->avx512f, "avx512f");
        FR_NEED(f->avx512bw, "avx512bw");
        FR_NEED(f->avx512vl, "avx512vl");
        FR_NEED(f->avx512dq, "avx512dq");
        FR_NEED(f->avx512vnni, "avx512_vnni");
        FR_NEED(f->os_zmm, "os-zmm-state");
    }
    if (isa >= FR_ISA_NEON) {
#ifndef FR_ARM64
        FR_NEED(false, "aarch64");
#endif
        FR_NEED(f->neon, "asimd");
    }
    if (isa >= FR_ISA_DOTPROD)
        FR_NEED(f->dotprod, "asimddp");
    if (isa >= FR_ISA_I8MM)
        FR_NEED(f->i8mm, "i8mm");
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
                          "FRUGAL_ISA=%s is not a kernel path; use generic, avx2, avx512, "
                          "neon, dotprod, i8mm or auto (or unset it to pick the best path, %s)",
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
        {f->neon, "asimd"},           {f->fp16, "asimdhp"},      {f->dotprod, "asimddp"},
        {f->i8mm, "i8mm"},
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

/* ARM cores by "CPU implementer" and "CPU part" (the MIDR fields Linux
 * prints in /proc/cpuinfo); the common ones in phones, boards and clouds. */
static const struct {
    unsigned impl, part;
    const char *name;
} fr_arm_parts[] = {
    {0x41, 0xd03, "ARM Cortex-A53"},   {0x41, 0xd04, "ARM Cortex-A35"},
    {0x41, 0xd05, "ARM Cortex-A55"},   {0x41, 0xd07, "ARM Cortex-A57"},
    {0x41, 0xd08, "ARM Cortex-A72"},   {0x41, 0xd09, "ARM Cortex-A73"},
    {0x41, 0xd0a, "ARM Cortex-A75"},   {0x41, 0xd0b, "ARM Cortex-A76"},
    {0x41, 0xd0c, "ARM Neoverse N1"},  {0x41, 0xd0d, "ARM Cortex-A77"},
    {0x41, 0xd40, "ARM Neoverse V1"},  {0x41, 0xd41, "ARM Cortex-A78"},
    {0x41, 0xd44, "ARM Cortex-X1"},    {0x41, 0xd46, "ARM Cortex-A510"},
    {0x41, 0xd47, "ARM Cortex-A710"},  {0x41, 0xd48, "ARM Cortex-X2"},
    {0x41, 0xd49, "ARM Neoverse N2"},  {0x41, 0xd4a, "ARM Neoverse E1"},
    {0x41, 0xd4b, "ARM Cortex-A78C"},  {0x41, 0xd4d, "ARM Cortex-A715"},
    {0x41, 0xd4e, "ARM Cortex-X3"},    {0x41, 0xd4f, "ARM Neoverse V2"},
    {0x41, 0xd80, "ARM Cortex-A520"},  {0x41, 0xd81, "ARM Cortex-A720"},
    {0x41, 0xd82, "ARM Cortex-X4"},    {0x41, 0xd84, "ARM Neoverse V3"},
    {0x41, 0xd8e, "ARM Neoverse N3"},  {0x46, 0x001, "Fujitsu A64FX"},
    {0x48, 0xd01, "HiSilicon Kunpeng 920"},
    {0x51, 0x804, "Qualcomm Kryo 4xx Gold"}, {0x51, 0x805, "Qualcomm Kryo 4xx Silver"},
    {0x61, 0x022, "Apple M1 Icestorm"}, {0x61, 0x023, "Apple M1 Firestorm"},
    {0xc0, 0xac3, "Ampere-1"},
};

bool fr_cpu_arm_part_name(unsigned impl, unsigned part, char *buf, size_t n)
{
    for (size_t i = 0; i < sizeof fr_arm_parts / sizeof fr_arm_parts[0]; i++)
        if (fr_arm_parts[i].impl == impl && fr_arm_parts[i].part == part) {
            snprintf(buf, n, "%s", fr_arm_parts[i].name);
            return true;
        }
    snprintf(buf, n, "ARM implementer 0x%02x part 0x%03x", impl, part);
    return false;
}

void fr_cpu_model_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown CPU");
#if defined(__APPLE__)
    size_t len = n;
    if (n && sysctlbyname("machdep.cpu.brand_string", buf, &len, NULL, 0) == 0) {
        buf[n - 1] = '\0';
        return;
    }
    snprintf(buf, n, "unknown CPU");
#endif
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    long impl = -1, part = -1;
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!c)
            continue;
        c++;
        while (*c == ' ' || *c == '\t')
            c++;
        c[strcspn(c, "\n")] = '\0';
        if (strncmp(line, "model name", 10) == 0) {
            snprintf(buf, n, "%s", c);
            impl = -1; /* x86 (and some ARM kernels): the name itself */
            break;
        }
        /* ARM: the first core's fields (big.LITTLE cores differ; the first
         * one listed is what we name) */
        if (strncmp(line, "CPU implementer", 15) == 0 && impl < 0)
            impl = strtol(c, NULL, 0);
        else if (strncmp(line, "CPU part", 8) == 0 && part < 0)
            part = strtol(c, NULL, 0);
    }
    fclose(f);
    if (impl >= 0 && part >= 0)
        fr_cpu_arm_part_name((unsigned)impl, (unsigned)part, buf, n);
}
