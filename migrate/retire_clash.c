/*
 * migrate/retire_clash.c — key clashes found while verifying a retire
 * (docs/shrink.md "Key clashes"): a row of G whose merchant_id+out_trade_no
 * another order of T holds. The pure decision is mig_classify_clash
 * (migrate/mig.c); here the I/O: read both sides and the idempotency record,
 * close orphans through the daemon, archive them in T's retired_orphans,
 * leave G's out of the copy or delete T's.
 */
#include "migrate/retire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- key clashes (docs/shrink.md "Key clashes") ---------------- */

#define ORPHAN_DDL "CREATE TABLE IF NOT EXISTS retired_orphans (" \
    "order_no CHAR(25) NOT NULL PRIMARY KEY, group_id TINYINT UNSIGNED NOT NULL, " \
    "merchant_id VARCHAR(32) NOT NULL, out_trade_no VARCHAR(64) NOT NULL, status VARCHAR(10) NOT NULL, " \
    "version INT UNSIGNED NOT NULL, row_json TEXT NOT NULL, action VARCHAR(16) NOT NULL, " \
    "retired_group TINYINT UNSIGNED NOT NULL, kept_order_no CHAR(25) NOT NULL, recorded_at DATETIME(3) NOT NULL" \
    ") ENGINE=InnoDB"
#define ROW_JSON "JSON_OBJECT('order_no',order_no,'group_id',group_id,'merchant_id',merchant_id," \
    "'out_trade_no',out_trade_no,'store_id',store_id,'terminal_id',terminal_id,'amount',amount,'currency',currency," \
    "'channel',channel,'subject',subject,'attach',attach,'status',status,'refunded_amount',refunded_amount," \
    "'channel_txn_id',channel_txn_id,'version',version,'created_at',created_at,'updated_at',updated_at," \
    "'expire_at',expire_at,'paid_at',paid_at,'closed_at',closed_at)"

static void esc(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (2 * n + 1 > cap)
        n = (cap - 1) / 2;
    dal_escape(out, s, n);
}

/* status and "has refunds" of order no on my: 1 found, 0 not, -1 error */
static int side_info(rt *r, MYSQL *my, int grp, const char *no, char status[16], bool *refunds)
{
    char sql[256], v[2][DAL_CELL];
    snprintf(sql, sizeof sql, "SELECT status, (SELECT COUNT(*) FROM refunds WHERE order_no='%s') FROM orders "
             "WHERE order_no='%s'", no, no);
    sk_status st = dal_query_row(my, sql, v, 2);
    if (st == SK_ENOT_FOUND)
        return 0;
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", grp, dal_strerror(my, st));
        return -1;
    }
    snprintf(status, 16, "%s", v[0]);
    *refunds = atoll(v[1]) > 0;
    return 1;
}

/* CREATED -> CLOSED through the daemon (version+1, closed_at, outbox event
 * in the same transaction, so the mirror sees it). */
static int close_orphan(rt *r, int grp, const char *no)
{
    char url[512], path[128], e[512];
    const char *u = mu_daemon_url(&r->o->m, 0, url, sizeof url);
    snprintf(path, sizeof path, "/v1/orders/%s/close", no);
    int st = u ? httpc_call(u, r->o->m.token, "POST", path, "{}", MU_HTTP_TIMEOUT_MS, NULL, e, sizeof e) : -1;
    if (st != 200) {
        snprintf(r->err, sizeof r->err, "closing orphan %s (group %d) through %s: %s", no, grp, u ? u : "(no daemon)",
                 u ? e : "give --daemons");
        return -1;
    }
    return 0;
}

static int orphan_table(rt *r)
{
    sk_status st = dal_exec(r->t, ORPHAN_DDL, strlen(ORPHAN_DDL));
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: create retired_orphans: %s", r->j.into, dal_strerror(r->t, st));
        return -1;
    }
    return 0;
}

