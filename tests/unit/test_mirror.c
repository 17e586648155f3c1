/* tests/unit/test_mirror.c — mirror and merchant listing, pure parts: cursor
 * codec, listing argument validation and page SQL, merge order, event decode,
 * version guard, lag percentiles. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/utf8.h"
#include "mirror/event.h"
#include "listing/mlist.h"

/* ---------- cursor ---------- */

START_TEST(cursor_roundtrip)
{
    mcur c = {.created_ms = 1795655940032LL}, d;
    memcpy(c.order_no, "2026112601190000100001026", ONO_LEN + 1);
    char enc[MCUR_MAX];
    mcur_encode(&c, enc);
    ck_assert(strlen(enc) > 0);
    for (const char *p = enc; *p; p++) /* URL-safe, no padding */
        ck_assert(strchr("+/=", *p) == NULL);
    ck_assert_int_eq(mcur_decode(enc, &d), 0);
    ck_assert(d.created_ms == c.created_ms);
    ck_assert_str_eq(d.order_no, c.order_no);
    c.created_ms = 0;
    mcur_encode(&c, enc);
    ck_assert_int_eq(mcur_decode(enc, &d), 0);
    ck_assert(d.created_ms == 0);
}
END_TEST

static void enc_rawn(const char *raw, size_t n, char *out)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    const unsigned char *in = (const unsigned char *)raw;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = T[(v >> 18) & 63];
        out[o++] = T[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = T[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = T[v & 63];
    }
    out[o] = '\0';
}

static void enc_raw(const char *raw, char *out) { enc_rawn(raw, strlen(raw), out); }

/* Found by fuzz/fuzz_mlist.c: a cursor is accepted only in the one text
 * mcur_encode makes for its position (decode -> encode gives it back). */
START_TEST(cursor_is_canonical)
{
    mcur d;
    char buf[128], again[MCUR_MAX];
    static const char with_nul[] = "1:0:2026112600565200700012022\0" "3MDAwMTIwMjI";
    enc_rawn(with_nul, sizeof with_nul - 1, buf); /* junk after a NUL */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_rawn("1:12:2026112601190000100001026\0", 31, buf); /* trailing NUL */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:012:2026112601190000100001026", buf); /* leading zero */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:00:2026112601190000100001026", buf);
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:0:2026112601190000100001026", buf); /* zero itself is fine */
    ck_assert_int_eq(mcur_decode(buf, &d), 0);
    mcur_encode(&d, again);
    ck_assert_str_eq(again, buf);
    enc_raw("1:10:2026112601190000100001026", buf);
    ck_assert_int_eq(mcur_decode(buf, &d), 0);
    ck_assert(d.created_ms == 10);
    mcur_encode(&d, again);
    ck_assert_str_eq(again, buf);
}
END_TEST

START_TEST(cursor_rejects_garbage)
{
    mcur d;
    char buf[128];
    ck_assert_int_eq(mcur_decode("", &d), -1);
    ck_assert_int_eq(mcur_decode("!!", &d), -1);
    ck_assert_int_eq(mcur_decode("abc=", &d), -1);
    ck_assert_int_eq(mcur_decode("A", &d), -1);
    enc_raw("2:1:2026112601190000100001026", buf); /* unknown version */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1::2026112601190000100001026", buf); /* no time */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:12:202611260119000010000102", buf); /* short order_no */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:12:20261126011900001000010x6", buf); /* non-digit */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:1234567890123456:2026112601190000100001026", buf); /* absurd time */
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:-5:2026112601190000100001026", buf);
    ck_assert_int_eq(mcur_decode(buf, &d), -1);
    enc_raw("1:12:2026112601190000100001026", buf);
    ck_assert_int_eq(mcur_decode(buf, &d), 0);
    ck_assert(d.created_ms == 12);
}
END_TEST

/* ---------- listing arguments ---------- */

typedef struct { const char *k[8], *v[8]; } qmap;

