/* selector/grt.c — per-group runtime; see grt.h. */
#include "selector/grt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pthread_mutex_t mu;           /* guards probe, window fields */
    grt_probe probe;
    atomic_llong probe_inflight_since;

    int64_t window;               /* window index of the counts below */
    int window_s;
    int64_t local_count;          /* failures counted by this daemon this window */
    int64_t shared_count;         /* last value read from Redis this window */
    int64_t pending;              /* increments not yet sent to Redis */
    /* bit 0: fenced; the bits above: a generation bumped by every
     * grt_set_fence, so the refresher's compare-and-swap of what it read
     * from Redis fails when the API fenced or unfenced meanwhile */
    atomic_uint fence;
    bool fence_local;             /* fence set while Redis was down */
    atomic_llong outbox_pending;
} slot;

struct grt {
    slot s[CONF_MAX_GROUPS + 1];
    atomic_bool local_counters;
};

grt *grt_create(void)
{
    grt *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    for (int i = 0; i <= CONF_MAX_GROUPS; i++)
        pthread_mutex_init(&g->s[i].mu, NULL);
    return g;
}

void grt_destroy(grt *g)
{
    if (g == NULL)
        return;
    for (int i = 0; i <= CONF_MAX_GROUPS; i++)
        pthread_mutex_destroy(&g->s[i].mu);
    free(g);
}

static slot *get(grt *g, int id)
{
    if (id < 1 || id > CONF_MAX_GROUPS)
        return NULL;
    return &g->s[id];
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

int grt_views(grt *g, const rt *r, int64_t now_mono_ms, sel_view *out)
{
    const conf *c = r->c;
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
        v->fenced = atomic_load(&s->fence) & 1u;
        v->probe_inflight_since = atomic_load(&s->probe_inflight_since);
        pthread_mutex_lock(&s->mu);
        roll(s, c->window_s, now_wall);
        v->failures = count_locked(g, s);
        v->probe_at_ms = s->probe.at_mono_ms;
        v->probe_ok = s->probe.ok;
        pthread_mutex_unlock(&s->mu);
        dal_pool *pool = rt_primary(r, cg->id);
        if (pool && dal_pool_inflight(pool) >= c->db_max_inflight)
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

void grt_reset_failures(grt *g, int id)
{
    slot *s = get(g, id);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->local_count = 0;
    s->shared_count = 0;
    s->pending = 0;
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

sk_status grt_set_fence(grt *g, kv *k, int id, bool fenced)
{
    slot *s = get(g, id);
    if (s == NULL)
        return SK_ENOT_FOUND;
    unsigned old = atomic_load(&s->fence), nw;
    do
        nw = (((old >> 1) + 1) << 1) | (fenced ? 1u : 0u);
    while (!atomic_compare_exchange_weak(&s->fence, &old, nw));
    char key[32];
    snprintf(key, sizeof key, "skip:fence:%d", id);
    redisReply *r = fenced ? kv_cmd(k, "SET %s 1", key) : kv_cmd(k, "DEL %s", key);
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
    return s ? (atomic_load(&s->fence) & 1u) != 0 : false;
}

void grt_refresh(grt *g, kv *k, const conf *c, int64_t now_wall_ms)
{
    if (!kv_up(k) && !kv_check(k)) {
        if (!atomic_exchange(&g->local_counters, true))
            sk_warn("event=counters_local reason=redis_down");
        return;
    }
    /* Back from local counters: what this daemon counted while it could not
     * reach Redis stays its own. It may have been the one cut off (from
     * Redis and the groups alike); shared, those failures would skip healthy
     * groups for every daemon until the window rolls over. A group that is
     * really sick shows it again within a few creates and probes. */
    if (atomic_load(&g->local_counters)) {
        for (int i = 0; i < c->ngroups; i++) {
            slot *s = get(g, c->groups[i].id);
            if (s == NULL)
                continue;
            pthread_mutex_lock(&s->mu);
            s->pending = 0;
            pthread_mutex_unlock(&s->mu);
        }
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
        /* keyed by the primary too: after a failover every daemon counts the
         * new server from zero, and increments still queued for the dead one
         * (or a daemon that has not reloaded yet) cannot skip the group */
        char key[96];
        sel_fail_key(key, sizeof key, id, c->groups[i].primary, c->window_s, w);
        redisReply *r;
        if (pend > 0)
            r = kv_cmd(k, "INCRBY %s %lld", key, (long long)pend);
        else
            r = kv_cmd(k, "GET %s", key);
        if (r == NULL)
            goto redis_down;
        int64_t shared = 0;
        if (r->type == REDIS_REPLY_INTEGER)
            shared = r->integer;
        else if (r->type == REDIS_REPLY_STRING)
            shared = strtoll(r->str, NULL, 10);
        freeReplyObject(r);
        if (pend > 0) {
            r = kv_cmd(k, "EXPIRE %s %d", key, c->window_s * 2 + 5);
            if (r)
                freeReplyObject(r);
        }
        char fkey[32];
        snprintf(fkey, sizeof fkey, "skip:fence:%d", id);
        unsigned seen = atomic_load(&s->fence);
        r = kv_cmd(k, "EXISTS %s", fkey);
        if (r == NULL)
            goto redis_down;
        bool fenced = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
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
            bool f = (atomic_load(&s->fence) & 1u) != 0;
            r = f ? kv_cmd(k, "SET %s 1", fkey) : kv_cmd(k, "DEL %s", fkey);
            if (r)
                freeReplyObject(r);
        } else {
            /* what Redis said, unless the API changed the fence since we
             * read it (then the API's newer value stands) */
            unsigned want = (seen & ~1u) | (fenced ? 1u : 0u);
            atomic_compare_exchange_strong(&s->fence, &seen, want);
        }
    }
    if (atomic_exchange(&g->local_counters, false))
        sk_warn("event=counters_shared reason=redis_up");
    return;
redis_down:
    if (!atomic_exchange(&g->local_counters, true))
        sk_warn("event=counters_local reason=redis_down");
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
