/*
 * flow/update.c — pay, close and refund of an existing order (spec §4, §6).
 *
 *   route the stamped group through the alias map of the current config ->
 *   enter the group's write (a shrink's freeze: wait, then route again with
 *   the config in force by then — the alias may have flipped) -> refuse fast
 *   when the primary is known dead (503 GROUP_UNAVAILABLE, the caller
 *   retries after failover) -> one transaction on the primary: lock the
 *   row, decide with the state machine, update + refund + outbox, commit.
 */
#include "flow/internal.h"

#include <string.h>
#include "metrics/metrics.h"

#define FREEZE_POLL_MS 5
#define MAX_REROUTES 3

static const char *conflict_message(sk_status st)
{
    switch (st) {
    case SK_EAMOUNT_MISMATCH: return "paid_amount must equal the order amount";
    case SK_EORDER_CLOSED: return "the order is closed";
    case SK_EORDER_EXPIRED: return "the order has expired";
    case SK_EALREADY_PAID: return "the order was paid by another transaction";
    case SK_EILLEGAL_TRANSITION: return "this change is not allowed in the order's status";
    case SK_EREFUND_EXCEEDS: return "refunds would exceed the paid amount";
    case SK_EVERSION_CONFLICT: return "expected_version does not match the order";
    case SK_EDUPLICATE: return "out_refund_no already used with a different amount";
    default: return NULL;
    }
}

static const char *conflict_field(upd_kind k, sk_status st)
{
    if (st == SK_EVERSION_CONFLICT)
        return "expected_version";
    if (st == SK_EDUPLICATE)
        return "out_refund_no";
    if (k == UPD_PAY && st == SK_EAMOUNT_MISMATCH)
        return "paid_amount";
    if (k == UPD_REFUND && st == SK_EREFUND_EXCEEDS)
        return "amount";
    return NULL;
}

static void group_unavailable(flow_result *out, const char *msg)
{
    out->status = SK_EGROUP_UNAVAILABLE;
    out->message = msg;
}

/* The transaction on the routed group (its write entered). */
static void change(app *a, const rt *r, const char *order_no, int stamped, int g, const upd_req *u,
                   flow_result *out)
{
    const conf *c = r->c;
    dal_pool *pool = rt_primary(r, g);
    if (pool == NULL || flow_group_down(a, c, g)) {
        group_unavailable(out, "the order's group is unavailable; retry after failover");
        return;
    }
    int64_t deadline = sk_mono_ms() + c->db_read_timeout_ms;
    dal_change ch = {.now_ms = 0, .merchant_ok = u->merchant_ok, .merchant_ctx = u->merchant_ctx,
                     .refund_ok = u->refund_ok, .refund_ctx = u->refund_ctx};
    char refund_no[ONO_LEN + 1] = "";
    switch (u->kind) {
    case UPD_PAY: ch.ev = OE_PAY; ch.pay = u->pay; break;
    case UPD_CLOSE: ch.ev = OE_CLOSE; ch.close = u->close; break;
    case UPD_REFUND:
        ch.ev = OE_REFUND;
        ch.refund = u->refund;
        /* refund numbers carry the order's stamped group (spec §3) */
        sk_status nst = app_new_number(a, stamped, deadline, refund_no);
        if (nst != SK_OK) {
            out->status = nst;
            out->message = "could not issue a refund number";
            return;
        }
        ch.refund_no = refund_no;
        break;
    }
    dal_conn *dc;
    sk_status st = dal_acquire(pool, deadline, &dc);
    if (st != SK_OK) {
        if (st != SK_EOVERLOADED && st != SK_ENOMEM)
            grt_record_failure(a->grt, g, c->window_s);
        if (st == SK_EOVERLOADED) {
            out->status = st;
            out->message = "the order's group is at capacity; retry";
        } else {
            group_unavailable(out, "the order's group is unavailable; retry after failover");
        }
        return;
    }
    ch.now_ms = sk_now_ms();
    dal_change_result res;
    st = dal_order_change(dal_mysql(dc), order_no, &ch, &res);
    bool io_fail = st == SK_ETIMEDOUT || st == SK_ECONNECT || st == SK_EREADONLY || st == SK_EDB;
    dal_release(pool, dc, io_fail && st != SK_EREADONLY);
    if (io_fail) {
        grt_record_failure(a->grt, g, c->window_s);
        group_unavailable(out, "the order's group failed the update; retry");
        return;
    }
    if (st == SK_ENOT_FOUND) {
        out->status = st;
        out->field = "order_no";
        out->message = "no such order";
        return;
    }
    if (st == SK_EINTERNAL || st == SK_ENOMEM) {
        out->status = SK_EINTERNAL;
        out->message = "internal error";
        return;
    }
    out->status = st;
    out->has_order = true;
    out->order = res.order;
    if (st != SK_OK) { /* a 409 (or the refund policy's 403): the order as it is */
        out->field = res.field ? res.field : conflict_field(u->kind, st);
        out->message = res.message ? res.message : conflict_message(st);
        return;
    }
    if (u->kind == UPD_REFUND) {
        out->has_refund = true;
        out->refund = res.refund;
        out->refund_created = !res.refund_existing;
    }
}

void flow_update(app *a, const char *order_no, int stamped, const upd_req *u, flow_result *out)
{
    memset(out, 0, sizeof *out);
    for (int round = 0; round < MAX_REROUTES; round++) {
        rt *r = rt_get(a->rt);
        int g = conf_route_group(r->c, stamped);
        if (g < 0) {
            rt_put(r);
            out->status = SK_EBAD_ORDER_NO;
            out->field = "order_no";
            out->message = "unknown group";
            return;
        }
        if (frz_enter(a->frz, g)) {
            change(a, r, order_no, stamped, g, u, out);
            frz_exit(a->frz, g);
            rt_put(r);
            return;
        }
        /* a shrink is moving this group's rows: wait for the freeze to lift,
         * then route again — the request waits, it does not fail */
        int64_t until = sk_mono_ms() + r->c->request_deadline_ms;
        rt_put(r);
        while (frz_frozen(a->frz, g) && sk_mono_ms() < until)
            sk_sleep_ms(FREEZE_POLL_MS);
        if (frz_frozen(a->frz, g))
            break;
    }
    group_unavailable(out, "the order's group is frozen for a migration; retry");
}
