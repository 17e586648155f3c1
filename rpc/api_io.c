/*
 * rpc/api_io.c — the HTTP API of spec §4: routing, auth, and the create /
 * read / update paths. The create path is the spine of the product:
 *
 *   validate (pure) -> idempotency claim (Redis) -> pick a group from the
 *   in-memory view (no I/O) -> one transaction on that group's pool ->
 *   on failure: count it, exclude the group, go round again within the
 *   request deadline -> render.
 */
#include "rpc/app.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dal/dal.h"
#include "order/order.h"
#include "prober/prober.h"
#include "rpc/errors.h"
#include "rpc/metrics.h"
#include "rpc/reply.h"
#include "selector/sel.h"

#define IDEM_TTL_MS 86400000LL   /* a finished claim is kept one day */
#define SLOW_PROBE_FACTOR 2      /* probe running > timeout/2: result considered stale */

/* ---------- small helpers ---------- */

/* replies through rpc/reply.h: one rendering of spec §4 bodies */
#define reply_json reply_json_body
#define reply_err reply_error

static int slow_ms(const conf *c) { return c->probe_timeout_ms / SLOW_PROBE_FACTOR; }

sk_status app_new_number(app *a, int group, int64_t deadline_ms, char out[ONO_LEN + 1])
{
    for (;;) {
        pthread_mutex_lock(&a->gen_mu);
        int r = ono_gen_next(&a->gen, sk_now_ms() / 1000, group, out);
        pthread_mutex_unlock(&a->gen_mu);
        if (r == 0)
            return SK_OK;
        if (r < 0)
            return SK_EINTERNAL;
        if (sk_mono_ms() >= deadline_ms)
            return SK_EOVERLOADED;
        struct timespec ts = {0, 2000000L}; /* sequence exhausted: wait for the next second */
        nanosleep(&ts, NULL);
    }
}

/* Is the group's primary known-dead right now (fresh failed probe)? */
static bool group_down(app *a, const conf *c, int id)
{
    grt_probe p = grt_probe_get(a->grt, id);
    if (p.at_mono_ms == 0)
        return false;
    return !p.ok && sk_mono_ms() - p.at_mono_ms <= c->probe_fresh_ms;
}

/* Parse and route an order number from the path. */
static sk_status route_order(const conf *c, const char *no, size_t len, int *stamped, int *target, const char **why)
{
    ono_fields f;
    sk_status st = ono_parse(no, len, &f, why);
    if (st != SK_OK)
        return SK_EBAD_ORDER_NO;
    int t = conf_route_group(c, f.group);
    if (t < 0) {
        *why = "unknown group";
        return SK_EBAD_ORDER_NO;
    }
    *stamped = f.group;
    *target = t;
    return SK_OK;
}

/* Read an order. replica_first: try the replica, fall back to the primary on
 * a miss or error (read-your-writes). *from gets "replica" or "primary". */
static sk_status read_order(app *a, const conf *c, int group, const char *order_no, bool replica_first,
                            order_t *o, const char **from)
{
    int64_t deadline = sk_mono_ms() + c->db_read_timeout_ms;
    sk_status rst = SK_ENOT_FOUND;
    dal_pool *rp = replica_first ? grt_replica(a->grt, group) : NULL;
    if (rp) {
        dal_conn *dc;
        rst = dal_acquire(rp, deadline, &dc);
        if (rst == SK_OK) {
            rst = dal_order_get(dal_mysql(dc), order_no, o);
            dal_release(rp, dc, rst != SK_OK && rst != SK_ENOT_FOUND);
            if (rst == SK_OK) {
                *from = "replica";
                return SK_OK;
            }
        }
    }
    dal_pool *pp = grt_primary(a->grt, group);
    if (pp == NULL)
        return SK_EGROUP_UNAVAILABLE;
    if (group_down(a, c, group))
        return SK_EGROUP_UNAVAILABLE;
    dal_conn *dc;
    sk_status st = dal_acquire(pp, sk_mono_ms() + c->db_read_timeout_ms, &dc);
    if (st == SK_EOVERLOADED)
        return SK_EOVERLOADED;
    if (st != SK_OK)
        return SK_EGROUP_UNAVAILABLE;
    st = dal_order_get(dal_mysql(dc), order_no, o);
    dal_release(pp, dc, st != SK_OK && st != SK_ENOT_FOUND);
    if (st == SK_OK) {
        *from = "primary";
        return SK_OK;
    }
    if (st == SK_ENOT_FOUND)
        return SK_ENOT_FOUND;
    return SK_EGROUP_UNAVAILABLE;
}

/* ---------- idempotency claim (Redis) ----------
 *
 * One key per merchant_id+out_trade_no, value "<order_no>|<deadline_ms>|<token>":
 * the number this create is about to insert, the wall-clock deadline of the
 * request that holds it, and that daemon's token. It is set with SET NX
 * before the insert (one Redis round trip on the normal path) and moved with
 * SET XX when the create moves to another group, before that insert — so the
 * key always names the group where the order is or is being written.
 *
 * A second request with the same key reads the order under that number:
 * found -> replay or 409; not found while the holder's deadline (plus the
 * longest a started DB call can still take) has not passed -> wait and look
 * again; not found after that -> the holder died or gave up: take the key
 * over (compare-and-set) and create. */

#define CLAIM_TAKEOVER_MARGIN_MS 5000

