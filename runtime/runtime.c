/* runtime/runtime.c — the swappable runtime snapshot; see runtime.h. */
#include "runtime/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Redis handle, shared by snapshots whose redis.* settings are equal. */
struct rt_kvbox {
    kv *k;
    char addr[160];
    int timeout_ms;
    atomic_int refs;
};

struct rtref {
    pthread_mutex_t mu;
    rt *cur;
};

static void kvbox_put(struct rt_kvbox *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        kv_destroy(b->k);
        free(b);
    }
}

static struct rt_kvbox *kvbox_for(const conf *c, const rt *prev, char *err, size_t cap)
{
    struct rt_kvbox *o = prev ? prev->kvbox : NULL;
    kv_opts ko;
    kv_opts_from_conf(&ko, c);
    if (o && kv_same_opts(o->k, &ko)) {
        atomic_fetch_add(&o->refs, 1);
        return o;
    }
    struct rt_kvbox *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err, cap, "redis: out of memory");
        return NULL;
    }
    b->k = kv_create(&ko, err, cap);
    if (b->k == NULL) {
        free(b);
        return NULL;
    }
    sk_strlcpy(b->addr, c->redis_addr, sizeof b->addr);
    b->timeout_ms = c->redis_timeout_ms;
    atomic_store(&b->refs, 1);
    return b;
}

/* multi: the primaries' pools (dal/orders.c's one-round-trip transactions,
 * and the group commit of creates) */
static void group_opts(const conf *c, const char *addr, bool multi, dal_pool_opts *o)
{
    *o = (dal_pool_opts){
        .addr = addr, .user = c->db_user, .password = c->db_password, .db = c->db_name,
        .connect_timeout_ms = c->db_connect_timeout_ms, .read_timeout_ms = c->db_read_timeout_ms,
        .write_timeout_ms = c->db_write_timeout_ms, .size = c->db_pool_size, .max_inflight = c->db_max_inflight,
        .multi_statements = multi,
        .gc_max_batch = multi ? c->db_gc_max_batch : 0, .gc_leaders = multi ? c->db_gc_leaders : 0,
        .nonblocking = multi, .attempt_timeout_ms = multi ? c->db_attempt_timeout_ms : 0,
    };
    dal_tls_set(&o->tls, &c->db_tls);
}

static void merchant_opts(const conf *c, dal_pool_opts *o)
{
    *o = (dal_pool_opts){
        .addr = c->merchant_addr, .user = c->merchant_user, .password = c->merchant_password,
        .db = c->merchant_db_name, .connect_timeout_ms = c->db_connect_timeout_ms,
        .read_timeout_ms = c->db_read_timeout_ms, .write_timeout_ms = c->db_write_timeout_ms,
        .size = c->db_pool_size, .max_inflight = c->db_max_inflight,
    };
    dal_tls_set(&o->tls, &c->merchant_tls);
}

/* A pool of prev made with the same options (any role: after a failover the
 * replica's pool serves as the primary's), referenced; else a new one. */
static dal_pool *pool_for(rt *r, const dal_pool_opts *o, const rt *prev)
{
    if (prev) {
        for (int id = 1; id <= CONF_MAX_GROUPS; id++) {
            dal_pool *cand[2] = {prev->primary[id], prev->replica[id]};
            for (int k = 0; k < 2; k++)
                if (cand[k] && dal_pool_opts_eq(dal_pool_opts_of(cand[k]), o)) {
                    r->pools_shared++;
                    return dal_pool_ref(cand[k]);
                }
        }
        if (prev->merchant && dal_pool_opts_eq(dal_pool_opts_of(prev->merchant), o)) {
            r->pools_shared++;
            return dal_pool_ref(prev->merchant);
        }
    }
    r->pools_new++;
    return dal_pool_create(o);
}

static void rt_free(rt *r)
{
    for (int id = 1; id <= CONF_MAX_GROUPS; id++) {
        dal_pool_destroy(r->primary[id]);
        dal_pool_destroy(r->replica[id]);
    }
    dal_pool_destroy(r->merchant);
    kvbox_put(r->kvbox);
    auth_keys_free(r->keys);
    conf_free((conf *)r->c);
    free(r);
}

