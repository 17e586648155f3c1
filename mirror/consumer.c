/*
 * mirror/consumer.c — skipstore-mirror: applies order-change events from
 * Kafka to the merchant store (spec §7).
 *
 * Parallel apply: the main thread only polls the consumer and hands each
 * message to the worker of its partition (mev_slot: partition mod
 * MIR_WORKERS_MAX), through a bounded FIFO queue (MIR_QUEUE messages). Each
 * worker has its own merchant-store connection and applies what its queue
 * holds (up to MIR_BATCH) in ONE transaction: one multi-row version-guarded
 * upsert (an older or repeated version never overwrites a newer row) plus a
 * dead_letters row per bad event. One partition -> one worker -> FIFO, so a
 * partition's events are applied in offset order.
 *
 * Trust (spec §10, auth/evsig.h): an event whose skip-hmac header is missing
 * or does not verify with the current or previous event key is a dead letter
 * before anything in it is read (decode_batch, apply.c); an event that would
 * move a stored order to another merchant or group is a dead letter whatever
 * its version (owner_check in poison.c, and the upsert's guard in apply.c).
 *
 * Poison pills (docs/mirror.md "Bad events"): an event that does not decode
 * is a dead letter (raw bytes as BLOBs, so the row can always be written);
 * an event the store refuses for its values (mev_row_error) is isolated by
 * bisecting the batch (mev_isolate), each part its own transaction, and
 * dead-lettered; if even its dead letter is refused, a minimal one, then the
 * log (event=mirror_dead_letter_lost). A batch larger than a round trip
 * (max_allowed_packet) goes out in several round trips of one transaction.
 *
 * Exactly-once effect from at-least-once delivery:
 *   - only after its COMMIT does the worker commit the offsets of its batch
 *     (max offset + 1 per partition: rd_kafka_commit with that partition
 *     list; enable.auto.commit=false) — asynchronously in steady state,
 *     synchronously when draining for a revoke or shutdown. A worker's
 *     batches are sequential, so a partition's committed offset only moves
 *     forward and everything below it is durable in the merchant store;
 *   - a crash between the two re-delivers the batch; the guard makes the
 *     repeat a no-op. Nothing is ever acknowledged before it is durable.
 * Flow control / merchant store down: when a worker's queue reaches
 * MIR_QUEUE_HIGH, or while its apply fails, the main thread pauses that
 * worker's partitions (mev_want_pause; resumed at <= MIR_QUEUE_LOW and
 * healthy). librdkafka's pause is a version barrier: no message of a paused
 * partition is returned by poll after it, so the queue bound holds. A failed
 * batch is kept and retried with bounded exponential backoff.
 * Rebalance (revoke; eager protocol, all partitions): the rebalance callback
 * asks every worker to drain — apply and commit everything it holds, one
 * attempt per batch — and waits for all of them before unassigning; what
 * cannot be applied (store down) is dropped: its offsets were never
 * committed, so the next owner reads it again. Shutdown does the same.
 *
 * Lag: per event, commit->apply lag = (apply commit time) - updated_at of the
 * event (= its commit time in the group). Every second the mirror writes
 * "<p99_ms> <p50_ms> <max_ms> <at_epoch_ms>" of the last second into Redis
 * key skip:mirror:lag (no expiry: readers judge freshness by at_epoch_ms;
 * while a batch is held unapplied the value is the age of its oldest event,
 * so an outage shows as growing lag); every 10 s it logs event=mirror_stats.
 *
 * Files: consumer.c (this one: the poll loop, workers, offsets, flow
 * control, rebalance, lag reporting), apply.c (SQL of a batch: the upsert,
 * the merchant-store connection, the transaction writer), poison.c (one
 * batch applied with poison pills isolated and dead-lettered).
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

/* ---------- Kafka offsets (worker thread, after the DB commit) ---------- */

