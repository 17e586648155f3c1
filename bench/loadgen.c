/* bench/loadgen.c — the load engine and skipstored HTTP operations; see loadgen.h. */
#include "bench/loadgen.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "client/httpc.h"

#define RING 64

typedef struct {
    pthread_mutex_t mu;
    int sec;                  /* the second this slot aggregates; -1 = closed */
    rep_sec s;
} slot;

struct lg_ctl {
    const lg_opts *o;
    int64_t start_us;
    int64_t end_us;           /* start + duration */
    slot *ring;               /* RING slots */
    pthread_mutex_t late_mu;  /* rows of seconds already closed (should not happen) */
    rep_row *rows;
    _Atomic uint64_t next;    /* open loop: next request index */
    _Atomic int64_t recover_at_us;   /* relative; INT64_MAX = not set */
    _Atomic int64_t back_at_us[REP_MAX_GROUPS]; /* relative; -1 none */
    _Atomic int64_t last_done_us;
    _Atomic int64_t done_ok, done_failed;
    _Atomic int active;       /* workers still running */
    pthread_mutex_t out_mu;
};

typedef struct {
    lg_ctl *c;
    int tid;
} worker_arg;

static int64_t now_us(void)
{
    return sk_mono_us();
}

static void sleep_until_us(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000, .tv_nsec = (t % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

double lg_ctl_now(const lg_ctl *c)
{
    return (double)(now_us() - c->start_us) / 1e6;
}

void lg_ctl_recovered(lg_ctl *c, double at_s)
{
    atomic_store(&c->recover_at_us, (int64_t)(at_s * 1e6));
}

static void rec_sent(lg_ctl *c, int sec)
{
    slot *sl = &c->ring[sec % RING];
    pthread_mutex_lock(&sl->mu);
    if (sl->sec == sec)
        rep_sec_sent(&sl->s);
    pthread_mutex_unlock(&sl->mu);
}

static void rec_done(lg_ctl *c, int sec, int64_t sent_rel_us, int64_t lat_us, const lg_outcome *oc)
{
    const lg_opts *o = c->o;
    static const rep_groups none = {0};
    const rep_groups *g = o->groups ? o->groups : &none;
    slot *sl = &c->ring[sec % RING];
    pthread_mutex_lock(&sl->mu);
    if (sl->sec == sec) {
        rep_sec_done(&sl->s, g, lat_us, oc->ok, oc->code, oc->group);
    } else {
        /* closed already (cannot happen within the timeouts): counts only */
        pthread_mutex_lock(&c->late_mu);
        rep_row *row = &c->rows[sec];
        if (oc->ok)
            row->ok++;
        else {
            row->failed++;
            rep_codes_add(row->codes, &row->ncodes, oc->code, 1);
        }
        pthread_mutex_unlock(&c->late_mu);
    }
    pthread_mutex_unlock(&sl->mu);
    int64_t done = now_us() - c->start_us;
    int64_t prev = atomic_load(&c->last_done_us);
    while (done > prev && !atomic_compare_exchange_weak(&c->last_done_us, &prev, done))
        ;
    if (oc->ok)
        atomic_fetch_add(&c->done_ok, 1);
    else
        atomic_fetch_add(&c->done_failed, 1);
    if (oc->ok && oc->group > 0) {
        int s = rep_group_slot(g, oc->group);
        int64_t rat = atomic_load(&c->recover_at_us);
        if (s >= 0 && sent_rel_us >= rat && atomic_load(&c->back_at_us[s]) < 0) {
            int64_t exp = -1;
            atomic_compare_exchange_strong(&c->back_at_us[s], &exp, done);
        }
    }
    if (oc->ok && oc->order_no[0] && o->orders_out) {
        pthread_mutex_lock(&c->out_mu);
        fprintf(o->orders_out, "%s\n", oc->order_no);
        pthread_mutex_unlock(&c->out_mu);
    }
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    lg_ctl *c = wa->c;
    const lg_opts *o = c->o;
    const lg_ops *ops = o->ops;
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)wa->tid * 0xBF58476D1CE4E5B9ull) ^ (uint64_t)now_us();
    void *ts = ops->thread_init ? ops->thread_init(ops->ctx, wa->tid) : NULL;
    int64_t timeout_us = (int64_t)o->timeout_ms * 1000;
    for (;;) {
        int64_t due, sent_at;
        lg_outcome oc;
        memset(&oc, 0, sizeof oc);
        if (o->rate > 0) {
            uint64_t i = atomic_fetch_add(&c->next, 1);
            due = c->start_us + (int64_t)((double)i * 1e6 / o->rate);
            if (due >= c->end_us)
                break;
            int sec = (int)((due - c->start_us) / 1000000);
            rec_sent(c, sec);
            sleep_until_us(due);
            int64_t t0 = now_us();
            if (t0 - due > timeout_us) {
                oc.ok = false;
                sk_strlcpy(oc.code, "client_backlog", sizeof oc.code);
                rec_done(c, sec, due - c->start_us, t0 - due, &oc);
                continue;
            }
            sent_at = due;
            if (ts == NULL && ops->thread_init) {
                sk_strlcpy(oc.code, "client_init", sizeof oc.code);
            } else {
                ops->op(ops->ctx, ts, &rng, &oc);
            }
            rec_done(c, sec, sent_at - c->start_us, now_us() - due, &oc);
        } else {
            sent_at = now_us();
            if (sent_at >= c->end_us)
                break;
            int sec = (int)((sent_at - c->start_us) / 1000000);
            rec_sent(c, sec);
            if (ts == NULL && ops->thread_init) {
                sk_strlcpy(oc.code, "client_init", sizeof oc.code);
                usleep(10000);
            } else {
                ops->op(ops->ctx, ts, &rng, &oc);
            }
            rec_done(c, sec, sent_at - c->start_us, now_us() - sent_at, &oc);
        }
    }
    if (ops->thread_fini && ts)
        ops->thread_fini(ops->ctx, ts);
    atomic_fetch_sub(&c->active, 1);
    return NULL;
}

