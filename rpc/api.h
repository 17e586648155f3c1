/*
 * rpc/api.h — the HTTP API's entry point (rpc/api.c): one call per request
 * from the HTTP edge (rpc/http.h), ctx is the daemon's app (flow/flow.h).
 */
#ifndef RPC_API_H
#define RPC_API_H

#include "rpc/http.h"

void api_handle(void *ctx, const http_req *rq, http_resp *rs);

#endif