/* Archive G's orphan row (as it is now, closed) in T's retired_orphans. */
static int archive_g_row(rt *r, const char *no, const char *kept)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT order_no, group_id, merchant_id, out_trade_no, status, version, " ROW_JSON
             " FROM orders WHERE order_no='%s'", no);
    MYSQL_RES *res;
    sk_status st = dal_query(r->g, sql, strlen(sql), &res);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, dal_strerror(r->g, st));
        return -1;
    }
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        snprintf(r->err, sizeof r->err, "group %d: orphan %s vanished", r->j.group, no);
        return -1;
    }
    unsigned long *len = mysql_fetch_lengths(res);
    sk_buf b = {0};
    sk_buf_str(&b, "INSERT INTO retired_orphans (order_no, group_id, merchant_id, out_trade_no, status, version, "
                   "row_json, action, retired_group, kept_order_no, recorded_at) VALUES (");
    for (int i = 0; i < 7; i++) {
        dal_sql_val(&b, row[i], len[i]);
        sk_buf_put(&b, ",", 1);
    }
    char tail[160];
    snprintf(tail, sizeof tail, "'skipped',%d,'%s',NOW(3)) ON DUPLICATE KEY UPDATE status=VALUES(status), "
             "version=VALUES(version), row_json=VALUES(row_json)", r->j.group, kept);
    sk_buf_str(&b, tail);
    mysql_free_result(res);
    st = b.oom ? SK_ENOMEM : dal_exec(r->t, b.p, b.len);
    sk_buf_free(&b);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: retired_orphans: %s", r->j.into,
                 st == SK_ENOMEM ? "out of memory" : dal_strerror(r->t, st));
        return -1;
    }
    return 0;
}

/* Archive T's (closed) orphan in retired_orphans and delete it with its
 * outbox rows, in one transaction on T. */
static int retire_t_row(rt *r, const char *no, const char *kept)
{
    char sql[2048], e[512];
    sk_status st;
    /* let the relay publish the close first (the mirror then shows it CLOSED) */
    for (int i = 0; i < 30; i++) {
        int64_t pending = 0;
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM outbox WHERE order_no='%s'", no);
        if (dal_query_int(r->t, sql, &pending) != SK_OK || pending <= 0)
            break;
        sk_sleep_ms(100);
    }
    if ((st = dal_exec(r->t, "START TRANSACTION", 17)) != SK_OK)
        goto fail_db;
    snprintf(sql, sizeof sql, "INSERT INTO retired_orphans (order_no, group_id, merchant_id, out_trade_no, status, "
             "version, row_json, action, retired_group, kept_order_no, recorded_at) SELECT order_no, group_id, "
             "merchant_id, out_trade_no, status, version, " ROW_JSON ", 'deleted', %d, '%s', NOW(3) FROM orders "
             "WHERE order_no='%s' AND status='CLOSED' ON DUPLICATE KEY UPDATE status=VALUES(status), "
             "version=VALUES(version), row_json=VALUES(row_json), action=VALUES(action)", r->j.group, kept, no);
    if ((st = dal_exec(r->t, sql, strlen(sql))) != SK_OK)
        goto fail_db;
    snprintf(sql, sizeof sql, "DELETE FROM outbox WHERE order_no='%s'", no);
    if ((st = dal_exec(r->t, sql, strlen(sql))) != SK_OK)
        goto fail_db;
    snprintf(sql, sizeof sql, "DELETE FROM orders WHERE order_no='%s' AND status='CLOSED' AND NOT EXISTS "
             "(SELECT 1 FROM refunds WHERE order_no='%s')", no, no);
    int64_t deleted;
    if ((st = dal_exec_n(r->t, sql, strlen(sql), &deleted)) != SK_OK)
        goto fail_db;
    if (deleted != 1) {
        snprintf(e, sizeof e, "orphan %s is no longer a closed order without refunds; not deleted", no);
        goto fail;
    }
    if ((st = dal_exec(r->t, "COMMIT", 6)) != SK_OK)
        goto fail_db;
    return 0;
fail_db:
    snprintf(e, sizeof e, "%s", dal_strerror(r->t, st));
fail:
    if (dal_exec(r->t, "ROLLBACK", 8) != SK_OK)   /* the statement's error is what we report */
        sk_debug("event=retire_rollback_failed group=%d", r->j.into);
    snprintf(r->err, sizeof r->err, "group %d: removing orphan %s: %s", r->j.into, no, e);
    return -1;
}

