/*
 * dal/orders.c — the SQL of orders, refunds, outbox and heartbeat.
 *
 * Every change is one transaction on the order's group primary: the row is
 * locked (SELECT ... FOR UPDATE), the pure state machine decides, and the
 * order update, refund row and outbox event commit together — so the outbox
 * holds exactly the committed changes (spec §7).
 */
#include "dal/dal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"

/* ---- SQL text: dal_sb (dal/sqltext.h), freed on every return path ---- */

#define SQLB(name) __attribute__((cleanup(dal_sb_free))) dal_sb name = {0}

/* ---- row mapping ---- */

#define ORDER_COLS ORD_SQL_COLS
#define REFUND_COLS ORD_REFUND_SQL_COLS

static void copy_opt(char *dst, size_t cap, const char *src, bool *has)
{
    if (src == NULL) {
        dst[0] = '\0';
        if (has)
            *has = false;
    } else {
        sk_strlcpy(dst, src, cap);
        if (has)
            *has = true;
    }
}

static int64_t dt_or_zero(const char *s)
{
    int64_t ms = 0;
    if (s == NULL || dal_parse_dt(s, &ms) != 0)
        return 0;
    return ms;
}

int dal_row_to_order(MYSQL_ROW r, order_t *o)
{
    memset(o, 0, sizeof *o);
    copy_opt(o->order_no, sizeof o->order_no, r[0], NULL);
    o->group = r[1] ? atoi(r[1]) : 0;
    copy_opt(o->merchant_id, sizeof o->merchant_id, r[2], NULL);
    copy_opt(o->out_trade_no, sizeof o->out_trade_no, r[3], NULL);
    copy_opt(o->store_id, sizeof o->store_id, r[4], &o->has_store_id);
    copy_opt(o->terminal_id, sizeof o->terminal_id, r[5], &o->has_terminal_id);
    o->amount = r[6] ? strtoll(r[6], NULL, 10) : 0;
    copy_opt(o->currency, sizeof o->currency, r[7], NULL);
    copy_opt(o->channel, sizeof o->channel, r[8], NULL);
    copy_opt(o->subject, sizeof o->subject, r[9], &o->has_subject);
    copy_opt(o->attach, sizeof o->attach, r[10], &o->has_attach);
    if (r[11] == NULL || os_status_parse(r[11], &o->status) != 0)
        return -1;
    o->refunded_amount = r[12] ? strtoll(r[12], NULL, 10) : 0;
    copy_opt(o->channel_txn_id, sizeof o->channel_txn_id, r[13], &o->has_channel_txn_id);
    o->version = r[14] ? strtoll(r[14], NULL, 10) : 0;
    o->created_at_ms = dt_or_zero(r[15]);
    o->updated_at_ms = dt_or_zero(r[16]);
    o->expire_at_ms = dt_or_zero(r[17]);
    o->paid_at_ms = dt_or_zero(r[18]);
    o->closed_at_ms = dt_or_zero(r[19]);
    return 0;
}

/* Run a single SELECT expected to return at most one order row. */
static sk_status select_order(MYSQL *my, const char *sql, size_t len, order_t *out)
{
    MYSQL_RES *res;
    sk_status st = dal_query(my, sql, len, &res);
    if (st != SK_OK)
        return st;
    MYSQL_ROW row = mysql_fetch_row(res);
    st = SK_ENOT_FOUND;
    if (row != NULL)
        st = dal_row_to_order(row, out) == 0 ? SK_OK : SK_EDB;
    mysql_free_result(res);
    return st;
}

/* The VALUES tuple of order o's outbox row (its JSON is the event payload;
 * rendered here unless the caller passes it). */
static void sb_outbox_values(dal_sb *b, const order_t *o, const char *json)
{
    char *payload = NULL;
    if (json == NULL) {
        json_t *j = ord_to_json(o);
        payload = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (payload == NULL) {
            b->overflow = true;
            return;
        }
        json = payload;
    }
    dal_sb_add(b, "(");
    dal_sb_str(b, o->order_no, true);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->merchant_id, true);
    dal_sb_add(b, ",%lld,", (long long)o->version);
    dal_sb_str(b, json, true);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->updated_at_ms);
    dal_sb_add(b, ")");
    free(payload);
}

/* Append the outbox INSERT for order o. */
static void sb_outbox_json(dal_sb *b, const order_t *o, const char *json)
{
    dal_sb_add(b, "INSERT INTO outbox (" DAL_OUTBOX_COLS ") VALUES ");
    sb_outbox_values(b, o, json);
    dal_sb_add(b, ";");
}

