/* kv/kv.c — see kv.h. */
#include "kv/kv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define KV_POOL 16

struct kv {
    char host[128];
    int port;
    int timeout_ms;
    atomic_bool up;
    pthread_mutex_t mu;
    redisContext *idle[KV_POOL];
    int nidle;
};

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

kv *kv_create(const char *addr, int timeout_ms)
{
    kv *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    if (sk_parse_hostport(addr, k->host, sizeof k->host, &k->port) != 0) {
        free(k);
        return NULL;
    }
    k->timeout_ms = timeout_ms;
    atomic_store(&k->up, true); /* optimistic until a command fails */
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void kv_destroy(kv *k)
{
    if (k == NULL)
        return;
    for (int i = 0; i < k->nidle; i++)
        redisFree(k->idle[i]);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

bool kv_up(const kv *k) { return atomic_load(&((kv *)k)->up); }

static redisContext *ctx_get(kv *k)
{
    redisContext *c = NULL;
    pthread_mutex_lock(&k->mu);
    if (k->nidle > 0)
        c = k->idle[--k->nidle];
    pthread_mutex_unlock(&k->mu);
    if (c != NULL)
        return c;
    c = redisConnectWithTimeout(k->host, k->port, ms_tv(k->timeout_ms));
    if (c == NULL)
        return NULL;
    if (c->err) {
        sk_debug("event=redis_connect_failed err=\"%s\"", c->errstr);
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, ms_tv(k->timeout_ms)) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void ctx_put(kv *k, redisContext *c, bool broken)
{
    if (!broken) {
        pthread_mutex_lock(&k->mu);
        if (k->nidle < KV_POOL) {
            k->idle[k->nidle++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&k->mu);
    }
    if (c != NULL)
        redisFree(c);
}

static void drop_idle(kv *k)
{
    pthread_mutex_lock(&k->mu);
    for (int i = 0; i < k->nidle; i++)
        redisFree(k->idle[i]);
    k->nidle = 0;
    pthread_mutex_unlock(&k->mu);
}

/* A context to run one command on, or NULL (Redis marked down). */
static redisContext *begin(kv *k, bool force)
{
    if (!force && !atomic_load(&k->up))
        return NULL;
    redisContext *c = ctx_get(k);
    if (c == NULL)
        atomic_store(&k->up, false);
    return c;
}

/* After one command on c: return the context to the pool (or drop it and
 * every idle one on an I/O error or timeout, marking Redis down); error
 * replies become NULL. */
static redisReply *finish(kv *k, redisContext *c, redisReply *r)
{
    if (r == NULL) {
        sk_debug("event=redis_command_failed err=\"%s\"", c->errstr);
        ctx_put(k, c, true);
        drop_idle(k);
        atomic_store(&k->up, false);
        return NULL;
    }
    ctx_put(k, c, false);
    if (r->type == REDIS_REPLY_ERROR) {
        sk_debug("event=redis_error_reply err=\"%s\"", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *run(kv *k, int argc, const char **argv, const size_t *lens, bool force)
{
    redisContext *c = begin(k, force);
    return c ? finish(k, c, redisCommandArgv(c, argc, argv, lens)) : NULL;
}

redisReply *kv_cmdargv(kv *k, int argc, const char **argv, const size_t *lens)
{
    return run(k, argc, argv, lens, false);
}

redisReply *kv_cmd(kv *k, const char *fmt, ...)
{
    redisContext *c = begin(k, false);
    if (c == NULL)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return finish(k, c, r);
}

bool kv_check(kv *k)
{
    const char *argv[] = {"PING"};
    bool was = atomic_load(&k->up);
    redisReply *r = run(k, 1, argv, NULL, true);
    bool ok = r != NULL;
    if (r)
        freeReplyObject(r);
    atomic_store(&k->up, ok);
    if (ok != was)
        sk_warn("event=redis_%s addr=%s:%d", ok ? "up" : "down", k->host, k->port);
    return ok;
}
