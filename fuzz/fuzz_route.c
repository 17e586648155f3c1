/*
 * fuzz/fuzz_route.c — the request-target parser and router (rpc/route.c):
 * what every request's path and query meet after the framing parser.
 *
 * The input is a request-target as sent (no NUL: the framing parser refuses
 * control bytes in the request line before routing). Properties:
 *  - a parsed target's segments and parameters are decoded strings with no
 *    control byte (0x00-0x1F, 0x7F), within the count limits; every
 *    parameter is found again by route_query, and none twice;
 *  - a refusal is SK_EINVALID_ARGUMENT with a reason, or SK_ENOT_FOUND;
 *  - route_match never invents an id: it is NULL or one of the segments;
 *    a path that is a route names its methods, and method_ok agrees with
 *    them (HEAD only ever on a GET route).
 */
#include "fuzz/fuzz.h"
#include "rpc/route.h"

static bool clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, 0, size) != NULL || size > 4 * ROUTE_TARGET_MAX)
        return 0;
    char *s = fz_strdup(data, size);
    route_target t;
    const char *why = NULL;
    sk_status st = route_parse(s, &t, &why);
    if (st == SK_OK) {
        FZ_ASSERT(t.nseg >= 0 && t.nseg <= ROUTE_SEGS_MAX, "nseg %d", t.nseg);
        FZ_ASSERT(t.nq >= 0 && t.nq <= ROUTE_PARAMS_MAX, "nq %d", t.nq);
        for (int i = 0; i < t.nseg; i++)
            FZ_ASSERT(clean(t.seg[i]), "control byte in segment %d", i);
        for (int i = 0; i < t.nq; i++) {
            FZ_ASSERT(clean(t.qk[i]) && clean(t.qv[i]), "control byte in parameter %d", i);
            FZ_ASSERT(route_query(&t, t.qk[i]) == t.qv[i], "parameter %d not found again", i);
            for (int j = 0; j < i; j++)
                FZ_ASSERT(strcmp(t.qk[i], t.qk[j]) != 0, "parameter %s twice", t.qk[i]);
        }
        static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD"};
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            route_match_t r = route_match(&t, methods[m]);
            FZ_ASSERT((int)r.route >= 0 && r.route < RT_MAX, "route %d", (int)r.route);
            if (r.id != NULL) {
                bool found = false;
                for (int i = 0; i < t.nseg; i++)
                    found |= r.id == t.seg[i];
                FZ_ASSERT(found, "id is not a segment");
            }
            if (r.route != RT_OTHER) {
                FZ_ASSERT(r.allow != NULL && *r.allow, "route without methods");
                /* HEAD: allowed on some GET routes only (the edge answers it
                 * as GET without the body); for HEAD only a GET route may say ok */
                if (strcmp(methods[m], "HEAD") == 0)
                    FZ_ASSERT(!r.method_ok || strstr(r.allow, "GET") != NULL, "HEAD ok on %s", r.allow);
                else
                    FZ_ASSERT(r.method_ok == (strstr(r.allow, methods[m]) != NULL), "method_ok %d for %s in %s",
                              r.method_ok, methods[m], r.allow);
            }
        }
    } else {
        FZ_ASSERT(st == SK_EINVALID_ARGUMENT || st == SK_ENOT_FOUND, "status %d", (int)st);
        if (st == SK_EINVALID_ARGUMENT)
            FZ_ASSERT(why != NULL && *why != '\0', "no reason");
    }
    free(s);
    return 0;
}
