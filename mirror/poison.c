/*
 * mirror/poison.c — one batch applied to the merchant store with its poison
 * pills isolated (docs/mirror.md "Bad events"; worker thread, consumer.c):
 * an event that does not decode is a dead letter; an event the store
 * refuses is isolated by bisecting the batch (mev_isolate) and
 * dead-lettered; if even its dead letter is refused, a minimal one, then
 * the log (event=mirror_dead_letter_lost).
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
#include "order/ono.h"
#include "kafka/kafka.h"
#include "common/utf8.h"
#include "kafka/kprops.h"
#include "mirror/consumer_internal.h"

/* ---------- dead letters ---------- */

/*
 * One dead letter: the message byte-exact (payload and key as BLOBs, hex
 * literals: no character set is involved, so the row can always be
 * written), its coordinates and a reason (sanitized to valid UTF-8, cut to
 * the column). Unique per message (topic, partition, offset, timestamp):
 * a re-delivery after a crash writes no second row.
 *   minimal: no key/payload (escalation when even the full row is refused);
 *   room: the statement must fit this many bytes (payload truncated to fit,
 *         truncated=1, payload_len keeps the real length).
 */
static void sb_dead(dal_sb *b, const rd_kafka_message_t *m, const char *type, const char *reason, bool minimal,
                    size_t room)
{
    char why[MIR_REASON_MAX + 1];
    utf8_sanitize(why, sizeof why, reason, strlen(reason));
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    size_t klen = m->key ? (m->key_len > MIR_DEAD_KEY_MAX ? MIR_DEAD_KEY_MAX : m->key_len) : 0;
    size_t tlen = type ? strlen(type) : 0;
    const char *topic = rd_kafka_topic_name(m->rkt);
    /* fixed part, escaped reason and topic at worst doubled, key and type hex */
    size_t fixed = 400 + 2 * strlen(why) + 2 * strlen(topic) + 2 * klen + 2 * tlen;
    size_t plen = m->payload ? m->len : 0;
    size_t keep = plen > MIR_DEAD_PAYLOAD_MAX ? MIR_DEAD_PAYLOAD_MAX : plen;
    if (room > fixed && keep > (room - fixed) / 2)
        keep = (room - fixed) / 2;
    else if (room <= fixed)
        keep = 0;
    bool truncated = keep < plen || (m->key && klen < m->key_len);
    dal_sb_add(b, "INSERT INTO dead_letters (topic, kpartition, koffset, ktimestamp, msg_key, type_header, reason, "
              "payload, payload_len, truncated, created_at) VALUES (");
    dal_sb_str(b, topic, true);
    dal_sb_add(b, ",%d,%" PRId64 ",%" PRId64 ",", (int)m->partition, (int64_t)m->offset, ts);
    dal_sb_hex(b, m->key, klen, m->key != NULL && !minimal);
    dal_sb_add(b, ",");
    dal_sb_hex(b, type, tlen, type != NULL && !minimal);
    dal_sb_add(b, ",");
    dal_sb_str(b, why, true);
    dal_sb_add(b, ",");
    dal_sb_hex(b, m->payload, keep, m->payload != NULL && !minimal);
    if (m->payload)
        dal_sb_add(b, ",%zu,%d,NOW(3)) ON DUPLICATE KEY UPDATE id=id", m->len, truncated || minimal);
    else
        dal_sb_add(b, ",NULL,%d,NOW(3)) ON DUPLICATE KEY UPDATE id=id", truncated || minimal);
}

/* the "type" header of message i, for the dead letter (NULL: none) */
static const char *type_of(const rd_kafka_message_t *m, char *buf, size_t cap)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v;
    size_t vl;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, "type", &v, &vl) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    size_t n = v ? (vl < cap - 1 ? vl : cap - 1) : 0;
    if (n)
        memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* Log the bytes of an event that could not even be dead-lettered (the last
 * resort: the partition moves on, the log keeps the event). */
static void log_lost(const rd_kafka_message_t *m, const char *why)
{
    static const char hx[] = "0123456789abcdef";
    size_t n = m->payload ? (m->len > 4096 ? 4096 : m->len) : 0;
    size_t kn = m->key ? (m->key_len > 256 ? 256 : m->key_len) : 0;
    char *hex = malloc(2 * (n + kn) + 2);
    if (hex == NULL)
        return;
    size_t o = 0;
    for (size_t i = 0; i < kn; i++)
        hex[o++] = hx[((const unsigned char *)m->key)[i] >> 4], hex[o++] = hx[((const unsigned char *)m->key)[i] & 15];
    hex[o++] = '\0';
    char *phex = hex + o;
    o = 0;
    for (size_t i = 0; i < n; i++)
        phex[o++] = hx[((const unsigned char *)m->payload)[i] >> 4], phex[o++] = hx[((const unsigned char *)m->payload)[i] & 15];
    phex[o] = '\0';
    char reason[200];
    utf8_sanitize(reason, sizeof reason, why, strlen(why));
    for (char *p = reason; *p; p++)
        if (*p == '"')
            *p = '\'';
    sk_error("event=mirror_dead_letter_lost topic=%s partition=%d offset=%" PRId64 " reason=\"%s\" "
             "payload_len=%zu key_hex=%s payload_hex=%s%s effect=skipped_reread_from_kafka_while_retained",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset, reason, m->payload ? m->len : 0,
             hex, phex, n < (m->payload ? m->len : 0) ? "..." : "");
    free(hex);
}