/*
 * sync=false (steady state): rd_kafka_commit async — requests go out in order
 * on the coordinator connection, the result comes to offset_commit_cb; a lost
 * one only means a re-delivery (absorbed by the guard). sync=true (drain on
 * revoke/shutdown): waits, so the group's committed offsets are final before
 * the partitions are let go.
 */
static bool commit_offsets(mworker *w, bool sync)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int i = 0; i < w->nb; i++) {
        const rd_kafka_message_t *m = w->batch[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (p == NULL)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(w->x->rk, l, sync ? 0 : 1);
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(w->last, l->elems[i].topic, l->elems[i].partition);
        if (p == NULL)
            p = rd_kafka_topic_partition_list_add(w->last, l->elems[i].topic, l->elems[i].partition);
        p->offset = l->elems[i].offset;
    }
    pthread_mutex_unlock(&w->mu);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* the DB has the changes; a re-delivery is absorbed by the guard */
        sk_warn("event=mirror_offset_commit_failed worker=%d err=\"%s\" effect=redelivery_is_harmless", w->idx,
                rd_kafka_err2str(e));
        return false;
    }
    return true;
}

static void batch_free(mworker *w, bool locked)
{
    int64_t bytes = 0;
    for (int i = 0; i < w->nb; i++) {
        bytes += (int64_t)(w->batch[i]->len + w->batch[i]->key_len);
        rd_kafka_message_destroy(w->batch[i]);
    }
    w->nb = 0;
    if (!locked)
        pthread_mutex_lock(&w->mu);
    w->qbytes -= bytes;
    if (!locked)
        pthread_mutex_unlock(&w->mu);
}

/* lag sample per event: updated_at re-read cheaply from the payload */
static void lag_samples(mworker *w, int64_t now)
{
    mctx *x = w->x;
    for (int i = 0; i < w->nb; i++) {
        const rd_kafka_message_t *m = w->batch[i];
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
                mlag_add(&x->lag_sec, now - ts);
                mlag_add(&x->lag_10s, now - ts);
            }
        }
    }
}

/* Apply + commit the worker's batch. true when done (batch released). */
static bool flush(mworker *w, bool draining)
{
    mctx *x = w->x;
    if (w->nb == 0)
        return true;
    int64_t t0 = sk_mono_us(), ok = 0, dead = 0, lost = 0, iso = 0;
    sk_status st = apply_batch(w, &ok, &dead, &lost, &iso);
    int64_t t1 = sk_mono_us();
    if (st != SK_OK) {
        pthread_mutex_lock(&x->smu);
        int64_t nf = ++x->db_failures;
        x->apply_us += t1 - t0;
        pthread_mutex_unlock(&x->smu);
        if (nf == 1 || w->backoff >= BACKOFF_MAX_MS / 2)
            sk_warn("event=mirror_apply_failed worker=%d status=%s err=\"%s\" held=%d action=pause_and_retry "
                    "backoff_ms=%d", w->idx, sk_status_name(st), w->sqlerr, w->nb, w->backoff);
        return false;
    }
    bool committed = commit_offsets(w, draining);
    int64_t t2 = sk_mono_us();
    pthread_mutex_lock(&x->smu);
    lag_samples(w, sk_now_ms());
    x->applied += ok;
    x->dead += dead;
    x->dead_lost += lost;
    x->isolations += iso;
    x->batches++;
    x->apply_us += t1 - t0;
    x->commit_us += t2 - t1;
    if (!committed)
        x->commit_failures++;
    pthread_mutex_unlock(&x->smu);
    batch_free(w, false);
    w->backoff = BACKOFF_MIN_MS;
    return true;
}

static void worker_drop_queue_locked(mworker *w)
{
    while (w->qn > 0) {
        w->qbytes -= (int64_t)(w->q[w->qhead]->len + w->q[w->qhead]->key_len);
        rd_kafka_message_destroy(w->q[w->qhead]);
        w->qhead = (w->qhead + 1) % MIR_QUEUE;
        w->qn--;
    }
}

