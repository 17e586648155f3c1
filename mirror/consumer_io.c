/*
 * mirror/consumer_io.c — skipstore-mirror: applies order-change events from
 * Kafka to the merchant store (spec §7).
 *
 * Exactly-once effect from at-least-once delivery:
 *   - one batch (<= MIR_BATCH messages, <= MIR_LINGER_MS old) is applied in
 *     ONE merchant-store transaction: a version-guarded upsert per event
 *     (an older or repeated version never overwrites a newer row) plus a
 *     dead_letters row per bad event;
 *   - only after COMMIT are the offsets (max offset + 1 per partition)
 *     committed to Kafka, synchronously (enable.auto.commit=false);
 *   - a crash between the two re-delivers the batch; the guard makes the
 *     repeat a no-op. Nothing is ever acknowledged before it is durable.
 * Merchant store down: the batch is kept (bounded: one batch), the assigned
 * partitions are paused, and the apply is retried with bounded exponential
 * backoff; consumption resumes after it succeeds. Rebalance (revoke): the
 * held batch is applied and committed if possible, else dropped (its offsets
 * were never committed, so the next owner reads it again).
 *
 * Lag: per event, commit->apply lag = (apply commit time) - updated_at of the
 * event (= its commit time in the group). Every second the mirror writes
 * "<p99_ms> <p50_ms> <max_ms> <at_epoch_ms>" of the last second into Redis
 * key skip:mirror:lag (no expiry: readers judge freshness by at_epoch_ms;
 * while a batch is held unapplied the value is the age of its oldest event,
 * so an outage shows as growing lag); every 10 s it logs event=mirror_stats.
 */
#include "mirror/consumer.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dal/dal.h"
#include "kv/kv.h"
#include "mirror/event.h"
#include "mirror/kafka.h"

#define MIR_BATCH 500
#define MIR_LINGER_MS 10          /* a partial batch is applied when this old */
#define MIR_DEAD_PAYLOAD_MAX 16384
#define MIR_SQL_MAX (8u << 20)    /* well under max_allowed_packet */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STATS_EVERY_MS 10000

typedef struct {
    const conf *c;
    rd_kafka_t *rk;
    MYSQL *my;
    kv *kv;
    rd_kafka_message_t *batch[MIR_BATCH];
    int nb;
    int64_t batch_t0;             /* mono ms of the first message in the batch */
    bool paused;
    int backoff;
    int64_t retry_at;             /* mono ms */
    /* stats */
    mlag lag_sec, lag_10s;
    int64_t applied, dead, batches, db_failures, commit_failures;
    int64_t apply_us, commit_us, exec_us;  /* time spent in DB apply / offset commit (stats) */
    int64_t last_report, last_stats, last_kv_check;
    char sqlerr[256];
} mstate;

/* ---------- SQL buffer ---------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool overflow;
    MYSQL *my;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->overflow)
        return;
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 65536;
    while (nc < b->len + extra + 1)
        nc *= 2;
    if (nc > MIR_SQL_MAX) {
        b->overflow = true;
        return;
    }
    char *n = realloc(b->buf, nc);
    if (n == NULL) {
        b->overflow = true;
        return;
    }
    b->buf = n;
    b->cap = nc;
}

static void sb_add(sbuf *b, const char *fmt, ...) SK_PRINTF(2, 3);
static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->overflow = true;
        return;
    }
    sb_reserve(b, (size_t)n);
    if (b->overflow)
        return;
    memcpy(b->buf + b->len, tmp, (size_t)n + 1);
    b->len += (size_t)n;
}

/* 'escaped' or NULL */
static void sb_str(sbuf *b, const char *s, size_t len, bool present)
{
    if (!present) {
        sb_add(b, "NULL");
        return;
    }
    sb_reserve(b, len * 2 + 3);
    if (b->overflow)
        return;
    b->buf[b->len++] = '\'';
    b->len += mysql_real_escape_string(b->my, b->buf + b->len, s, (unsigned long)len);
    b->buf[b->len++] = '\'';
    b->buf[b->len] = '\0';
}

