/*
 * migrate/util.c — helpers shared by group add/retire and audit: DB
 * connections with explicit timeouts (dal/), atomic config writes, reloading
 * every daemon and /v1/groups (client/call.c), Redis, progress bar, SQL
 * buffers.
 */
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
#include "client/httpc.h"

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

void mu_common_defaults(mu_common *c)
{
    memset(c, 0, sizeof *c);
    c->config = env_or("SKIP_CONFIG", NULL);
    /* every daemon, each directly (a reload through a balancer reaches one) */
    c->daemons = env_or("SKIP_DAEMON_URLS", httpc_env_url());
    c->token = ""; /* requests are signed with a key from $SKIP_KEYS (client/httpc.h) */
    c->admin_user = env_or("SKIP_DB_ADMIN_USER", "root");
    c->admin_password = env_or("SKIP_DB_ADMIN_PASSWORD", "");
    /* a password file (0600) instead of a value: skipstored's automatic
     * failover passes its failover.admin_password_file this way */
    const char *pwf = env_or("SKIP_DB_ADMIN_PASSWORD_FILE", NULL);
    if (pwf != NULL && c->admin_password[0] == '\0') {
        static char pw[512];
        FILE *f = fopen(pwf, "r");
        if (f != NULL) {
            size_t n = fread(pw, 1, sizeof pw - 1, f);
            fclose(f);
            pw[n] = '\0';
            if (n > 0 && pw[n - 1] == '\n')
                pw[n - 1] = '\0';
            c->admin_password = pw;
        }
    }
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
    dal_tls_set(&o.tls, &c->db_tls);
    return dal_connect(&o, err, cap);
}

conf_group *mu_group(conf *c, int id)
{
    for (int i = 0; i < c->ngroups; i++)
        if (c->groups[i].id == id)
            return &c->groups[i];
    return NULL;
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
    int rc = mu_write_atomic(path, out, strlen(out), err, cap);
    free(out);
    return rc;
}

int mu_write_atomic(const char *path, const char *data, size_t len, char *err, size_t cap)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.skipctl.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, cap, "%s: write: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
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

/* --daemons / $SKIP_DAEMON_URLS: URLs separated by commas and/or spaces.
 * The i-th URL starts at the returned pointer and is *len bytes; NULL if none. */
static const char *daemon_token(const char *list, int i, size_t *len)
{
    static const char seps[] = ", ";
    const char *p = list ? list : "";
    for (;;) {
        p += strspn(p, seps);
        if (*p == '\0')
            return NULL;
        size_t n = strcspn(p, seps);
        if (i-- == 0) {
            *len = n;
            return p;
        }
        p += n;
    }
}

int mu_daemon_count(const mu_common *m)
{
    int n = 0;
    size_t len;
    while (daemon_token(m->daemons, n, &len) != NULL)
        n++;
    return n;
}

const char *mu_daemon_url(const mu_common *m, int i, char *buf, size_t cap)
{
    size_t n;
    const char *p = daemon_token(m->daemons, i, &n);
    if (p == NULL)
        return NULL;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

int mu_reload_all(const mu_common *m, char *err, size_t cap)
{
    int n = mu_daemon_count(m);
    char url[512];
    for (int i = 0; i < n; i++) {
        if (mu_daemon_url(m, i, url, sizeof url) == NULL)
            continue;
        json_t *j = NULL;
        int st = httpc_call(url, m->token, "POST", "/v1/admin/reload", NULL, MU_HTTP_TIMEOUT_MS, &j, err, cap);
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
    int st = httpc_call(url, m->token, "GET", "/v1/groups", NULL, MU_HTTP_TIMEOUT_MS, &j, err, cap);
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
    char err[256];
    kv *k = kv_create_conf(c, c->redis_timeout_ms > 500 ? c->redis_timeout_ms : 500, err, sizeof err);
    if (k == NULL)
        fprintf(stderr, "skipctl: %s\n", err);
    return k;
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