static void sb_outbox(dal_sb *b, const order_t *o) { sb_outbox_json(b, o, NULL); }

static void rollback(MYSQL *my)
{
    /* best effort; on a broken connection the caller closes it anyway */
    if (mysql_real_query(my, "ROLLBACK", 8) == 0) {
        MYSQL_RES *r = mysql_store_result(my);
        if (r)
            mysql_free_result(r);
    }
}

sk_status dal_order_insert(MYSQL *my, const order_t *o) { return dal_order_insert_json(my, o, NULL); }

sk_status dal_order_insert_json(MYSQL *my, const order_t *o, const char *json)
{
    const char *js[1] = {json};
    return dal_order_insert_many(my, &o, js, 1);
}

/* The VALUES tuple of a new order's row. */
static void sb_order_values(dal_sb *b, const order_t *o)
{
    dal_sb_add(b, "(");
    dal_sb_order_values(b, o);
    dal_sb_add(b, ")");
}

sk_status dal_order_insert_many(MYSQL *my, const order_t *const *o, const char *const *json, int n)
{
    if (n < 1)
        return SK_EINTERNAL;
    SQLB(b);
    dal_sb_reset(&b);
    dal_sb_add(&b, "START TRANSACTION;INSERT INTO orders (" ORDER_COLS ") VALUES ");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            dal_sb_add(&b, ",");
        sb_order_values(&b, o[i]);
    }
    dal_sb_add(&b, ";INSERT INTO outbox (" DAL_OUTBOX_COLS ") VALUES ");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            dal_sb_add(&b, ",");
        sb_outbox_values(&b, o[i], json ? json[i] : NULL);
    }
    dal_sb_add(&b, ";COMMIT");
    if (b.overflow)
        return SK_EINTERNAL;
    sk_status st = dal_exec(my, b.buf, b.len);
    if (st == SK_EDUPKEY || st == SK_EDB || st == SK_EREADONLY)
        rollback(my); /* the failed statement left the transaction open */
    return st;
}

sk_status dal_order_get(MYSQL *my, const char *order_no, order_t *out)
{
    SQLB(b);
    dal_sb_reset(&b);
    dal_sb_add(&b, "SELECT " ORDER_COLS " FROM orders WHERE order_no=");
    dal_sb_str(&b, order_no, true);
    if (b.overflow)
        return SK_EINTERNAL;
    return select_order(my, b.buf, b.len, out);
}

sk_status dal_order_get_by_out_trade(MYSQL *my, const char *merchant_id, const char *out_trade_no, order_t *out)
{
    SQLB(b);
    dal_sb_reset(&b);
    dal_sb_add(&b, "SELECT " ORDER_COLS " FROM orders WHERE merchant_id=");
    dal_sb_str(&b, merchant_id, true);
    dal_sb_add(&b, " AND out_trade_no=");
    dal_sb_str(&b, out_trade_no, true);
    if (b.overflow)
        return SK_EINTERNAL;
    return select_order(my, b.buf, b.len, out);
}

static void row_to_refund(MYSQL_ROW r, refund_t *f)
{
    memset(f, 0, sizeof *f);
    copy_opt(f->refund_no, sizeof f->refund_no, r[0], NULL);
    copy_opt(f->order_no, sizeof f->order_no, r[1], NULL);
    copy_opt(f->out_refund_no, sizeof f->out_refund_no, r[2], NULL);
    f->amount = r[3] ? strtoll(r[3], NULL, 10) : 0;
    copy_opt(f->reason, sizeof f->reason, r[4], &f->has_reason);
    copy_opt(f->status, sizeof f->status, r[5], NULL);
    f->created_at_ms = dt_or_zero(r[6]);
}

static sk_status query_refunds(MYSQL *my, const char *sql, size_t len, refund_t *out, int max, int *n)
{
    *n = 0;
    MYSQL_RES *res;
    sk_status st = dal_query(my, sql, len, &res);
    if (st != SK_OK)
        return st;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL && *n < max)
        row_to_refund(row, &out[(*n)++]);
    mysql_free_result(res);
    return SK_OK;
}

sk_status dal_refund_list(MYSQL *my, const char *order_no, refund_t *out, int max, int *n)
{
    SQLB(b);
    dal_sb_reset(&b);
    dal_sb_add(&b, "SELECT " REFUND_COLS " FROM refunds WHERE order_no=");
    dal_sb_str(&b, order_no, true);
    dal_sb_add(&b, " ORDER BY created_at, refund_no LIMIT %d", max);
    if (b.overflow)
        return SK_EINTERNAL;
    return query_refunds(my, b.buf, b.len, out, max, n);
}