static void sb_cstr(sbuf *b, const char *s, bool present) { sb_str(b, s, present ? strlen(s) : 0, present); }

static void sb_dt(sbuf *b, int64_t ms)
{
    if (ms == 0) {
        sb_add(b, "NULL");
        return;
    }
    char dt[24];
    dal_fmt_dt(ms, dt);
    sb_add(b, "'%s'", dt);
}

/* ---------- dead letters ---------- */

static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (k == 9 || c == 0 || k >= n - i)
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

static void sb_dead(sbuf *b, const rd_kafka_message_t *m, const char *reason)
{
    sb_add(b, "INSERT INTO dead_letters (topic, kpartition, koffset, reason, payload, created_at) VALUES (");
    sb_cstr(b, rd_kafka_topic_name(m->rkt), true);
    sb_add(b, ",%d,%" PRId64 ",", (int)m->partition, (int64_t)m->offset);
    sb_str(b, reason, strlen(reason) > 250 ? 250 : strlen(reason), true);
    sb_add(b, ",");
    size_t n = m->len > MIR_DEAD_PAYLOAD_MAX ? MIR_DEAD_PAYLOAD_MAX : m->len;
    if (m->payload == NULL) {
        sb_add(b, "NULL");
    } else if (utf8_ok(m->payload, n)) {
        sb_str(b, m->payload, n, true);
    } else { /* not text: keep it as hex so the row can always be written */
        size_t hn = n > MIR_DEAD_PAYLOAD_MAX / 2 ? MIR_DEAD_PAYLOAD_MAX / 2 : n;
        sb_reserve(b, hn * 2 + 8);
        if (b->overflow)
            return;
        b->len += (size_t)sprintf(b->buf + b->len, "'hex:");
        static const char hx[] = "0123456789abcdef";
        const unsigned char *p = m->payload;
        for (size_t i = 0; i < hn; i++) {
            b->buf[b->len++] = hx[p[i] >> 4];
            b->buf[b->len++] = hx[p[i] & 15];
        }
        b->buf[b->len++] = '\'';
        b->buf[b->len] = '\0';
    }
    sb_add(b, ",NOW(3));");
}

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

static void sb_upsert_head(sbuf *b) { sb_add(b, "INSERT INTO merchant_orders (" MO_COLS ") VALUES "); }

static void sb_upsert_row(sbuf *b, const order_t *o, bool first)
{
    sb_add(b, "%s(", first ? "" : ",");
    sb_cstr(b, o->order_no, true);
    sb_add(b, ",%d,", o->group);
    sb_cstr(b, o->merchant_id, true);
    sb_add(b, ",");
    sb_cstr(b, o->out_trade_no, true);
    sb_add(b, ",");
    sb_cstr(b, o->store_id, o->has_store_id);
    sb_add(b, ",");
    sb_cstr(b, o->terminal_id, o->has_terminal_id);
    sb_add(b, ",%" PRId64 ",", o->amount);
    sb_cstr(b, o->currency, true);
    sb_add(b, ",");
    sb_cstr(b, o->channel, true);
    sb_add(b, ",");
    sb_cstr(b, o->subject, o->has_subject);
    sb_add(b, ",");
    sb_cstr(b, o->attach, o->has_attach);
    sb_add(b, ",'%s',%" PRId64 ",", os_status_name(o->status), o->refunded_amount);
    sb_cstr(b, o->channel_txn_id, o->has_channel_txn_id);
    sb_add(b, ",%" PRId64 ",", o->version);
    sb_dt(b, o->created_at_ms);
    sb_add(b, ",");
    sb_dt(b, o->updated_at_ms);
    sb_add(b, ",");
    sb_dt(b, o->expire_at_ms);
    sb_add(b, ",");
    sb_dt(b, o->paid_at_ms);
    sb_add(b, ",");
    sb_dt(b, o->closed_at_ms);
    sb_add(b, ",");
    sb_dt(b, o->updated_at_ms); /* committed_at: the change's commit time in its group */
    sb_add(b, ",NOW(3))");
}