/*
 * Build and run one transaction for messages [from, to) of the batch, as
 * their levels say (MEV_LVL_*). Returns what mev_isolate needs to know.
 */
static mev_apply apply_range(void *ctx, int from, int to)
{
    mworker *w = ctx;
    if (!db_ensure(w))
        return MEV_APPLY_FAIL;
    txw t = {.w = w, .pk = {.max = w->sql_max + 1024}, .st = SK_OK};
    dal_sb one = {.max = w->sql_max};
    int64_t ok = 0, dead = 0, lost = 0;
    dal_sb_mem(&t.pk, "START TRANSACTION;", 18);
    for (int i = from; i < to && t.st == SK_OK; i++) {
        const rd_kafka_message_t *m = w->batch[i];
        one.len = 0;
        one.overflow = false;
        if (w->level[i] == MEV_LVL_EVENT && w->res[i] == MEV_OK) {
            sb_upsert_row(&one, &w->ord[i]);
            if (one.overflow) {
                tx_fail(&t, SK_ENOMEM);
                break;
            }
            tx_row(&t, one.buf, one.len);
            ok++;
            continue;
        }
        char reason[400], typebuf[64];
        if (w->rejected[i][0] != '\0')
            snprintf(reason, sizeof reason, "merchant store rejected the row: %s", w->rejected[i]);
        else
            snprintf(reason, sizeof reason, "%s: %s", mev_res_name(w->res[i]), w->why[i]);
        if (w->level[i] == MEV_LVL_SKIP) {
            log_lost(m, reason);
            lost++;
            continue;
        }
        sb_dead(&one, m, type_of(m, typebuf, sizeof typebuf), reason, w->level[i] == MEV_LVL_MINIMAL,
                w->sql_max - 64);
        if (one.overflow) {
            tx_fail(&t, SK_ENOMEM);
            break;
        }
        tx_stmt(&t, one.buf, one.len);
        dead++;
    }
    tx_close_upsert(&t);
    if (t.st == SK_OK)
        dal_sb_mem(&t.pk, "COMMIT", 6);
    tx_send(&t);
    free(t.pk.buf);
    free(one.buf);
    if (t.st != SK_OK) {
        if (w->sqlerrno == 1213 || w->sqlerrno == 1205)
            t.st = SK_ETIMEDOUT; /* deadlock / lock wait timeout: transient, retry the batch */
        if (t.st == SK_EDB || t.st == SK_EDUPKEY || t.st == SK_EREADONLY || t.st == SK_ENOMEM) {
            if (dal_exec(w->my, "ROLLBACK", 8) != SK_OK)
                db_drop(w);
        } else {
            db_drop(w);
        }
        if ((t.st == SK_EDB || t.st == SK_EDUPKEY) && mev_row_error(w->sqlerrno))
            return MEV_APPLY_ROW;
        return MEV_APPLY_FAIL;
    }
    w->n_ok += ok;
    w->n_dead += dead;
    w->n_lost += lost;
    return MEV_APPLY_OK;
}

static void set_level(void *ctx, int i, int level)
{
    mworker *w = ctx;
    if (w->level[i] == MEV_LVL_EVENT && w->res[i] == MEV_OK) /* the store refused the event's own row */
        sk_strlcpy(w->rejected[i], w->sqlerr, sizeof w->rejected[i]);
    w->level[i] = (unsigned char)level;
    const rd_kafka_message_t *m = w->batch[i];
    sk_warn("event=mirror_dead_letter topic=%s partition=%d offset=%" PRId64 " reason=rejected_by_store level=%s "
            "err=\"%s\"", rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset,
            level == MEV_LVL_DEAD ? "dead_letter" : level == MEV_LVL_MINIMAL ? "minimal_dead_letter" : "skip",
            w->sqlerr);
    if (level == MEV_LVL_DEAD)
        w->n_isolations++;
}

typedef struct {
    char order_no[ONO_LEN + 1];
    char merchant[ORD_MERCHANT_MAX + 1];
    int group;
} owner;

static int owner_cmp(const void *x, const void *y)
{
    return strcmp(((const owner *)x)->order_no, ((const owner *)y)->order_no);
}

static int owner_key_cmp(const void *key, const void *y) { return strcmp(key, ((const owner *)y)->order_no); }

/* qsort has no context argument: the batch being sorted (one mirror worker
 * thread each; thread-local) */
static _Thread_local const mworker *sort_ctx;

static int event_cmp(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    int c = strcmp(sort_ctx->ord[a].order_no, sort_ctx->ord[b].order_no);
    return c != 0 ? c : (a > b) - (a < b);   /* offset order within one order number */
}