/* Close second `sec`: copy its row out and reuse the slot for sec + RING. */
static void close_sec(lg_ctl *c, lg_result *res, int sec, int nrows)
{
    slot *sl = &c->ring[sec % RING];
    pthread_mutex_lock(&sl->mu);
    if (sl->sec == sec) {
        rep_sec_close(&sl->s);
        pthread_mutex_lock(&c->late_mu);
        c->rows[sec] = sl->s.row;
        pthread_mutex_unlock(&c->late_mu);
        hist_merge(&res->lat, &sl->s.lat);
        rep_sec_init(&sl->s);
        sl->sec = sec + RING < nrows ? sec + RING : -1;
    }
    pthread_mutex_unlock(&sl->mu);
}

static void progress_line(lg_ctl *c, int t)
{
    slot *sl = &c->ring[(t - 1) % RING];
    pthread_mutex_lock(&sl->mu);
    int64_t sent = 0, ok = 0, failed = 0, p50 = 0, p99 = 0;
    if (sl->sec == t - 1) {
        sent = sl->s.row.sent;
        ok = sl->s.row.ok;
        failed = sl->s.row.failed;
        p50 = hist_quantile(&sl->s.lat, 0.5);
        p99 = hist_quantile(&sl->s.lat, 0.99);
    }
    pthread_mutex_unlock(&sl->mu);
    fprintf(stderr, "[%4ds] sent %6lld  ok %6lld  err %5lld  p50 %7.2f ms  p99 %7.2f ms  (total ok %lld, failed %lld)\n",
            t, (long long)sent, (long long)ok, (long long)failed, (double)p50 / 1000.0, (double)p99 / 1000.0,
            (long long)atomic_load(&c->done_ok), (long long)atomic_load(&c->done_failed));
}

