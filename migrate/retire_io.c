/*
 * migrate/retire_io.c — `skipctl group retire G [--into T]` (shrink).
 * The mechanism and its invariants are described in docs/shrink.md; the
 * state machine is migrate/mig_core.c (mig_next). In short:
 *   DRAINING  config G: draining, reload all daemons, wait for in-flight 0
 *   COPYING   orders, then refunds, G -> T in PK chunks (version-guarded
 *             upsert / INSERT IGNORE), throttled by T's replica lag; the
 *             state file records every chunk bound, so a crash resumes at
 *             the last copied key
 *   CATCHUP   rows changed since copy start (updated_at >= start - margin),
 *             repeated until a round is small; then every chunk verified
 *   FREEZING  skip:freeze:G (PX TTL, so a crashed skipctl cannot leave it
 *             behind for long), acks from every live daemon, final catch-up,
 *             re-verify the chunks touched since the full verification
 *   FLIPPING  config G: retired, alias_of T; reload all; DEL freeze; then
 *             move G's pending outbox rows to T's outbox
 *   RETIRED   (--drop --yes deletes G's rows later)
 */
/* messages are truncated to their buffers on purpose */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "migrate/migio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dal/dal.h"
#include "migrate/mig.h"

#define COPY_READ_TIMEOUT_MS 60000   /* one chunk / checksum statement on the admin connection */
#define FREEZE_TTL_MS 10000          /* a crashed skipctl's freeze lapses after this */
#define FREEZE_ATTEMPTS 5
#define CATCHUP_ROUNDS 20
#define LAG_WAIT_MAX_MS 300000
#define VERIFY_ROUNDS 5               /* re-copy + re-check rounds for a differing chunk */
#define LAG_CHECK_MS 500             /* replica lag is looked at twice a second while copying */

