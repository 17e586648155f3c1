/*
 * fuzz/fuzz_mlist.c — merchant-listing arguments and the opaque cursor
 * (listing/mlist.c): GET /v1/merchants/{id}/orders?since&until&status&limit&cursor&source.
 *
 * Input framing: NUL-separated fields; field 0 is the merchant id from the
 * path, each further field "key=value" (a query argument after URL
 * decoding; the first of a repeated key wins, as with libmicrohttpd).
 *
 * Properties: a decoded cursor re-encodes to exactly the text it came from
 * (one text per position: nothing else is accepted); accepted arguments are
 * in range and times re-format to the same instant; the page SQL builds and
 * carries exactly the quotes its template has (every embedded value was
 * pattern-checked: no injection); error field/message are valid UTF-8.
 */
#include "fuzz/fuzz.h"
#include "listing/mlist.h"

#define MAXF 16

typedef struct {
    char *k[MAXF], *v[MAXF];
    size_t n;
} qargs;

static const char *get(void *ctx, const char *key)
{
    qargs *q = ctx;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->k[i], key) == 0)
            return q->v[i];
    return NULL;
}

static void cursor_round_trip(const char *s)
{
    mcur c;
    if (mcur_decode(s, &c) != 0)
        return;
    char again[MCUR_MAX];
    mcur_encode(&c, again);
    FZ_ASSERT(strcmp(again, s) == 0, "cursor %s re-encodes to %s", s, again);
    FZ_ASSERT(strlen(c.order_no) == ONO_LEN && c.created_ms >= 0, "decoded fields");
}

static void time_round_trip(int64_t ms)
{
    char t[25];
    int64_t back;
    ord_fmt_time(ms, t);
    FZ_ASSERT(ord_parse_time(t, &back) == 0 && back == ms, "time %lld -> %s", (long long)ms, t);
}

static size_t count(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *st[MAXF];
    size_t ln[MAXF];
    size_t nf = fz_split(data, size, 0, MAXF, st, ln);
    char *merchant = fz_strdup(st[0], ln[0]);
    qargs q = {.n = 0};
    for (size_t i = 1; i < nf; i++) {
        const uint8_t *eq = memchr(st[i], '=', ln[i]);
        size_t kl = eq ? (size_t)(eq - st[i]) : ln[i];
        q.k[q.n] = fz_strdup(st[i], kl);
        q.v[q.n] = eq ? fz_strdup(eq + 1, ln[i] - kl - 1) : fz_strdup(st[i], 0);
        q.n++;
    }
    /* every value on its own is also a cursor candidate */
    cursor_round_trip(merchant);
    for (size_t i = 0; i < q.n; i++)
        cursor_round_trip(q.v[i]);

    mlist_args a;
    ord_err e = {{0}, {0}};
    sk_status s = mlist_parse(merchant, get, &q, &a, &e);
    if (s != SK_OK) {
        FZ_ASSERT(s == SK_EINVALID_ARGUMENT, "status %d", (int)s);
        FZ_ASSERT_TEXT(e.field);
        FZ_ASSERT_TEXT(e.message);
        FZ_ASSERT(e.field[0] != '\0' && e.message[0] != '\0', "error not named");
    } else {
        FZ_ASSERT(strcmp(a.merchant_id, merchant) == 0, "merchant_id");
        FZ_ASSERT(a.limit >= 1 && a.limit <= MLIST_LIMIT_MAX, "limit %d", a.limit);
        if (a.has_since)
            time_round_trip(a.since_ms);
        if (a.has_until)
            time_round_trip(a.until_ms);
        FZ_ASSERT(!(a.has_since && a.has_until) || a.until_ms > a.since_ms, "until <= since");
        if (a.has_cursor) {
            char again[MCUR_MAX];
            mcur_encode(&a.cursor, again);
            FZ_ASSERT(strcmp(again, get(&q, "cursor")) == 0, "cursor not canonical");
        }
        char sql[4096];
        int n = mlist_sql(&a, "merchant_orders", "order_no", sql, sizeof sql);
        FZ_ASSERT(n > 0 && (size_t)n == strlen(sql), "sql build failed");
        size_t quotes = 2 + 2 * a.has_since + 2 * a.has_until + 2 * a.has_status + 6 * a.has_cursor;
        FZ_ASSERT(count(sql, '\'') == quotes, "quotes in %s", sql);
        FZ_ASSERT(strchr(sql, '\\') == NULL && strchr(sql, ';') == NULL, "escape in %s", sql);
        /* too small a buffer is refused, never overrun */
        char tiny[16];
        FZ_ASSERT(mlist_sql(&a, "merchant_orders", "order_no", tiny, sizeof tiny) == -1, "tiny buffer");
    }
    free(merchant);
    for (size_t i = 0; i < q.n; i++) {
        free(q.k[i]);
        free(q.v[i]);
    }
    return 0;
}
