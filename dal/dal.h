/*
 * dal/dal.h — database access: bounded per-group connection pools with
 * timeouts (the bulkhead), and the order/refund/outbox SQL.
 *
 * Every connect/read/write has a timeout (Connector/C options, whole
 * seconds, rounded up from the configured ms). A pool never holds more than
 * `size` connections and admits at most `max_inflight` concurrent users;
 * over that, dal_acquire fails at once with SK_EOVERLOADED, so a hung group
 * cannot take the threads of the others.
 *
 * Error classification (dal_classify):
 *   SK_ECONNECT   nothing was executed (connect refused / handshake failed)
 *   SK_EREADONLY  the server refused the write (read_only): nothing written
 *   SK_ETIMEDOUT  read/write timeout or connection lost mid-statement:
 *                 the outcome is UNKNOWN (a commit may have happened)
 *   SK_EDUPKEY    unique key violation
 *   SK_EDB        any other server error
 */
#ifndef DAL_H
#define DAL_H

#include <stdbool.h>
#include <stdint.h>
#include <mysql.h>
#include "common/sk.h"
#include "order/order.h"

typedef struct dal_pool dal_pool;
typedef struct dal_conn dal_conn;

typedef struct {
    const char *addr;       /* host:port */
    const char *user;
    const char *password;
    const char *db;
    int connect_timeout_ms;
    int read_timeout_ms;
    int write_timeout_ms;
    int size;               /* max connections */
    int max_inflight;       /* max concurrent acquirers (holding or waiting) */
} dal_pool_opts;

/* Call once at process start, before threads. */
void dal_library_init(void);

dal_pool *dal_pool_create(const dal_pool_opts *o);   /* owned; NULL on bad addr */
void dal_pool_destroy(dal_pool *p);
const char *dal_pool_addr(const dal_pool *p);
int dal_pool_inflight(const dal_pool *p);

/* Drop every idle connection (after a failure: they are probably dead). */
void dal_pool_invalidate(dal_pool *p);

/* Acquire a connection, waiting for a free one until deadline_ms (monotonic).
 * SK_OK, SK_EOVERLOADED (in-flight limit reached or no connection freed in
 * time), SK_ECONNECT (cannot connect). */
sk_status dal_acquire(dal_pool *p, int64_t deadline_ms, dal_conn **out) SK_WUR;

/* Return a connection. broken=true closes it (after any I/O error). */
void dal_release(dal_pool *p, dal_conn *c, bool broken);

/* Open a standalone connection (prober, tools). NULL + err on failure. */
MYSQL *dal_connect(const dal_pool_opts *o, char *err, size_t errcap);

MYSQL *dal_mysql(dal_conn *c);

/* Classify the last error on a connection (see top of file). */
sk_status dal_classify(MYSQL *my);

/* Run SQL (possibly several statements), discarding results.
 * Returns SK_OK or the classified error; on error *errno_out (if non-NULL)
 * gets mysql_errno. */
sk_status dal_exec(MYSQL *my, const char *sql, size_t len) SK_WUR;

/* "YYYY-MM-DD HH:MM:SS.mmm" UTC (24 bytes incl NUL) <-> epoch ms. */
void dal_fmt_dt(int64_t ms, char out[24]);
int dal_parse_dt(const char *s, int64_t *ms) SK_WUR;

/* ---- orders (dal/orders.c) ---- */

/* The order columns in the order of the order object (SELECT list), and the
 * mapping of one such row to order_t (0, or -1 on a bad status). The merchant
 * store's merchant_orders has the same leading columns. */
#define DAL_ORDER_COLS                                                                          \
    "order_no, group_id, merchant_id, out_trade_no, store_id, terminal_id, amount, currency, " \
    "channel, subject, attach, status, refunded_amount, channel_txn_id, version, created_at, " \
    "updated_at, expire_at, paid_at, closed_at"
int dal_row_to_order(MYSQL_ROW r, order_t *o) SK_WUR;

/* Insert a new order and its outbox event in one transaction.
 * SK_OK (committed), SK_EDUPKEY (merchant_id+out_trade_no or order_no exists;
 * rolled back), or a classified failure. */
sk_status dal_order_insert(MYSQL *my, const order_t *o) SK_WUR;
/* Same, with the order's JSON (ord_to_json, compact) already rendered by the
 * caller — the daemon renders it once for the outbox and the response. */
sk_status dal_order_insert_json(MYSQL *my, const order_t *o, const char *json) SK_WUR;

/* Read one order. SK_OK, SK_ENOT_FOUND, or a classified failure. */
sk_status dal_order_get(MYSQL *my, const char *order_no, order_t *out) SK_WUR;
sk_status dal_order_get_by_out_trade(MYSQL *my, const char *merchant_id, const char *out_trade_no, order_t *out) SK_WUR;

typedef struct {
    os_event ev;
    int64_t now_ms;
    const pay_req *pay;          /* OE_PAY */
    const close_req *close;      /* OE_CLOSE */
    const refund_req *refund;    /* OE_REFUND */
    const char *refund_no;       /* OE_REFUND: number for a new refund */
} dal_change;

typedef struct {
    order_t order;               /* the order after the change (or unchanged) */
    bool applied;                /* false = idempotent repeat, nothing written */
    refund_t refund;             /* OE_REFUND: the new or existing refund */
    bool refund_existing;        /* OE_REFUND: out_refund_no was already there */
    int64_t current_version;     /* on SK_EVERSION_CONFLICT */
} dal_change_result;

/*
 * Apply one state-machine event to an order in a single transaction:
 * lock the row, decide with os_decide(), check expected_version, update the
 * row (+1 version), write refund row and outbox event, commit.
 * Returns SK_OK, SK_ENOT_FOUND, the state machine's 409 statuses,
 * SK_EVERSION_CONFLICT, SK_EDUPLICATE (out_refund_no reused with another
 * amount), or a classified failure.
 */
sk_status dal_order_change(MYSQL *my, const char *order_no, const dal_change *ch, dal_change_result *res) SK_WUR;

/* Refunds of an order, oldest first, at most max. *n gets the count. */
sk_status dal_refund_list(MYSQL *my, const char *order_no, refund_t *out, int max, int *n) SK_WUR;

/* Order numbers of up to max CREATED orders past expire_at (now_ms). */
sk_status dal_expired_list(MYSQL *my, int64_t now_ms, char (*out)[ONO_LEN + 1], int max, int *n) SK_WUR;

/* Count of outbox rows not yet published. */
sk_status dal_outbox_count(MYSQL *my, int64_t *n) SK_WUR;

/* The writability probe: UPDATE the heartbeat row. */
sk_status dal_probe(MYSQL *my, int node_id) SK_WUR;

#endif