typedef struct {
    const mig_retire_opts *o;
    conf *c;
    mig_job j;
    char path[4096];
    MYSQL *g, *t;               /* admin connections to G's and T's primaries */
    kv *kv;
    char freeze_token[96];
    char filter[512], rfilter[512];
    mu_buf buf;
    char err[1024];
    int64_t t0_ms;
    int64_t lag_checked_ms;     /* last replica-lag check (mono) */
} rt;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void say(rt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(rt *r, const char *fmt, ...)
{
    if (r->o->m.json)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (mu_tty())
        printf("\r\033[K");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* ---------------- state file ---------------- */

static int save(rt *r)
{
    json_t *j = mig_job_to_json(&r->j);
    if (j == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->path);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (s == NULL || fd < 0) {
        free(s);
        if (fd >= 0)
            close(fd);
        snprintf(r->err, sizeof r->err, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            off += (size_t)w;
    }
    free(s);
    if (off != len || fsync(fd) != 0) {
        close(fd);
        snprintf(r->err, sizeof r->err, "%s: write failed", tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, r->path) != 0) {
        snprintf(r->err, sizeof r->err, "rename %s: %s", r->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int step(rt *r, mig_event e)
{
    mig_state n;
    if (mig_next(r->j.state, e, &n) != 0) {
        snprintf(r->err, sizeof r->err, "illegal transition %s on %s", mig_event_name(e),
                 mig_state_name(r->j.state));
        return -1;
    }
    sk_info("event=retire_step group=%d from=%s to=%s", r->j.group, mig_state_name(r->j.state), mig_state_name(n));
    r->j.state = n;
    return save(r);
}

static int load_state(rt *r, bool *found)
{
    *found = false;
    json_error_t je;
    FILE *f = fopen(r->path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    json_t *j = json_loadf(f, 0, &je);
    fclose(f);
    if (j == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->path, je.text);
        return -1;
    }
    int rc = mig_job_from_json(j, &r->j, r->err, sizeof r->err);
    json_decref(j);
    if (rc == 0)
        *found = true;
    return rc;
}

/* ---------------- config ---------------- */

static conf_group *cgroup(conf *c, int id)
{
    for (int i = 0; i < c->ngroups; i++)
        if (c->groups[i].id == id)
            return &c->groups[i];
    return NULL;
}

/* Set G's configured state (and alias) in the file and reload every daemon;
 * a no-op write when it is already so (the reload still happens: a daemon
 * may have missed it before a crash). */
static int set_group_state(rt *r, group_state st, int alias, int weight)
{
    conf_free(r->c);
    r->c = mu_conf_load(r->o->m.config, r->err, sizeof r->err);
    if (r->c == NULL)
        return -1;
    conf_group *g = cgroup(r->c, r->j.group);
    if (g == NULL) {
        snprintf(r->err, sizeof r->err, "group %d is no longer in %s", r->j.group, r->o->m.config);
        return -1;
    }
    if (g->state != st || g->alias_of != alias || (weight >= 0 && g->weight != weight)) {
        g->state = st;
        g->alias_of = alias;
        if (weight >= 0)
            g->weight = weight;
        if (mu_conf_write(r->o->m.config, r->c, r->err, sizeof r->err) != 0)
            return -1;
        conf_free(r->c);
        r->c = mu_conf_load(r->o->m.config, r->err, sizeof r->err);
        if (r->c == NULL)
            return -1;
    }
    return mu_reload_all(&r->o->m, r->err, sizeof r->err);
}

/* ---------------- connections ---------------- */

static int connect_both(rt *r)
{
    char e[512];
    if (r->g == NULL && (r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "group %d primary %s: %s", r->j.group, r->j.g_primary, e);
        return -1;
    }
    if (r->t == NULL && (r->t = mu_connect(&r->o->m, r->c, r->j.t_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "group %d primary %s: %s", r->j.into, r->j.t_primary, e);
        return -1;
    }
    return 0;
}

/* Largest Seconds_Behind_Master over T's replicas; -1 = unknown/broken. */
static int t_lag(rt *r)
{
    int worst = 0;
    char list[512];
    snprintf(list, sizeof list, "%s", r->j.t_replicas);
    for (char *sv = NULL, *a = strtok_r(list, ",", &sv); a; a = strtok_r(NULL, ",", &sv)) {
        char e[256];
        MYSQL *my = mu_connect(&r->o->m, r->c, a, false, 2000, e, sizeof e);
        if (my == NULL)
            return -1;
        int lag = -1;
        if (mysql_query(my, "SHOW SLAVE STATUS") == 0) {
            MYSQL_RES *res = mysql_store_result(my);
            if (res) {
                MYSQL_ROW row = mysql_fetch_row(res);
                MYSQL_FIELD *f = mysql_fetch_fields(res);
                for (unsigned i = 0; row && i < mysql_num_fields(res); i++)
                    if (strcmp(f[i].name, "Seconds_Behind_Master") == 0 && row[i])
                        lag = atoi(row[i]);
                mysql_free_result(res);
            }
        }
        mysql_close(my);
        if (lag < 0)
            return -1;
        if (lag > worst)
            worst = lag;
    }
    return worst;
}

static int throttle(rt *r)
{
    if (r->o->throttle_ms > 0)
        sleep_ms(r->o->throttle_ms);
    if (r->j.t_replicas[0] == '\0')
        return 0;
    /* Seconds_Behind_Master has a 1 s resolution: asking after every chunk
     * (a new connection per replica) only costs copy time */
    if (r->lag_checked_ms && sk_mono_ms() - r->lag_checked_ms < LAG_CHECK_MS)
        return 0;
    r->lag_checked_ms = sk_mono_ms();
    int64_t until = sk_mono_ms() + LAG_WAIT_MAX_MS;
    for (;;) {
        int lag = t_lag(r);
        if (lag >= 0 && lag <= r->o->max_lag_s)
            return 0;
        if (sk_mono_ms() > until) {
            snprintf(r->err, sizeof r->err, "group %d replicas lag %ds (or replication broken) for %ds; stopping",
                     r->j.into, lag, LAG_WAIT_MAX_MS / 1000);
            return -1;
        }
        sleep_ms(500);
    }
}

/* ---------------- copying ---------------- */

typedef enum { T_ORDERS, T_REFUNDS, T_OUTBOX } tbl;

/* Run `sel` on G (at most one chunk of rows) and write the rows to T.
 * Returns the number of rows (0..), -1 on error. lastkey gets column 0 of
 * the last row; ids_csv (if set) gets column 0 of every row, comma-separated. */
static int64_t write_rows(rt *r, tbl t, MYSQL_RES *res, char *lastkey, char *ids_csv, size_t ids_cap);

static int64_t copy_select(rt *r, tbl t, const char *sel, char *lastkey, char *ids_csv,
                           size_t ids_cap)
{
    if (mysql_real_query(r->g, sel, strlen(sel)) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, mysql_error(r->g));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(r->g);
    if (res == NULL) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, mysql_error(r->g));
        return -1;
    }
    return write_rows(r, t, res, lastkey, ids_csv, ids_cap);
}

/* Write the rows of res (freed here) to T as one multi-row statement. */
static int64_t write_rows(rt *r, tbl t, MYSQL_RES *res, char *lastkey, char *ids_csv, size_t ids_cap)
{
    int64_t n = 0;
    mu_buf *b = &r->buf;
    b->len = 0;
    b->oom = false;
    static const char *const head[] = {
        [T_ORDERS] = "INSERT INTO orders (" MIG_ORDER_COLS ") VALUES ",
        [T_REFUNDS] = "INSERT IGNORE INTO refunds (" MIG_REFUND_COLS ") VALUES ",
        [T_OUTBOX] = "INSERT INTO outbox (" MIG_OUTBOX_COLS ") VALUES ",
    };
    mu_buf_str(b, head[t]);
    unsigned nf = mysql_num_fields(res);
    unsigned first = t == T_OUTBOX ? 1 : 0;   /* outbox: column 0 is G's id, not copied */
    size_t idl = 0;
    if (ids_csv)
        ids_csv[0] = '\0';
    MYSQL_ROW row;
    int64_t written = 0;
    while ((row = mysql_fetch_row(res)) != NULL) {
        unsigned long *len = mysql_fetch_lengths(res);
        n++;
        if (lastkey)
            snprintf(lastkey, MIG_KEY_LEN + 1, "%s", row[0] ? row[0] : "");
        /* an orphan of G (closed, never given out) whose key T's row holds: left out */
        if (t == T_ORDERS && row[0] && mig_keyset_has(&r->j.skipped_orphans, row[0]))
            continue;
        mu_buf_str(b, written++ ? ",(" : "(");
        for (unsigned i = first; i < nf; i++) {
            if (i > first)
                mu_buf_put(b, ",", 1);
            mu_buf_val(b, r->t, row[i], len[i]);
        }
        mu_buf_put(b, ")", 1);
        if (ids_csv && row[0]) {
            int w = snprintf(ids_csv + idl, ids_cap - idl, "%s%s", idl ? "," : "", row[0]);
            if (w > 0 && (size_t)w < ids_cap - idl)
                idl += (size_t)w;
        }
    }
    mysql_free_result(res);
    if (written == 0)
        return n;
    if (t == T_ORDERS)
        mu_buf_str(b, mig_orders_upsert_suffix());
    if (b->oom) {
        snprintf(r->err, sizeof r->err, "out of memory building a chunk");
        return -1;
    }
    if (mysql_real_query(r->t, b->p, b->len) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: insert: %s", r->j.into, mysql_error(r->t));
        return -1;
    }
    return n;
}

static int64_t count_g(rt *r, const char *sql)
{
    char e[512];
    int64_t n = mu_int(r->g, sql, e, sizeof e);
    if (n < 0)
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, e);
    return n;
}

/* The copy reads chunk k+1 from G (own connection, own thread) while chunk
 * k is written to T: reading and writing overlap instead of alternating. */
typedef struct {
    rt *r;
    MYSQL *my;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    MYSQL_RES *slot;        /* the next chunk, handed to the writer */
    bool full, eof, failed, stop;
    char after[MIG_KEY_LEN + 1];
    char err[512];
} reader;

static void *reader_main(void *arg)
{
    reader *rd = arg;
    char sel[1024];
    for (;;) {
        snprintf(sel, sizeof sel, "SELECT " MIG_ORDER_COLS " FROM orders WHERE order_no > '%s' ORDER BY order_no LIMIT %d",
                 rd->after, rd->r->j.chunk_rows);
        MYSQL_RES *res = NULL;
        if (mysql_real_query(rd->my, sel, strlen(sel)) != 0 || (res = mysql_store_result(rd->my)) == NULL) {
            pthread_mutex_lock(&rd->mu);
            snprintf(rd->err, sizeof rd->err, "group %d: %s", rd->r->j.group, mysql_error(rd->my));
            rd->failed = true;
            pthread_cond_broadcast(&rd->cv);
            pthread_mutex_unlock(&rd->mu);
            return NULL;
        }
        my_ulonglong rows = mysql_num_rows(res);
        if (rows > 0) {
            mysql_data_seek(res, rows - 1);
            MYSQL_ROW last = mysql_fetch_row(res);
            snprintf(rd->after, sizeof rd->after, "%s", last && last[0] ? last[0] : "");
            mysql_data_seek(res, 0);
        }
        pthread_mutex_lock(&rd->mu);
        while (rd->full && !rd->stop)
            pthread_cond_wait(&rd->cv, &rd->mu);
        if (rd->stop) {
            pthread_mutex_unlock(&rd->mu);
            mysql_free_result(res);
            return NULL;
        }
        rd->slot = res;
        rd->full = true;
        bool end = rows < (my_ulonglong)rd->r->j.chunk_rows;
        rd->eof = end;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        if (end)
            return NULL;
    }
}

/* Next chunk from the reader: 1 (res set), 0 (no more), -1 (error). */
static int reader_take(reader *rd, MYSQL_RES **res)
{
    pthread_mutex_lock(&rd->mu);
    while (!rd->full && !rd->failed)
        pthread_cond_wait(&rd->cv, &rd->mu);
    int rc;
    if (rd->full) {
        *res = rd->slot;
        rd->slot = NULL;
        rd->full = false;
        rc = 1;
        pthread_cond_broadcast(&rd->cv);
    } else {
        snprintf(rd->r->err, sizeof rd->r->err, "%s", rd->err);
        rc = -1;
    }
    pthread_mutex_unlock(&rd->mu);
    return rc;
}

static void reader_stop(reader *rd)
{
    pthread_mutex_lock(&rd->mu);
    rd->stop = true;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    pthread_join(rd->th, NULL);
    if (rd->slot)
        mysql_free_result(rd->slot);
    mysql_close(rd->my);
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
}

/* Several writer connections to T (docs/shrink.md "Parallel writers"): each
 * chunk's rows are split into K contiguous, disjoint order_no slices, each
 * written by its own thread/connection as one guarded multi-row upsert. The
 * chunk is recorded in the state file only after EVERY slice committed, so
 * the resume point never passes a row that is not in T. The statements are
 * the same version-guarded upserts as before, so a slice retried after a
 * deadlock (or re-copied after a crash) is idempotent. */
#define WRITER_RETRIES 5

typedef struct wpool wpool;
typedef struct {
    wpool *p;
    int idx;
    MYSQL *my;
    pthread_t th;
    mu_buf buf;
    bool busy, failed;
    char err[512];
} writer;

struct wpool {
    rt *r;
    int k, started;
    writer *w;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen;
    int pending;
    bool stop;
};

static void *writer_main(void *arg)
{
    writer *w = arg;
    wpool *p = w->p;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && (p->gen == seen || !w->busy))
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        bool failed = false;
        char err[512] = "";
        for (int attempt = 0;; attempt++) {
            if (mysql_real_query(w->my, w->buf.p, w->buf.len) == 0)
                break;
            unsigned en = mysql_errno(w->my);
            /* 1213 deadlock, 1205 lock wait timeout: the statement was rolled
             * back; the guarded upsert is safe to run again */
            if ((en == 1213 || en == 1205) && attempt < WRITER_RETRIES) {
                sleep_ms(10 * (attempt + 1));
                continue;
            }
            snprintf(err, sizeof err, "group %d: insert (writer %d): %s", p->r->j.into, w->idx, mysql_error(w->my));
            failed = true;
            break;
        }
        pthread_mutex_lock(&p->mu);
        w->busy = false;
        w->failed = failed;
        snprintf(w->err, sizeof w->err, "%s", err);
        if (--p->pending == 0)
            pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void wpool_stop(wpool *p)
{
    if (p->w == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->w[i].th, NULL);
    for (int i = 0; i < p->k; i++) {
        if (p->w[i].my)
            mysql_close(p->w[i].my);
        mu_buf_free(&p->w[i].buf);
    }
    free(p->w);
    p->w = NULL;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
}

static int wpool_start(wpool *p, rt *r, int k)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->k = k;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if ((p->w = calloc((size_t)k, sizeof *p->w)) == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory (writers)");
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->go);
        pthread_cond_destroy(&p->done);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        writer *w = &p->w[i];
        char e[512];
        w->p = p;
        w->idx = i;
        if ((w->my = mu_connect(&r->o->m, r->c, r->j.t_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
            snprintf(r->err, sizeof r->err, "group %d primary %s (writer %d): %s", r->j.into, r->j.t_primary, i, e);
            wpool_stop(p);
            return -1;
        }
        if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
            snprintf(r->err, sizeof r->err, "cannot start writer thread %d", i);
            wpool_stop(p);
            return -1;
        }
        p->started++;
    }
    return 0;
}

/* Write the orders of res (freed here) to T on the pool's K connections,
 * split into K contiguous slices; returns only when every slice has
 * committed (or failed). Returns the number of rows read (0..), -1 on error.
 * lastkey gets the order_no of the last row. */
static int64_t pool_write_orders(wpool *p, MYSQL_RES *res, char *lastkey)
{
    rt *r = p->r;
    my_ulonglong nrows = mysql_num_rows(res);
    unsigned nf = mysql_num_fields(res);
    int64_t n = 0;
    int used = 0;
    for (int i = 0; i < p->k; i++) {
        int64_t lo, hi;
        mig_split_range((int64_t)nrows, p->k, i, &lo, &hi);
        if (lo >= hi)
            continue;
        writer *w = &p->w[i];
        mu_buf *b = &w->buf;
        b->len = 0;
        b->oom = false;
        mu_buf_str(b, "INSERT INTO orders (" MIG_ORDER_COLS ") VALUES ");
        int64_t written = 0;
        mysql_data_seek(res, (my_ulonglong)lo);
        for (int64_t x = lo; x < hi; x++) {
            MYSQL_ROW row = mysql_fetch_row(res);
            if (row == NULL)
                break;
            unsigned long *len = mysql_fetch_lengths(res);
            n++;
            if (lastkey)
                snprintf(lastkey, MIG_KEY_LEN + 1, "%s", row[0] ? row[0] : "");
            if (row[0] && mig_keyset_has(&r->j.skipped_orphans, row[0]))
                continue;
            mu_buf_str(b, written++ ? ",(" : "(");
            for (unsigned c = 0; c < nf; c++) {
                if (c > 0)
                    mu_buf_put(b, ",", 1);
                mu_buf_val(b, w->my, row[c], len[c]);
            }
            mu_buf_put(b, ")", 1);
        }
        if (written == 0)
            continue;
        mu_buf_str(b, mig_orders_upsert_suffix());
        if (b->oom) {
            mysql_free_result(res);
            snprintf(r->err, sizeof r->err, "out of memory building a chunk");
            return -1;
        }
        pthread_mutex_lock(&p->mu);
        w->busy = true;
        w->failed = false;
        p->pending++;
        p->gen++;
        pthread_cond_broadcast(&p->go);
        pthread_mutex_unlock(&p->mu);
        used++;
    }
    mysql_free_result(res);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    for (int i = 0; i < p->k; i++)
        if (p->w[i].failed) {
            snprintf(r->err, sizeof r->err, "%s", p->w[i].err);
            p->w[i].failed = false;
            rc = -1;
        }
    pthread_mutex_unlock(&p->mu);
    (void)used;
    return rc < 0 ? -1 : n;
}

/* K = --writers, else SKIP_RETIRE_WRITERS (1..MIG_MAX_WRITERS), else MIG_DEFAULT_WRITERS. */
static int writers_k(const mig_retire_opts *o)
{
    if (o->writers >= 1 && o->writers <= MIG_MAX_WRITERS)
        return o->writers;
    const char *v = getenv("SKIP_RETIRE_WRITERS");
    int k = MIG_DEFAULT_WRITERS;
    if (v && *v && mig_parse_writers(v, &k) != 0)
        k = MIG_DEFAULT_WRITERS;
    return k;
}

static int copy_orders(rt *r, int64_t total)
{
    int64_t t_start = sk_mono_ms(), done_at_start = r->j.rows_copied;
    reader rd;
    memset(&rd, 0, sizeof rd);
    rd.r = r;
    snprintf(rd.after, sizeof rd.after, "%s", r->j.last_order);
    char e[512];
    if ((rd.my = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "group %d primary %s: %s", r->j.group, r->j.g_primary, e);
        return -1;
    }
    pthread_mutex_init(&rd.mu, NULL);
    pthread_cond_init(&rd.cv, NULL);
    if (pthread_create(&rd.th, NULL, reader_main, &rd) != 0) {
        mysql_close(rd.my);
        snprintf(r->err, sizeof r->err, "cannot start the reader thread");
        return -1;
    }
    wpool wp;
    int k = writers_k(r->o);
    if (wpool_start(&wp, r, k) != 0) {
        reader_stop(&rd);
        return -1;
    }
    int rc = 0;
    for (;;) {
        MYSQL_RES *res = NULL;
        if (reader_take(&rd, &res) < 0) {
            rc = -1;
            break;
        }
        char last[MIG_KEY_LEN + 1] = "";
        /* returns after all K slices committed: only then is the chunk recorded */
        int64_t n = pool_write_orders(&wp, res, last);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (mig_chunks_add(&r->j.chunks, last) != 0) {
            snprintf(r->err, sizeof r->err, "too many chunks (raise --chunk-rows)");
            rc = -1;
            break;
        }
        snprintf(r->j.last_order, sizeof r->j.last_order, "%s", last);
        r->j.rows_copied += n;
        if (save(r) != 0) {
            rc = -1;
            break;
        }
        double secs = (double)(sk_mono_ms() - t_start) / 1000.0;
        mu_progress("orders", r->j.rows_copied, total > r->j.rows_copied ? total : r->j.rows_copied,
                    secs > 0 ? (double)(r->j.rows_copied - done_at_start) / secs : 0);
        if (n < r->j.chunk_rows)
            break;
        if (throttle(r) != 0) {
            rc = -1;
            break;
        }
    }
    reader_stop(&rd);
    wpool_stop(&wp);
    return rc;
}

static int do_copy(rt *r)
{
    int64_t total = count_g(r, "SELECT COUNT(*) FROM orders");
    int64_t rtotal = count_g(r, "SELECT COUNT(*) FROM refunds");
    if (total < 0 || rtotal < 0)
        return -1;
    int64_t t_start = sk_mono_ms(), done_at_start = r->j.rows_copied;
    char sel[1024];
    if (copy_orders(r, total) != 0)
        return -1;
    for (;;) {
        snprintf(sel, sizeof sel, "SELECT " MIG_REFUND_COLS " FROM refunds WHERE refund_no > '%s' ORDER BY refund_no LIMIT %d",
                 r->j.last_refund, r->j.chunk_rows);
        char last[MIG_KEY_LEN + 1] = "";
        int64_t n = copy_select(r, T_REFUNDS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        snprintf(r->j.last_refund, sizeof r->j.last_refund, "%s", last);
        r->j.refunds_copied += n;
        if (save(r) != 0)
            return -1;
        mu_progress("refunds", r->j.refunds_copied, rtotal, 0);
        if (n < r->j.chunk_rows)
            break;
        if (throttle(r) != 0)
            return -1;
    }
    double secs = (double)(sk_mono_ms() - t_start) / 1000.0;
    say(r, "copied %" PRId64 " orders, %" PRId64 " refunds in %.2fs (%.0f rows/s)", r->j.rows_copied,
        r->j.refunds_copied, secs, secs > 0 ? (double)(r->j.rows_copied - done_at_start) / secs : 0.0);
    return 0;
}

/* One catch-up pass: rows of G changed at or after from_ms (orders by
 * updated_at, refunds by created_at) upserted into T. touched (may be NULL)
 * gets a mark per chunk holding a changed order. Returns rows moved or -1. */
static int64_t catch_up(rt *r, int64_t from_ms, unsigned char *touched)
{
    char dt[24], sel[1024], last[MIG_KEY_LEN + 1] = "";
    dal_fmt_dt(from_ms, dt);
    int64_t moved = 0;
    static char ids[(MIG_KEY_LEN + 1) * 20000];
    for (;;) {
        snprintf(sel, sizeof sel,
                 "SELECT " MIG_ORDER_COLS " FROM orders WHERE updated_at >= '%s' AND order_no > '%s' "
                 "ORDER BY order_no LIMIT %d", dt, last, r->j.chunk_rows);
        int64_t n = copy_select(r, T_ORDERS, sel, last, touched ? ids : NULL, sizeof ids);
        if (n < 0)
            return -1;
        if (touched && n > 0) {
            for (char *sv = NULL, *k = strtok_r(ids, ",", &sv); k; k = strtok_r(NULL, ",", &sv))
                touched[mig_chunks_find(&r->j.chunks, k)] = 1;
        }
        moved += n;
        if (n < r->j.chunk_rows)
            break;
    }
    last[0] = '\0';
    for (;;) {
        snprintf(sel, sizeof sel,
                 "SELECT " MIG_REFUND_COLS " FROM refunds WHERE created_at >= '%s' AND refund_no > '%s' "
                 "ORDER BY refund_no LIMIT %d", dt, last, r->j.chunk_rows);
        int64_t n = copy_select(r, T_REFUNDS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        moved += n;
        if (n < r->j.chunk_rows)
            break;
    }
    return moved;
}

/* ---------------- verification ---------------- */

static int checksum(rt *r, MYSQL *my, const char *sql, char out[2][128])
{
    char e[512];
    if (mu_row(my, sql, out, 2, e, sizeof e) != 1) {
        snprintf(r->err, sizeof r->err, "checksum: %s", e);
        return -1;
    }
    return 0;
}

/* Verify chunk i: 1 = equal, 0 = differs, -1 = error. */
static int verify_chunk(rt *r, int i, bool quiet)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sql[2048];
    char a[2][128], b[2][128];
    if (mig_checksum_sql(sql, sizeof sql, lo, hi, r->filter) < 0) {
        snprintf(r->err, sizeof r->err, "checksum SQL for chunk %d", i);
        return -1;
    }
    if (checksum(r, r->t, sql, b) != 0)
        return -1;
    /* G's side leaves out G's orphans (closed; T holds the given order under that key) */
    size_t xcap = (size_t)r->j.skipped_orphans.n * (MIG_KEY_LEN + 4) + 64;
    char *gfilter = malloc(strlen(r->filter) + xcap), *gsql = malloc(strlen(r->filter) + xcap + 2048);
    int rc = -1;
    if (gfilter && gsql) {
        strcpy(gfilter, r->filter);
        if (mig_exclude_sql(&r->j.skipped_orphans, lo, hi, gfilter + strlen(r->filter), xcap) >= 0 &&
            mig_checksum_sql(gsql, strlen(r->filter) + xcap + 2048, lo, hi, gfilter) >= 0)
            rc = checksum(r, r->g, gsql, a);
        else
            snprintf(r->err, sizeof r->err, "checksum SQL for chunk %d", i);
    } else {
        snprintf(r->err, sizeof r->err, "out of memory");
    }
    free(gfilter);
    free(gsql);
    if (rc != 0)
        return -1;
    if (strcmp(a[0], b[0]) == 0 && strcmp(a[1], b[1]) == 0)
        return 1;
    if (!quiet) {
        say(r, "chunk %d (%s, %s]: group %d has %s rows crc %s, group %d has %s rows crc %s", i, lo[0] ? lo : "-inf",
            hi[0] ? hi : "+inf", r->j.group, a[0], a[1], r->j.into, b[0], b[1]);
        sk_warn("event=retire_chunk_differs group=%d chunk=%d lo=%s hi=%s g_rows=%s g_crc=%s t_rows=%s t_crc=%s",
                r->j.group, i, lo[0] ? lo : "-", hi[0] ? hi : "-", a[0], a[1], b[0], b[1]);
    }
    return 0;
}

static int verify_refunds(rt *r)
{
    char sql[2048], a[2][128], b[2][128];
    if (mig_refund_checksum_sql(sql, sizeof sql, r->rfilter) < 0)
        return -1;
    if (checksum(r, r->g, sql, a) != 0 || checksum(r, r->t, sql, b) != 0)
        return -1;
    if (strcmp(a[0], b[0]) == 0 && strcmp(a[1], b[1]) == 0)
        return 1;
    say(r, "refunds: group %d has %s crc %s, group %d has %s crc %s", r->j.group, a[0], a[1], r->j.into, b[0], b[1]);
    return 0;
}

/* Re-copy chunk i from G (version-guarded: fixes a row T missed). */
static int recopy_chunk(rt *r, int i)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sel[1024], last[MIG_KEY_LEN + 1];
    snprintf(last, sizeof last, "%s", lo);
    for (;;) {
        snprintf(sel, sizeof sel, "SELECT " MIG_ORDER_COLS " FROM orders WHERE order_no > '%s'%s%s%s ORDER BY order_no LIMIT %d",
                 last, hi[0] ? " AND order_no <= '" : "", hi, hi[0] ? "'" : "", r->j.chunk_rows);
        int64_t n = copy_select(r, T_ORDERS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        if (n < r->j.chunk_rows)
            return 0;
    }
}

/* ---------------- key clashes (docs/shrink.md "Key clashes") ---------------- */

#define ORPHAN_DDL "CREATE TABLE IF NOT EXISTS retired_orphans (" \
    "order_no CHAR(25) NOT NULL PRIMARY KEY, group_id TINYINT UNSIGNED NOT NULL, " \
    "merchant_id VARCHAR(32) NOT NULL, out_trade_no VARCHAR(64) NOT NULL, status VARCHAR(10) NOT NULL, " \
    "version INT UNSIGNED NOT NULL, row_json TEXT NOT NULL, action VARCHAR(16) NOT NULL, " \
    "retired_group TINYINT UNSIGNED NOT NULL, kept_order_no CHAR(25) NOT NULL, recorded_at DATETIME(3) NOT NULL" \
    ") ENGINE=InnoDB"
#define ROW_JSON "JSON_OBJECT('order_no',order_no,'group_id',group_id,'merchant_id',merchant_id," \
    "'out_trade_no',out_trade_no,'store_id',store_id,'terminal_id',terminal_id,'amount',amount,'currency',currency," \
    "'channel',channel,'subject',subject,'attach',attach,'status',status,'refunded_amount',refunded_amount," \
    "'channel_txn_id',channel_txn_id,'version',version,'created_at',created_at,'updated_at',updated_at," \
    "'expire_at',expire_at,'paid_at',paid_at,'closed_at',closed_at)"

static void esc(MYSQL *my, const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);
    if (2 * n + 1 > cap)
        n = (cap - 1) / 2;
    mysql_real_escape_string(my, out, s, (unsigned long)n);
}

/* status and "has refunds" of order no on my: 1 found, 0 not, -1 error */
static int side_info(rt *r, MYSQL *my, int grp, const char *no, char status[16], bool *refunds)
{
    char sql[256], v[2][128], e[512];
    snprintf(sql, sizeof sql, "SELECT status, (SELECT COUNT(*) FROM refunds WHERE order_no='%s') FROM orders "
             "WHERE order_no='%s'", no, no);
    int rc = mu_row(my, sql, v, 2, e, sizeof e);
    if (rc < 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", grp, e);
        return -1;
    }
    if (rc == 1) {
        snprintf(status, 16, "%s", v[0]);
        *refunds = atoll(v[1]) > 0;
    }
    return rc;
}

/* CREATED -> CLOSED through the daemon (version+1, closed_at, outbox event
 * in the same transaction, so the mirror sees it). */
static int close_orphan(rt *r, int grp, const char *no)
{
    char url[512], path[128], e[512];
    const char *u = mu_daemon_url(&r->o->m, 0, url, sizeof url);
    snprintf(path, sizeof path, "/v1/orders/%s/close", no);
    int st = u ? mu_post(&r->o->m, u, path, "{}", NULL, e, sizeof e) : -1;
    if (st != 200) {
        snprintf(r->err, sizeof r->err, "closing orphan %s (group %d) through %s: %s", no, grp, u ? u : "(no daemon)",
                 u ? e : "give --daemons");
        return -1;
    }
    return 0;
}

static int orphan_table(rt *r)
{
    char e[512];
    if (mu_exec(r->t, ORPHAN_DDL, strlen(ORPHAN_DDL), e, sizeof e) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: create retired_orphans: %s", r->j.into, e);
        return -1;
    }
    return 0;
}

/* Archive G's orphan row (as it is now, closed) in T's retired_orphans. */
static int archive_g_row(rt *r, const char *no, const char *kept)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT order_no, group_id, merchant_id, out_trade_no, status, version, " ROW_JSON
             " FROM orders WHERE order_no='%s'", no);
    if (mysql_real_query(r->g, sql, strlen(sql)) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, mysql_error(r->g));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(r->g);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row == NULL) {
        if (res)
            mysql_free_result(res);
        snprintf(r->err, sizeof r->err, "group %d: orphan %s vanished", r->j.group, no);
        return -1;
    }
    unsigned long *len = mysql_fetch_lengths(res);
    mu_buf b = {0};
    mu_buf_str(&b, "INSERT INTO retired_orphans (order_no, group_id, merchant_id, out_trade_no, status, version, "
                   "row_json, action, retired_group, kept_order_no, recorded_at) VALUES (");
    for (int i = 0; i < 7; i++) {
        mu_buf_val(&b, r->t, row[i], len[i]);
        mu_buf_put(&b, ",", 1);
    }
    char tail[160];
    snprintf(tail, sizeof tail, "'skipped',%d,'%s',NOW(3)) ON DUPLICATE KEY UPDATE status=VALUES(status), "
             "version=VALUES(version), row_json=VALUES(row_json)", r->j.group, kept);
    mu_buf_str(&b, tail);
    mysql_free_result(res);
    char e[512];
    int rc = b.oom ? -1 : mu_exec(r->t, b.p, b.len, e, sizeof e);
    mu_buf_free(&b);
    if (rc != 0) {
        snprintf(r->err, sizeof r->err, "group %d: retired_orphans: %s", r->j.into, b.oom ? "out of memory" : e);
        return -1;
    }
    return 0;
}

