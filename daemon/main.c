/*
 * daemon/main.c — skipstored: start-up, node-id lease, background threads
 * (counter refresher + lease renewal, expiry sweeper, relay), SIGHUP reload,
 * orderly shutdown. Signal handlers only set flags; the main loop acts.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/cref.h"
#include "dal/dal.h"
#include "prober/prober.h"
#include "rpc/app.h"
#include "rpc/http.h"
#include "selector/grt.h"
#include "mirror/relay.h"

static volatile sig_atomic_t g_stop, g_reload;
static atomic_bool stop_threads;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void set_log_level(const char *s)
{
    if (s == NULL) return;
    if (strcmp(s, "debug") == 0) sk_log_level = SK_LOG_DEBUG;
    else if (strcmp(s, "warn") == 0) sk_log_level = SK_LOG_WARN;
    else if (strcmp(s, "error") == 0) sk_log_level = SK_LOG_ERROR;
    else sk_log_level = SK_LOG_INFO;
}

/* ---- node-id lease (Redis key skip:node:<id>, value = our token) ---- */

typedef enum { LEASE_OK, LEASE_HELD, LEASE_NO_REDIS } lease_res;

static lease_res lease_take(app *a, int node, int ttl_s)
{
    char key[32];
    snprintf(key, sizeof key, "skip:node:%d", node);
    redisReply *r = kv_cmd(a->kv, "SET %s %s NX EX %d", key, a->token, ttl_s);
    if (r == NULL)
        return LEASE_NO_REDIS;
    bool ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (ok)
        return LEASE_OK;
    r = kv_cmd(a->kv, "GET %s", key);
    if (r == NULL)
        return LEASE_NO_REDIS;
    ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, a->token) == 0;
    freeReplyObject(r);
    if (!ok)
        return LEASE_HELD;
    r = kv_cmd(a->kv, "EXPIRE %s %d", key, ttl_s);
    if (r)
        freeReplyObject(r);
    return LEASE_OK;
}

static void lease_drop(app *a, int node)
{
    char key[32];
    snprintf(key, sizeof key, "skip:node:%d", node);
    redisReply *r = kv_cmd(a->kv, "EVAL %s 1 %s %s",
                           "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
                           key, a->token);
    if (r)
        freeReplyObject(r);
}

/* ---- background threads ---- */

static void *refresher(void *arg)
{
    app *a = arg;
    int64_t next_lease = 0;
    while (!atomic_load(&stop_threads)) {
        cref_hold *h = cref_get(a->cfg);
        const conf *c = cref_conf(h);
        int period = c->counter_refresh_ms;
        grt_refresh(a->grt, c, sk_now_ms(), a->token);
        int64_t now = sk_mono_ms();
        if (now >= next_lease) {
            lease_res lr = lease_take(a, c->node_id, c->node_lease_s);
            if (lr == LEASE_HELD)
                sk_error("event=node_lease_lost node_id=%d action=keep_serving "
                         "note=another daemon holds this node id; fix the configuration", c->node_id);
            next_lease = now + c->node_lease_s * 1000 / 3;
        }
        cref_put(h);
        sleep_ms(period);
    }
    return NULL;
}

static void *sweeper(void *arg)
{
    app *a = arg;
    while (!atomic_load(&stop_threads)) {
        cref_hold *h = cref_get(a->cfg);
        int period = cref_conf(h)->sweep_interval_ms;
        cref_put(h);
        app_sweep(a);
        for (int waited = 0; waited < period && !atomic_load(&stop_threads); waited += 100)
            sleep_ms(period - waited < 100 ? period - waited : 100);
    }
    return NULL;
}

/* ---- reload (SIGHUP, POST /v1/admin/reload) ---- */

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static prober *g_prober;
static relay *g_relay;
static const char *g_path;

