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
#include "dal/sqltext.h"
#include "config/conf.h"
#include "order/order.h"

typedef struct dal_pool dal_pool;
typedef struct dal_conn dal_conn;

/* TLS of one MariaDB connection. Held by value (paths copied in), so every
 * copy of a dal_pool_opts, the pool's own included, owns its settings. */
#define DAL_PATH_MAX CONF_PATH_MAX
typedef struct {
    bool enabled;               /* TLS or no connection: never falls back to plaintext */
    bool verify_server_cert;    /* chain to ca, and the certificate names the host of addr */
    char ca[DAL_PATH_MAX];      /* "" = none */
    char cert[DAL_PATH_MAX];    /* client certificate, "" = none */
    char key[DAL_PATH_MAX];
} dal_tls;

/* The settings of a loaded config's db.tls / merchant_db.tls. */
void dal_tls_set(dal_tls *t, const conf_tls *c);

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
    /* CLIENT_MULTI_STATEMENTS: the connection may send several statements
     * in one string. Only for those that do: the group primaries' pools
     * (dal/orders.c sends START TRANSACTION;INSERT;INSERT;COMMIT in one round
     * trip), skipbench's direct baseline (the same insert), the relay and the
     * mirror. Off everywhere else, so an escaping slip there cannot stack a
     * second statement. */
    bool multi_statements;
    dal_tls tls;            /* zero = plaintext */
    /* Group commit of new orders (dal_order_insert_grouped): up to
     * gc_max_batch creates share one transaction, at most gc_leaders such
     * transactions in flight per pool. gc_max_batch <= 1: off. */
    int gc_max_batch;
    int gc_leaders;
    /* Open connections for the non-blocking API, so that calls made under
     * dal_set_deadline are bounded in milliseconds (the group primaries). */
    bool nonblocking;
    int attempt_timeout_ms;     /* gc: the deadline of one group-commit transaction */
} dal_pool_opts;

/* Call once at process start, before threads. */
void dal_library_init(void);

/* A pool is refcounted (runtime snapshots share unchanged pools across a
 * reload): create returns one reference, dal_pool_ref adds one,
 * dal_pool_destroy drops one and closes the pool when none is left — by
 * then no request holds a connection of it (each request holds a reference
 * to the snapshot it uses). NULL on a bad address. */
dal_pool *dal_pool_create(const dal_pool_opts *o);
dal_pool *dal_pool_ref(dal_pool *p);
void dal_pool_destroy(dal_pool *p);
/* The options the pool was made with (strings owned by the pool). */
const dal_pool_opts *dal_pool_opts_of(const dal_pool *p);
/* Same server, account and limits: a pool made with a can serve b. */
bool dal_pool_opts_eq(const dal_pool_opts *a, const dal_pool_opts *b);
const char *dal_pool_addr(const dal_pool *p);
int dal_pool_inflight(const dal_pool *p);

/* Drop every idle connection (after a failure: they are probably dead). */
void dal_pool_invalidate(dal_pool *p);

/* A breaker for optional servers (replica reads): after dal_pool_avoid the
 * server is skipped for hold_ms; then dal_pool_usable lets exactly one caller
 * try it (the others keep skipping it for another hold), and
 * dal_pool_answered (a success) ends the avoidance. Lock-free. */
bool dal_pool_usable(dal_pool *p, int64_t now_ms, int64_t hold_ms);
void dal_pool_avoid(dal_pool *p, int64_t now_ms, int64_t hold_ms);
void dal_pool_answered(dal_pool *p);

/* Acquire a connection, waiting for a free one until deadline_ms (monotonic).
 * SK_OK, SK_EOVERLOADED (in-flight limit reached or no connection freed in
 * time), SK_ECONNECT (cannot connect). */
sk_status dal_acquire(dal_pool *p, int64_t deadline_ms, dal_conn **out) SK_WUR;

/* Return a connection. broken=true closes it (after any I/O error). */
void dal_release(dal_pool *p, dal_conn *c, bool broken);

MYSQL *dal_mysql(dal_conn *c);

/* ---- connections and statements (dal/sql.c) ----
 * Every helper returns an sk_status (dal_classify's mapping; SK_ENOT_FOUND
 * for "no row"); the detail stays in the handle: dal_strerror(my, st). */