/* Archive T's (closed) orphan in retired_orphans and delete it with its
 * outbox rows, in one transaction on T. */
static int retire_t_row(rt *r, const char *no, const char *kept)
{
    char sql[2048], e[512];
    /* let the relay publish the close first (the mirror then shows it CLOSED) */
    for (int i = 0; i < 30; i++) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM outbox WHERE order_no='%s'", no);
        if (mu_int(r->t, sql, e, sizeof e) <= 0)
            break;
        sleep_ms(100);
    }
    if (mu_exec(r->t, "START TRANSACTION", 17, e, sizeof e) != 0)
        goto fail;
    snprintf(sql, sizeof sql, "INSERT INTO retired_orphans (order_no, group_id, merchant_id, out_trade_no, status, "
             "version, row_json, action, retired_group, kept_order_no, recorded_at) SELECT order_no, group_id, "
             "merchant_id, out_trade_no, status, version, " ROW_JSON ", 'deleted', %d, '%s', NOW(3) FROM orders "
             "WHERE order_no='%s' AND status='CLOSED' ON DUPLICATE KEY UPDATE status=VALUES(status), "
             "version=VALUES(version), row_json=VALUES(row_json), action=VALUES(action)", r->j.group, kept, no);
    if (mu_exec(r->t, sql, strlen(sql), e, sizeof e) != 0)
        goto fail;
    snprintf(sql, sizeof sql, "DELETE FROM outbox WHERE order_no='%s'", no);
    if (mu_exec(r->t, sql, strlen(sql), e, sizeof e) != 0)
        goto fail;
    snprintf(sql, sizeof sql, "DELETE FROM orders WHERE order_no='%s' AND status='CLOSED' AND NOT EXISTS "
             "(SELECT 1 FROM refunds WHERE order_no='%s')", no, no);
    if (mysql_real_query(r->t, sql, strlen(sql)) != 0) {
        snprintf(e, sizeof e, "%s", mysql_error(r->t));
        goto fail;
    }
    if (mysql_affected_rows(r->t) != 1) {
        snprintf(e, sizeof e, "orphan %s is no longer a closed order without refunds; not deleted", no);
        goto fail;
    }
    if (mu_exec(r->t, "COMMIT", 6, e, sizeof e) != 0)
        goto fail;
    return 0;
