/*
 * migrate/util_io.c — helpers shared by group add/retire and audit: DB
 * connections with explicit timeouts, atomic config writes, reloading every
 * daemon, /v1/groups, Redis, progress bar, SQL buffers.
 */
/* messages are truncated to their buffers on purpose */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "migrate/migio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dal/dal.h"
#include "migrate/mig.h"
#include "rpc/httpc.h"

#define HTTP_TIMEOUT_MS 5000

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

void mu_common_defaults(mu_common *c)
{
    memset(c, 0, sizeof *c);
    c->config = env_or("SKIP_CONFIG", NULL);
    c->daemons = env_or("SKIP_URL", "http://127.0.0.1:17000");
    c->token = env_or("SKIP_ADMIN_TOKEN", "");
    c->admin_user = env_or("SKIP_DB_ADMIN_USER", "root");
    c->admin_password = env_or("SKIP_DB_ADMIN_PASSWORD", "");
}

MYSQL *mu_connect(const mu_common *m, const conf *c, const char *addr, bool app, int read_timeout_ms,
                  char *err, size_t cap)
{
    dal_pool_opts o = {
        .addr = addr,
        .user = app ? c->db_user : m->admin_user,
        .password = app ? c->db_password : m->admin_password,
        .db = c->db_name,
        .connect_timeout_ms = 2000,
        .read_timeout_ms = read_timeout_ms,
        .write_timeout_ms = read_timeout_ms,
        .size = 1,
        .max_inflight = 1,
    };
    return dal_connect(&o, err, cap);
}

