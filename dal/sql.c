/*
 * dal/sql.c — the one MySQL helper layer of the project: connect with
 * timeouts, error classification, and the statement helpers every user of
 * MariaDB calls (daemon, mirror, relay, skipctl's migrations, skipbench).
 *
 * Every helper reports the same way: an sk_status (dal_classify's mapping,
 * SK_ENOT_FOUND for "no row"), with the detail in the handle —
 * dal_strerror(my, st) gives the text for a message.
 */
#include "dal/dal.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/civil.h"

/* Connector/C takes whole seconds; round up, at least 1. */
static unsigned secs(int ms) { return ms <= 1000 ? 1u : (unsigned)((ms + 999) / 1000); }

/* ---- millisecond deadlines (dal_set_deadline) ----
 *
 * Connector/C's own timeouts are whole seconds. On a connection opened with
 * o->nonblocking, while the calling thread has a deadline, every connect,
 * query and result read runs through the non-blocking API
 * (mysql_*_start/_cont) and poll(2) up to that deadline. Past it the call is
 * abandoned: the socket is shut down (the server sees the client go; a
 * statement it is still running may yet commit — outcome unknown) and the
 * connection must be closed: dal_classify answers SK_ETIMEDOUT for it. */

static _Thread_local int64_t tl_deadline;   /* monotonic ms; 0 = none */
static _Thread_local MYSQL *tl_abandoned;   /* the connection whose call passed the deadline */

int64_t dal_set_deadline(int64_t deadline_ms)
{
    int64_t prev = tl_deadline;
    tl_deadline = deadline_ms;
    return prev;
}

bool dal_deadline_pays(int attempt_ms, int connect_ms, int read_ms)
{
    int64_t c = 1000LL * secs(connect_ms), r = 1000LL * secs(read_ms);
    return attempt_ms > 0 && (attempt_ms < c || attempt_ms < r);
}

static bool bounded(MYSQL *my)
{
    my_bool nb = 0;
    return tl_deadline != 0 && mysql_get_optionv(my, MYSQL_OPT_NONBLOCK, &nb) == 0 && nb;
}

/* Wait for what a _start/_cont call asked for (MYSQL_WAIT_*). The events
 * for the next _cont, or -1 when the thread's deadline passed first. */
static int await(MYSQL *my, int status)
{
    struct pollfd pfd = {.fd = mysql_get_socket(my)};
    if (status & MYSQL_WAIT_READ)
        pfd.events |= POLLIN;
    if (status & MYSQL_WAIT_WRITE)
        pfd.events |= POLLOUT;
    if (status & MYSQL_WAIT_EXCEPT)
        pfd.events |= POLLPRI;
    for (;;) {
        int64_t left = tl_deadline - sk_mono_ms();
        if (left <= 0)
            return -1;
        int tmo = left > 60000 ? 60000 : (int)left;
        bool lib = false;
        if (status & MYSQL_WAIT_TIMEOUT) {
            unsigned t = mysql_get_timeout_value_ms(my);
            if (t < (unsigned)tmo) {
                tmo = (int)t;
                lib = true;
            }
        }
        int r = poll(&pfd, 1, tmo);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (lib)
                return MYSQL_WAIT_TIMEOUT; /* the library's own (whole-second) timeout */
            continue;                      /* re-check the deadline */
        }
        int ev = 0;
        if (pfd.revents & (POLLIN | POLLERR | POLLHUP))
            ev |= MYSQL_WAIT_READ;
        if (pfd.revents & (POLLOUT | POLLERR | POLLHUP))
            ev |= MYSQL_WAIT_WRITE;
        if (pfd.revents & POLLPRI)
            ev |= MYSQL_WAIT_EXCEPT;
        return ev;
    }
}

static void abandon(MYSQL *my)
{
    int fd = mysql_get_socket(my);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    tl_abandoned = my;
}

/* Run a Connector/C call, through its non-blocking form when the thread has
 * a deadline and the connection allows it. On an abandoned call the result
 * is the error value `fail`. */