typedef enum { CLAIM_OWNED, CLAIM_DONE, CLAIM_NONE, CLAIM_BUSY, CLAIM_UNAVAILABLE } claim_res;

static void claim_value(const app *a, const char *order_no, int64_t deadline_wall, char *out, size_t cap)
{
    snprintf(out, cap, "%s|%lld|%s", order_no, (long long)deadline_wall, a->token);
}

static claim_res claim_acquire(app *a, const conf *c, const char *key, const char *val, int64_t deadline,
                               order_t *existing)
{
    for (;;) {
        if (sk_mono_ms() >= deadline - 100)
            return CLAIM_BUSY; /* every way round this loop is bounded by the request deadline */
        redisReply *r = kv_cmd(a->kv, "SET %s %s NX PX %lld", key, val, IDEM_TTL_MS);
        if (r == NULL)
            return CLAIM_NONE;
        bool ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (ok)
            return CLAIM_OWNED;
        r = kv_cmd(a->kv, "GET %s", key);
        if (r == NULL)
            return CLAIM_NONE;
        if (r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            continue; /* released meanwhile: try to take it */
        }
        char cur[160] = "";
        if (r->type == REDIS_REPLY_STRING)
            sk_strlcpy(cur, r->str, sizeof cur);
        freeReplyObject(r);
        long long holder_deadline = 0;
        char *bar = strchr(cur, '|');
        if (bar)
            holder_deadline = strtoll(bar + 1, NULL, 10);
        int stamped, target;
        const char *why, *from;
        sk_status st = bar && bar - cur == ONO_LEN ? SK_OK : SK_EBAD_ORDER_NO;
        if (st == SK_OK) {
            *bar = '\0';
            st = route_order(c, cur, ONO_LEN, &stamped, &target, &why);
            *bar = '|';
        }
        if (st == SK_OK) {
            char no[ONO_LEN + 1];
            memcpy(no, cur, ONO_LEN);
            no[ONO_LEN] = '\0';
            st = read_order(a, c, target, no, false, existing, &from);
            if (st == SK_OK)
                return CLAIM_DONE;
            if (st != SK_ENOT_FOUND)
                return CLAIM_UNAVAILABLE;
        }
        if (st != SK_OK && st != SK_ENOT_FOUND) /* garbage in the key: replace it */
            holder_deadline = 0;
        if (sk_now_ms() > holder_deadline + CLAIM_TAKEOVER_MARGIN_MS) {
            /* the holder is certainly done and wrote nothing under that number */
            r = kv_cmd(a->kv, "EVAL %s 1 %s %s %s %lld",
                       "if redis.call('get',KEYS[1])==ARGV[1] then "
                       "return redis.call('set',KEYS[1],ARGV[2],'PX',ARGV[3]) else return 0 end",
                       key, cur, val, IDEM_TTL_MS);
            if (r == NULL)
                return CLAIM_NONE;
            ok = r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            if (ok)
                return CLAIM_OWNED;
            continue;
        }
        if (sk_mono_ms() >= deadline - 100)
            return CLAIM_BUSY;
        struct timespec ts = {0, 20000000L}; /* the same create is in flight elsewhere */
        nanosleep(&ts, NULL);
    }
}

/* Point our claim at a new number before inserting it (a move to another group). */
static void claim_move(app *a, const char *key, const char *val)
{
    redisReply *r = kv_cmd(a->kv, "SET %s %s XX PX %lld", key, val, IDEM_TTL_MS);
    if (r)
        freeReplyObject(r);
}

static void claim_release(app *a, const char *key, const char *val)
{
    redisReply *r = kv_cmd(a->kv, "EVAL %s 1 %s %s",
                           "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
                           key, val);
    if (r)
        freeReplyObject(r);
}

/* ---------- create ---------- */

static void reply_order(http_resp *rs, int status, const order_t *o, const char *from)
{
    json_t *j = ord_to_json(o);
    if (from)
        json_object_set_new(j, "read_from", json_string(from));
    reply_json(rs, status, j);
}

/* The same merchant_id+out_trade_no exists: replay if identical, else 409. */
static void reply_existing(http_resp *rs, const order_t *o, const create_req *r)
{
    if (ord_same_request(o, r)) {
        http_add_header(rs, "Idempotent-Replay", "true");
        met_create(o->group, CR_REPLAY);
        reply_order(rs, 200, o, NULL);
    } else {
        json_t *x = json_pack("{s:s}", "order_no", o->order_no);
        reply_err(rs, SK_EDUPLICATE, "out_trade_no",
                  "out_trade_no already used by this merchant with different fields", x);
    }
}

