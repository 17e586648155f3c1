/* auth/nonce.c — replay store: Redis, with a bounded local table; see nonce.h. */
#include "auth/nonce.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/auth.h"
#include "selector/sel.h"

#define PROBE 8   /* slots looked at per lookup (open addressing) */

typedef struct {
    uint64_t h;         /* hash of key id + nonce; 0 = empty */
    int64_t until_s;    /* forgotten after this */
} slot;

struct nonce_store {
    pthread_mutex_t mu;
    slot s[NONCE_LOCAL_SLOTS];
    atomic_bool local;
};

nonce_store *nonce_create(void)
{
    nonce_store *n = calloc(1, sizeof *n);
    if (n == NULL)
        abort();
    pthread_mutex_init(&n->mu, NULL);
    return n;
}

void nonce_destroy(nonce_store *n)
{
    if (n == NULL)
        return;
    pthread_mutex_destroy(&n->mu);
    free(n);
}

/* Remember h in the local table; true if it was already there (live). */
static bool local_seen(nonce_store *n, uint64_t h, int64_t now_s)
{
    if (h == 0)
        h = 1;
    size_t i0 = (size_t)(h % NONCE_LOCAL_SLOTS);
    pthread_mutex_lock(&n->mu);
    size_t victim = i0;
    int64_t oldest = INT64_MAX;
    for (int k = 0; k < PROBE; k++) {
        slot *x = &n->s[(i0 + (size_t)k) % NONCE_LOCAL_SLOTS];
        if (x->h == h && x->until_s > now_s) {
            pthread_mutex_unlock(&n->mu);
            return true;
        }
        int64_t age = x->h == 0 || x->until_s <= now_s ? INT64_MIN : x->until_s;
        if (age < oldest) {
            oldest = age;
            victim = (i0 + (size_t)k) % NONCE_LOCAL_SLOTS;
        }
    }
    n->s[victim] = (slot){.h = h, .until_s = now_s + AUTH_NONCE_TTL_S};
    pthread_mutex_unlock(&n->mu);
    return false;
}

int nonce_key(char out[NONCE_KEY_MAX], const char *key_id, const char *nonce)
{
    int kl = snprintf(out, NONCE_KEY_MAX, "skip:nonce:%s:%s", key_id, nonce);
    return kl > 0 && kl < NONCE_KEY_MAX ? kl : -1;
}

sk_status nonce_settle(nonce_store *n, const char *key, nonce_redis v, int64_t now_s)
{
    /* every nonce goes into the local table, so that it still answers for
     * the recent ones once Redis is gone */
    bool seen_here = local_seen(n, sel_hash(key, strlen(key), 0x6e6f6e6365ULL), now_s);
    atomic_store(&n->local, v == NONCE_REDIS_DOWN);
    if (v == NONCE_REDIS_DOWN)
        return seen_here ? SK_EREPLAYED : SK_OK;
    return v == NONCE_REDIS_NEW ? SK_OK : SK_EREPLAYED;
}

sk_status nonce_check(nonce_store *n, kv *k, const char *key_id, const char *nonce, int64_t now_s)
{
    char key[NONCE_KEY_MAX];
    if (nonce_key(key, key_id, nonce) < 0)
        return SK_EREPLAYED; /* cannot happen: ids and nonces are bounded (auth.h) */
    redisReply *r = kv_cmd(k, "SET %s 1 NX EX %d", key, AUTH_NONCE_TTL_S);
    nonce_redis v = r == NULL ? NONCE_REDIS_DOWN : r->type == REDIS_REPLY_STATUS ? NONCE_REDIS_NEW : NONCE_REDIS_SEEN;
    freeReplyObject(r);
    return nonce_settle(n, key, v, now_s);
}

bool nonce_local(const nonce_store *n) { return atomic_load(&((nonce_store *)n)->local); }
