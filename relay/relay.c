/*
 * relay/relay.c — the outbox relay inside skipstored (spec §7).
 *
 * One thread per group (a hung group stalls only its own thread), each with
 * its own MariaDB connection (not from the request pool: the relay holds a
 * transaction open while Kafka acknowledges) and its own idempotent producer
 * (delivery reports are served by the thread that waits for them).
 *
 * One round, per group:
 *   START TRANSACTION (READ COMMITTED: record locks only, no gap locks, so
 *     concurrent creates inserting outbox rows are never blocked)
 *   (only as the group's owner: GET_LOCK on the primary, see relay_own —
 *    several daemons: one publishes per group, the others stand by and take
 *    over within a second when it dies or keeps failing)
 *   SELECT ... FROM outbox ORDER BY id LIMIT batch FOR UPDATE SKIP LOCKED
 *   produce each row: key = merchant_id, value = payload (the order JSON),
 *     headers type=order, group, skip-hmac (auth/evsig.h: HMAC-SHA256 of
 *     the value with kafka.event_key_file's key, re-read on reload); enable.idempotence, acks=all, bounded message timeout
 *   wait for every delivery report (bounded by message.timeout.ms + margin)
 *   DELETE exactly the delivered ids (PK point deletes); COMMIT
 * A failure anywhere rolls back (rows stay, published again later: the
 * mirror's version guard makes a repeat harmless). Kafka down: the round
 * times out, the thread backs off (bounded exponential) and retries; creates
 * never wait on any of this. Memory: one batch per group at a time.
 *
 * Producer settings: skipstore's own defaults, then the config's
 * kafka.producer mapping unchanged (TLS, SASL, tuning: librdkafka's names),
 * then what the relay's contract needs, last so nothing overrides it:
 * enable.idempotence=true, acks=all (conf.c refuses a config that tries to
 * change them). A reload that changes kafka.brokers, kafka.topic,
 * relay_batch or kafka.producer replaces each group's producer between two
 * rounds (kafka_sig). relay_check_conf()
 * builds (and destroys) a producer from a config, so that a bad property is
 * an error at start and a failed reload, not a relay that never connects.
 *
 * Also here: the backlog gauge (skipstore_outbox_pending, per group, every
 * second) and the mirror-lag reader: skipstore-mirror writes its lag into
 * Redis key skip:mirror:lag ("<p99_ms> <p50_ms> <max_ms> <at_epoch_ms>")
 * every second; a small thread reads it every second into
 * met_set_mirror_lag_ms: the reported p99 while fresh, else the report's age
 * (a stuck or dead mirror's lag grows with time); -1 when there is no report
 * (no mirror ever ran, or Redis is unreachable).
 */
#include "relay/relay.h"
#include "kafka/kafka.h"
#include "auth/evsig.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dal/dal.h"
#include "kv/kv.h"
#include "metrics/metrics.h"
#include "kafka/kprops.h"
#include "relay/rdk_dl.h"

/* librdkafka through the run-time loaded table (see relay/rdk_dl.h). */
static const rdk_api *RK;
#define rd_kafka_conf_new (RK->conf_new)
#define rd_kafka_conf_set (RK->conf_set)
#define rd_kafka_conf_get (RK->conf_get)
#define rd_kafka_conf_set_opaque (RK->conf_set_opaque)
#define rd_kafka_conf_set_log_cb (RK->conf_set_log_cb)
#define rd_kafka_conf_set_dr_msg_cb (RK->conf_set_dr_msg_cb)
#define rd_kafka_conf_destroy (RK->conf_destroy)
#define rd_kafka_new (RK->kafka_new)
#define rd_kafka_destroy (RK->destroy)
#define rd_kafka_poll (RK->poll)
#define rd_kafka_flush (RK->flush)
#define rd_kafka_purge (RK->purge)
#define rd_kafka_fatal_error (RK->fatal_error)
#define rd_kafka_err2str (RK->err2str)
#define rd_kafka_produceva (RK->produceva)
#define rd_kafka_error_code (RK->error_code)
#define rd_kafka_error_destroy (RK->error_destroy)

