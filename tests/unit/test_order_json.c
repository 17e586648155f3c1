/*
 * tests/unit/test_order_json.c — order build, idempotent-replay comparison,
 * JSON rendering and parse-back, RFC 3339 times (order/order.c). Request
 * validation is in test_order.c.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "order/order.h"


static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void) { return ut_rnd(&rng_state); }

#define MIN_CREATE "\"merchant_id\":\"m1\",\"out_trade_no\":\"o-1\",\"amount\":100,\"channel\":\"alipay\""

/* ---------------------------------------------------------------- build, replay */

static const char *NO = "2026112600565200700012022";

static void full_req(create_req *r)
{
    ord_err e;
    const char *b = "{\"merchant_id\":\"m1\",\"out_trade_no\":\"o1\",\"amount\":2500,\"currency\":\"CNY\","
                    "\"channel\":\"alipay\",\"store_id\":\"s1\",\"terminal_id\":\"t1\",\"subject\":\"sub\","
                    "\"attach\":\"att\",\"expire_seconds\":600}";
    ck_assert_int_eq(ord_parse_create(b, strlen(b), 300, r, &e), SK_OK);
}

START_TEST(build)
{
    create_req r;
    full_req(&r);
    order_t o;
    memset(&o, 0xAB, sizeof o);
    int64_t now = 1795654612123LL;
    ord_build(&r, NO, 2, now, &o);
    ck_assert_str_eq(o.order_no, NO);
    ck_assert_int_eq(o.group, 2);
    ck_assert_str_eq(o.merchant_id, "m1");
    ck_assert_str_eq(o.out_trade_no, "o1");
    ck_assert(o.has_store_id && strcmp(o.store_id, "s1") == 0);
    ck_assert(o.has_terminal_id && strcmp(o.terminal_id, "t1") == 0);
    ck_assert_int_eq(o.amount, 2500);
    ck_assert_str_eq(o.currency, "CNY");
    ck_assert_str_eq(o.channel, "alipay");
    ck_assert(o.has_subject && strcmp(o.subject, "sub") == 0);
    ck_assert(o.has_attach && strcmp(o.attach, "att") == 0);
    ck_assert_int_eq(o.status, OS_CREATED);
    ck_assert_int_eq(o.refunded_amount, 0);
    ck_assert(!o.has_channel_txn_id);
    ck_assert_int_eq(o.version, 1);
    ck_assert_int_eq(o.created_at_ms, now);
    ck_assert_int_eq(o.updated_at_ms, now);
    ck_assert_int_eq(o.expire_at_ms, now + 600000);
    ck_assert_int_eq(o.paid_at_ms, 0);
    ck_assert_int_eq(o.closed_at_ms, 0);

    /* optional fields absent stay absent */
    create_req m;
    ord_err e;
    const char *b = "{" MIN_CREATE "}";
    ck_assert_int_eq(ord_parse_create(b, strlen(b), 86400, &m, &e), SK_OK);
    ord_build(&m, NO, 2, now, &o);
    ck_assert(!o.has_store_id && !o.has_terminal_id && !o.has_subject && !o.has_attach);
    ck_assert_int_eq(o.expire_at_ms, now + 86400000LL);
}
END_TEST

START_TEST(same_request)
{
    create_req r, v;
    full_req(&r);
    order_t o;
    ord_build(&r, NO, 2, 1000, &o);
    ck_assert(ord_same_request(&o, &r));

    /* expire_seconds is not part of the comparison: the original keeps its expiry */
    v = r; v.expire_seconds = 30;
    ck_assert(ord_same_request(&o, &v));

    v = r; strcpy(v.merchant_id, "m2");            ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.out_trade_no, "o2");           ck_assert(!ord_same_request(&o, &v));
    v = r; v.amount = 2501;                         ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.currency, "USD");              ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.channel, "wxpay");             ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.store_id, "s2");               ck_assert(!ord_same_request(&o, &v));
    v = r; v.has_store_id = false;                  ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.terminal_id, "t2");            ck_assert(!ord_same_request(&o, &v));
    v = r; v.has_terminal_id = false;               ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.subject, "SUB");               ck_assert(!ord_same_request(&o, &v));
    v = r; v.has_subject = false;                   ck_assert(!ord_same_request(&o, &v));
    v = r; strcpy(v.attach, "att ");               ck_assert(!ord_same_request(&o, &v));
    v = r; v.has_attach = false;                    ck_assert(!ord_same_request(&o, &v));

    /* absent vs present-but-empty differ */
    create_req a, b;
    ord_err e;
    const char *ba = "{" MIN_CREATE "}", *bb = "{" MIN_CREATE ",\"subject\":\"\"}";
    ck_assert_int_eq(ord_parse_create(ba, strlen(ba), 300, &a, &e), SK_OK);
    ck_assert_int_eq(ord_parse_create(bb, strlen(bb), 300, &b, &e), SK_OK);
    ord_build(&a, NO, 1, 1, &o);
    ck_assert(ord_same_request(&o, &a));
    ck_assert(!ord_same_request(&o, &b));
    /* an explicit default equals the implied one */
    const char *bc = "{" MIN_CREATE ",\"currency\":\"CNY\",\"expire_seconds\":900}";
    ck_assert_int_eq(ord_parse_create(bc, strlen(bc), 300, &b, &e), SK_OK);
    ck_assert(ord_same_request(&o, &b));
}
END_TEST

