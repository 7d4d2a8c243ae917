/*
 * nvml.c - NVIDIA GPU energy through NVML, loaded at run time.
 *
 * frugal must build and run on machines without CUDA, so NVML is opened
 * with dlopen("libnvidia-ml.so.1") (the name the driver installs) and the
 * few entry points are looked up by name. The declarations below restate
 * NVML's documented C API (nvml.h): every call returns nvmlReturn_t, an int
 * where 0 is NVML_SUCCESS; nvmlDevice_t is an opaque pointer.
 *
 * nvmlDeviceGetTotalEnergyConsumption gives millijoules since the driver was
 * loaded, as an unsigned 64-bit counter (Volta and newer); at kilowatts it
 * would take millions of years to wrap, so no wrap handling. All GPUs that
 * support it are summed: the energy of the GPUs a job uses and the idle draw
 * of the others (subtract the idle baseline, or restrict with
 * CUDA_VISIBLE_DEVICES in a later version).
 */
#include "energy/meter.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_GPUS_MAX 64

typedef int nvml_ret;
typedef struct nvml_device_st *nvml_device;

typedef nvml_ret (*nvml_void_fn)(void);
typedef nvml_ret (*nvml_count_fn)(unsigned int *count);
typedef nvml_ret (*nvml_handle_fn)(unsigned int index, nvml_device *dev);
typedef nvml_ret (*nvml_energy_fn)(nvml_device dev, unsigned long long *mj);
typedef nvml_ret (*nvml_name_fn)(nvml_device dev, char *name, unsigned int len);
typedef const char *(*nvml_errstr_fn)(nvml_ret r);

struct fr_nvml {
    void *lib;
    nvml_void_fn shutdown;
    nvml_energy_fn energy;
    nvml_device dev[NVML_GPUS_MAX];
    unsigned long long last_mj[NVML_GPUS_MAX];
    unsigned long long acc_mj[NVML_GPUS_MAX];
    int n;
    char label[512];
};

/* dlsym returns void *, which POSIX guarantees converts to a function
 * pointer; ISO C does not, so the bytes are copied rather than cast. */
#define LOAD(dst, name)                                                                            \
    do {                                                                                           \
        void *p_ = dlsym(lib, name);                                                               \
        memcpy(&(dst), &p_, sizeof p_);                                                            \
    } while (0)

static const char *errstr(nvml_errstr_fn f, nvml_ret r)
{
    const char *s = f ? f(r) : NULL;
    return s ? s : "NVML error";
}

fr_status fr_nvml_open(const char *library, fr_nvml **out, char *why, size_t why_n, fr_err *err)
{
    *out = NULL;
    if (!library)
        library = "libnvidia-ml.so.1";
    void *lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        fr_fmt(why, why_n,
               "NVML: cannot load %s (%s): no NVIDIA driver here, GPU energy not "
               "measured",
               library, e ? e : "not found");
        return FR_OK;
    }
    nvml_void_fn init = NULL, shutdown = NULL;
    nvml_count_fn count = NULL;
    nvml_handle_fn handle = NULL;
    nvml_energy_fn energy = NULL;
    nvml_name_fn name = NULL;
    nvml_errstr_fn es = NULL;
    LOAD(init, "nvmlInit_v2");
    LOAD(shutdown, "nvmlShutdown");
    LOAD(count, "nvmlDeviceGetCount_v2");
    LOAD(handle, "nvmlDeviceGetHandleByIndex_v2");
    LOAD(energy, "nvmlDeviceGetTotalEnergyConsumption");
    LOAD(name, "nvmlDeviceGetName");
    LOAD(es, "nvmlErrorString");
    if (!init || !shutdown || !count || !handle || !energy) {
        fr_fmt(why, why_n,
               "NVML: %s lacks nvmlInit_v2, nvmlDeviceGetCount_v2, "
               "nvmlDeviceGetHandleByIndex_v2 or nvmlDeviceGetTotalEnergyConsumption "
               "(driver too old)",
               library);
        dlclose(lib);
        return FR_OK;
    }
    nvml_ret rc = init();
    if (rc != 0) {
        fr_fmt(why, why_n, "NVML: nvmlInit_v2 failed: %s", errstr(es, rc));
        dlclose(lib);
        return FR_OK;
    }
    fr_nvml *n = calloc(1, sizeof *n);
    if (!n) {
        shutdown();
        dlclose(lib);
        return fr_err_set(err, FR_E_NOMEM, "NVML: out of memory");
    }
    n->lib = lib;
    n->shutdown = shutdown;
    n->energy = energy;
    unsigned int ngpu = 0;
    rc = count(&ngpu);
    if (rc != 0 || ngpu == 0) {
        fr_fmt(why, why_n, "NVML: %s", rc ? errstr(es, rc) : "no GPU found");
        goto skip;
    }
    char first[96] = "";
    char unsupported[160] = "";
    for (unsigned int i = 0; i < ngpu && n->n < NVML_GPUS_MAX; i++) {
        nvml_device d;
        if (handle(i, &d) != 0)
            continue;
        unsigned long long mj;
        rc = energy(d, &mj);
        if (rc != 0) {
            if (!unsupported[0])
                fr_fmt(unsupported, sizeof unsupported, "GPU %u: %s", i, errstr(es, rc));
            continue;
        }
        if (!first[0] && name && name(d, first, sizeof first) != 0)
            first[0] = '\0';
        n->dev[n->n] = d;
        n->last_mj[n->n] = mj;
        n->n++;
    }
    if (n->n == 0) {
        fr_fmt(why, why_n, "NVML: no GPU reports total energy (%s; needs a Volta or newer GPU)",
               unsupported);
        goto skip;
    }
    first[sizeof first - 1] = '\0';
    fr_fmt(n->label, sizeof n->label, "nvml: %d GPU%s%s%s%s", n->n, n->n == 1 ? "" : "s",
           first[0] ? " (" : "", first, first[0] ? ")" : "");
    fr_fmt(why, why_n, "%s", n->label);
    *out = n;
    return FR_OK;
skip:
    fr_nvml_free(n);
    return FR_OK;
}

fr_status fr_nvml_read(fr_nvml *n, double *joules, fr_err *err)
{
    unsigned long long now[NVML_GPUS_MAX];
    for (int i = 0; i < n->n; i++) {
        nvml_ret rc = n->energy(n->dev[i], &now[i]);
        if (rc != 0)
            return fr_err_set(err, FR_E_IO,
                              "NVML: nvmlDeviceGetTotalEnergyConsumption failed for GPU %d (error "
                              "%d)",
                              i, rc);
    }
    unsigned long long total = 0;
    for (int i = 0; i < n->n; i++) {
        /* The counter only restarts when the driver reloads; treat a step
         * backwards as a restart from zero rather than a huge delta. */
        n->acc_mj[i] += now[i] >= n->last_mj[i] ? now[i] - n->last_mj[i] : now[i];
        n->last_mj[i] = now[i];
        total += n->acc_mj[i];
    }
    *joules = (double)total * 1e-3;
    return FR_OK;
}

const char *fr_nvml_label(const fr_nvml *n)
{
    return n->label;
}

void fr_nvml_free(fr_nvml *n)
{
    if (!n)
        return;
    if (n->shutdown)
        n->shutdown();
    if (n->lib)
        dlclose(n->lib);
    free(n);
}
