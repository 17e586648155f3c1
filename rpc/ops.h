/*
 * rpc/ops.h — the operator routes (rpc/ops.c): /healthz, /readyz, /metrics,
 * GET /v1/groups, fence/unfence, reload.
 */
#ifndef RPC_OPS_H
#define RPC_OPS_H

#include "flow/flow.h"
#include "metrics/metrics.h"
#include "rpc/http.h"

/* RT_HEALTHZ / RT_READYZ / RT_METRICS (unauthenticated; method checked). */
void ops_health(app *a, const rt *r, met_route route, const http_req *rq, http_resp *rs);

/* RT_GROUPS, RT_FENCE, RT_UNFENCE (id = the group id segment), RT_RELOAD. */
void ops_admin(app *a, const rt *r, met_route route, const char *id, http_resp *rs);

/* How many groups could take a create now (readiness). */
int ops_writable_groups(app *a, const rt *r);

#endif
