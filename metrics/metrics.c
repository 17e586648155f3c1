/* metrics/metrics.c — see metrics.h. */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define NGROUP 100
#define NCODE 600

static const char *const route_names[RT_MAX] = {
    "create", "get", "pay", "close", "refund", "refund_list", "merchant_orders",
    "groups", "fence", "unfence", "reload",
    "terminal_register", "terminal_get", "terminal_activate", "terminal_block", "terminal_unblock",
    "terminal_code", "terminal_retire", "merchant_terminals", "audit_events",
    "healthz", "readyz", "metrics", "other"};
static const char *const skip_names[SKIP_R_MAX] = {
    "skipped", "fenced", "draining", "retired", "weight_zero", "overloaded", "probe_failed", "insert_failed"};
static const char *const create_names[CR_MAX] = {"ok", "replay", "failed"};

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define NB (sizeof buckets / sizeof buckets[0])

static atomic_long req_total[RT_MAX][NCODE];
static atomic_long req_hist[RT_MAX][NB + 1];
static atomic_long req_sum_us[RT_MAX];
static atomic_long creates[NGROUP][CR_MAX];
static atomic_long skips[NGROUP][SKIP_R_MAX];
static atomic_long probe_hist[NGROUP][NB + 1];
static atomic_long probe_sum_ms[NGROUP];
static atomic_long mirror_lag_ms = -1;
static atomic_long term_denied[TD_MAX], refund_denied[2], term_refresh_fail, term_entries, term_ok_at_ms,
    term_notifies;
static atomic_long audit_depth, audit_dropped, audit_written, audit_write_fail;

const char *met_route_name(met_route r) { return r < RT_MAX ? route_names[r] : "other"; }

met_skip met_skip_from_reason(const char *reason)
{
    for (int i = 0; i < SKIP_R_MAX; i++)
        if (reason && strcmp(reason, skip_names[i]) == 0)
            return (met_skip)i;
    return SKIP_R_INSERT_FAILED;
}

static int bucket_of(double secs)
{
    for (size_t i = 0; i < NB; i++)
        if (secs <= buckets[i])
            return (int)i;
    return (int)NB;
}

void met_request(met_route r, int code, int64_t dur_us)
{
    if (r >= RT_MAX)
        r = RT_OTHER;
    if (code < 0 || code >= NCODE)
        code = 0;
    atomic_fetch_add(&req_total[r][code], 1);
    atomic_fetch_add(&req_hist[r][bucket_of((double)dur_us / 1e6)], 1);
    atomic_fetch_add(&req_sum_us[r], dur_us);
}

void met_create(int g, met_create_res res)
{
    if (g >= 0 && g < NGROUP && res < CR_MAX)
        atomic_fetch_add(&creates[g][res], 1);
}

void met_skip_inc(int g, met_skip reason)
{
    if (g >= 0 && g < NGROUP && reason < SKIP_R_MAX)
        atomic_fetch_add(&skips[g][reason], 1);
}

void met_probe(int g, int ms)
{
    if (g < 0 || g >= NGROUP)
        return;
    atomic_fetch_add(&probe_hist[g][bucket_of(ms / 1000.0)], 1);
    atomic_fetch_add(&probe_sum_ms[g], ms);
}

void met_term_denied(met_term_deny d)
{
    if ((int)d >= 0 && d < TD_MAX)
        atomic_fetch_add(&term_denied[d], 1);
}

void met_refund_denied(int rule_created_at) { atomic_fetch_add(&refund_denied[rule_created_at ? 1 : 0], 1); }

void met_term_refresh(int ok, int64_t entries, int64_t at_mono_ms)
{
    if (!ok) {
        atomic_fetch_add(&term_refresh_fail, 1);
        return;
    }
    atomic_store(&term_entries, entries);
    atomic_store(&term_ok_at_ms, at_mono_ms);
}

