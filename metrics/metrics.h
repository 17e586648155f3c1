/*
 * metrics/metrics.h — in-process Prometheus metrics (lock-free counters).
 * Rendering of the group gauges happens in the API layer, which has the
 * group runtime; this module owns the counters and histograms.
 */
#ifndef RPC_METRICS_H
#define RPC_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    RT_CREATE, RT_GET, RT_PAY, RT_CLOSE, RT_REFUND, RT_REFUND_LIST, RT_MERCHANT_ORDERS,
    RT_GROUPS, RT_FENCE, RT_UNFENCE, RT_RELOAD,
    /* terminals and the audit trail (spec §11) */
    RT_TERMINAL_REGISTER, RT_TERMINAL_GET, RT_TERMINAL_ACTIVATE, RT_TERMINAL_BLOCK, RT_TERMINAL_UNBLOCK,
    RT_TERMINAL_CODE, RT_TERMINAL_RETIRE, RT_MERCHANT_TERMINALS, RT_AUDIT_EVENTS,
    RT_HEALTHZ, RT_READYZ, RT_METRICS, RT_OTHER, RT_MAX
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
/* dead letters written / events lost (not even dead-lettered, only logged)
 * by the running mirror since it started; -1 unknown */
void met_set_mirror_dead(int64_t dead, int64_t lost);
int64_t met_mirror_lag_ms(void);

/* Terminals (spec §11): cashier creates refused by the registry, by code;
 * refunds refused by the policy, by rule; the registry's refreshes. */
typedef enum { TD_NOT_ACTIVE, TD_BLOCKED, TD_MISMATCH, TD_MAX } met_term_deny;
void met_term_denied(met_term_deny d);
void met_refund_denied(int rule_created_at);           /* 0: terminal_id rule, 1: created_at rule */
/* A registry refresh: ok (then entries = its size, at_mono_ms = now) or a failure. */
void met_term_refresh(int ok, int64_t entries, int64_t at_mono_ms);
void met_term_notify(void);                            /* a Redis notification was received */

/* The audit queue (audit/audit.h). */
void met_audit_depth(int64_t n);
void met_audit_dropped(void);
void met_audit_written(int64_t n);
void met_audit_write_failed(void);

/* Append the counters/histograms in Prometheus text format. */
void met_render(FILE *f);

#endif