static void h_create(app *a, const conf *c, const http_req *rq, http_resp *rs)
{
    create_req r;
    ord_err e = {{0}, {0}};
    sk_status st = ord_parse_create(rq->body, rq->len, c->default_expire_s, &r, &e);
    if (st != SK_OK) {
        reply_err(rs, st, e.field, e.message, NULL);
        return;
    }
    int64_t deadline = sk_mono_ms() + c->request_deadline_ms;
    int64_t deadline_wall = sk_now_ms() + c->request_deadline_ms;

    char key[160], val[200] = "";
    snprintf(key, sizeof key, "skip:idem:%s:%s", r.merchant_id, r.out_trade_no);
    bool claim_tried = false, owned = false;
    uint64_t khash = sel_hash(key, strlen(key), 0);
    /* on the heap: stack pages stay resident per connection thread */
    sel_view *v = calloc((size_t)c->ngroups, sizeof *v);
    if (v == NULL) {
        reply_err(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return;
    }
    bool excluded[CONF_MAX_GROUPS + 1] = {false};
    bool saw_overload = false;
    for (;;) {
        if (sk_mono_ms() >= deadline)
            break;
        int64_t now = sk_mono_ms();
        int n = grt_views(a->grt, c, now, v);
        for (int i = 0; i < n; i++) {
            v[i].excluded = excluded[v[i].id];
            if (v[i].overloaded)
                saw_overload = true;
        }
        bool needs_probe = false;
        int idx = sel_pick(v, n, now, c->probe_fresh_ms, slow_ms(c), khash, &needs_probe);
        if (idx < 0)
            break;
        int g = v[idx].id;
        excluded[g] = true;
        dal_pool *pool = grt_primary(a->grt, g);
        if (pool == NULL)
            continue;
        int64_t acq_deadline = now + 100 < deadline ? now + 100 : deadline;
        dal_conn *dc;
        st = dal_acquire(pool, acq_deadline, &dc);
        if (st == SK_EOVERLOADED) {
            saw_overload = true;
            met_skip_inc(g, SKIP_R_OVERLOADED);
            continue;
        }
        if (st != SK_OK) {
            grt_record_failure(a->grt, g, c->window_s);
            met_skip_inc(g, SKIP_R_INSERT_FAILED);
            met_create(g, CR_FAILED);
            continue;
        }
        if (needs_probe && !probe_inline(a->grt, c, g, dal_mysql(dc))) {
            dal_release(pool, dc, true);
            met_skip_inc(g, SKIP_R_PROBE_FAILED);
            continue;
        }
        order_t o;
        char no[ONO_LEN + 1];
        st = app_new_number(a, g, deadline, no);
        if (st != SK_OK) {
            dal_release(pool, dc, false);
            break;
        }
        claim_value(a, no, deadline_wall, val, sizeof val);
        if (!claim_tried) {
            claim_tried = true;
            order_t ex;
            claim_res cl = claim_acquire(a, c, key, val, deadline, &ex);
            if (cl != CLAIM_OWNED && cl != CLAIM_NONE)
                dal_release(pool, dc, false);
            if (cl == CLAIM_DONE) {
                reply_existing(rs, &ex, &r);
                { free(v); return; }
            }
            if (cl == CLAIM_BUSY) {
                reply_err(rs, SK_EOVERLOADED, "out_trade_no", "a create with this out_trade_no is in progress; retry", NULL);
                { free(v); return; }
            }
            if (cl == CLAIM_UNAVAILABLE) {
                reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL,
                          "the existing order for this out_trade_no is in an unavailable group", NULL);
                { free(v); return; }
            }
            owned = cl == CLAIM_OWNED;
        } else if (owned) {
            claim_move(a, key, val);
        }
        ord_build(&r, no, g, sk_now_ms(), &o);
        /* one rendering serves as the outbox event and the response body */
        json_t *oj = ord_to_json(&o);
        char *js = oj ? json_dumps(oj, JSON_COMPACT) : NULL;
        json_decref(oj);
        if (js == NULL) {
            dal_release(pool, dc, false);
            break;
        }
        st = dal_order_insert_json(dal_mysql(dc), &o, js);
        if (st == SK_OK) {
            dal_release(pool, dc, false);
            met_create(g, CR_OK);
            rs->status = 201;
            rs->body = js;
            rs->len = strlen(js);
            { free(v); return; }
        }
        free(js);
        if (st == SK_EDUPKEY) {
            /* the key exists in this group (written while Redis was down, or
             * by a create whose claim expired): answer from the stored order */
            order_t ex;
            sk_status gst = dal_order_get_by_out_trade(dal_mysql(dc), r.merchant_id, r.out_trade_no, &ex);
            dal_release(pool, dc, gst != SK_OK && gst != SK_ENOT_FOUND);
            if (gst == SK_OK) {
                if (owned) {
                    claim_value(a, ex.order_no, deadline_wall, val, sizeof val);
                    claim_move(a, key, val);
                }
                reply_existing(rs, &ex, &r);
                { free(v); return; }
            }
            continue;
        }
        /* the group failed this insert: count it and move on */
        dal_release(pool, dc, st != SK_EDB);
        grt_record_failure(a->grt, g, c->window_s);
        met_skip_inc(g, SKIP_R_INSERT_FAILED);
        met_create(g, CR_FAILED);
        if (st == SK_ETIMEDOUT)
            sk_warn("event=create_outcome_unknown group=%d order_no=%s merchant_id=%s out_trade_no=%s",
                    g, o.order_no, o.merchant_id, o.out_trade_no);
        else
            sk_debug("event=create_failed group=%d status=%s", g, sk_status_name(st));
    }
    if (owned)
        claim_release(a, key, val);
    if (saw_overload)
        reply_err(rs, SK_EOVERLOADED, NULL, "every writable group is at capacity", NULL);
    else
        reply_err(rs, SK_ENO_WRITABLE_GROUP, NULL, "no group can take new orders now", NULL);
    free(v);
}

/* The order number of a /v1/orders/{no}/... path: parse, route through the
 * alias map, copy out NUL-terminated. On a bad number replies 400
 * BAD_ORDER_NO and returns false. */
