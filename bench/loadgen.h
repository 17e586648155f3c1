/*
 * bench/loadgen.h — the load engine shared by skipbench and `skipctl drill`
 * (it lives in rpc/ so both executables link it through skipio).
 *
 * Closed loop (rate <= 0): `concurrency` threads, each with its own
 * keep-alive connection, send back to back for duration_s.
 * Open loop (rate > 0): request i is due at start + i/rate. `concurrency`
 * threads take the next due request, wait for its time and send it; latency
 * is measured from the due time, so queueing inside the client (all threads
 * busy) shows up as latency instead of being hidden. Outstanding work is
 * bounded: a request already more than timeout_ms late when a thread gets to
 * it is not sent and counts as failed with code "client_backlog".
 *
 * Requests are attributed to the second they were due (open) or sent
 * (closed). A second's row is final once every request of it must have
 * finished (2 x timeout later); rows live in a fixed ring meanwhile, so
 * memory does not grow with the request count. The whole run ends by itself:
 * no request outlives due time + 2 x timeout.
 */
#ifndef RPC_LOADGEN_H
#define RPC_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "bench/report.h"
#include "client/httpc.h"
#include "common/sk.h"

/* LG_MIXED: 40 % create, 50 % read, 10 % pay. LG_FULL (the soak's): 40 %
 * create, 35 % read, 15 % pay, 10 % refund (1 fen each, by the cashier from
 * the order's terminal, of orders this run has paid). */
typedef enum { LG_CREATE, LG_READ, LG_PAY, LG_MIXED, LG_FULL } lg_mix;
/* Benchmark orders expire after a day (both the daemon's and the direct
 * baseline's): the expiry sweeper's closes of one run's orders (a
 * transaction and an event each) never land in a later run's measurement. */
#define LG_EXPIRE_S 86400
#define LG_NKINDS 4            /* what one request was: LG_CREATE..LG_PAY, and refund */
#define LG_KIND_REFUND 3

/* What one operation produced. */
typedef struct {
    bool ok;
    char code[REP_CODE_LEN];   /* when !ok: "503 NO_WRITABLE_GROUP", "timeout", ... */
    int group;                 /* acknowledged create: its group; else 0 */
    char order_no[32];         /* acknowledged create: its number; else "" */
} lg_outcome;

/* A pluggable operation: per-thread state plus one call per request. */
typedef struct {
    void *(*thread_init)(void *ctx, int tid);       /* NULL return = thread fails every op */
    void (*thread_fini)(void *ctx, void *ts);
    void (*op)(void *ctx, void *ts, uint64_t *rng, lg_outcome *out);
    void *ctx;
} lg_ops;

/* Next value of an op's per-thread generator (the `rng` the engine passes;
 * xorshift64). */
uint64_t lg_rand(uint64_t *rng);

typedef struct lg_ctl lg_ctl;

typedef struct {
    int duration_s;            /* 1..86400 */
    int concurrency;           /* 1..4096 */
    double rate;               /* > 0: open loop, requests/s */
    int timeout_ms;            /* per request; 100..20000 */
    bool progress;             /* one line per second on stderr */
    const rep_groups *groups;  /* groups tracked for share (may be NULL) */
    FILE *orders_out;          /* acknowledged order numbers, one a line (may be NULL) */
    /* called from the controller thread about once a second, t = whole
     * seconds elapsed (1, 2, ...), now_s = exact seconds since start */
    void (*tick)(void *ctx, lg_ctl *ctl, int t, double now_s);
    void *tick_ctx;
    const lg_ops *ops;
} lg_opts;

typedef struct {
    hist lat;                  /* every finished request, microseconds */
    int64_t sent, ok, failed;
    rep_code codes[REP_MAX_CODES];
    int ncodes;
    int64_t group_ok[REP_MAX_GROUPS];
    double elapsed_s;          /* start to last completion */
    rep_row *rows;             /* nrows = duration_s; owned, free() */
    int nrows;
    double back_at_s[REP_MAX_GROUPS];  /* see lg_ctl_recovered; < 0 = none */
} lg_result;

