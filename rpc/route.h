/*
 * rpc/route.h — the request-target, parsed and routed (pure).
 *
 * route_parse splits the target exactly as sent into path segments and
 * query parameters and percent-decodes them strictly: a bad escape, or a
 * control byte (0x00-0x1F, 0x7F — %00 included) anywhere after decoding, is
 * a 400; the decoded value is never truncated at a NUL. Segments are split
 * on the raw '/' first, so an encoded %2F stays inside its segment.
 * route_match maps (method, segments) to a route of spec §4 / §11.
 */
#ifndef RPC_ROUTE_H
#define RPC_ROUTE_H

#include <stdbool.h>
#include "common/sk.h"
#include "metrics/metrics.h"

#define ROUTE_TARGET_MAX 2048
#define ROUTE_SEGS_MAX 8
#define ROUTE_PARAMS_MAX 16

typedef struct {
    char buf[ROUTE_TARGET_MAX + 2 * ROUTE_SEGS_MAX + 2 * ROUTE_PARAMS_MAX];  /* decoded, NUL-separated */
    const char *seg[ROUTE_SEGS_MAX];
    int nseg;
    const char *qk[ROUTE_PARAMS_MAX], *qv[ROUTE_PARAMS_MAX];
    int nq;
} route_target;

/*
 * SK_OK; SK_EINVALID_ARGUMENT (why says: bad escape, control byte,
 * duplicate parameter, too many parameters); SK_ENOT_FOUND for a target
 * that is no route of ours (not starting with '/', too long, too many
 * segments).
 */
sk_status route_parse(const char *target, route_target *out, const char **why) SK_WUR;

/* The decoded value of query parameter key, or NULL. */
const char *route_query(const route_target *t, const char *key);

typedef struct {
    met_route route;          /* RT_OTHER: no such path */
    const char *allow;        /* methods of that path: "GET", "POST", "GET, POST" */
    bool method_ok;           /* method is one of allow */
    const char *id;           /* the path's id segment ({order_no}, {merchant_id}, {id}) or NULL */
} route_match_t;

route_match_t route_match(const route_target *t, const char *method);

/* Health, readiness and metrics: the only routes without a signature. */
bool route_is_open(met_route r);

#endif