static void sb_upsert_tail(sbuf *b)
{
    sb_add(b, " ON DUPLICATE KEY UPDATE ");
    for (size_t i = 0; i < sizeof GUARDED / sizeof GUARDED[0]; i++)
        sb_add(b, "%s=IF(VALUES(version)>version,VALUES(%s),%s),", GUARDED[i], GUARDED[i], GUARDED[i]);
    sb_add(b, "version=IF(VALUES(version)>version,VALUES(version),version);");
}

/* ---------- DB ---------- */

static bool db_ensure(mstate *s)
{
    if (s->my != NULL)
        return true;
    dal_pool_opts o = {
        .addr = s->c->merchant_addr, .user = s->c->merchant_user, .password = s->c->merchant_password,
        .db = s->c->merchant_db_name, .connect_timeout_ms = s->c->db_connect_timeout_ms,
        .read_timeout_ms = s->c->db_read_timeout_ms > 5000 ? s->c->db_read_timeout_ms : 5000,
        .write_timeout_ms = s->c->db_write_timeout_ms > 5000 ? s->c->db_write_timeout_ms : 5000,
        .size = 1, .max_inflight = 1,
    };
    char err[256];
    s->my = dal_connect(&o, err, sizeof err);
    if (s->my == NULL) {
        snprintf(s->sqlerr, sizeof s->sqlerr, "connect: %.200s", err);
        return false;
    }
    return true;
}

static void db_drop(mstate *s)
{
    if (s->my) {
        mysql_close(s->my);
        s->my = NULL;
    }
}

/*
 * Build and run one transaction for messages [from, to) of the batch.
 * one_by_one: used after a server error to find the event that causes it;
 * such an event is dead-lettered instead of blocking the stream.
 * Returns SK_OK or the classified error.
 */
static sk_status apply_range(mstate *s, int from, int to, bool *dead_flags, int64_t *n_applied, int64_t *n_dead)
{
    sbuf b = {.my = s->my};
    sb_add(&b, "START TRANSACTION;");
    bool first = true;
    int64_t ok = 0, dead = 0;
    for (int i = from; i < to; i++) {
        const rd_kafka_message_t *m = s->batch[i];
        order_t o;
        char reason[160];
        const char *type = NULL;
        rd_kafka_headers_t *hdrs = NULL;
        char typebuf[32];
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const void *v;
            size_t vl;
            if (rd_kafka_header_get_last(hdrs, "type", &v, &vl) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                size_t n = vl < sizeof typebuf - 1 ? vl : sizeof typebuf - 1;
                memcpy(typebuf, v ? v : "", v ? n : 0);
                typebuf[v ? n : 0] = '\0';
                type = typebuf;
            }
        }
        mev_res r = dead_flags && dead_flags[i] ? MEV_INVALID
                    : mev_decode(m->payload, m->len, m->key, m->key_len, type, &o, reason, sizeof reason);
        if (dead_flags && dead_flags[i])
            snprintf(reason, sizeof reason, "merchant store rejected the row: %.100s", s->sqlerr);
        if (r != MEV_OK) {
            sb_dead(&b, m, reason);
            dead++;
            sk_warn("event=mirror_dead_letter topic=%s partition=%d offset=%" PRId64 " reason=%s detail=\"%s\"",
                    rd_kafka_topic_name(m->rkt), (int)m->partition, (int64_t)m->offset, mev_res_name(r), reason);
            continue;
        }
        if (first)
            sb_upsert_head(&b);
        sb_upsert_row(&b, &o, first);
        first = false;
        ok++;
    }
    if (!first)
        sb_upsert_tail(&b);
    sb_add(&b, "COMMIT");
    if (b.overflow) {
        free(b.buf);
        snprintf(s->sqlerr, sizeof s->sqlerr, "batch SQL too large");
        return SK_ENOMEM;
    }
    int64_t t0 = sk_mono_us();
    sk_status st = dal_exec(s->my, b.buf, b.len);
    s->exec_us += sk_mono_us() - t0;
    free(b.buf);
    if (st != SK_OK) {
        unsigned en = mysql_errno(s->my);
        snprintf(s->sqlerr, sizeof s->sqlerr, "%u %s", en, mysql_error(s->my));
        if (en == 1213 || en == 1205)
            st = SK_ETIMEDOUT; /* deadlock / lock wait timeout: transient, retry the batch; never a dead letter */
        if (st == SK_EDB || st == SK_EDUPKEY || st == SK_EREADONLY) {
            if (dal_exec(s->my, "ROLLBACK", 8) != SK_OK)
                db_drop(s);
        } else {
            db_drop(s);
        }
        return st;
    }
    *n_applied += ok;
    *n_dead += dead;
    return SK_OK;
}

