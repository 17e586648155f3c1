/*
 * rpc/metrics.h — in-process Prometheus metrics (lock-free counters).
 * Rendering of the group gauges happens in the API layer, which has the
 * group runtime; this module owns the counters and histograms.
 */
#ifndef RPC_METRICS_H
#define RPC_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    RT_CREATE, RT_GET, RT_PAY, RT_CLOSE, RT_REFUND, RT_REFUND_LIST, RT_MERCHANT_ORDERS,
    RT_GROUPS, RT_FENCE, RT_UNFENCE, RT_RELOAD, RT_HEALTHZ, RT_READYZ, RT_METRICS, RT_OTHER, RT_MAX
} met_route;

typedef enum {
    SKIP_R_SKIPPED, SKIP_R_FENCED, SKIP_R_DRAINING, SKIP_R_RETIRED, SKIP_R_WEIGHT_ZERO,
    SKIP_R_OVERLOADED, SKIP_R_PROBE_FAILED, SKIP_R_INSERT_FAILED, SKIP_R_MAX
} met_skip;

typedef enum { CR_OK, CR_REPLAY, CR_FAILED, CR_MAX } met_create_res;

const char *met_route_name(met_route r);
met_skip met_skip_from_reason(const char *reason);

void met_request(met_route r, int http_code, int64_t dur_us);
void met_create(int group, met_create_res res);
void met_skip_inc(int group, met_skip reason);
void met_probe(int group, int ms);
void met_set_mirror_lag_ms(int64_t ms);
int64_t met_mirror_lag_ms(void);

/* Append the counters/histograms in Prometheus text format. */
void met_render(FILE *f);

#endif
