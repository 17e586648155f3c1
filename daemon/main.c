/*
 * daemon/main.c — skipstored: start-up, node-id lease, background threads
 * (refresher: counters, fences, freeze, lease; expiry sweeper; prober;
 * relay; terminal registry refresher + subscriber; audit writer), reload as
 * one runtime swap, orderly shutdown. Signal handlers only set flags; the
 * main loop acts.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/help.h"   /* issue 14: --help */
#include "daemon/ready.h"  /* issue 14: sd_notify */
#include "audit/audit.h"
#include "dal/dal.h"
#include "flow/flow.h"
#include "prober/prober.h"
#include "relay/relay.h"
#include "rpc/api.h"
#include "rpc/http.h"
#include "runtime/runtime.h"
#include "terminal/tsync.h"

static volatile sig_atomic_t g_stop, g_reload;
static atomic_bool stop_threads;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_stop = 1;
}

/* ---- node-id lease (Redis key skip:node:<id>, value = our token) ---- */

typedef enum { LEASE_OK, LEASE_HELD, LEASE_NO_REDIS } lease_res;

static lease_res lease_take(kv *k, const char *token, int node, int ttl_s)
{
    char key[32];
    snprintf(key, sizeof key, "skip:node:%d", node);
    redisReply *r = kv_cmd(k, "SET %s %s NX EX %d", key, token, ttl_s);
    if (r == NULL)
        return LEASE_NO_REDIS;
    bool ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (ok)
        return LEASE_OK;
    r = kv_cmd(k, "GET %s", key);
    if (r == NULL)
        return LEASE_NO_REDIS;
    ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, token) == 0;
    freeReplyObject(r);
    if (!ok)
        return LEASE_HELD;
    r = kv_cmd(k, "EXPIRE %s %d", key, ttl_s);
    if (r)
        freeReplyObject(r);
    return LEASE_OK;
}

static void lease_drop(kv *k, const char *token, int node)
{
    char key[32];
    snprintf(key, sizeof key, "skip:node:%d", node);
    redisReply *r = kv_cmd(k, "EVAL %s 1 %s %s",
                           "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
                           key, token);
    if (r)
        freeReplyObject(r);
}

/* ---- background threads ---- */

#define AUTH_OFF_WARN_MS 60000

static void *refresher(void *arg)
{
    app *a = arg;
    sk_thread_name("sk-refresh");
    int64_t next_lease = 0, next_auth_warn = 0;
    while (!atomic_load(&stop_threads)) {
        rt *r = rt_get(a->rt);
        const conf *c = r->c;
        if (r->keys == NULL && sk_mono_ms() >= next_auth_warn) {
            /* no open default: off only when written, and never quietly */
            sk_warn("event=auth_off note=\"auth.mode is off in %s: every caller can create, pay, refund and "
                    "fence; do not run like this outside a lab\"", c->path);
            next_auth_warn = sk_mono_ms() + AUTH_OFF_WARN_MS;
        }
        int period = c->counter_refresh_ms;
        grt_refresh(a->grt, r->kv, c, sk_now_ms());
        if (kv_up(r->kv))
            (void)frz_refresh(a->frz, r->kv, c, a->token);
        int64_t now = sk_mono_ms();
        if (now >= next_lease) {
            if (lease_take(r->kv, a->token, c->node_id, c->node_lease_s) == LEASE_HELD)
                sk_error("event=node_lease_lost node_id=%d action=keep_serving "
                         "note=another daemon holds this node id; fix the configuration", c->node_id);
            next_lease = now + c->node_lease_s * 1000 / 3;
        }
        rt_put(r);
        sk_sleep_ms(period);
    }
    return NULL;
}

static void *sweeper(void *arg)
{
    app *a = arg;
    sk_thread_name("sk-sweep");
    while (!atomic_load(&stop_threads)) {
        rt *r = rt_get(a->rt);
        int period = r->c->sweep_interval_ms;
        rt_put(r);
        flow_sweep(a);
        for (int waited = 0; waited < period && !atomic_load(&stop_threads); waited += 100)
            sk_sleep_ms(period - waited < 100 ? period - waited : 100);
    }
    return NULL;
}

/* ---- reload (SIGHUP, POST /v1/admin/reload): build aside, then one swap ---- */

static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static prober *g_prober;
static relay *g_relay;
static const char *g_path;