/* G's order gno (merchant m, out_trade_no otn) is missing in T. 1 = it
 * clashed with another order of T and was resolved, 0 = no clash, -1 =
 * error or a clash that needs a DBA (r->err). */
static int resolve_one(rt *r, const char *gno, const char *m, const char *otn)
{
    char em[80], eo[140], sql[512], v[3][DAL_CELL];
    esc(m, em, sizeof em);
    esc(otn, eo, sizeof eo);
    snprintf(sql, sizeof sql, "SELECT o.order_no, o.status, (SELECT COUNT(*) FROM refunds f WHERE "
             "f.order_no=o.order_no) FROM orders o WHERE o.merchant_id='%s' AND o.out_trade_no='%s'", em, eo);
    sk_status st = dal_query_row(r->t, sql, v, 3);
    if (st != SK_OK && st != SK_ENOT_FOUND) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, dal_strerror(r->t, st));
        return -1;
    }
    if (st == SK_ENOT_FOUND || strcmp(v[0], gno) == 0)
        return 0;
    char tno[MIG_KEY_LEN + 1], tstat[16], gstat[16] = "";
    snprintf(tno, sizeof tno, "%s", v[0]);
    snprintf(tstat, sizeof tstat, "%s", v[1]);
    bool trf = atoll(v[2]) > 0, grf = false;
    int rc;
    if ((rc = side_info(r, r->g, r->j.group, gno, gstat, &grf)) <= 0) {
        if (rc == 0)
            snprintf(r->err, sizeof r->err, "group %d: order %s vanished", r->j.group, gno);
        return -1;
    }
    char idem[MIG_KEY_LEN + 1] = "";
    redisReply *x = kv_cmd(r->kv, "GET skip:idem:%s:%s", m, otn);
    if (x && x->type == REDIS_REPLY_STRING)
        (void)mig_idem_number(x->str, x->len, idem);
    if (x)
        freeReplyObject(x);
    mig_clash_side gs = {gno, gstat, grf}, ts = {tno, tstat, trf};
    mig_clash k = mig_classify_clash(&gs, &ts, idem);
    sk_info("event=retire_key_clash group=%d order=%s status=%s target=%d other=%s other_status=%s idem=%s "
            "decision=%s", r->j.group, gno, gstat, r->j.into, tno, tstat, idem[0] ? idem : "-", mig_clash_name(k));
    switch (k) {
    case MIG_CLASH_DUPLICATE:
    case MIG_CLASH_UNKNOWN:
        snprintf(r->err, sizeof r->err,
                 "group %d order %s (%s%s) and group %d order %s (%s%s) share merchant_id=%s out_trade_no=%s; %s "
                 "(idempotency record: %s). Not copied: resolve it by hand (skipctl audit lists it), then re-run",
                 r->j.group, gno, gstat, grf ? ", refunds" : "", r->j.into, tno, tstat, trf ? ", refunds" : "", m, otn,
                 k == MIG_CLASH_DUPLICATE ? "both were given out (a real duplicate)"
                                          : "cannot tell which one the client holds",
                 idem[0] ? idem : "none");
        return -1;
    case MIG_CLASH_G_ORPHAN:
    case MIG_CLASH_BOTH_ORPHANS:
        if (strcmp(gstat, "CLOSED") != 0 && close_orphan(r, r->j.group, gno) != 0)
            return -1;
        if (k == MIG_CLASH_BOTH_ORPHANS && strcmp(tstat, "CLOSED") != 0 && close_orphan(r, r->j.into, tno) != 0)
            return -1;
        if (orphan_table(r) != 0 || archive_g_row(r, gno, k == MIG_CLASH_BOTH_ORPHANS ? idem : tno) != 0)
            return -1;
        if (mig_keyset_add(&r->j.skipped_orphans, gno) < 0) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        if (rt_save(r) != 0)
            return -1;
        rt_say(r, "orphan %s of group %d (never given out; the client has %s) closed and left out of the copy",
            gno, r->j.group, k == MIG_CLASH_BOTH_ORPHANS ? idem : tno);
        return 1;
    case MIG_CLASH_T_ORPHAN:
        if (strcmp(tstat, "CLOSED") != 0 && close_orphan(r, r->j.into, tno) != 0)
            return -1;
        if (orphan_table(r) != 0 || retire_t_row(r, tno, gno) != 0)
            return -1;
        if (mig_keyset_add(&r->j.retired_orphans, tno) < 0) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        if (rt_save(r) != 0)
            return -1;
        rt_say(r, "orphan %s of group %d (never given out; the client has %s) closed, archived in retired_orphans "
            "and removed so that %s can be copied", tno, r->j.into, gno, gno);
        return 1;
    }
    return -1;
}

