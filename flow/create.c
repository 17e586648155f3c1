/*
 * flow/create.c — one create, from a validated request to a committed
 * order (spec §4, §6). Read this file top to bottom to follow a create:
 *
 *   flow_create      single flight: concurrent twins on this daemon share
 *                    one attempt (flow/sflight.h)
 *   run_create       the attempt loop, driven by the pure plan (flow/plan.h):
 *                      pick a group -> issue its number -> claim (first
 *                      attempt) or move the claim -> acquire a pool
 *                      connection -> inline probe if the pick was stale ->
 *                      INSERT order + outbox in one transaction -> record
 *                      the outcome
 *   take_claim       the Redis claim rules: ours / a live twin (wait, then
 *                    look) / a finished twin (replay or 409) / a dead one
 *                    (take over)
 *
 * Invariants: the client sees one order number; a claim is taken before any
 * pool connection and nothing sleeps while holding one; an internal error is
 * never counted against a group; every status keeps its own code.
 */
#include "flow/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flow/claim.h"
#include "flow/plan.h"
#include "metrics/metrics.h"
#include "prober/prober.h"

#define SLOW_PROBE_FACTOR 2     /* probe running > timeout/2: its OK result is stale */
#define ACQUIRE_MAX_MS 100      /* longest wait for a free pooled connection per attempt */
#define TWIN_POLL_MS 20         /* a live twin elsewhere: look again this often */
#define DEADLINE_MARGIN_MS 100  /* stop waiting for a twin this long before the deadline */

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
        sk_sleep_ms(2); /* this second's sequence is used up: wait for the next */
    }
}

/* The answer for an order that exists under this merchant_id+out_trade_no:
 * a replay when the request is the same, else 409 naming it. */
static void answer_existing(const create_req *r, const order_t *o, flow_result *out)
{
    out->has_order = true;
    out->order = *o;
    if (ord_same_request(o, r)) {
        out->status = SK_OK;
        out->replay = true;
        met_create(o->group, CR_REPLAY);
    } else {
        out->status = SK_EDUPLICATE;
        out->field = "out_trade_no";
        out->message = "out_trade_no already used by this merchant with different fields";
    }
}

/* Per create: what the attempt loop carries between steps. */
typedef struct {
    app *a;
    const rt *r;
    const create_req *req;
    int64_t deadline, deadline_wall;
    char key[CLAIM_KEY_MAX];
    char val[CLAIM_VAL_MAX];
    enum { CL_NOT_TRIED, CL_OWNED, CL_NONE } claim;
    flow_guard *guard;            /* NULL, or taken with the first claim (flow.h) */
} cctx;

/* The guard, told what Redis said: its verdict (SK_OK, or the answer). */
static sk_status settle_guard(flow_guard *g, fg_said said)
{
    g->verdict = g->settle(g->ctx, said);
    g->done = true;
    return g->verdict;
}

/* The first claim: with the guard when there is one (one round trip). */
static sk_status first_take(cctx *x, claim_holder *h)
{
    flow_guard *g = x->guard;
    if (g == NULL || g->done)
        return claim_take(x->r->kv, x->key, x->val, h);
    sk_status st = claim_take_guarded(x->r->kv, g->key, g->ttl_s, x->key, x->val, h);
    sk_status gv = settle_guard(g, st == SK_EREPLAYED ? FG_SEEN : st == SK_EUNAVAILABLE ? FG_DOWN : FG_NEW);
    return gv != SK_OK ? gv : st;
}

/*
 * Take the claim for the number in x->val. Returns true to go on with the
 * insert (claim ours, or Redis unavailable); false when *out holds the
 * answer (a twin's order, or a twin still running at the deadline).
 * Holds no pool connection; waits only between Redis round trips.
 */
