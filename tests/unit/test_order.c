/*
 * tests/unit/test_order.c — request validation (order/order.c): create,
 * pay, close and refund bodies. Building, replay comparison and JSON
 * rendering are in test_order_json.c.
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

/* A string of n copies of unit (caller frees). */
static char *rep(const char *unit, int n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * (size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < n; i++)
        memcpy(s + ul * (size_t)i, unit, ul);
    s[ul * (size_t)n] = '\0';
    return s;
}

/* Every error must be renderable as JSON by the rpc layer. */
static void assert_renderable(const ord_err *e)
{
    json_t *f = json_string(e->field), *m = json_string(e->message);
    REQ(f != NULL && m != NULL);
    json_decref(f);
    json_decref(m);
    REQ(strlen(e->field) < sizeof e->field && strlen(e->message) < sizeof e->message);
}

static sk_status create(const char *body, create_req *r, ord_err *e)
{
    sk_status st = ord_parse_create(body, strlen(body), 300, r, e);
    if (st != SK_OK) {
        assert_renderable(e);
        REQ(e->message[0] != '\0');
    }
    return st;
}

#define MIN_CREATE "\"merchant_id\":\"m1\",\"out_trade_no\":\"o-1\",\"amount\":100,\"channel\":\"alipay\""

/* ---------------------------------------------------------------- create */

START_TEST(create_minimal_defaults)
{
    create_req r;
    ord_err e;
    ck_assert_int_eq(create("{" MIN_CREATE "}", &r, &e), SK_OK);
    ck_assert_str_eq(r.merchant_id, "m1");
    ck_assert_str_eq(r.out_trade_no, "o-1");
    ck_assert_int_eq(r.amount, 100);
    ck_assert_str_eq(r.currency, "CNY");
    ck_assert_str_eq(r.channel, "alipay");
    ck_assert(!r.has_store_id && !r.has_terminal_id && !r.has_subject && !r.has_attach);
    ck_assert_int_eq(r.expire_seconds, 300);
    ck_assert_int_eq(ord_parse_create("{" MIN_CREATE "}", strlen("{" MIN_CREATE "}"), 900, &r, &e), SK_OK);
    ck_assert_int_eq(r.expire_seconds, 900);
}
END_TEST

START_TEST(create_full)
{
    const char *b =
        "{\"merchant_id\":\"M_a-9\",\"out_trade_no\":\"T.2026-11_26\",\"amount\":100000000000,"
        "\"currency\":\"USD\",\"channel\":\"wx_pay1\",\"store_id\":\"s-1\",\"terminal_id\":\"POS_7\","
        "\"subject\":\"咖啡 x2\",\"attach\":\"{\\\"k\\\":1}\",\"expire_seconds\":86400}";
    create_req r;
    ord_err e;
    ck_assert_int_eq(create(b, &r, &e), SK_OK);
    ck_assert_str_eq(r.merchant_id, "M_a-9");
    ck_assert_str_eq(r.out_trade_no, "T.2026-11_26");
    ck_assert_int_eq(r.amount, 100000000000LL);
    ck_assert_str_eq(r.currency, "USD");
    ck_assert_str_eq(r.channel, "wx_pay1");
    ck_assert(r.has_store_id && strcmp(r.store_id, "s-1") == 0);
    ck_assert(r.has_terminal_id && strcmp(r.terminal_id, "POS_7") == 0);
    ck_assert(r.has_subject && strcmp(r.subject, "咖啡 x2") == 0);
    ck_assert(r.has_attach && strcmp(r.attach, "{\"k\":1}") == 0);
    ck_assert_int_eq(r.expire_seconds, 86400);

    /* nulls for optional fields are absent; empty text is present */
    const char *n = "{" MIN_CREATE ",\"currency\":null,\"store_id\":null,\"terminal_id\":null,"
                    "\"subject\":\"\",\"attach\":null,\"expire_seconds\":null}";
    ck_assert_int_eq(create(n, &r, &e), SK_OK);
    ck_assert_str_eq(r.currency, "CNY");
    ck_assert(!r.has_store_id && !r.has_terminal_id && !r.has_attach);
    ck_assert(r.has_subject && r.subject[0] == '\0');
    ck_assert_int_eq(r.expire_seconds, 300);
}
END_TEST

