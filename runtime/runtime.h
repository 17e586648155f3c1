/*
 * runtime/runtime.h — everything a reload can change, as one immutable
 * snapshot swapped in one step (PgBouncer-style all-or-nothing reload).
 *
 * A snapshot holds the config and what is built from it: every group's
 * primary and replica pool, the merchant-store pool, the Redis handle and
 * the caller keys (auth.keys_file, re-read on every reload).
 * rt_build() makes a new snapshot *aside*, reusing from the current one every
 * pool and the Redis handle whose settings did not change (so a weight change
 * keeps every connection), and creating the rest; nothing live is touched
 * until rt_swap() installs it. Readers take a reference for one request or
 * one loop iteration (rt_get/rt_put); a replaced snapshot — and with it any
 * pool nobody shares any more — is closed when its last reader lets go.
 *
 * What a snapshot does NOT hold: state that must survive a reload (failure
 * counters, probe results, fences: selector/grt.h; the write freeze:
 * migrate/freeze.h; the number generator). Kafka settings are in the config;
 * the relay notices a change and rebuilds its producers (relay/relay.c).
 *
 * Keys that cannot change without a restart (rt_restart_key) make a reload
 * fail with a log line naming the key; the old snapshot stays.
 *
 * Thread-safety: rt_get/rt_put/rt_swap from any thread; a snapshot is
 * immutable once built.
 */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdatomic.h>
#include "auth/auth.h"
#include "config/conf.h"
#include "dal/dal.h"
#include "kv/kv.h"

typedef struct rt {
    const conf *c;                               /* owned */
    dal_pool *primary[CONF_MAX_GROUPS + 1];      /* by group id; NULL: none (retired) */
    dal_pool *replica[CONF_MAX_GROUPS + 1];      /* first replica; NULL: none */
    dal_pool *merchant;                          /* merchant store; NULL if not configured */
    kv *kv;                                      /* Redis */
    auth_keys *keys;                             /* caller keys; NULL when auth.mode is off */
    int pools_shared, pools_new;                 /* how rt_build got them (logs) */
    /* private */
    struct rt_kvbox *kvbox;
    atomic_int refs;
} rt;

typedef struct rtref rtref;   /* the swap point */

/*
 * Build a snapshot for c (takes ownership of c, also on failure), sharing
 * what is unchanged with prev (may be NULL). NULL + message in err on
 * failure (out of memory, an address that cannot be used).
 */
rt *rt_build(conf *c, const rt *prev, char *err, size_t cap);

/*
 * The first key whose change needs a restart ("node_id", "listen", ...),
 * or NULL when new can replace old by a reload. Pure.
 */
const char *rt_restart_key(const conf *old, const conf *new_);

rtref *rtref_create(rt *r);           /* takes the caller's reference */
void rtref_destroy(rtref *ref);

/* The current snapshot, referenced. Never NULL. Release with rt_put. */
rt *rt_get(rtref *ref);
void rt_put(rt *r);

/* Install r (takes the caller's reference); the previous one is released. */
void rt_swap(rtref *ref, rt *r);

/* Convenience: the group's pools (NULL when none). */
static inline dal_pool *rt_primary(const rt *r, int id)
{
    return id >= 1 && id <= CONF_MAX_GROUPS ? r->primary[id] : NULL;
}
static inline dal_pool *rt_replica(const rt *r, int id)
{
    return id >= 1 && id <= CONF_MAX_GROUPS ? r->replica[id] : NULL;
}

#endif