static void *worker_main(void *arg)
{
    mworker *w = arg;
    mysql_thread_init();
    w->backoff = BACKOFF_MIN_MS;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->qn == 0 && w->nb == 0) {
            if (w->drain_req) {
                w->drain_req = false;
                pthread_cond_broadcast(&w->done_cv);
                continue;
            }
            if (w->quit)
                break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        /* top the batch up from the queue (FIFO: offset order per partition) */
        int took = 0;
        while (w->nb < MIR_BATCH && w->qn > 0) {
            w->batch[w->nb++] = w->q[w->qhead];
            w->qhead = (w->qhead + 1) % MIR_QUEUE;
            w->qn--;
            took++;
        }
        w->held = w->nb;
        if (took > 0)
            pthread_cond_broadcast(&w->done_cv); /* queue space */
        bool draining = w->drain_req || w->quit;
        pthread_mutex_unlock(&w->mu);

        bool ok = flush(w, draining);

        pthread_mutex_lock(&w->mu);
        w->held = w->nb;
        if (ok) {
            w->db_failing = false;
            continue;
        }
        if (draining || w->drain_req || w->quit) {
            /* revoke/shutdown with the store failing: drop everything held;
             * none of it was committed, the next owner re-reads it */
            sk_warn("event=mirror_revoke_drop worker=%d held=%d queued=%d reason=apply_failed "
                    "effect=next_owner_rereads", w->idx, w->nb, w->qn);
            batch_free(w, true);
            worker_drop_queue_locked(w);
            w->held = 0;
            w->db_failing = false;
            w->backoff = BACKOFF_MIN_MS;
            continue;
        }
        w->db_failing = true;
        int64_t oldest = INT64_MAX;
        for (int i = 0; i < w->nb; i++) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(w->batch[i], &tt);
            if (ts > 0 && ts < oldest)
                oldest = ts;
        }
        w->held_oldest_ms = oldest == INT64_MAX ? 0 : oldest;
        /* back off; a drain request or quit wakes us early */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)w->backoff * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        w->backoff = w->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff * 2;
        while (!w->drain_req && !w->quit) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
                break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    db_drop(w);
    mysql_thread_end();
    return NULL;
}

static mworker *worker_get(mctx *x, int32_t partition)
{
    mworker *w = &x->w[mev_slot(partition, MIR_WORKERS_MAX)];
    if (!w->started) {
        if (pthread_create(&w->th, NULL, worker_main, w) != 0)
            return NULL;
        w->started = true;
        sk_info("event=mirror_worker_started worker=%d", w->idx);
    }
    return w;
}

/* Rebalance/shutdown: every worker applies and commits all it holds (one
 * attempt per batch; dropped if the store fails), then we return. */
