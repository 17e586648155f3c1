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

sk_status nonce_check(nonce_store *n, kv *k, const char *key_id, const char *nonce, int64_t now_s)
{
    char key[AUTH_ID_MAX + AUTH_NONCE_MAX + 16];
    int kl = snprintf(key, sizeof key, "skip:nonce:%s:%s", key_id, nonce);
    bool seen_here = local_seen(n, sel_hash(key, (size_t)kl, 0x6e6f6e6365ULL), now_s);
    redisReply *r = kv_cmd(k, "SET %s 1 NX EX %d", key, AUTH_NONCE_TTL_S);
    if (r == NULL) {
        atomic_store(&n->local, true);
        return seen_here ? SK_EREPLAYED : SK_OK;
    }
    atomic_store(&n->local, false);
    bool fresh = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return fresh ? SK_OK : SK_EREPLAYED;
}

bool nonce_local(const nonce_store *n) { return atomic_load(&((nonce_store *)n)->local); }
