/*
 * terminal/tpolicy.h — the two rules of spec §11 that decide a payment
 * request by its terminal (pure: plain data in, a verdict out; the clock and
 * the zone are passed in).
 *
 *   tp_create  may a cashier create this order from this terminal?
 *   tp_refund  may this caller refund this order (its locked row) now?
 *
 * The registry entry comes from the daemon's in-memory copy
 * (terminal/registry.h), never from a database on these paths.
 */
#ifndef TPOLICY_H
#define TPOLICY_H

#include <stdbool.h>
#include <stdint.h>
#include "common/sk.h"
#include "common/tz.h"
#include "terminal/tstate.h"

#define TERM_ID_MAX 32          /* terminal_id, merchant_id, store_id: [A-Za-z0-9_-]{1,32} */

/* What the registry knows of one terminal. */
typedef struct {
    char terminal_id[TERM_ID_MAX + 1];
    char merchant_id[TERM_ID_MAX + 1];
    char store_id[TERM_ID_MAX + 1];
    bool has_store;
    ts_status status;
    int64_t updated_ms;         /* merchant-store clock */
} term_view;

/* SK_OK, or the status to answer with the field at fault and a message
 * (static strings). */
typedef struct {
    sk_status status;
    const char *field;
    const char *message;
} tp_verdict;

/*
 * A cashier create. t: the registry entry of terminal_id (NULL: unknown),
 * terminal_id NULL when the request names none, store_id NULL when the
 * request has none. In this order:
 *   no terminal_id, unknown terminal       -> TERMINAL_NOT_ACTIVE
 *   another merchant's terminal            -> TERMINAL_MISMATCH
 *   store_id given and not the terminal's  -> TERMINAL_MISMATCH
 *   BLOCKED                                -> TERMINAL_BLOCKED
 *   anything but ACTIVE                    -> TERMINAL_NOT_ACTIVE
 */
tp_verdict tp_create(const term_view *t, const char *terminal_id, const char *merchant_id, const char *store_id);

typedef enum { TP_CASHIER, TP_BACKOFFICE } tp_class;   /* admin refunds as backoffice */

typedef struct {
    tp_class who;
    const char *terminal_id;        /* the request's; NULL: none */
    const term_view *terminal;      /* registry entry of terminal_id; NULL: unknown */
    const char *order_merchant_id;
    const char *order_terminal_id;  /* NULL: the order names none */
    int64_t order_created_ms;
    int64_t now_ms;
    const tz_zone *tz;              /* refunds.timezone; NULL = UTC */
    int max_age_days;               /* refunds.max_age_days (backoffice) */
} tp_refund_in;

/*
 * A new refund (REFUND_NOT_ALLOWED with field "terminal_id" or
 * "created_at"). Cashier: the request names an ACTIVE terminal of the
 * order's merchant, the order was taken on that terminal, and on the same
 * merchant-local calendar day as now. Backoffice: the order is at most
 * max_age_days local calendar days old (a terminal_id, if given, is not
 * checked).
 */
tp_verdict tp_refund(const tp_refund_in *in);

#endif
