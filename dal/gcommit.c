/*
 * dal/gcommit.c — group commit of new orders: the creates waiting for one
 * group primary share a transaction (docs/group-commit.md).
 *
 * A batch's leader takes one pooled connection (the bulkhead still counts
 * it), drops the orders whose claim deadline has passed (nothing may start
 * for them), and sends START TRANSACTION; one multi-row INSERT into orders;
 * one into outbox; COMMIT — one round trip, one commit for all. When that
 * hits a unique key (one order's merchant_id+out_trade_no or number exists)
 * or a server error, nothing was written and the batch is re-run one order
 * at a time on the same connection, so every order gets its own outcome and
 * one bad order never fails the others. A refused, lost or timed-out
 * transaction is the outcome of every order in it. The whole batch —
 * connect, transaction — is bounded by db.attempt_timeout_ms
 * (dal_set_deadline).
 */
#include "dal/gcommit.h"

#include <stdlib.h>

#include "common/sk.h"

/* The connection cannot be trusted after this status (as dal_release's callers decide). */
static bool breaks_conn(sk_status st)
{
    return st != SK_OK && st != SK_EDUPKEY && st != SK_EDB && st != SK_EREADONLY;
}

/* Nothing of the batch was executed; say so to every order in it. */
static void fail_all(sk_batch_item **items, int n, sk_status st)
{
    for (int i = 0; i < n; i++) {
        dal_new_order *o = items[i]->arg;
        if (o->attempt_until_ms >= 0) /* not one left out for its budget (gc_exec) */
            o->st = st;
    }
}

/* One order at a time, after the grouped insert was refused as a whole.
 * Returns whether the connection is broken. */
static bool one_by_one(MYSQL *my, dal_new_order **no, int n)
{
    for (int i = 0; i < n; i++) {
        no[i]->st = dal_order_insert_json(my, no[i]->o, no[i]->json);
        if (breaks_conn(no[i]->st)) {
            for (int j = i + 1; j < n; j++)
                no[j]->st = SK_ECONNECT; /* not sent: nothing written */
            return true;
        }
    }
    return false;
}

static void gc_exec(void *ctx, sk_batch_item **items, int n)
{
    dal_pool *p = ctx;
    const dal_pool_opts *po = dal_pool_opts_of(p);
    bool pays = dal_deadline_pays(po->attempt_timeout_ms, po->connect_timeout_ms, po->read_timeout_ms);
    /* the batch ends by the earliest attempt deadline of its orders (an
     * order that waited to be taken does not get a fresh budget: a hung
     * primary costs a create one attempt deadline, not wait + deadline); an
     * order with too little left is not started — it moves on (BUSY) */
    int64_t mono = sk_mono_ms(), until = mono + po->attempt_timeout_ms, take_by = 0;
    int live = 0;
    for (int i = 0; i < n; i++) {
        dal_new_order *o = items[i]->arg;
        if (pays && o->attempt_until_ms > 0 && o->attempt_until_ms - mono < po->attempt_timeout_ms / 4) {
            o->st = SK_EOVERLOADED;
            o->attempt_until_ms = -1; /* marked: left out below */
            continue;
        }
        if (o->attempt_until_ms > 0 && o->attempt_until_ms < until)
            until = o->attempt_until_ms;
        if (items[i]->take_by_ms > take_by)
            take_by = items[i]->take_by_ms;
        live++;
    }
    if (live == 0)
        return;
    int64_t prev = dal_set_deadline(pays ? until : 0);
    dal_conn *dc;
    sk_status st = dal_acquire(p, take_by, &dc);
    if (st != SK_OK) {
        fail_all(items, n, st);
        dal_set_deadline(prev);
        return;
    }
    dal_new_order *no[DAL_GC_MAX_BATCH];
    const order_t *os[DAL_GC_MAX_BATCH];
    const char *js[DAL_GC_MAX_BATCH];
    int k = 0;
    int64_t now = sk_now_ms();
    for (int i = 0; i < n; i++) {
        dal_new_order *o = items[i]->arg;
        if (o->attempt_until_ms < 0)
            continue; /* not started: too little of its attempt left (above) */
        if (now >= o->start_by_wall_ms) {
            o->st = SK_EOVERLOADED; /* its claim may be taken over: must not start */
            continue;
        }
        no[k] = o;
        os[k] = o->o;
        js[k] = o->json;
        k++;
    }
    bool broken = false;
    if (k > 0) {
        st = dal_order_insert_many(dal_mysql(dc), os, js, k);
        if (k > 1 && (st == SK_EDUPKEY || st == SK_EDB)) {
            broken = one_by_one(dal_mysql(dc), no, k);
        } else {
            for (int i = 0; i < k; i++)
                no[i]->st = st;
            broken = breaks_conn(st);
        }
    }
    dal_release(p, dc, broken);
    dal_set_deadline(prev);
}

sk_batcher *dal_gc_new(dal_pool *p)
{
    const dal_pool_opts *o = dal_pool_opts_of(p);
    int batch = o->gc_max_batch < DAL_GC_MAX_BATCH ? o->gc_max_batch : DAL_GC_MAX_BATCH;
    int leaders = o->gc_leaders > 0 ? o->gc_leaders : 1;
    if (leaders > o->size)
        leaders = o->size; /* each leader holds a pooled connection */
    return sk_batcher_new(batch, leaders, o->max_inflight, gc_exec, p);
}

sk_status dal_order_insert_grouped(dal_pool *p, dal_new_order *no, int64_t take_by_ms)
{
    sk_batcher *b = dal_pool_batcher(p);
    if (b == NULL)
        return SK_EINTERNAL;
    sk_batch_item it = {.arg = no, .take_by_ms = take_by_ms};
    no->st = SK_EINTERNAL;
    return sk_batch_submit(b, &it) == SK_BATCH_DONE ? no->st : SK_EOVERLOADED;
}

void dal_pool_gc_stats(dal_pool *p, uint64_t *batches, uint64_t *orders)
{
    *batches = *orders = 0;
    sk_batcher *b = dal_pool_batcher(p);
    if (b)
        sk_batcher_stats(b, batches, orders);
}