fail:
    (void)mysql_real_query(r->t, "ROLLBACK", 8);
    snprintf(r->err, sizeof r->err, "group %d: removing orphan %s: %s", r->j.into, no, e);
    return -1;
}

/* G's order gno (merchant m, out_trade_no otn) is missing in T. 1 = it
 * clashed with another order of T and was resolved, 0 = no clash, -1 =
 * error or a clash that needs a DBA (r->err). */
static int resolve_one(rt *r, const char *gno, const char *m, const char *otn)
{
    char em[80], eo[140], sql[512], v[3][128], e[512];
    esc(r->t, m, em, sizeof em);
    esc(r->t, otn, eo, sizeof eo);
    snprintf(sql, sizeof sql, "SELECT o.order_no, o.status, (SELECT COUNT(*) FROM refunds f WHERE "
             "f.order_no=o.order_no) FROM orders o WHERE o.merchant_id='%s' AND o.out_trade_no='%s'", em, eo);
    int rc = mu_row(r->t, sql, v, 3, e, sizeof e);
    if (rc < 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, e);
        return -1;
    }
    if (rc == 0 || strcmp(v[0], gno) == 0)
        return 0;
    char tno[MIG_KEY_LEN + 1], tstat[16], gstat[16] = "";
    snprintf(tno, sizeof tno, "%s", v[0]);
    snprintf(tstat, sizeof tstat, "%s", v[1]);
    bool trf = atoll(v[2]) > 0, grf = false;
    if ((rc = side_info(r, r->g, r->j.group, gno, gstat, &grf)) <= 0) {
        if (rc == 0)
            snprintf(r->err, sizeof r->err, "group %d: order %s vanished", r->j.group, gno);
        return -1;
    }
    char idem[MIG_KEY_LEN + 1] = "";
    redisReply *x = kv_cmd(r->kv, "GET skip:idem:%s:%s", m, otn);
    if (x && x->type == REDIS_REPLY_STRING)
        (void)mig_idem_number(x->str, x->len, idem);
    if (x)
        freeReplyObject(x);
    mig_clash_side gs = {gno, gstat, grf}, ts = {tno, tstat, trf};
    mig_clash k = mig_classify_clash(&gs, &ts, idem);
    sk_info("event=retire_key_clash group=%d order=%s status=%s target=%d other=%s other_status=%s idem=%s "
            "decision=%s", r->j.group, gno, gstat, r->j.into, tno, tstat, idem[0] ? idem : "-", mig_clash_name(k));
    switch (k) {
    case MIG_CLASH_DUPLICATE:
    case MIG_CLASH_UNKNOWN:
        snprintf(r->err, sizeof r->err,
                 "group %d order %s (%s%s) and group %d order %s (%s%s) share merchant_id=%s out_trade_no=%s; %s "
                 "(idempotency record: %s). Not copied: resolve it by hand (skipctl audit lists it), then re-run",
                 r->j.group, gno, gstat, grf ? ", refunds" : "", r->j.into, tno, tstat, trf ? ", refunds" : "", m, otn,
                 k == MIG_CLASH_DUPLICATE ? "both were given out (a real duplicate)"
                                          : "cannot tell which one the client holds",
                 idem[0] ? idem : "none");
        return -1;
    case MIG_CLASH_G_ORPHAN:
    case MIG_CLASH_BOTH_ORPHANS:
        if (strcmp(gstat, "CLOSED") != 0 && close_orphan(r, r->j.group, gno) != 0)
            return -1;
        if (k == MIG_CLASH_BOTH_ORPHANS && strcmp(tstat, "CLOSED") != 0 && close_orphan(r, r->j.into, tno) != 0)
            return -1;
        if (orphan_table(r) != 0 || archive_g_row(r, gno, k == MIG_CLASH_BOTH_ORPHANS ? idem : tno) != 0)
            return -1;
        if (mig_keyset_add(&r->j.skipped_orphans, gno) < 0) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        if (save(r) != 0)
            return -1;
        say(r, "orphan %s of group %d (never given out; the client has %s) closed and left out of the copy",
            gno, r->j.group, k == MIG_CLASH_BOTH_ORPHANS ? idem : tno);
        return 1;
    case MIG_CLASH_T_ORPHAN:
        if (strcmp(tstat, "CLOSED") != 0 && close_orphan(r, r->j.into, tno) != 0)
            return -1;
        if (orphan_table(r) != 0 || retire_t_row(r, tno, gno) != 0)
            return -1;
        if (mig_keyset_add(&r->j.retired_orphans, tno) < 0) {
            snprintf(r->err, sizeof r->err, "out of memory");
            return -1;
        }
        if (save(r) != 0)
            return -1;
        say(r, "orphan %s of group %d (never given out; the client has %s) closed, archived in retired_orphans "
            "and removed so that %s can be copied", tno, r->j.into, gno, gno);
        return 1;
    }
    return -1;
}