/* One field replaced or added on top of MIN_CREATE (later key wins is not
 * possible: duplicates are rejected), so cases name the whole body. */
typedef struct {
    const char *body;
    sk_status want;
    const char *field;
} vcase;

static const vcase create_cases[] = {
    /* merchant_id [A-Za-z0-9_-]{1,32} */
    {"{\"merchant_id\":\"\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":\"a.b\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":\"a b\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":\"商户\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":123,\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":null,\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":\"abcdefghijklmnopqrstuvwxyz012345\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_OK, ""},
    {"{\"merchant_id\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "merchant_id"},
    {"{\"merchant_id\":\"m\\u0000x\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_JSON, ""},
    /* out_trade_no [A-Za-z0-9_.-]{1,64} */
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"a/b\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "out_trade_no"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "out_trade_no"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":[\"o\"],\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "out_trade_no"},
    {"{\"merchant_id\":\"m\",\"amount\":1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "out_trade_no"},
    /* amount: JSON integer 1..1e11 */
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":0,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":-1,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":-0,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", SK_OK, ""},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":100000000000,\"channel\":\"c\"}", SK_OK, ""},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":100000000001,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":9223372036854775807,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":99999999999999999999,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":-99999999999999999999,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1.0,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1e2,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":100.5,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":\"100\",\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":true,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":{},\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":null,\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"channel\":\"c\"}", SK_EINVALID_ARGUMENT, "amount"},
    /* currency [A-Z]{3}, default CNY */
    {"{" MIN_CREATE ",\"currency\":\"usd\"}", SK_EINVALID_ARGUMENT, "currency"},
    {"{" MIN_CREATE ",\"currency\":\"USDT\"}", SK_EINVALID_ARGUMENT, "currency"},
    {"{" MIN_CREATE ",\"currency\":\"US\"}", SK_EINVALID_ARGUMENT, "currency"},
    {"{" MIN_CREATE ",\"currency\":\"\"}", SK_EINVALID_ARGUMENT, "currency"},
    {"{" MIN_CREATE ",\"currency\":1}", SK_EINVALID_ARGUMENT, "currency"},
    {"{" MIN_CREATE ",\"currency\":\"EUR\"}", SK_OK, ""},
    /* channel [a-z0-9_]{1,16} */
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"Alipay\"}", SK_EINVALID_ARGUMENT, "channel"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"ali-pay\"}", SK_EINVALID_ARGUMENT, "channel"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"abcdefghijklmnop\"}", SK_OK, ""},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"abcdefghijklmnopq\"}", SK_EINVALID_ARGUMENT, "channel"},
    {"{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":1}", SK_EINVALID_ARGUMENT, "channel"},
    /* store_id, terminal_id [A-Za-z0-9_-]{1,32}, optional */
    {"{" MIN_CREATE ",\"store_id\":\"\"}", SK_EINVALID_ARGUMENT, "store_id"},
    {"{" MIN_CREATE ",\"store_id\":\"s.1\"}", SK_EINVALID_ARGUMENT, "store_id"},
    {"{" MIN_CREATE ",\"store_id\":7}", SK_EINVALID_ARGUMENT, "store_id"},
    {"{" MIN_CREATE ",\"terminal_id\":\"t 1\"}", SK_EINVALID_ARGUMENT, "terminal_id"},
    {"{" MIN_CREATE ",\"terminal_id\":\"abcdefghijklmnopqrstuvwxyz0123456\"}", SK_EINVALID_ARGUMENT, "terminal_id"},
    /* subject, attach: strings */
    {"{" MIN_CREATE ",\"subject\":5}", SK_EINVALID_ARGUMENT, "subject"},
    {"{" MIN_CREATE ",\"attach\":false}", SK_EINVALID_ARGUMENT, "attach"},
    {"{" MIN_CREATE ",\"attach\":{\"a\":1}}", SK_EINVALID_ARGUMENT, "attach"},
    /* expire_seconds 30..86400 */
    {"{" MIN_CREATE ",\"expire_seconds\":29}", SK_EINVALID_ARGUMENT, "expire_seconds"},
    {"{" MIN_CREATE ",\"expire_seconds\":30}", SK_OK, ""},
    {"{" MIN_CREATE ",\"expire_seconds\":86401}", SK_EINVALID_ARGUMENT, "expire_seconds"},
    {"{" MIN_CREATE ",\"expire_seconds\":\"300\"}", SK_EINVALID_ARGUMENT, "expire_seconds"},
    {"{" MIN_CREATE ",\"expire_seconds\":300.0}", SK_EINVALID_ARGUMENT, "expire_seconds"},
    {"{" MIN_CREATE ",\"expire_seconds\":4294967596}", SK_EINVALID_ARGUMENT, "expire_seconds"},
    /* unknown and duplicate keys */
    {"{" MIN_CREATE ",\"foo\":1}", SK_EUNKNOWN_FIELD, "foo"},
    {"{" MIN_CREATE ",\"foo\":null}", SK_EUNKNOWN_FIELD, "foo"},
    {"{\"Amount\":1," MIN_CREATE "}", SK_EUNKNOWN_FIELD, "Amount"},
    {"{" MIN_CREATE ",\"order_no\":\"1\"}", SK_EUNKNOWN_FIELD, "order_no"},
    {"{" MIN_CREATE ",\"amount\":100}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",\"amount\":99999999999999999999999}", SK_EINVALID_JSON, ""},
    /* not an object, or not JSON */
    {"", SK_EINVALID_JSON, ""},
    {"   ", SK_EINVALID_JSON, ""},
    {"[]", SK_EINVALID_JSON, ""},
    {"[{" MIN_CREATE "}]", SK_EINVALID_JSON, ""},
    {"null", SK_EINVALID_JSON, ""},
    {"\"str\"", SK_EINVALID_JSON, ""},
    {"123", SK_EINVALID_JSON, ""},
    {"{", SK_EINVALID_JSON, ""},
    {"{\"merchant_id\":}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE "} x", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE "}{}", SK_EINVALID_JSON, ""},
    {"{'merchant_id':'m'}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",\"subject\":\"\xff\xfe\"}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",\"subject\":\"\xe4\xb8\"}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",\"subject\":\"\\ud800\"}", SK_EINVALID_JSON, ""},
    {"{" MIN_CREATE ",\"amount2\":1e999}", SK_EINVALID_ARGUMENT, ""},
    {"\xef\xbb\xbf{" MIN_CREATE "}", SK_EINVALID_JSON, ""},
    /* whitespace around the object is fine */
    {" \n\t{" MIN_CREATE "}\r\n ", SK_OK, ""},
};

