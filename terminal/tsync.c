/* terminal/tsync.c — registry refresher and change subscriber; see tsync.h. */
#include "terminal/tsync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dal/terminals.h"
#include "metrics/metrics.h"

/* A change's transaction takes its updated_at before it commits; a read may
 * run in between. Every read re-reads this far back, which covers any
 * transaction of ours (bounded by the 1 s class of DB timeouts). */
#define OVERLAP_MS 5000
#define INCREMENTAL_MAX 10000      /* more changed rows than this: read everything */
#define SUB_POLL_MS 200
#define SUB_PING_AFTER_MS 30000    /* quiet this long: PING to find a dead connection */
#define SUB_PONG_WAIT_MS 2000
#define SUB_BACKOFF_MAX_MS 2000

struct term {
    rtref *rt;
    treg *reg;
    atomic_bool loaded, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked;
    pthread_t th_ref, th_sub;
};

treg *term_registry(term *t) { return t->reg; }
bool term_loaded(term *t) { return t != NULL && atomic_load(&t->loaded); }

void term_kick(term *t)
{
    pthread_mutex_lock(&t->mu);
    t->kicked = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void term_changed(term *t, const rt *r, const term_view *row)
{
    if (treg_upsert(t->reg, row, 1, r->c->terminals_max) > 0)
        sk_error("event=terminal_registry_full max=%d terminal_id=%s", r->c->terminals_max, row->terminal_id);
    redisReply *x = kv_cmd(r->kv, "PUBLISH %s %s", TERM_CHANNEL, row->terminal_id);
    if (x)
        freeReplyObject(x);
}

/* ---------------------------------------------------------------- refresher */

typedef struct {
    int64_t newest;          /* largest updated_at read so far (store clock) */
    int64_t next_full;       /* monotonic ms */
    bool failing;
} rstate;

/* One read. SK_OK or why not. */
static sk_status refresh(term *t, const rt *r, rstate *s)
{
    const conf *c = r->c;
    if (r->merchant == NULL)
        return SK_EUNAVAILABLE;
    bool full = !atomic_load(&t->loaded) || sk_mono_ms() >= s->next_full;
    dal_conn *dc;
    sk_status st = dal_acquire(r->merchant, sk_mono_ms() + c->db_read_timeout_ms, &dc);
    if (st != SK_OK)
        return st;
    term_view *rows = NULL;
    int n = 0;
    int64_t newest = 0;
    if (!full) {
        st = dal_term_scan(dal_mysql(dc), s->newest > OVERLAP_MS ? s->newest - OVERLAP_MS : 0, INCREMENTAL_MAX,
                           &rows, &n, &newest);
        if (st == SK_ETOO_LARGE)
            full = true;   /* a mass change: read it all */
    }
    if (full)
        st = dal_term_scan(dal_mysql(dc), -1, c->terminals_max, &rows, &n, &newest);
    dal_release(r->merchant, dc, st != SK_OK && st != SK_ETOO_LARGE);
    if (st == SK_ETOO_LARGE) {
        /* keep what we hold; say it loudly: terminals.max is too small */
        sk_error("event=terminal_registry_over_max max=%d note=\"raise terminals.max\"", c->terminals_max);
        return st;
    }
    if (st != SK_OK)
        return st;
    int refused = full ? treg_replace(t->reg, rows, n, c->terminals_max)
                       : treg_upsert(t->reg, rows, n, c->terminals_max);
    free(rows);
    if (refused > 0)
        sk_error("event=terminal_registry_full max=%d refused=%d", c->terminals_max, refused);
    if (newest > s->newest)
        s->newest = newest;
    if (full) {
        s->next_full = sk_mono_ms() + (int64_t)c->terminals_full_refresh_s * 1000;
        if (!atomic_load(&t->loaded))
            sk_info("event=terminal_registry_loaded terminals=%lld", (long long)treg_size(t->reg));
        atomic_store(&t->loaded, true);
    }
    return SK_OK;
}

static void *refresher(void *arg)
{
    term *t = arg;
    sk_thread_name("sk-term-sync");
    rstate s = {0};
    while (!atomic_load(&t->stop)) {
        rt *r = rt_get(t->rt);
        int period = r->c->terminals_refresh_ms;
        sk_status st = refresh(t, r, &s);
        rt_put(r);
        if (st == SK_OK) {
            met_term_refresh(1, treg_size(t->reg), sk_mono_ms());
            if (s.failing)
                sk_info("event=terminal_registry_fresh terminals=%lld", (long long)treg_size(t->reg));
            s.failing = false;
        } else {
            met_term_refresh(0, 0, 0);
            if (!s.failing)
                sk_warn("event=terminal_registry_stale err=%s note=\"merchant store unreadable: the last copy "
                        "stays in force (%s)\"", sk_status_name(st),
                        atomic_load(&t->loaded) ? "loaded" : "never loaded: cashier creates are refused");
            s.failing = true;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)period * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&t->mu);
        while (!t->kicked && !atomic_load(&t->stop))
            if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0)
                break;
        t->kicked = false;
        pthread_mutex_unlock(&t->mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- subscriber */

static void sleep_unless_stopped(term *t, int ms)
{
    for (int w = 0; w < ms && !atomic_load(&t->stop); w += 50)
        sk_sleep_ms(50);
}

/* Serve one subscription until it fails, a reload swaps the runtime (the
 * subscription holds the snapshot whose Redis handle it uses: let it go,
 * subscribe again on the new one) or we stop. The connection is kv's
 * (AUTH, TLS as configured). */
static void listen_on(term *t, kv_sub *sub, const rt *held)
{
    int64_t last_rx = sk_mono_ms(), ping_sent = 0;
    while (!atomic_load(&t->stop)) {
        int rc = kv_sub_wait(sub, SUB_POLL_MS);
        if (rc < 0)
            return;   /* Redis restarted or the connection died */
        int64_t now = sk_mono_ms();
        if (rc > 0) {
            last_rx = now;
            ping_sent = 0;
            if (rc == 1) {
                met_term_notify();
                term_kick(t);
            }
        }
        if (ping_sent == 0 && now - last_rx >= SUB_PING_AFTER_MS) {
            if (kv_sub_ping(sub) != 0)
                return;
            ping_sent = now;
        } else if (ping_sent != 0 && now - ping_sent >= SUB_PONG_WAIT_MS) {
            sk_warn("event=terminal_subscriber_silent note=\"no answer to PING; reconnecting\"");
            return;
        }
        rt *r = rt_get(t->rt);
        bool moved = r != held;
        rt_put(r);
        if (moved)
            return;
    }
}

static void *subscriber(void *arg)
{
    term *t = arg;
    sk_thread_name("sk-term-sub");
    int backoff = 100;
    bool down = false;
    while (!atomic_load(&t->stop)) {
        rt *r = rt_get(t->rt);
        char addr[160];
        sk_strlcpy(addr, r->c->redis_addr, sizeof addr);
        kv_sub *sub = kv_subscribe(r->kv, TERM_CHANNEL);
        if (sub == NULL) {
            rt_put(r);
            if (!down)
                sk_warn("event=terminal_subscriber_down addr=%s note=\"registry refreshes every "
                        "terminals.refresh_ms meanwhile\"", addr);
            down = true;
            sleep_unless_stopped(t, backoff);
            backoff = backoff * 2 > SUB_BACKOFF_MAX_MS ? SUB_BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        if (down)
            sk_info("event=terminal_subscriber_up addr=%s", addr);
        down = false;
        backoff = 100;
        term_kick(t);   /* whatever was published while we were away */
        listen_on(t, sub, r);   /* holds r: its kv outlives the subscription */
        kv_sub_close(sub);
        rt_put(r);
    }
    return NULL;
}

term *term_start(rtref *ref)
{
    term *t = calloc(1, sizeof *t);
    if (t == NULL || (t->reg = treg_create()) == NULL) {
        free(t);
        return NULL;
    }
    t->rt = ref;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    pthread_create(&t->th_ref, NULL, refresher, t);
    pthread_create(&t->th_sub, NULL, subscriber, t);
    return t;
}

void term_stop(term *t)
{
    if (t == NULL)
        return;
    atomic_store(&t->stop, true);
    term_kick(t);
    pthread_join(t->th_ref, NULL);
    pthread_join(t->th_sub, NULL);
    treg_destroy(t->reg);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