int lg_run(const lg_opts *o, lg_result *res)
{
    memset(res, 0, sizeof *res);
    hist_init(&res->lat);
    for (int i = 0; i < REP_MAX_GROUPS; i++)
        res->back_at_s[i] = -1;
    if (o->duration_s < 1 || o->duration_s > 86400 || o->concurrency < 1 || o->concurrency > 4096 ||
        o->timeout_ms < 100 || o->timeout_ms > 20000 || o->ops == NULL || o->ops->op == NULL) {
        fprintf(stderr, "loadgen: bad options (duration 1..86400, concurrency 1..4096, timeout 100..20000 ms)\n");
        return -1;
    }
    lg_ctl *c = calloc(1, sizeof *c);
    int nrows = o->duration_s;
    if (c == NULL)
        return -1;
    c->o = o;
    c->ring = calloc(RING, sizeof *c->ring);
    c->rows = calloc((size_t)nrows, sizeof *c->rows);
    pthread_t *th = calloc((size_t)o->concurrency, sizeof *th);
    worker_arg *wa = calloc((size_t)o->concurrency, sizeof *wa);
    if (c->ring == NULL || c->rows == NULL || th == NULL || wa == NULL) {
        free(c->ring);
        free(c->rows);
        free(th);
        free(wa);
        free(c);
        return -1;
    }
    for (int i = 0; i < RING; i++) {
        pthread_mutex_init(&c->ring[i].mu, NULL);
        c->ring[i].sec = i < nrows ? i : -1;
        rep_sec_init(&c->ring[i].s);
    }
    pthread_mutex_init(&c->late_mu, NULL);
    pthread_mutex_init(&c->out_mu, NULL);
    atomic_store(&c->recover_at_us, INT64_MAX);
    for (int i = 0; i < REP_MAX_GROUPS; i++)
        atomic_store(&c->back_at_us[i], -1);
    /* the close lag: a request due in second s finishes by s+1 + 2 x timeout */
    int lag = (2 * o->timeout_ms + 999) / 1000 + 2;
    if (lag >= RING - 1) {
        fprintf(stderr, "loadgen: timeout too large\n");
        return -1;
    }

    c->start_us = now_us() + 20000;
    c->end_us = c->start_us + (int64_t)o->duration_s * 1000000;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started = 0;
    atomic_store(&c->active, o->concurrency);
    for (int i = 0; i < o->concurrency; i++) {
        wa[i].c = c;
        wa[i].tid = i;
        if (pthread_create(&th[i], &attr, worker, &wa[i]) != 0) {
            fprintf(stderr, "loadgen: could not start thread %d: %s\n", i, strerror(errno));
            break;
        }
        started++;
    }
    atomic_fetch_sub(&c->active, o->concurrency - started);
    pthread_attr_destroy(&attr);
    if (started < o->concurrency) {
        /* stop the others quickly: pretend the run is over */
        c->end_us = c->start_us;
    }

    /* controller: ticks, progress, closing finished seconds */
    int closed = 0;
    int64_t hard_end = c->end_us + (int64_t)lag * 1000000;
    for (int t = 1;; t++) {
        int64_t at = c->start_us + (int64_t)t * 1000000;
        if (at > hard_end)
            break;
        sleep_until_us(at);
        if (t <= o->duration_s) {
            if (o->progress)
                progress_line(c, t);
            if (o->tick)
                o->tick(o->tick_ctx, c, t, lg_ctl_now(c));
        }
        int upto = t - lag; /* seconds < upto are final */
        for (; closed < upto && closed < nrows; closed++)
            close_sec(c, res, closed, nrows);
        if (closed >= nrows || (t >= o->duration_s && atomic_load(&c->active) == 0))
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (; closed < nrows; closed++)
        close_sec(c, res, closed, nrows);

    res->rows = c->rows;
    res->nrows = nrows;
    for (int t = 0; t < nrows; t++) {
        const rep_row *row = &res->rows[t];
        res->sent += row->sent;
        res->ok += row->ok;
        res->failed += row->failed;
        for (int k = 0; k < row->ncodes; k++)
            rep_codes_add(res->codes, &res->ncodes, row->codes[k].code, row->codes[k].n);
        for (int g = 0; g < REP_MAX_GROUPS; g++)
            res->group_ok[g] += row->group_ok[g];
    }
    int64_t last = atomic_load(&c->last_done_us);
    res->elapsed_s = (double)(last > 0 ? last : (c->end_us - c->start_us)) / 1e6;
    for (int i = 0; i < REP_MAX_GROUPS; i++) {
        int64_t b = atomic_load(&c->back_at_us[i]);
        res->back_at_s[i] = b >= 0 ? (double)b / 1e6 : -1;
    }
    for (int i = 0; i < RING; i++)
        pthread_mutex_destroy(&c->ring[i].mu);
    free(c->ring);
    free(th);
    free(wa);
    free(c);
    return started == o->concurrency ? 0 : -1;
}

/* ---------------------------------------------------------------- HTTP ops */

#define POOL_MAX 1000

struct lg_http {
    char url[256];
    char token[256];
    lg_mix mix;
    int merchants;
    int timeout_ms;
    char run_id[24];
    _Atomic uint64_t seq;
    char (*pool)[32];         /* prefilled order numbers (read/pay) */
    int npool;
    _Atomic uint64_t pay_next;
    /* spec §11: creates are a cashier's, from an ACTIVE terminal of each
     * merchant (registered and activated through the API by
     * lg_http_new), so every benchmark and drill runs with enforcement on */
    const auth_key *cashier;  /* NULL: no cashier key (auth off): the default key, no terminal */
    bool terminals;
    /* --terminals-ab: alternate each second between the enforced path
     * (cashier + terminal) and the same create by the admin key, which no
     * terminal rule applies to; ok counts per arm */
    bool ab;
    _Atomic int64_t ab_start_ms;
    _Atomic int64_t ab_ok[2], ab_failed[2];
    /* per kind of request (lg_http_kinds_json) */
    pthread_mutex_t kinds_mu;
    int64_t kind_ok[LG_NKINDS], kind_failed[LG_NKINDS];
    rep_code kind_codes[LG_NKINDS][REP_MAX_CODES];
    int kind_ncodes[LG_NKINDS];
    _Atomic uint64_t refund_seq;
    lg_ops ops;
};

typedef struct {
    httpc *hc;                /* creates, reads, pays: the cashier key when there is one */
    httpc *admin;             /* --terminals-ab: the other arm */
    int tid;
} http_ts;

/* The terminal every create of merchant benchM names. */
static void bench_terminal(int m, char out[40]) { snprintf(out, 40, "bench-t%d", m); }

int lg_mix_parse(const char *s)
{
    if (strcmp(s, "create") == 0) return LG_CREATE;
    if (strcmp(s, "read") == 0) return LG_READ;
    if (strcmp(s, "pay") == 0) return LG_PAY;
    if (strcmp(s, "mixed") == 0) return LG_MIXED;
    if (strcmp(s, "full") == 0) return LG_FULL;
    return -1;
}

void lg_http_code(int status, const char *body, size_t len, char *out, size_t cap)
{
    const char *code = "-";
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = j ? json_object_get(j, "error") : NULL;
    const char *s = e ? json_string_value(json_object_get(e, "code")) : NULL;
    if (s)
        code = s;
    snprintf(out, cap, "%d %s", status, code);
    json_decref(j);
}

uint64_t lg_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *http_init(void *ctx, int tid)
{
    lg_http *h = ctx;
    http_ts *ts = calloc(1, sizeof *ts);
    if (ts == NULL)
        return NULL;
    ts->hc = httpc_new(h->url, h->timeout_ms);
    ts->admin = h->ab ? httpc_new(h->url, h->timeout_ms) : NULL;
    ts->tid = tid;
    if (ts->hc == NULL || (h->ab && ts->admin == NULL)) {
        httpc_free(ts->hc);
        httpc_free(ts->admin);
        free(ts);
        return NULL;
    }
    if (h->cashier)
        httpc_set_key(ts->hc, h->cashier);
    return ts;
}

static void http_fini(void *ctx, void *p)
{
    (void)ctx;
    http_ts *ts = p;
    httpc_free(ts->hc);
    httpc_free(ts->admin);
    free(ts);
}

static void fail_transport(lg_outcome *oc, httpc_err e)
{
    oc->ok = false;
    sk_strlcpy(oc->code, httpc_strerror(e), sizeof oc->code);
}

static void do_create(lg_http *h, httpc *hc, uint64_t *rng, lg_outcome *oc, bool with_terminal)
{
    char body[320], term[64] = "";
    uint64_t n = atomic_fetch_add(&h->seq, 1);
    int m = (int)(lg_rand(rng) % (uint64_t)(h->merchants > 0 ? h->merchants : 1));
    if (with_terminal) {
        char t[40];
        bench_terminal(m, t);
        snprintf(term, sizeof term, ",\"terminal_id\":\"%s\"", t);
    }
    int len = snprintf(body, sizeof body,
                       "{\"merchant_id\":\"bench%d\",\"out_trade_no\":\"%s-%llu\",\"amount\":%d,\"channel\":\"bench\","
                       "\"expire_seconds\":%d%s}",
                       m, h->run_id, (unsigned long long)n, 100 + (int)(n % 900), LG_EXPIRE_S, term);
    httpc_resp r;
    httpc_err e = httpc_request(hc, "POST", "/v1/orders", h->token, body, (size_t)len, &r);
    if (e != HTTPC_OK) {
        fail_transport(oc, e);
        return;
    }
    if (r.status != 201 && r.status != 200) {
        oc->ok = false;
        lg_http_code(r.status, r.body, r.len, oc->code, sizeof oc->code);
        return;
    }
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    const char *no = j ? json_string_value(json_object_get(j, "order_no")) : NULL;
    json_t *g = j ? json_object_get(j, "group") : NULL;
    if (no == NULL || !json_is_integer(g)) {
        oc->ok = false;
        sk_strlcpy(oc->code, "bad_response", sizeof oc->code);
    } else {
        oc->ok = true;
        oc->group = (int)json_integer_value(g);
        sk_strlcpy(oc->order_no, no, sizeof oc->order_no);
    }
    json_decref(j);
}

/* One request whose success is 200 (read, pay). */
static void send_expect_200(lg_http *h, httpc *hc, const char *method, const char *path, const char *body,
                            size_t len, lg_outcome *oc)
{
    httpc_resp r;
    httpc_err e = httpc_request(hc, method, path, h->token, body, len, &r);
    if (e != HTTPC_OK) {
        fail_transport(oc, e);
        return;
    }
    oc->ok = r.status == 200;
    if (!oc->ok)
        lg_http_code(r.status, r.body, r.len, oc->code, sizeof oc->code);
}

static void do_read(lg_http *h, httpc *hc, uint64_t *rng, lg_outcome *oc)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/orders/%s", h->pool[lg_rand(rng) % (uint64_t)h->npool]);
    send_expect_200(h, hc, "GET", path, NULL, 0, oc);
}

