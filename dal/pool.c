/*
 * dal/pool.c — bounded connection pool per group (the bulkhead). Connecting,
 * error classification and the statement helpers are in dal/sql.c.
 */
#include "dal/dal.h"
#include "dal/gcommit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dal_conn {
    MYSQL *my;
    unsigned epoch;          /* pool epoch when opened; older ones are dropped */
    struct dal_conn *next;
};

struct dal_pool {
    dal_pool_opts o;
    char addr[160], host[128], user[64], password[128], db[64];
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    dal_conn *idle;
    int total;               /* open connections, idle or in use */
    atomic_int inflight;
    atomic_uint epoch;
    atomic_int refs;         /* runtime snapshots sharing the pool */
    sk_batcher *gc;          /* group commit of new orders, NULL when off */
    atomic_llong avoid_until; /* monotonic ms: reads skip the server until then; 0 = use it */
};

void dal_library_init(void) { mysql_library_init(0, NULL, NULL); }

dal_pool *dal_pool_create(const dal_pool_opts *o)
{
    dal_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->o = *o;
    sk_strlcpy(p->addr, o->addr, sizeof p->addr);
    sk_strlcpy(p->user, o->user ? o->user : "", sizeof p->user);
    sk_strlcpy(p->password, o->password ? o->password : "", sizeof p->password);
    sk_strlcpy(p->db, o->db ? o->db : "", sizeof p->db);
    p->o.addr = p->addr;
    p->o.user = p->user;
    p->o.password = p->password;
    p->o.db = p->db;
    if (sk_parse_hostport(p->addr, p->host, sizeof p->host, &p->port) != 0) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&p->refs, 1);
    if (o->gc_max_batch > 1) {
        p->gc = dal_gc_new(p);
        if (p->gc == NULL) {
            dal_pool_destroy(p);
            return NULL;
        }
    }
    return p;
}

dal_pool *dal_pool_ref(dal_pool *p)
{
    if (p)
        atomic_fetch_add(&p->refs, 1);
    return p;
}

const dal_pool_opts *dal_pool_opts_of(const dal_pool *p) { return &p->o; }

static bool str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

bool dal_pool_opts_eq(const dal_pool_opts *a, const dal_pool_opts *b)
{
    return str_eq(a->addr, b->addr) && str_eq(a->user, b->user) && str_eq(a->password, b->password) &&
           str_eq(a->db, b->db) && a->connect_timeout_ms == b->connect_timeout_ms &&
           a->read_timeout_ms == b->read_timeout_ms && a->write_timeout_ms == b->write_timeout_ms &&
           a->size == b->size && a->max_inflight == b->max_inflight && a->multi_statements == b->multi_statements &&
           a->tls.enabled == b->tls.enabled && a->tls.verify_server_cert == b->tls.verify_server_cert &&
           strcmp(a->tls.ca, b->tls.ca) == 0 && strcmp(a->tls.cert, b->tls.cert) == 0 &&
           strcmp(a->tls.key, b->tls.key) == 0 && a->gc_max_batch == b->gc_max_batch &&
           a->gc_leaders == b->gc_leaders && a->nonblocking == b->nonblocking &&
           a->attempt_timeout_ms == b->attempt_timeout_ms;
}

void dal_pool_destroy(dal_pool *p)
{
    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (dal_conn *c = p->idle, *n; c != NULL; c = n) {
        n = c->next;
        mysql_close(c->my);
        free(c);
    }
    sk_batcher_free(p->gc);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

const char *dal_pool_addr(const dal_pool *p) { return p->addr; }
int dal_pool_inflight(const dal_pool *p) { return atomic_load(&((dal_pool *)p)->inflight); }

bool dal_pool_usable(dal_pool *p, int64_t now_ms, int64_t hold_ms)
{
    long long v = atomic_load(&p->avoid_until);
    if (v == 0)
        return true;
    if (now_ms < v)
        return false;
    /* the hold is over: exactly one caller gets the trial, the others keep
     * avoiding the server for another hold */
    return atomic_compare_exchange_strong(&p->avoid_until, &v, (long long)(now_ms + hold_ms));
}

void dal_pool_avoid(dal_pool *p, int64_t now_ms, int64_t hold_ms)
{
    atomic_store(&p->avoid_until, (long long)(now_ms + hold_ms));
}

void dal_pool_answered(dal_pool *p)
{
    if (atomic_load(&p->avoid_until) != 0)
        atomic_store(&p->avoid_until, 0);
}

void dal_pool_invalidate(dal_pool *p)
{
    atomic_fetch_add(&p->epoch, 1);
    pthread_mutex_lock(&p->mu);
    dal_conn *c = p->idle;
    p->idle = NULL;
    int n = 0;
    for (dal_conn *x = c; x; x = x->next)
        n++;
    p->total -= n;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (c != NULL) {
        dal_conn *next = c->next;
        mysql_close(c->my);
        free(c);
        c = next;
    }
}

sk_status dal_acquire(dal_pool *p, int64_t deadline_ms, dal_conn **out)
{
    if (atomic_fetch_add(&p->inflight, 1) >= p->o.max_inflight) {
        atomic_fetch_sub(&p->inflight, 1);
        return SK_EOVERLOADED;
    }
    unsigned ep = atomic_load(&p->epoch);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->idle != NULL && p->idle->epoch != ep) { /* stale from before a failure */
            dal_conn *c = p->idle;
            p->idle = c->next;
            p->total--;
            pthread_mutex_unlock(&p->mu);
            mysql_close(c->my);
            free(c);
            pthread_mutex_lock(&p->mu);
        }
        if (p->idle != NULL) {
            dal_conn *c = p->idle;
            p->idle = c->next;
            pthread_mutex_unlock(&p->mu);
            *out = c;
            return SK_OK;
        }
        if (p->total < p->o.size) {
            p->total++;
            pthread_mutex_unlock(&p->mu);
            char err[256];
            MYSQL *my = dal_connect(&p->o, err, sizeof err);
            if (my == NULL) {
                pthread_mutex_lock(&p->mu);
                p->total--;
                pthread_cond_signal(&p->cv);
                pthread_mutex_unlock(&p->mu);
                atomic_fetch_sub(&p->inflight, 1);
                sk_debug("event=db_connect_failed addr=%s err=\"%s\"", p->addr, err);
                return SK_ECONNECT;
            }
            dal_conn *c = calloc(1, sizeof *c);
            if (c == NULL) {
                mysql_close(my);
                pthread_mutex_lock(&p->mu);
                p->total--;
                pthread_mutex_unlock(&p->mu);
                atomic_fetch_sub(&p->inflight, 1);
                return SK_ENOMEM;
            }
            c->my = my;
            c->epoch = ep;
            *out = c;
            return SK_OK;
        }
        int64_t now = sk_mono_ms();
        if (now >= deadline_ms) {
            pthread_mutex_unlock(&p->mu);
            atomic_fetch_sub(&p->inflight, 1);
            return SK_EOVERLOADED;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = deadline_ms - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
}

void dal_release(dal_pool *p, dal_conn *c, bool broken)
{
    if (broken || c->epoch != atomic_load(&p->epoch)) {
        mysql_close(c->my);
        free(c);
        pthread_mutex_lock(&p->mu);
        p->total--;
    } else {
        pthread_mutex_lock(&p->mu);
        c->next = p->idle;
        p->idle = c;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_sub(&p->inflight, 1);
}

MYSQL *dal_mysql(dal_conn *c) { return c->my; }

sk_batcher *dal_pool_batcher(dal_pool *p) { return p->gc; }
bool dal_pool_grouped(const dal_pool *p) { return p->gc != NULL; }