static bool take_claim(cctx *x, flow_result *out)
{
    for (;;) {
        claim_holder h;
        sk_status st = first_take(x, &h);
        if (st == SK_EREPLAYED) {  /* the guard refused: nothing was taken */
            x->claim = CL_NONE;
            out->status = st;
            out->message = "nonce already used with this key";
            return false;
        }
        if (st == SK_OK) {
            x->claim = CL_OWNED;
            return true;
        }
        if (st == SK_EUNAVAILABLE) {
            x->claim = CL_NONE;
            return true;
        }
        /* held: look for the holder's order */
        if (h.valid) {
            ono_fields f;
            const char *why;
            int g = ono_parse(h.order_no, ONO_LEN, &f, &why) == SK_OK ? conf_route_group(x->r->c, f.group) : -1;
            if (g > 0) {
                order_t o;
                const char *from;
                sk_status rs = flow_read_order(x->a, x->r, g, h.order_no, false, &o, &from);
                if (rs == SK_OK) {
                    answer_existing(x->req, &o, out);
                    return false;
                }
                if (rs != SK_ENOT_FOUND) {
                    out->status = rs == SK_EOVERLOADED ? rs : SK_EGROUP_UNAVAILABLE;
                    out->message = "the existing order for this out_trade_no is in an unavailable group";
                    return false;
                }
            }
        }
        if (claim_holder_gone(&h, sk_now_ms())) {
            /* the holder is certainly done and wrote nothing under its number */
            st = claim_takeover(x->r->kv, x->key, &h, x->val);
            if (st == SK_OK) {
                x->claim = CL_OWNED;
                return true;
            }
            if (st == SK_EUNAVAILABLE) {
                x->claim = CL_NONE;
                return true;
            }
            continue; /* it changed meanwhile: look again */
        }
        if (sk_mono_ms() + TWIN_POLL_MS >= x->deadline - DEADLINE_MARGIN_MS) {
            out->status = SK_EOVERLOADED;
            out->field = "out_trade_no";
            out->message = "a create with this out_trade_no is in progress; retry";
            return false;
        }
        sk_sleep_ms(TWIN_POLL_MS); /* a live twin on another daemon */
    }
}

/* The order exists under this number or key in group g (a unique key hit):
 * answer from the stored order (AT_DUPKEY), or AT_COLLISION when the number
 * itself is taken by another order (issued twice; nothing written). Uses dc
 * (acquired by the caller) and releases it. */
static plan_outcome on_dupkey(cctx *x, dal_pool *pool, dal_conn *dc, int g, const char *no, flow_result *out)
{
    order_t ex;
    sk_status gst = dal_order_get_by_out_trade(dal_mysql(dc), x->req->merchant_id, x->req->out_trade_no, &ex);
    dal_release(pool, dc, gst != SK_OK && gst != SK_ENOT_FOUND);
    if (gst == SK_ENOT_FOUND) {
        sk_warn("event=order_no_collision group=%d order_no=%s", g, no);
        return AT_COLLISION;
    }
    if (gst != SK_OK)
        return plan_outcome_of(gst);
    out->order = ex;
    out->has_order = true;
    return AT_DUPKEY;
}

/* Insert o through the group commit of g's pool (dal/gcommit.c): it shares
 * a transaction with the other creates waiting for g. */
static plan_outcome insert_grouped(cctx *x, dal_pool *pool, int g, const order_t *o, const char *js,
                                   int64_t until, flow_result *out)
{
    int64_t now = sk_mono_ms();
    dal_new_order no = {.o = o, .json = js, .start_by_wall_ms = x->deadline_wall, .attempt_until_ms = until};
    sk_status st = dal_order_insert_grouped(pool, &no, now + ACQUIRE_MAX_MS < x->deadline ? now + ACQUIRE_MAX_MS
                                                                                        : x->deadline);
    if (st == SK_OK) {
        out->order = *o;
        out->has_order = true;
        return AT_OK;
    }
    if (st == SK_EDUPKEY) {
        dal_conn *dc;
        sk_status ast = dal_acquire(pool, sk_mono_ms() + ACQUIRE_MAX_MS, &dc);
        if (ast != SK_OK)
            return ast == SK_EOVERLOADED ? AT_BUSY : plan_outcome_of(ast);
        return on_dupkey(x, pool, dc, g, o->order_no, out);
    }
    return plan_outcome_of(st);
}

