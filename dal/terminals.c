/* dal/terminals.c — terminals and audit_events SQL; see terminals.h. */
#include "dal/terminals.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dal/dal.h"

/* ---- a growable SQL text (escaping through the connection) ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool bad;
    MYSQL *my;
} sqlt;

static void st_free(sqlt *s) { free(s->buf); }
#define SQLT(name, conn) __attribute__((cleanup(st_free))) sqlt name = {.my = conn}

static bool st_room(sqlt *s, size_t more)
{
    if (!s->bad && sk_reserve(&s->buf, &s->cap, s->len + more + 1, 1024) != 0)
        s->bad = true;
    return !s->bad;
}

__attribute__((format(printf, 2, 3))) static void st_add(sqlt *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !st_room(s, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

static void st_str(sqlt *s, const char *v, bool present)
{
    if (!present || v == NULL) {
        st_add(s, "NULL");
        return;
    }
    size_t n = strlen(v);
    if (!st_room(s, 2 * n + 2))
        return;
    s->buf[s->len++] = '\'';
    s->len += mysql_real_escape_string(s->my, s->buf + s->len, v, (unsigned long)n);
    s->buf[s->len++] = '\'';
    s->buf[s->len] = '\0';
}

static void st_dt(sqlt *s, int64_t ms)
{
    if (ms == 0) {
        st_add(s, "NULL");
        return;
    }
    char dt[24];
    dal_fmt_dt(ms, dt);
    st_add(s, "'%s'", dt);
}

static int64_t dt(const char *s)
{
    int64_t ms = 0;
    return s != NULL && dal_parse_dt(s, &ms) == 0 ? ms : 0;
}

static void cp(char *dst, size_t cap, const char *src, bool *has)
{
    sk_strlcpy(dst, src ? src : "", cap);
    if (has)
        *has = src != NULL;
}

/* ---- terminals ---- */

#define TERM_COLS                                                                                           \
    "terminal_id, merchant_id, store_id, status, failed_activations, code_salt, code_hash, code_expires_at, " \
    "activated_at, blocked_at, block_reason, created_at, updated_at"

static int row_to_term(MYSQL_ROW r, dal_terminal *t)
{
    memset(t, 0, sizeof *t);
    cp(t->v.terminal_id, sizeof t->v.terminal_id, r[0], NULL);
    cp(t->v.merchant_id, sizeof t->v.merchant_id, r[1], NULL);
    cp(t->v.store_id, sizeof t->v.store_id, r[2], &t->v.has_store);
    if (r[3] == NULL || ts_status_parse(r[3], &t->v.status) != 0)
        return -1;
    t->failures = r[4] ? atoi(r[4]) : 0;
    bool hs = false, hh = false;
    cp(t->code_salt, sizeof t->code_salt, r[5], &hs);
    cp(t->code_hash, sizeof t->code_hash, r[6], &hh);
    t->has_code = hs && hh;
    t->code_expires_ms = dt(r[7]);
    t->activated_ms = dt(r[8]);
    t->blocked_ms = dt(r[9]);
    cp(t->block_reason, sizeof t->block_reason, r[10], &t->has_reason);
    t->created_ms = dt(r[11]);
    t->v.updated_ms = dt(r[12]);
    return 0;
}

