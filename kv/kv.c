/* kv/kv.c — see kv.h. */
#include "kv/kv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/conn.h"

#define KV_POOL 16

struct kv {
    char host[256];
    int port;
    int timeout_ms;
    char *username;          /* NULL = none */
    char *password;          /* NULL = no AUTH */
    SSL_CTX *tls;            /* NULL = plaintext */
    bool verify_name;
    char server_name[256];   /* "" = host */
    char *tls_files;         /* "ca\ncert\nkey" the context was loaded from (kv_same_opts) */
    atomic_bool up;
    pthread_mutex_t mu;
    kvc *idle[KV_POOL];
    int nidle;
    char lasterr[200];       /* why the last connect/command failed (under mu) */
    char logged[200];        /* the reason last logged (under mu) */
    int64_t logged_ms;       /* when (monotonic) */
};

/* ------------------------------------------------------------------------ */
/* options (pure)                                                            */

static bool set(const char *s) { return s != NULL && s[0] != '\0'; }

int kv_opts_check(const kv_opts *o, char *err, size_t errcap)
{
    char host[256];
    int port;
    if (o == NULL || o->addr == NULL || sk_parse_hostport(o->addr, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "redis: bad address '%s'", o && o->addr ? o->addr : "(null)");
        return -1;
    }
    if (o->timeout_ms < 1 || o->timeout_ms > 60000) {
        snprintf(err, errcap, "redis: timeout %d ms out of range 1..60000", o->timeout_ms);
        return -1;
    }
    if (set(o->username) && !set(o->password)) {
        snprintf(err, errcap, "redis: a username needs a password");
        return -1;
    }
    const kv_tls_opts *t = &o->tls;
    if (!t->enabled)
        return 0;
    if (set(t->cert) != set(t->key)) {
        snprintf(err, errcap, "redis tls: cert and key go together");
        return -1;
    }
    if (t->verify_server_cert && !set(t->ca)) {
        snprintf(err, errcap, "redis tls: verify_server_cert needs ca");
        return -1;
    }
    if (set(t->server_name) && strlen(t->server_name) >= 256) {
        snprintf(err, errcap, "redis tls: server_name too long");
        return -1;
    }
    return 0;
}

int kv_auth_argv(const kv_opts *o, const char *argv[3], size_t lens[3])
{
    if (!set(o->password))
        return 0;
    int n = 0;
    argv[n++] = "AUTH";
    if (set(o->username))
        argv[n++] = o->username;
    argv[n++] = o->password;
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    return n;
}

void kv_opts_from_conf(kv_opts *o, const conf *c)
{
    memset(o, 0, sizeof *o);
    o->addr = c->redis_addr;
    o->timeout_ms = c->redis_timeout_ms;
    o->username = c->redis_username;
    o->password = c->redis_password;
    const conf_tls *t = &c->redis_tls;
    o->tls.enabled = t->enabled != 0;
    o->tls.verify_server_cert = t->verify_server_cert != 0;
    o->tls.ca = t->ca;
    o->tls.cert = t->cert;
    o->tls.key = t->key;
    o->tls.server_name = t->server_name;
}

/* ------------------------------------------------------------------------ */
/* lifecycle                                                                 */

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static char *tls_files_key(const kv_tls_opts *t)
{
    char *s = NULL;
    if (asprintf(&s, "%s\n%s\n%s", t->ca ? t->ca : "", t->cert ? t->cert : "", t->key ? t->key : "") < 0)
        return NULL;
    return s;
}

static bool str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

bool kv_same_opts(const kv *k, const kv_opts *o)
{
    char host[256];
    int port;
    if (k == NULL || o == NULL || o->addr == NULL || sk_parse_hostport(o->addr, host, sizeof host, &port) != 0)
        return false;
    if (strcmp(host, k->host) != 0 || port != k->port || o->timeout_ms != k->timeout_ms ||
        !str_eq(o->username, k->username) || !str_eq(o->password, k->password) ||
        o->tls.enabled != (k->tls != NULL))
        return false;
    if (!o->tls.enabled)
        return true;
    char *files = tls_files_key(&o->tls);
    bool same = files != NULL && strcmp(files, k->tls_files) == 0 && o->tls.verify_server_cert == k->verify_name &&
                str_eq(o->tls.server_name, k->server_name);
    free(files);
    return same;
}