/* Apply the whole batch. SK_OK when durable in the merchant store. */
static sk_status apply_batch(mstate *s)
{
    if (!db_ensure(s))
        return SK_ECONNECT;
    int64_t ok = 0, dead = 0;
    sk_status st = apply_range(s, 0, s->nb, NULL, &ok, &dead);
    if (st == SK_EDB || st == SK_EDUPKEY) {
        /* a server-side rejection: isolate the offending event(s), one
         * transaction each, so one poison event cannot stall the stream */
        sk_warn("event=mirror_batch_rejected err=\"%s\" action=apply_one_by_one", s->sqlerr);
        bool *flags = calloc((size_t)s->nb, sizeof *flags);
        if (flags == NULL)
            return SK_ENOMEM;
        ok = dead = 0;
        for (int i = 0; i < s->nb; i++) {
            if (!db_ensure(s)) {
                free(flags);
                return SK_ECONNECT;
            }
            st = apply_range(s, i, i + 1, flags, &ok, &dead);
            if (st == SK_EDB || st == SK_EDUPKEY) {
                flags[i] = true;
                st = apply_range(s, i, i + 1, flags, &ok, &dead);
            }
            if (st != SK_OK) {
                free(flags);
                return st;
            }
        }
        free(flags);
    } else if (st != SK_OK) {
        return st;
    }
    s->applied += ok;
    s->dead += dead;
    return SK_OK;
}

/* ---------- Kafka ---------- */