/* --node-id / --listen: the two per-daemon settings, given on the command
 * line so that every daemon of a cluster can read the one config file that
 * operators and `skipctl group add|retire` edit. Applied after every load
 * (start and reload), so a reload never sees them "change". */
static int g_node_id = -1;           /* -1: from the file */
static const char *g_listen;         /* NULL: from the file */

static int apply_overrides(conf *c)
{
    if (g_node_id >= 0)
        c->node_id = g_node_id;
    if (g_listen != NULL) {
        char *l = strdup(g_listen);
        if (l == NULL)
            return -1;
        free(c->listen);
        c->listen = l;
    }
    return 0;
}

static int do_reload(app *a, char *err, size_t cap)
{
    pthread_mutex_lock(&reload_mu);
    int rc = -1;
    conf *n = conf_load(g_path, err, cap);
    if (n != NULL && apply_overrides(n) != 0) {
        conf_free(n);
        n = NULL;
        snprintf(err, cap, "out of memory");
    }
    if (n == NULL)
        goto out;
    if (relay_check_conf(n, err, cap) != 0) { /* e.g. an unknown kafka.producer property */
        conf_free(n);
        goto out;
    }
    rt *old = rt_get(a->rt);
    /* groups whose primary changed (a failover): their failure counts were
     * the old server's and are reset once the new config is in force */
    int moved[CONF_MAX_GROUPS], nmoved = 0;
    for (int i = 0; i < n->ngroups; i++) {
        const conf_group *og = conf_group_by_id(old->c, n->groups[i].id);
        if (og && og->primary && n->groups[i].primary && strcmp(og->primary, n->groups[i].primary) != 0)
            moved[nmoved++] = n->groups[i].id;
    }
    const char *key = rt_restart_key(old->c, n);
    if (key != NULL) {
        snprintf(err, cap, "%s: %s cannot change without a restart", g_path, key);
        sk_error("event=reload_refused key=%s keep=old_config path=%s", key, g_path);
        conf_free(n);
        rt_put(old);
        pthread_mutex_unlock(&reload_mu);
        return -1;
    }
    rt *nr = rt_build(n, old, err, cap);
    rt_put(old);
    if (nr == NULL)
        goto out;
    int ng = nr->c->ngroups;
    sk_log_set_level_name(nr->c->log_level);
    sk_debug("event=reload_runtime pools_shared=%d pools_new=%d", nr->pools_shared, nr->pools_new);
    rt_swap(a->rt, nr);
    for (int i = 0; i < nmoved; i++) {
        grt_reset_failures(a->grt, moved[i]);
        sk_info("event=group_primary_changed group=%d failures=reset", moved[i]);
    }
    prober_sync(g_prober);
    relay_sync(g_relay);
    sk_info("event=reloaded path=%s groups=%d", g_path, ng);
    rc = 0;
out:
    if (rc != 0)
        sk_error("event=reload_failed keep=old_config err=\"%s\"", err);
    pthread_mutex_unlock(&reload_mu);
    return rc;
}

