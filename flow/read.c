/* flow/read.c — reads of existing orders; see flow.h. */
#include "flow/internal.h"

#include <string.h>

bool flow_group_down(app *a, const conf *c, int id)
{
    grt_probe p = grt_probe_get(a->grt, id);
    if (p.at_mono_ms == 0)
        return false;
    return !p.ok && sk_mono_ms() - p.at_mono_ms <= c->probe_fresh_ms;
}

static sk_status get_on(dal_pool *p, int64_t deadline, const char *order_no, order_t *o)
{
    dal_conn *dc;
    sk_status st = dal_acquire(p, deadline, &dc);
    if (st != SK_OK)
        return st;
    st = dal_order_get(dal_mysql(dc), order_no, o);
    dal_release(p, dc, st != SK_OK && st != SK_ENOT_FOUND);
    return st;
}

/* A read on the replica, feeding its breaker: an answer (found or not: a
 * lagging replica is not a dead one) ends the avoidance, a failure starts it. */
static sk_status read_replica(dal_pool *rp, const conf *c, int64_t hold, const char *order_no, order_t *o)
{
    sk_status st = get_on(rp, sk_mono_ms() + c->db_read_timeout_ms, order_no, o);
    if (st == SK_OK || st == SK_ENOT_FOUND)
        dal_pool_answered(rp);
    else if (st != SK_EOVERLOADED)
        dal_pool_avoid(rp, sk_mono_ms(), hold);
    return st;
}

sk_status flow_read_order(app *a, const rt *r, int group, const char *order_no, bool replica_first, order_t *o,
                          const char **from)
{
    const conf *c = r->c;
    dal_pool *rp = replica_first ? rt_replica(r, group) : NULL;
    /* a replica that failed (down, partitioned) is skipped for a while: one
     * read pays its timeout, the others go to the primary at once; one read
     * per hold tries it again. When the primary cannot answer either, the
     * replica is tried anyway: it is the only copy left to read. */
    int64_t hold = 2 * (int64_t)c->db_read_timeout_ms;
    bool tried = false;
    if (rp && dal_pool_usable(rp, sk_mono_ms(), hold)) {
        tried = true;
        if (read_replica(rp, c, hold, order_no, o) == SK_OK) {
            *from = "replica";
            return SK_OK;
        }
    }
    dal_pool *pp = rt_primary(r, group);
    sk_status st = SK_EGROUP_UNAVAILABLE;
    if (pp != NULL && !flow_group_down(a, c, group)) {
        st = get_on(pp, sk_mono_ms() + c->db_read_timeout_ms, order_no, o);
        if (st == SK_OK)
            *from = "primary";
        if (st == SK_OK || st == SK_ENOT_FOUND || st == SK_EOVERLOADED)
            return st;
    }
    if (rp && !tried && read_replica(rp, c, hold, order_no, o) == SK_OK) {
        *from = "replica";
        return SK_OK;
    }
    return SK_EGROUP_UNAVAILABLE;
}

/* The routed group of a stamped id, or -1 (an alias chain broke since the
 * HTTP layer checked it: a reload in between). */
static int route(const rt *r, int stamped) { return conf_route_group(r->c, stamped); }

static void unavailable(flow_result *out, sk_status st)
{
    out->status = st;
    out->message = st == SK_ENOT_FOUND ? "no such order"
                   : st == SK_EOVERLOADED ? "the order's group is at capacity; retry"
                                          : "the order's group is unavailable; retry after failover";
    out->field = st == SK_ENOT_FOUND ? "order_no" : NULL;
}

void flow_read(app *a, const char *order_no, int stamped, bool strong, flow_result *out)
{
    memset(out, 0, sizeof *out);
    rt *r = rt_get(a->rt);
    int g = route(r, stamped);
    sk_status st = g < 0 ? SK_EBAD_ORDER_NO
                         : flow_read_order(a, r, g, order_no, !strong, &out->order, &out->read_from);
    rt_put(r);
    if (st == SK_OK) {
        out->has_order = true;
        return;
    }
    if (st == SK_EBAD_ORDER_NO) {
        out->status = st;
        out->field = "order_no";
        out->message = "unknown group";
        return;
    }
    unavailable(out, st);
}

void flow_refunds(app *a, const char *order_no, int stamped, refund_t *list, int max, int *n, flow_result *out)
{
    memset(out, 0, sizeof *out);
    *n = 0;
    rt *r = rt_get(a->rt);
    int g = route(r, stamped);
    sk_status st = g < 0 ? SK_EBAD_ORDER_NO : flow_read_order(a, r, g, order_no, false, &out->order, &out->read_from);
    if (st == SK_OK) {
        out->has_order = true;
        dal_pool *pool = rt_primary(r, g);
        dal_conn *dc;
        st = pool ? dal_acquire(pool, sk_mono_ms() + r->c->db_read_timeout_ms, &dc) : SK_EGROUP_UNAVAILABLE;
        if (st == SK_OK) {
            st = dal_refund_list(dal_mysql(dc), order_no, list, max, n);
            dal_release(pool, dc, st != SK_OK);
            if (st != SK_OK)
                st = SK_EGROUP_UNAVAILABLE;
        }
    }
    rt_put(r);
    if (st == SK_OK)
        return;
    if (st == SK_EBAD_ORDER_NO) {
        out->status = st;
        out->field = "order_no";
        out->message = "unknown group";
        return;
    }
    unavailable(out, st == SK_EOVERLOADED ? st : st == SK_ENOT_FOUND ? st : SK_EGROUP_UNAVAILABLE);
}