typedef struct {
    char no[MIG_KEY_LEN + 1];
    char m[33], otn[65];
} grow_t;

/* Chunk i still differs after a re-copy: find G's rows T lacks and resolve
 * their key clashes. Returns how many were resolved, -1 on error. */
static int resolve_clashes(rt *r, int i)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT order_no, merchant_id, out_trade_no FROM orders WHERE %s%s%s%s%s%s%s ORDER BY order_no",
             r->filter, lo[0] ? " AND order_no > '" : "", lo, lo[0] ? "'" : "", hi[0] ? " AND order_no <= '" : "", hi,
             hi[0] ? "'" : "");
    if (mysql_real_query(r->g, sql, strlen(sql)) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, mysql_error(r->g));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(r->g);
    if (res == NULL) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, mysql_error(r->g));
        return -1;
    }
    size_t n = 0, cap = (size_t)mysql_num_rows(res) + 1;
    grow_t *rows = malloc(cap * sizeof *rows);
    MYSQL_ROW row;
    while (rows && (row = mysql_fetch_row(res)) != NULL) {
        if (!row[0] || !row[1] || !row[2] || mig_keyset_has(&r->j.skipped_orphans, row[0]))
            continue;
        snprintf(rows[n].no, sizeof rows[n].no, "%s", row[0]);
        snprintf(rows[n].m, sizeof rows[n].m, "%s", row[1]);
        snprintf(rows[n].otn, sizeof rows[n].otn, "%s", row[2]);
        n++;
    }
    mysql_free_result(res);
    if (rows == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int resolved = 0;
    for (size_t b0 = 0; b0 < n; b0 += 500) {
        size_t b1 = b0 + 500 < n ? b0 + 500 : n;
        mu_buf q = {0};
        mu_buf_str(&q, "SELECT order_no FROM orders WHERE order_no IN (");
        for (size_t k = b0; k < b1; k++) {
            mu_buf_str(&q, k > b0 ? ",'" : "'");
            mu_buf_str(&q, rows[k].no);
            mu_buf_str(&q, "'");
        }
        mu_buf_str(&q, ")");
        mig_keyset present;
        mig_keyset_init(&present);
        int rc = q.oom || mysql_real_query(r->t, q.p, q.len) != 0 ? -1 : 0;
        mu_buf_free(&q);
        MYSQL_RES *tr = rc == 0 ? mysql_store_result(r->t) : NULL;
        if (tr == NULL) {
            snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, mysql_error(r->t));
            free(rows);
            return -1;
        }
        while ((row = mysql_fetch_row(tr)) != NULL)
            if (row[0])
                (void)mig_keyset_add(&present, row[0]);
        mysql_free_result(tr);
        for (size_t k = b0; k < b1 && rc == 0; k++) {
            if (mig_keyset_has(&present, rows[k].no))
                continue;
            int x = resolve_one(r, rows[k].no, rows[k].m, rows[k].otn);
            if (x < 0)
                rc = -1;
            resolved += x > 0;
        }
        mig_keyset_free(&present);
        if (rc != 0) {
            free(rows);
            return -1;
        }
    }
    free(rows);
    return resolved;
}