int main(int argc, char **argv)
{
    /* issue 14: man-style --help (daemon/help.c); usage errors exit 2 */
    const char *path = getenv("SKIP_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--node-id") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || end == argv[i] || v < 0 || v > 999) {
                fprintf(stderr, "skipstored: --node-id must be 0..999\n");
                return 2;
            }
            g_node_id = (int)v;
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            g_listen = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return help_show(skipstored_help);
        else
            return help_usage(skipstored_help, "skipstored", "unknown option or missing value: '%s'", argv[i]);
    }
    if (path == NULL)
        return help_usage(skipstored_help, "skipstored", "no --config FILE and no $SKIP_CONFIG");
    char err[CONF_ERR_MAX];
    conf *c = conf_load(path, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (apply_overrides(c) != 0) {
        conf_free(c);
        return 1;
    }
    sk_log_set_level_name(c->log_level);
    if (relay_check_conf(c, err, sizeof err) != 0) { /* a bad kafka.producer property: say so now */
        fprintf(stderr, "%s\n", err);
        conf_free(c);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* many threads (workers, loops, background): cap malloc arenas (RSS budget) */
    mallopt(M_ARENA_MAX, 4);
    dal_library_init();

    static app A;
    app *a = &A;
    pthread_mutex_init(&a->gen_mu, NULL);
    snprintf(a->token, sizeof a->token, "%ld-%lld-%d", (long)getpid(), (long long)sk_now_ms(), rand());
    int node = c->node_id;
    rt *r0 = rt_build(c, NULL, err, sizeof err);
    if (r0 == NULL) {
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    lease_res lr = lease_take(r0->kv, a->token, node, r0->c->node_lease_s);
    if (lr == LEASE_HELD) {
        sk_error("event=start_refused reason=node_id_held node_id=%d", node);
        fprintf(stderr, "skipstored: node id %d is held by another live daemon\n", node);
        rt_put(r0);
        return 1;
    }
    if (lr == LEASE_NO_REDIS)
        sk_warn("event=node_lease_unverified node_id=%d reason=redis_down", node);
    ono_gen_init(&a->gen, node);
    ono_gen_start_after(&a->gen, sk_now_ms() / 1000); /* the last holder of this id may have issued in it */
    a->grt = grt_create();
    a->frz = frz_create();
    a->sf = sf_create();
    a->nonces = nonce_create();
    a->rt = rtref_create(r0);
    a->term = term_start(a->rt);         /* terminal registry copy (spec §11) */
    a->audit = audit_start(a->rt, node); /* audit trail writer */

    prober *p = prober_start(a->rt, a->grt);
    relay *rl = relay_start(a->rt, a->grt);
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

    rt *r = rt_get(a->rt);
    const conf *hc = r->c;
    /* descriptors: every connection, every pool connection, and a margin */
    long fds = hc->http_max_connections + 512;
    for (int g = 0; g < hc->ngroups; g++)
        fds += (long)(1 + hc->groups[g].nreplicas) * hc->db_pool_size;
    long have = sk_raise_nofile(fds);
    if (have < fds)
        sk_warn("event=nofile_low have=%ld want=%ld note=raise the hard limit (LimitNOFILE=)", have, fds);
    http_opts ho = {
        .listen = hc->listen, .listen_tls = hc->listen_tls,
        .tls_cert = hc->tls_cert, .tls_key = hc->tls_key, .tls_client_ca = hc->tls_client_ca,
        .max_body = (size_t)hc->max_body_bytes,
        .io_threads = hc->http_io_threads, .workers = hc->http_workers, .max_connections = hc->http_max_connections,
        .header_timeout_ms = hc->http_header_timeout_ms, .body_timeout_ms = hc->http_body_timeout_ms,
        .idle_timeout_ms = hc->http_idle_timeout_ms,
        .handler = api_handle, .ctx = a,
    };
    char herr[512];
    http_server *srv = http_start(&ho, herr, sizeof herr);
    if (srv == NULL) {
        sk_error("event=http_start_failed err=\"%s\"", herr);
        fprintf(stderr, "skipstored: %s\n", herr);
    } else {
        sk_info("event=started listen=%s listen_tls=%s mtls=%s node_id=%d groups=%d", hc->listen[0] ? hc->listen : "-",
                hc->listen_tls[0] ? hc->listen_tls : "-", hc->tls_client_ca[0] ? "on" : "off", node, hc->ngroups);
    }
    rt_put(r);
    if (srv == NULL)
        g_stop = 1; /* fall through to the orderly shutdown below */
    while (!g_stop) {
        ready_tick(a->rt, a->grt); /* issue 14: READY=1 once every group was probed */
        if (g_reload) {
            g_reload = 0;
            char e[CONF_ERR_MAX];
            ready_reload_begin();                                  /* issue 14: RELOADING=1 */
            int rc = do_reload(a, e, sizeof e);
            ready_reload_end(rc == 0, e);                          /* issue 14: READY=1 */
            audit_record(a->audit, &(audit_event){.key_id = "signal:SIGHUP", .action = "reload",
                                                  .result = rc == 0 ? "ok" : "INVALID_ARGUMENT"});
        }
        sk_sleep_ms(50);
    }
    ready_stopping(); /* issue 14: STOPPING=1 */
    sk_info("event=stopping");
    if (srv)
        http_stop(srv);
    atomic_store(&stop_threads, true);
    pthread_join(th_ref, NULL);
    pthread_join(th_sweep, NULL);
    relay_stop(rl);
    prober_stop(p);
    term_stop(a->term);
    audit_stop(a->audit);
    r = rt_get(a->rt);
    lease_drop(r->kv, a->token, node);
    rt_put(r);
    grt_destroy(a->grt);
    frz_destroy(a->frz);
    sf_destroy(a->sf);
    nonce_destroy(a->nonces);
    rtref_destroy(a->rt);
    mysql_library_end();
    sk_info("event=stopped");
    return srv ? 0 : 1;
}