static int do_reload(app *a, char *err, size_t cap)
{
    pthread_mutex_lock(&reload_mu);
    conf *n = conf_load(g_path, err, cap);
    if (n == NULL) {
        sk_error("event=reload_failed keep=old_config err=\"%s\"", err);
        pthread_mutex_unlock(&reload_mu);
        return -1;
    }
    cref_hold *h = cref_get(a->cfg);
    const conf *o = cref_conf(h);
    bool bad = n->node_id != o->node_id || strcmp(n->listen, o->listen) != 0;
    cref_put(h);
    if (bad) {
        snprintf(err, cap, "%s: node_id and listen need a restart", g_path);
        sk_error("event=reload_failed keep=old_config err=\"%s\"", err);
        conf_free(n);
        pthread_mutex_unlock(&reload_mu);
        return -1;
    }
    set_log_level(n->log_level);
    grt_apply_conf(a->grt, n);
    int ng = n->ngroups;
    cref_swap(a->cfg, n);
    prober_sync(g_prober);
    relay_sync(g_relay);
    sk_info("event=reloaded path=%s groups=%d", g_path, ng);
    pthread_mutex_unlock(&reload_mu);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: skipstored --config FILE\n");
}

int main(int argc, char **argv)
{
    const char *path = getenv("SKIP_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (path == NULL) {
        usage();
        return 2;
    }
    char err[CONF_ERR_MAX];
    conf *c = conf_load(path, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    set_log_level(c->log_level);
    signal(SIGPIPE, SIG_IGN);
    /* one thread per HTTP connection: cap malloc arenas so 1,000 keep-alive
     * connections do not each grow their own arena (RSS budget, issue 6) */
    mallopt(M_ARENA_MAX, 4);
    dal_library_init();

    static app A;
    app *a = &A;
    pthread_mutex_init(&a->gen_mu, NULL);
    snprintf(a->token, sizeof a->token, "%ld-%lld-%d", (long)getpid(), (long long)sk_now_ms(), rand());
    a->kv = kv_create(c->redis_addr, c->redis_timeout_ms);
    if (a->kv == NULL) {
        fprintf(stderr, "%s: bad redis address\n", path);
        conf_free(c);
        return 1;
    }
    lease_res lr = lease_take(a, c->node_id, c->node_lease_s);
    if (lr == LEASE_HELD) {
        sk_error("event=start_refused reason=node_id_held node_id=%d", c->node_id);
        fprintf(stderr, "skipstored: node id %d is held by another live daemon\n", c->node_id);
        kv_destroy(a->kv);
        conf_free(c);
        return 1;
    }
    if (lr == LEASE_NO_REDIS)
        sk_warn("event=node_lease_unverified node_id=%d reason=redis_down", c->node_id);
    ono_gen_init(&a->gen, c->node_id);
    a->grt = grt_create(a->kv);
    grt_apply_conf(a->grt, c);
    a->cfg = cref_create(c);

    prober *p = prober_start(a->cfg, a->grt);
    relay *rl = relay_start(a->cfg, a->grt);
    g_prober = p;
    g_relay = rl;
    g_path = path;
    a->reload = do_reload;
    pthread_t th_ref, th_sweep;
    pthread_create(&th_ref, NULL, refresher, a);
    pthread_create(&th_sweep, NULL, sweeper, a);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    cref_hold *h = cref_get(a->cfg);
    const conf *cc = cref_conf(h);
    http_server *srv = http_start(cc->listen, (size_t)cc->max_body_bytes, api_handle, a);
    int node = cc->node_id;
    sk_info("event=started listen=%s node_id=%d groups=%d", cc->listen, cc->node_id, cc->ngroups);
    cref_put(h);
    if (srv == NULL) {
        g_stop = 1; /* fall through to the orderly shutdown below */
    }
    while (!g_stop) {
        if (g_reload) {
            g_reload = 0;
            char e[CONF_ERR_MAX];
            (void)do_reload(a, e, sizeof e);
        }
        sleep_ms(50);
    }
    sk_info("event=stopping");
    if (srv)
        http_stop(srv);
    atomic_store(&stop_threads, true);
    pthread_join(th_ref, NULL);
    pthread_join(th_sweep, NULL);
    relay_stop(rl);
    prober_stop(p);
    lease_drop(a, node);
    grt_destroy(a->grt);
    kv_destroy(a->kv);
    cref_destroy(a->cfg);
    mysql_library_end();
    sk_info("event=stopped");
    return srv ? 0 : 1;
}