void met_term_notify(void) { atomic_fetch_add(&term_notifies, 1); }
void met_audit_depth(int64_t n) { atomic_store(&audit_depth, n); }
void met_audit_dropped(void) { atomic_fetch_add(&audit_dropped, 1); }
void met_audit_written(int64_t n) { atomic_fetch_add(&audit_written, n); }
void met_audit_write_failed(void) { atomic_fetch_add(&audit_write_fail, 1); }

void met_set_mirror_lag_ms(int64_t ms) { atomic_store(&mirror_lag_ms, ms); }
static atomic_long mirror_dead = -1, mirror_dead_lost = -1;
void met_set_mirror_dead(int64_t dead, int64_t lost)
{
    atomic_store(&mirror_dead, (long)dead);
    atomic_store(&mirror_dead_lost, (long)lost);
}
int64_t met_mirror_lag_ms(void) { return atomic_load(&mirror_lag_ms); }

static void hist(FILE *f, const char *name, const char *labels, atomic_long *h, double sum)
{
    long cum = 0;
    for (size_t i = 0; i < NB; i++) {
        cum += atomic_load(&h[i]);
        fprintf(f, "%s_bucket{%s,le=\"%g\"} %ld\n", name, labels, buckets[i], cum);
    }
    cum += atomic_load(&h[NB]);
    fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %ld\n", name, labels, cum);
    fprintf(f, "%s_sum{%s} %.6f\n", name, labels, sum);
    fprintf(f, "%s_count{%s} %ld\n", name, labels, cum);
}