static void drain_all(mctx *x)
{
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        if (w->qn > 0 || w->nb > 0) {
            w->drain_req = true;
            pthread_cond_signal(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
    }
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        while (w->drain_req)
            pthread_cond_wait(&w->done_cv, &w->mu);
        w->paused = false;
        pthread_mutex_unlock(&w->mu);
    }
    /* Barrier for the async commits: commit the last offsets again,
     * synchronously (same coordinator connection, so it completes after
     * them), before the partitions go to another member. */
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        for (int k = 0; k < w->last->cnt; k++)
            rd_kafka_topic_partition_list_add(all, w->last->elems[k].topic, w->last->elems[k].partition)->offset =
                w->last->elems[k].offset;
        rd_kafka_topic_partition_list_destroy(w->last);
        w->last = rd_kafka_topic_partition_list_new(4);
        pthread_mutex_unlock(&w->mu);
    }
    if (all->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(x->rk, all, 0);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            sk_warn("event=mirror_offset_commit_failed err=\"%s\" when=drain effect=redelivery_is_harmless",
                    rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(all);
}

/* poll thread: pause/resume a worker's partitions as its queue and health say */
static void flow_control(mctx *x)
{
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        bool want = mev_want_pause(w->paused, w->qn + w->held, MIR_QUEUE_HIGH, MIR_QUEUE_LOW, w->db_failing) ||
                    mev_want_pause(w->paused, (int)(w->qbytes >> 10), MIR_QBYTES_HIGH >> 10, MIR_QBYTES_LOW >> 10, false);
        bool failing = w->db_failing;
        pthread_mutex_unlock(&w->mu);
        if (want == w->paused)
            continue;
        rd_kafka_topic_partition_list_t *a = NULL, *mine = rd_kafka_topic_partition_list_new(4);
        if (rd_kafka_assignment(x->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a != NULL) {
            for (int k = 0; k < a->cnt; k++)
                if (mev_slot(a->elems[k].partition, MIR_WORKERS_MAX) == i)
                    rd_kafka_topic_partition_list_add(mine, a->elems[k].topic, a->elems[k].partition);
            rd_kafka_topic_partition_list_destroy(a);
        }
        if (mine->cnt > 0) {
            if (want)
                rd_kafka_pause_partitions(x->rk, mine);
            else
                rd_kafka_resume_partitions(x->rk, mine);
        }
        rd_kafka_topic_partition_list_destroy(mine);
        w->paused = want;
        sk_info("event=%s worker=%d", !want ? "mirror_resumed"
                                          : failing ? "mirror_paused reason=merchant_store_unavailable"
                                                    : "mirror_paused reason=queue_full", i);
    }
}

/* poll thread: hand a message to its partition's worker */
static void dispatch(mctx *x, rd_kafka_message_t *m, volatile sig_atomic_t *stop)
{
    mworker *w = worker_get(x, m->partition);
    if (w == NULL) {
        sk_error("event=mirror_worker_start_failed partition=%d", (int)m->partition);
        abort(); /* cannot apply in order without it; restart re-reads from the committed offset */
    }
    pthread_mutex_lock(&w->mu);
    /* full: cannot happen while the pause barrier works (we pause at
     * MIR_QUEUE_HIGH); wait for space rather than drop or grow */
    while (w->qn == MIR_QUEUE && !*stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&w->done_cv, &w->mu, &ts);
    }
    if (w->qn == MIR_QUEUE) {
        /* stopping: not applied, not committed, and nothing after it of its
         * partition will be either -> re-read after restart */
        pthread_mutex_unlock(&w->mu);
        rd_kafka_message_destroy(m);
        return;
    }
    w->q[(w->qhead + w->qn) % MIR_QUEUE] = m;
    w->qn++;
    w->qbytes += (int64_t)(m->len + m->key_len);
    if (w->qn == 1)
        pthread_cond_signal(&w->cv);
    bool over = !w->paused && (w->qn + w->held >= MIR_QUEUE_HIGH || w->qbytes >= MIR_QBYTES_HIGH);
    pthread_mutex_unlock(&w->mu);
    if (over)
        flow_control(x);
}

static mctx *g_ctx; /* for the rebalance callback (one consumer per process) */
static atomic_bool g_assigned; /* issue 14: first assignment seen (mirror/ready.c) */

bool mirror_assigned(void)
{
    return atomic_load(&g_assigned);
}

/* results of async offset commits (served by the poll thread) */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
    (void)rk;
    (void)offsets;
    (void)opaque;
    mctx *x = g_ctx;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET || x == NULL)
        return;
    pthread_mutex_lock(&x->smu);
    x->commit_failures++;
    pthread_mutex_unlock(&x->smu);
    sk_warn("event=mirror_offset_commit_failed err=\"%s\" effect=redelivery_is_harmless", rd_kafka_err2str(err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    mctx *x = g_ctx;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        sk_info("event=mirror_assigned partitions=%d", parts->cnt);
        atomic_store(&g_assigned, true); /* issue 14 */
        if (x != NULL)
            for (int i = 0; i < MIR_WORKERS_MAX; i++)
                x->w[i].paused = false; /* a fresh assignment starts unpaused */
        rd_kafka_assign(rk, parts);
        return;
    }
    /* revoke (or error): finish and commit what was read, then let go */
    if (x != NULL)
        drain_all(x);
    sk_info("event=mirror_revoked partitions=%d", parts ? parts->cnt : 0);
    rd_kafka_assign(rk, NULL);
}