/* Run a SELECT of TERM_COLS, at most max rows into out. */
static sk_status query_terms(MYSQL *my, const sqlt *s, dal_terminal *out, int max, int *n)
{
    *n = 0;
    if (s->bad)
        return SK_ENOMEM;
    if (mysql_real_query(my, s->buf, (unsigned long)s->len) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return dal_classify(my);
    MYSQL_ROW row;
    sk_status st = SK_OK;
    while ((row = mysql_fetch_row(res)) != NULL && *n < max) {
        if (row_to_term(row, &out[*n]) != 0) {
            st = SK_EINTERNAL;
            break;
        }
        (*n)++;
    }
    mysql_free_result(res);
    return st;
}

sk_status dal_term_begin(MYSQL *my, int64_t *now_ms)
{
    static const char q[] = "START TRANSACTION";
    sk_status st = dal_exec(my, q, sizeof q - 1);
    if (st != SK_OK)
        return st;
    static const char t[] = "SELECT UTC_TIMESTAMP(3)";
    if (mysql_real_query(my, t, sizeof t - 1) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return dal_classify(my);
    MYSQL_ROW row = mysql_fetch_row(res);
    *now_ms = row && row[0] ? dt(row[0]) : 0;
    mysql_free_result(res);
    return *now_ms > 0 ? SK_OK : SK_EDB;
}

sk_status dal_term_commit(MYSQL *my) { return dal_exec(my, "COMMIT", 6); }

void dal_term_rollback(MYSQL *my)
{
    /* best effort: a broken connection is closed by the caller anyway */
    if (dal_exec(my, "ROLLBACK", 8) != SK_OK)
        sk_debug("event=terminal_rollback_failed");
}

sk_status dal_term_get(MYSQL *my, const char *id, bool lock, dal_terminal *out)
{
    SQLT(s, my);
    st_add(&s, "SELECT " TERM_COLS " FROM terminals WHERE terminal_id=");
    st_str(&s, id, true);
    if (lock)
        st_add(&s, " FOR UPDATE");
    int n = 0;
    sk_status st = query_terms(my, &s, out, 1, &n);
    return st != SK_OK ? st : n == 1 ? SK_OK : SK_ENOT_FOUND;
}

static void values(sqlt *s, const dal_terminal *t)
{
    st_str(s, t->v.store_id, t->v.has_store);
    st_add(s, ",'%s',%d,", ts_status_name(t->v.status), t->failures);
    st_str(s, t->code_salt, t->has_code);
    st_add(s, ",");
    st_str(s, t->code_hash, t->has_code);
    st_add(s, ",");
    st_dt(s, t->has_code ? t->code_expires_ms : 0);
    st_add(s, ",");
    st_dt(s, t->activated_ms);
    st_add(s, ",");
    st_dt(s, t->blocked_ms);
    st_add(s, ",");
    st_str(s, t->block_reason, t->has_reason);
}

sk_status dal_term_insert(MYSQL *my, const dal_terminal *t)
{
    SQLT(s, my);
    st_add(&s, "INSERT INTO terminals (" TERM_COLS ") VALUES (");
    st_str(&s, t->v.terminal_id, true);
    st_add(&s, ",");
    st_str(&s, t->v.merchant_id, true);
    st_add(&s, ",");
    values(&s, t);
    st_add(&s, ",");
    st_dt(&s, t->created_ms);
    st_add(&s, ",");
    st_dt(&s, t->v.updated_ms);
    st_add(&s, ")");
    return s.bad ? SK_ENOMEM : dal_exec(my, s.buf, s.len);
}

sk_status dal_term_update(MYSQL *my, const dal_terminal *t)
{
    SQLT(s, my);
    st_add(&s, "UPDATE terminals SET store_id=");
    st_str(&s, t->v.store_id, t->v.has_store);
    st_add(&s, ", status='%s', failed_activations=%d, code_salt=", ts_status_name(t->v.status), t->failures);
    st_str(&s, t->code_salt, t->has_code);
    st_add(&s, ", code_hash=");
    st_str(&s, t->code_hash, t->has_code);
    st_add(&s, ", code_expires_at=");
    st_dt(&s, t->has_code ? t->code_expires_ms : 0);
    st_add(&s, ", activated_at=");
    st_dt(&s, t->activated_ms);
    st_add(&s, ", blocked_at=");
    st_dt(&s, t->blocked_ms);
    st_add(&s, ", block_reason=");
    st_str(&s, t->block_reason, t->has_reason);
    st_add(&s, ", updated_at=");
    st_dt(&s, t->v.updated_ms);
    st_add(&s, " WHERE terminal_id=");
    st_str(&s, t->v.terminal_id, true);
    if (s.bad)
        return SK_ENOMEM;
    /* the caller holds the row locked: it exists (and updated_at always
     * moves, so the row always changes) */
    return dal_exec(my, s.buf, s.len);
}

sk_status dal_term_list(MYSQL *my, const char *merchant_id, const char *status, const char *after_id, int max,
                        dal_terminal *out, int *n)
{
    SQLT(s, my);
    st_add(&s, "SELECT " TERM_COLS " FROM terminals WHERE merchant_id=");
    st_str(&s, merchant_id, true);
    if (status) {
        st_add(&s, " AND status=");
        st_str(&s, status, true);
    }
    st_add(&s, " AND terminal_id > ");
    st_str(&s, after_id ? after_id : "", true);
    st_add(&s, " ORDER BY terminal_id LIMIT %d", max);
    return query_terms(my, &s, out, max, n);
}

sk_status dal_term_scan(MYSQL *my, int64_t since_ms, int max, term_view **out, int *n, int64_t *newest)
{
    *out = NULL;
    *n = 0;
    *newest = 0;
    SQLT(s, my);
    st_add(&s, "SELECT terminal_id, merchant_id, store_id, status, updated_at FROM terminals");
    if (since_ms >= 0) {
        st_add(&s, " WHERE updated_at >= ");
        st_dt(&s, since_ms > 0 ? since_ms : 1);
    }
    st_add(&s, " LIMIT %d", max + 1);
    if (s.bad)
        return SK_ENOMEM;
    if (mysql_real_query(my, s.buf, (unsigned long)s.len) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return dal_classify(my);
    uint64_t rows = mysql_num_rows(res);
    if (rows > (uint64_t)max) {
        mysql_free_result(res);
        return SK_ETOO_LARGE;
    }
    term_view *v = calloc(rows ? rows : 1, sizeof *v);
    if (v == NULL) {
        mysql_free_result(res);
        return SK_ENOMEM;
    }
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL) {
        term_view *e = &v[*n];
        cp(e->terminal_id, sizeof e->terminal_id, r[0], NULL);
        cp(e->merchant_id, sizeof e->merchant_id, r[1], NULL);
        cp(e->store_id, sizeof e->store_id, r[2], &e->has_store);
        if (r[3] == NULL || ts_status_parse(r[3], &e->status) != 0)
            continue;   /* a row this build does not know: not a terminal that may take payments */
        e->updated_ms = dt(r[4]);
        if (e->updated_ms > *newest)
            *newest = e->updated_ms;
        (*n)++;
    }
    mysql_free_result(res);
    *out = v;
    return SK_OK;
}

/* ---- audit_events ---- */

sk_status dal_audit_insert(MYSQL *my, const dal_audit_row *rows, int n)
{
    if (n <= 0)
        return SK_OK;
    SQLT(s, my);
    st_add(&s, "INSERT IGNORE INTO audit_events (event_id, at, key_id, role, action, target, merchant_id, result, "
               "detail, node_id) VALUES ");
    for (int i = 0; i < n; i++) {
        const dal_audit_row *r = &rows[i];
        st_add(&s, "%s(", i ? "," : "");
        st_str(&s, r->event_id, true);
        st_add(&s, ",");
        st_dt(&s, r->at_ms);
        st_add(&s, ",");
        st_str(&s, r->key_id, true);
        st_add(&s, ",");
        st_str(&s, r->role, r->role[0] != '\0');
        st_add(&s, ",");
        st_str(&s, r->action, true);
        st_add(&s, ",");
        st_str(&s, r->target, r->target[0] != '\0');
        st_add(&s, ",");
        st_str(&s, r->merchant_id, r->merchant_id[0] != '\0');
        st_add(&s, ",");
        st_str(&s, r->result, true);
        st_add(&s, ",");
        st_str(&s, r->detail, r->detail != NULL);
        st_add(&s, ",%d)", r->node_id);
    }
    return s.bad ? SK_ENOMEM : dal_exec(my, s.buf, s.len);
}

sk_status dal_audit_list(MYSQL *my, int64_t after_at_ms, const char *after_id, int max, dal_audit_row *out, int *n)
{
    *n = 0;
    SQLT(s, my);
    st_add(&s, "SELECT event_id, at, key_id, role, action, target, merchant_id, result, detail, node_id "
               "FROM audit_events WHERE (at > ");
    st_dt(&s, after_at_ms > 0 ? after_at_ms : 1);
    st_add(&s, " OR (at = ");
    st_dt(&s, after_at_ms > 0 ? after_at_ms : 1);
    st_add(&s, " AND event_id > ");
    st_str(&s, after_id ? after_id : "", true);
    st_add(&s, ")) ORDER BY at, event_id LIMIT %d", max);
    if (s.bad)
        return SK_ENOMEM;
    if (mysql_real_query(my, s.buf, (unsigned long)s.len) != 0)
        return dal_classify(my);
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL)
        return dal_classify(my);
    MYSQL_ROW r;
    while ((r = mysql_fetch_row(res)) != NULL && *n < max) {
        dal_audit_row *a = &out[*n];
        memset(a, 0, sizeof *a);
        cp(a->event_id, sizeof a->event_id, r[0], NULL);
        a->at_ms = dt(r[1]);
        cp(a->key_id, sizeof a->key_id, r[2], NULL);
        cp(a->role, sizeof a->role, r[3], NULL);
        cp(a->action, sizeof a->action, r[4], NULL);
        cp(a->target, sizeof a->target, r[5], NULL);
        cp(a->merchant_id, sizeof a->merchant_id, r[6], NULL);
        cp(a->result, sizeof a->result, r[7], NULL);
        a->detail = r[8] ? strdup(r[8]) : NULL;
        a->node_id = r[9] ? atoi(r[9]) : 0;
        (*n)++;
    }
    mysql_free_result(res);
    return SK_OK;
}