START_TEST(create_table)
{
    const vcase *c = &create_cases[_i];
    create_req r;
    ord_err e;
    sk_status st = create(c->body, &r, &e);
    ck_assert_msg(st == c->want, "case %d %s: got %s want %s (%s)", _i, c->body, sk_status_name(st),
                  sk_status_name(c->want), e.message);
    if (st != SK_OK)
        ck_assert_msg(strcmp(e.field, c->field) == 0, "case %d: field '%s' want '%s'", _i, e.field,
                      c->field);
}
END_TEST

START_TEST(create_messages)
{
    create_req r;
    ord_err e;
    ck_assert_int_eq(create("{\"merchant_id\":\"m\",\"out_trade_no\":\"o\",\"amount\":0,\"channel\":\"c\"}", &r, &e),
                     SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "amount must be an integer between 1 and 100000000000");
    ck_assert_int_eq(create("{\"out_trade_no\":\"o\",\"amount\":1,\"channel\":\"c\"}", &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "merchant_id is required");
    ck_assert_int_eq(create("{" MIN_CREATE ",\"currency\":\"usd\"}", &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "currency must be a string matching [A-Z]{3}");
    ck_assert_int_eq(create("{" MIN_CREATE ",\"store_id\":\"s.1\"}", &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "store_id must be a string matching [A-Za-z0-9_-]{1,32}");
    ck_assert_int_eq(create("{" MIN_CREATE ",\"foo\":1}", &r, &e), SK_EUNKNOWN_FIELD);
    ck_assert_str_eq(e.message, "unknown field \"foo\"");
    ck_assert_int_eq(create("{" MIN_CREATE ",\"amount\":1}", &r, &e), SK_EINVALID_JSON);
    ck_assert_ptr_nonnull(strstr(e.message, "duplicate key"));
    ck_assert_int_eq(create("{" MIN_CREATE ",\"expire_seconds\":1}", &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "expire_seconds must be an integer between 30 and 86400");
    ck_assert_int_eq(create("{" MIN_CREATE ",\"subject\":7}", &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.message, "subject must be a string of at most 128 bytes");
}
END_TEST

START_TEST(create_text_limits_in_bytes)
{
    create_req r;
    ord_err e;
    char body[2048];
    struct { const char *unit; int n; const char *field; bool ok; } t[] = {
        {"a", 128, "subject", true},  {"a", 129, "subject", false},
        {"中", 42, "subject", true},  {"中", 43, "subject", false},   /* 3 bytes each: 126 / 129 */
        {"a", 256, "attach", true},   {"a", 257, "attach", false},
        {"é", 128, "attach", true},   {"é", 129, "attach", false},    /* 2 bytes each */
        {"\\n", 128, "subject", true}, /* escaped: one byte each after decoding */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *v = rep(t[i].unit, t[i].n);
        snprintf(body, sizeof body, "{" MIN_CREATE ",\"%s\":\"%s\"}", t[i].field, v);
        sk_status st = create(body, &r, &e);
        ck_assert_msg((st == SK_OK) == t[i].ok, "case %zu: %s", i, sk_status_name(st));
        if (!t[i].ok)
            ck_assert_str_eq(e.field, t[i].field);
        free(v);
    }
    /* ids at their maximum length */
    char *o64 = rep("x", 64), *o65 = rep("x", 65);
    snprintf(body, sizeof body, "{\"merchant_id\":\"m\",\"out_trade_no\":\"%s\",\"amount\":1,\"channel\":\"c\"}", o64);
    ck_assert_int_eq(create(body, &r, &e), SK_OK);
    ck_assert_uint_eq(strlen(r.out_trade_no), 64);
    snprintf(body, sizeof body, "{\"merchant_id\":\"m\",\"out_trade_no\":\"%s\",\"amount\":1,\"channel\":\"c\"}", o65);
    ck_assert_int_eq(create(body, &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.field, "out_trade_no");
    free(o64);
    free(o65);
}
END_TEST

START_TEST(body_is_bytes_not_c_string)
{
    /* parse only len bytes: what follows is not part of the body */
    const char *b = "{" MIN_CREATE "}GARBAGE";
    create_req r;
    ord_err e;
    ck_assert_int_eq(ord_parse_create(b, strlen(b) - 7, 300, &r, &e), SK_OK);
    ck_assert_int_eq(ord_parse_create(b, strlen(b), 300, &r, &e), SK_EINVALID_JSON);
    /* an embedded NUL byte is not JSON */
    char nul[] = "{" MIN_CREATE "}";
    size_t n = sizeof nul - 1;
    nul[5] = '\0';
    ck_assert_int_eq(ord_parse_create(nul, n, 300, &r, &e), SK_EINVALID_JSON);
    /* NULL body */
    ck_assert_int_eq(ord_parse_create(NULL, 0, 300, &r, &e), SK_EINVALID_JSON);
    /* err may be NULL */
    ck_assert_int_eq(ord_parse_create("{}", 2, 300, &r, NULL), SK_EINVALID_ARGUMENT);
}
END_TEST

START_TEST(hostile_bodies)
{
    create_req r;
    ord_err e;
    /* very deep nesting: rejected, no stack overflow */
    size_t n = 200000;
    char *deep = malloc(n + 1);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    ck_assert_int_eq(ord_parse_create(deep, n, 300, &r, &e), SK_EINVALID_JSON);
    assert_renderable(&e);
    free(deep);

    /* a long unknown key with multi-byte characters: field and message are
     * cut on a character boundary and stay valid UTF-8 */
    char *k = rep("键", 400);
    size_t cap = strlen(k) + 256;
    char *b = malloc(cap);
    snprintf(b, cap, "{\"%s\":1}", k);
    ck_assert_int_eq(ord_parse_create(b, strlen(b), 300, &r, &e), SK_EUNKNOWN_FIELD);
    assert_renderable(&e);
    ck_assert_uint_eq(strlen(e.field) % 3, 0);
    ck_assert_uint_gt(strlen(e.field), 40);
    ck_assert_int_eq(strncmp(e.field, k, strlen(e.field)), 0);
    free(b);
    free(k);

    /* random mutations of a valid body never crash and always render */
    const char *base = "{" MIN_CREATE ",\"subject\":\"咖啡\",\"expire_seconds\":300,\"store_id\":\"s1\"}";
    size_t bl = strlen(base);
    char buf[512];
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, bl);
        size_t len = bl;
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            size_t pos = rnd() % len;
            switch (rnd() % 3) {
            case 0: buf[pos] = (char)(rnd() & 0xff); break;
            case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break;
            default:
                if (len + 1 < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = "{}[]\",:0-9eE.\\u"[rnd() % 16];
                    len++;
                }
            }
        }
        sk_status st = ord_parse_create(buf, len, 300, &r, &e);
        REQ(st == SK_OK || st == SK_EINVALID_JSON || st == SK_EINVALID_ARGUMENT || st == SK_EUNKNOWN_FIELD);
        if (st != SK_OK)
            assert_renderable(&e);
    }
}
END_TEST

/* ---------------------------------------------------------------- pay, close, refund */

START_TEST(pay)
{
    pay_req p;
    ord_err e;
    const char *ok = "{\"channel_txn_id\":\"4200001.2026_x-1\",\"paid_amount\":100}";
    ck_assert_int_eq(ord_parse_pay(ok, strlen(ok), &p, &e), SK_OK);
    ck_assert_str_eq(p.channel_txn_id, "4200001.2026_x-1");
    ck_assert_int_eq(p.paid_amount, 100);
    ck_assert(!p.has_expected_version);

    const char *ev = "{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":3}";
    ck_assert_int_eq(ord_parse_pay(ev, strlen(ev), &p, &e), SK_OK);
    ck_assert(p.has_expected_version && p.expected_version == 3);
    const char *evn = "{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":null}";
    ck_assert_int_eq(ord_parse_pay(evn, strlen(evn), &p, &e), SK_OK);
    ck_assert(!p.has_expected_version);

    static const vcase bad[] = {
        {"{\"paid_amount\":100}", SK_EINVALID_ARGUMENT, "channel_txn_id"},
        {"{\"channel_txn_id\":null,\"paid_amount\":100}", SK_EINVALID_ARGUMENT, "channel_txn_id"},
        {"{\"channel_txn_id\":\"a b\",\"paid_amount\":100}", SK_EINVALID_ARGUMENT, "channel_txn_id"},
        {"{\"channel_txn_id\":\"0123456789012345678901234567890123456789012345678901234567890123X\",\"paid_amount\":1}",
         SK_EINVALID_ARGUMENT, "channel_txn_id"},
        {"{\"channel_txn_id\":\"t\"}", SK_EINVALID_ARGUMENT, "paid_amount"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":0}", SK_EINVALID_ARGUMENT, "paid_amount"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100000000001}", SK_EINVALID_ARGUMENT, "paid_amount"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":\"100\"}", SK_EINVALID_ARGUMENT, "paid_amount"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":0}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":-1}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":1.5}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":\"2\"}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"expected_version\":18446744073709551616}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"channel_txn_id\":\"t\",\"paid_amount\":100,\"amount\":100}", SK_EUNKNOWN_FIELD, "amount"},
        {"{\"channel_txn_id\":\"t\",\"channel_txn_id\":\"t\",\"paid_amount\":1}", SK_EINVALID_JSON, ""},
        {"", SK_EINVALID_JSON, ""},
        {"[]", SK_EINVALID_JSON, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_status st = ord_parse_pay(bad[i].body, strlen(bad[i].body), &p, &e);
        ck_assert_msg(st == bad[i].want, "pay case %zu: %s (%s)", i, sk_status_name(st), e.message);
        ck_assert_msg(strcmp(e.field, bad[i].field) == 0, "pay case %zu: field %s", i, e.field);
        assert_renderable(&e);
    }
    /* the largest expected_version */
    const char *mx = "{\"channel_txn_id\":\"t\",\"paid_amount\":1,\"expected_version\":9223372036854775807}";
    ck_assert_int_eq(ord_parse_pay(mx, strlen(mx), &p, &e), SK_OK);
    ck_assert_int_eq(p.expected_version, INT64_MAX);
}
END_TEST

