/*
 * flow/flow.h — the request path: what skipstored does for one create,
 * read or update once the HTTP layer has parsed and validated it.
 *
 *   flow_create   idempotency (single flight, Redis claim) -> pick a group
 *                 (flow/plan.h, pure) -> issue the number -> one transaction
 *                 on the group's pool -> on failure count it and go round
 *                 again within the request deadline            (create.c)
 *   flow_update   pay / close / refund: route by the number (alias map),
 *                 wait out a shrink's write freeze, one transaction on the
 *                 order's primary                                 (update.c)
 *   flow_read     replica first, primary on a miss; refunds list  (read.c)
 *   flow_sweep    the expiry sweeper's pass over every group      (sweep.c)
 *
 * The HTTP layer (rpc/api.c) only parses, calls one of these, and renders
 * the flow_result. Everything here is synchronous and bounded by the
 * request deadline; no function sleeps while it holds a pool connection.
 */
#ifndef FLOW_H
#define FLOW_H

#include <pthread.h>
#include <stdbool.h>
#include "flow/sflight.h"
#include "auth/nonce.h"
#include "migrate/freeze.h"
#include "order/order.h"
#include "runtime/runtime.h"
#include "selector/grt.h"

/* The daemon's shared state, handed to every flow and background thread. */
typedef struct app {
    rtref *rt;                    /* config + pools + Redis, swapped on reload */
    grt *grt;                     /* per-group counters, probes, fences */
    frz *frz;                     /* a shrink's write freeze */
    sflight *sf;                  /* creates in flight by idempotency key */
    nonce_store *nonces;          /* signed requests' nonces (replay) */
    struct term *term;            /* terminal registry copy (terminal/tsync.h); NULL: none */
    struct audit *audit;          /* audit trail queue (audit/audit.h); NULL: log lines only */
    pthread_mutex_t gen_mu;       /* guards gen */
    ono_gen gen;
    char token[64];               /* this process: node lease value, claim owner */
    /* Re-read the config file (SIGHUP and POST /v1/admin/reload). Returns 0,
     * or -1 with the reason in err; the old runtime stays. */
    int (*reload)(struct app *a, char *err, size_t cap);
} app;

/* What a flow produced, for the HTTP layer to render. */
typedef struct {
    sk_status status;             /* SK_OK or the error to answer */
    bool created;                 /* create: a new order (201), else 200 */
    bool replay;                  /* create: Idempotent-Replay */
    bool has_order;
    order_t order;                /* new / existing / current order (409s: the current one) */
    bool has_refund, refund_created;
    refund_t refund;              /* refund: the new or repeated refund */
    const char *field;            /* error detail: the field at fault */
    const char *message;          /* error detail: static text */
    const char *read_from;        /* read: "replica" or "primary" */
} flow_result;

/*
 * An optional guard taken in the same Redis round trip as a create's
 * idempotency claim, before it: the signed request's nonce (spec §10; the
 * HTTP layer builds it, the flow knows only a key). The claim script sets
 * key NX EX ttl_s and refuses the claim when key exists; settle() is then
 * told what Redis said and answers SK_OK or the status to answer (it keeps
 * the replay store's local table). A create that never reaches its claim
 * (a twin on this daemon answers it, or no attempt is made) leaves done
 * false: the caller checks the guard on its own then (FG_ASK).
 */
typedef enum { FG_NEW, FG_SEEN, FG_DOWN, FG_ASK } fg_said;
typedef struct flow_guard {
    const char *key;
    int ttl_s;
    sk_status (*settle)(void *ctx, fg_said said);
    void *ctx;
    bool done;                    /* settled (by the flow or its caller) */
    sk_status verdict;            /* settle's answer, once done */
} flow_guard;

/* g: NULL, or the guard to take with the claim (see above). */
void flow_create(app *a, const create_req *r, flow_guard *g, flow_result *out);

typedef enum { UPD_PAY, UPD_CLOSE, UPD_REFUND } upd_kind;
typedef struct {
    upd_kind kind;
    const pay_req *pay;           /* UPD_PAY */
    const close_req *close;       /* UPD_CLOSE */
    const refund_req *refund;     /* UPD_REFUND */
    /* optional merchant scope of the caller: an order outside it is
     * answered NOT_FOUND, checked on the locked row */
    bool (*merchant_ok)(const void *ctx, const char *merchant_id);
    const void *merchant_ctx;
    /* optional, UPD_REFUND: the refund policy (spec §11), decided on the
     * locked row for a new refund (not for a repeat of an out_refund_no);
     * see dal_change.refund_ok */
    sk_status (*refund_ok)(const void *ctx, const order_t *o, const char **field, const char **message);
    const void *refund_ctx;
} upd_req;

/* stamped: the group in the number (routed through aliases here). */
void flow_update(app *a, const char *order_no, int stamped, const upd_req *u, flow_result *out);

/* strong: primary only. */
void flow_read(app *a, const char *order_no, int stamped, bool strong, flow_result *out);

/* Refunds of an order, oldest first (at most max); *n gets the count.
 * out->status as flow_read's. */
void flow_refunds(app *a, const char *order_no, int stamped, refund_t *list, int max, int *n, flow_result *out);

/* Close CREATED orders past expire_at in every reachable group. */
void flow_sweep(app *a);

/* Issue an order/refund number for group, waiting (bounded by deadline_ms,
 * monotonic) when the per-second sequence is exhausted. SK_OK,
 * SK_EOVERLOADED (exhausted until the deadline) or SK_EINTERNAL. */
sk_status app_new_number(app *a, int group, int64_t deadline_ms, char out[ONO_LEN + 1]) SK_WUR;

/* Is the group's primary known-dead right now (fresh failed probe)? */
bool flow_group_down(app *a, const conf *c, int id);

#endif
