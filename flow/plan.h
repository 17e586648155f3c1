/*
 * flow/plan.h — the create attempt loop as a pure decision core.
 *
 * A create tries groups one at a time until one commits, the request
 * deadline passes, or no group can take it. Given the outcome of each
 * attempt and the current group views (selector/sel.h), the plan says what
 * to do next — try which group, or answer what — and whether the outcome
 * counts as a failure of the group. No I/O, no clock: the driver
 * (flow/create.c) passes `now` and does the talking.
 *
 * Rules (spec §6):
 *  - a group is tried at most once per create; the pick is sel_pick's
 *    (weighted rendezvous on the idempotency key, best probe tier first);
 *  - a refused or outcome-unknown insert counts a failure of the group and
 *    the create moves on; a full bulkhead does not count (the group is busy,
 *    not sick) but makes the final answer OVERLOADED instead of
 *    NO_WRITABLE_GROUP; a failed inline probe was already counted by the
 *    prober; our own failure (out of memory, ...) never counts against a
 *    group and answers INTERNAL at once;
 *  - a number collision (the order number already taken in the group by
 *    another order) wrote nothing and says nothing about the group: the
 *    create tries again with a new number, the same group allowed, at most
 *    PLAN_MAX_COLLISIONS times, then answers INTERNAL;
 *  - the deadline passed or nothing left: OVERLOADED if some group was only
 *    busy, else NO_WRITABLE_GROUP.
 */
#ifndef FLOW_PLAN_H
#define FLOW_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include "common/sk.h"
#include "config/conf.h"
#include "selector/sel.h"

/* What one attempt on one group produced. */
typedef enum {
    AT_OK,           /* committed */
    AT_DUPKEY,       /* merchant_id+out_trade_no already in this group */
    AT_UNKNOWN,      /* timed out / connection lost mid-statement: may have committed */
    AT_REFUSED,      /* nothing written: connect failed, read-only, server error */
    AT_BUSY,         /* the group's bulkhead was full */
    AT_PROBE_FAILED, /* the inline probe of a stale group failed (counted by the prober) */
    AT_INTERNAL,     /* our own failure: out of memory, cannot render */
    AT_COLLISION,    /* the order number is taken in the group by another order (a
                        number issued twice): nothing written; retry, new number */
    AT_MAX
} plan_outcome;

/* The attempt outcome of a dal status (SK_OK, SK_EDUPKEY, SK_ETIMEDOUT, ...). */
plan_outcome plan_outcome_of(sk_status st);
const char *plan_outcome_name(plan_outcome o);

#define PLAN_MAX_COLLISIONS 3

typedef struct {
    int64_t deadline_ms;               /* monotonic */
    uint64_t key;                      /* sel_hash of the idempotency key */
    int fresh_ms, slow_ms;             /* probe freshness (sel_probe_class) */
    bool tried[CONF_MAX_GROUPS + 1];
    bool saw_busy;
    int attempts;
    int collisions;
} plan;

typedef enum { PLAN_TRY, PLAN_ANSWER } plan_act;

typedef struct {
    plan_act act;
    int group;                         /* PLAN_TRY: group id */
    bool needs_probe;                  /* PLAN_TRY: picked from the stale tier */
    sk_status status;                  /* PLAN_ANSWER: SK_ENO_WRITABLE_GROUP or SK_EOVERLOADED */
} plan_step;

typedef struct {
    bool count_failure;                /* record a failure of the group */
    bool done;                         /* stop trying; answer status */
    sk_status status;                  /* when done: SK_OK, SK_EDUPKEY (answer from the
                                          stored order) or SK_EINTERNAL */
} plan_verdict;

void plan_init(plan *p, int64_t deadline_ms, uint64_t key, int fresh_ms, int slow_ms);

/* The next step given the views (n of them; their `excluded` flags are set
 * here from the groups already tried). */
plan_step plan_next(plan *p, sel_view *v, int n, int64_t now_ms);

/* Record the outcome of the attempt on `group`. */
plan_verdict plan_record(plan *p, int group, plan_outcome o);

#endif