int mu_row(MYSQL *my, const char *sql, char out[][128], int n, char *err, size_t cap)
{
    if (mysql_real_query(my, sql, strlen(sql)) != 0) {
        snprintf(err, cap, "%s: %s", mysql_get_host_info(my), mysql_error(my));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(my);
    if (res == NULL) {
        if (mysql_field_count(my) == 0)
            return 0;
        snprintf(err, cap, "%s", mysql_error(my));
        return -1;
    }
    MYSQL_ROW r = mysql_fetch_row(res);
    int got = 0;
    if (r != NULL) {
        unsigned nf = mysql_num_fields(res);
        for (int i = 0; i < n; i++)
            snprintf(out[i], 128, "%s", (unsigned)i < nf && r[i] ? r[i] : "");
        got = 1;
    }
    mysql_free_result(res);
    while (mysql_next_result(my) == 0) {
        res = mysql_store_result(my);
        if (res)
            mysql_free_result(res);
    }
    return got;
}

int64_t mu_int(MYSQL *my, const char *sql, char *err, size_t cap)
{
    char v[1][128];
    if (mu_row(my, sql, v, 1, err, cap) != 1)
        return -1;
    return strtoll(v[0], NULL, 10);
}

int mu_exec(MYSQL *my, const char *sql, size_t len, char *err, size_t cap)
{
    if (mysql_real_query(my, sql, len) != 0) {
        snprintf(err, cap, "%s", mysql_error(my));
        return -1;
    }
    do {
        MYSQL_RES *res = mysql_store_result(my);
        if (res)
            mysql_free_result(res);
    } while (mysql_next_result(my) == 0);
    if (mysql_errno(my) != 0) {
        snprintf(err, cap, "%s", mysql_error(my));
        return -1;
    }
    return 0;
}

conf *mu_conf_load(const char *path, char *err, size_t cap)
{
    if (path == NULL) {
        snprintf(err, cap, "no config file: give --config or set SKIP_CONFIG");
        return NULL;
    }
    return conf_load(path, err, cap);
}

static char *slurp(const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, bcap = 0;
    for (;;) {
        if (len + 4096 + 1 > bcap) {
            bcap = bcap ? bcap * 2 : 8192;
            if (bcap > (8u << 20)) {
                snprintf(err, cap, "%s: too large", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, bcap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                snprintf(err, cap, "out of memory");
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

int mu_conf_write(const char *path, const conf *c, char *err, size_t cap)
{
    char *text = slurp(path, err, cap);
    if (text == NULL)
        return -1;
    char *out = mig_conf_replace_groups(text, c);
    free(text);
    if (out == NULL) {
        snprintf(err, cap, "%s: no top-level groups: section to rewrite", path);
        return -1;
    }
    char verr[CONF_ERR_MAX];
    conf *chk = conf_load_string(path, out, strlen(out), verr, sizeof verr);
    if (chk == NULL) {
        snprintf(err, cap, "refusing to write an invalid config: %s", verr);
        free(out);
        return -1;
    }
    conf_free(chk);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.skipctl.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", tmp, strerror(errno));
        free(out);
        return -1;
    }
    size_t len = strlen(out), off = 0;
    while (off < len) {
        ssize_t w = write(fd, out + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, cap, "%s: write: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(out);
            return -1;
        }
        off += (size_t)w;
    }
    free(out);
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, cap, "%s: fsync: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, cap, "rename %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    char dcopy[4096];
    snprintf(dcopy, sizeof dcopy, "%s", path);
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int mu_daemon_count(const mu_common *m)
{
    if (m->daemons == NULL || !*m->daemons)
        return 0;
    int n = 1;
    for (const char *p = m->daemons; *p; p++)
        n += *p == ',';
    return n;
}

const char *mu_daemon_url(const mu_common *m, int i, char *buf, size_t cap)
{
    const char *p = m->daemons;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (p == NULL)
        return NULL;
    size_t n = strcspn(p, ",");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int http_call(const mu_common *m, const char *url, const char *method, const char *path, const char *body,
                     json_t **out, char *err, size_t cap)
{
    if (out)
        *out = NULL;
    httpc *h = httpc_new(url, HTTP_TIMEOUT_MS);
    if (h == NULL) {
        snprintf(err, cap, "%s: bad URL", url);
        return -1;
    }
    httpc_resp r;
    httpc_err e = httpc_request(h, method, path, m->token, body, body ? strlen(body) : 0, &r);
    if (e != HTTPC_OK) {
        snprintf(err, cap, "%s %s%s: %s", method, url, path, httpc_strerror(e));
        httpc_free(h);
        return -1;
    }
    int status = r.status;
    if (out && r.len > 0)
        *out = json_loadb(r.body, r.len, 0, NULL);
    if (status < 200 || status > 299)
        snprintf(err, cap, "%s %s%s: HTTP %d %.*s", method, url, path, status, (int)(r.len > 300 ? 300 : r.len),
                 r.body ? r.body : "");
    httpc_free(h);
    return status;
}

int mu_post(const mu_common *m, const char *url, const char *path, const char *body, json_t **out, char *err,
            size_t cap)
{
    return http_call(m, url, "POST", path, body, out, err, cap);
}

int mu_reload_all(const mu_common *m, char *err, size_t cap)
{
    int n = mu_daemon_count(m);
    char url[512];
    for (int i = 0; i < n; i++) {
        if (mu_daemon_url(m, i, url, sizeof url) == NULL)
            continue;
        json_t *j = NULL;
        int st = http_call(m, url, "POST", "/v1/admin/reload", NULL, &j, err, cap);
        bool ok = st == 200 && j && json_is_true(json_object_get(j, "reloaded"));
        json_decref(j);
        if (!ok) {
            if (st == 200)
                snprintf(err, cap, "%s: reload not confirmed", url);
            return -1;
        }
    }
    return 0;
}

json_t *mu_groups(const mu_common *m, const char *url, char *err, size_t cap)
{
    json_t *j = NULL;
    int st = http_call(m, url, "GET", "/v1/groups", NULL, &j, err, cap);
    if (st != 200) {
        json_decref(j);
        return NULL;
    }
    if (j == NULL)
        snprintf(err, cap, "%s/v1/groups: not JSON", url);
    return j;
}

json_t *mu_group_obj(json_t *groups, int id)
{
    json_t *arr = json_object_get(groups, "groups");
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g) {
        if (json_integer_value(json_object_get(g, "id")) == id)
            return g;
    }
    return NULL;
}

kv *mu_kv(const conf *c)
{
    return kv_create(c->redis_addr, c->redis_timeout_ms > 500 ? c->redis_timeout_ms : 500);
}

bool mu_tty(void)
{
    return isatty(STDOUT_FILENO) == 1;
}

void mu_progress(const char *label, int64_t done, int64_t total, double rate)
{
    if (!mu_tty())
        return;
    char bar[31];
    int fill = total > 0 ? (int)(30 * (done > total ? total : done) / total) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    int64_t eta = mig_eta_s(done, total, rate);
    char etas[32];
    if (eta < 0)
        snprintf(etas, sizeof etas, "--");
    else
        snprintf(etas, sizeof etas, "%llds", (long long)eta);
    printf("\r%-10s [%s] %lld/%lld rows  %.0f rows/s  ETA %s   ", label, bar, (long long)done, (long long)total,
           rate, etas);
    fflush(stdout);
}

void mu_buf_put(mu_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (sk_reserve(&b->p, &b->cap, b->len + n + 1, 65536) != 0) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mu_buf_str(mu_buf *b, const char *s)
{
    mu_buf_put(b, s, strlen(s));
}

void mu_buf_val(mu_buf *b, MYSQL *my, const char *v, unsigned long len)
{
    if (v == NULL) {
        mu_buf_put(b, "NULL", 4);
        return;
    }
    if (b->oom)
        return;
    /* worst case every byte escapes to two, plus quotes */
    size_t need = 2 * (size_t)len + 3;
    if (sk_reserve(&b->p, &b->cap, b->len + need + 1, 65536) != 0) {
        b->oom = true;
        return;
    }
    b->p[b->len++] = '\'';
    b->len += mysql_real_escape_string(my, b->p + b->len, v, len);
    b->p[b->len++] = '\'';
    b->p[b->len] = '\0';
}

void mu_buf_free(mu_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