START_TEST(close_bodies)
{
    close_req c;
    ord_err e;
    struct { const char *b; sk_status want; bool has; int64_t v; const char *field; } t[] = {
        {"", SK_OK, false, 0, ""},
        {" \r\n\t", SK_OK, false, 0, ""},
        {"{}", SK_OK, false, 0, ""},
        {" { } ", SK_OK, false, 0, ""},
        {"{\"expected_version\":7}", SK_OK, true, 7, ""},
        {"{\"expected_version\":null}", SK_OK, false, 0, ""},
        {"{\"expected_version\":0}", SK_EINVALID_ARGUMENT, false, 0, "expected_version"},
        {"{\"expected_version\":true}", SK_EINVALID_ARGUMENT, false, 0, "expected_version"},
        {"{\"reason\":\"x\"}", SK_EUNKNOWN_FIELD, false, 0, "reason"},
        {"[]", SK_EINVALID_JSON, false, 0, ""},
        {"null", SK_EINVALID_JSON, false, 0, ""},
        {"{", SK_EINVALID_JSON, false, 0, ""},
        {"{}{}", SK_EINVALID_JSON, false, 0, ""},
        {"{\"expected_version\":1,\"expected_version\":1}", SK_EINVALID_JSON, false, 0, ""},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sk_status st = ord_parse_close(t[i].b, strlen(t[i].b), &c, &e);
        ck_assert_msg(st == t[i].want, "close case %zu: %s", i, sk_status_name(st));
        ck_assert_str_eq(e.field, t[i].field);
        if (st == SK_OK)
            ck_assert(c.has_expected_version == t[i].has && c.expected_version == t[i].v);
    }
    ck_assert_int_eq(ord_parse_close(NULL, 0, &c, &e), SK_OK);
    ck_assert(!c.has_expected_version);
}
END_TEST