static void do_pay(lg_http *h, httpc *hc, lg_outcome *oc)
{
    /* each pool order is paid once for real; later pays of it are the
     * payment callback repeating (200, unchanged) */
    uint64_t k = atomic_fetch_add(&h->pay_next, 1) % (uint64_t)h->npool;
    char path[96], body[160];
    snprintf(path, sizeof path, "/v1/orders/%s/pay", h->pool[k]);
    int len = snprintf(body, sizeof body, "{\"channel_txn_id\":\"txn-%s\",\"paid_amount\":100}", h->pool[k]);
    send_expect_200(h, hc, "POST", path, body, (size_t)len, oc);
}

/* A 1-fen refund of an order this run has paid (pool orders are paid in
 * pool order, see do_pay), by the cashier from the order's terminal
 * (pool order i is merchant bench(i % merchants)'s, spec §11); once an
 * order is fully refunded its refunds are 409 REFUND_EXCEEDS_PAID. */
static void do_refund(lg_http *h, httpc *hc, uint64_t *rng, lg_outcome *oc)
{
    uint64_t paid = atomic_load(&h->pay_next);
    if (paid > (uint64_t)h->npool)
        paid = (uint64_t)h->npool;
    if (paid == 0) {
        do_read(h, hc, rng, oc);   /* nothing paid yet */
        return;
    }
    uint64_t k = lg_rand(rng) % paid;
    char path[96], body[200], term[64] = "";
    if (h->terminals) {
        char t[40];
        bench_terminal((int)(k % (uint64_t)(h->merchants > 0 ? h->merchants : 1)), t);
        snprintf(term, sizeof term, ",\"terminal_id\":\"%s\"", t);
    }
    snprintf(path, sizeof path, "/v1/orders/%s/refunds", h->pool[k]);
    int len = snprintf(body, sizeof body, "{\"out_refund_no\":\"%s-r%llu\",\"amount\":1%s}", h->run_id,
                       (unsigned long long)atomic_fetch_add(&h->refund_seq, 1), term);
    httpc_resp r;
    httpc_err e = httpc_request(hc, "POST", path, h->token, body, (size_t)len, &r);
    if (e != HTTPC_OK) {
        fail_transport(oc, e);
        return;
    }
    oc->ok = r.status == 201 || r.status == 200;
    if (!oc->ok)
        lg_http_code(r.status, r.body, r.len, oc->code, sizeof oc->code);
}