rt *rt_build(conf *c, const rt *prev, char *err, size_t cap)
{
    rt *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(err, cap, "out of memory");
        conf_free(c);
        return NULL;
    }
    r->c = c;
    atomic_store(&r->refs, 1);
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        dal_pool_opts o;
        if (cg->primary != NULL && cg->state != GROUP_RETIRED) {
            group_opts(c, cg->primary, true, &o);
            if ((r->primary[cg->id] = pool_for(r, &o, prev)) == NULL) {
                snprintf(err, cap, "group %d: cannot use primary address %s", cg->id, cg->primary);
                goto fail;
            }
        }
        if (cg->nreplicas > 0 && cg->state != GROUP_RETIRED) {
            group_opts(c, cg->replicas[0], false, &o);
            if ((r->replica[cg->id] = pool_for(r, &o, prev)) == NULL) {
                snprintf(err, cap, "group %d: cannot use replica address %s", cg->id, cg->replicas[0]);
                goto fail;
            }
        }
    }
    if (c->merchant_addr != NULL && c->merchant_addr[0] != '\0') {
        dal_pool_opts o;
        merchant_opts(c, &o);
        if ((r->merchant = pool_for(r, &o, prev)) == NULL) {
            snprintf(err, cap, "merchant_db: cannot use address %s", c->merchant_addr);
            goto fail;
        }
    }
    if ((r->kvbox = kvbox_for(c, prev, err, cap)) == NULL)
        goto fail;
    r->kv = r->kvbox->k;
    /* order events are signed (auth/evsig.h): required with auth on */
    if (conf_event_key_check(c, err, cap) < 0)
        goto fail;
    if (strcmp(c->auth_mode, "on") == 0) {
        /* no open default: auth is on unless the file says "off" */
        if (c->auth_keys_file[0] == '\0') {
            snprintf(err, cap, "auth.keys_file is required while auth.mode is on (the default)");
            goto fail;
        }
        char kerr[CONF_ERR_MAX];
        r->keys = auth_keys_load(c->auth_keys_file, sk_now_ms() / 1000, kerr, sizeof kerr);
        if (r->keys == NULL) {
            snprintf(err, cap, "auth.keys_file: %s", kerr);
            goto fail;
        }
    }
    return r;
fail:
    rt_free(r);
    return NULL;
}

static bool s_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

const char *rt_restart_key(const conf *o, const conf *n)
{
    /* the explicit list of keys a running daemon cannot change: its node id
     * (stamped into numbers, leased in Redis) and what the HTTP edge was
     * started with */
    if (o->node_id != n->node_id)
        return "node_id";
    if (!s_eq(o->listen, n->listen))
        return "listen";
    if (o->max_body_bytes != n->max_body_bytes)
        return "request.max_body_bytes";
    if (!s_eq(o->listen_tls, n->listen_tls))
        return "listen_tls";
    if (!s_eq(o->tls_cert, n->tls_cert))
        return "tls.cert";
    if (!s_eq(o->tls_key, n->tls_key))
        return "tls.key";
    if (!s_eq(o->tls_client_ca, n->tls_client_ca))
        return "tls.client_ca";
    if (o->http_io_threads != n->http_io_threads)
        return "http.io_threads";
    if (o->http_workers != n->http_workers)
        return "http.workers";
    if (o->http_max_connections != n->http_max_connections)
        return "http.max_connections";
    if (o->http_header_timeout_ms != n->http_header_timeout_ms)
        return "http.header_timeout_ms";
    if (o->http_body_timeout_ms != n->http_body_timeout_ms)
        return "http.body_timeout_ms";
    if (o->http_idle_timeout_ms != n->http_idle_timeout_ms)
        return "http.idle_timeout_ms";
    return NULL;
}

rtref *rtref_create(rt *r)
{
    rtref *ref = calloc(1, sizeof *ref);
    if (ref == NULL)
        abort();
    pthread_mutex_init(&ref->mu, NULL);
    ref->cur = r;
    return ref;
}

void rtref_destroy(rtref *ref)
{
    if (ref == NULL)
        return;
    rt_put(ref->cur);
    pthread_mutex_destroy(&ref->mu);
    free(ref);
}

/* The reference is taken under ref->mu, and rt_swap replaces cur under the
 * same mutex before it drops the ref's own reference: a snapshot read from
 * cur cannot be freed before its count went up. */
rt *rt_get(rtref *ref)
{
    pthread_mutex_lock(&ref->mu);
    rt *r = ref->cur;
    atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&ref->mu);
    return r;
}

void rt_put(rt *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
        rt_free(r);
}

void rt_swap(rtref *ref, rt *r)
{
    pthread_mutex_lock(&ref->mu);
    rt *old = ref->cur;
    ref->cur = r;
    pthread_mutex_unlock(&ref->mu);
    rt_put(old);
}
