/*
 * listing/mlist.h — merchant listing (GET /v1/merchants/{id}/orders), the pure
 * part: query-argument validation, the opaque keyset cursor, the SQL text of
 * one page, and the (created_at DESC, order_no DESC) order used to merge
 * per-group results. No I/O here; listing/listing.c runs the queries.
 *
 * Paging contract: rows are ordered newest first by the key
 * (created_at, order_no), which is unique (order_no is). A cursor is the key
 * of the last row of a page; the next page is every row strictly below it.
 * Rows never change their key, so a client paging through while new orders
 * arrive sees each existing order exactly once (new orders sort above the
 * cursor, they do not shift later pages).
 *
 * Time filters: since is inclusive, until exclusive (created_at).
 */
#ifndef RPC_MERCHANT_H
#define RPC_MERCHANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"
#include "order/order.h"

#define MLIST_LIMIT_DEFAULT 50
#define MLIST_LIMIT_MAX 500
#define MCUR_MAX 64   /* encoded cursor incl. NUL */

typedef struct {
    int64_t created_ms;             /* created_at of the last row returned, epoch ms */
    char order_no[ONO_LEN + 1];
} mcur;

/* Cursor text: base64url (no padding) of "1:<created_ms>:<order_no>". */
void mcur_encode(const mcur *c, char out[MCUR_MAX]);
/* 0 on success; -1 for anything that is not a cursor this code made. */
int mcur_decode(const char *s, mcur *out) SK_WUR;

typedef enum { MSRC_MIRROR = 0, MSRC_GROUPS } msrc;

typedef struct {
    char merchant_id[ORD_MERCHANT_MAX + 1];
    bool has_since, has_until, has_status, has_cursor;
    int64_t since_ms, until_ms;
    os_status status;
    int limit;
    mcur cursor;
    msrc source;
} mlist_args;

/* Query-string accessor: value of key or NULL when absent. */
typedef const char *(*mlist_get_fn)(void *ctx, const char *key);

/*
 * Validate the path id and the query arguments. SK_OK, or
 * SK_EINVALID_ARGUMENT with err->field / err->message set.
 */
sk_status mlist_parse(const char *merchant_id, mlist_get_fn get, void *ctx, mlist_args *out, ord_err *err) SK_WUR;

/*
 * Build the SELECT for one page (limit + 1 rows, so the caller knows whether
 * another page exists) from `table` with the column list `cols`. Every value
 * embedded is pattern-checked by mlist_parse (ids, digits, enum names, times),
 * so no escaping is needed. Returns the length, or -1 if cap is too small.
 */
int mlist_sql(const mlist_args *a, const char *table, const char *cols, char *buf, size_t cap);

/* Merge order: <0 when (ca, na) sorts before (cb, nb), i.e. is newer. */
int mlist_cmp(int64_t ca, const char *na, int64_t cb, const char *nb);

#endif