/*
 * Ownership (mev_check_owner): read the stored merchant and group of every
 * order the batch's good events name, in one query, and dead-letter
 * (MEV_MOVED) an event that would move its order to another merchant or
 * group — also against an earlier event of the same batch for a new order.
 * The upsert's guard (build_tail) refuses such a change as well, so an order
 * first written by another worker between this read and the apply is never
 * moved either (that event is then a silent no-op, not a dead letter).
 * false: the store failed (batch kept, retried).
 */
static bool owner_check(mworker *w)
{
    dal_sb q = {.max = w->sql_max};
    dal_sb_add(&q, "SELECT order_no, merchant_id, group_id FROM merchant_orders WHERE order_no IN (");
    int n = 0;
    for (int i = 0; i < w->nb; i++) {
        if (w->res[i] != MEV_OK)
            continue;
        dal_sb_add(&q, "%s", n++ ? "," : "");
        dal_sb_str(&q, w->ord[i].order_no, true);
    }
    dal_sb_add(&q, ")");
    if (n == 0 || q.overflow) {
        free(q.buf);
        return n == 0; /* over max: cannot happen (500 numbers), but never skip the check */
    }
    int rc = mysql_real_query(w->my, q.buf, (unsigned long)q.len);
    free(q.buf);
    MYSQL_RES *res = rc == 0 ? mysql_store_result(w->my) : NULL;
    if (res == NULL) {
        w->sqlerrno = mysql_errno(w->my);
        snprintf(w->sqlerr, sizeof w->sqlerr, "owner check: %u %.200s", w->sqlerrno, mysql_error(w->my));
        db_drop(w);
        return false;
    }
    int nrows = (int)mysql_num_rows(res);
    owner *have = calloc((size_t)nrows + 1, sizeof *have);
    int *idx = calloc((size_t)w->nb + 1, sizeof *idx);
    if (have == NULL || idx == NULL) {
        free(have);
        free(idx);
        mysql_free_result(res);
        snprintf(w->sqlerr, sizeof w->sqlerr, "owner check: out of memory");
        return false;
    }
    int nh = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (!row[0] || !row[1] || !row[2])
            continue;
        sk_strlcpy(have[nh].order_no, row[0], sizeof have[nh].order_no);
        sk_strlcpy(have[nh].merchant, row[1], sizeof have[nh].merchant);
        have[nh].group = atoi(row[2]);
        nh++;
    }
    mysql_free_result(res);
    qsort(have, (size_t)nh, sizeof *have, owner_cmp);
    /* the good events by order number, in offset order within one number:
     * the stored owner decides; for a new order its first event is the owner */
    int ni = 0;
    for (int i = 0; i < w->nb; i++)
        if (w->res[i] == MEV_OK)
            idx[ni++] = i;
    sort_ctx = w;
    qsort(idx, (size_t)ni, sizeof *idx, event_cmp);
    sort_ctx = NULL;
    for (int a = 0; a < ni;) {
        const order_t *first = &w->ord[idx[a]];
        int b = a + 1;
        while (b < ni && strcmp(w->ord[idx[b]].order_no, first->order_no) == 0)
            b++;
        const owner *stored = bsearch(first->order_no, have, (size_t)nh, sizeof *have, owner_key_cmp);
        const char *merchant = stored ? stored->merchant : first->merchant_id;
        int group = stored ? stored->group : first->group;
        for (int k = stored ? a : a + 1; k < b; k++) {
            int i = idx[k];
            w->res[i] = mev_check_owner(&w->ord[i], merchant, group, w->why[i], sizeof w->why[i]);
            if (w->res[i] != MEV_OK) {
                const rd_kafka_message_t *m = w->batch[i];
                sk_warn("event=mirror_dead_letter topic=%s partition=%d offset=%" PRId64 " reason=%s detail=\"%s\"",
                        rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset, mev_res_name(w->res[i]),
                        w->why[i]);
            }
        }
        a = b;
    }
    free(have);
    free(idx);
    return true;
}

/* Apply the whole batch (isolating poison pills). SK_OK when durable. */
sk_status apply_batch(mworker *w, int64_t *n_ok, int64_t *n_dead, int64_t *n_lost, int64_t *n_iso)
{
    if (!db_ensure(w))
        return SK_ECONNECT;
    decode_batch(w);
    if (!owner_check(w))
        return SK_EDB;
    w->n_ok = w->n_dead = w->n_lost = w->n_isolations = 0;
    mev_isolator iso = {.apply = apply_range, .set_level = set_level, .ctx = w};
    if (mev_isolate(&iso, w->nb) != MEV_APPLY_OK)
        return SK_EDB;
    *n_ok = w->n_ok;
    *n_dead = w->n_dead;
    *n_lost = w->n_lost;
    *n_iso = w->n_isolations;
    if (w->n_isolations > 0)
        sk_warn("event=mirror_batch_isolated worker=%d events=%d rejected_rows=%" PRId64 " dead=%" PRId64
                " lost=%" PRId64, w->idx, w->nb, w->n_isolations, w->n_dead, w->n_lost);
    return SK_OK;
}