/* Every chunk (touched == NULL) or the touched ones. 1 ok, 0 mismatch, -1 err. */
static int verify(rt *r, const unsigned char *touched, bool fix)
{
    int bad = 0, nchunks = r->j.chunks.n ? r->j.chunks.n : 1;
    for (int i = 0; i < nchunks; i++) {
        if (touched && !touched[i])
            continue;
        int v = verify_chunk(r, i, fix);
        if (v < 0)
            return -1;
        if (v == 0 && fix) {
            /* re-copy and re-check; G's rows may still be changing (updates
             * through the daemons, a burst of expiries by the sweeper), so a
             * few rounds; after the first, resolve key clashes (G rows whose
             * merchant_id+out_trade_no another order of T holds) */
            for (int round = 0; v == 0 && round < VERIFY_ROUNDS; round++) {
                if (round > 0)
                    sleep_ms(100 * round);
                if (round == 1) {
                    int k = resolve_clashes(r, i);
                    if (k < 0)
                        return -1;
                }
                if (recopy_chunk(r, i) != 0)
                    return -1;
                v = verify_chunk(r, i, round < VERIFY_ROUNDS - 1);
                if (v < 0)
                    return -1;
            }
        }
        bad += v == 0;
    }
    int v = verify_refunds(r);
    if (v < 0)
        return -1;
    if (v == 0 && fix) {
        char last[MIG_KEY_LEN + 1] = "";
        char sel[1024];
        for (;;) {
            snprintf(sel, sizeof sel, "SELECT " MIG_REFUND_COLS " FROM refunds WHERE refund_no > '%s' ORDER BY refund_no LIMIT %d",
                     last, r->j.chunk_rows);
            int64_t n = copy_select(r, T_REFUNDS, sel, last, NULL, 0);
            if (n < 0)
                return -1;
            if (n < r->j.chunk_rows)
                break;
        }
        v = verify_refunds(r);
        if (v < 0)
            return -1;
    }
    bad += v == 0;
    if (bad)
        snprintf(r->err, sizeof r->err, "%d chunk(s) differ between group %d and group %d after re-copy and key-clash "
                 "resolution (see the chunk lines above; skipctl audit)", bad, r->j.group, r->j.into);
    return bad ? 0 : 1;
}

/* ---------------- freeze ---------------- */

static void unfreeze(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    /* delete only our own freeze (compare-and-delete) */
    redisReply *x = kv_cmd(r->kv, "EVAL %s 1 %s %s",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                           key, r->freeze_token);
    if (x)
        freeReplyObject(x);
}

/* Keep our freeze alive; 0 if it is still ours, -1 if it lapsed. */
static int freeze_refresh(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    redisReply *x = kv_cmd(r->kv, "EVAL %s 1 %s %s %d",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                           key, r->freeze_token, FREEZE_TTL_MS);
    int ok = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
    if (x)
        freeReplyObject(x);
    return ok ? 0 : -1;
}

/* Node ids holding a skip:node:<id> lease. Returns n or -1. */
static int live_nodes(rt *r, int *ids, int max)
{
    char cursor[32] = "0";
    int n = 0;
    for (int it = 0; it < 1000; it++) {
        redisReply *x = kv_cmd(r->kv, "SCAN %s MATCH skip:node:* COUNT 1000", cursor);
        if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
            if (x)
                freeReplyObject(x);
            snprintf(r->err, sizeof r->err, "redis %s: SCAN failed", r->c->redis_addr);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", x->element[0]->str ? x->element[0]->str : "0");
        for (size_t i = 0; i < x->element[1]->elements && n < max; i++)
            ids[n++] = atoi(x->element[1]->element[i]->str + strlen("skip:node:"));
        freeReplyObject(x);
        if (strcmp(cursor, "0") == 0)
            return n;
    }
    return n;
}

/* Take the freeze and wait for every live daemon's ack. 0 = frozen, 1 = not
 * acknowledged in time (freeze released), -1 = error (freeze released). */
static int freeze(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    snprintf(r->freeze_token, sizeof r->freeze_token, "skipctl:%d:%lld", (int)getpid(), (long long)sk_now_ms());
    redisReply *x = kv_cmd(r->kv, "SET %s %s PX %d", key, r->freeze_token, FREEZE_TTL_MS);
    if (x == NULL) {
        snprintf(r->err, sizeof r->err, "redis %s: cannot set %s", r->c->redis_addr, key);
        return -1;
    }
    freeReplyObject(x);
    int nodes[1024];
    int n = live_nodes(r, nodes, 1024);
    if (n < 0) {
        unfreeze(r);
        return -1;
    }
    int64_t until = sk_mono_ms() + r->o->freeze_ack_ms;
    for (;;) {
        int acked = 0;
        for (int i = 0; i < n; i++) {
            x = kv_cmd(r->kv, "EXISTS skip:freeze_ack:%d:%d", r->j.group, nodes[i]);
            acked += x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
            if (x)
                freeReplyObject(x);
        }
        if (acked == n)
            return 0;
        if (sk_mono_ms() > until) {
            say(r, "freeze: %d of %d daemons acknowledged within %d ms; released, will retry", acked, n,
                r->o->freeze_ack_ms);
            unfreeze(r);
            return 1;
        }
        sleep_ms(5);
    }
}

/* ---------------- outbox ---------------- */

static int move_outbox(rt *r)
{
    static char ids[32 * 1000 + 64];
    char sel[512];
    for (int rounds = 0; rounds < 100000; rounds++) {
        snprintf(sel, sizeof sel, "SELECT id, " MIG_OUTBOX_COLS " FROM outbox ORDER BY id LIMIT 1000");
        int64_t n = copy_select(r, T_OUTBOX, sel, NULL, ids, sizeof ids);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        /* T committed the copies (autocommit); now delete them from G. A
         * crash in between publishes those events twice: harmless, the
         * mirror applies by version. A row the relay was publishing is
         * locked; the DELETE waits for its commit and then finds it gone. */
        mu_buf *b = &r->buf;
        b->len = 0;
        mu_buf_str(b, "DELETE FROM outbox WHERE id IN (");
        mu_buf_str(b, ids);
        mu_buf_str(b, ")");
        char e[512];
        if (b->oom || mu_exec(r->g, b->p, b->len, e, sizeof e) != 0) {
            snprintf(r->err, sizeof r->err, "group %d: outbox delete: %s", r->j.group, e);
            return -1;
        }
        r->j.outbox_moved += n;
        if (save(r) != 0)
            return -1;
    }
    return 0;
}

/* ---------------- steps ---------------- */

static int wait_drained(rt *r)
{
    int nd = mu_daemon_count(&r->o->m);
    int64_t until = sk_mono_ms() + 2 * r->c->request_deadline_ms + 1000;
    bool *seen = calloc((size_t)nd + 1, 1);
    if (seen == NULL)
        return -1;
    int left = nd;
    while (left > 0 && sk_mono_ms() < until) {
        for (int i = 0; i < nd; i++) {
            if (seen[i])
                continue;
            char url[512], e[512];
            mu_daemon_url(&r->o->m, i, url, sizeof url);
            json_t *gs = mu_groups(&r->o->m, url, e, sizeof e);
            json_t *g = gs ? mu_group_obj(gs, r->j.group) : NULL;
            if (g && json_integer_value(json_object_get(g, "inflight")) == 0) {
                seen[i] = true;
                left--;
            }
            json_decref(gs);
        }
        if (left > 0)
            sleep_ms(20);
    }
    free(seen);
    if (left > 0)
        say(r, "drain: %d daemon(s) never showed 0 in flight on group %d; continuing after the request deadline "
            "(every create that chose group %d before the reload has ended)", left, r->j.group, r->j.group);
    return 0;
}

static int ensure_index(rt *r)
{
    char e[512];
    int64_t have = mu_int(r->g,
                          "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema=DATABASE() "
                          "AND table_name='orders' AND index_name='mig_updated_at'", e, sizeof e);
    if (have < 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, e);
        return -1;
    }
    if (have > 0)
        return 0;
    say(r, "adding helper index orders(updated_at) on group %d (online DDL) for fast catch-up", r->j.group);
    const char *sql = "ALTER TABLE orders ADD INDEX mig_updated_at (updated_at), ALGORITHM=INPLACE, LOCK=NONE";
    if (mu_exec(r->g, sql, strlen(sql), e, sizeof e) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, e);
        return -1;
    }
    return 0;
}

