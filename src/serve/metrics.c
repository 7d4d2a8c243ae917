/*
 * metrics.c - counters and the Prometheus exposition (see metrics.h).
 *
 * Statuses are kept in a small fixed table (the ones this server answers,
 * plus "other") so recording never allocates. Histogram buckets are fixed:
 * request latencies of an LLM server span milliseconds (tokenize) to
 * minutes (long generations).
 */
#include "serve/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const int status_codes[] = {200, 204, 400, 401, 404, 405, 413, 431, 499, 500, 503, 0};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0]) /* last: other */

static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct hist {
    uint64_t counts[N_BUCKETS]; /* cumulative at render time, per bucket here */
    uint64_t n;
    double sum;
} hist;

struct srv_metrics {
    pthread_mutex_t mu;
    uint64_t requests[SRV_EP_COUNT][N_STATUS];
    hist latency[3]; /* chat, completions, ask */
    hist ttft[3];
};

static const char *const ep_names[SRV_EP_COUNT] = {
    "chat_completions", "completions", "models", "health", "metrics",
    "tokenize", "detokenize", "props", "ask", "web", "other"};

const char *srv_endpoint_name(srv_endpoint e)
{
    return e < SRV_EP_COUNT ? ep_names[e] : "other";
}

srv_metrics *srv_metrics_create(void)
{
    srv_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void srv_metrics_free(srv_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void hist_add(hist *h, double v)
{
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (v <= buckets[i]) {
            h->counts[i]++;
            break;
        }
    h->n++;
    h->sum += v;
}

void srv_metrics_request(srv_metrics *m, srv_endpoint ep, int status, double seconds, double ttft_s)
{
    if (!m)
        return;
    if (ep >= SRV_EP_COUNT)
        ep = SRV_EP_OTHER;
    size_t si = N_STATUS - 1;
    for (size_t i = 0; i + 1 < N_STATUS; i++)
        if (status_codes[i] == status) {
            si = i;
            break;
        }
    pthread_mutex_lock(&m->mu);
    m->requests[ep][si]++;
    if (ep == SRV_EP_CHAT || ep == SRV_EP_COMPLETIONS || ep == SRV_EP_ASK) {
        int k = ep == SRV_EP_CHAT ? 0 : ep == SRV_EP_COMPLETIONS ? 1 : 2;
        if (status == 200)
            hist_add(&m->latency[k], seconds);
        if (status == 200 && ttft_s >= 0)
            hist_add(&m->ttft[k], ttft_s);
    }
    pthread_mutex_unlock(&m->mu);
}

static void render_hist(fr_buf *o, const char *name, const char *ep, const hist *h)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += h->counts[i];
        fr_buf_printf(o, "%s_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", name, ep, buckets[i],
                      (unsigned long long)cum);
    }
    fr_buf_printf(o, "%s_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", name, ep,
                  (unsigned long long)h->n);
    fr_buf_printf(o, "%s_sum{endpoint=\"%s\"} %.6f\n", name, ep, h->sum);
    fr_buf_printf(o, "%s_count{endpoint=\"%s\"} %llu\n", name, ep, (unsigned long long)h->n);
}

