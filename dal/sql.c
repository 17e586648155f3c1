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
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/civil.h"

/* Connector/C takes whole seconds; round up, at least 1. */
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
    if (mysql_real_connect(my, host, o->user, o->password, o->db, (unsigned)port, NULL, flags) == NULL) {
        snprintf(err, errcap, "%u %s", mysql_errno(my), mysql_error(my));
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
    if (mysql_real_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    for (;;) {
        /* read the count before mysql_store_result: it resets it */
        my_ulonglong n = mysql_affected_rows(my);
        MYSQL_RES *r = mysql_store_result(my);
        if (r)
            mysql_free_result(r);
        else if (mysql_field_count(my) != 0)
            return dal_classify(my);
        else if (affected)
            *affected = n == (my_ulonglong)-1 ? 0 : (int64_t)n;
        int st = mysql_next_result(my);
        if (st == -1)
            return SK_OK;
        if (st > 0)
            return dal_classify(my);
    }
}

/* Discard any further results of a statement (CLIENT_MULTI_RESULTS). */
static void drain(MYSQL *my)
{
    while (mysql_next_result(my) == 0) {
        MYSQL_RES *r = mysql_store_result(my);
        if (r)
            mysql_free_result(r);
    }
}

sk_status dal_query(MYSQL *my, const char *sql, size_t len, MYSQL_RES **res)
{
    *res = NULL;
    if (mysql_real_query(my, sql, (unsigned long)len) != 0)
        return dal_classify(my);
    *res = mysql_store_result(my);
    if (*res == NULL) {
        sk_status st = dal_classify(my);
        return st == SK_OK ? SK_EDB : st;   /* a statement without rows where rows were expected */
    }
    return SK_OK;
}

sk_status dal_query_row(MYSQL *my, const char *sql, char (*out)[DAL_CELL], int n)
{
    if (mysql_real_query(my, sql, strlen(sql)) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
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
