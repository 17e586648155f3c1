/*
 * order/ostate.h — the order status state machine (pure).
 *
 *   CREATED --pay--> PAID --refund(full)--> REFUNDED
 *   CREATED --close/expire--> CLOSED
 *
 * One transition function decides every change; the DAL applies what it says
 * inside the order's transaction (with the row locked), so the decision is
 * always made on the current row.
 */
#ifndef OSTATE_H
#define OSTATE_H

#include <stdint.h>
#include <stdbool.h>
#include "common/sk.h"

typedef enum { OS_CREATED = 0, OS_PAID, OS_CLOSED, OS_REFUNDED, OS_MAX } os_status;

typedef enum {
    OE_PAY = 0,   /* payment notification */
    OE_CLOSE,     /* merchant closes */
    OE_EXPIRE,    /* sweeper: CREATED past expire_at */
    OE_REFUND,    /* a new refund (not a repeat of an existing out_refund_no) */
    OE_MAX
} os_event;

typedef enum {
    OT_APPLY = 0, /* change the row: new status (maybe same), version+1 */
    OT_NOOP,      /* idempotent repeat: answer 200 with the unchanged order */
    OT_REJECT     /* answer with the returned error */
} os_outcome;

/* Everything the decision needs, read from the locked row and the request. */
typedef struct {
    os_status status;
    int64_t amount;            /* order amount, fen */
    int64_t refunded_amount;   /* sum of refunds so far */
    int64_t expire_at_ms;      /* epoch ms */
    int64_t now_ms;            /* decision time, epoch ms */
    const char *channel_txn_id;/* stored one (PAID) or NULL */
    /* request */
    const char *req_channel_txn_id; /* OE_PAY */
    int64_t req_paid_amount;        /* OE_PAY */
    int64_t req_refund_amount;      /* OE_REFUND */
} os_input;

typedef struct {
    os_outcome outcome;
    os_status new_status;      /* OT_APPLY */
    sk_status error;           /* OT_REJECT */
} os_result;

/*
 * Decide. Rules:
 *  PAY:    CREATED & now <= expire_at & paid==amount -> APPLY PAID
 *          CREATED & paid != amount -> REJECT AMOUNT_MISMATCH
 *          CREATED & now > expire_at -> REJECT ORDER_EXPIRED
 *          PAID|REFUNDED & same channel_txn_id & paid==amount -> NOOP
 *          PAID|REFUNDED otherwise -> REJECT ALREADY_PAID
 *          CLOSED -> REJECT ORDER_CLOSED
 *  CLOSE:  CREATED -> APPLY CLOSED; CLOSED -> NOOP; PAID|REFUNDED -> REJECT ILLEGAL_TRANSITION
 *  EXPIRE: CREATED & now > expire_at -> APPLY CLOSED; anything else -> NOOP
 *  REFUND: PAID & refunded+amt <= amount -> APPLY (REFUNDED if == amount else PAID)
 *          PAID|REFUNDED & refunded+amt > amount -> REJECT REFUND_EXCEEDS_PAID
 *          CREATED|CLOSED -> REJECT ILLEGAL_TRANSITION
 */
os_result os_decide(os_event ev, const os_input *in);

const char *os_status_name(os_status s);          /* "CREATED", ... */
int os_status_parse(const char *s, os_status *out); /* 0 or -1 */

#endif