kv *kv_create(const kv_opts *o, char *err, size_t errcap)
{
    if (kv_opts_check(o, err, errcap) != 0)
        return NULL;
    kv *k = calloc(1, sizeof *k);
    if (k == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&k->mu, NULL);
    if (sk_parse_hostport(o->addr, k->host, sizeof k->host, &k->port) != 0) { /* checked above */
        kv_destroy(k);
        return NULL;
    }
    k->timeout_ms = o->timeout_ms;
    if ((set(o->username) && (k->username = strdup(o->username)) == NULL) ||
        (set(o->password) && (k->password = strdup(o->password)) == NULL)) {
        snprintf(err, errcap, "out of memory");
        kv_destroy(k);
        return NULL;
    }
    if (o->tls.enabled) {
        k->tls = kvc_tls_ctx(o->tls.ca, o->tls.cert, o->tls.key, o->tls.verify_server_cert, err, errcap);
        if (k->tls == NULL) {
            kv_destroy(k);
            return NULL;
        }
        k->verify_name = o->tls.verify_server_cert;
        sk_strlcpy(k->server_name, set(o->tls.server_name) ? o->tls.server_name : "", sizeof k->server_name);
        if ((k->tls_files = tls_files_key(&o->tls)) == NULL) {
            snprintf(err, errcap, "out of memory");
            kv_destroy(k);
            return NULL;
        }
    }
    atomic_store(&k->up, true); /* optimistic until a command fails */
    return k;
}

kv *kv_create_conf(const conf *c, int timeout_ms, char *err, size_t errcap)
{
    kv_opts o;
    kv_opts_from_conf(&o, c);
    o.timeout_ms = timeout_ms;
    return kv_create(&o, err, errcap);
}

void kv_destroy(kv *k)
{
    if (k == NULL)
        return;
    for (int i = 0; i < k->nidle; i++)
        kvc_close(k->idle[i]);
    if (k->tls != NULL)
        SSL_CTX_free(k->tls);
    pthread_mutex_destroy(&k->mu);
    wipe_free(k->username);
    wipe_free(k->password);
    free(k->tls_files);
    free(k);
}

bool kv_up(const kv *k) { return atomic_load(&((kv *)k)->up); }

/* ------------------------------------------------------------------------ */
/* the pool                                                                  */

static void note_err(kv *k, const char *what, const char *why)
{
    pthread_mutex_lock(&k->mu);
    snprintf(k->lasterr, sizeof k->lasterr, "%s: %s", what, why);
    pthread_mutex_unlock(&k->mu);
    sk_debug("event=redis_%s_failed addr=%s:%d err=\"%s\"", what, k->host, k->port, why);
}

/* Redis is down: one warn line per transition, with the last reason (a
 * refused AUTH, a failed handshake, a timeout ...). Never the password. */
static void mark_down(kv *k)
{
    if (!atomic_exchange(&k->up, false))
        return;
    char why[200];
    pthread_mutex_lock(&k->mu);
    sk_strlcpy(why, k->lasterr, sizeof why);
    sk_strlcpy(k->logged, why, sizeof k->logged);
    k->logged_ms = sk_mono_ms();
    pthread_mutex_unlock(&k->mu);
    sk_warn("event=redis_down addr=%s:%d tls=%d err=\"%s\"", k->host, k->port, k->tls != NULL, why);
}

/* Still down, for another reason than the one logged (a timeout first, then a
 * refused AUTH): one line, at most every 10 s, so the operator sees the cause
 * that lasts. */
static void note_still_down(kv *k)
{
    char why[200] = "";
    int64_t now = sk_mono_ms();
    pthread_mutex_lock(&k->mu);
    if (strcmp(k->logged, k->lasterr) != 0 && now - k->logged_ms >= 10000) {
        sk_strlcpy(why, k->lasterr, sizeof why);
        sk_strlcpy(k->logged, why, sizeof k->logged);
        k->logged_ms = now;
    }
    pthread_mutex_unlock(&k->mu);
    if (why[0])
        sk_warn("event=redis_still_down addr=%s:%d tls=%d err=\"%s\"", k->host, k->port, k->tls != NULL, why);
}

/* A new connection, authenticated; NULL on failure (reason noted). */
static kvc *dial(kv *k)
{
    char err[200];
    kvc_opts co = {.host = k->host, .port = k->port, .timeout_ms = k->timeout_ms, .tls = k->tls,
                   .verify_name = k->verify_name, .server_name = k->server_name};
    kvc *c = kvc_connect(&co, err, sizeof err);
    if (c == NULL) {
        note_err(k, "connect", err);
        return NULL;
    }
    kv_opts ao = {.username = k->username, .password = k->password};
    const char *argv[3];
    size_t lens[3];
    int argc = kv_auth_argv(&ao, argv, lens);
    if (argc == 0)
        return c;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    redisReply *r = NULL;
    int rc = len < 0 ? -1 : kvc_call(c, cmd, (size_t)len, k->timeout_ms, &r);
    if (cmd != NULL) {
        explicit_bzero(cmd, (size_t)(len > 0 ? len : 0));
        redisFreeCommand(cmd);
    }
    if (rc != 0) {
        note_err(k, "auth", len < 0 ? "out of memory" : kvc_err(c));
    } else if (r->type == REDIS_REPLY_ERROR) {
        /* "WRONGPASS ..." / "ERR AUTH <password> called without any password configured" */
        snprintf(err, sizeof err, "refused: %.150s", r->str);
        note_err(k, "auth", err);
        rc = -1;
    }
    if (r != NULL)
        freeReplyObject(r);
    if (rc != 0) {
        kvc_close(c);
        return NULL;
    }
    return c;
}