static bool path_order(const conf *c, http_resp *rs, const char *no, size_t nolen, char order_no[ONO_LEN + 1],
                       int *stamped, int *target)
{
    const char *why = NULL;
    sk_status st = route_order(c, no, nolen, stamped, target, &why);
    if (st != SK_OK) {
        reply_err(rs, st, "order_no", why, NULL);
        return false;
    }
    memcpy(order_no, no, ONO_LEN);
    order_no[ONO_LEN] = '\0';
    return true;
}

/* ---------- read / update existing orders ---------- */

static void h_get(app *a, const conf *c, const http_req *rq, http_resp *rs, const char *no, size_t nolen)
{
    int stamped, target;
    const char *from = NULL;
    char order_no[ONO_LEN + 1];
    if (!path_order(c, rs, no, nolen, order_no, &stamped, &target))
        return;
    sk_status st;
    const char *cons = http_query(rq, "consistency");
    bool strong = false;
    if (cons != NULL) {
        if (strcmp(cons, "strong") == 0)
            strong = true;
        else if (strcmp(cons, "eventual") != 0) {
            reply_err(rs, SK_EINVALID_ARGUMENT, "consistency", "consistency must be strong or eventual", NULL);
            return;
        }
    }
    order_t o;
    st = read_order(a, c, target, order_no, !strong, &o, &from);
    if (st == SK_ENOT_FOUND) {
        reply_err(rs, st, "order_no", "no such order", NULL);
        return;
    }
    if (st != SK_OK) {
        reply_err(rs, st, NULL, "the order's group is unavailable; retry after failover", NULL);
        return;
    }
    reply_order(rs, 200, &o, from);
}

typedef enum { UPD_PAY, UPD_CLOSE, UPD_REFUND } upd_kind;

static void h_update_locked(app *a, const conf *c, http_resp *rs, const char *order_no, int stamped, int target,
                            upd_kind k, dal_change *chp);

static void h_update(app *a, const conf *c, const http_req *rq, http_resp *rs, const char *no, size_t nolen, upd_kind k)
{
    int stamped, target;
    char order_no[ONO_LEN + 1];
    if (!path_order(c, rs, no, nolen, order_no, &stamped, &target))
        return;
    sk_status st;
    pay_req pr;
    close_req cr;
    refund_req fr;
    ord_err e = {{0}, {0}};
    dal_change ch = {.now_ms = 0};
    if (k == UPD_PAY) {
        st = ord_parse_pay(rq->body, rq->len, &pr, &e);
        ch.ev = OE_PAY;
        ch.pay = &pr;
    } else if (k == UPD_CLOSE) {
        st = ord_parse_close(rq->body, rq->len, &cr, &e);
        ch.ev = OE_CLOSE;
        ch.close = &cr;
    } else {
        st = ord_parse_refund(rq->body, rq->len, &fr, &e);
        ch.ev = OE_REFUND;
        ch.refund = &fr;
    }
    if (st != SK_OK) {
        reply_err(rs, st, e.field, e.message, NULL);
        return;
    }
    if (!grt_write_enter(a->grt, target)) {
        /* a shrink is moving this group's rows: wait for the freeze to lift,
         * then route again with the config in force by then (the alias may
         * have flipped) — the request waits, it does not fail */
        int64_t until = sk_mono_ms() + c->request_deadline_ms;
        while (grt_frozen(a->grt, target) && sk_mono_ms() < until) {
            struct timespec ts = {0, 5000000L};
            nanosleep(&ts, NULL);
        }
        if (grt_frozen(a->grt, target))
            reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL, "the order's group is frozen for a migration; retry", NULL);
        else
            rs->status = -1; /* ask api_handle to dispatch again */
        return;
    }
    h_update_locked(a, c, rs, order_no, stamped, target, k, &ch);
    grt_write_exit(a->grt, target);
}