/* librdkafka's log lines into sk_log (like mk_log_cb, through the table) */
static void relay_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *name = rk ? RK->name(rk) : "-";
    if (level <= 3)
        sk_error("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else if (level == 4)
        sk_warn("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else if (level <= 6)
        sk_info("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else
        sk_debug("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
}

#define MSG_TIMEOUT_MS 5000      /* default message.timeout.ms: a message not acknowledged by then fails the round */
#define DR_MARGIN_MS 2000        /* extra wait for the delivery reports themselves */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PENDING_EVERY_MS 1000
#define RELAY_LOCK "skipstore.outbox_relay"
#define OWNER_POLL_MS 1000       /* a standby relay tries to become owner this often */
#define YIELD_AFTER_FAILS 3      /* an owner failing this many rounds in a row lets go */
#define LAG_FRESH_MS 2500         /* older mirror report: lag = its age */

typedef struct rgroup {
    struct relay *r;
    int id;
    pthread_t th;
    atomic_bool running;         /* thread alive (cleared by the thread on exit) */
    /* delivery reports of the current batch (owned by the thread) */
    uint32_t gen;                /* batch generation: reports of older batches are ignored */
    int ndone, nok;
    unsigned char *ok;           /* per message: 1 delivered */
    char last_err[160];
    int msg_timeout_ms;          /* the producer's message.timeout.ms (bounds a round's wait) */
    int64_t next_pending;        /* when the backlog gauge is due again (monotonic ms) */
} rgroup;

struct relay {
    rtref *rt;
    grt *g;
    atomic_bool stop;
    pthread_mutex_t mu;          /* guards grp[] creation (start/sync) */
    rgroup *grp[CONF_MAX_GROUPS + 1];
    pthread_t lag_th;
    bool lag_started;
};

/* Sleep up to ms, waking early on stop. */
static void nap(struct relay *r, int ms)
{
    while (ms > 0 && !atomic_load(&r->stop)) {
        int s = ms < 50 ? ms : 50;
        sk_sleep_ms(s);
        ms -= s;
    }
}

/* ---------- Kafka ---------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    rgroup *rg = opaque;
    uintptr_t tag = (uintptr_t)m->_private;
    uint32_t gen = (uint32_t)(tag >> 20);
    size_t idx = tag & 0xFFFFF;
    if (gen != (rg->gen & 0xFFF))
        return; /* a report from an abandoned batch */
    rg->ndone++;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rg->ok[idx] = 1;
        rg->nok++;
    } else {
        snprintf(rg->last_err, sizeof rg->last_err, "%s", rd_kafka_err2str(m->err));
    }
}

/*
 * The producer configuration for config c: own defaults, c->kafka_producer,
 * then the contract (see the file comment). NULL with the reason in err.
 * *msg_timeout_ms gets the effective message.timeout.ms.
 */
static rd_kafka_conf_t *producer_conf(const conf *c, const char *client_id, int *msg_timeout_ms, char *err,
                                      size_t cap)
{
    char tbuf[16], qbuf[16];
    snprintf(tbuf, sizeof tbuf, "%d", MSG_TIMEOUT_MS);
    int qmax = c->relay_batch * 2 > 1000 ? c->relay_batch * 2 : 1000;
    snprintf(qbuf, sizeof qbuf, "%d", qmax);
    const kp_prop own[] = {
        {"bootstrap.servers", c->kafka_brokers},
        {"client.id", client_id},
        {"message.timeout.ms", tbuf},
        {"request.timeout.ms", tbuf},
        {"linger.ms", "2"},
        {"batch.num.messages", "1000"},
        {"queue.buffering.max.messages", qbuf},
        {"partitioner", "murmur2_random"},
        {"socket.keepalive.enable", "true"},
        {"reconnect.backoff.max.ms", "1000"},
        {"log_level", "4"},
    };
    static const kp_prop contract[] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
    };
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (kp_apply_list(kc, rd_kafka_conf_set, own, sizeof own / sizeof own[0], err, cap) < 0 ||
        kp_apply_map(kc, rd_kafka_conf_set, &c->kafka_producer, c->path, "producer", err, cap) < 0 ||
        kp_apply_list(kc, rd_kafka_conf_set, contract, sizeof contract / sizeof contract[0], err, cap) < 0) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    char v[32];
    size_t vn = sizeof v;
    int mt = MSG_TIMEOUT_MS;
    if (rd_kafka_conf_get(kc, "message.timeout.ms", v, &vn) == RD_KAFKA_CONF_OK)
        mt = atoi(v);
    if (msg_timeout_ms != NULL)
        *msg_timeout_ms = mt > 0 ? mt : MSG_TIMEOUT_MS;
    return kc;
}