void srv_metrics_render(srv_metrics *m, const srv_sched_stats *st, fr_buf *o)
{
    srv_metrics snap;
    pthread_mutex_lock(&m->mu);
    memcpy(snap.requests, m->requests, sizeof snap.requests);
    memcpy(snap.latency, m->latency, sizeof snap.latency);
    memcpy(snap.ttft, m->ttft, sizeof snap.ttft);
    pthread_mutex_unlock(&m->mu);

    fr_buf_puts(o, "# HELP frugal_requests_total HTTP requests answered, by endpoint and status.\n"
                   "# TYPE frugal_requests_total counter\n");
    for (int e = 0; e < SRV_EP_COUNT; e++)
        for (size_t s = 0; s < N_STATUS; s++) {
            if (!snap.requests[e][s])
                continue;
            char code[16];
            if (status_codes[s])
                snprintf(code, sizeof code, "%d", status_codes[s]);
            else
                snprintf(code, sizeof code, "other");
            fr_buf_printf(o, "frugal_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                          ep_names[e], code, (unsigned long long)snap.requests[e][s]);
        }
    fr_buf_puts(o, "# HELP frugal_request_duration_seconds Time from request to last byte of "
                   "successful generations.\n"
                   "# TYPE frugal_request_duration_seconds histogram\n");
    render_hist(o, "frugal_request_duration_seconds", ep_names[SRV_EP_CHAT], &snap.latency[0]);
    render_hist(o, "frugal_request_duration_seconds", ep_names[SRV_EP_COMPLETIONS], &snap.latency[1]);
    render_hist(o, "frugal_request_duration_seconds", ep_names[SRV_EP_ASK], &snap.latency[2]);
    fr_buf_puts(o, "# HELP frugal_time_to_first_token_seconds Time from request to the first "
                   "generated token.\n"
                   "# TYPE frugal_time_to_first_token_seconds histogram\n");
    render_hist(o, "frugal_time_to_first_token_seconds", ep_names[SRV_EP_CHAT], &snap.ttft[0]);
    render_hist(o, "frugal_time_to_first_token_seconds", ep_names[SRV_EP_COMPLETIONS], &snap.ttft[1]);
    render_hist(o, "frugal_time_to_first_token_seconds", ep_names[SRV_EP_ASK], &snap.ttft[2]);

    srv_sched_stats z;
    memset(&z, 0, sizeof z);
    z.energy_source = "none";
    const srv_sched_stats *s = st ? st : &z;
    fr_buf_printf(o,
                  "# HELP frugal_model_loaded 1 once the model is loaded and requests are served.\n"
                  "# TYPE frugal_model_loaded gauge\nfrugal_model_loaded %d\n"
                  "# HELP frugal_prompt_tokens_total Prompt tokens of finished requests.\n"
                  "# TYPE frugal_prompt_tokens_total counter\nfrugal_prompt_tokens_total %llu\n"
                  "# HELP frugal_prompt_cached_tokens_total Prompt tokens reused from a slot's cache.\n"
                  "# TYPE frugal_prompt_cached_tokens_total counter\nfrugal_prompt_cached_tokens_total %llu\n"
                  "# HELP frugal_generated_tokens_total Tokens generated (sampled).\n"
                  "# TYPE frugal_generated_tokens_total counter\nfrugal_generated_tokens_total %llu\n"
                  "# HELP frugal_computed_tokens_total Tokens run through the model (prompt and generated).\n"
                  "# TYPE frugal_computed_tokens_total counter\nfrugal_computed_tokens_total %llu\n"
                  "# HELP frugal_forward_passes_total Batched forward passes.\n"
                  "# TYPE frugal_forward_passes_total counter\nfrugal_forward_passes_total %llu\n"
                  "# HELP frugal_tokens_per_second Generated tokens per second, all slots, last seconds.\n"
                  "# TYPE frugal_tokens_per_second gauge\nfrugal_tokens_per_second %.3f\n"
                  "# HELP frugal_slots Parallel slots (--parallel).\n"
                  "# TYPE frugal_slots gauge\nfrugal_slots %u\n"
                  "# HELP frugal_slots_active Slots generating now.\n"
                  "# TYPE frugal_slots_active gauge\nfrugal_slots_active %u\n"
                  "# HELP frugal_queue_depth Requests waiting for a slot.\n"
                  "# TYPE frugal_queue_depth gauge\nfrugal_queue_depth %u\n",
                  st ? 1 : 0, (unsigned long long)s->prompt_tokens,
                  (unsigned long long)s->cached_tokens, (unsigned long long)s->generated_tokens,
                  (unsigned long long)s->computed_tokens, (unsigned long long)s->steps, s->tok_per_s,
                  s->slots, s->active, s->queued);
    if (s->has_energy) {
        const char *src = s->energy_source;
        double jpt = s->computed_tokens ? s->energy_j / (double)s->computed_tokens : 0;
        fr_buf_printf(o,
                      "# HELP frugal_energy_joules_total Energy counted since the model was loaded "
                      "(source \"estimate\" is CPU time x watts per core, not a measurement).\n"
                      "# TYPE frugal_energy_joules_total counter\n"
                      "frugal_energy_joules_total{source=\"%s\"} %.6f\n"
                      "# HELP frugal_energy_joules_per_token Energy per computed token since the "
                      "model was loaded.\n"
                      "# TYPE frugal_energy_joules_per_token gauge\n"
                      "frugal_energy_joules_per_token{source=\"%s\"} %.9f\n",
                      src, s->energy_j, src, jpt);
        if (strcmp(src, "estimate") == 0)
            fr_buf_printf(o,
                          "# HELP frugal_energy_estimate_joules_total Range of the energy estimate.\n"
                          "# TYPE frugal_energy_estimate_joules_total gauge\n"
                          "frugal_energy_estimate_joules_total{source=\"%s\",bound=\"low\"} %.6f\n"
                          "frugal_energy_estimate_joules_total{source=\"%s\",bound=\"high\"} %.6f\n",
                          src, s->energy_low_j, src, s->energy_high_j);
    }
}