static sk_status begin(MYSQL *my) { return dal_exec(my, "START TRANSACTION", 17); }

sk_status dal_order_change(MYSQL *my, const char *order_no, const dal_change *ch, dal_change_result *res)
{
    memset(res, 0, sizeof *res);
    sk_status st = begin(my);
    if (st != SK_OK)
        return st;
    SQLB(b);
    dal_sb_reset(&b);
    dal_sb_add(&b, "SELECT " ORDER_COLS " FROM orders WHERE order_no=");
    dal_sb_str(&b, order_no, true);
    dal_sb_add(&b, " FOR UPDATE");
    order_t o;
    st = b.overflow ? SK_EINTERNAL : select_order(my, b.buf, b.len, &o);
    if (st != SK_OK)
        goto fail;
    if (ch->merchant_ok != NULL && !ch->merchant_ok(ch->merchant_ctx, o.merchant_id)) {
        st = SK_ENOT_FOUND;
        goto fail;
    }

    int64_t expected = 0;
    bool has_expected = false;
    if (ch->ev == OE_PAY && ch->pay && ch->pay->has_expected_version) {
        expected = ch->pay->expected_version;
        has_expected = true;
    } else if (ch->ev == OE_CLOSE && ch->close && ch->close->has_expected_version) {
        expected = ch->close->expected_version;
        has_expected = true;
    } else if (ch->ev == OE_REFUND && ch->refund && ch->refund->has_expected_version) {
        expected = ch->refund->expected_version;
        has_expected = true;
    }

    /* a refund repeated by out_refund_no answers with the stored refund */
    if (ch->ev == OE_REFUND) {
        dal_sb_reset(&b);
        dal_sb_add(&b, "SELECT " REFUND_COLS " FROM refunds WHERE order_no=");
        dal_sb_str(&b, order_no, true);
        dal_sb_add(&b, " AND out_refund_no=");
        dal_sb_str(&b, ch->refund->out_refund_no, true);
        int n = 0;
        st = b.overflow ? SK_EINTERNAL : query_refunds(my, b.buf, b.len, &res->refund, 1, &n);
        if (st != SK_OK)
            goto fail;
        if (n == 1) {
            rollback(my);
            res->order = o;
            res->refund_existing = true;
            if (res->refund.amount != ch->refund->amount)
                return SK_EDUPLICATE;
            return SK_OK;
        }
        /* a new refund: the refund policy decides on the locked row */
        if (ch->refund_ok != NULL && (st = ch->refund_ok(ch->refund_ctx, &o, &res->field, &res->message)) != SK_OK) {
            rollback(my);
            res->order = o;
            return st;
        }
    }

    os_input in = {
        .status = o.status,
        .amount = o.amount,
        .refunded_amount = o.refunded_amount,
        .expire_at_ms = o.expire_at_ms,
        .now_ms = ch->now_ms,
        .channel_txn_id = o.has_channel_txn_id ? o.channel_txn_id : NULL,
        .req_channel_txn_id = ch->pay ? ch->pay->channel_txn_id : NULL,
        .req_paid_amount = ch->pay ? ch->pay->paid_amount : 0,
        .req_refund_amount = ch->refund ? ch->refund->amount : 0,
    };
    os_result d = os_decide(ch->ev, &in);
    if (d.outcome == OT_NOOP) {
        rollback(my);
        res->order = o;
        res->applied = false;
        return SK_OK;
    }
    if (d.outcome == OT_REJECT) {
        rollback(my);
        res->order = o;
        res->current_version = o.version;
        return d.error;
    }
    if (has_expected && expected != o.version) {
        rollback(my);
        res->order = o;
        res->current_version = o.version;
        return SK_EVERSION_CONFLICT;
    }

    /* apply */
    order_t n = o;
    n.status = d.new_status;
    n.version = o.version + 1;
    n.updated_at_ms = ch->now_ms > o.updated_at_ms ? ch->now_ms : o.updated_at_ms + 1;
    dal_sb_reset(&b);
    if (ch->ev == OE_PAY) {
        sk_strlcpy(n.channel_txn_id, ch->pay->channel_txn_id, sizeof n.channel_txn_id);
        n.has_channel_txn_id = true;
        n.paid_at_ms = n.updated_at_ms;
    } else if (ch->ev == OE_CLOSE || ch->ev == OE_EXPIRE) {
        n.closed_at_ms = n.updated_at_ms;
    } else if (ch->ev == OE_REFUND) {
        n.refunded_amount = o.refunded_amount + ch->refund->amount;
        refund_t *f = &res->refund;
        memset(f, 0, sizeof *f);
        sk_strlcpy(f->refund_no, ch->refund_no, sizeof f->refund_no);
        sk_strlcpy(f->order_no, o.order_no, sizeof f->order_no);
        sk_strlcpy(f->out_refund_no, ch->refund->out_refund_no, sizeof f->out_refund_no);
        f->amount = ch->refund->amount;
        f->has_reason = ch->refund->has_reason;
        if (f->has_reason)
            sk_strlcpy(f->reason, ch->refund->reason, sizeof f->reason);
        sk_strlcpy(f->status, "SUCCESS", sizeof f->status);
        f->created_at_ms = n.updated_at_ms;
        dal_sb_add(&b, "INSERT INTO refunds (" REFUND_COLS ") VALUES (");
        dal_sb_str(&b, f->refund_no, true);
        dal_sb_add(&b, ",");
        dal_sb_str(&b, f->order_no, true);
        dal_sb_add(&b, ",");
        dal_sb_str(&b, f->out_refund_no, true);
        dal_sb_add(&b, ",%lld,", (long long)f->amount);
        dal_sb_str(&b, f->reason, f->has_reason);
        dal_sb_add(&b, ",'SUCCESS',");
        dal_sb_dt(&b, f->created_at_ms);
        dal_sb_add(&b, ");");
    }
    dal_sb_add(&b, "UPDATE orders SET status='%s', version=%lld, refunded_amount=%lld, channel_txn_id=",
           os_status_name(n.status), (long long)n.version, (long long)n.refunded_amount);
    dal_sb_str(&b, n.channel_txn_id, n.has_channel_txn_id);
    dal_sb_add(&b, ", updated_at=");
    dal_sb_dt(&b, n.updated_at_ms);
    dal_sb_add(&b, ", paid_at=");
    dal_sb_dt(&b, n.paid_at_ms);
    dal_sb_add(&b, ", closed_at=");
    dal_sb_dt(&b, n.closed_at_ms);
    dal_sb_add(&b, " WHERE order_no=");
    dal_sb_str(&b, o.order_no, true);
    dal_sb_add(&b, " AND version=%lld;", (long long)o.version);
    sb_outbox(&b, &n);
    dal_sb_add(&b, "COMMIT");
    if (b.overflow) {
        st = SK_EINTERNAL;
        goto fail;
    }
    st = dal_exec(my, b.buf, b.len);
    if (st != SK_OK)
        goto fail;
    res->order = n;
    res->applied = true;
    return SK_OK;
fail:
    if (st == SK_EDUPKEY || st == SK_EDB || st == SK_EREADONLY || st == SK_ENOT_FOUND || st == SK_EINTERNAL)
        rollback(my);
    return st;
}