static int phase_catchup_and_freeze(rt *r)
{
    /* online catch-up until a round is small and quick */
    for (int round = 0; round < CATCHUP_ROUNDS; round++) {
        int64_t t = sk_now_ms(), m0 = sk_mono_ms();
        int64_t n = catch_up(r, r->j.catchup_from_ms, NULL);
        if (n < 0)
            return -1;
        r->j.catchup_from_ms = t - r->o->margin_ms;
        if (save(r) != 0)
            return -1;
        if (n <= r->j.chunk_rows && sk_mono_ms() - m0 < 300)
            break;
    }
    for (int attempt = 0; attempt < FREEZE_ATTEMPTS; attempt++) {
        /* full verification online (repairs lagging chunks), then the
         * freeze re-checks only what changed after this point */
        int64_t vstart = sk_now_ms();
        int v = verify(r, NULL, true);
        if (v <= 0)
            return -1;
        int64_t from = r->j.catchup_from_ms < vstart - r->o->margin_ms ? r->j.catchup_from_ms : vstart - r->o->margin_ms;
        if (step(r, MIG_EV_FROZEN) != 0)
            return -1;
        int64_t f0 = sk_mono_ms();
        int fr = freeze(r);
        if (fr != 0) {
            if (step(r, MIG_EV_THAWED) != 0 || fr < 0)
                return -1;
            sleep_ms(1000);
            continue;
        }
        int nchunks = r->j.chunks.n ? r->j.chunks.n : 1;
        unsigned char *touched = calloc((size_t)nchunks, 1);
        int64_t n = touched ? catch_up(r, from, touched) : -1;
        int ok = n >= 0 ? verify(r, touched, false) : -1;
        free(touched);
        int64_t verify_ms = sk_mono_ms() - f0;
        if (ok == 1 && freeze_refresh(r) != 0) {
            snprintf(r->err, sizeof r->err, "freeze lapsed before the flip");
            ok = 0;
        }
        if (ok != 1) {
            unfreeze(r);
            if (step(r, MIG_EV_THAWED) != 0)
                return -1;
            if (ok < 0)
                return -1;
            say(r, "verify under freeze failed (%s); freeze released, retrying", r->err);
            continue;
        }
        if (step(r, MIG_EV_VERIFIED) != 0) {
            unfreeze(r);
            return -1;
        }
        /* flip: G retired, alias T; reload every daemon; then lift the freeze */
        if (set_group_state(r, GROUP_RETIRED, r->j.into, -1) != 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", r->err);
            /* back out: G draining again everywhere, then unfreeze */
            if (set_group_state(r, GROUP_DRAINING, 0, -1) != 0)
                say(r, "could not restore group %d to draining: %s", r->j.group, r->err);
            unfreeze(r);
            r->j.state = MIG_CATCHUP;
            (void)save(r);
            snprintf(r->err, sizeof r->err, "flip failed, rolled back to catch-up: %s", why);
            return -1;
        }
        unfreeze(r);
        r->j.freeze_ms = sk_mono_ms() - f0;
        say(r, "flipped: group %d -> alias of %d; write freeze %" PRId64 " ms (catch-up %" PRId64
            " rows, verify %" PRId64 " ms)", r->j.group, r->j.into, r->j.freeze_ms, n, verify_ms);
        return save(r);
    }
    snprintf(r->err, sizeof r->err, "freeze not acknowledged by every daemon after %d attempts", FREEZE_ATTEMPTS);
    return -1;
}

static int finish_flip(rt *r)
{
    /* FLIPPING after a crash: make sure every daemon runs the flipped
     * config and no freeze is left, then pick up any write that landed on
     * G meanwhile (version-guarded) and move the outbox */
    conf_group *g = cgroup(r->c, r->j.group);
    if (g == NULL || g->state != GROUP_RETIRED) {
        r->j.state = MIG_CATCHUP;
        return save(r);
    }
    if (mu_reload_all(&r->o->m, r->err, sizeof r->err) != 0)
        return -1;
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    if (r->freeze_token[0] == '\0') {
        redisReply *x = kv_cmd(r->kv, "DEL %s", key);
        if (x)
            freeReplyObject(x);
    }
    if (catch_up(r, r->j.catchup_from_ms, NULL) < 0)
        return -1;
    if (move_outbox(r) != 0)
        return -1;
    return step(r, MIG_EV_FLIPPED);
}

/* ---------------- abort / drop / dry-run ---------------- */

static int do_abort(rt *r)
{
    if (r->j.state == MIG_RETIRED || r->j.state == MIG_DROPPED || r->j.state == MIG_FLIPPING) {
        snprintf(r->err, sizeof r->err, "group %d is past the alias flip (%s); abort is only possible before it",
                 r->j.group, mig_state_name(r->j.state));
        return -1;
    }
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    redisReply *x = kv_cmd(r->kv, "DEL %s", key);
    if (x)
        freeReplyObject(x);
    if (set_group_state(r, GROUP_ACTIVE, 0, r->j.g_prev_weight > 0 ? r->j.g_prev_weight : -1) != 0)
        return -1;
    if (connect_both(r) != 0)
        return -1;
    char sql[1024], e[512];
    int64_t del = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM orders WHERE %s LIMIT 5000", r->filter);
        if (mysql_real_query(r->t, sql, strlen(sql)) != 0) {
            snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, mysql_error(r->t));
            return -1;
        }
        int64_t n = (int64_t)mysql_affected_rows(r->t);
        del += n;
        if (n < 5000)
            break;
    }
    snprintf(sql, sizeof sql, "DELETE FROM refunds WHERE %s", r->rfilter);
    if (mu_exec(r->t, sql, strlen(sql), e, sizeof e) != 0) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, e);
        return -1;
    }
    const char *di = "ALTER TABLE orders DROP INDEX IF EXISTS mig_updated_at";
    (void)mu_exec(r->g, di, strlen(di), e, sizeof e);
    unlink(r->path);
    say(r, "aborted: group %d active again; %" PRId64 " copied orders removed from group %d", r->j.group, del, r->j.into);
    if (r->o->m.json)
        printf("{\"group\":%d,\"state\":\"ABORTED\",\"removed_orders\":%" PRId64 "}\n", r->j.group, del);
    return 0;
}

static int do_drop(rt *r)
{
    if (r->j.state != MIG_RETIRED && r->j.state != MIG_DROPPED) {
        snprintf(r->err, sizeof r->err, "group %d is %s; --drop needs a finished retire", r->j.group,
                 mig_state_name(r->j.state));
        return -1;
    }
    if (!r->o->yes) {
        snprintf(r->err, sizeof r->err, "--drop deletes every row of group %d on %s; add --yes to confirm",
                 r->j.group, r->j.g_primary);
        return -1;
    }
    char e[512];
    if ((r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, e);
        return -1;
    }
    static const char *const tabs[] = {"orders", "refunds", "outbox"};
    int64_t total = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 1000000; i++) {
            char sql[128];
            snprintf(sql, sizeof sql, "DELETE FROM %s LIMIT 5000", tabs[t]);
            if (mysql_real_query(r->g, sql, strlen(sql)) != 0) {
                snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, mysql_error(r->g));
                return -1;
            }
            int64_t n = (int64_t)mysql_affected_rows(r->g);
            total += n;
            if (n < 5000)
                break;
        }
    }
    const char *di = "ALTER TABLE orders DROP INDEX IF EXISTS mig_updated_at";
    (void)mu_exec(r->g, di, strlen(di), e, sizeof e);
    if (r->j.state == MIG_RETIRED && step(r, MIG_EV_DROPPED) != 0)
        return -1;
    say(r, "dropped: %" PRId64 " rows deleted from %s (group %d's old primary)", total, r->j.g_primary, r->j.group);
    if (r->o->m.json)
        printf("{\"group\":%d,\"state\":\"DROPPED\",\"deleted_rows\":%" PRId64 "}\n", r->j.group, total);
    return 0;
}

static int do_dry_run(rt *r)
{
    char e[512];
    if ((r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, e);
        return -1;
    }
    int64_t no = count_g(r, "SELECT COUNT(*) FROM orders");
    int64_t nr = count_g(r, "SELECT COUNT(*) FROM refunds");
    int64_t nb = count_g(r, "SELECT COUNT(*) FROM outbox");
    if (no < 0 || nr < 0 || nb < 0)
        return -1;
    if (r->o->m.json) {
        printf("{\"group\":%d,\"into\":%d,\"state\":\"%s\",\"orders\":%" PRId64 ",\"refunds\":%" PRId64
               ",\"outbox_pending\":%" PRId64 ",\"chunks\":%" PRId64 ",\"chunk_rows\":%d}\n",
               r->j.group, r->j.into, mig_state_name(r->j.state), no, nr, nb, mig_plan_chunks(no, r->j.chunk_rows),
               r->j.chunk_rows);
        return 0;
    }
    printf("retire plan for group %d (%s) into group %d (%s) — current state %s\n", r->j.group, r->j.g_primary,
           r->j.into, r->j.t_primary, mig_state_name(r->j.state));
    printf("  rows: %" PRId64 " orders (%" PRId64 " chunks of %d), %" PRId64 " refunds, %" PRId64 " outbox pending\n",
           no, mig_plan_chunks(no, r->j.chunk_rows), r->j.chunk_rows, nr, nb);
    printf("  1. config: group %d state draining; reload %d daemon(s); wait for 0 in flight\n", r->j.group,
           mu_daemon_count(&r->o->m));
    printf("  2. copy orders+refunds in PK chunks, throttled at replica lag <= %ds\n", r->o->max_lag_s);
    printf("  3. catch up rows changed since the copy began (margin %d ms); verify every chunk by checksum\n",
           r->o->margin_ms);
    printf("  4. write freeze skip:freeze:%d, acks from every live daemon, final catch-up, re-verify\n", r->j.group);
    printf("  5. config: group %d retired, alias_of %d; reload; lift freeze; move outbox\n", r->j.group, r->j.into);
    printf("  6. RETIRED (later: --drop --yes deletes group %d's rows)\n", r->j.group);
    printf("  state file: %s\n", r->path);
    return 0;
}