static void h_update_locked(app *a, const conf *c, http_resp *rs, const char *order_no, int stamped, int target,
                            upd_kind k, dal_change *chp)
{
    dal_change ch = *chp;
    sk_status st;
    dal_pool *pool = grt_primary(a->grt, target);
    if (pool == NULL || group_down(a, c, target)) {
        reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL, "the order's group is unavailable; retry after failover", NULL);
        return;
    }
    int64_t deadline = sk_mono_ms() + c->db_read_timeout_ms;
    char refund_no[ONO_LEN + 1] = "";
    if (k == UPD_REFUND) {
        st = app_new_number(a, stamped, deadline, refund_no);
        if (st != SK_OK) {
            reply_err(rs, st, NULL, "could not issue a refund number", NULL);
            return;
        }
        ch.refund_no = refund_no;
    }
    dal_conn *dc;
    st = dal_acquire(pool, deadline, &dc);
    if (st != SK_OK) {
        if (st != SK_EOVERLOADED)
            grt_record_failure(a->grt, target, c->window_s);
        reply_err(rs, st == SK_EOVERLOADED ? st : SK_EGROUP_UNAVAILABLE, NULL,
                  "the order's group is unavailable; retry after failover", NULL);
        return;
    }
    ch.now_ms = sk_now_ms();
    dal_change_result res;
    st = dal_order_change(dal_mysql(dc), order_no, &ch, &res);
    bool io_fail = st == SK_ETIMEDOUT || st == SK_ECONNECT || st == SK_EREADONLY || st == SK_EDB;
    dal_release(pool, dc, io_fail && st != SK_EREADONLY);
    if (io_fail) {
        grt_record_failure(a->grt, target, c->window_s);
        reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL, "the order's group failed the update; retry", NULL);
        return;
    }
    (void)stamped;
    if (st == SK_ENOT_FOUND) {
        reply_err(rs, st, "order_no", "no such order", NULL);
        return;
    }
    if (st == SK_EVERSION_CONFLICT) {
        json_t *x = json_pack("{s:I}", "current_version", (json_int_t)res.current_version);
        reply_err(rs, st, "expected_version", "expected_version does not match the order", x);
        return;
    }
    if (st == SK_EDUPLICATE) {
        reply_err(rs, st, "out_refund_no", "out_refund_no already used with a different amount", NULL);
        return;
    }
    if (st != SK_OK) {
        json_t *x = json_pack("{s:s,s:I}", "status", os_status_name(res.order.status), "current_version",
                              (json_int_t)res.order.version);
        const char *msg = NULL;
        switch (st) {
        case SK_EAMOUNT_MISMATCH: msg = "paid_amount must equal the order amount"; break;
        case SK_EORDER_CLOSED: msg = "the order is closed"; break;
        case SK_EORDER_EXPIRED: msg = "the order has expired"; break;
        case SK_EALREADY_PAID: msg = "the order was paid by another transaction"; break;
        case SK_EILLEGAL_TRANSITION: msg = "this change is not allowed in the order's status"; break;
        case SK_EREFUND_EXCEEDS: msg = "refunds would exceed the paid amount"; break;
        default: break;
        }
        reply_err(rs, st, k == UPD_PAY && st == SK_EAMOUNT_MISMATCH ? "paid_amount"
                          : k == UPD_REFUND && st == SK_EREFUND_EXCEEDS ? "amount" : NULL, msg, x);
        return;
    }
    if (k == UPD_REFUND) {
        json_t *j = json_object();
        json_object_set_new(j, "refund", refund_to_json(&res.refund));
        json_object_set_new(j, "order", ord_to_json(&res.order));
        reply_json(rs, res.refund_existing ? 200 : 201, j);
        return;
    }
    reply_order(rs, 200, &res.order, NULL);
}

static void h_refund_list(app *a, const conf *c, http_resp *rs, const char *no, size_t nolen)
{
    int stamped, target;
    const char *from = NULL;
    char order_no[ONO_LEN + 1];
    if (!path_order(c, rs, no, nolen, order_no, &stamped, &target))
        return;
    sk_status st;
    order_t o;
    st = read_order(a, c, target, order_no, false, &o, &from);
    if (st != SK_OK) {
        reply_err(rs, st, st == SK_ENOT_FOUND ? "order_no" : NULL,
                  st == SK_ENOT_FOUND ? "no such order" : "the order's group is unavailable", NULL);
        return;
    }
    dal_pool *pool = grt_primary(a->grt, target);
    dal_conn *dc;
    st = dal_acquire(pool, sk_mono_ms() + c->db_read_timeout_ms, &dc);
    if (st != SK_OK) {
        reply_err(rs, st == SK_EOVERLOADED ? st : SK_EGROUP_UNAVAILABLE, NULL, "the order's group is unavailable", NULL);
        return;
    }
    enum { MAXR = 1000 };
    refund_t *list = calloc(MAXR, sizeof *list);
    int n = 0;
    st = list ? dal_refund_list(dal_mysql(dc), order_no, list, MAXR, &n) : SK_ENOMEM;
    dal_release(pool, dc, st != SK_OK);
    if (st != SK_OK) {
        free(list);
        reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL, "the order's group is unavailable", NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, refund_to_json(&list[i]));
    free(list);
    json_t *j = json_object();
    json_object_set_new(j, "order_no", json_string(order_no));
    json_object_set_new(j, "refunds", arr);
    reply_json(rs, 200, j);
}

/* ---------- groups, health, metrics ---------- */

static json_t *group_json(app *a, const conf *c, const sel_view *v, const conf_group *cg)
{
    grt_probe p = grt_probe_get(a->grt, cg->id);
    json_t *probe;
    if (p.at_wall_ms == 0) {
        probe = json_null();
    } else {
        char at[25];
        ord_fmt_time(p.at_wall_ms, at);
        probe = json_pack("{s:s,s:b,s:i,s:s?}", "at", at, "ok", p.ok, "ms", p.ms, "error",
                          p.ok ? NULL : p.error);
    }
    json_t *reps = json_array();
    for (int i = 0; i < cg->nreplicas; i++)
        json_array_append_new(reps, json_string(cg->replicas[i]));
    json_t *g = json_object();
    json_object_set_new(g, "id", json_integer(cg->id));
    json_object_set_new(g, "state", json_string(conf_group_state_name(sel_state(v))));
    json_object_set_new(g, "weight", json_integer(cg->weight));
    json_object_set_new(g, "failures_this_window", json_integer(v->failures));
    json_object_set_new(g, "threshold", json_integer(c->threshold));
    json_object_set_new(g, "window_s", json_integer(c->window_s));
    json_object_set_new(g, "last_probe", probe);
    json_object_set_new(g, "primary", cg->primary ? json_string(cg->primary) : json_null());
    json_object_set_new(g, "replicas", reps);
    json_object_set_new(g, "alias_of", cg->alias_of ? json_integer(cg->alias_of) : json_null());
    json_object_set_new(g, "fenced", json_boolean(v->fenced || cg->state == GROUP_FENCED));
    json_object_set_new(g, "inflight", json_integer(grt_primary(a->grt, cg->id) ? dal_pool_inflight(grt_primary(a->grt, cg->id)) : 0));
    json_object_set_new(g, "outbox_pending", json_integer(grt_outbox_pending(a->grt, cg->id)));
    return g;
}