typedef struct {
    char no[MIG_KEY_LEN + 1];
    char m[33], otn[65];
} grow_t;

/* Chunk i still differs after a re-copy: find G's rows T lacks and resolve
 * their key clashes. Returns how many were resolved, -1 on error. */
int rt_resolve_clashes(rt *r, int i)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT order_no, merchant_id, out_trade_no FROM orders WHERE %s%s%s%s%s%s%s ORDER BY order_no",
             r->filter, lo[0] ? " AND order_no > '" : "", lo, lo[0] ? "'" : "", hi[0] ? " AND order_no <= '" : "", hi,
             hi[0] ? "'" : "");
    MYSQL_RES *res;
    sk_status st = dal_query(r->g, sql, strlen(sql), &res);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, dal_strerror(r->g, st));
        return -1;
    }
    size_t n = 0, cap = (size_t)mysql_num_rows(res) + 1;
    grow_t *rows = malloc(cap * sizeof *rows);
    MYSQL_ROW row;
    while (rows && (row = mysql_fetch_row(res)) != NULL) {
        if (!row[0] || !row[1] || !row[2] || mig_keyset_has(&r->j.skipped_orphans, row[0]))
            continue;
        snprintf(rows[n].no, sizeof rows[n].no, "%s", row[0]);
        snprintf(rows[n].m, sizeof rows[n].m, "%s", row[1]);
        snprintf(rows[n].otn, sizeof rows[n].otn, "%s", row[2]);
        n++;
    }
    mysql_free_result(res);
    if (rows == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int resolved = 0;
    for (size_t b0 = 0; b0 < n; b0 += 500) {
        size_t b1 = b0 + 500 < n ? b0 + 500 : n;
        sk_buf q = {0};
        sk_buf_str(&q, "SELECT order_no FROM orders WHERE order_no IN (");
        for (size_t k = b0; k < b1; k++) {
            sk_buf_str(&q, k > b0 ? ",'" : "'");
            sk_buf_str(&q, rows[k].no);
            sk_buf_str(&q, "'");
        }
        sk_buf_str(&q, ")");
        mig_keyset present;
        mig_keyset_init(&present);
        MYSQL_RES *tr = NULL;
        st = q.oom ? SK_ENOMEM : dal_query(r->t, q.p, q.len, &tr);
        sk_buf_free(&q);
        if (st != SK_OK) {
            snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, dal_strerror(r->t, st));
            free(rows);
            return -1;
        }
        int rc = 0;
        while ((row = mysql_fetch_row(tr)) != NULL)
            if (row[0])
                (void)mig_keyset_add(&present, row[0]);
        mysql_free_result(tr);
        for (size_t k = b0; k < b1 && rc == 0; k++) {
            if (mig_keyset_has(&present, rows[k].no))
                continue;
            int x = resolve_one(r, rows[k].no, rows[k].m, rows[k].otn);
            if (x < 0)
                rc = -1;
            resolved += x > 0;
        }
        mig_keyset_free(&present);
        if (rc != 0) {
            free(rows);
            return -1;
        }
    }
    free(rows);
    return resolved;
}

/* Every chunk (touched == NULL) or the touched ones. 1 ok, 0 mismatch, -1 err. */