sk_status dal_expired_list(MYSQL *my, int64_t now_ms, const int *stamped, int nstamped, char (*out)[ONO_LEN + 1],
                           int max, int *n)
{
    *n = 0;
    if (nstamped <= 0)
        return SK_OK;
    char dt[24], ids[CONF_MAX_GROUPS * 5 + 1], sql[256 + sizeof ids];
    size_t il = 0;
    for (int i = 0; i < nstamped && i < CONF_MAX_GROUPS; i++) {
        if (stamped[i] < 1 || stamped[i] > 99)
            return SK_EINTERNAL;
        il += (size_t)snprintf(ids + il, sizeof ids - il, "%s'%02d'", i ? "," : "", stamped[i]);
    }
    dal_fmt_dt(now_ms, dt);
    int len = snprintf(sql, sizeof sql,
                       "SELECT order_no FROM orders WHERE status='CREATED' AND expire_at < '%s' "
                       "AND SUBSTRING(order_no,23,2) IN (%s) ORDER BY expire_at LIMIT %d", dt, ids, max);
    MYSQL_RES *res;
    sk_status st = dal_query(my, sql, (size_t)len, &res);
    if (st != SK_OK)
        return st;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL && *n < max)
        sk_strlcpy(out[(*n)++], row[0] ? row[0] : "", ONO_LEN + 1);
    mysql_free_result(res);
    return SK_OK;
}

sk_status dal_outbox_count(MYSQL *my, int64_t *n)
{
    sk_status st = dal_query_int(my, "SELECT COUNT(*) FROM outbox", n);
    return st == SK_ENOT_FOUND ? SK_EDB : st;
}

sk_status dal_probe(MYSQL *my, int node_id)
{
    char sql[128];
    int len = snprintf(sql, sizeof sql,
                       "UPDATE heartbeat SET ts=NOW(3), writer='node-%d' WHERE id=1", node_id);
    if (mysql_real_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    return SK_OK;
}
