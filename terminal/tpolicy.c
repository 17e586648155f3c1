/* terminal/tpolicy.c — create and refund rules by terminal; see tpolicy.h. */
#include "terminal/tpolicy.h"

#include <string.h>

static tp_verdict ok(void) { return (tp_verdict){SK_OK, NULL, NULL}; }
static tp_verdict no(sk_status s, const char *field, const char *msg) { return (tp_verdict){s, field, msg}; }

tp_verdict tp_create(const term_view *t, const char *terminal_id, const char *merchant_id, const char *store_id)
{
    if (terminal_id == NULL)
        return no(SK_ETERMINAL_NOT_ACTIVE, "terminal_id", "a cashier create must name its terminal_id");
    if (t == NULL)
        return no(SK_ETERMINAL_NOT_ACTIVE, "terminal_id", "no such terminal: register and activate it first");
    if (strcmp(t->merchant_id, merchant_id) != 0)
        return no(SK_ETERMINAL_MISMATCH, "terminal_id", "the terminal belongs to another merchant");
    if (store_id != NULL && (!t->has_store || strcmp(t->store_id, store_id) != 0))
        return no(SK_ETERMINAL_MISMATCH, "store_id", "the terminal is not registered to this store");
    if (t->status == TS_BLOCKED)
        return no(SK_ETERMINAL_BLOCKED, "terminal_id", "the terminal is blocked");
    if (t->status != TS_ACTIVE)
        return no(SK_ETERMINAL_NOT_ACTIVE, "terminal_id", "the terminal is not active");
    return ok();
}

tp_verdict tp_refund(const tp_refund_in *in)
{
    int64_t today = tz_local_day(in->tz, in->now_ms), made = tz_local_day(in->tz, in->order_created_ms);
    if (in->who == TP_BACKOFFICE) {
        if (today - made > in->max_age_days)
            return no(SK_EREFUND_NOT_ALLOWED, "created_at", "the order is older than refunds.max_age_days");
        return ok();
    }
    const term_view *t = in->terminal;
    if (in->terminal_id == NULL)
        return no(SK_EREFUND_NOT_ALLOWED, "terminal_id", "a cashier refund must name its terminal_id");
    if (t == NULL || t->status != TS_ACTIVE || strcmp(t->merchant_id, in->order_merchant_id) != 0)
        return no(SK_EREFUND_NOT_ALLOWED, "terminal_id", "a cashier refunds only from an active terminal of the "
                                                         "order's merchant");
    if (in->order_terminal_id == NULL || strcmp(in->order_terminal_id, in->terminal_id) != 0)
        return no(SK_EREFUND_NOT_ALLOWED, "terminal_id", "a cashier refunds only from the terminal that took the "
                                                         "order; use the back office");
    if (made != today)
        return no(SK_EREFUND_NOT_ALLOWED, "created_at", "a cashier refunds only orders of today (merchant-local); "
                                                        "use the back office");
    return ok();
}