static void h_groups(app *a, const conf *c, http_resp *rs)
{
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, c, sk_mono_ms(), v);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, group_json(a, c, &v[i], &c->groups[i]));
    json_t *j = json_object();
    json_object_set_new(j, "groups", arr);
    json_object_set_new(j, "counters", json_string(grt_counters_local(a->grt) ? "local" : "shared"));
    json_object_set_new(j, "node_id", json_integer(c->node_id));
    int64_t lag = met_mirror_lag_ms();
    json_object_set_new(j, "mirror_lag_ms", lag >= 0 ? json_integer(lag) : json_null());
    reply_json(rs, 200, j);
}

static void h_fence(app *a, const conf *c, http_resp *rs, const char *id_s, bool fence)
{
    char *end;
    long id = strtol(id_s, &end, 10);
    const conf_group *cg = (*id_s && *end == '\0') ? conf_group_by_id(c, (int)id) : NULL;
    if (cg == NULL) {
        reply_err(rs, SK_ENOT_FOUND, "id", "no such group", NULL);
        return;
    }
    if (cg->state == GROUP_RETIRED) {
        reply_err(rs, SK_EILLEGAL_TRANSITION, "id", "a retired group cannot be fenced or unfenced", NULL);
        return;
    }
    sk_status st = grt_set_fence(a->grt, cg->id, fence);
    if (st != SK_OK) {
        reply_err(rs, st, NULL, NULL, NULL);
        return;
    }
    sk_info("event=%s group=%d", fence ? "fence" : "unfence", cg->id);
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, c, sk_mono_ms(), v);
    for (int i = 0; i < n; i++)
        if (v[i].id == cg->id) {
            reply_json(rs, 200, group_json(a, c, &v[i], cg));
            return;
        }
    reply_err(rs, SK_EINTERNAL, NULL, NULL, NULL);
}

static int writable_groups(app *a, const conf *c)
{
    sel_view v[CONF_MAX_GROUPS];
    int64_t now = sk_mono_ms();
    int n = grt_views(a->grt, c, now, v), k = 0;
    for (int i = 0; i < n; i++)
        if (sel_skip_reason(&v[i], now, c->probe_fresh_ms, slow_ms(c)) == NULL &&
            sel_probe_class(&v[i], now, c->probe_fresh_ms, slow_ms(c)) != SEL_PROBE_FRESH_FAIL)
            k++;
    return k;
}

static void h_readyz(app *a, const conf *c, http_resp *rs)
{
    int k = writable_groups(a, c);
    json_t *j = json_pack("{s:s,s:i,s:s}", "status", k > 0 ? "ready" : "not_ready", "writable_groups", k,
                          "counters", grt_counters_local(a->grt) ? "local" : "shared");
    reply_json(rs, k > 0 ? 200 : 503, j);
}

