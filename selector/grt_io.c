/* selector/grt_io.c — per-group runtime; see grt.h. */
#include "selector/grt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool present;
    dal_pool *primary, *replica;
    char primary_addr[160], replica_addr[160];

    pthread_mutex_t mu;           /* guards probe, window fields */
    grt_probe probe;
    atomic_llong probe_inflight_since;

    int64_t window;               /* window index of the counts below */
    int window_s;
    int64_t local_count;          /* failures counted by this daemon this window */
    int64_t shared_count;         /* last value read from Redis this window */
    int64_t pending;              /* increments not yet sent to Redis */
    atomic_bool fenced;
    bool fence_local;             /* fence set while Redis was down */
    atomic_llong outbox_pending;
    atomic_bool frozen;
    atomic_int writes;            /* updates in flight on this group */
} slot;

static bool refresh_freeze(struct grt *g, const conf *c, int id, slot *s, const char *token);

struct grt {
    kv *kv;
    pthread_mutex_t mu;           /* guards slot creation */
    slot s[CONF_MAX_GROUPS + 1];
    atomic_bool local_counters;
    char db_user[64], db_password[128], db_name[64];
};

grt *grt_create(kv *k)
{
    grt *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->kv = k;
    pthread_mutex_init(&g->mu, NULL);
    for (int i = 0; i <= CONF_MAX_GROUPS; i++)
        pthread_mutex_init(&g->s[i].mu, NULL);
    return g;
}

void grt_destroy(grt *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i <= CONF_MAX_GROUPS; i++) {
        dal_pool_destroy(g->s[i].primary);
        dal_pool_destroy(g->s[i].replica);
        pthread_mutex_destroy(&g->s[i].mu);
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

static slot *get(grt *g, int id)
{
    if (id < 1 || id > CONF_MAX_GROUPS)
        return NULL;
    return &g->s[id];
}

static dal_pool *mkpool(const conf *c, const char *addr, int size, int inflight)
{
    dal_pool_opts o = {
        .addr = addr, .user = c->db_user, .password = c->db_password, .db = c->db_name,
        .connect_timeout_ms = c->db_connect_timeout_ms, .read_timeout_ms = c->db_read_timeout_ms,
        .write_timeout_ms = c->db_write_timeout_ms, .size = size, .max_inflight = inflight,
    };
    return dal_pool_create(&o);
}

void grt_apply_conf(grt *g, const conf *c)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        slot *s = get(g, cg->id);
        if (s == NULL)
            continue;
        s->present = true;
        /* Pools are created once per address and never freed while the
         * daemon runs: in-flight requests may still hold them. A changed
         * address gets a new pool; the old one is leaked deliberately
         * (rare operator action; bounded by the number of reloads). */
        if (cg->primary && strcmp(s->primary_addr, cg->primary) != 0) {
            s->primary = mkpool(c, cg->primary, c->db_pool_size, c->db_max_inflight);
            sk_strlcpy(s->primary_addr, cg->primary, sizeof s->primary_addr);
        }
        if (cg->nreplicas > 0 && strcmp(s->replica_addr, cg->replicas[0]) != 0) {
            s->replica = mkpool(c, cg->replicas[0], c->db_pool_size, c->db_max_inflight);
            sk_strlcpy(s->replica_addr, cg->replicas[0], sizeof s->replica_addr);
        }
    }
    pthread_mutex_unlock(&g->mu);
}

dal_pool *grt_primary(grt *g, int id)
{
    slot *s = get(g, id);
    return s ? s->primary : NULL;
}

dal_pool *grt_replica(grt *g, int id)
{
    slot *s = get(g, id);
    return s ? s->replica : NULL;
}

/* Roll the window if now is past it. Caller holds s->mu. */
static void roll(slot *s, int window_s, int64_t now_wall_ms)
{
    int64_t w = sel_window_index(now_wall_ms / 1000, window_s);
    if (w != s->window || window_s != s->window_s) {
        s->window = w;
        s->window_s = window_s;
        s->local_count = 0;
        s->shared_count = 0;
        s->pending = 0;
    }
}

