/*
 * order/ostate.c — the order status state machine: one decision function,
 * os_decide(), for every status change (pure; see ostate.h for the rules).
 *
 * Where two rules of the header overlap, the first listed wins:
 *  - PAY on a CREATED order that is both expired and for the wrong amount is
 *    AMOUNT_MISMATCH (the request is wrong whatever the order's state).
 *  - REFUND on a REFUNDED order is REFUND_EXCEEDS_PAID for any amount: a
 *    REFUNDED order has nothing left to refund, even if its row were
 *    inconsistent (refunded_amount < amount).
 * A refund amount below 1 (the request validator rejects it earlier) is
 * INVALID_ARGUMENT here too, so a bad caller cannot create a zero refund.
 */
#include "order/ostate.h"

#include <string.h>

static const char *const status_names[OS_MAX] = {
    [OS_CREATED] = "CREATED",
    [OS_PAID] = "PAID",
    [OS_CLOSED] = "CLOSED",
    [OS_REFUNDED] = "REFUNDED",
};

const char *os_status_name(os_status s)
{
    if ((int)s < 0 || s >= OS_MAX)
        return "UNKNOWN";
    return status_names[s];
}

int os_status_parse(const char *s, os_status *out)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < OS_MAX; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            if (out != NULL)
                *out = (os_status)i;
            return 0;
        }
    }
    return -1;
}

static os_result apply(os_status st) { return (os_result){OT_APPLY, st, SK_OK}; }
static os_result noop(os_status st) { return (os_result){OT_NOOP, st, SK_OK}; }
static os_result reject(os_status st, sk_status e) { return (os_result){OT_REJECT, st, e}; }

static int same_txn(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* In every result new_status is meaningful: the status after the decision
 * (unchanged for NOOP and REJECT). */
os_result os_decide(os_event ev, const os_input *in)
{
    if (in == NULL || (int)in->status < 0 || in->status >= OS_MAX)
        return reject(OS_MAX, SK_EINTERNAL);
    os_status st = in->status;
    bool expired = in->now_ms > in->expire_at_ms; /* now == expire_at is still open */

    switch (ev) {
    case OE_PAY:
        switch (st) {
        case OS_CREATED:
            if (in->req_paid_amount != in->amount)
                return reject(st, SK_EAMOUNT_MISMATCH);
            if (expired)
                return reject(st, SK_EORDER_EXPIRED);
            return apply(OS_PAID);
        case OS_PAID:
        case OS_REFUNDED:
            if (same_txn(in->channel_txn_id, in->req_channel_txn_id) &&
                in->req_paid_amount == in->amount)
                return noop(st);
            return reject(st, SK_EALREADY_PAID);
        case OS_CLOSED:
            return reject(st, SK_EORDER_CLOSED);
        default:
            break;
        }
        break;
    case OE_CLOSE:
        switch (st) {
        case OS_CREATED:
            return apply(OS_CLOSED);
        case OS_CLOSED:
            return noop(st);
        case OS_PAID:
        case OS_REFUNDED:
            return reject(st, SK_EILLEGAL_TRANSITION);
        default:
            break;
        }
        break;
    case OE_EXPIRE:
        if (st == OS_CREATED && expired)
            return apply(OS_CLOSED);
        return noop(st);
    case OE_REFUND:
        switch (st) {
        case OS_PAID: {
            if (in->req_refund_amount < 1)
                return reject(st, SK_EINVALID_ARGUMENT);
            /* compare without forming refunded + amt (no overflow) */
            int64_t left = in->amount - in->refunded_amount;
            if (in->req_refund_amount > left)
                return reject(st, SK_EREFUND_EXCEEDS);
            return apply(in->req_refund_amount == left ? OS_REFUNDED : OS_PAID);
        }
        case OS_REFUNDED:
            if (in->req_refund_amount < 1)
                return reject(st, SK_EINVALID_ARGUMENT);
            return reject(st, SK_EREFUND_EXCEEDS);
        case OS_CREATED:
        case OS_CLOSED:
            return reject(st, SK_EILLEGAL_TRANSITION);
        default:
            break;
        }
        break;
    default:
        break;
    }
    return reject(st, SK_EINTERNAL);
}