static void count_kind(lg_http *h, int kind, const lg_outcome *oc)
{
    pthread_mutex_lock(&h->kinds_mu);
    if (oc->ok)
        h->kind_ok[kind]++;
    else {
        h->kind_failed[kind]++;
        rep_codes_add(h->kind_codes[kind], &h->kind_ncodes[kind], oc->code[0] ? oc->code : "unknown", 1);
    }
    pthread_mutex_unlock(&h->kinds_mu);
}

static void http_op(void *ctx, void *p, uint64_t *rng, lg_outcome *oc)
{
    lg_http *h = ctx;
    http_ts *ts = p;
    lg_mix m = h->mix;
    if (m == LG_MIXED) {
        uint64_t x = lg_rand(rng) % 10;
        m = x < 4 ? LG_CREATE : x < 9 ? LG_READ : LG_PAY;
    } else if (m == LG_FULL) {
        uint64_t x = lg_rand(rng) % 20;
        int kind = x < 8 ? LG_CREATE : x < 15 ? LG_READ : x < 18 ? LG_PAY : LG_KIND_REFUND;
        switch (kind) {
        case LG_CREATE: do_create(h, ts->hc, rng, oc, h->terminals); break;
        case LG_READ: do_read(h, ts->hc, rng, oc); break;
        case LG_PAY: do_pay(h, ts->hc, oc); break;
        default: do_refund(h, ts->hc, rng, oc); break;
        }
        count_kind(h, kind, oc);
        return;
    }
    if (m == LG_CREATE && h->ab) {
        int64_t now = sk_mono_ms(), t0 = atomic_load(&h->ab_start_ms);
        if (t0 == 0 && atomic_compare_exchange_strong(&h->ab_start_ms, &t0, now))
            t0 = now;
        int arm = (int)(((now - t0) / 1000) % 2);   /* 0: enforced (cashier + terminal), 1: admin key */
        do_create(h, arm == 0 ? ts->hc : ts->admin, rng, oc, arm == 0 && h->terminals);
        atomic_fetch_add(oc->ok ? &h->ab_ok[arm] : &h->ab_failed[arm], 1);
        return;
    }
    switch (m) {
    case LG_CREATE: do_create(h, ts->hc, rng, oc, h->terminals); break;
    case LG_READ: do_read(h, ts->hc, rng, oc); break;
    case LG_PAY: do_pay(h, ts->hc, oc); break;
    default: break;
    }
    count_kind(h, (int)m, oc);
}