/* ---------------------------------------------------------------- render, parse back */

static void sample_order(order_t *o)
{
    create_req r;
    full_req(&r);
    ord_build(&r, NO, 2, 1795654612123LL, o);
}

START_TEST(render_order_exact)
{
    order_t o;
    sample_order(&o);
    json_t *j = ord_to_json(&o);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(s,
        "{\"order_no\":\"2026112600565200700012022\",\"group\":2,\"merchant_id\":\"m1\","
        "\"out_trade_no\":\"o1\",\"store_id\":\"s1\",\"terminal_id\":\"t1\",\"amount\":2500,"
        "\"currency\":\"CNY\",\"channel\":\"alipay\",\"subject\":\"sub\",\"attach\":\"att\","
        "\"status\":\"CREATED\",\"refunded_amount\":0,\"channel_txn_id\":null,\"version\":1,"
        "\"created_at\":\"2026-11-26T00:56:52.123Z\",\"updated_at\":\"2026-11-26T00:56:52.123Z\","
        "\"expire_at\":\"2026-11-26T01:06:52.123Z\",\"paid_at\":null,\"closed_at\":null}");
    free(s);
    json_decref(j);

    /* paid, partly refunded, optional fields absent */
    o.has_store_id = o.has_terminal_id = o.has_subject = o.has_attach = false;
    o.status = OS_PAID;
    o.refunded_amount = 500;
    o.has_channel_txn_id = true;
    strcpy(o.channel_txn_id, "wx.42");
    o.version = 3;
    o.paid_at_ms = 1795654613000LL;
    o.updated_at_ms = 1795654614001LL;
    j = ord_to_json(&o);
    s = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(s,
        "{\"order_no\":\"2026112600565200700012022\",\"group\":2,\"merchant_id\":\"m1\","
        "\"out_trade_no\":\"o1\",\"store_id\":null,\"terminal_id\":null,\"amount\":2500,"
        "\"currency\":\"CNY\",\"channel\":\"alipay\",\"subject\":null,\"attach\":null,"
        "\"status\":\"PAID\",\"refunded_amount\":500,\"channel_txn_id\":\"wx.42\",\"version\":3,"
        "\"created_at\":\"2026-11-26T00:56:52.123Z\",\"updated_at\":\"2026-11-26T00:56:54.001Z\","
        "\"expire_at\":\"2026-11-26T01:06:52.123Z\",\"paid_at\":\"2026-11-26T00:56:53.000Z\",\"closed_at\":null}");
    free(s);
    json_decref(j);

    /* a field that is not valid UTF-8 cannot be rendered: NULL, no leak */
    strcpy(o.merchant_id, "m1");
    o.has_subject = true;
    strcpy(o.subject, "\xff");
    ck_assert_ptr_null(ord_to_json(&o));
}
END_TEST