/* One attempt on group g with number no: connection, probe, insert. A pick
 * that needs an inline probe runs on its own connection (probe, then the
 * insert on the same connection); the others go through the group commit
 * when the pool has one. */
static plan_outcome attempt(cctx *x, int g, bool needs_probe, const char *no, flow_result *out)
{
    dal_pool *pool = rt_primary(x->r, g);
    if (pool == NULL)
        return AT_REFUSED;
    order_t o;
    ord_build(x->req, no, g, sk_now_ms(), &o);
    json_t *oj = ord_to_json(&o);
    char *js = oj ? json_dumps(oj, JSON_COMPACT) : NULL;
    json_decref(oj);
    if (js == NULL)
        return AT_INTERNAL;
    plan_outcome r;
    sk_status st = SK_OK;
    /* every MariaDB call of this attempt (connect, probe, insert, the
     * duplicate's read) ends by the attempt deadline: a hung primary costs a
     * create one db.attempt_timeout_ms before it moves on */
    const conf *c = x->r->c;
    int64_t until = sk_mono_ms() + c->db_attempt_timeout_ms;
    if (until > x->deadline)
        until = x->deadline;
    bool pays = dal_deadline_pays(c->db_attempt_timeout_ms, c->db_connect_timeout_ms, c->db_read_timeout_ms);
    int64_t prev = dal_set_deadline(pays ? until : 0);
    if (!needs_probe && dal_pool_grouped(pool)) {
        r = insert_grouped(x, pool, g, &o, js, pays ? until : 0, out);
        goto done;
    }
    int64_t now = sk_mono_ms();
    dal_conn *dc;
    st = dal_acquire(pool, now + ACQUIRE_MAX_MS < x->deadline ? now + ACQUIRE_MAX_MS : x->deadline, &dc);
    if (st != SK_OK) {
        r = plan_outcome_of(st);
        goto done;
    }
    if (needs_probe && !probe_inline(x->a->grt, x->r, g, dal_mysql(dc))) {
        dal_release(pool, dc, true);
        r = AT_PROBE_FAILED;
        goto done;
    }
    if (sk_now_ms() >= x->deadline_wall) {
        /* the claim's holder deadline is over: a twin may take the claim
         * over from here on, so no insert may start */
        dal_release(pool, dc, false);
        r = AT_BUSY;
        goto done;
    }
    st = dal_order_insert_json(dal_mysql(dc), &o, js);
    if (st == SK_OK) {
        dal_release(pool, dc, false);
        out->order = o;
        out->has_order = true;
        r = AT_OK;
    } else if (st == SK_EDUPKEY) {
        r = on_dupkey(x, pool, dc, g, no, out);
    } else {
        dal_release(pool, dc, st != SK_EDB && st != SK_EREADONLY);
        r = plan_outcome_of(st);
    }
done:
    dal_set_deadline(prev);
    free(js);
    if (r == AT_UNKNOWN)
        sk_warn("event=create_outcome_unknown group=%d order_no=%s merchant_id=%s out_trade_no=%s", g, no,
                x->req->merchant_id, x->req->out_trade_no);
    return r;
}

static void count(app *a, const conf *c, int g, plan_outcome o, const plan_verdict *v)
{
    if (v->count_failure) {
        grt_record_failure(a->grt, g, c->window_s);
        met_skip_inc(g, SKIP_R_INSERT_FAILED);
        met_create(g, CR_FAILED);
    } else if (o == AT_BUSY) {
        met_skip_inc(g, SKIP_R_OVERLOADED);
    } else if (o == AT_PROBE_FAILED) {
        met_skip_inc(g, SKIP_R_PROBE_FAILED);
    }
}