json_t *lg_http_kinds_json(lg_http *h)
{
    static const char *names[LG_NKINDS] = {"create", "read", "pay", "refund"};
    json_t *j = json_object();
    pthread_mutex_lock(&h->kinds_mu);
    for (int k = 0; k < LG_NKINDS; k++) {
        json_t *e = json_object();
        for (int c = 0; c < h->kind_ncodes[k]; c++)
            json_object_set_new(e, h->kind_codes[k][c].code, json_integer(h->kind_codes[k][c].n));
        json_object_set_new(j, names[k], json_pack("{s:I,s:I,s:o}", "ok", (json_int_t)h->kind_ok[k], "failed",
                                                   (json_int_t)h->kind_failed[k], "errors", e));
    }
    pthread_mutex_unlock(&h->kinds_mu);
    return j;
}

int64_t lg_http_failed_creates(lg_http *h)
{
    pthread_mutex_lock(&h->kinds_mu);
    int64_t n = h->kind_failed[LG_CREATE];
    pthread_mutex_unlock(&h->kinds_mu);
    return n;
}

static int prefill(lg_http *h, int n)
{
    h->pool = calloc((size_t)n, sizeof *h->pool);
    if (h->pool == NULL)
        return -1;
    httpc *hc = httpc_new(h->url, h->timeout_ms);
    if (hc == NULL)
        return -1;
    if (h->cashier)
        httpc_set_key(hc, h->cashier);
    for (int i = 0; i < n; i++) {
        char body[320], term[64] = "";
        int m = i % (h->merchants > 0 ? h->merchants : 1);
        if (h->terminals) {
            char t[40];
            bench_terminal(m, t);
            snprintf(term, sizeof term, ",\"terminal_id\":\"%s\"", t);
        }
        int len = snprintf(body, sizeof body,
                           "{\"merchant_id\":\"bench%d\",\"out_trade_no\":\"%s-p%d\",\"amount\":100,\"channel\":\"bench\","
                           "\"expire_seconds\":%d%s}",
                           m, h->run_id, i, LG_EXPIRE_S, term);
        httpc_resp r;
        httpc_err e = httpc_request(hc, "POST", "/v1/orders", h->token, body, (size_t)len, &r);
        if (e != HTTPC_OK || (r.status != 201 && r.status != 200)) {
            fprintf(stderr, "loadgen: prefill create failed: %s status %d\n", httpc_strerror(e), e ? 0 : r.status);
            httpc_free(hc);
            return -1;
        }
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        const char *no = j ? json_string_value(json_object_get(j, "order_no")) : NULL;
        if (no)
            sk_strlcpy(h->pool[h->npool++], no, sizeof h->pool[0]);
        json_decref(j);
    }
    httpc_free(hc);
    return h->npool > 0 ? 0 : -1;
}

/* ---- terminals (spec §11): make benchM's terminal ACTIVE through the API ---- */

/* One call with hc's key: 0 and *status / *out (owned, may be NULL), or -1. */
static int call(httpc *hc, const char *method, const char *path, json_t *body, int *status, json_t **out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    httpc_resp r;
    httpc_err e = httpc_request(hc, method, path, NULL, text ? text : "", text ? strlen(text) : 0, &r);
    free(text);
    if (e != HTTPC_OK) {
        fprintf(stderr, "loadgen: %s %s: %s\n", method, path, httpc_strerror(e));
        return -1;
    }
    *status = r.status;
    *out = json_loadb(r.body, r.len, 0, NULL);
    return 0;
}

/* Register / re-code / unblock as needed, then activate. 1 changed, 0 was
 * already ACTIVE, -1 failed (message on stderr). */
