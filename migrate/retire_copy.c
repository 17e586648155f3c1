/*
 * migrate/retire_copy.c — the COPYING and CATCHUP data movement of a retire
 * (docs/shrink.md): G -> T in primary-key chunks, a reader thread on G
 * overlapping K writer connections to T (each chunk split into K disjoint
 * order_no slices, recorded only after every slice committed), throttled by
 * T's replica lag; refunds and outbox rows in single-connection chunks; the
 * catch-up of rows changed since the copy began; the helper index it needs.
 */
#include "migrate/retire.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAG_WAIT_MAX_MS 300000
#define LAG_CHECK_MS 500             /* replica lag is looked at twice a second while copying */

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
        static const char *const col[] = {"Seconds_Behind_Master"};
        char v[1][DAL_CELL];
        int lag = -1;
        if (dal_query_named(my, "SHOW SLAVE STATUS", col, v, 1) == SK_OK && v[0][0])
            lag = atoi(v[0]);
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
        sk_sleep_ms(r->o->throttle_ms);
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
        sk_sleep_ms(500);
    }
}

/* ---------------- copying ---------------- */

static int64_t write_rows(rt *r, rt_tbl t, MYSQL_RES *res, char *lastkey, char *ids_csv, size_t ids_cap);

int64_t rt_copy_select(rt *r, rt_tbl t, const char *sel, char *lastkey, char *ids_csv, size_t ids_cap)
{
    MYSQL_RES *res;
    sk_status st = dal_query(r->g, sel, strlen(sel), &res);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, dal_strerror(r->g, st));
        return -1;
    }
    return write_rows(r, t, res, lastkey, ids_csv, ids_cap);
}

/* Write the rows of res (freed here) to T as one multi-row statement. */
static int64_t write_rows(rt *r, rt_tbl t, MYSQL_RES *res, char *lastkey, char *ids_csv, size_t ids_cap)
{
    int64_t n = 0;
    sk_buf *b = &r->buf;
    sk_buf_reset(b);
    static const char *const head[] = {
        [RT_ORDERS] = "INSERT INTO orders (" ORD_SQL_COLS ") VALUES ",
        [RT_REFUNDS] = "INSERT IGNORE INTO refunds (" ORD_REFUND_SQL_COLS ") VALUES ",
        [RT_OUTBOX] = "INSERT INTO outbox (" DAL_OUTBOX_COLS ") VALUES ",
    };
    sk_buf_str(b, head[t]);
    unsigned nf = mysql_num_fields(res);
    unsigned first = t == RT_OUTBOX ? 1 : 0;   /* outbox: column 0 is G's id, not copied */
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
        if (t == RT_ORDERS && row[0] && mig_keyset_has(&r->j.skipped_orphans, row[0]))
            continue;
        sk_buf_str(b, written++ ? ",(" : "(");
        for (unsigned i = first; i < nf; i++) {
            if (i > first)
                sk_buf_put(b, ",", 1);
            dal_sql_val(b, row[i], len[i]);
        }
        sk_buf_put(b, ")", 1);
        if (ids_csv && row[0]) {
            int w = snprintf(ids_csv + idl, ids_cap - idl, "%s%s", idl ? "," : "", row[0]);
            if (w > 0 && (size_t)w < ids_cap - idl)
                idl += (size_t)w;
        }
    }
    mysql_free_result(res);
    if (written == 0)
        return n;
    if (t == RT_ORDERS)
        sk_buf_str(b, mig_orders_upsert_suffix());
    if (b->oom) {
        snprintf(r->err, sizeof r->err, "out of memory building a chunk");
        return -1;
    }
    sk_status st = dal_exec(r->t, b->p, b->len);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: insert: %s", r->j.into, dal_strerror(r->t, st));
        return -1;
    }
    return n;
}