static void commit_offsets(mstate *s)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < s->nb; i++) {
        const rd_kafka_message_t *m = s->batch[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (p == NULL)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, l, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* the DB has the changes; a re-delivery is absorbed by the guard */
        s->commit_failures++;
        sk_warn("event=mirror_offset_commit_failed err=\"%s\" effect=redelivery_is_harmless", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void batch_free(mstate *s)
{
    for (int i = 0; i < s->nb; i++)
        rd_kafka_message_destroy(s->batch[i]);
    s->nb = 0;
}

static void set_paused(mstate *s, bool pause)
{
    if (s->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(s->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a != NULL) {
        if (pause)
            rd_kafka_pause_partitions(s->rk, a);
        else
            rd_kafka_resume_partitions(s->rk, a);
        rd_kafka_topic_partition_list_destroy(a);
    }
    s->paused = pause;
    sk_info("event=%s", pause ? "mirror_paused reason=merchant_store_unavailable" : "mirror_resumed");
}

/* Apply + commit the held batch. true when it is done (batch released). */
static bool flush(mstate *s)
{
    if (s->nb == 0)
        return true;
    int64_t t0 = sk_mono_us();
    sk_status st = apply_batch(s);
    s->apply_us += sk_mono_us() - t0;
    if (st != SK_OK) {
        s->db_failures++;
        if (s->db_failures == 1 || s->backoff >= BACKOFF_MAX_MS / 2)
            sk_warn("event=mirror_apply_failed status=%s err=\"%s\" held=%d action=pause_and_retry backoff_ms=%d",
                    sk_status_name(st), s->sqlerr, s->nb, s->backoff);
        set_paused(s, true);
        s->retry_at = sk_mono_ms() + s->backoff;
        s->backoff = s->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff * 2;
        return false;
    }
    int64_t now = sk_now_ms();
    for (int i = 0; i < s->nb; i++) {
        /* lag sample per event: re-read updated_at cheaply from the payload */
        const rd_kafka_message_t *m = s->batch[i];
        const char *p = m->payload ? memmem(m->payload, m->len, "\"updated_at\":\"", 14) : NULL;
        int64_t ts;
        char buf[32];
        if (p) {
            p += 14;
            size_t k = 0;
            while (k < sizeof buf - 1 && (const char *)m->payload + m->len > p + k && p[k] != '"')
                buf[k] = p[k], k++;
            buf[k] = '\0';
            if (ord_parse_time(buf, &ts) == 0) {
                mlag_add(&s->lag_sec, now - ts);
                mlag_add(&s->lag_10s, now - ts);
            }
        }
    }
    t0 = sk_mono_us();
    commit_offsets(s);
    s->commit_us += sk_mono_us() - t0;
    s->batches++;
    batch_free(s);
    s->backoff = BACKOFF_MIN_MS;
    s->retry_at = 0;
    set_paused(s, false);
    return true;
}

static mstate *g_state; /* for the rebalance callback (one consumer per process) */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    mstate *s = g_state;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        sk_info("event=mirror_assigned partitions=%d", parts->cnt);
        rd_kafka_assign(rk, parts);
        return;
    }
    /* revoke (or error): finish what was read, then let go */
    if (s != NULL && s->nb > 0) {
        if (!flush(s)) {
            sk_warn("event=mirror_revoke_drop held=%d reason=apply_failed effect=next_owner_rereads", s->nb);
            batch_free(s);
        }
    }
    if (s != NULL)
        s->paused = false;
    sk_info("event=mirror_revoked partitions=%d", parts ? parts->cnt : 0);
    rd_kafka_assign(rk, NULL);
}

static rd_kafka_t *consumer_new(const conf *c)
{
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *kvs[][2] = {
        {"bootstrap.servers", c->kafka_brokers},
        {"group.id", c->kafka_group},
        {"client.id", "skipstore-mirror"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1000"},
        {"max.poll.interval.ms", "300000"},
        {"fetch.wait.max.ms", "20"},
        {"socket.timeout.ms", "10000"},
        {"reconnect.backoff.max.ms", "1000"},
        {"queued.max.messages.kbytes", "16384"},
        {"log_level", "4"},
    };
    for (size_t i = 0; i < sizeof kvs / sizeof kvs[0]; i++) {
        if (rd_kafka_conf_set(kc, kvs[i][0], kvs[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            sk_error("event=mirror_kafka_conf key=%s err=\"%s\"", kvs[i][0], err);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
    }
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_log_cb(kc, mk_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (rk == NULL) {
        sk_error("event=mirror_kafka_new err=\"%s\"", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, c->kafka_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        sk_error("event=mirror_subscribe_failed err=\"%s\"", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* ---------- lag reporting ---------- */

static void report(mstate *s)
{
    int64_t now = sk_now_ms(), mono = sk_mono_ms();
    if (mono - s->last_report < 1000)
        return;
    s->last_report = mono;
    int64_t p99, p50, mx;
    if (s->nb > 0 && s->paused) {
        /* held, not applying: the lag is the age of the oldest held event */
        int64_t oldest = INT64_MAX;
        for (int i = 0; i < s->nb; i++) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(s->batch[i], &tt);
            if (ts > 0 && ts < oldest)
                oldest = ts;
        }
        p99 = p50 = mx = oldest == INT64_MAX ? 0 : now - oldest;
    } else if (s->lag_sec.n > 0) {
        p99 = mlag_pct(&s->lag_sec, 0.99);
        p50 = mlag_pct(&s->lag_sec, 0.50);
        mx = s->lag_sec.max;
    } else {
        p99 = p50 = mx = 0; /* idle and caught up */
    }
    mlag_reset(&s->lag_sec);
    if (s->kv != NULL) {
        /* Redis down: re-check rarely, each check may cost the Redis timeout */
        if (!kv_up(s->kv) && mono - s->last_kv_check >= 5000) {
            kv_check(s->kv);
            s->last_kv_check = mono;
        }
        char v[96];
        snprintf(v, sizeof v, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, p99, p50, mx, now);
        redisReply *r = kv_cmd(s->kv, "SET skip:mirror:lag %s", v);
        if (r)
            freeReplyObject(r);
    }
    if (mono - s->last_stats >= STATS_EVERY_MS) {
        s->last_stats = mono;
        sk_info("event=mirror_stats applied=%" PRId64 " dead=%" PRId64 " batches=%" PRId64 " db_failures=%" PRId64
                " commit_failures=%" PRId64 " lag_p50_ms=%" PRId64 " lag_p99_ms=%" PRId64 " lag_max_ms=%" PRId64
                " paused=%d apply_ms=%" PRId64 " sql_ms=%" PRId64 " offset_commit_ms=%" PRId64,
                s->applied, s->dead, s->batches, s->db_failures, s->commit_failures, mlag_pct(&s->lag_10s, 0.5),
                mlag_pct(&s->lag_10s, 0.99), s->lag_10s.max, s->paused, s->apply_us / 1000, s->exec_us / 1000, s->commit_us / 1000);
        mlag_reset(&s->lag_10s);
    }
}

/* ---------- main loop ---------- */

int mirror_run(const conf *c, volatile sig_atomic_t *stop)
{
    static mstate S;
    mstate *s = &S;
    s->c = c;
    s->backoff = BACKOFF_MIN_MS;
    mlag_reset(&s->lag_sec);
    mlag_reset(&s->lag_10s);
    g_state = s;
    s->kv = c->redis_addr ? kv_create(c->redis_addr, c->redis_timeout_ms) : NULL;
    s->rk = consumer_new(c);
    if (s->rk == NULL)
        return 1;
    if (!db_ensure(s))
        sk_warn("event=mirror_db_unavailable err=\"%s\" action=retry", s->sqlerr);
    sk_info("event=mirror_started topic=%s group=%s merchant_db=%s", c->kafka_topic, c->kafka_group, c->merchant_addr);
    while (!*stop) {
        report(s);
        if (s->paused) {
            /* keep serving the group protocol (heartbeats, rebalances) */
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 50);
            if (m != NULL) {
                if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && s->nb < MIR_BATCH) {
                    s->batch[s->nb++] = m; /* fetched before the pause took effect */
                } else {
                    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                        rd_kafka_seek(m->rkt, m->partition, m->offset, 1000); /* read it again later */
                    rd_kafka_message_destroy(m);
                }
            }
            if (s->nb > 0 && sk_mono_ms() >= s->retry_at)
                flush(s);
            else if (s->nb == 0)
                set_paused(s, false);
            continue;
        }
        int wait = s->nb > 0 ? 2 : 100;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, wait);
        if (m != NULL) {
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    sk_warn("event=mirror_consume_error err=\"%s\"", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
            } else {
                if (s->nb == 0)
                    s->batch_t0 = sk_mono_ms();
                s->batch[s->nb++] = m;
            }
        }
        if (s->nb > 0 && (s->nb == MIR_BATCH || m == NULL || sk_mono_ms() - s->batch_t0 >= MIR_LINGER_MS))
            flush(s);
    }
    sk_info("event=mirror_stopping held=%d", s->nb);
    if (s->nb > 0 && !flush(s))
        batch_free(s); /* not committed: re-read after restart */
    rd_kafka_consumer_close(s->rk);
    rd_kafka_destroy(s->rk);
    g_state = NULL;
    db_drop(s);
    if (s->kv)
        kv_destroy(s->kv);
    sk_info("event=mirror_stopped applied=%" PRId64 " dead=%" PRId64, s->applied, s->dead);
    return 0;
}
