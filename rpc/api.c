/*
 * rpc/api.c — the HTTP API of spec §4 and §10: parse the target and route
 * it (rpc/route.c), authenticate (signature, timestamp, nonce), check the
 * role and the merchant scope, then for every order route: parse and
 * validate (order/order.h, pure) -> one call into flow/ -> render the
 * flow_result; every answer to a request whose key is known is signed. No
 * order logic lives here; the operator routes are rpc/ops.c.
 */
#include "rpc/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "flow/flow.h"
#include "listing/listing.h"
#include "metrics/metrics.h"
#include "rpc/errors.h"
#include "rpc/ops.h"
#include "rpc/reply.h"
#include "rpc/route.h"
#include "rpc/terminals.h"

/* ---------- rendering a flow_result ---------- */

static void reply_order(http_resp *rs, int status, const order_t *o, const char *from)
{
    json_t *j = ord_to_json(o);
    if (from)
        json_object_set_new(j, "read_from", json_string(from));
    reply_json_body(rs, status, j);
}

/* The error body of a failed flow, with the details a caller acts on: the
 * existing order's number for a duplicate create, the order's status and
 * version for the other 409s. */
static void reply_flow_error(http_resp *rs, const flow_result *f, bool create)
{
    json_t *x = NULL;
    if (f->status == SK_EDUPLICATE && create && f->has_order)
        x = json_pack("{s:s}", "order_no", f->order.order_no);
    else if (f->status == SK_EVERSION_CONFLICT && f->has_order)
        x = json_pack("{s:I}", "current_version", (json_int_t)f->order.version);
    else if (sk_http_status(f->status) == 409 && f->has_order)
        x = json_pack("{s:s,s:I}", "status", os_status_name(f->order.status), "current_version",
                      (json_int_t)f->order.version);
    reply_error(rs, f->status, f->field, f->message, x);
}

/* ---------- who is calling ---------- */

/* Who is calling: the authenticated key (NULL while auth.mode is off) and
 * the request's nonce, to sign the answer with. A create's nonce is checked
 * late (nonce_later): in the same Redis round trip as its idempotency claim
 * (flow_guard), or after the handler when the create never reached a claim
 * (answered by the local checks, a twin, or no group) — never after an
 * effect, since every insert follows its claim. */
typedef struct {
    const auth_key *key;       /* set once the key is known: answers are signed from then on */
    char nonce[AUTH_NONCE_MAX + 1];
    bool nonce_later, nonce_checked;
    app *a;
    kv *kv;
    int64_t now_s;
    char nkey[NONCE_KEY_MAX];  /* the nonce's Redis key (nonce_later) */
} caller;

/* flow_guard.settle for a create's nonce (ctx: the caller). */
static sk_status nonce_guard(void *ctx, fg_said said)
{
    caller *w = ctx;
    w->nonce_checked = true;
    if (said == FG_ASK)
        return nonce_check(w->a->nonces, w->kv, w->key->id, w->nonce, w->now_s);
    return nonce_settle(w->a->nonces, w->nkey,
                        said == FG_NEW ? NONCE_REDIS_NEW : said == FG_SEEN ? NONCE_REDIS_SEEN : NONCE_REDIS_DOWN,
                        w->now_s);
}

/* 401 REPLAYED, replacing whatever was rendered. */
static void replayed(http_resp *rs)
{
    free(rs->body);
    rs->body = NULL;
    rs->len = 0;
    rs->nhdr = 0;
    rs->content_type = NULL;
    http_add_header(rs, "WWW-Authenticate", "SKIP-HMAC-SHA256");
    reply_error(rs, SK_EREPLAYED, NULL, "nonce already used with this key", NULL);
}

/* ---------- order routes ---------- */

/* the merchant scope of a key, as flow/ wants it (ctx NULL: no scope) */
static bool key_merchant_ok(const void *ctx, const char *merchant_id)
{
    return ctx == NULL || auth_merchant_allowed((const auth_key *)ctx, merchant_id);
}


/* The order number of a /v1/orders/{no}/... path: parse (400 BAD_ORDER_NO
 * before touching any database), check it routes, copy it out. */
static bool path_order(const conf *c, http_resp *rs, const char *no, char order_no[ONO_LEN + 1], int *stamped)
{
    ono_fields f;
    const char *why = NULL;
    size_t len = strlen(no);
    if (ono_parse(no, len, &f, &why) != SK_OK) {
        reply_error(rs, SK_EBAD_ORDER_NO, "order_no", why, NULL);
        return false;
    }
    if (conf_route_group(c, f.group) < 0) {
        reply_error(rs, SK_EBAD_ORDER_NO, "order_no", "unknown group", NULL);
        return false;
    }
    memcpy(order_no, no, ONO_LEN);
    order_no[ONO_LEN] = '\0';
    *stamped = f.group;
    return true;
}