static void run_create(app *a, const create_req *req, flow_guard *g, flow_result *out)
{
    cctx x = {.a = a, .req = req, .guard = g};
    rt *r = rt_get(a->rt);
    x.r = r;
    const conf *c = r->c;
    x.deadline = sk_mono_ms() + c->request_deadline_ms;
    x.deadline_wall = sk_now_ms() + c->request_deadline_ms;
    claim_key(x.key, req->merchant_id, req->out_trade_no);

    plan p;
    plan_init(&p, x.deadline, sel_hash(x.key, strlen(x.key), 0), c->probe_fresh_ms,
              c->probe_timeout_ms / SLOW_PROBE_FACTOR);
    sel_view *v = calloc((size_t)c->ngroups, sizeof *v);   /* off the stack: per-connection threads */
    if (v == NULL) {
        out->status = SK_EINTERNAL;
        rt_put(r);
        return;
    }
    for (;;) {
        int n = grt_views(a->grt, r, sk_mono_ms(), v);
        plan_step s = plan_next(&p, v, n, sk_mono_ms());
        if (s.act == PLAN_ANSWER) {
            out->status = s.status;
            out->message = s.status == SK_EOVERLOADED ? "every writable group is at capacity"
                                                      : "no group can take new orders now";
            break;
        }
        char no[ONO_LEN + 1];
        sk_status st = app_new_number(a, s.group, x.deadline, no);
        if (st != SK_OK) {
            out->status = st;
            out->message = st == SK_EOVERLOADED ? "order numbers of this second are used up; retry"
                                                : "could not issue an order number";
            break;
        }
        claim_value(x.val, no, x.deadline_wall, a->token);
        if (x.claim == CL_NOT_TRIED) {
            if (!take_claim(&x, out))
                break;
        } else if (x.claim == CL_OWNED) {
            (void)claim_move(r->kv, x.key, x.val);
        }
        plan_outcome o = attempt(&x, s.group, s.needs_probe, no, out);
        plan_verdict vd = plan_record(&p, s.group, o);
        count(a, c, s.group, o, &vd);
        if (!vd.done)
            continue;
        if (vd.status == SK_OK) {
            out->status = SK_OK;
            out->created = true;
            met_create(s.group, CR_OK);
        } else if (vd.status == SK_EDUPKEY) {
            if (x.claim == CL_OWNED) { /* point the claim at the order that exists */
                claim_value(x.val, out->order.order_no, x.deadline_wall, a->token);
                (void)claim_move(r->kv, x.key, x.val);
            }
            order_t ex = out->order;
            answer_existing(req, &ex, out);
        } else {
            out->status = vd.status;
            out->message = "internal error";
            out->has_order = false;
        }
        break;
    }
    if (x.claim == CL_OWNED && !out->has_order) /* gave up: let a retry take it at once */
        (void)claim_release(r->kv, x.key, x.val);
    free(v);
    rt_put(r);
}

void flow_create(app *a, const create_req *r, flow_guard *g, flow_result *out)
{
    memset(out, 0, sizeof *out);
    char key[CLAIM_KEY_MAX];
    claim_key(key, r->merchant_id, r->out_trade_no);
    bool leader;
    sf_entry *e = sf_join(a->sf, key, &leader);
    if (leader) {
        run_create(a, r, g, out);
        sf_finish(a->sf, e, out->status, out->has_order ? &out->order : NULL);
        return;
    }
    /* a twin runs here: its outcome is this request's answer (the guard, if
     * any, is left to the caller: done stays false) */
    /* a twin on this daemon is running: answer from its outcome */
    rt *rr = rt_get(a->rt);
    int64_t deadline = sk_mono_ms() + rr->c->request_deadline_ms;
    rt_put(rr);
    sk_status st;
    order_t o;
    bool has;
    if (!sf_wait(a->sf, e, deadline, &st, &o, &has)) {
        out->status = SK_EOVERLOADED;
        out->field = "out_trade_no";
        out->message = "a create with this out_trade_no is in progress; retry";
        return;
    }
    if (has && (st == SK_OK || st == SK_EDUPLICATE)) {
        answer_existing(r, &o, out);
        return;
    }
    out->status = st;
    out->message = st == SK_EOVERLOADED ? "retry" : "the create of this out_trade_no failed; retry";
}
