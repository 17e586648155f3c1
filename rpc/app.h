/*
 * rpc/app.h — the daemon's shared state, handed to the HTTP handlers and the
 * background threads. Immutable after start except through the owned
 * modules' own synchronisation (cref swap, grt atomics, gen_mu).
 */
#ifndef RPC_APP_H
#define RPC_APP_H

#include <pthread.h>
#include "config/cref.h"
#include "kv/kv.h"
#include "order/ono.h"
#include "rpc/http.h"
#include "selector/grt.h"

typedef struct app {
    cref *cfg;
    kv *kv;
    grt *grt;
    pthread_mutex_t gen_mu;       /* guards gen */
    ono_gen gen;
    char token[64];               /* this process: node lease value, claim owner */
    dal_pool *merchant;           /* merchant store (listing); may be NULL */
    /* Re-read the config file (SIGHUP and POST /v1/admin/reload). Returns 0,
     * or -1 with "FILE:LINE: message" in err; the old config stays. */
    int (*reload)(struct app *a, char *err, size_t cap);
} app;

/* The HTTP handler (http_handler signature; ctx is the app). */
void api_handle(void *ctx, const http_req *rq, http_resp *rs);

/* Issue an order/refund number for group, waiting (bounded by deadline_ms,
 * monotonic) when the per-second sequence is exhausted. */
sk_status app_new_number(app *a, int group, int64_t deadline_ms, char out[ONO_LEN + 1]) SK_WUR;

/* Close CREATED orders past expire_at in every reachable group; update the
 * outbox backlog gauges. Called by the sweeper thread. */
void app_sweep(app *a);

#endif
