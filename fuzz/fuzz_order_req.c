/*
 * fuzz/fuzz_order_req.c — the create/pay/refund/close request parsers
 * (order/order.c ord_parse_*), fed raw request bodies.
 *
 * Input framing: byte 0 picks the parser (% 4: create, pay, close, refund);
 * the rest is the body (exact-size, not NUL-terminated).
 *
 * Properties: the status is one of the documented ones; on error the field
 * and message are NUL-terminated valid UTF-8 (the rpc layer renders them as
 * JSON); on success every field holds what the spec allows, and rendering
 * the parsed request back to JSON and parsing that gives the same request
 * (nothing lost, nothing invented).
 */
#include <jansson.h>

#include "fuzz/fuzz.h"
#include "order/order.h"

#define DEFAULT_EXPIRE 300

static bool charset_ok(const char *s, const char *extra, bool upper, bool lower, bool digit, size_t lo, size_t hi)
{
    size_t n = strlen(s);
    if (n < lo || n > hi)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((upper && c >= 'A' && c <= 'Z') || (lower && c >= 'a' && c <= 'z') || (digit && c >= '0' && c <= '9') ||
              strchr(extra, c) != NULL))
            return false;
    }
    return true;
}
#define ID_OK(s, hi) charset_ok((s), "_-", true, true, true, 1, (hi))
#define NO_OK(s, hi) charset_ok((s), "_.-", true, true, true, 1, (hi))

static void check_err(sk_status st, const ord_err *e)
{
    FZ_ASSERT(st == SK_EINVALID_JSON || st == SK_EINVALID_ARGUMENT || st == SK_EUNKNOWN_FIELD, "status %d",
              (int)st);
    FZ_ASSERT_TEXT(e->field);
    FZ_ASSERT_TEXT(e->message);
    /* field may be "": the unknown key {"":1} is named by the empty string */
    FZ_ASSERT(e->message[0] != '\0', "empty message");
}

/* dump j compactly and run it through the parser again */
static char *dump(json_t *j, size_t *n)
{
    FZ_ASSERT(j != NULL, "rebuild failed");
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    FZ_ASSERT(t != NULL, "dump failed");
    *n = strlen(t);
    return t;
}

static void opt_str(json_t *j, const char *k, bool has, const char *v)
{
    if (has)
        json_object_set_new(j, k, json_string(v));
}

static void fz_create(const char *b, size_t n)
{
    create_req r, r2;
    ord_err e;
    sk_status st = ord_parse_create(b, n, DEFAULT_EXPIRE, &r, &e);
    if (st != SK_OK) {
        check_err(st, &e);
        return;
    }
    FZ_ASSERT(ID_OK(r.merchant_id, ORD_MERCHANT_MAX), "merchant_id");
    FZ_ASSERT(NO_OK(r.out_trade_no, ORD_OUT_TRADE_MAX), "out_trade_no");
    FZ_ASSERT(r.amount >= 1 && r.amount <= ORD_AMOUNT_MAX, "amount");
    FZ_ASSERT(charset_ok(r.currency, "", true, false, false, 3, 3), "currency");
    FZ_ASSERT(charset_ok(r.channel, "_", false, true, true, 1, ORD_CHANNEL_MAX), "channel");
    FZ_ASSERT(!r.has_store_id || ID_OK(r.store_id, ORD_ID_MAX), "store_id");
    FZ_ASSERT(!r.has_terminal_id || ID_OK(r.terminal_id, ORD_ID_MAX), "terminal_id");
    FZ_ASSERT(!r.has_subject || (strlen(r.subject) <= ORD_SUBJECT_MAX && utf8_valid(r.subject, strlen(r.subject))),
              "subject");
    FZ_ASSERT(!r.has_attach || (strlen(r.attach) <= ORD_ATTACH_MAX && utf8_valid(r.attach, strlen(r.attach))),
              "attach");
    FZ_ASSERT(r.expire_seconds >= 30 && r.expire_seconds <= 86400, "expire_seconds");

    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:i}", "merchant_id", r.merchant_id, "out_trade_no",
                          r.out_trade_no, "amount", (json_int_t)r.amount, "currency", r.currency, "channel",
                          r.channel, "expire_seconds", r.expire_seconds);
    opt_str(j, "store_id", r.has_store_id, r.store_id);
    opt_str(j, "terminal_id", r.has_terminal_id, r.terminal_id);
    opt_str(j, "subject", r.has_subject, r.subject);
    opt_str(j, "attach", r.has_attach, r.attach);
    size_t tn;
    char *t = dump(j, &tn);
    st = ord_parse_create(t, tn, DEFAULT_EXPIRE, &r2, &e);
    FZ_ASSERT(st == SK_OK, "re-parse: %s: %s (%s)", e.field, e.message, t);
    FZ_ASSERT(memcmp(&r, &r2, sizeof r) == 0, "round trip differs: %s", t);
    free(t);
}

