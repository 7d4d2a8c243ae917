/*
 * frugal/hardware.h - the hardware catalog: price, power, peak FLOP/s and
 * memory of the devices that `frugal plan` and the energy meters reason about.
 *
 * The catalog is data, not code: data/hardware.json in the source tree
 * (installed to <prefix>/share/frugal/hardware.json) is the built-in one;
 * users merge their own entries over it from ~/.config/frugal/hardware.json
 * (or $XDG_CONFIG_HOME/frugal/hardware.json) and from --catalog FILE. Every
 * number carries a source (a document name or URL) so that a plan can say
 * where each figure came from.
 *
 * File format ("schema": "frugal-hardware-1"):
 *
 *   { "schema": "frugal-hardware-1",
 *     "devices": {
 *       "<id>": { "name": "...", "kind": "gpu|cpu|cpu-core|soc|phone|board",
 *                 "<field>": {"value": X, "low": L, "high": H, "source": "..."},
 *                 ... } } }
 *
 * ids are 1-63 characters of [a-z0-9._-]; fields are the fr_hw_field names
 * below; low/high are optional (default: value) and must bracket value.
 * Merging: a later file's entry with an existing id replaces only the fields
 * it gives; a new id adds a device. Unknown field names are errors (a typo
 * must not be silently ignored). A field given without "source" in a user
 * file is attributed to that file.
 *
 * Where the built-in file is found (first hit wins):
 *   1. $FRUGAL_DATA_DIR/hardware.json
 *   2. <directory of the executable>/../share/frugal/hardware.json (installed)
 *   3. <source tree>/data/hardware.json, the path compiled into the library
 *      (so tests and `build/frugal` work from a checkout without installing)
 */
#ifndef FRUGAL_HARDWARE_H
#define FRUGAL_HARDWARE_H

#include <frugal/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fr_hw_field {
    FR_HW_TDP_W,      /* W; for "cpu-core": watts per busy core */
    FR_HW_PRICE_USD,  /* purchase price of one device */
    FR_HW_RENT_USD_H, /* rental price per device-hour */
    FR_HW_FLOPS_BF16, /* dense peak FLOP/s */
    FR_HW_FLOPS_FP16,
    FR_HW_FLOPS_FP32,
    FR_HW_OPS_INT8,   /* dense peak OP/s */
    FR_HW_MEM_BW,     /* bytes/s */
    FR_HW_MEM_BYTES,  /* bytes */
    FR_HW_CORES,      /* CPU cores (CPUs and boards) */
    FR_HW_BATTERY_WH, /* battery capacity */
    FR_HW_FIELD_COUNT
} fr_hw_field;

typedef struct fr_hw_value {
    bool present;
    double value, low, high; /* low <= value <= high */
    const char *source;      /* never NULL when present; owned by the catalog */
} fr_hw_value;

typedef struct fr_hw {
    const char *id;   /* "h100-sxm" */
    const char *name; /* "NVIDIA H100 SXM5 80GB" */
    const char *kind; /* "gpu", "cpu", "cpu-core", "soc", "phone", "board" */
    fr_hw_value f[FR_HW_FIELD_COUNT];
} fr_hw;

typedef struct fr_catalog fr_catalog;

/* Where to look. All strings are borrowed for the duration of the call;
 * NULL or "" means "not given". */
typedef struct fr_catalog_paths {
    const char *data_dir;   /* $FRUGAL_DATA_DIR */
    const char *exe_path;   /* the running executable (e.g. /proc/self/exe) */
    const char *user_file;  /* missing file is fine */
    const char *extra_file; /* --catalog FILE: must exist */
    bool no_source_tree;    /* skip step 3 (tests of the search order) */
} fr_catalog_paths;

/* Storage for paths filled from the environment. */
typedef struct fr_catalog_env {
    char data_dir[4096];
    char exe_path[4096];
    char user_file[4096];
} fr_catalog_env;

/* Fills env from $FRUGAL_DATA_DIR, /proc/self/exe and $XDG_CONFIG_HOME or
 * $HOME, and points paths (zeroed first) at it. extra_file stays NULL. */
FR_API void fr_catalog_paths_from_env(fr_catalog_env *env, fr_catalog_paths *paths);

/* Loads the built-in catalog and merges the user and extra files over it.
 * Owned by caller; free with fr_catalog_free. */
FR_API fr_status fr_catalog_load(const fr_catalog_paths *paths, fr_catalog **out, fr_err *err);

/* An empty catalog, for merging JSON text into (tests, embedding). */
FR_API fr_status fr_catalog_create(fr_catalog **out, fr_err *err);
/* Merges a catalog document (text[0..len), need not be NUL-terminated) into
 * cat. origin names the text in messages and in default sources. On error
 * cat is unchanged. */
FR_API fr_status fr_catalog_merge_json(fr_catalog *cat, const char *text, size_t len,
                                       const char *origin, fr_err *err);
FR_API void fr_catalog_free(fr_catalog *cat);

FR_API size_t fr_catalog_count(const fr_catalog *cat);
/* Borrowed; valid until the catalog is freed or merged into. */
FR_API const fr_hw *fr_catalog_at(const fr_catalog *cat, size_t i);
/* NULL when absent. */
FR_API const fr_hw *fr_catalog_find(const fr_catalog *cat, const char *id);
/* Files merged so far, "; "-separated (borrowed). */
FR_API const char *fr_catalog_origin(const fr_catalog *cat);
/* Fills err with "unknown hardware 'x'; known: a, b, c" and returns
 * FR_E_NOTFOUND - for callers whose lookup failed. */
FR_API fr_status fr_catalog_unknown(const fr_catalog *cat, const char *id, fr_err *err);

/* "tdp_w", "price_usd", ... (the JSON names); NULL when out of range. */
FR_API const char *fr_hw_field_name(fr_hw_field f);

/* Dense peak FLOP/s for training and prefill: BF16, else FP16, else FP32;
 * *which (if not NULL) gets the field used. Zero-valued when none present. */
FR_API fr_hw_value fr_hw_peak_flops(const fr_hw *hw, fr_hw_field *which);

#ifdef __cplusplus
}
#endif
#endif
