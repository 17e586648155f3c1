/*
 * rpc/reply.h — JSON replies and spec §4 error bodies, shared by the HTTP
 * handlers in rpc/ (the same shape rpc/api.c renders).
 */
#ifndef RPC_REPLY_H
#define RPC_REPLY_H

#include <jansson.h>
#include "common/sk.h"
#include "rpc/http.h"

/* Reply with j (steals the reference) as the body. */
void reply_json_body(http_resp *rs, int status, json_t *j);

/* {"error":{"code","message","field"?}} with the status's HTTP code and
 * Retry-After where the status has one. extra (stolen, may be NULL) is merged
 * into the error object. */
void reply_error(http_resp *rs, sk_status st, const char *field, const char *msg, json_t *extra);

#endif