START_TEST(render_refund_exact)
{
    refund_t r;
    memset(&r, 0, sizeof r);
    strcpy(r.refund_no, "2026112600565200700013027");
    strcpy(r.order_no, NO);
    strcpy(r.out_refund_no, "R-1");
    r.amount = 300;
    strcpy(r.status, "SUCCESS");
    r.created_at_ms = 1795654612999LL;
    json_t *j = refund_to_json(&r);
    char *s = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(s,
        "{\"refund_no\":\"2026112600565200700013027\",\"order_no\":\"2026112600565200700012022\","
        "\"out_refund_no\":\"R-1\",\"amount\":300,\"reason\":null,\"status\":\"SUCCESS\","
        "\"created_at\":\"2026-11-26T00:56:52.999Z\"}");
    free(s);
    json_decref(j);
    r.has_reason = true;
    strcpy(r.reason, "damaged");
    j = refund_to_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "damaged");
    json_decref(j);
}
END_TEST

static bool order_eq(const order_t *a, const order_t *b)
{
#define SEQ(f) (strcmp(a->f, b->f) == 0)
#define OEQ(h, f) (a->h == b->h && (!a->h || strcmp(a->f, b->f) == 0))
    return SEQ(order_no) && a->group == b->group && SEQ(merchant_id) && SEQ(out_trade_no) &&
           OEQ(has_store_id, store_id) && OEQ(has_terminal_id, terminal_id) && a->amount == b->amount &&
           SEQ(currency) && SEQ(channel) && OEQ(has_subject, subject) && OEQ(has_attach, attach) &&
           a->status == b->status && a->refunded_amount == b->refunded_amount &&
           OEQ(has_channel_txn_id, channel_txn_id) && a->version == b->version &&
           a->created_at_ms == b->created_at_ms && a->updated_at_ms == b->updated_at_ms &&
           a->expire_at_ms == b->expire_at_ms && a->paid_at_ms == b->paid_at_ms &&
           a->closed_at_ms == b->closed_at_ms;
#undef SEQ
#undef OEQ
}

static void rand_token(char *dst, size_t maxlen, const char *alphabet)
{
    size_t n = 1 + rnd() % maxlen, al = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        dst[i] = alphabet[rnd() % al];
    dst[n] = '\0';
}

START_TEST(roundtrip_random_orders)
{
    static const char *ID = "ABCXYZabcxyz0189_-", *NOC = "ABCabc0189_.-", *CH = "abz09_";
    static const char *TXT[] = {"a", "中", "é", "\"", "\\", "\n", " ", "😀", "\x01"};
    for (int it = 0; it < 5000; it++) {
        order_t o;
        memset(&o, 0, sizeof o);
        ono_fields f = {1795654612 + (int64_t)(rnd() % 100000000), (int)(rnd() % 1000),
                        (int)(rnd() % 100000), 1 + (int)(rnd() % 99)};
        REQ(ono_format(&f, o.order_no) == 0);
        o.group = 1 + (int)(rnd() % 99);
        rand_token(o.merchant_id, ORD_MERCHANT_MAX, ID);
        rand_token(o.out_trade_no, ORD_OUT_TRADE_MAX, NOC);
        if ((o.has_store_id = rnd() % 2))
            rand_token(o.store_id, ORD_ID_MAX, ID);
        if ((o.has_terminal_id = rnd() % 2))
            rand_token(o.terminal_id, ORD_ID_MAX, ID);
        o.amount = 1 + (int64_t)(rnd() % (uint64_t)ORD_AMOUNT_MAX);
        strcpy(o.currency, rnd() % 2 ? "CNY" : "USD");
        rand_token(o.channel, ORD_CHANNEL_MAX, CH);
        if ((o.has_subject = rnd() % 2)) {
            size_t n = 0;
            while (1) {
                const char *u = TXT[rnd() % 9];
                if (n + strlen(u) > ORD_SUBJECT_MAX || rnd() % 20 == 0)
                    break;
                memcpy(o.subject + n, u, strlen(u));
                n += strlen(u);
            }
            o.subject[n] = '\0';
        }
        if ((o.has_attach = rnd() % 2))
            rand_token(o.attach, ORD_ATTACH_MAX, "{}\":,abc 123");
        o.status = (os_status)(rnd() % OS_MAX);
        o.refunded_amount = (int64_t)(rnd() % (uint64_t)(o.amount + 1));
        if ((o.has_channel_txn_id = rnd() % 2))
            rand_token(o.channel_txn_id, ORD_TXN_MAX, NOC);
        o.version = 1 + (int64_t)(rnd() % 1000000);
        o.created_at_ms = 946684800000LL + (int64_t)(rnd() % 8000000000000ULL);
        o.updated_at_ms = o.created_at_ms + (int64_t)(rnd() % 1000000);
        o.expire_at_ms = o.created_at_ms + 30000 + (int64_t)(rnd() % 86370000);
        o.paid_at_ms = rnd() % 2 ? o.created_at_ms + 1 : 0;
        o.closed_at_ms = rnd() % 2 ? o.created_at_ms + 2 : 0;

        json_t *j = ord_to_json(&o);
        REQ(j != NULL);
        /* through text, as it travels */
        char *s = json_dumps(j, JSON_COMPACT);
        json_error_t je;
        json_t *j2 = json_loads(s, JSON_REJECT_DUPLICATES, &je);
        REQ(j2 != NULL);
        order_t back;
        memset(&back, 0x5A, sizeof back);
        REQ(ord_from_json(j2, &back) == SK_OK);
        if (!order_eq(&o, &back))
            ck_abort_msg("round trip differs: %s", s);
        free(s);
        json_decref(j);
        json_decref(j2);
    }
}
END_TEST

