/*
 * terminal/tstate.h — the terminal status state machine (pure, spec §11).
 *
 *   (none) --register--> REGISTERED --activate(right code)--> ACTIVE
 *   REGISTERED --activate(wrong code) x5--> LOCKED --new_code--> REGISTERED
 *   REGISTERED --new_code--> REGISTERED (the old code stops working)
 *   ACTIVE --block--> BLOCKED --unblock--> ACTIVE
 *   any but RETIRED --retire--> RETIRED (final: its id is never reused)
 *
 * One decision function, ts_decide(), for every change; the driver
 * (rpc/terminals.c) runs it on the row locked in the merchant store
 * (SELECT ... FOR UPDATE) and writes what it says, so two daemons changing
 * the same terminal at once cannot both win. "Right code" is decided by the
 * driver before the call: the code matches the stored hash (constant time),
 * is not expired and was not used; anything else is a wrong code.
 */
#ifndef TSTATE_H
#define TSTATE_H

#include <stdbool.h>
#include "common/sk.h"

#define TS_MAX_WRONG 5          /* wrong activation codes that lock a terminal */

typedef enum {
    TS_NONE = 0,                /* no such terminal (no row) */
    TS_REGISTERED,
    TS_ACTIVE,
    TS_BLOCKED,
    TS_LOCKED,
    TS_RETIRED,
    TS_MAX
} ts_status;

typedef enum {
    TE_REGISTER = 0,
    TE_ACTIVATE_OK,             /* activate with the right, unexpired, unused code */
    TE_ACTIVATE_WRONG,          /* activate with anything else */
    TE_BLOCK,
    TE_UNBLOCK,
    TE_NEW_CODE,
    TE_RETIRE,
    TE_MAX
} ts_event;

typedef enum {
    TT_APPLY = 0,               /* write the new state; answer success */
    TT_APPLY_FAIL,              /* write the new state (a counted wrong code); answer `error` */
    TT_NOOP,                    /* idempotent repeat: nothing written; answer success */
    TT_REJECT                   /* nothing written; answer `error` */
} ts_outcome;

typedef struct {
    ts_status status;
    int failures;               /* wrong activation codes since the last code was issued */
} ts_input;

typedef struct {
    ts_outcome outcome;
    ts_status new_status;       /* the status after the decision (unchanged unless applied) */
    int new_failures;
    bool issue_code;            /* APPLY: a fresh activation code replaces any old one */
    bool clear_code;            /* APPLY / APPLY_FAIL: the stored code stops working */
    sk_status error;            /* APPLY_FAIL / REJECT */
} ts_result;

/*
 * Rules (first match):
 *  REGISTER:  NONE -> REGISTERED (code issued); else REJECT ILLEGAL_TRANSITION
 *  ACTIVATE_OK:    REGISTERED -> ACTIVE (code cleared, failures 0)
 *  ACTIVATE_WRONG: REGISTERED -> APPLY_FAIL ACTIVATION_FAILED, failures+1;
 *                  at TS_MAX_WRONG -> LOCKED (code cleared)
 *  ACTIVATE_*: ACTIVE, LOCKED -> REJECT ACTIVATION_FAILED (not counted: an
 *              active terminal has no code left; a locked one needs a new
 *              code); BLOCKED -> REJECT TERMINAL_BLOCKED; RETIRED -> REJECT
 *              TERMINAL_NOT_ACTIVE
 *  BLOCK:     ACTIVE -> BLOCKED; BLOCKED -> NOOP; REGISTERED, LOCKED, RETIRED
 *             -> REJECT ILLEGAL_TRANSITION (unblock would skip activation:
 *             retire a terminal that was never activated instead)
 *  UNBLOCK:   BLOCKED -> ACTIVE; ACTIVE -> NOOP; else REJECT ILLEGAL_TRANSITION
 *  NEW_CODE:  REGISTERED, LOCKED -> REGISTERED (code issued, failures 0);
 *             else REJECT ILLEGAL_TRANSITION
 *  RETIRE:    REGISTERED, ACTIVE, BLOCKED, LOCKED -> RETIRED (code cleared);
 *             RETIRED -> NOOP
 *  any event but REGISTER on NONE -> REJECT NOT_FOUND
 */
ts_result ts_decide(ts_event ev, const ts_input *in);

const char *ts_status_name(ts_status s);            /* "REGISTERED", ...; "NONE" for TS_NONE */
int ts_status_parse(const char *s, ts_status *out);  /* 0 or -1 (never parses NONE) */
const char *ts_event_name(ts_event e);              /* "register", "activate_ok", ... */

#endif