static void h_metrics(app *a, const conf *c, http_resp *rs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        reply_err(rs, SK_EINTERNAL, NULL, NULL, NULL);
        return;
    }
    met_render(f);
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, c, sk_mono_ms(), v);
    fprintf(f, "# HELP skipstore_group_state 1 for the group's current state.\n# TYPE skipstore_group_state gauge\n");
    for (int i = 0; i < n; i++) {
        group_state s = sel_state(&v[i]);
        for (int k = 0; k < GROUP_STATE_MAX; k++)
            fprintf(f, "skipstore_group_state{group=\"%d\",state=\"%s\"} %d\n", v[i].id,
                    conf_group_state_name((group_state)k), k == (int)s);
    }
    fprintf(f, "# HELP skipstore_group_failures Failures counted in the current window.\n# TYPE skipstore_group_failures gauge\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "skipstore_group_failures{group=\"%d\"} %lld\n", v[i].id, (long long)v[i].failures);
    fprintf(f, "# HELP skipstore_outbox_pending Outbox rows not yet published.\n# TYPE skipstore_outbox_pending gauge\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "skipstore_outbox_pending{group=\"%d\"} %lld\n", v[i].id,
                (long long)grt_outbox_pending(a->grt, v[i].id));
    fprintf(f, "# HELP skipstore_counters_local 1 while Redis is unreachable and counters are local.\n"
               "# TYPE skipstore_counters_local gauge\nskipstore_counters_local %d\n", grt_counters_local(a->grt));
    fclose(f);
    rs->status = 200;
    rs->body = buf;
    rs->len = len;
    rs->content_type = "text/plain; version=0.0.4";
}

/* ---------- merchant listing (rpc/merchant_io.c) ---------- */
void api_merchant_orders(app *a, const conf *c, const http_req *rq, http_resp *rs, const char *merchant_id);

/* ---------- routing ---------- */

static bool bearer_is(const char *hdr, const char *token)
{
    return hdr && strncmp(hdr, "Bearer ", 7) == 0 && strcmp(hdr + 7, token) == 0;
}

/* 0 ok; else status to reply */
static sk_status check_auth(const conf *c, const http_req *rq, bool admin)
{
    const char *h = http_header(rq, "Authorization");
    if (admin) {
        if (c->admin_token[0] == '\0' || bearer_is(h, c->admin_token))
            return SK_OK;
        if (c->api_token[0] != '\0' && bearer_is(h, c->api_token))
            return SK_EFORBIDDEN;
        return SK_EUNAUTHENTICATED;
    }
    if (c->api_token[0] == '\0' || bearer_is(h, c->api_token) ||
        (c->admin_token[0] != '\0' && bearer_is(h, c->admin_token)))
        return SK_OK;
    return SK_EUNAUTHENTICATED;
}

static bool method_is(const http_req *rq, const char *m) { return strcmp(rq->method, m) == 0; }

static void not_allowed(http_resp *rs, const char *allow)
{
    http_add_header(rs, "Allow", allow);
    reply_err(rs, SK_EMETHOD, NULL, "method not allowed", NULL);
}

/* Split path into up to 6 segments (pointers into a copy). */
static int split(char *p, char **seg, int max)
{
    int n = 0;
    if (*p == '/')
        p++;
    while (*p && n < max) {
        seg[n++] = p;
        char *s = strchr(p, '/');
        if (s == NULL)
            break;
        *s = '\0';
        p = s + 1;
        if (*p == '\0') { /* trailing slash: an empty segment */
            if (n < max)
                seg[n++] = p;
            break;
        }
    }
    return n;
}

static met_route dispatch(app *a, const conf *c, const http_req *rq, http_resp *rs)
{
    char path[512];
    if (strlen(rq->path) >= sizeof path) {
        reply_err(rs, SK_ENOT_FOUND, NULL, "no such route", NULL);
        return RT_OTHER;
    }
    sk_strlcpy(path, rq->path, sizeof path);
    char *seg[8] = {0};
    int n = split(path, seg, 8);

    if (n == 1 && strcmp(seg[0], "healthz") == 0) {
        if (!method_is(rq, "GET") && !method_is(rq, "HEAD")) {
            not_allowed(rs, "GET");
            return RT_HEALTHZ;
        }
        reply_json(rs, 200, json_pack("{s:s}", "status", "ok"));
        return RT_HEALTHZ;
    }
    if (n == 1 && strcmp(seg[0], "readyz") == 0) {
        if (!method_is(rq, "GET") && !method_is(rq, "HEAD")) {
            not_allowed(rs, "GET");
            return RT_READYZ;
        }
        h_readyz(a, c, rs);
        return RT_READYZ;
    }
    if (n == 1 && strcmp(seg[0], "metrics") == 0) {
        if (!method_is(rq, "GET")) {
            not_allowed(rs, "GET");
            return RT_METRICS;
        }
        h_metrics(a, c, rs);
        return RT_METRICS;
    }
    if (n < 2 || strcmp(seg[0], "v1") != 0) {
        reply_err(rs, SK_ENOT_FOUND, NULL, "no such route", NULL);
        return RT_OTHER;
    }

    met_route route = RT_OTHER;
    bool admin = false;
    const char *allow = NULL;
    if (strcmp(seg[1], "orders") == 0) {
        if (n == 2) { route = RT_CREATE; allow = "POST"; }
        else if (n == 3) { route = RT_GET; allow = "GET"; }
        else if (n == 4 && strcmp(seg[3], "pay") == 0) { route = RT_PAY; allow = "POST"; }
        else if (n == 4 && strcmp(seg[3], "close") == 0) { route = RT_CLOSE; allow = "POST"; }
        else if (n == 4 && strcmp(seg[3], "refunds") == 0) {
            route = method_is(rq, "GET") ? RT_REFUND_LIST : RT_REFUND;
            allow = "GET, POST";
        }
    } else if (strcmp(seg[1], "merchants") == 0 && n == 4 && strcmp(seg[3], "orders") == 0) {
        route = RT_MERCHANT_ORDERS; allow = "GET";
    } else if (strcmp(seg[1], "groups") == 0) {
        if (n == 2) { route = RT_GROUPS; allow = "GET"; }
        else if (n == 4 && strcmp(seg[3], "fence") == 0) { route = RT_FENCE; allow = "POST"; admin = true; }
        else if (n == 4 && strcmp(seg[3], "unfence") == 0) { route = RT_UNFENCE; allow = "POST"; admin = true; }
    } else if (strcmp(seg[1], "admin") == 0 && n == 3 && strcmp(seg[2], "reload") == 0) {
        route = RT_RELOAD; allow = "POST"; admin = true;
    }
    if (route == RT_OTHER) {
        reply_err(rs, SK_ENOT_FOUND, NULL, "no such route", NULL);
        return RT_OTHER;
    }
    bool want_get = strcmp(allow, "GET") == 0;
    bool ok_method = strcmp(allow, "GET, POST") == 0 ? (method_is(rq, "GET") || method_is(rq, "POST"))
                     : want_get ? method_is(rq, "GET") : method_is(rq, "POST");
    if (!ok_method) {
        not_allowed(rs, allow);
        return route;
    }
    sk_status ast = check_auth(c, rq, admin);
    if (ast != SK_OK) {
        if (ast == SK_EUNAUTHENTICATED)
            http_add_header(rs, "WWW-Authenticate", "Bearer");
        reply_err(rs, ast, NULL, ast == SK_EFORBIDDEN ? "admin role required" : "missing or invalid bearer token", NULL);
        return route;
    }
    if (rq->too_large) {
        reply_err(rs, SK_ETOO_LARGE, NULL, "request body over the limit", NULL);
        return route;
    }
    switch (route) {
    case RT_CREATE: h_create(a, c, rq, rs); break;
    case RT_GET: h_get(a, c, rq, rs, seg[2], strlen(seg[2])); break;
    case RT_PAY: h_update(a, c, rq, rs, seg[2], strlen(seg[2]), UPD_PAY); break;
    case RT_CLOSE: h_update(a, c, rq, rs, seg[2], strlen(seg[2]), UPD_CLOSE); break;
    case RT_REFUND: h_update(a, c, rq, rs, seg[2], strlen(seg[2]), UPD_REFUND); break;
    case RT_REFUND_LIST: h_refund_list(a, c, rs, seg[2], strlen(seg[2])); break;
    case RT_MERCHANT_ORDERS:
        api_merchant_orders(a, c, rq, rs, seg[2]);
        break;
    case RT_GROUPS: h_groups(a, c, rs); break;
    case RT_FENCE: h_fence(a, c, rs, seg[2], true); break;
    case RT_UNFENCE: h_fence(a, c, rs, seg[2], false); break;
    case RT_RELOAD: {
        char e[CONF_ERR_MAX] = "";
        if (a->reload == NULL || a->reload(a, e, sizeof e) != 0)
            reply_err(rs, SK_EINVALID_ARGUMENT, "config", e[0] ? e : "reload not available", NULL);
        else
            reply_json(rs, 200, json_pack("{s:b}", "reloaded", 1));
        break;
    }
    default: reply_err(rs, SK_ENOT_FOUND, NULL, "no such route", NULL); break;
    }
    return route;
}

void api_handle(void *ctx, const http_req *rq, http_resp *rs)
{
    app *a = ctx;
    int64_t t0 = sk_mono_us();
    cref_hold *h = cref_get(a->cfg);
    met_route r = dispatch(a, cref_conf(h), rq, rs);
    cref_put(h);
    for (int again = 0; rs->status == -1 && again < 3; again++) {
        /* the request waited out a write freeze: route it with the new config */
        memset(rs, 0, sizeof *rs);
        h = cref_get(a->cfg);
        r = dispatch(a, cref_conf(h), rq, rs);
        cref_put(h);
    }
    if (rs->status == -1) {
        memset(rs, 0, sizeof *rs);
        reply_err(rs, SK_EGROUP_UNAVAILABLE, NULL, "the order's group is frozen for a migration; retry", NULL);
    }
    met_request(r, rs->status, sk_mono_us() - t0);
}

/* ---------- expiry sweeper ---------- */

/* One group: close expired CREATED orders in batches until the backlog is
 * gone or the time budget is spent (so a burst of expiries drains at a few
 * thousand per second instead of one batch per period). */
static void sweep_group(app *a, const conf *c, const conf_group *cg, int64_t budget_ms)
{
    enum { BATCH = 200 };
    dal_pool *pool = grt_primary(a->grt, cg->id);
    dal_conn *dc;
    if (pool == NULL || !grt_write_enter(a->grt, cg->id))
        return;
    if (dal_acquire(pool, sk_mono_ms() + 100, &dc) != SK_OK) {
        grt_write_exit(a->grt, cg->id);
        return;
    }
    MYSQL *my = dal_mysql(dc);
    char (*nos)[ONO_LEN + 1] = calloc(BATCH, sizeof *nos);
    bool broken = false;
    int64_t until = sk_mono_ms() + budget_ms;
    int n = BATCH, closed = 0;
    while (nos && !broken && n == BATCH && sk_mono_ms() < until && !grt_frozen(a->grt, cg->id)) {
        sk_status st = dal_expired_list(my, sk_now_ms(), nos, BATCH, &n);
        if (st != SK_OK) {
            broken = true;
            break;
        }
        for (int k = 0; k < n && !broken; k++) {
            dal_change ch = {.ev = OE_EXPIRE, .now_ms = sk_now_ms()};
            dal_change_result res;
            st = dal_order_change(my, nos[k], &ch, &res);
            if (st == SK_OK && res.applied)
                closed++;
            else if (st != SK_OK && st != SK_ENOT_FOUND)
                broken = st == SK_ETIMEDOUT || st == SK_ECONNECT;
        }
    }
    free(nos);
    if (closed > 0)
        sk_debug("event=orders_expired group=%d closed=%d", cg->id, closed);
    int64_t pending = 0;
    if (!broken && dal_outbox_count(my, &pending) == SK_OK)
        grt_set_outbox_pending(a->grt, cg->id, pending);
    dal_release(pool, dc, broken);
    grt_write_exit(a->grt, cg->id);
    (void)c;
}

void app_sweep(app *a)
{
    cref_hold *h = cref_get(a->cfg);
    const conf *c = cref_conf(h);
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        if (cg->state == GROUP_RETIRED || cg->primary == NULL || group_down(a, c, cg->id))
            continue;
        sweep_group(a, c, cg, c->sweep_interval_ms);
    }
    cref_put(h);
}
