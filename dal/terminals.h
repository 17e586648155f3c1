/*
 * dal/terminals.h — the SQL of the terminal registry and the audit trail,
 * both in the merchant store (schema devtools/schema/merchant_v3.sql).
 *
 * Times are the merchant store's clock (UTC_TIMESTAMP(3)): every change of
 * a terminal sets updated_at from it, so the daemons' incremental reads
 * ("changed since") compare times from one clock, whatever the daemons'
 * own clocks say. Statuses follow dal/dal.h (SK_OK, SK_ENOT_FOUND,
 * SK_EDUPKEY, or a classified failure).
 */
#ifndef DAL_TERMINALS_H
#define DAL_TERMINALS_H

#include <stdbool.h>
#include <stdint.h>
#include <mysql.h>
#include "common/sk.h"
#include "terminal/tcode.h"
#include "terminal/tpolicy.h"

#define DAL_REASON_MAX 256

/* One terminals row. Times are epoch ms, 0 = NULL. */
typedef struct {
    term_view v;                        /* id, merchant, store, status, updated_ms */
    int failures;                       /* failed_activations */
    bool has_code;
    char code_salt[TCODE_SALT_HEX + 1];
    char code_hash[TCODE_HASH_HEX + 1];
    int64_t code_expires_ms;
    int64_t activated_ms, blocked_ms, created_ms;
    char block_reason[DAL_REASON_MAX + 1];
    bool has_reason;
} dal_terminal;

/* START TRANSACTION, then the store's clock into *now_ms. */
sk_status dal_term_begin(MYSQL *my, int64_t *now_ms) SK_WUR;
sk_status dal_term_commit(MYSQL *my) SK_WUR;
void dal_term_rollback(MYSQL *my);

/* The row, locked (SELECT ... FOR UPDATE) when lock. SK_ENOT_FOUND if none. */
sk_status dal_term_get(MYSQL *my, const char *id, bool lock, dal_terminal *out) SK_WUR;
/* SK_EDUPKEY when terminal_id exists. */
sk_status dal_term_insert(MYSQL *my, const dal_terminal *t) SK_WUR;
/* Every column but terminal_id, merchant_id, created_at. */
sk_status dal_term_update(MYSQL *my, const dal_terminal *t) SK_WUR;

/* A merchant's terminals ordered by id after after_id ("" = from the
 * start), status NULL = any; at most max. */
sk_status dal_term_list(MYSQL *my, const char *merchant_id, const char *status, const char *after_id, int max,
                        dal_terminal *out, int *n) SK_WUR;

/*
 * The registry view of terminals changed at or after since_ms (since_ms < 0:
 * all of them), at most max rows (SK_ETOO_LARGE when there are more).
 * *out is malloc'd (caller frees), *newest the largest updated_ms read.
 */
sk_status dal_term_scan(MYSQL *my, int64_t since_ms, int max, term_view **out, int *n, int64_t *newest) SK_WUR;

/* ---- audit_events ---- */

typedef struct {
    char event_id[64];                  /* unique: node-start-seq; INSERT IGNORE makes a retry harmless */
    int64_t at_ms;
    char key_id[65];
    char role[16];
    char action[32];
    char target[65];
    char merchant_id[33];
    char result[32];
    char *detail;                       /* JSON text or NULL (owned by whoever made the row) */
    int node_id;
} dal_audit_row;

/* One multi-row INSERT IGNORE. */
sk_status dal_audit_insert(MYSQL *my, const dal_audit_row *rows, int n) SK_WUR;

/* Events after (after_at_ms, after_id) in (at, event_id) order, at most
 * max; detail strings are malloc'd (free each). */
sk_status dal_audit_list(MYSQL *my, int64_t after_at_ms, const char *after_id, int max, dal_audit_row *out,
                         int *n) SK_WUR;

#endif