static void h_create(app *a, const conf *c, caller *who, const http_req *rq, http_resp *rs)
{
    const auth_key *k = who->key;
    create_req r;
    ord_err e = {{0}, {0}};
    sk_status st = ord_parse_create(rq->body, rq->len, c->default_expire_s, &r, &e);
    if (st != SK_OK) {
        reply_error(rs, st, e.field, e.message, NULL);
        return;
    }
    if (k && !auth_merchant_allowed(k, r.merchant_id)) {
        reply_error(rs, SK_EFORBIDDEN, "merchant_id", "this key may not create orders for that merchant", NULL);
        return;
    }
    if (!tapi_create_allowed(a, c, k, &r, rs))   /* §11: in memory, before any claim or write */
        return;
    flow_guard g = {.key = who->nkey, .ttl_s = AUTH_NONCE_TTL_S, .settle = nonce_guard, .ctx = who};
    flow_result f;
    flow_create(a, &r, who->nonce_later ? &g : NULL, &f);
    if (f.status == SK_EREPLAYED) {
        replayed(rs);
        return;
    }
    if (f.status != SK_OK) {
        reply_flow_error(rs, &f, true);
        return;
    }
    if (f.replay)
        http_add_header(rs, "Idempotent-Replay", "true");
    reply_order(rs, f.created ? 201 : 200, &f.order, NULL);
}

/* An order outside the caller's merchants is answered as if it did not
 * exist (no existence leak). */
static bool out_of_scope(const auth_key *k, const flow_result *f)
{
    return k && f->status == SK_OK && f->has_order && !auth_merchant_allowed(k, f->order.merchant_id);
}

static void not_found(http_resp *rs) { reply_error(rs, SK_ENOT_FOUND, "order_no", "no such order", NULL); }

static void h_get(app *a, const conf *c, const auth_key *k, const route_target *t, http_resp *rs, const char *no)
{
    char order_no[ONO_LEN + 1];
    int stamped;
    if (!path_order(c, rs, no, order_no, &stamped))
        return;
    const char *cons = route_query(t, "consistency");
    if (cons != NULL && strcmp(cons, "strong") != 0 && strcmp(cons, "eventual") != 0) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "consistency", "consistency must be strong or eventual", NULL);
        return;
    }
    flow_result f;
    flow_read(a, order_no, stamped, cons != NULL && strcmp(cons, "strong") == 0, &f);
    if (out_of_scope(k, &f)) {
        not_found(rs);
        return;
    }
    if (f.status != SK_OK) {
        reply_flow_error(rs, &f, false);
        return;
    }
    reply_order(rs, 200, &f.order, f.read_from);
}

static void h_update(app *a, const conf *c, const auth_key *key, const http_req *rq, http_resp *rs, const char *no,
                     upd_kind k)
{
    char order_no[ONO_LEN + 1];
    int stamped;
    if (!path_order(c, rs, no, order_no, &stamped))
        return;
    pay_req pr;
    close_req cr;
    refund_req fr;
    ord_err e = {{0}, {0}};
    upd_req u = {.kind = k, .merchant_ok = key ? key_merchant_ok : NULL, .merchant_ctx = key};
    tapi_refund_ctx pc;
    sk_status st;
    switch (k) {
    case UPD_PAY: st = ord_parse_pay(rq->body, rq->len, &pr, &e); u.pay = &pr; break;
    case UPD_CLOSE: st = ord_parse_close(rq->body, rq->len, &cr, &e); u.close = &cr; break;
    default:
        st = ord_parse_refund(rq->body, rq->len, &fr, &e);
        u.refund = &fr;
        tapi_refund_policy(a, c, key, &fr, &pc, &u);   /* §11 refund rule, on the locked row */
        break;
    }
    if (st != SK_OK) {
        reply_error(rs, st, e.field, e.message, NULL);
        return;
    }
    flow_result f;
    flow_update(a, order_no, stamped, &u, &f);
    if (k == UPD_REFUND)
        tapi_refund_audit(&pc, order_no, &f);
    if (f.status != SK_OK) {
        reply_flow_error(rs, &f, false);
        return;
    }
    if (k == UPD_REFUND) {
        json_t *j = json_object();
        json_object_set_new(j, "refund", refund_to_json(&f.refund));
        json_object_set_new(j, "order", ord_to_json(&f.order));
        reply_json_body(rs, f.refund_created ? 201 : 200, j);
        return;
    }
    reply_order(rs, 200, &f.order, NULL);
}