static void fz_pay(const char *b, size_t n)
{
    pay_req r, r2;
    ord_err e;
    sk_status st = ord_parse_pay(b, n, &r, &e);
    if (st != SK_OK) {
        check_err(st, &e);
        return;
    }
    FZ_ASSERT(NO_OK(r.channel_txn_id, ORD_TXN_MAX), "channel_txn_id");
    FZ_ASSERT(r.paid_amount >= 1 && r.paid_amount <= ORD_AMOUNT_MAX, "paid_amount");
    FZ_ASSERT(!r.has_expected_version || r.expected_version >= 1, "expected_version");
    json_t *j = json_pack("{s:s,s:I}", "channel_txn_id", r.channel_txn_id, "paid_amount", (json_int_t)r.paid_amount);
    if (r.has_expected_version)
        json_object_set_new(j, "expected_version", json_integer(r.expected_version));
    size_t tn;
    char *t = dump(j, &tn);
    st = ord_parse_pay(t, tn, &r2, &e);
    FZ_ASSERT(st == SK_OK && memcmp(&r, &r2, sizeof r) == 0, "round trip: %s", t);
    free(t);
}

static void fz_close(const char *b, size_t n)
{
    close_req r, r2;
    ord_err e;
    sk_status st = ord_parse_close(b, n, &r, &e);
    if (st != SK_OK) {
        check_err(st, &e);
        return;
    }
    FZ_ASSERT(!r.has_expected_version || r.expected_version >= 1, "expected_version");
    json_t *j = json_object();
    if (r.has_expected_version)
        json_object_set_new(j, "expected_version", json_integer(r.expected_version));
    size_t tn;
    char *t = dump(j, &tn);
    st = ord_parse_close(t, tn, &r2, &e);
    FZ_ASSERT(st == SK_OK && memcmp(&r, &r2, sizeof r) == 0, "round trip: %s", t);
    free(t);
}

static void fz_refund(const char *b, size_t n)
{
    refund_req r, r2;
    ord_err e;
    sk_status st = ord_parse_refund(b, n, &r, &e);
    if (st != SK_OK) {
        check_err(st, &e);
        return;
    }
    FZ_ASSERT(NO_OK(r.out_refund_no, ORD_REFUND_NO_MAX), "out_refund_no");
    FZ_ASSERT(r.amount >= 1 && r.amount <= ORD_AMOUNT_MAX, "amount");
    FZ_ASSERT(!r.has_reason || (strlen(r.reason) <= ORD_REASON_MAX && utf8_valid(r.reason, strlen(r.reason))),
              "reason");
    json_t *j = json_pack("{s:s,s:I}", "out_refund_no", r.out_refund_no, "amount", (json_int_t)r.amount);
    opt_str(j, "reason", r.has_reason, r.reason);
    opt_str(j, "terminal_id", r.has_terminal_id, r.terminal_id); /* the refunding terminal (spec §11) */
    if (r.has_expected_version)
        json_object_set_new(j, "expected_version", json_integer(r.expected_version));
    size_t tn;
    char *t = dump(j, &tn);
    st = ord_parse_refund(t, tn, &r2, &e);
    FZ_ASSERT(st == SK_OK && memcmp(&r, &r2, sizeof r) == 0, "round trip: %s", t);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *b = fz_dup(data + 1, size - 1);
    switch (data[0] & 3) {
    case 0: fz_create(b, size - 1); break;
    case 1: fz_pay(b, size - 1); break;
    case 2: fz_close(b, size - 1); break;
    default: fz_refund(b, size - 1); break;
    }
    free(b);
    return 0;
}
