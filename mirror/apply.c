/*
 * mirror/apply.c — the SQL side of applying a batch of order events to the
 * merchant store (worker thread; consumer.c): the SQL buffer, the
 * version-guarded multi-row upsert, the worker's merchant-store connection,
 * decoding a batch, and the transaction writer that sends statements in
 * round trips of at most sql_max bytes. Dead letters and the isolation of
 * poison pills are poison.c.
 */
#include "mirror/consumer.h"

#include <inttypes.h>
#include <pthread.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dal/dal.h"
#include "kv/kv.h"
#include "mirror/event.h"
#include "kafka/kafka.h"
#include "common/utf8.h"
#include "kafka/kprops.h"
#include "mirror/consumer_internal.h"

/* ---------- upsert ---------- */

#define MO_COLS                                                                                    \
    "order_no, group_id, merchant_id, out_trade_no, store_id, terminal_id, amount, currency, "   \
    "channel, subject, attach, status, refunded_amount, channel_txn_id, version, created_at, "    \
    "updated_at, expire_at, paid_at, closed_at, committed_at, applied_at"

/* Every column but the key takes the incoming value only when the incoming
 * version is newer (mev_newer); version itself is assigned LAST, because
 * ON DUPLICATE KEY UPDATE evaluates left to right and later IF()s must
 * still compare against the stored version. */
static const char *const GUARDED[] = {
    "group_id", "merchant_id", "out_trade_no", "store_id", "terminal_id", "amount", "currency",
    "channel", "subject", "attach", "status", "refunded_amount", "channel_txn_id", "created_at",
    "updated_at", "expire_at", "paid_at", "closed_at", "committed_at", "applied_at",
};

static const char UPSERT_HEAD[] = "INSERT INTO merchant_orders (" MO_COLS ") VALUES ";
/* newer, and the same owner: an order never changes merchant or group
 * (owner_check dead-letters such an event; this keeps the row even when the
 * check raced with another worker's first write of the order). merchant_id
 * and group_id never change under this condition, so the later IF()s see
 * the stored owner. */
#define NEWER "VALUES(version)>version AND BINARY VALUES(merchant_id)=BINARY merchant_id AND VALUES(group_id)=group_id"
static char upsert_tail[4096]; /* built once: " ON DUPLICATE KEY UPDATE ...;" */
static size_t upsert_tail_len;

void build_tail(void)
{
    size_t n = (size_t)snprintf(upsert_tail, sizeof upsert_tail, " ON DUPLICATE KEY UPDATE ");
    for (size_t i = 0; i < sizeof GUARDED / sizeof GUARDED[0]; i++)
        n += (size_t)snprintf(upsert_tail + n, sizeof upsert_tail - n, "%s=IF(" NEWER ",VALUES(%s),%s),",
                              GUARDED[i], GUARDED[i], GUARDED[i]);
    n += (size_t)snprintf(upsert_tail + n, sizeof upsert_tail - n, "version=IF(" NEWER ",VALUES(version),version);");
    upsert_tail_len = n;
}

void sb_upsert_row(dal_sb *b, const order_t *o)
{
    dal_sb_add(b, "(");
    dal_sb_order_values(b, o);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->updated_at_ms); /* committed_at: the change's commit time in its group */
    dal_sb_add(b, ",NOW(3))");
}

/* ---------- DB (worker thread) ---------- */

bool db_ensure(mworker *w)
{
    if (w->my != NULL)
        return true;
    const conf *c = w->x->c;
    dal_pool_opts o = {
        .addr = c->merchant_addr, .user = c->merchant_user, .password = c->merchant_password,
        .db = c->merchant_db_name, .connect_timeout_ms = c->db_connect_timeout_ms,
        .read_timeout_ms = c->db_read_timeout_ms > 5000 ? c->db_read_timeout_ms : 5000,
        .write_timeout_ms = c->db_write_timeout_ms > 5000 ? c->db_write_timeout_ms : 5000,
        .size = 1, .max_inflight = 1, .multi_statements = true,
    };
    dal_tls_set(&o.tls, &c->merchant_tls);
    char err[256];
    w->my = dal_connect(&o, err, sizeof err);
    if (w->my == NULL) {
        snprintf(w->sqlerr, sizeof w->sqlerr, "connect: %.200s", err);
        w->sqlerrno = 0;
        return false;
    }
    /* a round trip never exceeds the server's packet limit (an over-large
     * batch is split into several round trips of one transaction) */
    w->sql_max = MIR_SQL_MAX;
    if (mysql_query(w->my, "SELECT @@max_allowed_packet") == 0) {
        MYSQL_RES *r = mysql_store_result(w->my);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        if (row && row[0]) {
            unsigned long long map = strtoull(row[0], NULL, 10);
            if (map > 2 * MIR_SQL_MIN && map - MIR_SQL_MIN < w->sql_max)
                w->sql_max = (size_t)(map - MIR_SQL_MIN);
        }
        if (r)
            mysql_free_result(r);
    }
    return true;
}

