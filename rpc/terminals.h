/*
 * rpc/terminals.h — the terminal API and the terminal side of the payment
 * routes (spec §11), called from rpc/api.c through one hook each:
 *
 *   tapi_route           POST /v1/terminals, /v1/terminals/{id}/activate,
 *                        /block, /unblock, /code, /retire; GET
 *                        /v1/terminals/{id}, /v1/merchants/{id}/terminals,
 *                        GET /v1/audit-events
 *   tapi_create_allowed  a cashier create's terminal check (in memory, before
 *                        the idempotency claim: a refused create writes
 *                        nothing anywhere)
 *   tapi_refund_policy   arms the refund rule, decided on the locked order
 *   tapi_refund_audit      row inside the refund transaction; then records it
 *   tapi_ops_audit       records fence / unfence / reload with the caller
 *
 * Terminal changes are one transaction each on the merchant store with the
 * row locked, decided by terminal/tstate.h; when that store is down they
 * answer 503 GROUP_UNAVAILABLE (Retry-After: 1) — nothing activates or
 * changes without it, while payments go on against the in-memory copy.
 */
#ifndef RPC_TERMINALS_H
#define RPC_TERMINALS_H

#include "auth/auth.h"
#include "flow/flow.h"
#include "rpc/http.h"
#include "rpc/route.h"
#include "terminal/tpolicy.h"

void tapi_route(app *a, const rt *r, const auth_key *k, const route_match_t *m, const route_target *t,
                const http_req *rq, http_resp *rs);

/* true: go on with the create; false: the answer (403 TERMINAL_*) is in rs. */
bool tapi_create_allowed(app *a, const conf *c, const auth_key *k, const create_req *r, http_resp *rs);

/* Lives on the caller's stack for one refund. */
typedef struct {
    app *a;
    const conf *c;
    const auth_key *key;
    const refund_req *req;
    bool decided;                 /* the rule ran on the locked row */
    tp_verdict verdict;
    char merchant_id[TERM_ID_MAX + 1];
} tapi_refund_ctx;

void tapi_refund_policy(app *a, const conf *c, const auth_key *k, const refund_req *fr, tapi_refund_ctx *pc,
                        upd_req *u);
void tapi_refund_audit(const tapi_refund_ctx *pc, const char *order_no, const flow_result *f);

/* After RT_FENCE / RT_UNFENCE / RT_RELOAD was answered. */
void tapi_ops_audit(app *a, const auth_key *k, met_route route, const char *id, const http_resp *rs);

#endif