static int64_t count_locked(grt *g, slot *s)
{
    if (atomic_load(&g->local_counters))
        return s->local_count;
    int64_t shared = s->shared_count + s->pending;
    return shared > s->local_count ? shared : s->local_count;
}

int grt_views(grt *g, const conf *c, int64_t now_mono_ms, sel_view *out)
{
    int64_t now_wall = sk_now_ms();
    int n = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        slot *s = get(g, cg->id);
        sel_view *v = &out[n++];
        memset(v, 0, sizeof *v);
        v->id = cg->id;
        v->weight = cg->weight;
        v->conf_state = cg->state;
        v->threshold = c->threshold;
        if (s == NULL)
            continue;
        v->fenced = atomic_load(&s->fenced);
        v->probe_inflight_since = atomic_load(&s->probe_inflight_since);
        pthread_mutex_lock(&s->mu);
        roll(s, c->window_s, now_wall);
        v->failures = count_locked(g, s);
        v->probe_at_ms = s->probe.at_mono_ms;
        v->probe_ok = s->probe.ok;
        pthread_mutex_unlock(&s->mu);
        if (s->primary && dal_pool_inflight(s->primary) >= c->db_max_inflight)
            v->overloaded = true;
    }
    (void)now_mono_ms;
    return n;
}

void grt_record_failure(grt *g, int id, int window_s)
{
    slot *s = get(g, id);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    roll(s, window_s, sk_now_ms());
    s->local_count++;
    s->pending++;
    pthread_mutex_unlock(&s->mu);
}

int64_t grt_failures(grt *g, int id)
{
    slot *s = get(g, id);
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    int64_t n = count_locked(g, s);
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool grt_counters_local(grt *g) { return atomic_load(&g->local_counters); }

void grt_probe_begin(grt *g, int id, int64_t now_mono_ms)
{
    slot *s = get(g, id);
    if (s)
        atomic_store(&s->probe_inflight_since, now_mono_ms);
}

void grt_probe_end(grt *g, int id, bool ok, int ms, const char *err)
{
    slot *s = get(g, id);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->probe.at_wall_ms = sk_now_ms();
    s->probe.at_mono_ms = sk_mono_ms();
    s->probe.ok = ok;
    s->probe.ms = ms;
    sk_strlcpy(s->probe.error, err ? err : "", sizeof s->probe.error);
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->probe_inflight_since, 0);
}

grt_probe grt_probe_get(grt *g, int id)
{
    grt_probe p;
    memset(&p, 0, sizeof p);
    slot *s = get(g, id);
    if (s == NULL)
        return p;
    pthread_mutex_lock(&s->mu);
    p = s->probe;
    pthread_mutex_unlock(&s->mu);
    return p;
}

sk_status grt_set_fence(grt *g, int id, bool fenced)
{
    slot *s = get(g, id);
    if (s == NULL)
        return SK_ENOT_FOUND;
    atomic_store(&s->fenced, fenced);
    char key[32];
    snprintf(key, sizeof key, "skip:fence:%d", id);
    redisReply *r = fenced ? kv_cmd(g->kv, "SET %s 1", key) : kv_cmd(g->kv, "DEL %s", key);
    pthread_mutex_lock(&s->mu);
    s->fence_local = (r == NULL);
    pthread_mutex_unlock(&s->mu);
    if (r == NULL) {
        sk_warn("event=fence_local_only group=%d fenced=%d reason=redis_down", id, fenced);
        return SK_OK;
    }
    freeReplyObject(r);
    return SK_OK;
}

bool grt_fenced(grt *g, int id)
{
    slot *s = get(g, id);
    return s ? atomic_load(&s->fenced) : false;
}