static const char *qm_get(void *ctx, const char *key)
{
    qmap *q = ctx;
    for (int i = 0; i < 8 && q->k[i]; i++)
        if (strcmp(q->k[i], key) == 0)
            return q->v[i];
    return NULL;
}

static sk_status parse1(const char *mid, const char *k, const char *v, mlist_args *a, ord_err *e)
{
    qmap q = {{k}, {v}};
    return mlist_parse(mid, qm_get, &q, a, e);
}

START_TEST(args_defaults_and_values)
{
    mlist_args a;
    ord_err e;
    qmap q = {{NULL}, {NULL}};
    ck_assert_int_eq(mlist_parse("m_1-A", qm_get, &q, &a, &e), SK_OK);
    ck_assert_int_eq(a.limit, 50);
    ck_assert_int_eq(a.source, MSRC_MIRROR);
    ck_assert(!a.has_since && !a.has_until && !a.has_status && !a.has_cursor);
    qmap q2 = {{"since", "until", "status", "limit", "source"},
               {"2026-01-01T00:00:00Z", "2026-01-02T00:00:00.500Z", "PAID", "500", "groups"}};
    ck_assert_int_eq(mlist_parse("m", qm_get, &q2, &a, &e), SK_OK);
    ck_assert(a.has_since && a.has_until && a.has_status);
    ck_assert_int_eq(a.status, OS_PAID);
    ck_assert_int_eq(a.limit, 500);
    ck_assert_int_eq(a.source, MSRC_GROUPS);
    ck_assert(a.until_ms - a.since_ms == 86400500LL);
}
END_TEST