#define BOUNDED(my, ret, fail, blocking, start, cont)                          \
    do {                                                                         \
        if (!bounded(my)) {                                                      \
            ret = blocking;                                                      \
            break;                                                               \
        }                                                                        \
        int st_ = start;                                                         \
        while (st_ != 0) {                                                       \
            int ev_ = await(my, st_);                                            \
            if (ev_ < 0) {                                                       \
                abandon(my);                                                     \
                ret = fail;                                                      \
                break;                                                           \
            }                                                                    \
            st_ = cont;                                                          \
        }                                                                        \
    } while (0)

static int q_query(MYSQL *my, const char *sql, unsigned long len)
{
    int r = 0;
    tl_abandoned = NULL;
    BOUNDED(my, r, 1, mysql_real_query(my, sql, len), mysql_real_query_start(&r, my, sql, len),
            mysql_real_query_cont(&r, my, ev_));
    return r;
}

static MYSQL_RES *q_store(MYSQL *my)
{
    MYSQL_RES *r = NULL;
    if (tl_abandoned == my)
        return NULL;
    BOUNDED(my, r, NULL, mysql_store_result(my), mysql_store_result_start(&r, my),
            mysql_store_result_cont(&r, my, ev_));
    return r;
}

static int q_next(MYSQL *my)
{
    int r = 0;
    if (tl_abandoned == my)
        return 1;
    BOUNDED(my, r, 1, mysql_next_result(my), mysql_next_result_start(&r, my), mysql_next_result_cont(&r, my, ev_));
    return r;
}

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
    /* one statement, so it runs on connections without multi-statements */
    mysql_options(my, MYSQL_INIT_COMMAND, "SET time_zone='+00:00', sql_mode='" DAL_SQL_MODE "'");
    if (o->tls.enabled) {
        /* ENFORCE: a server (or a man in the middle) that does not offer TLS
         * gets no plaintext session; VERIFY_SERVER_CERT checks the chain to
         * ca and the host name/IP of addr (Connector/C 3.3) */
        my_bool on = 1, verify = o->tls.verify_server_cert;
        if (o->tls.ca[0])
            mysql_options(my, MYSQL_OPT_SSL_CA, o->tls.ca);
        if (o->tls.cert[0])
            mysql_options(my, MYSQL_OPT_SSL_CERT, o->tls.cert);
        if (o->tls.key[0])
            mysql_options(my, MYSQL_OPT_SSL_KEY, o->tls.key);
        mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        mysql_options(my, MARIADB_OPT_TLS_VERSION, "TLSv1.2,TLSv1.3");
    }
    unsigned long flags = CLIENT_FOUND_ROWS | (o->multi_statements ? CLIENT_MULTI_STATEMENTS : 0);
    if (o->nonblocking)
        mysql_options(my, MYSQL_OPT_NONBLOCK, 0);
    MYSQL *ok = NULL;
    tl_abandoned = NULL;
    BOUNDED(my, ok, NULL, mysql_real_connect(my, host, o->user, o->password, o->db, (unsigned)port, NULL, flags),
            mysql_real_connect_start(&ok, my, host, o->user, o->password, o->db, (unsigned)port, NULL, flags),
            mysql_real_connect_cont(&ok, my, ev_));
    if (ok == NULL) {
        if (tl_abandoned == my)
            snprintf(err, errcap, "connect to %s: deadline passed", o->addr);
        else
            snprintf(err, errcap, "%u %s", mysql_errno(my), mysql_error(my));
        tl_abandoned = NULL;
        mysql_close(my);
        return NULL;
    }
    if (o->tls.enabled && mysql_get_ssl_cipher(my) == NULL) {
        snprintf(err, errcap, "TLS is on but the session to %s is not encrypted", o->addr);
        mysql_close(my);
        return NULL;
    }
    return my;
}