START_TEST(from_json_strict)
{
    order_t o, back;
    sample_order(&o);
    o.status = OS_PAID;
    o.has_channel_txn_id = true;
    strcpy(o.channel_txn_id, "T1");
    o.paid_at_ms = o.created_at_ms + 5;
    json_t *good = ord_to_json(&o);
    ck_assert_int_eq(ord_from_json(good, &back), SK_OK);
    ck_assert(order_eq(&o, &back));

    /* extra keys (e.g. read_from in a GET response) are ignored */
    json_t *x = json_deep_copy(good);
    json_object_set_new(x, "read_from", json_string("replica"));
    ck_assert_int_eq(ord_from_json(x, &back), SK_OK);
    json_decref(x);

    /* every key is required */
    const char *key;
    json_t *val;
    json_object_foreach(good, key, val) {
        x = json_deep_copy(good);
        json_object_del(x, key);
        ck_assert_msg(ord_from_json(x, &back) == SK_EINVALID_ARGUMENT, "missing %s accepted", key);
        json_decref(x);
    }

    struct { const char *key; json_t *v; } bad[] = {
        {"order_no", json_integer(1)},
        {"order_no", json_string("2026112600565200700012023")},  /* bad check digit */
        {"order_no", json_null()},
        {"group", json_string("2")},
        {"group", json_integer(0)},
        {"group", json_integer(100)},
        {"group", json_real(2.0)},
        {"merchant_id", json_null()},
        {"merchant_id", json_string("m.1")},
        {"merchant_id", json_string("abcdefghijklmnopqrstuvwxyz0123456")},
        {"out_trade_no", json_string("")},
        {"store_id", json_integer(5)},
        {"terminal_id", json_string("t 1")},
        {"amount", json_string("2500")},
        {"amount", json_real(2500.0)},
        {"amount", json_integer(0)},
        {"amount", json_integer(100000000001LL)},
        {"currency", json_string("cny")},
        {"currency", json_null()},
        {"channel", json_string("AliPay")},
        {"subject", json_integer(1)},
        {"subject", json_stringn("a\0b", 3)},
        {"attach", json_true()},
        {"status", json_string("paid")},
        {"status", json_string("UNKNOWN")},
        {"status", json_integer(1)},
        {"refunded_amount", json_integer(-1)},
        {"refunded_amount", json_integer(2501)},     /* above amount */
        {"refunded_amount", json_null()},
        {"channel_txn_id", json_integer(7)},
        {"version", json_integer(0)},
        {"version", json_string("1")},
        {"created_at", json_null()},
        {"created_at", json_string("2026-11-26 00:56:52Z")},
        {"updated_at", json_string("2026-02-30T00:00:00.000Z")},
        {"expire_at", json_integer(1795654612123LL)},
        {"paid_at", json_string("yesterday")},
        {"closed_at", json_false()},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        x = json_deep_copy(good);
        json_object_set_new(x, bad[i].key, bad[i].v);
        ck_assert_msg(ord_from_json(x, &back) == SK_EINVALID_ARGUMENT, "bad %s (case %zu) accepted",
                      bad[i].key, i);
        json_decref(x);
    }
    /* nullable fields accept null */
    const char *nullable[] = {"store_id", "terminal_id", "subject", "attach", "channel_txn_id", "paid_at", "closed_at"};
    for (size_t i = 0; i < sizeof nullable / sizeof nullable[0]; i++) {
        x = json_deep_copy(good);
        json_object_set_new(x, nullable[i], json_null());
        ck_assert_int_eq(ord_from_json(x, &back), SK_OK);
        json_decref(x);
    }
    ck_assert_int_eq(ord_from_json(NULL, &back), SK_EINVALID_ARGUMENT);
    json_t *arr = json_array();
    ck_assert_int_eq(ord_from_json(arr, &back), SK_EINVALID_ARGUMENT);
    json_decref(arr);
    json_decref(good);
}
END_TEST