void grt_refresh(grt *g, const conf *c, int64_t now_wall_ms, const char *token)
{
    if (!kv_up(g->kv) && !kv_check(g->kv)) {
        if (!atomic_exchange(&g->local_counters, true))
            sk_warn("event=counters_local reason=redis_down");
        return;
    }
    /* flush queued increments, then read counts and fences in one pipeline-ish pass */
    for (int i = 0; i < c->ngroups; i++) {
        int id = c->groups[i].id;
        slot *s = get(g, id);
        if (s == NULL)
            continue;
        pthread_mutex_lock(&s->mu);
        roll(s, c->window_s, now_wall_ms);
        int64_t pend = s->pending, w = s->window;
        pthread_mutex_unlock(&s->mu);
        char key[64];
        snprintf(key, sizeof key, "skip:fail:%d:%d:%lld", id, c->window_s, (long long)w);
        redisReply *r;
        if (pend > 0)
            r = kv_cmd(g->kv, "INCRBY %s %lld", key, (long long)pend);
        else
            r = kv_cmd(g->kv, "GET %s", key);
        if (r == NULL)
            goto redis_down;
        int64_t shared = 0;
        if (r->type == REDIS_REPLY_INTEGER)
            shared = r->integer;
        else if (r->type == REDIS_REPLY_STRING)
            shared = strtoll(r->str, NULL, 10);
        freeReplyObject(r);
        if (pend > 0) {
            r = kv_cmd(g->kv, "EXPIRE %s %d", key, c->window_s * 2 + 5);
            if (r)
                freeReplyObject(r);
        }
        char fkey[32];
        snprintf(fkey, sizeof fkey, "skip:fence:%d", id);
        r = kv_cmd(g->kv, "EXISTS %s", fkey);
        if (r == NULL)
            goto redis_down;
        bool fenced = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
        if (!refresh_freeze(g, c, id, s, token))
            goto redis_down;
        pthread_mutex_lock(&s->mu);
        if (s->window == w) {
            s->pending -= pend;
            s->shared_count = shared;
        }
        bool local_fence = s->fence_local;
        if (local_fence) {
            /* a fence set while Redis was down: publish it now */
            s->fence_local = false;
        }
        pthread_mutex_unlock(&s->mu);
        if (local_fence) {
            bool f = atomic_load(&s->fenced);
            r = f ? kv_cmd(g->kv, "SET %s 1", fkey) : kv_cmd(g->kv, "DEL %s", fkey);
            if (r)
                freeReplyObject(r);
        } else {
            atomic_store(&s->fenced, fenced);
        }
    }
    if (atomic_exchange(&g->local_counters, false))
        sk_warn("event=counters_shared reason=redis_up");
    return;
redis_down:
    if (!atomic_exchange(&g->local_counters, true))
        sk_warn("event=counters_local reason=redis_down");
}

bool grt_write_enter(grt *g, int id)
{
    slot *s = get(g, id);
    if (s == NULL)
        return true;
    atomic_fetch_add(&s->writes, 1);
    if (atomic_load(&s->frozen)) {
        atomic_fetch_sub(&s->writes, 1);
        return false;
    }
    return true;
}

void grt_write_exit(grt *g, int id)
{
    slot *s = get(g, id);
    if (s)
        atomic_fetch_sub(&s->writes, 1);
}

bool grt_frozen(grt *g, int id)
{
    slot *s = get(g, id);
    return s ? atomic_load(&s->frozen) : false;
}

/* Read the freeze flag of one group; acknowledge it when quiet. */
static bool refresh_freeze(grt *g, const conf *c, int id, slot *s, const char *token)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", id);
    redisReply *r = kv_cmd(g->kv, "EXISTS %s", key);
    if (r == NULL)
        return false;
    bool frozen = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    bool was = atomic_exchange(&s->frozen, frozen);
    if (frozen != was)
        sk_info("event=%s group=%d", frozen ? "write_freeze" : "write_unfreeze", id);
    if (frozen && atomic_load(&s->writes) == 0) {
        char ack[64];
        snprintf(ack, sizeof ack, "skip:freeze_ack:%d:%d", id, c->node_id);
        r = kv_cmd(g->kv, "SET %s %s PX %d", ack, token, 3000);
        if (r)
            freeReplyObject(r);
    }
    return true;
}

void grt_set_outbox_pending(grt *g, int id, int64_t n)
{
    slot *s = get(g, id);
    if (s)
        atomic_store(&s->outbox_pending, n);
}

int64_t grt_outbox_pending(grt *g, int id)
{
    slot *s = get(g, id);
    return s ? atomic_load(&s->outbox_pending) : 0;
}