/* Open a standalone connection (prober, tools). NULL + err on failure.
 * Every connection: utf8mb4, time_zone +00:00, sql_mode DAL_SQL_MODE (the
 * escaping contract of dal/sqltext.h), no automatic reconnect,
 * CLIENT_FOUND_ROWS, CLIENT_MULTI_STATEMENTS only with o->multi_statements. */
MYSQL *dal_connect(const dal_pool_opts *o, char *err, size_t errcap);

/* Bound every MariaDB call of this thread — connect, query, reading its
 * results — on connections opened with `nonblocking` to deadline_ms
 * (monotonic; 0 = only the connection's whole-second timeouts) until set
 * again; returns the previous deadline (restore it when done). A call past
 * the deadline is abandoned: SK_ETIMEDOUT (outcome unknown), and the
 * connection must be released broken. */
int64_t dal_set_deadline(int64_t deadline_ms);
/* Whether an attempt timeout is tighter than the connection's own
 * whole-second timeouts (Connector/C rounds them up to seconds): only then is
 * the non-blocking path worth its cost (more syscalls per statement). */
bool dal_deadline_pays(int attempt_ms, int connect_ms, int read_ms);

/* Classify the last error on a connection (see top of file). */
sk_status dal_classify(MYSQL *my);

/* Text for a failed call on my: the server's or client's message, else a
 * name for st ("no row" for SK_ENOT_FOUND). Owned by the handle or static. */
const char *dal_strerror(MYSQL *my, sk_status st);

/* Run SQL (several statements only on a connection opened for them),
 * discarding results. SK_OK or the classified error. */
sk_status dal_exec(MYSQL *my, const char *sql, size_t len) SK_WUR;
/* Same; *affected gets the rows changed by the last statement (matched
 * rows on a connection with CLIENT_FOUND_ROWS, as every dal connection). */
sk_status dal_exec_n(MYSQL *my, const char *sql, size_t len, int64_t *affected) SK_WUR;

/* Run one statement that returns rows. SK_OK and *res (owned:
 * mysql_free_result), or the classified error (SK_EDB when the statement
 * returned no result set) and *res = NULL. */
sk_status dal_query(MYSQL *my, const char *sql, size_t len, MYSQL_RES **res) SK_WUR;

/* One row: copies up to n columns into out[i] ("" for NULL, truncated to
 * DAL_CELL-1 bytes). SK_OK, SK_ENOT_FOUND (no row, or no result set), or the
 * classified error. */
#define DAL_CELL 128
sk_status dal_query_row(MYSQL *my, const char *sql, char (*out)[DAL_CELL], int n) SK_WUR;
/* The first column of the first row as an integer (NULL = 0); same statuses. */
sk_status dal_query_int(MYSQL *my, const char *sql, int64_t *v) SK_WUR;
/* The first row's columns named names[0..n-1] (e.g. SHOW SLAVE STATUS),
 * "" for a missing column or NULL; same statuses. */
sk_status dal_query_named(MYSQL *my, const char *sql, const char *const *names, char (*out)[DAL_CELL],
                          int n) SK_WUR;

/* "YYYY-MM-DD HH:MM:SS.mmm" UTC (24 bytes incl NUL) <-> epoch ms (dal/sql.c,
 * on common/civil.c; formatting clamps to years 0000..9999). */
void dal_fmt_dt(int64_t ms, char out[24]);
int dal_parse_dt(const char *s, int64_t *ms) SK_WUR;

/* ---- orders (dal/orders.c) ---- */

/* The mapping of one row of ORD_SQL_COLS (order/order.h) to order_t (0, or
 * -1 on a bad status). The merchant store's merchant_orders has the same
 * leading columns. */
int dal_row_to_order(MYSQL_ROW r, order_t *o) SK_WUR;

/* The columns of an outbox row as written (its id is AUTO_INCREMENT). */
#define DAL_OUTBOX_COLS "order_no, merchant_id, version, payload, created_at"

/* Insert a new order and its outbox event in one transaction.
 * SK_OK (committed), SK_EDUPKEY (merchant_id+out_trade_no or order_no exists;
 * rolled back), or a classified failure. */