static rd_kafka_t *producer_new(rgroup *rg, const conf *c)
{
    char err[768];
    char cid[48];
    snprintf(cid, sizeof cid, "skipstored-relay-g%d", rg->id);
    rd_kafka_conf_t *kc = producer_conf(c, cid, &rg->msg_timeout_ms, err, sizeof err);
    if (kc == NULL) {
        sk_error("event=relay_kafka_conf group=%d err=\"%s\"", rg->id, err);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_log_cb(kc, relay_log_cb);
    rd_kafka_conf_set_opaque(kc, rg);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    if (rk == NULL) {
        sk_error("event=relay_kafka_new group=%d err=\"%s\"", rg->id, err);
        return NULL;
    }
    return rk;
}

int relay_check_conf(const conf *c, char *err, size_t cap)
{
    const rdk_api *api = rdk_load();
    if (api == NULL || c->kafka_brokers == NULL || c->kafka_brokers[0] == '\0')
        return 0; /* no relay (relay_start logs why) */
    if (RK == NULL)
        RK = api; /* first call, at start (before any relay thread reads it); later calls read it only */
    rd_kafka_conf_t *kc = producer_conf(c, "skipstored-relay-check", NULL, err, cap);
    if (kc == NULL)
        return -1;
    /* rd_kafka_new checks what conf_set cannot (combinations, TLS files, SASL
     * mechanisms); the handle is destroyed before it produces anything */
    char why[512];
    rd_kafka_conf_set_log_cb(kc, relay_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof why);
    if (rk == NULL) {
        snprintf(err, cap, "%s: kafka.producer: %s", c->path, why);
        return -1;
    }
    rd_kafka_destroy(rk);
    return 0;
}

static void producer_free(rd_kafka_t *rk)
{
    if (rk == NULL)
        return;
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 500);
    rd_kafka_destroy(rk);
}

/* What the producer was built from: a reload that changes any of it makes
 * the thread build a new producer. */
static void kafka_sig(const conf *c, char *out, size_t cap)
{
    /* kafka.producer enters as a 64-bit FNV-1a hash of its entries (they can be
     * up to 64 x 4 KiB): any change of a name or value makes a new producer */
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < c->kafka_producer.n; i++) {
        const char *parts[] = {c->kafka_producer.kv[i].key, "=", c->kafka_producer.kv[i].val, "\n"};
        for (size_t k = 0; k < 4; k++)
            for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
    }
    snprintf(out, cap, "%s|%s|%d|%016" PRIx64, c->kafka_brokers ? c->kafka_brokers : "",
             c->kafka_topic ? c->kafka_topic : "", c->relay_batch, h);
}

/* What the DB session was opened with (address, account, timeouts). */
static void db_sig(const conf *c, const conf_group *cg, char *out, size_t cap)
{
    snprintf(out, cap, "%s|%s|%s|%s|%d|%d|%d", cg->primary, c->db_user, c->db_password, c->db_name,
             c->db_connect_timeout_ms, c->db_read_timeout_ms, c->db_write_timeout_ms);
}

/* ---------- DB ---------- */

