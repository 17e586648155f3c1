/* rpc/route.c — parse and route the request-target; see route.h. */
#include "rpc/route.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode raw[0..n) into *o (advancing it, NUL-terminating). plus: '+' is a
 * space (query). 0 ok, -1 bad escape, -2 control byte. */
static int decode(const char *raw, size_t n, bool plus, char **o, const char *end)
{
    char *w = *o;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(raw[i + 1]), l = hexval(raw[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f)
            return -2;
        if (w >= end - 1)
            return -1;
        *w++ = (char)c;
    }
    *w++ = '\0';
    *o = w;
    return 0;
}

sk_status route_parse(const char *target, route_target *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    size_t tl = strnlen(target, ROUTE_TARGET_MAX + 1);
    if (tl == 0 || tl > ROUTE_TARGET_MAX || target[0] != '/') {
        *why = "no such route";
        return SK_ENOT_FOUND;
    }
    const char *q = memchr(target, '?', tl);
    size_t pl = q ? (size_t)(q - target) : tl;
    char *w = out->buf;
    const char *end = out->buf + sizeof out->buf;
    /* path: split on raw '/', then decode each segment */
    const char *p = target + 1, *pe = target + pl;
    if (pl > 1 || (pl == 1 && q == NULL)) {
        for (;;) {
            const char *s = memchr(p, '/', (size_t)(pe - p));
            const char *se = s ? s : pe;
            if (out->nseg >= ROUTE_SEGS_MAX) {
                *why = "no such route";
                return SK_ENOT_FOUND;
            }
            out->seg[out->nseg] = w;
            int rc = decode(p, (size_t)(se - p), false, &w, end);
            if (rc != 0) {
                *why = rc == -2 ? "control character in the path" : "bad percent-escape in the path";
                return SK_EINVALID_ARGUMENT;
            }
            out->nseg++;
            if (s == NULL)
                break;
            p = s + 1;
        }
        /* "/" alone is one empty segment; drop it */
        if (out->nseg == 1 && out->seg[0][0] == '\0')
            out->nseg = 0;
    }
    if (q == NULL)
        return SK_OK;
    const char *a = q + 1, *qe = target + tl;
    while (a < qe) {
        const char *amp = memchr(a, '&', (size_t)(qe - a));
        const char *pe2 = amp ? amp : qe;
        if (pe2 > a) {
            if (out->nq >= ROUTE_PARAMS_MAX) {
                *why = "too many query parameters";
                return SK_EINVALID_ARGUMENT;
            }
            const char *eq = memchr(a, '=', (size_t)(pe2 - a));
            const char *ke = eq ? eq : pe2;
            out->qk[out->nq] = w;
            int rc = decode(a, (size_t)(ke - a), true, &w, end);
            if (rc == 0) {
                out->qv[out->nq] = w;
                rc = eq ? decode(eq + 1, (size_t)(pe2 - eq - 1), true, &w, end) : decode("", 0, true, &w, end);
            }
            if (rc != 0) {
                *why = rc == -2 ? "control character in the query" : "bad percent-escape in the query";
                return SK_EINVALID_ARGUMENT;
            }
            for (int i = 0; i < out->nq; i++)
                if (strcmp(out->qk[i], out->qk[out->nq]) == 0) {
                    *why = "a query parameter is given twice";
                    return SK_EINVALID_ARGUMENT;
                }
            out->nq++;
        }
        if (amp == NULL)
            break;
        a = amp + 1;
    }
    return SK_OK;
}

const char *route_query(const route_target *t, const char *key)
{
    for (int i = 0; i < t->nq; i++)
        if (strcmp(t->qk[i], key) == 0)
            return t->qv[i];
    return NULL;
}

static bool is(const route_target *t, int i, const char *s) { return i < t->nseg && strcmp(t->seg[i], s) == 0; }

static route_match_t def(met_route r, const char *allow, const char *id)
{
    return (route_match_t){.route = r, .allow = allow, .id = id};
}

route_match_t route_match(const route_target *t, const char *method)
{
    route_match_t m = {.route = RT_OTHER};
    int n = t->nseg;
    if (n == 1 && is(t, 0, "healthz"))
        m = def(RT_HEALTHZ, "GET", NULL);
    else if (n == 1 && is(t, 0, "readyz"))
        m = def(RT_READYZ, "GET", NULL);
    else if (n == 1 && is(t, 0, "metrics"))
        m = def(RT_METRICS, "GET", NULL);
    else if (n >= 2 && is(t, 0, "v1")) {
        if (is(t, 1, "orders")) {
            if (n == 2)
                m = def(RT_CREATE, "POST", NULL);
            else if (n == 3)
                m = def(RT_GET, "GET", t->seg[2]);
            else if (n == 4 && is(t, 3, "pay"))
                m = def(RT_PAY, "POST", t->seg[2]);
            else if (n == 4 && is(t, 3, "close"))
                m = def(RT_CLOSE, "POST", t->seg[2]);
            else if (n == 4 && is(t, 3, "refunds"))
                m = def(strcmp(method, "GET") == 0 ? RT_REFUND_LIST : RT_REFUND, "GET, POST", t->seg[2]);
        } else if (is(t, 1, "merchants") && n == 4 && is(t, 3, "orders")) {
            m = def(RT_MERCHANT_ORDERS, "GET", t->seg[2]);
        } else if (is(t, 1, "merchants") && n == 4 && is(t, 3, "terminals")) {
            m = def(RT_MERCHANT_TERMINALS, "GET", t->seg[2]);
        } else if (is(t, 1, "terminals")) {
            static const struct { const char *verb; met_route r; } verbs[] = {
                {"activate", RT_TERMINAL_ACTIVATE}, {"block", RT_TERMINAL_BLOCK}, {"unblock", RT_TERMINAL_UNBLOCK},
                {"code", RT_TERMINAL_CODE},         {"retire", RT_TERMINAL_RETIRE},
            };
            if (n == 2)
                m = def(RT_TERMINAL_REGISTER, "POST", NULL);
            else if (n == 3)
                m = def(RT_TERMINAL_GET, "GET", t->seg[2]);
            else if (n == 4)
                for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
                    if (is(t, 3, verbs[i].verb))
                        m = def(verbs[i].r, "POST", t->seg[2]);
        } else if (is(t, 1, "audit-events") && n == 2) {
            m = def(RT_AUDIT_EVENTS, "GET", NULL);
        } else if (is(t, 1, "groups")) {
            if (n == 2)
                m = def(RT_GROUPS, "GET", NULL);
            else if (n == 4 && is(t, 3, "fence"))
                m = def(RT_FENCE, "POST", t->seg[2]);
            else if (n == 4 && is(t, 3, "unfence"))
                m = def(RT_UNFENCE, "POST", t->seg[2]);
        } else if (is(t, 1, "admin") && n == 3 && is(t, 2, "reload")) {
            m = def(RT_RELOAD, "POST", NULL);
        }
    }
    if (m.route == RT_OTHER)
        return m;
    if (strcmp(m.allow, "GET, POST") == 0)
        m.method_ok = strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0;
    else
        m.method_ok = strcmp(method, m.allow) == 0 ||
                      (strcmp(m.allow, "GET") == 0 && strcmp(method, "HEAD") == 0 && route_is_open(m.route) &&
                       m.route != RT_METRICS);
    return m;
}

bool route_is_open(met_route r) { return r == RT_HEALTHZ || r == RT_READYZ || r == RT_METRICS; }
