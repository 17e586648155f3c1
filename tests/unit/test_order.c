/*
 * tests/unit/test_order.c — request validation, build, idempotent-replay
 * comparison, JSON rendering and parse-back (order/order.c).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order/order.h"

#define REQ(c) do { if (!(c)) ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); } while (0)

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

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
    ck_assert(!r.has_reason && !r.has_expected_version);

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

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
