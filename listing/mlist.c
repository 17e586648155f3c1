/*
 * listing/mlist.c — merchant listing, pure part: argument validation,
 * cursor codec, page SQL, merge order. See listing/mlist.h.
 */
#include "listing/mlist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/civil.h"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* out must hold 4*ceil(n/3)+1 bytes */
static void b64url_enc(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = B64URL[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = B64URL[v & 63];
    }
    out[o] = '\0';
}

/* returns decoded length or -1 */
static int b64url_dec(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s), o = 0;
    if (n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)((acc >> bits) & 0xFF);
        }
    }
    /* leftover bits must be zero (canonical encoding only) */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (int)o;
}

void mcur_encode(const mcur *c, char out[MCUR_MAX])
{
    char raw[48];
    int n = snprintf(raw, sizeof raw, "1:%" PRId64 ":%s", c->created_ms, c->order_no);
    if (n < 0 || (size_t)n >= sizeof raw) {
        out[0] = '\0';
        return;
    }
    b64url_enc((const unsigned char *)raw, (size_t)n, out);
}

int mcur_decode(const char *s, mcur *out)
{
    unsigned char raw[48];
    if (s == NULL || strlen(s) >= MCUR_MAX)
        return -1;
    int n = b64url_dec(s, raw, sizeof raw - 1);
    if (n < 0)
        return -1;
    /* canonical text only, so a position has exactly one cursor (found by
     * fuzz/fuzz_mlist.c): no NUL inside (strlen would stop there and ignore
     * the rest), no leading zeros in the time */
    if (memchr(raw, '\0', (size_t)n) != NULL)
        return -1;
    raw[n] = '\0';
    const char *p = (const char *)raw;
    if (strncmp(p, "1:", 2) != 0)
        return -1;
    p += 2;
    int64_t ms = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (digits++ >= 15) /* < year 33658: plenty; bounds the value */
            return -1;
        ms = ms * 10 + (*p++ - '0');
    }
    if (digits == 0 || *p++ != ':' || (digits > 1 && p[-digits - 1] == '0'))
        return -1;
    if (strlen(p) != ONO_LEN)
        return -1;
    for (int i = 0; i < ONO_LEN; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    out->created_ms = ms;
    memcpy(out->order_no, p, ONO_LEN + 1);
    return 0;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > ORD_MERCHANT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static sk_status bad(ord_err *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->message, sizeof e->message, "%s", msg);
    return SK_EINVALID_ARGUMENT;
}

sk_status mlist_parse(const char *merchant_id, mlist_get_fn get, void *ctx, mlist_args *a, ord_err *e)
{
    memset(a, 0, sizeof *a);
    a->limit = MLIST_LIMIT_DEFAULT;
    if (merchant_id == NULL || !id_ok(merchant_id))
        return bad(e, "merchant_id", "merchant_id must match [A-Za-z0-9_-]{1,32}");
    sk_strlcpy(a->merchant_id, merchant_id, sizeof a->merchant_id);

    const char *v = get(ctx, "since");
    if (v != NULL) {
        if (ord_parse_time(v, &a->since_ms) != 0)
            return bad(e, "since", "since must be an RFC 3339 UTC time, e.g. 2026-01-02T03:04:05Z");
        a->has_since = true;
    }
    v = get(ctx, "until");
    if (v != NULL) {
        if (ord_parse_time(v, &a->until_ms) != 0)
            return bad(e, "until", "until must be an RFC 3339 UTC time, e.g. 2026-01-02T03:04:05Z");
        a->has_until = true;
    }
    if (a->has_since && a->has_until && a->until_ms <= a->since_ms)
        return bad(e, "until", "until must be after since");
    v = get(ctx, "status");
    if (v != NULL) {
        if (os_status_parse(v, &a->status) != 0)
            return bad(e, "status", "status must be CREATED, PAID, CLOSED or REFUNDED");
        a->has_status = true;
    }
    v = get(ctx, "limit");
    if (v != NULL) {
        int n = 0;
        size_t len = strlen(v);
        if (len == 0 || len > 3)
            return bad(e, "limit", "limit must be an integer 1..500");
        for (size_t i = 0; i < len; i++) {
            if (v[i] < '0' || v[i] > '9')
                return bad(e, "limit", "limit must be an integer 1..500");
            n = n * 10 + (v[i] - '0');
        }
        if (n < 1 || n > MLIST_LIMIT_MAX)
            return bad(e, "limit", "limit must be an integer 1..500");
        a->limit = n;
    }
    v = get(ctx, "cursor");
    if (v != NULL) {
        if (mcur_decode(v, &a->cursor) != 0)
            return bad(e, "cursor", "cursor is not a value returned as next_cursor");
        a->has_cursor = true;
    }
    v = get(ctx, "source");
    if (v != NULL) {
        if (strcmp(v, "mirror") == 0)
            a->source = MSRC_MIRROR;
        else if (strcmp(v, "groups") == 0)
            a->source = MSRC_GROUPS;
        else
            return bad(e, "source", "source must be mirror or groups");
    }
    return SK_OK;
}

/* "YYYY-MM-DD HH:MM:SS.mmm" UTC, as dal_fmt_dt (clamped to years 0000..9999) */
static void fmt_dt(int64_t ms, char out[32]) { sk_fmt_time(ms, ' ', false, out); }

int mlist_sql(const mlist_args *a, const char *table, const char *cols, char *buf, size_t cap)
{
    char t1[32];
    size_t n = 0;
    int k;
#define APPEND(...)                                          \
    do {                                                     \
        k = snprintf(buf + n, cap - n, __VA_ARGS__);         \
        if (k < 0 || (size_t)k >= cap - n)                   \
            return -1;                                       \
        n += (size_t)k;                                      \
    } while (0)
    if (cap == 0)
        return -1;
    APPEND("SELECT %s FROM %s WHERE merchant_id='%s'", cols, table, a->merchant_id);
    if (a->has_since) {
        fmt_dt(a->since_ms, t1);
        APPEND(" AND created_at>='%s'", t1);
    }
    if (a->has_until) {
        fmt_dt(a->until_ms, t1);
        APPEND(" AND created_at<'%s'", t1);
    }
    if (a->has_status)
        APPEND(" AND status='%s'", os_status_name(a->status));
    if (a->has_cursor) {
        fmt_dt(a->cursor.created_ms, t1);
        APPEND(" AND (created_at<'%s' OR (created_at='%s' AND order_no<'%s'))", t1, t1, a->cursor.order_no);
    }
    APPEND(" ORDER BY created_at DESC, order_no DESC LIMIT %d", a->limit + 1);
#undef APPEND
    return (int)n;
}

int mlist_cmp(int64_t ca, const char *na, int64_t cb, const char *nb)
{
    if (ca != cb)
        return ca > cb ? -1 : 1;
    int c = strcmp(na, nb);
    return c > 0 ? -1 : c < 0 ? 1 : 0;
}
