/*
 * order/order.h — the order and refund records, request validation and JSON
 * rendering (pure: plain data in, plain data out; jansson for JSON).
 */
#ifndef ORDER_H
#define ORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "common/sk.h"
#include "order/ono.h"
#include "order/ostate.h"

/* Field limits (spec §4). Buffers are sized limit + 1. */
#define ORD_MERCHANT_MAX 32
#define ORD_OUT_TRADE_MAX 64
#define ORD_ID_MAX 32          /* store_id, terminal_id */
#define ORD_CHANNEL_MAX 16
#define ORD_SUBJECT_MAX 128    /* bytes */
#define ORD_ATTACH_MAX 256     /* bytes */
#define ORD_TXN_MAX 64         /* channel_txn_id [A-Za-z0-9_.-]{1,64} */
#define ORD_REFUND_NO_MAX 64   /* out_refund_no [A-Za-z0-9_.-]{1,64} */
#define ORD_REASON_MAX 256     /* bytes */
#define ORD_AMOUNT_MAX 100000000000LL

typedef struct {
    char order_no[ONO_LEN + 1];
    int group;
    char merchant_id[ORD_MERCHANT_MAX + 1];
    char out_trade_no[ORD_OUT_TRADE_MAX + 1];
    char store_id[ORD_ID_MAX + 1];     bool has_store_id;
    char terminal_id[ORD_ID_MAX + 1];  bool has_terminal_id;
    int64_t amount;
    char currency[4];
    char channel[ORD_CHANNEL_MAX + 1];
    char subject[ORD_SUBJECT_MAX + 1]; bool has_subject;
    char attach[ORD_ATTACH_MAX + 1];   bool has_attach;
    os_status status;
    int64_t refunded_amount;
    char channel_txn_id[ORD_TXN_MAX + 1]; bool has_channel_txn_id;
    int64_t version;
    int64_t created_at_ms, updated_at_ms, expire_at_ms; /* epoch ms */
    int64_t paid_at_ms, closed_at_ms;                   /* 0 = null */
} order_t;

typedef struct {
    char refund_no[ONO_LEN + 1];
    char order_no[ONO_LEN + 1];
    char out_refund_no[ORD_REFUND_NO_MAX + 1];
    int64_t amount;
    char reason[ORD_REASON_MAX + 1]; bool has_reason;
    char status[12];                 /* "SUCCESS" */
    int64_t created_at_ms;
} refund_t;

/* The columns of an order row (tables orders and merchant_orders) and of a
 * refund row, in the order of order_t / refund_t and of the order object:
 * the one list every SELECT and INSERT of those tables names (dal/,
 * listing/, migrate/). */
#define ORD_SQL_COLS                                                                            \
    "order_no, group_id, merchant_id, out_trade_no, store_id, terminal_id, amount, currency, " \
    "channel, subject, attach, status, refunded_amount, channel_txn_id, version, created_at, " \
    "updated_at, expire_at, paid_at, closed_at"
#define ORD_REFUND_SQL_COLS "refund_no, order_no, out_refund_no, amount, reason, status, created_at"

/* Validated request bodies. */
typedef struct {
    char merchant_id[ORD_MERCHANT_MAX + 1];
    char out_trade_no[ORD_OUT_TRADE_MAX + 1];
    int64_t amount;
    char currency[4];                  /* default "CNY" */
    char channel[ORD_CHANNEL_MAX + 1];
    char store_id[ORD_ID_MAX + 1];     bool has_store_id;
    char terminal_id[ORD_ID_MAX + 1];  bool has_terminal_id;
    char subject[ORD_SUBJECT_MAX + 1]; bool has_subject;
    char attach[ORD_ATTACH_MAX + 1];   bool has_attach;
    int expire_seconds;                /* default from config */
} create_req;

typedef struct {
    char channel_txn_id[ORD_TXN_MAX + 1];
    int64_t paid_amount;
    int64_t expected_version; bool has_expected_version;
} pay_req;

typedef struct {
    int64_t expected_version; bool has_expected_version;
} close_req;

typedef struct {
    char out_refund_no[ORD_REFUND_NO_MAX + 1];
    int64_t amount;
    char reason[ORD_REASON_MAX + 1]; bool has_reason;
    int64_t expected_version; bool has_expected_version;
    char terminal_id[ORD_ID_MAX + 1]; bool has_terminal_id;   /* the refunding terminal (cashier refunds, §11) */
} refund_req;

/* Error detail from validation: which field, and a human message. */
typedef struct {
    char field[48];
    char message[160];
} ord_err;

/*
 * Parse and validate a request body (body, len bytes; need not be
 * NUL-terminated). JSON must be an object; duplicate keys -> SK_EINVALID_JSON
 * (use JSON_REJECT_DUPLICATES); malformed -> SK_EINVALID_JSON; unknown key ->
 * SK_EUNKNOWN_FIELD (field set); wrong type / out of range / bad pattern /
 * missing required -> SK_EINVALID_ARGUMENT (field set). Integers must be JSON
 * integers (not reals, not strings). Empty body for close is allowed ({}).
 */
sk_status ord_parse_create(const char *body, size_t len, int default_expire_s, create_req *out, ord_err *err) SK_WUR;
sk_status ord_parse_pay(const char *body, size_t len, pay_req *out, ord_err *err) SK_WUR;
sk_status ord_parse_close(const char *body, size_t len, close_req *out, ord_err *err) SK_WUR;
sk_status ord_parse_refund(const char *body, size_t len, refund_req *out, ord_err *err) SK_WUR;

/* Build the CREATED order for a validated request (pure). */
void ord_build(const create_req *r, const char *order_no, int group, int64_t now_ms, order_t *out);

/* Same merchant_id+out_trade_no: do the other fields match (idempotent replay)? */
bool ord_same_request(const order_t *existing, const create_req *r);

/* Render: the order object of spec §4 (new reference; caller decrefs).
 * Times RFC 3339 UTC with milliseconds "2026-11-26T00:56:52.123Z"; null where unset. */
json_t *ord_to_json(const order_t *o);
json_t *refund_to_json(const refund_t *r);

/* Parse an order object (as rendered by ord_to_json, e.g. an outbox payload)
 * back into order_t. Returns SK_OK or SK_EINVALID_ARGUMENT. */
sk_status ord_from_json(const json_t *j, order_t *out) SK_WUR;

/* RFC 3339 with ms, "2026-11-26T00:56:52.123Z" (common/civil.c, clamped to
 * years 0000..9999): out must hold 25 bytes. */
void ord_fmt_time(int64_t epoch_ms, char out[25]);
/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> epoch ms. 0 or -1. */
int ord_parse_time(const char *s, int64_t *out_ms) SK_WUR;

#endif