static MYSQL *db_open(const conf *c, const conf_group *cg, char *err, size_t cap)
{
    dal_pool_opts o = {
        .addr = cg->primary, .user = c->db_user, .password = c->db_password, .db = c->db_name,
        .connect_timeout_ms = c->db_connect_timeout_ms, .read_timeout_ms = c->db_read_timeout_ms,
        .write_timeout_ms = c->db_write_timeout_ms, .size = 1, .max_inflight = 1, .multi_statements = true,
    };
    dal_tls_set(&o.tls, &c->db_tls);
    MYSQL *my = dal_connect(&o, err, cap);
    if (my == NULL)
        return NULL;
    /* wait_timeout: a relay that stops talking (its daemon SIGSTOPped or
     * hung) loses its session, and with it the group's ownership, after
     * 15 s; a live relay talks at least every few seconds */
    static const char s[] = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;SET SESSION wait_timeout=15";
    if (dal_exec(my, s, sizeof s - 1) != SK_OK) {
        snprintf(err, cap, "%u %s", mysql_errno(my), mysql_error(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

static void rollback(MYSQL *my)
{
    if (dal_exec(my, "ROLLBACK", 8) != SK_OK)
        sk_debug("event=relay_rollback_failed");
}

static sk_status outbox_count(MYSQL *my, int64_t *n)
{
    if (mysql_real_query(my, "SELECT COUNT(*) FROM outbox", 27) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return SK_EDB;
    MYSQL_ROW row = mysql_fetch_row(res);
    *n = row && row[0] ? strtoll(row[0], NULL, 10) : 0;
    mysql_free_result(res);
    return SK_OK;
}

/* The backlog gauge, when due (every PENDING_EVERY_MS). Called between
 * rounds and while a round waits for Kafka's reports (on the round's own
 * connection, inside its READ COMMITTED transaction: a plain COUNT is a
 * non-locking read), so the gauge stays fresh while Kafka stalls. Returns
 * the count's status (SK_OK when not due). */
static sk_status refresh_pending(rgroup *rg, MYSQL *my)
{
    int64_t now = sk_mono_ms();
    if (now < rg->next_pending)
        return SK_OK;
    rg->next_pending = now + PENDING_EVERY_MS;
    int64_t pending = 0;
    sk_status st = outbox_count(my, &pending);
    if (st == SK_OK)
        grt_set_outbox_pending(rg->r->g, rg->id, pending);
    return st;
}

/*
 * Group ownership: the relay of a group is whoever holds the MariaDB user
 * lock RELAY_LOCK on that group's primary (GET_LOCK is per server, so one
 * name gives one owner per group). It is tied to the relay's session: a
 * daemon that dies or loses its connection releases it at once, and another
 * daemon's relay (polling every OWNER_POLL_MS) takes over. One owner means
 * no two relays ever publish the same row, and no relay's DELETE waits on
 * rows another relay holds (a scan-planned DELETE could otherwise deadlock
 * with it and roll back an already published batch). SKIP LOCKED in the
 * claim stays as a second guard.
 * Returns 1 owned, 0 held by another session, -1 on a connection error.
 */
static int relay_own(MYSQL *my)
{
    static const char q[] = "SELECT GET_LOCK('" RELAY_LOCK "', 0)";
    if (mysql_real_query(my, q, sizeof q - 1) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(res);
    int got = row && row[0] && strcmp(row[0], "1") == 0;
    mysql_free_result(res);
    return got;
}

static void relay_disown(MYSQL *my)
{
    static const char q[] = "DO RELEASE_LOCK('" RELAY_LOCK "')";
    if (dal_exec(my, q, sizeof q - 1) != SK_OK)
        sk_debug("event=relay_release_failed");
}

/*
 * One round. Returns the number of rows published and deleted (>= 0), or -1
 * on failure (the transaction is rolled back; *broken says the connection
 * must be closed).
 */
static int relay_round(rgroup *rg, rd_kafka_t *rk, MYSQL *my, const conf *c, bool *broken)
{
    *broken = false;
    char sql[160];
    int n = snprintf(sql, sizeof sql,
                     "START TRANSACTION;SELECT id, order_no, merchant_id, version, payload FROM outbox "
                     "ORDER BY id LIMIT %d FOR UPDATE SKIP LOCKED", c->relay_batch);
    if (mysql_real_query(my, sql, (unsigned long)n) != 0) {
        *broken = dal_classify(my) != SK_EDB;
        snprintf(rg->last_err, sizeof rg->last_err, "claim: %u %s", mysql_errno(my), mysql_error(my));
        return -1;
    }
    /* first result: START TRANSACTION (no result set) */
    if (mysql_next_result(my) != 0) {
        *broken = dal_classify(my) != SK_EDB;
        snprintf(rg->last_err, sizeof rg->last_err, "claim: %u %s", mysql_errno(my), mysql_error(my));
        if (!*broken)
            rollback(my);
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL) {
        *broken = dal_classify(my) != SK_EDB;
        snprintf(rg->last_err, sizeof rg->last_err, "claim: %u %s", mysql_errno(my), mysql_error(my));
        if (!*broken)
            rollback(my);
        return -1;
    }
    int rows = (int)mysql_num_rows(res);
    if (rows == 0) {
        mysql_free_result(res);
        if (dal_exec(my, "COMMIT", 6) != SK_OK) {
            *broken = true;
            return -1;
        }
        return 0;
    }
    uint64_t *ids = calloc((size_t)rows, sizeof *ids);
    unsigned char *ok = calloc((size_t)rows, 1);
    if (ids == NULL || ok == NULL) {
        free(ids);
        free(ok);
        mysql_free_result(res);
        rollback(my);
        return -1;
    }
    rg->gen++;
    rg->ok = ok;
    rg->ndone = 0;
    rg->nok = 0;
    int produced = 0;
    char gbuf[4];
    int glen = snprintf(gbuf, sizeof gbuf, "%d", rg->id);
    bool sign = c->kafka_event_key != NULL && c->kafka_event_key[0] != '\0';
    size_t keylen = sign ? strlen(c->kafka_event_key) : 0;
    int64_t deadline = sk_mono_ms() + rg->msg_timeout_ms + DR_MARGIN_MS;
    MYSQL_ROW row;
    for (int i = 0; (row = mysql_fetch_row(res)) != NULL && i < rows; i++) {
        unsigned long *lens = mysql_fetch_lengths(res);
        ids[i] = strtoull(row[0], NULL, 10);
        uintptr_t tag = ((uintptr_t)(rg->gen & 0xFFF) << 20) | (uintptr_t)i;
        /* the event's HMAC over the exact value bytes (auth/evsig.h); no key
         * only with auth.mode off (conf_event_key_check) */
        char mac[EVSIG_B64_LEN + 1];
        if (sign)
            evsig_sign((const unsigned char *)c->kafka_event_key, keylen, row[4], lens[4], mac);
        rd_kafka_vu_t vu[] = {
            {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = c->kafka_topic},
            {.vtype = RD_KAFKA_VTYPE_KEY, .u.mem = {row[2], lens[2]}},
            {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {row[4], lens[4]}},
            {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
            {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = (void *)tag},
            {.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {"type", "order", 5}},
            {.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {"group", gbuf, glen}},
            /* the signature last, and only when there is a key */
            {.vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {EVSIG_HEADER, mac, EVSIG_B64_LEN}},
        };
        size_t nvu = sizeof vu / sizeof vu[0] - (sign ? 0 : 1);
        for (;;) {
            rd_kafka_error_t *err = rd_kafka_produceva(rk, vu, nvu);
            rd_kafka_resp_err_t e = err ? rd_kafka_error_code(err) : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (err)
                rd_kafka_error_destroy(err);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                produced++;
                break;
            }
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && sk_mono_ms() < deadline) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            snprintf(rg->last_err, sizeof rg->last_err, "produce: %s", rd_kafka_err2str(e));
            break;
        }
        if (produced != i + 1)
            break;
    }
    mysql_free_result(res);
    /* wait for every report of what was produced (bounded) */
    bool graced = false;
    while (rg->ndone < produced && sk_mono_ms() < deadline) {
        rd_kafka_poll(rk, 5);
        (void)refresh_pending(rg, my); /* a broken connection fails the DELETE below */
        if (!graced && atomic_load(&rg->r->stop)) {
            graced = true; /* stopping: wait at most one more second */
            if (sk_mono_ms() + 1000 < deadline)
                deadline = sk_mono_ms() + 1000;
        }
    }
    int nok = rg->nok;
    rg->gen++; /* late reports of this batch are ignored from here on */
    rg->ok = NULL;
    if (nok == 0) {
        free(ids);
        free(ok);
        rollback(my);
        return -1;
    }
    /* delete exactly the delivered ids (we are the group's only relay, see
     * relay_own: nobody else holds locks on outbox rows for long) */
    size_t cap = 96 + (size_t)nok * 22;
    char *del = malloc(cap);
    if (del == NULL) {
        free(ids);
        free(ok);
        rollback(my);
        return -1;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < rows; i++)
        if (ok[i]) {
            lo = ids[i] < lo ? ids[i] : lo;
            hi = ids[i] > hi ? ids[i] : hi;
        }
    size_t len = (size_t)snprintf(del, cap, "DELETE FROM outbox WHERE id BETWEEN %" PRIu64 " AND %" PRIu64 " AND id IN (",
                                  lo, hi);
    bool first = true;
    for (int i = 0; i < rows; i++) {
        if (!ok[i])
            continue;
        len += (size_t)snprintf(del + len, cap - len, "%s%" PRIu64, first ? "" : ",", ids[i]);
        first = false;
    }
    len += (size_t)snprintf(del + len, cap - len, ");COMMIT");
    free(ids);
    free(ok);
    sk_status st = dal_exec(my, del, len);
    free(del);
    if (st != SK_OK) {
        snprintf(rg->last_err, sizeof rg->last_err, "delete: %u %s", mysql_errno(my), mysql_error(my));
        *broken = st != SK_EDB;
        if (!*broken)
            rollback(my);
        return -1;
    }
    return nok < rows ? -nok - 2 : nok; /* partial: caller backs off after committing */
}

static void *group_main(void *arg)
{
    rgroup *rg = arg;
    struct relay *r = rg->r;
    sk_thread_name("sk-relay-g%d", rg->id);
    rd_kafka_t *rk = NULL;
    MYSQL *my = NULL;
    char addr[600] = "", ksig[600] = "";
    int backoff = BACKOFF_MIN_MS;
    bool failing = false, owner = false;
    int fails = 0;
    int64_t standby_until = 0;
    sk_info("event=relay_started group=%d", rg->id);
    while (!atomic_load(&r->stop)) {
        rt *h = rt_get(r->rt);
        const conf *c = h->c;
        const conf_group *cg = conf_group_by_id(c, rg->id);
        if (cg == NULL || cg->primary == NULL || cg->state == GROUP_RETIRED) {
            rt_put(h);
            break; /* removed or retired: its outbox is drained by the migration */
        }
        char want[600];
        db_sig(c, cg, want, sizeof want);
        if (my != NULL && strcmp(addr, want) != 0) {
            mysql_close(my); /* primary moved or new credentials (reload) */
            my = NULL;
        }
        kafka_sig(c, want, sizeof want);
        if (rk != NULL && strcmp(ksig, want) != 0) {
            sk_info("event=relay_kafka_settings_changed group=%d action=new_producer", rg->id);
            producer_free(rk); /* unacknowledged rows stay in the outbox */
            rk = NULL;
        }
        if (rk == NULL) {
            rk = producer_new(rg, c);
            sk_strlcpy(ksig, want, sizeof ksig);
        }
        if (my == NULL) {
            char err[256];
            my = db_open(c, cg, err, sizeof err);
            if (my == NULL) {
                if (!failing)
                    sk_warn("event=relay_db_unavailable group=%d addr=%s err=\"%s\"", rg->id, cg->primary, err);
                failing = true;
                rt_put(h);
                nap(r, backoff);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            db_sig(c, cg, addr, sizeof addr);
            owner = false;
        }
        if (rk == NULL) {
            rt_put(h);
            nap(r, BACKOFF_MAX_MS);
            continue;
        }
        int64_t now = sk_mono_ms();
        sk_status pst = refresh_pending(rg, my);
        if (pst != SK_OK && pst != SK_EDB) {
            mysql_close(my);
            my = NULL;
            rt_put(h);
            continue;
        }
        if (!owner) {
            int o = now >= standby_until ? relay_own(my) : 0;
            if (o < 0) {
                mysql_close(my);
                my = NULL;
                rt_put(h);
                continue;
            }
            if (o == 0) {
                rt_put(h);
                nap(r, OWNER_POLL_MS);
                continue;
            }
            owner = true;
            fails = 0;
            sk_info("event=relay_owner group=%d", rg->id);
        }
        int batch = c->relay_batch, interval = c->relay_interval_ms;
        bool broken = false;
        int n = relay_round(rg, rk, my, c, &broken);
        rt_put(h);
        if (broken) {
            mysql_close(my); /* the server releases our lock with the session */
            my = NULL;
            owner = false;
        }
        if (rk != NULL && rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char fe[256];
            rd_kafka_fatal_error(rk, fe, sizeof fe);
            sk_error("event=relay_producer_fatal group=%d err=\"%s\" action=recreate", rg->id, fe);
            producer_free(rk);
            rk = NULL;
        }
        if (n >= 0) {
            if (failing)
                sk_info("event=relay_recovered group=%d", rg->id);
            failing = false;
            fails = 0;
            backoff = BACKOFF_MIN_MS;
            if (n < batch)
                nap(r, interval); /* caught up; a full batch goes round at once */
            continue;
        }
        if (!failing)
            sk_warn("event=relay_round_failed group=%d published=%d err=\"%s\" action=retry_with_backoff",
                    rg->id, n < -1 ? -n - 2 : 0, rg->last_err);
        failing = true;
        if (++fails >= YIELD_AFTER_FAILS && owner && my != NULL) {
            /* maybe it is only this daemon that cannot reach Kafka: let
             * another daemon's relay try (it polls every OWNER_POLL_MS) */
            relay_disown(my);
            owner = false;
            fails = 0;
            standby_until = sk_mono_ms() + 3 * OWNER_POLL_MS;
            sk_info("event=relay_yield group=%d reason=consecutive_failures", rg->id);
        }
        /* back off in gauge-sized steps: the backlog stays fresh while Kafka is down */
        for (int left = backoff; left > 0 && !atomic_load(&r->stop); left -= PENDING_EVERY_MS) {
            nap(r, left < PENDING_EVERY_MS ? left : PENDING_EVERY_MS);
            sk_status ps = my != NULL ? refresh_pending(rg, my) : SK_OK;
            if (ps != SK_OK && ps != SK_EDB)
                break; /* the next round finds the connection broken and reconnects */
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    if (my != NULL)
        mysql_close(my);
    producer_free(rk);
    sk_info("event=relay_stopped group=%d", rg->id);
    atomic_store(&rg->running, false);
    return NULL;
}

/* ---------- mirror lag (from Redis) ---------- */

static void *lag_main(void *arg)
{
    struct relay *r = arg;
    sk_thread_name("sk-mirror-lag");
    while (!atomic_load(&r->stop)) {
        rt *h = rt_get(r->rt);
        int64_t lag = -1;
        redisReply *rep = kv_cmd(h->kv, "GET skip:mirror:lag");
        rt_put(h);
        if (rep != NULL) {
            long long l = 0, p50 = 0, mx = 0, at = 0, dead = -1, lost = -1;
            int nf = rep->type == REDIS_REPLY_STRING
                         ? sscanf(rep->str, "%lld %lld %lld %lld %lld %lld", &l, &p50, &mx, &at, &dead, &lost)
                         : 0;
            if (nf == 6)
                met_set_mirror_dead(dead, lost);
            if (nf >= 4) {
                int64_t age = sk_now_ms() - at;
                /* a live mirror reports every second; a silent one is stuck
                 * (DB or Kafka call hanging) or dead: its lag grows with time */
                lag = age <= LAG_FRESH_MS ? l : (age > l ? age : l);
            }
            freeReplyObject(rep);
        }
        met_set_mirror_lag_ms(lag);
        nap(r, 1000);
    }
    return NULL;
}

/* ---------- lifecycle ---------- */

static void start_missing(struct relay *r)
{
    if (RK == NULL)
        return; /* librdkafka could not be loaded: relay disabled (logged) */
    rt *h = rt_get(r->rt);
    const conf *c = h->c;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        if (cg->primary == NULL || cg->state == GROUP_RETIRED)
            continue;
        rgroup *rg = r->grp[cg->id];
        if (rg != NULL && atomic_load(&rg->running))
            continue;
        if (rg != NULL) { /* exited earlier (e.g. was retired, then re-added) */
            pthread_join(rg->th, NULL);
            free(rg);
            r->grp[cg->id] = NULL;
        }
        rg = calloc(1, sizeof *rg);
        if (rg == NULL)
            continue;
        rg->r = r;
        rg->id = cg->id;
        atomic_store(&rg->running, true);
        if (pthread_create(&rg->th, NULL, group_main, rg) != 0) {
            sk_error("event=relay_thread_failed group=%d", cg->id);
            free(rg);
            continue;
        }
        r->grp[cg->id] = rg;
    }
    pthread_mutex_unlock(&r->mu);
    rt_put(h);
}

relay *relay_start(rtref *rtr, grt *g)
{
    struct relay *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->rt = rtr;
    r->g = g;
    pthread_mutex_init(&r->mu, NULL);
    rt *h = rt_get(rtr);
    const conf *c = h->c;
    if (RK == NULL)
        RK = rdk_load();
    if (RK == NULL || c->kafka_brokers == NULL || c->kafka_brokers[0] == '\0' || c->kafka_topic == NULL) {
        sk_warn("event=relay_disabled reason=%s", RK == NULL ? "librdkafka_not_loaded" : "no_kafka_config");
        rt_put(h);
        return r;
    }
    rt_put(h);
    if (pthread_create(&r->lag_th, NULL, lag_main, r) == 0)
        r->lag_started = true;
    start_missing(r);
    return r;
}

void relay_sync(relay *r)
{
    if (r == NULL || atomic_load(&r->stop))
        return;
    start_missing(r);
}

void relay_stop(relay *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, true);
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i <= CONF_MAX_GROUPS; i++) {
        if (r->grp[i] == NULL)
            continue;
        pthread_join(r->grp[i]->th, NULL);
        free(r->grp[i]);
        r->grp[i] = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (r->lag_started)
        pthread_join(r->lag_th, NULL);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