void met_render(FILE *f)
{
    fprintf(f, "# HELP skipstore_requests_total HTTP requests by route and status code.\n"
               "# TYPE skipstore_requests_total counter\n");
    for (int r = 0; r < RT_MAX; r++)
        for (int c = 0; c < NCODE; c++) {
            long v = atomic_load(&req_total[r][c]);
            if (v)
                fprintf(f, "skipstore_requests_total{route=\"%s\",code=\"%d\"} %ld\n", route_names[r], c, v);
        }
    fprintf(f, "# HELP skipstore_request_duration_seconds Request latency.\n"
               "# TYPE skipstore_request_duration_seconds histogram\n");
    for (int r = 0; r < RT_MAX; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r]);
        hist(f, "skipstore_request_duration_seconds", labels, req_hist[r], atomic_load(&req_sum_us[r]) / 1e6);
    }
    fprintf(f, "# HELP skipstore_creates_total Create attempts by group and result.\n"
               "# TYPE skipstore_creates_total counter\n");
    for (int g = 0; g < NGROUP; g++)
        for (int k = 0; k < CR_MAX; k++) {
            long v = atomic_load(&creates[g][k]);
            if (v)
                fprintf(f, "skipstore_creates_total{group=\"%d\",result=\"%s\"} %ld\n", g, create_names[k], v);
        }
    fprintf(f, "# HELP skipstore_skips_total Times a create passed over a group, by reason.\n"
               "# TYPE skipstore_skips_total counter\n");
    for (int g = 0; g < NGROUP; g++)
        for (int k = 0; k < SKIP_R_MAX; k++) {
            long v = atomic_load(&skips[g][k]);
            if (v)
                fprintf(f, "skipstore_skips_total{group=\"%d\",reason=\"%s\"} %ld\n", g, skip_names[k], v);
        }
    fprintf(f, "# HELP skipstore_probe_duration_seconds Writability probe latency.\n"
               "# TYPE skipstore_probe_duration_seconds histogram\n");
    for (int g = 0; g < NGROUP; g++) {
        long any = 0;
        for (size_t i = 0; i <= NB; i++)
            any += atomic_load(&probe_hist[g][i]);
        if (!any)
            continue;
        char labels[32];
        snprintf(labels, sizeof labels, "group=\"%d\"", g);
        hist(f, "skipstore_probe_duration_seconds", labels, probe_hist[g], atomic_load(&probe_sum_ms[g]) / 1e3);
    }
    static const char *const deny_names[TD_MAX] = {"TERMINAL_NOT_ACTIVE", "TERMINAL_BLOCKED", "TERMINAL_MISMATCH"};
    fprintf(f, "# HELP skipstore_terminal_denials_total Cashier creates refused by the terminal registry.\n"
               "# TYPE skipstore_terminal_denials_total counter\n");
    for (int d = 0; d < TD_MAX; d++)
        fprintf(f, "skipstore_terminal_denials_total{code=\"%s\"} %ld\n", deny_names[d], atomic_load(&term_denied[d]));
    fprintf(f, "# HELP skipstore_refund_denials_total Refunds refused by the refund policy, by rule.\n"
               "# TYPE skipstore_refund_denials_total counter\n"
               "skipstore_refund_denials_total{field=\"terminal_id\"} %ld\n"
               "skipstore_refund_denials_total{field=\"created_at\"} %ld\n",
            atomic_load(&refund_denied[0]), atomic_load(&refund_denied[1]));
    long ok_at = atomic_load(&term_ok_at_ms);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long now_ms = (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    fprintf(f, "# HELP skipstore_terminals Terminals in this daemon's registry copy.\n"
               "# TYPE skipstore_terminals gauge\nskipstore_terminals %ld\n"
               "# HELP skipstore_terminal_registry_age_seconds Since the registry copy was last read from the "
               "merchant store (-1 never: cashier creates are refused).\n"
               "# TYPE skipstore_terminal_registry_age_seconds gauge\nskipstore_terminal_registry_age_seconds %.3f\n"
               "# HELP skipstore_terminal_refresh_failures_total Registry reads that failed (the last copy stays).\n"
               "# TYPE skipstore_terminal_refresh_failures_total counter\nskipstore_terminal_refresh_failures_total %ld\n"
               "# HELP skipstore_terminal_notifications_total Registry change notifications received from Redis.\n"
               "# TYPE skipstore_terminal_notifications_total counter\nskipstore_terminal_notifications_total %ld\n",
            atomic_load(&term_entries), ok_at ? (double)(now_ms - ok_at) / 1000.0 : -1.0,
            atomic_load(&term_refresh_fail), atomic_load(&term_notifies));
    fprintf(f, "# HELP skipstore_audit_queue_depth Audit events waiting for the merchant store.\n"
               "# TYPE skipstore_audit_queue_depth gauge\nskipstore_audit_queue_depth %ld\n"
               "# HELP skipstore_audit_dropped_total Audit events dropped because the queue was full.\n"
               "# TYPE skipstore_audit_dropped_total counter\nskipstore_audit_dropped_total %ld\n"
               "# HELP skipstore_audit_written_total Audit events written to audit_events.\n"
               "# TYPE skipstore_audit_written_total counter\nskipstore_audit_written_total %ld\n"
               "# HELP skipstore_audit_write_failures_total Failed audit writes (the events stay queued).\n"
               "# TYPE skipstore_audit_write_failures_total counter\nskipstore_audit_write_failures_total %ld\n",
            atomic_load(&audit_depth), atomic_load(&audit_dropped), atomic_load(&audit_written),
            atomic_load(&audit_write_fail));
    long lag = atomic_load(&mirror_lag_ms);
    fprintf(f, "# HELP skipstore_mirror_lag_seconds Commit-to-applied lag of the merchant mirror (-1 unknown).\n"
               "# TYPE skipstore_mirror_lag_seconds gauge\nskipstore_mirror_lag_seconds %.3f\n",
            lag < 0 ? -1.0 : lag / 1000.0);
    long dead = atomic_load(&mirror_dead), lost = atomic_load(&mirror_dead_lost);
    if (dead >= 0)
        fprintf(f, "# HELP skipstore_mirror_dead_letters_total Events the mirror wrote to dead_letters (since it started).\n"
                   "# TYPE skipstore_mirror_dead_letters_total counter\nskipstore_mirror_dead_letters_total %ld\n"
                   "# HELP skipstore_mirror_dead_letters_lost_total Bad events not even dead-lettered: logged and skipped.\n"
                   "# TYPE skipstore_mirror_dead_letters_lost_total counter\nskipstore_mirror_dead_letters_lost_total %ld\n",
                dead, lost);
}