static kvc *conn_get(kv *k)
{
    kvc *c = NULL;
    pthread_mutex_lock(&k->mu);
    if (k->nidle > 0)
        c = k->idle[--k->nidle];
    pthread_mutex_unlock(&k->mu);
    return c != NULL ? c : dial(k);
}

static void conn_put(kv *k, kvc *c, bool broken)
{
    if (!broken) {
        pthread_mutex_lock(&k->mu);
        if (k->nidle < KV_POOL) {
            k->idle[k->nidle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&k->mu);
    }
    kvc_close(c);
}

static void drop_idle(kv *k)
{
    kvc *old[KV_POOL];
    pthread_mutex_lock(&k->mu);
    int n = k->nidle;
    memcpy(old, k->idle, sizeof old);
    k->nidle = 0;
    pthread_mutex_unlock(&k->mu);
    for (int i = 0; i < n; i++)
        kvc_close(old[i]);
}

/* Run one formatted command (cmd owned; freed here). force: even while
 * Redis is marked down (the health check). */
static redisReply *run(kv *k, char *cmd, int len, bool force)
{
    if (len < 0 || cmd == NULL) {
        redisFreeCommand(cmd);
        return NULL;
    }
    if (!force && !atomic_load(&k->up)) {
        redisFreeCommand(cmd);
        return NULL;
    }
    kvc *c = conn_get(k);
    if (c == NULL) {
        redisFreeCommand(cmd);
        mark_down(k);
        return NULL;
    }
    redisReply *r = NULL;
    int rc = kvc_call(c, cmd, (size_t)len, k->timeout_ms, &r);
    redisFreeCommand(cmd);
    if (rc != 0) {
        /* this connection is done for (a late reply would answer the next
         * command). A reset, EOF or protocol error says the server went away:
         * the idle connections are dead too. A timeout says it is slow: the
         * idle ones are kept, so that coming back costs no reconnects (a TLS
         * handshake each). Either way Redis is down until kv_check sees it
         * answer. */
        note_err(k, "command", kvc_err(c));
        bool slow = kvc_timed_out(c);
        conn_put(k, c, true);
        if (!slow)
            drop_idle(k);
        mark_down(k);
        return NULL;
    }
    conn_put(k, c, false);
    if (r->type == REDIS_REPLY_ERROR) {
        if (force) /* the health check's PING refused (e.g. NOAUTH): that is why Redis is down */
            note_err(k, "ping", r->str);
        sk_debug("event=redis_error_reply err=\"%s\"", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *kv_cmdargv(kv *k, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    return run(k, cmd, len, false);
}

redisReply *kv_cmd(kv *k, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return run(k, cmd, len, false);
}

bool kv_check(kv *k)
{
    const char *argv[] = {"PING"};
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, 1, argv, NULL);
    bool was = atomic_load(&k->up);
    redisReply *r = run(k, cmd, len, true);
    if (r == NULL) {
        /* an error reply to PING (e.g. NOAUTH after a password change) is down too */
        mark_down(k);
        if (!was)
            note_still_down(k);
        return false;
    }
    freeReplyObject(r);
    if (!atomic_exchange(&k->up, true))
        sk_warn("event=redis_up addr=%s:%d tls=%d", k->host, k->port, k->tls != NULL);
    return true;
}

/* ------------------------------------------------------------------------ */
/* subscriptions                                                             */

struct kv_sub {
    kvc *c;
    int timeout_ms;
};

kv_sub *kv_subscribe(kv *k, const char *channel)
{
    kvc *c = dial(k);   /* AUTH and TLS like every connection of k */
    if (c == NULL)
        return NULL;
    const char *argv[2] = {"SUBSCRIBE", channel};
    size_t lens[2] = {9, strlen(channel)};
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, 2, argv, lens);
    redisReply *r = NULL;
    int rc = len < 0 ? -1 : kvc_call(c, cmd, (size_t)len, k->timeout_ms, &r);
    if (cmd)
        redisFreeCommand(cmd);
    bool ok = rc == 0 && r != NULL && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    kv_sub *s = ok ? calloc(1, sizeof *s) : NULL;
    if (s == NULL) {
        kvc_close(c);
        return NULL;
    }
    s->c = c;
    s->timeout_ms = k->timeout_ms;
    return s;
}

int kv_sub_wait(kv_sub *s, int timeout_ms)
{
    redisReply *r = NULL;
    int rc = kvc_wait(s->c, timeout_ms, &r);
    if (rc <= 0)
        return rc;
    /* ["message", channel, payload]; a PONG or other reply counts as alive */
    int msg = r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(r->element[0]->str, "message") == 0;
    freeReplyObject(r);
    return msg ? 1 : 2;
}

int kv_sub_ping(kv_sub *s)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    return kvc_send(s->c, ping, sizeof ping - 1, s->timeout_ms);
}

void kv_sub_close(kv_sub *s)
{
    if (s == NULL)
        return;
    kvc_close(s->c);
    free(s);
}
