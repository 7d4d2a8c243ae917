/*
 * metrics.h - request counters and the Prometheus text exposition
 * (text format 0.0.4) for GET /metrics.
 *
 * Families:
 *   frugal_requests_total{endpoint, status}          counter
 *   frugal_request_duration_seconds{endpoint}        histogram (completions, chat, ask)
 *   frugal_time_to_first_token_seconds{endpoint}     histogram
 *   frugal_prompt_tokens_total, frugal_prompt_cached_tokens_total,
 *   frugal_generated_tokens_total, frugal_computed_tokens_total   counters
 *   frugal_tokens_per_second                         gauge (generated, last seconds)
 *   frugal_slots, frugal_slots_active, frugal_queue_depth          gauges
 *   frugal_model_loaded                              gauge 0/1
 *   frugal_energy_joules_total{source}               counter (central figure)
 *   frugal_energy_joules_per_token{source}           gauge (energy / computed tokens)
 *   frugal_energy_estimate_joules_total{source, bound="low"|"high"} (estimates only)
 *
 * Thread-safe: one mutex; every HTTP thread records into it.
 */
#ifndef FR_SERVE_METRICS_H
#define FR_SERVE_METRICS_H

#include "base/buf.h"
#include "serve/sched.h"

typedef enum srv_endpoint {
    SRV_EP_CHAT = 0,
    SRV_EP_COMPLETIONS,
    SRV_EP_MODELS,
    SRV_EP_HEALTH,
    SRV_EP_METRICS,
    SRV_EP_TOKENIZE,
    SRV_EP_DETOKENIZE,
    SRV_EP_PROPS,
    SRV_EP_ASK,
    SRV_EP_WEB,
    SRV_EP_OTHER,
    SRV_EP_COUNT
} srv_endpoint;

const char *srv_endpoint_name(srv_endpoint e);

typedef struct srv_metrics srv_metrics;

srv_metrics *srv_metrics_create(void); /* NULL when out of memory */
void srv_metrics_free(srv_metrics *m);

/* One finished request. ttft_s < 0: no first token (not a generation). */
void srv_metrics_request(srv_metrics *m, srv_endpoint ep, int status, double seconds, double ttft_s);

/* Appends the exposition to out. st may be NULL (no model yet). */
void srv_metrics_render(srv_metrics *m, const srv_sched_stats *st, fr_buf *out);

#endif