sk_status dal_order_insert(MYSQL *my, const order_t *o) SK_WUR;
/* Same, with the order's JSON (ord_to_json, compact) already rendered by the
 * caller — the daemon renders it once for the outbox and the response. */
sk_status dal_order_insert_json(MYSQL *my, const order_t *o, const char *json) SK_WUR;

/* Insert n (>= 1) new orders and their outbox events in one transaction:
 * one multi-row INSERT each (json[i] as for dal_order_insert_json; json may
 * be NULL). All or nothing: SK_EDUPKEY when any key exists (none written). */
sk_status dal_order_insert_many(MYSQL *my, const order_t *const *o, const char *const *json, int n) SK_WUR;

/* ---- group commit of new orders (dal/gcommit.c, docs/group-commit.md) ---- */

#define DAL_GC_MAX_BATCH 256
typedef struct {
    const order_t *o;
    const char *json;            /* the order's JSON (ord_to_json, compact) or NULL */
    int64_t start_by_wall_ms;    /* no insert of it may start at or after this wall time */
    int64_t attempt_until_ms;    /* monotonic end of its attempt (0: none): its batch ends by the
                                    earliest of these; one with under a quarter of
                                    db.attempt_timeout_ms left is not started (SK_EOVERLOADED) */
    sk_status st;                /* the result */
} dal_new_order;

/* Whether inserts through p are grouped (gc_max_batch > 1). */
bool dal_pool_grouped(const dal_pool *p);
/*
 * Insert one new order through p's group commit: it waits (until take_by_ms,
 * monotonic) to join a batch, whose leader runs one transaction for all.
 * SK_OK (committed); SK_EDUPKEY (its own key exists; nothing of it written —
 * a batch hitting a key is re-run one order at a time, so the others are not
 * affected); SK_EOVERLOADED (not taken in time, queue or bulkhead full, or
 * start_by passed: nothing written); else the classified failure of its
 * transaction (SK_ETIMEDOUT: outcome unknown).
 */
sk_status dal_order_insert_grouped(dal_pool *p, dal_new_order *no, int64_t take_by_ms) SK_WUR;
/* Batches and orders inserted through p's group commit (0, 0 when off). */
void dal_pool_gc_stats(dal_pool *p, uint64_t *batches, uint64_t *orders);

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
    /* optional: may the caller touch an order of this merchant? If not,
     * the change answers SK_ENOT_FOUND (no existence leak) */
    bool (*merchant_ok)(const void *ctx, const char *merchant_id);
    const void *merchant_ctx;
    /* optional, OE_REFUND: may a new refund be made on this order (the
     * locked row)? SK_OK, or the status to answer (nothing written) with
     * the field at fault and a message (static strings) */
    sk_status (*refund_ok)(const void *ctx, const order_t *o, const char **field, const char **message);
    const void *refund_ctx;
} dal_change;

typedef struct {
    order_t order;               /* the order after the change (or unchanged) */
    bool applied;                /* false = idempotent repeat, nothing written */
    refund_t refund;             /* OE_REFUND: the new or existing refund */
    bool refund_existing;        /* OE_REFUND: out_refund_no was already there */
    int64_t current_version;     /* on SK_EVERSION_CONFLICT */
    const char *field, *message; /* refund_ok's refusal (static strings) */
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

/* Order numbers of up to max CREATED orders past expire_at (now_ms), oldest
 * expiry first, among those whose order number is stamped (digits 23-24)
 * with one of stamped[0..nstamped-1] — the ids that route to the group
 * swept, conf_routed_ids(): a group never expires the copies of another
 * group's orders that a shrink is moving in (those are the other group's
 * to close; the copy then carries the close). nstamped 0: none. */
sk_status dal_expired_list(MYSQL *my, int64_t now_ms, const int *stamped, int nstamped, char (*out)[ONO_LEN + 1],
                           int max, int *n) SK_WUR;

/* Count of outbox rows not yet published. */
sk_status dal_outbox_count(MYSQL *my, int64_t *n) SK_WUR;

/* The writability probe: UPDATE the heartbeat row. */
sk_status dal_probe(MYSQL *my, int node_id) SK_WUR;

#endif
