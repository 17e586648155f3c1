/*
 * dal/pool.c — bounded connection pool per group (the bulkhead) and the
 * shared MySQL helpers: connect with timeouts, error classification, exec.
 */
#include "dal/dal.h"

#include <errno.h>
#include <errmsg.h>
#include <mysqld_error.h>
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
};

void dal_library_init(void) { mysql_library_init(0, NULL, NULL); }

static unsigned secs(int ms) { return ms <= 1000 ? 1u : (unsigned)((ms + 999) / 1000); }

MYSQL *dal_connect(const dal_pool_opts *o, char *err, size_t errcap)
{
    char host[128];
    int port;
    if (sk_parse_hostport(o->addr, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "bad address %s", o->addr);
        return NULL;
    }
    MYSQL *my = mysql_init(NULL);
    if (my == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    unsigned ct = secs(o->connect_timeout_ms), rt = secs(o->read_timeout_ms), wt = secs(o->write_timeout_ms);
    my_bool no = 0;
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(my, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(my, MYSQL_OPT_WRITE_TIMEOUT, &wt);
    mysql_options(my, MYSQL_OPT_RECONNECT, &no);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(my, MYSQL_INIT_COMMAND, "SET time_zone='+00:00'");
    if (mysql_real_connect(my, host, o->user, o->password, o->db, (unsigned)port, NULL,
                           CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS) == NULL) {
        snprintf(err, errcap, "%u %s", mysql_errno(my), mysql_error(my));
        mysql_close(my);
        return NULL;
    }
    return my;
}

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
    return p;
}

void dal_pool_destroy(dal_pool *p)
{
    if (p == NULL)
        return;
    for (dal_conn *c = p->idle, *n; c != NULL; c = n) {
        n = c->next;
        mysql_close(c->my);
        free(c);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

const char *dal_pool_addr(const dal_pool *p) { return p->addr; }
int dal_pool_inflight(const dal_pool *p) { return atomic_load(&((dal_pool *)p)->inflight); }

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

sk_status dal_classify(MYSQL *my)
{
    unsigned e = mysql_errno(my);
    switch (e) {
    case 0:
        return SK_OK;
    case ER_DUP_ENTRY:
    case ER_DUP_KEY:
        return SK_EDUPKEY;
    case ER_OPTION_PREVENTS_STATEMENT: /* 1290: --read-only */
    case 1792:                         /* ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION */
    case 1836:                         /* ER_READ_ONLY_MODE */
        return SK_EREADONLY;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
        return SK_ECONNECT;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_COMMANDS_OUT_OF_SYNC:
        return SK_ETIMEDOUT;
    default:
        if (e >= 2000 && e < 3000)
            return SK_ETIMEDOUT; /* client-side errors: treat the outcome as unknown */
        return SK_EDB;
    }
}

sk_status dal_exec(MYSQL *my, const char *sql, size_t len)
{
    if (mysql_real_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    for (;;) {
        MYSQL_RES *r = mysql_store_result(my);
        if (r)
            mysql_free_result(r);
        else if (mysql_field_count(my) != 0)
            return dal_classify(my);
        int st = mysql_next_result(my);
        if (st == -1)
            return SK_OK;
        if (st > 0)
            return dal_classify(my);
    }
}

/* days since 1970-01-01 for a civil date (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void dal_fmt_dt(int64_t ms, char out[24])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    sk_strlcpy(out, tmp, 24);
}

int dal_parse_dt(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6)
        return -1;
    int frac = 0;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            frac = frac * 10 + (*p - '0');
            p++;
            digits++;
        }
        while (digits++ < 3)
            frac *= 10;
    }
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    *ms = ((days * 86400) + h * 3600 + m * 60 + sec) * 1000 + frac;
    return 0;
}