START_TEST(refund_bodies)
{
    refund_req r;
    ord_err e;
    const char *ok = "{\"out_refund_no\":\"R-1.a_b\",\"amount\":50,\"reason\":\"顾客退货\",\"expected_version\":2}";
    ck_assert_int_eq(ord_parse_refund(ok, strlen(ok), &r, &e), SK_OK);
    ck_assert_str_eq(r.out_refund_no, "R-1.a_b");
    ck_assert_int_eq(r.amount, 50);
    ck_assert(r.has_reason && strcmp(r.reason, "顾客退货") == 0);
    ck_assert(r.has_expected_version && r.expected_version == 2);
    const char *min = "{\"out_refund_no\":\"R\",\"amount\":1}";
    ck_assert_int_eq(ord_parse_refund(min, strlen(min), &r, &e), SK_OK);
    ck_assert(!r.has_reason && !r.has_expected_version && !r.has_terminal_id);
    const char *wt = "{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":\"POS-7_a\"}";
    ck_assert_int_eq(ord_parse_refund(wt, strlen(wt), &r, &e), SK_OK);
    ck_assert(r.has_terminal_id);
    ck_assert_str_eq(r.terminal_id, "POS-7_a");
    const char *nt = "{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":null}";  /* null: absent */
    ck_assert_int_eq(ord_parse_refund(nt, strlen(nt), &r, &e), SK_OK);
    ck_assert(!r.has_terminal_id);

    char body[1024];
    char *r256 = rep("r", 256), *r257 = rep("r", 257);
    snprintf(body, sizeof body, "{\"out_refund_no\":\"R\",\"amount\":1,\"reason\":\"%s\"}", r256);
    ck_assert_int_eq(ord_parse_refund(body, strlen(body), &r, &e), SK_OK);
    ck_assert_uint_eq(strlen(r.reason), 256);
    snprintf(body, sizeof body, "{\"out_refund_no\":\"R\",\"amount\":1,\"reason\":\"%s\"}", r257);
    ck_assert_int_eq(ord_parse_refund(body, strlen(body), &r, &e), SK_EINVALID_ARGUMENT);
    ck_assert_str_eq(e.field, "reason");
    free(r256);
    free(r257);

    static const vcase bad[] = {
        {"{\"amount\":1}", SK_EINVALID_ARGUMENT, "out_refund_no"},
        {"{\"out_refund_no\":\"\",\"amount\":1}", SK_EINVALID_ARGUMENT, "out_refund_no"},
        {"{\"out_refund_no\":\"r#1\",\"amount\":1}", SK_EINVALID_ARGUMENT, "out_refund_no"},
        {"{\"out_refund_no\":\"R\"}", SK_EINVALID_ARGUMENT, "amount"},
        {"{\"out_refund_no\":\"R\",\"amount\":0}", SK_EINVALID_ARGUMENT, "amount"},
        {"{\"out_refund_no\":\"R\",\"amount\":100000000001}", SK_EINVALID_ARGUMENT, "amount"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"reason\":1}", SK_EINVALID_ARGUMENT, "reason"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"expected_version\":0}", SK_EINVALID_ARGUMENT, "expected_version"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"refund_no\":\"x\"}", SK_EUNKNOWN_FIELD, "refund_no"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":\"\"}", SK_EINVALID_ARGUMENT, "terminal_id"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":\"a.b\"}", SK_EINVALID_ARGUMENT, "terminal_id"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":\"123456789012345678901234567890123\"}",
         SK_EINVALID_ARGUMENT, "terminal_id"},
        {"{\"out_refund_no\":\"R\",\"amount\":1,\"terminal_id\":7}", SK_EINVALID_ARGUMENT, "terminal_id"},
        {"{}", SK_EINVALID_ARGUMENT, "out_refund_no"},
        {"", SK_EINVALID_JSON, ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_status st = ord_parse_refund(bad[i].body, strlen(bad[i].body), &r, &e);
        ck_assert_msg(st == bad[i].want, "refund case %zu: %s", i, sk_status_name(st));
        ck_assert_str_eq(e.field, bad[i].field);
    }
}
END_TEST


int main(void)
{
    Suite *s = suite_create("order");
    TCase *tv = tcase_create("validate");
    tcase_set_timeout(tv, 60);
    tcase_add_test(tv, create_minimal_defaults);
    tcase_add_test(tv, create_full);
    tcase_add_loop_test(tv, create_table, 0, (int)(sizeof create_cases / sizeof create_cases[0]));
    tcase_add_test(tv, create_messages);
    tcase_add_test(tv, create_text_limits_in_bytes);
    tcase_add_test(tv, body_is_bytes_not_c_string);
    tcase_add_test(tv, hostile_bodies);
    tcase_add_test(tv, pay);
    tcase_add_test(tv, close_bodies);
    tcase_add_test(tv, refund_bodies);
    suite_add_tcase(s, tv);

    return ut_run(s);
}