static int ensure_terminal(httpc *office, httpc *cashier, const char *id, const char *merchant)
{
    char path[128];
    for (int attempt = 0; attempt < 3; attempt++) {
        int st;
        json_t *j = NULL, *x = NULL;
        snprintf(path, sizeof path, "/v1/terminals/%s", id);
        if (call(office, "GET", path, NULL, &st, &j) != 0)
            return -1;
        const char *status = st == 200 ? json_string_value(json_object_get(j, "status")) : NULL;
        char code[80] = "";
        int rc = 0;
        if (st == 200 && status && strcmp(status, "ACTIVE") == 0) {
            json_decref(j);
            return 0;
        }
        if (st == 404) {
            json_t *b = json_pack("{s:s,s:s}", "terminal_id", id, "merchant_id", merchant);
            rc = call(office, "POST", "/v1/terminals", b, &st, &x);
            json_decref(b);
        } else if (st == 200 && status && (strcmp(status, "REGISTERED") == 0 || strcmp(status, "LOCKED") == 0)) {
            snprintf(path, sizeof path, "/v1/terminals/%s/code", id);
            rc = call(office, "POST", path, NULL, &st, &x);
        } else if (st == 200 && status && strcmp(status, "BLOCKED") == 0) {
            snprintf(path, sizeof path, "/v1/terminals/%s/unblock", id);
            rc = call(office, "POST", path, NULL, &st, &x);
            json_decref(j);
            json_decref(x);
            if (rc != 0 || st != 200) {
                fprintf(stderr, "loadgen: unblock terminal %s: HTTP %d\n", id, st);
                return -1;
            }
            return 1;
        } else {
            fprintf(stderr, "loadgen: terminal %s: HTTP %d status %s (RETIRED terminals cannot be reused)\n", id, st,
                    status ? status : "-");
            json_decref(j);
            return -1;
        }
        json_decref(j);
        const char *c = x ? json_string_value(json_object_get(x, "activation_code")) : NULL;
        if (rc == 0 && c)
            snprintf(code, sizeof code, "%s", c);
        json_decref(x);
        if (code[0] == '\0')
            continue;   /* registered or re-coded by a concurrent setup: look again */
        json_t *b = json_pack("{s:s}", "activation_code", code);
        snprintf(path, sizeof path, "/v1/terminals/%s/activate", id);
        rc = call(cashier, "POST", path, b, &st, &x);
        json_decref(b);
        json_decref(x);
        if (rc == 0 && st == 200)
            return 1;
    }
    fprintf(stderr, "loadgen: could not activate terminal %s\n", id);
    return -1;
}

static int setup_terminals(lg_http *h)
{
    httpc *office = httpc_new(h->url, h->timeout_ms), *cashier = httpc_new(h->url, h->timeout_ms);
    int changed = 0, rc = 0;
    if (office == NULL || cashier == NULL) {
        rc = -1;
        goto out;
    }
    const auth_key *bo = httpc_key(NULL, "backoffice");
    if (bo)
        httpc_set_key(office, bo);   /* else the default (admin) key */
    httpc_set_key(cashier, h->cashier);
    for (int m = 0; m < h->merchants && rc == 0; m++) {
        char id[40], merchant[32];
        bench_terminal(m, id);
        snprintf(merchant, sizeof merchant, "bench%d", m);
        int x = ensure_terminal(office, cashier, id, merchant);
        if (x < 0)
            rc = -1;
        changed += x > 0;
    }
    /* a change is in force on every daemon within a refresh period (<= 1 s) */
    if (rc == 0 && changed > 0)
        sk_sleep_ms(1500);
out:
    httpc_free(office);
    httpc_free(cashier);
    return rc;
}

void lg_http_set_ab(lg_http *h, bool on) { h->ab = on; }

void lg_http_ab_counts(const lg_http *h, int64_t ok[2], int64_t failed[2])
{
    for (int i = 0; i < 2; i++) {
        ok[i] = atomic_load(&((lg_http *)h)->ab_ok[i]);
        failed[i] = atomic_load(&((lg_http *)h)->ab_failed[i]);
    }
}

lg_http *lg_http_new(const char *url, const char *token, lg_mix mix, int merchants, int timeout_ms,
                     const char *run_id)
{
    lg_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    sk_strlcpy(h->url, url, sizeof h->url);
    sk_strlcpy(h->token, token ? token : "", sizeof h->token);
    h->mix = mix;
    h->merchants = merchants > 0 ? merchants : 100;
    h->timeout_ms = timeout_ms;
    sk_strlcpy(h->run_id, run_id, sizeof h->run_id);
    pthread_mutex_init(&h->kinds_mu, NULL);
    httpc *probe = httpc_new(url, timeout_ms);
    if (probe == NULL) {
        fprintf(stderr, "loadgen: bad url %s (want http://host:port)\n", url);
        free(h);
        return NULL;
    }
    httpc_free(probe);
    h->cashier = httpc_key(NULL, "cashier");
    h->terminals = h->cashier != NULL;
    if (h->terminals && setup_terminals(h) != 0) {
        free(h);
        return NULL;
    }
    if (mix != LG_CREATE && prefill(h, mix == LG_PAY ? POOL_MAX : 500) != 0) {
        free(h->pool);
        free(h);
        return NULL;
    }
    h->ops = (lg_ops){.thread_init = http_init, .thread_fini = http_fini, .op = http_op, .ctx = h};
    return h;
}

void lg_http_free(lg_http *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->kinds_mu);
    free(h->pool);
    free(h);
}

const lg_ops *lg_http_ops(lg_http *h)
{
    return &h->ops;
}

