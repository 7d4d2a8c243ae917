/*
 * cpu.h - which SIMD instruction sets this CPU (and its OS) supports, and
 * which kernel path (ISA) the matrix products use.
 *
 * Features are detected once per process (cpuid + xgetbv, pthread_once) and
 * never change afterwards: a read-only global, as the style guide allows.
 * FRUGAL_ISA=generic|avx2|avx512|neon|dotprod|i8mm (read at that same moment) forces a path so
 * tests and benchmarks can run every path on one machine; unset, empty or
 * "auto" picks the best path the CPU has. Asking for a path the CPU lacks is
 * an error (reported by fr_isa_select), not a silent fallback: a benchmark
 * that says "avx512" must have run AVX-512 code.
 *
 * Path requirements (what the kernel files are compiled for, see
 * CMakeLists.txt):
 *   avx2    AVX2, FMA, F16C, BMI2 and OS support for YMM state
 *   avx512  the above plus AVX-512 F/BW/VL/DQ and AVX512-VNNI, OS support
 *           for ZMM and opmask state (Ice Lake / Zen 4 and later; a
 *           Skylake-X without VNNI takes the avx2 path)
 *   neon    64-bit ARM (Advanced SIMD is part of armv8-a)
 *   dotprod neon + the dot-product extension (SDOT/UDOT, armv8.2-a;
 *           Cortex-A55/A76, Graviton 2, Apple M1 and later)
 *   i8mm    dotprod + the 8-bit matrix multiply extension (SMMLA, armv8.6-a;
 *           Cortex-X2/A510/A710, Graviton 3, Apple M2 and later)
 * ARM features come from getauxval(AT_HWCAP/AT_HWCAP2) on Linux and
 * Android, sysctlbyname("hw.optional.arm.FEAT_*") on macOS.
 */
#ifndef FR_TENSOR_CPU_H
#define FR_TENSOR_CPU_H

#include <frugal/base.h>

typedef enum fr_isa {
    FR_ISA_GENERIC = 0,
    FR_ISA_AVX2 = 1,
    FR_ISA_AVX512 = 2,
    FR_ISA_NEON = 3,
    FR_ISA_DOTPROD = 4,
    FR_ISA_I8MM = 5,
    FR_ISA_COUNT_
} fr_isa;

typedef struct fr_cpu_features {
    bool sse42, avx, avx2, fma, f16c, bmi2;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avx512vbmi;
    bool avx_vnni;
    bool os_ymm, os_zmm; /* XCR0 says the OS saves YMM / ZMM+opmask state */
    bool neon, dotprod, i8mm, fp16; /* 64-bit ARM: ASIMD, SDOT, SMMLA, FP16 arith */
    char vendor[13];     /* "GenuineIntel", "AuthenticAMD", "" off x86 */
    /* cpuid leaf 1 signature as the vendors number it (display family =
     * base + extended family when base is 15; display model adds the
     * extended model for families 6 and 15): AMD Zen 1 is family 23 model
     * 1, Zen 4 family 25 model 17. All 0 off x86. */
    unsigned family, model, stepping;
} fr_cpu_features;

/* The detected features (borrowed, static, valid for the process). */
const fr_cpu_features *fr_cpu_get(void);

/* "generic", "avx2", "avx512", "neon", "dotprod", "i8mm". */
const char *fr_isa_name(fr_isa isa);

/* Parses an FRUGAL_ISA value; false if unknown. "auto" and "" are not ISAs. */
bool fr_isa_parse(const char *s, fr_isa *out);

/* True when this CPU can run path isa. */
bool fr_isa_available(fr_isa isa);

/* The best path this CPU can run. */
fr_isa fr_isa_best(void);

/* The path to use: FRUGAL_ISA when set (as it was when first read), else
 * the best one. FR_E_INVALID when FRUGAL_ISA is not a known name,
 * FR_E_UNSUPPORTED when it names a path this CPU cannot run; the message
 * says which features are missing and what to do. */
fr_status fr_isa_select(fr_isa *out, fr_err *err);

/* Space-separated list of the detected features, for messages and
 * benchmark headers ("avx2 fma f16c avx512f ..."). */
void fr_cpu_describe(char *buf, size_t n);

/* The CPU's model name, for benchmark headers: /proc/cpuinfo's "model name"
 * ("AMD EPYC 9354 ..."); on ARM Linux, where there is none, the core named
 * from "CPU implementer" / "CPU part" ("ARM Cortex-A76"); on macOS
 * machdep.cpu.brand_string ("Apple M2"); else "unknown CPU". */
void fr_cpu_model_name(char *buf, size_t n);

/* The name of the ARM core with MIDR implementer impl and part number part
 * ("ARM Cortex-A76"); false (and "ARM implementer 0x.. part 0x...") when the
 * table does not know it. */
bool fr_cpu_arm_part_name(unsigned impl, unsigned part, char *buf, size_t n);

#endif