/* ---------------- entry ---------------- */

static void join_replicas(const conf_group *g, char *out, size_t cap)
{
    size_t l = 0;
    out[0] = '\0';
    for (int i = 0; i < g->nreplicas; i++) {
        int w = snprintf(out + l, cap - l, "%s%s", i ? "," : "", g->replicas[i]);
        if (w < 0 || (size_t)w >= cap - l)
            break;
        l += (size_t)w;
    }
}

static int run(rt *r)
{
    const mig_retire_opts *o = r->o;
    r->c = mu_conf_load(o->m.config, r->err, sizeof r->err);
    if (r->c == NULL)
        return -1;
    char dcopy[4096];
    snprintf(dcopy, sizeof dcopy, "%s", o->m.config);
    snprintf(r->path, sizeof r->path, "%s/retire-%d.state", dirname(dcopy), o->group);
    bool found;
    if (load_state(r, &found) != 0)
        return -1;
    if (found && o->into && o->into != r->j.into) {
        snprintf(r->err, sizeof r->err, "a retire of group %d into group %d is in progress (%s); --into %d conflicts",
                 o->group, r->j.into, r->path, o->into);
        return -1;
    }
    if (!found) {
        const conf_group *g = conf_group_by_id(r->c, o->group);
        if (g == NULL || g->state == GROUP_RETIRED || g->primary == NULL) {
            snprintf(r->err, sizeof r->err, "group %d is not a group in service in %s", o->group, o->m.config);
            return -1;
        }
        int into = o->into ? o->into : mig_default_target(r->c, o->group);
        const conf_group *t = into > 0 ? conf_group_by_id(r->c, into) : NULL;
        if (t == NULL || into == o->group || t->state == GROUP_RETIRED || t->primary == NULL) {
            snprintf(r->err, sizeof r->err, "target group %d is not a group in service", into);
            return -1;
        }
        r->j.group = o->group;
        r->j.into = into;
        r->j.chunk_rows = o->chunk_rows;
        r->j.g_prev_weight = g->weight;
        snprintf(r->j.g_primary, sizeof r->j.g_primary, "%s", g->primary);
        snprintf(r->j.t_primary, sizeof r->j.t_primary, "%s", t->primary);
        join_replicas(g, r->j.g_replicas, sizeof r->j.g_replicas);
        join_replicas(t, r->j.t_replicas, sizeof r->j.t_replicas);
    } else {
        r->j.chunk_rows = o->chunk_rows;
        r->j.state = mig_resume_point(r->j.state);
        if (!o->abort && !o->drop && !o->dry_run && r->j.state != MIG_RETIRED && r->j.state != MIG_DROPPED)
            say(r, "resuming retire of group %d into %d at %s (%" PRId64 " orders copied)", r->j.group, r->j.into,
                mig_state_name(r->j.state), r->j.rows_copied);
    }
    /* the filters name the ids routed to G *before* the flip */
    conf *pre = r->c;
    conf_group *cg = cgroup(pre, r->j.group);
    group_state keep = cg ? cg->state : GROUP_ACTIVE;
    int keep_alias = cg ? cg->alias_of : 0;
    if (cg) {
        cg->state = GROUP_DRAINING;
        cg->alias_of = 0;
    }
    if (mig_group_filter(pre, r->j.group, r->filter, sizeof r->filter) < 0 ||
        mig_refund_filter(pre, r->j.group, r->rfilter, sizeof r->rfilter) < 0) {
        snprintf(r->err, sizeof r->err, "group filter too long");
        return -1;
    }
    if (cg) {
        cg->state = keep;
        cg->alias_of = keep_alias;
    }
    r->kv = mu_kv(r->c);
    if (r->kv == NULL) {
        snprintf(r->err, sizeof r->err, "redis %s: cannot create client", r->c->redis_addr);
        return -1;
    }
    if (o->dry_run)
        return do_dry_run(r);
    if (o->abort) {
        if (!found) {
            say(r, "nothing to abort: no retire of group %d in progress", o->group);
            return 0;
        }
        return do_abort(r);
    }
    if (o->drop) {
        if (!found) {
            snprintf(r->err, sizeof r->err, "no retire state for group %d (%s)", o->group, r->path);
            return -1;
        }
        return do_drop(r);
    }
    if (r->j.state == MIG_NONE) {
        if (step(r, MIG_EV_START) != 0)
            return -1;
    }
    if (r->j.state == MIG_DRAINING) {
        say(r, "group %d: draining (no new creates), reloading %d daemon(s)", r->j.group, mu_daemon_count(&o->m));
        if (set_group_state(r, GROUP_DRAINING, 0, -1) != 0)
            return -1;
        if (wait_drained(r) != 0 || connect_both(r) != 0 || ensure_index(r) != 0)
            return -1;
        r->j.copy_start_ms = sk_now_ms();
        r->j.catchup_from_ms = r->j.copy_start_ms - o->margin_ms;
        if (step(r, MIG_EV_DRAINED) != 0)
            return -1;
    }
    if (r->j.state == MIG_COPYING || r->j.state == MIG_CATCHUP || r->j.state == MIG_FLIPPING) {
        if (connect_both(r) != 0)
            return -1;
    }
    if (r->j.state == MIG_COPYING) {
        if (do_copy(r) != 0 || step(r, MIG_EV_COPIED) != 0)
            return -1;
    }
    if (r->j.state == MIG_CATCHUP) {
        if (phase_catchup_and_freeze(r) != 0)
            return -1;
    }
    if (r->j.state == MIG_FLIPPING) {
        conf_free(r->c);
        if ((r->c = mu_conf_load(o->m.config, r->err, sizeof r->err)) == NULL)
            return -1;
        if (finish_flip(r) != 0)
            return -1;
        if (r->j.state == MIG_CATCHUP)
            return run(r);   /* config was never flipped: go round again */
    }
    if (r->j.state == MIG_RETIRED || r->j.state == MIG_DROPPED) {
        say(r, "group %d is %s: alias of group %d; %" PRId64 " orders, %" PRId64 " refunds copied, %" PRId64
            " outbox events moved; freeze %" PRId64 " ms", r->j.group, mig_state_name(r->j.state), r->j.into,
            r->j.rows_copied, r->j.refunds_copied, r->j.outbox_moved, r->j.freeze_ms);
        if (r->j.skipped_orphans.n || r->j.retired_orphans.n)
            say(r, "orphans (never given out, closed; archived in group %d's retired_orphans): %d left in group %d, "
                "%d removed from group %d", r->j.into, r->j.skipped_orphans.n, r->j.group, r->j.retired_orphans.n,
                r->j.into);
        if (o->m.json) {
            json_t *so = json_array(), *ro = json_array();
            for (int i = 0; so && i < r->j.skipped_orphans.n; i++)
                json_array_append_new(so, json_string(r->j.skipped_orphans.no[i]));
            for (int i = 0; ro && i < r->j.retired_orphans.n; i++)
                json_array_append_new(ro, json_string(r->j.retired_orphans.no[i]));
            char *sos = json_dumps(so, JSON_COMPACT), *ros = json_dumps(ro, JSON_COMPACT);
            printf("{\"group\":%d,\"into\":%d,\"state\":\"%s\",\"orders_copied\":%" PRId64 ",\"refunds_copied\":%" PRId64
                   ",\"outbox_moved\":%" PRId64 ",\"freeze_ms\":%" PRId64 ",\"skipped_orphans\":%s,\"retired_orphans\":%s"
                   ",\"seconds\":%.3f}\n",
                   r->j.group, r->j.into, mig_state_name(r->j.state), r->j.rows_copied, r->j.refunds_copied,
                   r->j.outbox_moved, r->j.freeze_ms, sos ? sos : "[]", ros ? ros : "[]",
                   (double)(sk_mono_ms() - r->t0_ms) / 1000.0);
            free(sos);
            free(ros);
            json_decref(so);
            json_decref(ro);
        }
    }
    return 0;
}

int mig_retire(const mig_retire_opts *o)
{
    rt r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.t0_ms = sk_mono_ms();
    mig_job_init(&r.j);
    int rc = run(&r);
    if (rc != 0) {
        if (r.kv && r.freeze_token[0])
            unfreeze(&r);   /* never leave a freeze behind on error */
        if (o->m.json)
            printf("{\"group\":%d,\"ok\":false,\"state\":\"%s\",\"error\":\"%s\"}\n", o->group,
                   mig_state_name(r.j.state), "see stderr");
        fprintf(stderr, "%sskipctl group retire: %s\n", mu_tty() ? "\n" : "", r.err);
    }
    if (r.g)
        mysql_close(r.g);
    if (r.t)
        mysql_close(r.t);
    if (r.kv)
        kv_destroy(r.kv);
    mu_buf_free(&r.buf);
    mig_job_free(&r.j);
    conf_free(r.c);
    return rc == 0 ? 0 : 1;
}