/* Run the load. Returns 0, or -1 on bad options / resource failure (message on stderr). */
int lg_run(const lg_opts *o, lg_result *res) SK_WUR;

/* Seconds since the run started (from a tick). */
double lg_ctl_now(const lg_ctl *c);
/* From now on, record per group the completion time of the first
 * acknowledged create *sent* at or after at_s (result back_at_s). */
void lg_ctl_recovered(lg_ctl *c, double at_s);

/* ---- the HTTP operations against skipstored ---- */

typedef struct lg_http lg_http;

/* Build HTTP ops for mix. run_id prefixes every out_trade_no (<= 20 chars).
 * Requests are signed with the widest cashier key of $SKIP_KEYS, and every
 * create names its merchant's terminal ("bench-tM" of merchant "benchM"),
 * which this makes ACTIVE first through the API (register, or a new code,
 * or unblock; then activate) — so every benchmark and drill runs with
 * terminals.enforce on. Without a cashier key (auth off): the default key,
 * no terminals. For read/pay/mixed, prefills a pool of orders first (needs
 * a live daemon). Returns owned state or NULL (message on stderr). */
lg_http *lg_http_new(const char *url, const char *token, lg_mix mix, int merchants, int timeout_ms,
                     const char *run_id);

/* Creates alternate each second between the enforced path (cashier key +
 * terminal) and the same create by the admin key (no terminal rule
 * applies): the in-run A/B of the terminal check's cost. Call before
 * lg_run; counts per arm (0 enforced, 1 not) afterwards. */
void lg_http_set_ab(lg_http *h, bool on);
void lg_http_ab_counts(const lg_http *h, int64_t ok[2], int64_t failed[2]);
/* Per kind of request (LG_CREATE, LG_READ, LG_PAY, LG_KIND_REFUND): ok and
 * failed counts and the failures' codes, as
 * {"create":{"ok":n,"failed":n,"errors":{code:n}},"read":...}. New reference. */
json_t *lg_http_kinds_json(lg_http *h);
/* Failed creates so far (the soak's verdict). */
int64_t lg_http_failed_creates(lg_http *h);
void lg_http_free(lg_http *h);
const lg_ops *lg_http_ops(lg_http *h);

/* "create" -> LG_CREATE ...; -1 if unknown. */
int lg_mix_parse(const char *s);

/* Error code of a failed HTTP response: "STATUS CODE" (CODE from the JSON
 * error body, or "-"). */
void lg_http_code(int status, const char *body, size_t len, char *out, size_t cap);

/* Group ids from GET /v1/groups (first REP_MAX_GROUPS, in the API's order).
 * 0, or -1 with a message in err. */
int lg_fetch_groups(const char *url, const char *token, int timeout_ms, rep_groups *out, char *err, size_t cap) SK_WUR;

/* What one GET /v1/groups says, for a per-second poll (drill, soak). */
typedef struct {
    char state[REP_MAX_GROUPS][REP_STATE_LEN];   /* per group slot; "UNKNOWN" when the poll failed */
    int64_t outbox_pending;                      /* summed over the groups; -1 unknown */
    int64_t mirror_lag_ms;                       /* -1 unknown */
} lg_groups_view;

/* Poll GET /v1/groups on hc into *v (every field "unknown" on failure).
 * 0, or -1 when the daemon did not answer 200. */
int lg_poll_groups(httpc *hc, const char *token, const rep_groups *g, lg_groups_view *v);

/* Result as JSON: requests, ok, failed, throughput_per_s, latency_ms
 * {p50,p95,p99,p999,max,mean}, errors {code:n}, share {group:fraction}. */
json_t *lg_result_json(const lg_result *r, const rep_groups *g, double duration_s);

#endif