static void h_refund_list(app *a, const conf *c, const auth_key *k, http_resp *rs, const char *no)
{
    char order_no[ONO_LEN + 1];
    int stamped;
    if (!path_order(c, rs, no, order_no, &stamped))
        return;
    enum { MAXR = 1000 };
    refund_t *list = calloc(MAXR, sizeof *list);
    if (list == NULL) {
        reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return;
    }
    int n = 0;
    flow_result f;
    flow_refunds(a, order_no, stamped, list, MAXR, &n, &f);
    if (out_of_scope(k, &f)) {
        free(list);
        not_found(rs);
        return;
    }
    if (f.status != SK_OK) {
        free(list);
        reply_flow_error(rs, &f, false);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, refund_to_json(&list[i]));
    free(list);
    json_t *j = json_object();
    json_object_set_new(j, "order_no", json_string(order_no));
    json_object_set_new(j, "refunds", arr);
    reply_json_body(rs, 200, j);
}

/* ---------- auth (spec §10) ---------- */

/* Authenticate a signed request. SK_OK, or the 401 to answer (*why says
 * which rule). A too-large request is only identified (its body was not
 * read, so its signature cannot be checked): it gets its 413, signed. */
static sk_status authenticate(app *a, const rt *r, const http_req *rq, caller *who, bool later, const char **why)
{
    int n = 0;
    const char *hv = http_header(rq, "Authorization", &n);
    if (n != 1) {
        *why = n == 0 ? "missing Authorization header" : "several Authorization headers";
        return SK_EUNAUTHENTICATED;
    }
    auth_header h;
    if (auth_parse_header(hv, &h) != SK_OK) {
        *why = "malformed Authorization header (want SKIP-HMAC-SHA256 key=, ts=, nonce=, sig=)";
        return SK_EUNAUTHENTICATED;
    }
    int64_t now = sk_now_ms() / 1000;
    const auth_key *k = auth_key_find(r->keys, h.key, now);
    if (k == NULL) {
        *why = "unknown or expired key";
        return SK_EUNAUTHENTICATED;
    }
    who->key = k;
    sk_strlcpy(who->nonce, h.nonce, sizeof who->nonce);
    if (rq->too_large)
        return SK_OK;
    sk_status st = auth_verify(k, &h, rq->method, rq->target, rq->body, rq->len, now);
    if (st == SK_ESIGNATURE_INVALID) {
        *why = "signature does not match";
        return st;
    }
    if (st == SK_EREQUEST_EXPIRED) {
        *why = "ts is more than 300 s from the server's clock";
        return st;
    }
    if (st != SK_OK) {
        *why = "internal error";
        return SK_EINTERNAL;
    }
    if (later && nonce_key(who->nkey, k->id, h.nonce) > 0) {
        who->nonce_later = true; /* a create: with its claim (see caller) */
        who->a = a;
        who->kv = r->kv;
        who->now_s = now;
        return SK_OK;
    }
    if (nonce_check(a->nonces, r->kv, k->id, h.nonce, now) != SK_OK) {
        *why = "nonce already used with this key";
        return SK_EREPLAYED;
    }
    return SK_OK;
}

/* Only who is calling, for signing the answer (the open routes). */
static void identify(const rt *r, const http_req *rq, caller *who)
{
    int n = 0;
    const char *hv = http_header(rq, "Authorization", &n);
    auth_header h;
    if (n != 1 || auth_parse_header(hv, &h) != SK_OK)
        return;
    who->key = auth_key_find(r->keys, h.key, sk_now_ms() / 1000);
    sk_strlcpy(who->nonce, h.nonce, sizeof who->nonce);
}

/* Skip-Signature on the answer to a request whose key is known. */
static void sign_response(const caller *who, http_resp *rs)
{
    if (who->key == NULL)
        return;
    char v[HTTP_HDR_VALUE_MAX];
    auth_response_header(who->key, rs->status, who->nonce, sk_now_ms() / 1000, rs->body ? rs->body : "",
                         rs->body ? rs->len : 0, v, sizeof v);
    http_add_header(rs, "Skip-Signature", v);
}

/* ---------- routing ---------- */


static void not_allowed(http_resp *rs, const char *allow)
{
    http_add_header(rs, "Allow", allow);
    reply_error(rs, SK_EMETHOD, NULL, "method not allowed", NULL);
}

static void forbidden(http_resp *rs, const char *msg) { reply_error(rs, SK_EFORBIDDEN, NULL, msg, NULL); }

/* The routes of a caller who passed authentication (or of anyone while auth
 * is off: who->key NULL). Role first, then each route's merchant scope. */