/*
 * Consumer settings: skipstore's own defaults, then the config's
 * kafka.consumer mapping unchanged (TLS, SASL, tuning: librdkafka's names),
 * then what the exactly-once effect needs, last so nothing overrides it:
 * manual offset commits after the merchant-store commit (enable.auto.commit
 * and enable.auto.offset.store false), the configured group and brokers
 * (conf.c refuses a config that tries to change these). A property librdkafka
 * does not know, or a bad value, stops the mirror at start with FILE:LINE.
 */
static rd_kafka_t *consumer_new(const conf *c)
{
    char err[768];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    static const kp_prop own[] = {
        {"client.id", "skipstore-mirror"},
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
    const kp_prop contract[] = {
        {"bootstrap.servers", c->kafka_brokers},
        {"group.id", c->kafka_group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
    };
    if (kp_apply_list(kc, rd_kafka_conf_set, own, sizeof own / sizeof own[0], err, sizeof err) < 0 ||
        kp_apply_map(kc, rd_kafka_conf_set, &c->kafka_consumer, c->path, "consumer", err, sizeof err) < 0 ||
        kp_apply_list(kc, rd_kafka_conf_set, contract, sizeof contract / sizeof contract[0], err, sizeof err) < 0) {
        sk_error("event=mirror_kafka_conf err=\"%s\"", err);
        fprintf(stderr, "skipstore-mirror: %s\n", err);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, offset_commit_cb);
    rd_kafka_conf_set_log_cb(kc, mk_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    if (rk == NULL) {
        sk_error("event=mirror_kafka_new err=\"%s\"", err);
        fprintf(stderr, "skipstore-mirror: %s: kafka.consumer: %s\n", c->path, err);
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

/* ---------- lag reporting (poll thread) ---------- */

static void report(mctx *x)
{
    int64_t now = sk_now_ms(), mono = sk_mono_ms();
    if (mono - x->last_report < 1000)
        return;
    x->last_report = mono;
    /* a worker holding a batch it cannot apply: lag = age of its oldest held event */
    int64_t oldest = INT64_MAX;
    int npaused = 0;
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        if (w->db_failing && w->held_oldest_ms > 0 && w->held_oldest_ms < oldest)
            oldest = w->held_oldest_ms;
        pthread_mutex_unlock(&w->mu);
        npaused += w->paused;
    }
    int64_t p99, p50, mx, dead, lost;
    pthread_mutex_lock(&x->smu);
    dead = x->dead;
    lost = x->dead_lost;
    if (oldest != INT64_MAX) {
        p99 = p50 = mx = now - oldest;
    } else if (x->lag_sec.n > 0) {
        p99 = mlag_pct(&x->lag_sec, 0.99);
        p50 = mlag_pct(&x->lag_sec, 0.50);
        mx = x->lag_sec.max;
    } else {
        p99 = p50 = mx = 0; /* idle and caught up */
    }
    mlag_reset(&x->lag_sec);
    bool stats = mono - x->last_stats >= STATS_EVERY_MS;
    char line[512] = "";
    if (stats) {
        x->last_stats = mono;
        snprintf(line, sizeof line,
                 "event=mirror_stats applied=%" PRId64 " dead=%" PRId64 " dead_lost=%" PRId64 " isolations=%" PRId64
                 " batches=%" PRId64 " db_failures=%" PRId64
                 " commit_failures=%" PRId64 " lag_p50_ms=%" PRId64 " lag_p99_ms=%" PRId64 " lag_max_ms=%" PRId64
                 " paused=%d apply_ms=%" PRId64 " sql_ms=%" PRId64 " offset_commit_ms=%" PRId64,
                 x->applied, x->dead, x->dead_lost, x->isolations, x->batches, x->db_failures, x->commit_failures, mlag_pct(&x->lag_10s, 0.5),
                 mlag_pct(&x->lag_10s, 0.99), x->lag_10s.max, npaused, x->apply_us / 1000, x->exec_us / 1000,
                 x->commit_us / 1000);
        mlag_reset(&x->lag_10s);
    }
    pthread_mutex_unlock(&x->smu);
    if (stats)
        sk_info("%s", line);
    if (x->kv != NULL) {
        /* Redis down: re-check rarely, each check may cost the Redis timeout */
        if (!kv_up(x->kv) && mono - x->last_kv_check >= 5000) {
            kv_check(x->kv);
            x->last_kv_check = mono;
        }
        /* "<p99> <p50> <max> <at_ms> <dead letters> <lost>" (the last two
         * since this mirror started; read by the daemon's relay into metrics) */
        char v[160];
        snprintf(v, sizeof v, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, p99, p50, mx,
                 now, dead, lost);
        redisReply *r = kv_cmd(x->kv, "SET skip:mirror:lag %s", v);
        if (r)
            freeReplyObject(r);
    }
}

/* ---------- main loop (poll thread) ---------- */

int mirror_run(const conf *c, volatile sig_atomic_t *stop)
{
    static mctx X;
    mctx *x = &X;
    build_tail();
    x->c = c;
    if (c->kafka_event_key != NULL && c->kafka_event_key[0] != '\0') {
        x->keys.cur = (const unsigned char *)c->kafka_event_key;
        x->keys.cur_len = strlen(c->kafka_event_key);
        if (c->kafka_event_key_prev != NULL && c->kafka_event_key_prev[0] != '\0') {
            x->keys.prev = (const unsigned char *)c->kafka_event_key_prev;
            x->keys.prev_len = strlen(c->kafka_event_key_prev);
        }
        x->pkeys = &x->keys;
    } else {
        sk_warn("event=mirror_events_unsigned reason=no_kafka.event_key_file auth_mode=%s "
                "effect=events_applied_without_hmac_check", c->auth_mode);
    }
    pthread_mutex_init(&x->smu, NULL);
    mlag_reset(&x->lag_sec);
    mlag_reset(&x->lag_10s);
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        w->x = x;
        w->idx = i;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        pthread_cond_init(&w->done_cv, NULL);
        w->last = rd_kafka_topic_partition_list_new(4);
    }
    g_ctx = x;
    char kerr[256];
    x->kv = c->redis_addr ? kv_create_conf(c, c->redis_timeout_ms, kerr, sizeof kerr) : NULL;
    if (c->redis_addr && x->kv == NULL)
        sk_warn("event=mirror_no_redis err=\"%s\"", kerr);
    x->rk = consumer_new(c);
    if (x->rk == NULL)
        return 1;
    sk_info("event=mirror_started topic=%s group=%s merchant_db=%s workers_max=%d batch=%d queue=%d", c->kafka_topic,
            c->kafka_group, c->merchant_addr, MIR_WORKERS_MAX, MIR_BATCH, MIR_QUEUE);
    while (!*stop) {
        report(x);
        flow_control(x);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(x->rk, 50);
        if (m == NULL)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sk_warn("event=mirror_consume_error err=\"%s\"", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        dispatch(x, m, stop);
    }
    int held = 0;
    for (int i = 0; i < MIR_WORKERS_MAX; i++)
        held += x->w[i].started ? x->w[i].qn + x->w[i].held : 0;
    sk_info("event=mirror_stopping held=%d", held);
    drain_all(x); /* apply + commit what was read (or drop: re-read after restart) */
    rd_kafka_consumer_close(x->rk);
    for (int i = 0; i < MIR_WORKERS_MAX; i++) {
        mworker *w = &x->w[i];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        w->quit = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->th, NULL);
        w->started = false;
    }
    rd_kafka_destroy(x->rk);
    g_ctx = NULL;
    if (x->kv)
        kv_destroy(x->kv);
    sk_info("event=mirror_stopped applied=%" PRId64 " dead=%" PRId64, x->applied, x->dead);
    return 0;
}