void db_drop(mworker *w)
{
    if (w->my) {
        mysql_close(w->my);
        w->my = NULL;
    }
}

/* ---------- one transaction over a range of the batch ---------- */

/* Decode the batch (once per attempt; every event starts at level EVENT). */
void decode_batch(mworker *w)
{
    for (int i = 0; i < w->nb; i++) {
        const rd_kafka_message_t *m = w->batch[i];
        char typebuf[64];
        const char *type = NULL;
        rd_kafka_headers_t *hdrs = NULL;
        if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hdrs = NULL;
        if (hdrs != NULL) {
            const void *v;
            size_t vl;
            if (rd_kafka_header_get_last(hdrs, "type", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                size_t n = v ? (vl < sizeof typebuf - 1 ? vl : sizeof typebuf - 1) : 0;
                if (n)
                    memcpy(typebuf, v, n);
                typebuf[n] = '\0';
                type = typebuf;
            }
        }
        /* the HMAC first: nothing of an event that fails it is believed */
        const void *mac = NULL;
        size_t macl = 0;
        bool has_mac = hdrs != NULL &&
                       rd_kafka_header_get_last(hdrs, EVSIG_HEADER, &mac, &macl) == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!has_mac)
            mac = NULL, macl = 0;
        else if (mac == NULL)
            mac = "", macl = 0; /* a header with a null value: present, malformed */
        w->res[i] = mev_check_hmac(w->x->pkeys, m->payload, m->payload ? m->len : 0, mac, macl, w->why[i],
                                   sizeof w->why[i]);
        if (w->res[i] == MEV_OK)
            w->res[i] = mev_decode(m->payload, m->len, m->key, m->key_len, type, &w->ord[i], w->why[i],
                                   sizeof w->why[i]);
        w->level[i] = MEV_LVL_EVENT;
        w->rejected[i][0] = '\0';
        if (w->res[i] != MEV_OK)
            sk_warn("event=mirror_dead_letter topic=%s partition=%d offset=%" PRId64 " reason=%s detail=\"%s\"",
                    rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset, mev_res_name(w->res[i]),
                    w->why[i]);
    }
}

void tx_fail(txw *t, sk_status st)
{
    mworker *w = t->w;
    if (t->st != SK_OK)
        return;
    t->st = st;
    unsigned en = w->my ? mysql_errno(w->my) : 0;
    w->sqlerrno = en;
    if (st == SK_ENOMEM)
        snprintf(w->sqlerr, sizeof w->sqlerr, "out of memory building SQL");
    else
        snprintf(w->sqlerr, sizeof w->sqlerr, "%u %s", en, w->my ? mysql_error(w->my) : "");
}

void tx_send(txw *t)
{
    if (t->st != SK_OK || t->pk.len == 0)
        return;
    if (t->pk.overflow) {
        tx_fail(t, SK_ENOMEM);
        return;
    }
    mworker *w = t->w;
    int64_t t0 = sk_mono_us();
    sk_status st = dal_exec(w->my, t->pk.buf, t->pk.len);
    int64_t dt = sk_mono_us() - t0;
    pthread_mutex_lock(&w->x->smu);
    w->x->exec_us += dt;
    pthread_mutex_unlock(&w->x->smu);
    t->pk.len = 0;
    if (st != SK_OK)
        tx_fail(t, st);
}

void tx_close_upsert(txw *t)
{
    if (!t->in_upsert)
        return;
    dal_sb_mem(&t->pk, upsert_tail, upsert_tail_len);
    t->in_upsert = false;
}

/* append one complete statement (without ';'); flush first if it does not fit */
void tx_stmt(txw *t, const char *s, size_t n)
{
    tx_close_upsert(t);
    if (t->pk.len + n + 2 > t->w->sql_max)
        tx_send(t);
    dal_sb_mem(&t->pk, s, n);
    dal_sb_mem(&t->pk, ";", 1);
}

void tx_row(txw *t, const char *row, size_t n)
{
    size_t need = n + 1 + upsert_tail_len + 16;
    if (t->in_upsert && t->pk.len + need > t->w->sql_max)
        tx_close_upsert(t);
    if (!t->in_upsert) {
        if (t->pk.len + sizeof UPSERT_HEAD + need > t->w->sql_max)
            tx_send(t);
        dal_sb_mem(&t->pk, UPSERT_HEAD, sizeof UPSERT_HEAD - 1);
        t->in_upsert = true;
    } else {
        dal_sb_mem(&t->pk, ",", 1);
    }
    dal_sb_mem(&t->pk, row, n);
}