START_TEST(args_rejected_with_field)
{
    static const struct { const char *k, *v, *field; } cases[] = {
        {"limit", "0", "limit"}, {"limit", "501", "limit"}, {"limit", "", "limit"}, {"limit", "5x", "limit"},
        {"limit", "-1", "limit"}, {"limit", "0050", "limit"}, {"status", "paid", "status"},
        {"status", "EXPIRED", "status"}, {"since", "2026-01-01", "since"}, {"until", "2026-01-01T00:00:00+08:00", "until"},
        {"cursor", "zz!", "cursor"}, {"source", "replica", "source"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mlist_args a;
        ord_err e = {{0}, {0}};
        ck_assert_msg(parse1("m", cases[i].k, cases[i].v, &a, &e) == SK_EINVALID_ARGUMENT, "%s=%s", cases[i].k,
                      cases[i].v);
        ck_assert_str_eq(e.field, cases[i].field);
    }
    mlist_args a;
    ord_err e = {{0}, {0}};
    ck_assert_int_eq(parse1("", NULL, NULL, &a, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.field, "merchant_id");
    ck_assert_int_eq(parse1("a.b", NULL, NULL, &a, &e), SK_EINVALID_ARGUMENT);
    ck_assert_int_eq(parse1("abcdefghijabcdefghijabcdefghij123", NULL, NULL, &a, &e), SK_EINVALID_ARGUMENT);
    ck_assert_int_eq(parse1("abcdefghijabcdefghijabcdefghij12", NULL, NULL, &a, &e), SK_OK);
    qmap q = {{"since", "until"}, {"2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"}};
    ck_assert_int_eq(mlist_parse("m", qm_get, &q, &a, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.field, "until");
}
END_TEST

START_TEST(page_sql)
{
    mlist_args a;
    ord_err e;
    char cur[MCUR_MAX];
    mcur c = {.created_ms = 1000};
    memcpy(c.order_no, "2026112601190000100001026", ONO_LEN + 1);
    mcur_encode(&c, cur);
    qmap q = {{"status", "cursor", "limit", "since"}, {"CLOSED", cur, "10", "1970-01-01T00:00:00.250Z"}};
    ck_assert_int_eq(mlist_parse("m1", qm_get, &q, &a, &e), SK_OK);
    char sql[1024];
    int n = mlist_sql(&a, "merchant_orders", "order_no", sql, sizeof sql);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(sql,
                     "SELECT order_no FROM merchant_orders WHERE merchant_id='m1'"
                     " AND created_at>='1970-01-01 00:00:00.250' AND status='CLOSED'"
                     " AND (created_at<'1970-01-01 00:00:01.000' OR (created_at='1970-01-01 00:00:01.000'"
                     " AND order_no<'2026112601190000100001026'))"
                     " ORDER BY created_at DESC, order_no DESC LIMIT 11");
    ck_assert_int_eq(mlist_sql(&a, "merchant_orders", "order_no", sql, 40), -1);
}
END_TEST

START_TEST(merge_order)
{
    ck_assert_int_lt(mlist_cmp(2, "1", 1, "9"), 0);  /* newer first */
    ck_assert_int_gt(mlist_cmp(1, "9", 2, "1"), 0);
    ck_assert_int_lt(mlist_cmp(5, "b", 5, "a"), 0); /* same ms: higher order_no first */
    ck_assert_int_eq(mlist_cmp(5, "a", 5, "a"), 0);
}
END_TEST

/* ---------- events ---------- */

static char *event_json(const char *extra_key, const char *drop_key)
{
    order_t o;
    memset(&o, 0, sizeof o);
    ono_gen g;
    ono_gen_init(&g, 7);
    ck_assert_int_eq(ono_gen_next(&g, 1795655940, 2, o.order_no), 0);
    o.group = 2;
    strcpy(o.merchant_id, "m1");
    strcpy(o.out_trade_no, "t1");
    o.amount = 100;
    strcpy(o.currency, "CNY");
    strcpy(o.channel, "wx");
    o.status = OS_PAID;
    o.version = 2;
    o.created_at_ms = 1795655940000LL;
    o.updated_at_ms = 1795655941000LL;
    o.expire_at_ms = 1795656240000LL;
    o.paid_at_ms = 1795655941000LL;
    strcpy(o.channel_txn_id, "tx1");
    o.has_channel_txn_id = true;
    json_t *j = ord_to_json(&o);
    if (extra_key)
        json_object_set_new(j, extra_key, json_integer(1));
    if (drop_key)
        json_object_del(j, drop_key);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

START_TEST(decode_good)
{
    char *s = event_json(NULL, NULL);
    order_t o;
    char why[128];
    ck_assert_int_eq(mev_decode(s, strlen(s), "m1", 2, "order", &o, why, sizeof why), MEV_OK);
    ck_assert_int_eq(o.version, 2);
    ck_assert_int_eq(o.status, OS_PAID);
    ck_assert(o.updated_at_ms == 1795655941000LL);
    ck_assert_int_eq(mev_decode(s, strlen(s), NULL, 0, NULL, &o, why, sizeof why), MEV_OK); /* key/header optional */
    free(s);
}
END_TEST

START_TEST(decode_bad)
{
    order_t o;
    char why[128];
    char *s = event_json(NULL, NULL);
    ck_assert_int_eq(mev_decode(s, strlen(s), "m2", 2, NULL, &o, why, sizeof why), MEV_BAD_KEY);
    ck_assert_int_eq(mev_decode(s, strlen(s), "m1", 2, "refund", &o, why, sizeof why), MEV_BAD_TYPE);
    ck_assert_int_eq(mev_decode(s, strlen(s) - 1, NULL, 0, NULL, &o, why, sizeof why), MEV_BAD_JSON);
    free(s);
    ck_assert_int_eq(mev_decode(NULL, 0, NULL, 0, NULL, &o, why, sizeof why), MEV_EMPTY);
    ck_assert_int_eq(mev_decode("[1]", 3, NULL, 0, NULL, &o, why, sizeof why), MEV_NOT_OBJECT);
    ck_assert_int_eq(mev_decode("{\"a\":1,\"a\":2}", 13, NULL, 0, NULL, &o, why, sizeof why), MEV_BAD_JSON);
    s = event_json("surprise", NULL);
    ck_assert_int_eq(mev_decode(s, strlen(s), NULL, 0, NULL, &o, why, sizeof why), MEV_UNKNOWN_FIELD);
    ck_assert(strstr(why, "surprise") != NULL);
    free(s);
    /* found by fuzz/fuzz_event.c: group must be the one stamped in order_no */
    s = event_json(NULL, NULL);
    char *g = strstr(s, "\"group\":2");
    ck_assert_ptr_nonnull(g);
    g[8] = '4';
    ck_assert_int_eq(mev_decode(s, strlen(s), "m1", 2, "order", &o, why, sizeof why), MEV_INVALID);
    ck_assert(strstr(why, "group 4") != NULL);
    free(s);
    static const char *required[] = {"order_no", "version", "updated_at", "status", "merchant_id", "amount"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        s = event_json(NULL, required[i]);
        ck_assert_msg(mev_decode(s, strlen(s), NULL, 0, NULL, &o, why, sizeof why) == MEV_INVALID, "%s", required[i]);
        free(s);
    }
}
END_TEST

/* found by fuzz/fuzz_event.c: the reason is stored in a utf8mb4 column, so
 * an unknown key's name is cut on a character boundary, never mid-character */
START_TEST(decode_reason_is_valid_utf8)
{
    order_t o;
    char why[256];
    char key[200] = "";
    for (int i = 0; i < 30; i++)
        strcat(key, "\xe5\x92\x96"); /* 3-byte characters: 64 bytes ends inside one */
    char *s = event_json(key, NULL);
    ck_assert_int_eq(mev_decode(s, strlen(s), NULL, 0, NULL, &o, why, sizeof why), MEV_UNKNOWN_FIELD);
    ck_assert(utf8_valid(why, strlen(why)));
    ck_assert(strstr(why, "\xe5\x92\x96") != NULL);
    free(s);
    /* jansson quotes the input up to the bad byte: here the first byte of a
     * 2-byte character after a backslash */
    static const char bad_escape[] = "{\"attach\":\"{\\\xde\x94\\\":1}\"}";
    ck_assert_int_eq(mev_decode(bad_escape, sizeof bad_escape - 1, NULL, 0, NULL, &o, why, sizeof why), MEV_BAD_JSON);
    ck_assert_msg(utf8_valid(why, strlen(why)), "%s", why);
    ck_assert(strstr(why, "invalid json") != NULL);
}
END_TEST

/* ---------- poison-pill isolation (mev_isolate) ---------- */

/* A fake merchant store: event i's row is refused when bad[i]; its dead
 * letter when dead_bad[i]; its minimal dead letter when min_bad[i]; every
 * apply after call number fail_at fails store-wide. Committed transactions
 * append what they wrote to `log` ("e3", "d5", "m5", "s5"). */
#define ISO_N 64
typedef struct {
    bool bad[ISO_N], dead_bad[ISO_N], min_bad[ISO_N];
    int level[ISO_N];
    int calls, fail_at;
    char log[ISO_N * 8];
} fakestore;

static mev_apply fs_apply(void *ctx, int from, int to)
{
    fakestore *f = ctx;
    if (++f->calls >= f->fail_at && f->fail_at > 0)
        return MEV_APPLY_FAIL;
    for (int i = from; i < to; i++) {
        int l = f->level[i];
        if ((l == MEV_LVL_EVENT && f->bad[i]) || (l == MEV_LVL_DEAD && f->dead_bad[i]) ||
            (l == MEV_LVL_MINIMAL && f->min_bad[i]))
            return MEV_APPLY_ROW; /* the whole transaction rolls back */
    }
    for (int i = from; i < to; i++) {
        char one[16];
        snprintf(one, sizeof one, "%c%d ", "edms"[f->level[i]], i);
        strcat(f->log, one);
    }
    return MEV_APPLY_OK;
}

static void fs_level(void *ctx, int i, int level) { ((fakestore *)ctx)->level[i] = level; }

static mev_apply run_iso(fakestore *f, int n)
{
    mev_isolator iso = {.apply = fs_apply, .set_level = fs_level, .ctx = f};
    return mev_isolate(&iso, n);
}

/* "e0 e1 ... " with the given indices as dead letters ('d') */
static void expect_log(const fakestore *f, int n, const char *kinds)
{
    char want[ISO_N * 8] = "";
    for (int i = 0; i < n; i++) {
        char one[16];
        snprintf(one, sizeof one, "%c%d ", kinds[i], i);
        strcat(want, one);
    }
    ck_assert_str_eq(f->log, want);
}

START_TEST(isolate_good_batch_is_one_transaction)
{
    fakestore f = {.fail_at = 0};
    ck_assert_int_eq(run_iso(&f, 50), MEV_APPLY_OK);
    ck_assert_int_eq(f.calls, 1);
    char k[51];
    memset(k, 'e', 50);
    expect_log(&f, 50, k);
    fakestore g = {.fail_at = 0};
    ck_assert_int_eq(run_iso(&g, 0), MEV_APPLY_OK);
    ck_assert_int_eq(g.calls, 0);
}
END_TEST

START_TEST(isolate_sets_aside_only_the_bad_events_in_order)
{
    /* bad first, in the middle, last, and two neighbours */
    fakestore f = {.fail_at = 0};
    int bad[] = {0, 17, 18, 40, 63};
    char k[ISO_N + 1];
    memset(k, 'e', ISO_N);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f.bad[bad[i]] = true;
        k[bad[i]] = 'd';
    }
    ck_assert_int_eq(run_iso(&f, ISO_N), MEV_APPLY_OK);
    expect_log(&f, ISO_N, k); /* every good event applied once, in offset order */
    ck_assert_msg(f.calls <= 1 + 2 * 5 * 6 + 5, "%d transactions", f.calls);
}
END_TEST

START_TEST(isolate_escalates_dead_letter_then_minimal_then_skip)
{
    fakestore f = {.fail_at = 0};
    f.bad[1] = f.bad[2] = f.bad[3] = true;
    f.dead_bad[2] = f.dead_bad[3] = true; /* its full dead letter is refused too */
    f.min_bad[3] = true;                  /* and even the minimal one */
    ck_assert_int_eq(run_iso(&f, 5), MEV_APPLY_OK);
    expect_log(&f, 5, "edmse");
}
END_TEST

START_TEST(isolate_stops_at_a_store_failure)
{
    for (int at = 1; at <= 8; at++) {
        fakestore f = {.fail_at = at};
        f.bad[5] = true;
        ck_assert_int_eq(run_iso(&f, 16), MEV_APPLY_FAIL);
        ck_assert_int_eq(f.calls, at); /* nothing tried after the failure */
        /* what was committed before is a prefix of the batch, in order */
        fakestore ok = {.fail_at = 0};
        ok.bad[5] = true;
        ck_assert_int_eq(run_iso(&ok, 16), MEV_APPLY_OK);
        ck_assert_msg(strncmp(ok.log, f.log, strlen(f.log)) == 0, "at %d: '%s' vs '%s'", at, f.log, ok.log);
    }
}
END_TEST

START_TEST(row_errors_are_only_value_errors)
{
    static const unsigned row[] = {1048, 1062, 1264, 1265, 1292, 1300, 1366, 1367, 1406, 1411, 1690, 4025};
    for (size_t i = 0; i < sizeof row / sizeof row[0]; i++)
        ck_assert_msg(mev_row_error(row[i]), "%u", row[i]);
    /* store-level: never a reason to set an event aside */
    static const unsigned store[] = {0, 1021, 1040, 1053, 1114, 1142, 1146, 1153, 1205, 1213, 1290, 1836, 1927,
                                     2006, 2013, 4031};
    for (size_t i = 0; i < sizeof store / sizeof store[0]; i++)
        ck_assert_msg(!mev_row_error(store[i]), "%u", store[i]);
}
END_TEST

START_TEST(version_guard)
{
    ck_assert(mev_newer(false, 0, 1));      /* no row yet */
    ck_assert(mev_newer(true, 1, 2));       /* newer wins */
    ck_assert(!mev_newer(true, 2, 2));      /* repeat: no change */
    ck_assert(!mev_newer(true, 3, 2));      /* late, older event: no change */
    /* any delivery order of versions 1..5, with repeats, ends at 5 */
    int seq[] = {3, 1, 5, 2, 5, 4, 1};
    bool have = false;
    int64_t v = 0;
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        if (mev_newer(have, v, seq[i])) {
            ck_assert(seq[i] > v);
            v = seq[i];
            have = true;
        }
    }
    ck_assert_int_eq(v, 5);
}
END_TEST

START_TEST(lag_percentiles)
{
    static mlag l;
    mlag_reset(&l);
    ck_assert_int_eq(mlag_pct(&l, 0.5), -1);
    for (int i = 1; i <= 100; i++)
        mlag_add(&l, i);
    mlag_add(&l, -5); /* clock skew -> 0 */
    ck_assert_int_eq(mlag_pct(&l, 0.0), 0);
    ck_assert_int_eq(mlag_pct(&l, 0.5), 50);
    ck_assert_int_eq(mlag_pct(&l, 0.99), 99);
    ck_assert_int_eq(l.max, 100);
    mlag_reset(&l);
    for (int i = 0; i < MLAG_CAP * 3; i++) /* over capacity: bounded, still sane */
        mlag_add(&l, i % 1000);
    ck_assert_int_eq(l.n, MLAG_CAP);
    int64_t p50 = mlag_pct(&l, 0.5);
    ck_assert(p50 > 400 && p50 < 600);
}
END_TEST

START_TEST(parallel_slot_and_flow_control)
{
    ck_assert_int_eq(mev_slot(0, 16), 0);
    ck_assert_int_eq(mev_slot(3, 16), 3);
    ck_assert_int_eq(mev_slot(17, 16), 1);
    ck_assert_int_eq(mev_slot(5, 1), 0);
    ck_assert_int_eq(mev_slot(-1, 4), 0);
    /* one partition always maps to the same worker: its order is kept */
    for (int p = 0; p < 100; p++)
        ck_assert_int_eq(mev_slot(p, 7), mev_slot(p, 7));
    /* hysteresis: pause at high, stay paused until low, db failure always pauses */
    ck_assert(!mev_want_pause(false, 0, 100, 20, false));
    ck_assert(!mev_want_pause(false, 99, 100, 20, false));
    ck_assert(mev_want_pause(false, 100, 100, 20, false));
    ck_assert(mev_want_pause(true, 50, 100, 20, false));
    ck_assert(mev_want_pause(true, 21, 100, 20, false));
    ck_assert(!mev_want_pause(true, 20, 100, 20, false));
    ck_assert(mev_want_pause(false, 0, 100, 20, true));
    ck_assert(mev_want_pause(true, 0, 100, 20, true));
}
END_TEST

/* ---------- trust: event HMAC and ownership (spec §10) ---------- */

#define EVKEY "dev-event-key-0123456789abcdefghijklmnopqrstuv"

START_TEST(hmac_checked_before_decode)
{
    char *s = event_json(NULL, NULL);
    size_t n = strlen(s);
    evsig_keys k = {.cur = (const unsigned char *)EVKEY, .cur_len = strlen(EVKEY)};
    char mac[EVSIG_B64_LEN + 1], why[256];
    evsig_sign(k.cur, k.cur_len, s, n, mac);
    ck_assert_int_eq(mev_check_hmac(&k, s, n, mac, strlen(mac), why, sizeof why), MEV_OK);
    ck_assert_int_eq(mev_check_hmac(&k, s, n, NULL, 0, why, sizeof why), MEV_BAD_HMAC);
    ck_assert(strstr(why, "no skip-hmac header") != NULL);
    ck_assert_int_eq(mev_check_hmac(&k, s, n, "abc", 3, why, sizeof why), MEV_BAD_HMAC);
    ck_assert(strstr(why, "not base64") != NULL);
    /* a valid event with its amount raised: the MAC of the original no longer fits */
    char *a = strstr(s, "\"amount\":");
    ck_assert_ptr_nonnull(a);
    a[9] = a[9] == '9' ? '8' : '9';
    ck_assert_int_eq(mev_check_hmac(&k, s, n, mac, strlen(mac), why, sizeof why), MEV_BAD_HMAC);
    ck_assert(strstr(why, "does not verify") != NULL);
    ck_assert_str_eq(mev_res_name(MEV_BAD_HMAC), "bad_hmac");
    /* no key configured (auth.mode off only): not checked */
    ck_assert_int_eq(mev_check_hmac(NULL, s, n, NULL, 0, why, sizeof why), MEV_OK);
    free(s);
}
END_TEST

START_TEST(owner_never_changes)
{
    char *s = event_json(NULL, NULL);
    order_t o;
    char why[256];
    ck_assert_int_eq(mev_decode(s, strlen(s), "m1", 2, "order", &o, why, sizeof why), MEV_OK);
    free(s);
    ck_assert_int_eq(mev_check_owner(&o, NULL, 0, why, sizeof why), MEV_OK);  /* new order */
    ck_assert_int_eq(mev_check_owner(&o, "m1", o.group, why, sizeof why), MEV_OK);
    ck_assert_int_eq(mev_check_owner(&o, "m2", o.group, why, sizeof why), MEV_MOVED);
    ck_assert(strstr(why, "belongs to merchant m2") != NULL);
    ck_assert(strstr(why, "event says merchant m1") != NULL);
    ck_assert_int_eq(mev_check_owner(&o, "M1", o.group, why, sizeof why), MEV_MOVED); /* byte-exact */
    ck_assert_int_eq(mev_check_owner(&o, "m1", o.group + 1, why, sizeof why), MEV_MOVED);
    ck_assert_str_eq(mev_res_name(MEV_MOVED), "moved");
    /* a huge version changes nothing */
    o.version = INT64_MAX;
    ck_assert_int_eq(mev_check_owner(&o, "m2", o.group, why, sizeof why), MEV_MOVED);
    ck_assert(utf8_valid(why, strlen(why)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mirror");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, cursor_roundtrip);
    tcase_add_test(tc, cursor_rejects_garbage);
    tcase_add_test(tc, cursor_is_canonical);
    tcase_add_test(tc, args_defaults_and_values);
    tcase_add_test(tc, args_rejected_with_field);
    tcase_add_test(tc, page_sql);
    tcase_add_test(tc, merge_order);
    tcase_add_test(tc, decode_good);
    tcase_add_test(tc, decode_bad);
    tcase_add_test(tc, decode_reason_is_valid_utf8);
    tcase_add_test(tc, isolate_good_batch_is_one_transaction);
    tcase_add_test(tc, isolate_sets_aside_only_the_bad_events_in_order);
    tcase_add_test(tc, isolate_escalates_dead_letter_then_minimal_then_skip);
    tcase_add_test(tc, isolate_stops_at_a_store_failure);
    tcase_add_test(tc, row_errors_are_only_value_errors);
    tcase_add_test(tc, version_guard);
    tcase_add_test(tc, lag_percentiles);
    tcase_add_test(tc, parallel_slot_and_flow_control);
    tcase_add_test(tc, hmac_checked_before_decode);
    tcase_add_test(tc, owner_never_changes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