int lg_fetch_groups(const char *url, const char *token, int timeout_ms, rep_groups *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    httpc *hc = httpc_new(url, timeout_ms);
    if (hc == NULL) {
        snprintf(err, cap, "bad url %s (want http://host:port)", url);
        return -1;
    }
    httpc_resp r;
    httpc_err e = httpc_request(hc, "GET", "/v1/groups", token, NULL, 0, &r);
    if (e != HTTPC_OK || r.status != 200) {
        if (e != HTTPC_OK)
            snprintf(err, cap, "GET %s/v1/groups: %s", url, httpc_strerror(e));
        else
            snprintf(err, cap, "GET %s/v1/groups: HTTP %d", url, r.status);
        httpc_free(hc);
        return -1;
    }
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    json_t *arr = j ? json_object_get(j, "groups") : NULL;
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g) {
        json_t *id = json_object_get(g, "id");
        if (json_is_integer(id) && out->n < REP_MAX_GROUPS)
            out->ids[out->n++] = (int)json_integer_value(id);
    }
    json_decref(j);
    httpc_free(hc);
    if (out->n == 0) {
        snprintf(err, cap, "GET %s/v1/groups: no groups in the answer", url);
        return -1;
    }
    return 0;
}

int lg_poll_groups(httpc *hc, const char *token, const rep_groups *g, lg_groups_view *v)
{
    for (int i = 0; i < REP_MAX_GROUPS; i++)
        sk_strlcpy(v->state[i], "UNKNOWN", REP_STATE_LEN);
    v->outbox_pending = -1;
    v->mirror_lag_ms = -1;
    httpc_resp r;
    if (httpc_request(hc, "GET", "/v1/groups", token, NULL, 0, &r) != HTTPC_OK || r.status != 200)
        return -1;
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    size_t i;
    json_t *grp;
    int64_t pending = 0;
    bool pending_known = false;
    json_array_foreach(j ? json_object_get(j, "groups") : NULL, i, grp) {
        int slot = rep_group_slot(g, (int)json_integer_value(json_object_get(grp, "id")));
        const char *st = json_string_value(json_object_get(grp, "state"));
        if (slot >= 0 && st)
            sk_strlcpy(v->state[slot], st, REP_STATE_LEN);
        json_t *p = json_object_get(grp, "outbox_pending");
        if (json_is_integer(p)) {
            pending += json_integer_value(p);
            pending_known = true;
        }
    }
    if (pending_known)
        v->outbox_pending = pending;
    json_t *lag = j ? json_object_get(j, "mirror_lag_ms") : NULL;
    if (json_is_integer(lag))
        v->mirror_lag_ms = json_integer_value(lag);
    json_decref(j);
    return 0;
}

json_t *lg_result_json(const lg_result *r, const rep_groups *g, double duration_s)
{
    json_t *j = json_object();
    json_object_set_new(j, "requests", json_integer(r->ok + r->failed));
    json_object_set_new(j, "ok", json_integer(r->ok));
    json_object_set_new(j, "failed", json_integer(r->failed));
    double secs = r->elapsed_s > duration_s ? r->elapsed_s : duration_s;
    json_object_set_new(j, "elapsed_s", json_real(secs));
    json_object_set_new(j, "throughput_per_s", json_real(secs > 0 ? (double)r->ok / secs : 0));
    json_t *l = json_object();
    json_object_set_new(l, "p50", json_real((double)hist_quantile(&r->lat, 0.50) / 1000.0));
    json_object_set_new(l, "p95", json_real((double)hist_quantile(&r->lat, 0.95) / 1000.0));
    json_object_set_new(l, "p99", json_real((double)hist_quantile(&r->lat, 0.99) / 1000.0));
    json_object_set_new(l, "p999", json_real((double)hist_quantile(&r->lat, 0.999) / 1000.0));
    json_object_set_new(l, "max", json_real((double)hist_quantile(&r->lat, 1.0) / 1000.0));
    json_object_set_new(l, "mean", json_real(hist_mean(&r->lat) / 1000.0));
    json_object_set_new(j, "latency_ms", l);
    json_t *e = json_object();
    for (int k = 0; k < r->ncodes; k++)
        json_object_set_new(e, r->codes[k].code, json_integer(r->codes[k].n));
    json_object_set_new(j, "errors", e);
    json_t *s = json_object();
    int64_t all = 0;
    for (int k = 0; g && k < g->n; k++)
        all += r->group_ok[k];
    for (int k = 0; g && k < g->n; k++) {
        char key[8];
        snprintf(key, sizeof key, "%d", g->ids[k]);
        json_object_set_new(s, key, json_real(all ? (double)r->group_ok[k] / (double)all : 0));
    }
    json_object_set_new(j, "share", s);
    json_object_set_new(j, "creates", json_integer(all));
    return j;
}