/* ---------------------------------------------------------------- times */

START_TEST(times)
{
    char t[25];
    ord_fmt_time(1795654612123LL, t);
    ck_assert_str_eq(t, "2026-11-26T00:56:52.123Z");
    ord_fmt_time(0, t);
    ck_assert_str_eq(t, "1970-01-01T00:00:00.000Z");
    ord_fmt_time(-1, t);
    ck_assert_str_eq(t, "1969-12-31T23:59:59.999Z");
    ord_fmt_time(951782400005LL, t);
    ck_assert_str_eq(t, "2000-02-29T00:00:00.005Z");
    ord_fmt_time(INT64_MAX, t);
    ck_assert_str_eq(t, "9999-12-31T23:59:59.999Z");
    ord_fmt_time(INT64_MIN, t);
    ck_assert_str_eq(t, "0000-01-01T00:00:00.000Z");

    int64_t ms;
    struct { const char *s; int rc; int64_t ms; } c[] = {
        {"2026-11-26T00:56:52.123Z", 0, 1795654612123LL},
        {"2026-11-26T00:56:52Z", 0, 1795654612000LL},
        {"2026-11-26T00:56:52.1Z", 0, 1795654612100LL},
        {"2026-11-26T00:56:52.12Z", 0, 1795654612120LL},
        {"2026-11-26T00:56:52.123456789Z", 0, 1795654612123LL},
        {"2026-11-26t00:56:52.123z", 0, 1795654612123LL},
        {"1970-01-01T00:00:00.000Z", 0, 0},
        {"1969-12-31T23:59:59.999Z", 0, -1},
        {"2024-02-29T12:00:00Z", 0, 1709208000000LL},
        {"2026-11-26T00:56:52.1234567890Z", -1, 0},
        {"2026-11-26T00:56:52.Z", -1, 0},
        {"2026-11-26T00:56:52", -1, 0},
        {"2026-11-26T00:56:52+08:00", -1, 0},
        {"2026-11-26 00:56:52Z", -1, 0},
        {"2026-11-26T00:56:52ZX", -1, 0},
        {"2026-11-26T24:00:00Z", -1, 0},
        {"2026-11-26T00:60:00Z", -1, 0},
        {"2026-11-26T00:00:60Z", -1, 0},
        {"2026-02-29T00:00:00Z", -1, 0},
        {"2026-13-01T00:00:00Z", -1, 0},
        {"2026-00-01T00:00:00Z", -1, 0},
        {"2026-1-01T00:00:00Z", -1, 0},
        {"+026-11-26T00:56:52Z", -1, 0},
        {"", -1, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ms = 42;
        int rc = ord_parse_time(c[i].s, &ms);
        ck_assert_msg(rc == c[i].rc, "case %s rc %d", c[i].s, rc);
        if (rc == 0)
            ck_assert_msg(ms == c[i].ms, "case %s: %lld", c[i].s, (long long)ms);
    }
    ck_assert_int_eq(ord_parse_time(NULL, &ms), -1);
    for (int it = 0; it < 100000; it++) {
        int64_t v = (int64_t)(rnd() % 253402300800000ULL) - 62167219200000LL;
        ord_fmt_time(v, t);
        REQ(ord_parse_time(t, &ms) == 0 && ms == v);
    }
}
END_TEST


int main(void)
{
    Suite *s = suite_create("order_json");
    TCase *tb = tcase_create("records");
    tcase_set_timeout(tb, 60);
    tcase_add_test(tb, build);
    tcase_add_test(tb, same_request);
    tcase_add_test(tb, render_order_exact);
    tcase_add_test(tb, render_refund_exact);
    tcase_add_test(tb, roundtrip_random_orders);
    tcase_add_test(tb, from_json_strict);
    tcase_add_test(tb, times);
    suite_add_tcase(s, tb);

    return ut_run(s);
}
