/*
 * listing/listing.c — GET /v1/merchants/{merchant_id}/orders (spec §4).
 *
 * Source "mirror" (default): one keyset query on skipstore_merchant.
 * merchant_orders (index merchant_id, created_at, order_no). Source "groups"
 * (?source=groups, or automatically when the merchant store does not answer
 * within its timeouts): the same query on every non-retired group's `orders`
 * table IN PARALLEL (one thread per group, each through that group's pool —
 * primary first, its replica if the primary fails — so a dead group costs at most
 * its own timeouts), merged by (created_at DESC, order_no DESC). A group that
 * does not answer is skipped and reported: "partial": true,
 * "unavailable_groups": [ids]. Same cursor in both sources, so a client may
 * switch source between pages.
 *
 * At most GATHER_MAX_INFLIGHT scatter-gathers run at once (each holds up
 * to ngroups * (limit + 1) rows); more get 503 OVERLOADED with Retry-After.
 *
 * Merchant store pool: the runtime snapshot's (runtime/runtime.h; a reload
 * that changes merchant_db.* builds a new one). After a connect/timeout
 * failure the store is considered down for MERCHANT_DOWN_MS: listings go
 * straight to the groups instead of each paying the timeout.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dal/dal.h"
#include "listing/listing.h"
#include "listing/mlist.h"
#include "metrics/metrics.h"
#include "rpc/reply.h"

#define MERCHANT_DOWN_MS 2000
#define GATHER_MAX_INFLIGHT 8   /* concurrent scatter-gathers (each holds ngroups*(limit+1) rows) */


static atomic_llong down_until;   /* mono ms */
static atomic_int gathers;        /* scatter-gathers in flight */

static const char *qget(void *ctx, const char *key) { return route_query((const route_target *)ctx, key); }

/* Run the page query on one pool. rows must hold limit+1. */
static sk_status query_page(dal_pool *p, int timeout_ms, const mlist_args *args, const char *table, order_t *rows,
                            int *n)
{
    *n = 0;
    char sql[1024];
    int len = mlist_sql(args, table, ORD_SQL_COLS, sql, sizeof sql);
    if (len < 0)
        return SK_EINTERNAL;
    dal_conn *dc;
    sk_status st = dal_acquire(p, sk_mono_ms() + timeout_ms, &dc);
    if (st != SK_OK)
        return st;
    MYSQL_RES *res;
    st = dal_query(dal_mysql(dc), sql, (size_t)len, &res);
    if (st != SK_OK) {
        dal_release(p, dc, st != SK_EDB);
        return st;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL && *n < args->limit + 1)
        if (dal_row_to_order(r, &rows[*n]) == 0)
            (*n)++;
    mysql_free_result(res);
    dal_release(p, dc, false);
    return SK_OK;
}

/* ---------- scatter-gather over the groups ---------- */

typedef struct {
    const rt *r;
    int id;
    int timeout_ms;
    const mlist_args *args;
    order_t *rows;
    int n;
    sk_status st;
    pthread_t th;
    bool started;
} gjob;

static void *gjob_main(void *arg)
{
    gjob *j = arg;
    sk_thread_name("sk-list");
    /* primary first: a listing straight from the groups is read-your-writes
     * (a replica may not have applied the newest orders yet); the replica
     * serves when the primary does not answer */
    j->st = SK_EGROUP_UNAVAILABLE;
    dal_pool *pp = rt_primary(j->r, j->id);
    if (pp != NULL) {
        j->st = query_page(pp, j->timeout_ms, j->args, "orders", j->rows, &j->n);
        if (j->st == SK_OK)
            return NULL;
    }
    dal_pool *rp = rt_replica(j->r, j->id);
    if (rp != NULL)
        j->st = query_page(rp, j->timeout_ms, j->args, "orders", j->rows, &j->n);
    return NULL;
}

static int cmp_order(const void *x, const void *y)
{
    const order_t *a = x, *b = y;
    int c = mlist_cmp(a->created_at_ms, a->order_no, b->created_at_ms, b->order_no);
    if (c != 0)
        return c;
    return a->version > b->version ? -1 : a->version < b->version; /* newest version first */
}

static void render(http_resp *rs, const mlist_args *args, order_t *rows, int n, const char *source, json_t *extra)
{
    json_t *arr = json_array();
    int shown = n > args->limit ? args->limit : n;
    for (int i = 0; i < shown; i++)
        json_array_append_new(arr, ord_to_json(&rows[i]));
    json_t *j = json_object();
    json_object_set_new(j, "orders", arr);
    if (n > args->limit) {
        mcur cur = {.created_ms = rows[shown - 1].created_at_ms};
        memcpy(cur.order_no, rows[shown - 1].order_no, sizeof cur.order_no);
        char enc[MCUR_MAX];
        mcur_encode(&cur, enc);
        json_object_set_new(j, "next_cursor", json_string(enc));
    } else {
        json_object_set_new(j, "next_cursor", json_null());
    }
    json_object_set_new(j, "source", json_string(source));
    int64_t lag = met_mirror_lag_ms();
    json_object_set_new(j, "mirror_lag_ms",
                        strcmp(source, "mirror") == 0 && lag >= 0 ? json_integer(lag) : json_null());
    if (extra) {
        json_object_update(j, extra);
        json_decref(extra);
    }
    reply_json_body(rs, 200, j);
}