int64_t rt_count_g(rt *r, const char *sql)
{
    int64_t n;
    sk_status st = dal_query_int(r->g, sql, &n);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, dal_strerror(r->g, st));
        return -1;
    }
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
        snprintf(sel, sizeof sel, "SELECT " ORD_SQL_COLS " FROM orders WHERE order_no > '%s' ORDER BY order_no LIMIT %d",
                 rd->after, rd->r->j.chunk_rows);
        MYSQL_RES *res = NULL;
        sk_status st = dal_query(rd->my, sel, strlen(sel), &res);
        if (st != SK_OK) {
            pthread_mutex_lock(&rd->mu);
            snprintf(rd->err, sizeof rd->err, "group %d: %s", rd->r->j.group, dal_strerror(rd->my, st));
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
    sk_buf buf;
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
            sk_status st = dal_exec(w->my, w->buf.p, w->buf.len);
            if (st == SK_OK)
                break;
            unsigned en = mysql_errno(w->my);
            /* 1213 deadlock, 1205 lock wait timeout: the statement was rolled
             * back; the guarded upsert is safe to run again */
            if ((en == 1213 || en == 1205) && attempt < WRITER_RETRIES) {
                sk_sleep_ms(10 * (attempt + 1));
                continue;
            }
            snprintf(err, sizeof err, "group %d: insert (writer %d): %s", p->r->j.into, w->idx,
                     dal_strerror(w->my, st));
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
        sk_buf_free(&p->w[i].buf);
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
        sk_buf *b = &w->buf;
        sk_buf_reset(b);
        sk_buf_str(b, "INSERT INTO orders (" ORD_SQL_COLS ") VALUES ");
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
            sk_buf_str(b, written++ ? ",(" : "(");
            for (unsigned c = 0; c < nf; c++) {
                if (c > 0)
                    sk_buf_put(b, ",", 1);
                dal_sql_val(b, row[c], len[c]);
            }
            sk_buf_put(b, ")", 1);
        }
        if (written == 0)
            continue;
        sk_buf_str(b, mig_orders_upsert_suffix());
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
        if (rt_save(r) != 0) {
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

int rt_copy(rt *r)
{
    int64_t total = rt_count_g(r, "SELECT COUNT(*) FROM orders");
    int64_t rtotal = rt_count_g(r, "SELECT COUNT(*) FROM refunds");
    if (total < 0 || rtotal < 0)
        return -1;
    int64_t t_start = sk_mono_ms(), done_at_start = r->j.rows_copied;
    char sel[1024];
    if (copy_orders(r, total) != 0)
        return -1;
    for (;;) {
        snprintf(sel, sizeof sel, "SELECT " ORD_REFUND_SQL_COLS " FROM refunds WHERE refund_no > '%s' ORDER BY refund_no LIMIT %d",
                 r->j.last_refund, r->j.chunk_rows);
        char last[MIG_KEY_LEN + 1] = "";
        int64_t n = rt_copy_select(r, RT_REFUNDS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        snprintf(r->j.last_refund, sizeof r->j.last_refund, "%s", last);
        r->j.refunds_copied += n;
        if (rt_save(r) != 0)
            return -1;
        mu_progress("refunds", r->j.refunds_copied, rtotal, 0);
        if (n < r->j.chunk_rows)
            break;
        if (throttle(r) != 0)
            return -1;
    }
    double secs = (double)(sk_mono_ms() - t_start) / 1000.0;
    rt_say(r, "copied %" PRId64 " orders, %" PRId64 " refunds in %.2fs (%.0f rows/s)", r->j.rows_copied,
        r->j.refunds_copied, secs, secs > 0 ? (double)(r->j.rows_copied - done_at_start) / secs : 0.0);
    return 0;
}

/* One catch-up pass: rows of G changed at or after from_ms (orders by
 * updated_at, refunds by created_at) upserted into T. touched (may be NULL)
 * gets a mark per chunk holding a changed order. Returns rows moved or -1. */
int64_t rt_catch_up(rt *r, int64_t from_ms, unsigned char *touched)
{
    char dt[24], sel[1024], last[MIG_KEY_LEN + 1] = "";
    dal_fmt_dt(from_ms, dt);
    int64_t moved = 0;
    static char ids[(MIG_KEY_LEN + 1) * 20000];
    for (;;) {
        snprintf(sel, sizeof sel,
                 "SELECT " ORD_SQL_COLS " FROM orders WHERE updated_at >= '%s' AND order_no > '%s' "
                 "ORDER BY order_no LIMIT %d", dt, last, r->j.chunk_rows);
        int64_t n = rt_copy_select(r, RT_ORDERS, sel, last, touched ? ids : NULL, sizeof ids);
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
                 "SELECT " ORD_REFUND_SQL_COLS " FROM refunds WHERE created_at >= '%s' AND refund_no > '%s' "
                 "ORDER BY refund_no LIMIT %d", dt, last, r->j.chunk_rows);
        int64_t n = rt_copy_select(r, RT_REFUNDS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        moved += n;
        if (n < r->j.chunk_rows)
            break;
    }
    return moved;
}

int rt_ensure_index(rt *r)
{
    int64_t have = rt_count_g(r, "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema=DATABASE() "
                                 "AND table_name='orders' AND index_name='mig_updated_at'");
    if (have < 0)
        return -1;
    if (have > 0)
        return 0;
    rt_say(r, "adding helper index orders(updated_at) on group %d (online DDL) for fast catch-up", r->j.group);
    const char *sql = "ALTER TABLE orders ADD INDEX mig_updated_at (updated_at), ALGORITHM=INPLACE, LOCK=NONE";
    sk_status st = dal_exec(r->g, sql, strlen(sql));
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.group, dal_strerror(r->g, st));
        return -1;
    }
    return 0;
}