static void route(app *a, const rt *r, caller *who, const route_match_t *m, const route_target *t,
                  const http_req *rq, http_resp *rs)
{
    const conf *c = r->c;
    const auth_key *k = who->key;
    if (k && !auth_role_allows(k->role, m->route)) {
        char msg[96];
        snprintf(msg, sizeof msg, "the %s role may not call this route", auth_role_name(k->role));
        forbidden(rs, msg);
        return;
    }
    if (rq->too_large) {
        reply_error(rs, SK_ETOO_LARGE, NULL, "request body over the limit", NULL);
        return;
    }
    switch (m->route) {
    case RT_CREATE: h_create(a, c, who, rq, rs); break;
    case RT_GET: h_get(a, c, k, t, rs, m->id); break;
    case RT_PAY: h_update(a, c, k, rq, rs, m->id, UPD_PAY); break;
    case RT_CLOSE: h_update(a, c, k, rq, rs, m->id, UPD_CLOSE); break;
    case RT_REFUND: h_update(a, c, k, rq, rs, m->id, UPD_REFUND); break;
    case RT_REFUND_LIST: h_refund_list(a, c, k, rs, m->id); break;
    case RT_MERCHANT_ORDERS:
        if (k && !auth_merchant_allowed(k, m->id))
            forbidden(rs, "this key may not list that merchant's orders");
        else
            listing_merchant_orders(r, t, rs, m->id);
        break;
    case RT_TERMINAL_REGISTER:
    case RT_TERMINAL_GET:
    case RT_TERMINAL_ACTIVATE:
    case RT_TERMINAL_BLOCK:
    case RT_TERMINAL_UNBLOCK:
    case RT_TERMINAL_CODE:
    case RT_TERMINAL_RETIRE:
    case RT_MERCHANT_TERMINALS:
    case RT_AUDIT_EVENTS: tapi_route(a, r, k, m, t, rq, rs); break;
    default:
        ops_admin(a, r, m->route, m->id, rs);
        tapi_ops_audit(a, k, m->route, m->id, rs);   /* fence / unfence / reload, with the caller */
        break;
    }
}

static met_route dispatch(app *a, const rt *r, const http_req *rq, http_resp *rs, caller *who)
{
    route_target *t = malloc(sizeof *t);   /* ~2 KiB: off the connection thread's stack */
    if (t == NULL) {
        reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return RT_OTHER;
    }
    const char *why = NULL;
    sk_status st = route_parse(rq->target, t, &why);
    route_match_t m = st == SK_OK ? route_match(t, rq->method) : (route_match_t){.route = RT_OTHER};
    if (st == SK_OK && route_is_open(m.route)) {
        /* health, readiness, metrics: unauthenticated (load balancers,
         * Prometheus); a caller that signed anyway gets a signed answer */
        if (r->keys)
            identify(r, rq, who);
        if (!m.method_ok)
            not_allowed(rs, m.allow);
        else
            ops_health(a, r, m.route, rq, rs);
        free(t);
        return m.route;
    }
    /* everything else is signed: who is calling comes before what they ask */
    bool create = st == SK_OK && m.route == RT_CREATE && m.method_ok;
    sk_status ast = r->keys ? authenticate(a, r, rq, who, create, &why) : SK_OK;
    if (ast != SK_OK) {
        http_add_header(rs, "WWW-Authenticate", "SKIP-HMAC-SHA256");
        reply_error(rs, ast, NULL, why, NULL);
    } else if (st != SK_OK) {
        reply_error(rs, st, NULL, why, NULL);
    } else if (m.route == RT_OTHER) {
        reply_error(rs, SK_ENOT_FOUND, NULL, "no such route", NULL);
    } else if (!m.method_ok) {
        not_allowed(rs, m.allow);
    } else {
        route(a, r, who, &m, t, rq, rs);
        /* a create that never reached its claim: its nonce now (no effect
         * was made; a replay of it answers REPLAYED as any other) */
        if (who->nonce_later && !who->nonce_checked && nonce_guard(who, FG_ASK) != SK_OK)
            replayed(rs);
    }
    free(t);
    return m.route;
}

void api_handle(void *ctx, const http_req *rq, http_resp *rs)
{
    app *a = ctx;
    int64_t t0 = sk_mono_us();
    rt *r = rt_get(a->rt);
    caller who = {.key = NULL};
    met_route route;
    if (rq->overloaded) {
        /* no worker was free: we run on an I/O thread, so no I/O at all —
         * no Redis nonce check, no database; the key is looked up in memory
         * only to sign the answer */
        if (r->keys)
            identify(r, rq, &who);
        reply_error(rs, SK_EOVERLOADED, NULL, "every request worker is busy; retry", NULL);
        route = RT_OTHER;
    } else {
        route = dispatch(a, r, rq, rs, &who);
    }
    sign_response(&who, rs);   /* the key lives in r: sign before letting go of it */
    rt_put(r);
    met_request(route, rs->status, sk_mono_us() - t0);
}