static void gather(const rt *r, const mlist_args *args, http_resp *rs, bool fallback);

/* Bulkhead: a burst of fallback listings (merchant store down) must not
 * multiply threads and memory without bound. */
static void from_groups(const rt *r, const mlist_args *args, http_resp *rs, bool fallback)
{
    if (atomic_fetch_add(&gathers, 1) >= GATHER_MAX_INFLIGHT) {
        atomic_fetch_sub(&gathers, 1);
        reply_error(rs, SK_EOVERLOADED, NULL, "too many group listings in flight; retry", NULL);
        return;
    }
    gather(r, args, rs, fallback);
    atomic_fetch_sub(&gathers, 1);
}

static void gather(const rt *r, const mlist_args *args, http_resp *rs, bool fallback)
{
    const conf *c = r->c;
    gjob *jobs = calloc((size_t)c->ngroups, sizeof *jobs);
    int per = args->limit + 1;
    order_t *all = calloc((size_t)c->ngroups * (size_t)per + 1, sizeof *all);
    if (jobs == NULL || all == NULL) {
        free(jobs);
        free(all);
        reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return;
    }
    int nj = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        if (cg->state == GROUP_RETIRED || cg->primary == NULL)
            continue; /* its rows live in its alias target */
        gjob *j = &jobs[nj];
        j->r = r;
        j->id = cg->id;
        j->timeout_ms = c->db_read_timeout_ms;
        j->args = args;
        j->rows = &all[(size_t)nj * (size_t)per];
        j->st = SK_EGROUP_UNAVAILABLE;
        j->started = pthread_create(&j->th, NULL, gjob_main, j) == 0;
        if (!j->started)
            gjob_main(j); /* no thread: do it inline rather than skip the group */
        nj++;
    }
    json_t *unavail = json_array();
    int total = 0, ok_groups = 0;
    for (int i = 0; i < nj; i++) {
        gjob *j = &jobs[i];
        if (j->started)
            pthread_join(j->th, NULL);
        if (j->st != SK_OK) {
            json_array_append_new(unavail, json_integer(j->id));
            sk_debug("event=merchant_list_group_failed group=%d status=%s", j->id, sk_status_name(j->st));
            continue;
        }
        ok_groups++;
        /* compact into the front of `all` */
        if (&all[total] != j->rows)
            memmove(&all[total], j->rows, (size_t)j->n * sizeof *all);
        total += j->n;
    }
    free(jobs);
    if (ok_groups == 0 && nj > 0) {
        free(all);
        json_decref(unavail);
        reply_error(rs, SK_EGROUP_UNAVAILABLE, NULL, "neither the merchant store nor any group answered", NULL);
        return;
    }
    qsort(all, (size_t)total, sizeof *all, cmp_order);
    int u = 0; /* drop a row present twice (a group being copied during shrink): keep the newest version */
    for (int i = 0; i < total; i++) {
        if (u > 0 && strcmp(all[u - 1].order_no, all[i].order_no) == 0)
            continue;
        if (u != i)
            all[u] = all[i];
        u++;
    }
    json_t *extra = json_object();
    json_object_set_new(extra, "partial", json_boolean(json_array_size(unavail) > 0));
    json_object_set_new(extra, "unavailable_groups", unavail);
    if (fallback)
        json_object_set_new(extra, "fallback_reason", json_string("merchant_store_unavailable"));
    render(rs, args, all, u, "groups", extra);
    free(all);
}

void listing_merchant_orders(const rt *r, const route_target *t, http_resp *rs, const char *merchant_id)
{
    const conf *c = r->c;
    mlist_args args;
    ord_err e = {{0}, {0}};
    sk_status st = mlist_parse(merchant_id, qget, (void *)t, &args, &e);
    if (st != SK_OK) {
        reply_error(rs, st, e.field, e.message, NULL);
        return;
    }
    if (args.source == MSRC_GROUPS) {
        from_groups(r, &args, rs, false);
        return;
    }
    dal_pool *p = r->merchant;
    if (p != NULL && sk_mono_ms() >= atomic_load(&down_until)) {
        order_t *rows = calloc((size_t)args.limit + 1, sizeof *rows);
        if (rows == NULL) {
            reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
            return;
        }
        int n = 0;
        st = query_page(p, c->db_read_timeout_ms, &args, "merchant_orders", rows, &n);
        if (st == SK_OK) {
            render(rs, &args, rows, n, "mirror", NULL);
            free(rows);
            return;
        }
        free(rows);
        if (st == SK_ECONNECT || st == SK_ETIMEDOUT) {
            atomic_store(&down_until, sk_mono_ms() + MERCHANT_DOWN_MS);
            dal_pool_invalidate(p);
        }
        sk_warn("event=merchant_store_unavailable status=%s action=scatter_gather_groups", sk_status_name(st));
    }
    from_groups(r, &args, rs, true);
}