sk_status dal_classify(MYSQL *my)
{
    if (my == tl_abandoned)
        return SK_ETIMEDOUT; /* past the deadline: outcome unknown */
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

const char *dal_strerror(MYSQL *my, sk_status st)
{
    if (my != NULL && my == tl_abandoned)
        return "deadline passed (db.attempt_timeout_ms)";
    const char *m = my ? mysql_error(my) : NULL;
    if (m != NULL && *m)
        return m;
    return st == SK_ENOT_FOUND ? "no row" : sk_status_name(st);
}

sk_status dal_exec(MYSQL *my, const char *sql, size_t len) { return dal_exec_n(my, sql, len, NULL); }

sk_status dal_exec_n(MYSQL *my, const char *sql, size_t len, int64_t *affected)
{
    if (affected)
        *affected = 0;
    if (q_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    for (;;) {
        /* read the count before mysql_store_result: it resets it */
        my_ulonglong n = mysql_affected_rows(my);
        MYSQL_RES *r = q_store(my);
        if (r)
            mysql_free_result(r);
        else if (mysql_field_count(my) != 0)
            return dal_classify(my);
        else if (affected)
            *affected = n == (my_ulonglong)-1 ? 0 : (int64_t)n;
        int st = q_next(my);
        if (st == -1)
            return SK_OK;
        if (st > 0)
            return dal_classify(my);
    }
}

/* Discard any further results of a statement (CLIENT_MULTI_RESULTS). */
static void drain(MYSQL *my)
{
    while (q_next(my) == 0) {
        MYSQL_RES *r = q_store(my);
        if (r)
            mysql_free_result(r);
    }
}

sk_status dal_query(MYSQL *my, const char *sql, size_t len, MYSQL_RES **res)
{
    *res = NULL;
    if (q_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    *res = q_store(my);
    if (*res == NULL) {
        sk_status st = dal_classify(my);
        return st == SK_OK ? SK_EDB : st;   /* a statement without rows where rows were expected */
    }
    return SK_OK;
}

sk_status dal_query_row(MYSQL *my, const char *sql, char (*out)[DAL_CELL], int n)
{
    if (q_query(my, sql, strlen(sql)) != 0)
        return dal_classify(my);
    MYSQL_RES *res = q_store(my);
    if (res == NULL) {
        sk_status st = dal_classify(my);
        return st == SK_OK ? SK_ENOT_FOUND : st;   /* no result set: no row */
    }
    MYSQL_ROW r = mysql_fetch_row(res);
    if (r != NULL) {
        unsigned nf = mysql_num_fields(res);
        for (int i = 0; i < n; i++)
            snprintf(out[i], DAL_CELL, "%s", (unsigned)i < nf && r[i] ? r[i] : "");
    }
    mysql_free_result(res);
    drain(my);
    return r != NULL ? SK_OK : SK_ENOT_FOUND;
}

sk_status dal_query_int(MYSQL *my, const char *sql, int64_t *v)
{
    char cell[1][DAL_CELL];
    *v = 0;
    sk_status st = dal_query_row(my, sql, cell, 1);
    if (st == SK_OK)
        *v = strtoll(cell[0], NULL, 10);
    return st;
}

sk_status dal_query_named(MYSQL *my, const char *sql, const char *const *names, char (*out)[DAL_CELL], int n)
{
    for (int i = 0; i < n; i++)
        out[i][0] = '\0';
    MYSQL_RES *res;
    sk_status st = dal_query(my, sql, strlen(sql), &res);
    if (st != SK_OK)
        return st;
    MYSQL_ROW row = mysql_fetch_row(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    unsigned nf = mysql_num_fields(res);
    for (unsigned c = 0; row && c < nf; c++)
        for (int i = 0; i < n; i++)
            if (strcmp(f[c].name, names[i]) == 0)
                snprintf(out[i], DAL_CELL, "%s", row[c] ? row[c] : "");
    mysql_free_result(res);
    drain(my);
    return row != NULL ? SK_OK : SK_ENOT_FOUND;
}

/* ---- DATETIME(3) literals ---- */

void dal_fmt_dt(int64_t ms, char out[24]) { sk_fmt_time(ms, ' ', false, out); }

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
    sk_civil c = {.year = Y, .month = M, .day = D, .hour = h, .min = m, .sec = sec, .ms = frac};
    *ms = sk_civil_to_ms(&c);
    return 0;
}
