/*
 * auth/nonce.h — the replay store of signed requests (spec §10): a nonce is
 * accepted once per key within AUTH_NONCE_TTL_S.
 *
 * Shared by every daemon through Redis (SET skip:nonce:<key>:<nonce> NX EX
 * 600, one round trip). Every nonce is also remembered in a bounded local
 * table (NONCE_LOCAL_SLOTS entries, oldest evicted first), which answers
 * alone while Redis is unreachable — then a replay on *another* daemon
 * cannot be seen; writes are idempotent anyway, and the fallback is visible
 * in metrics (skipstore_nonce_store_local).
 *
 * Thread-safe.
 */
#ifndef AUTH_NONCE_H
#define AUTH_NONCE_H

#include <stdbool.h>
#include <stdint.h>
#include "common/sk.h"
#include "kv/kv.h"

#define NONCE_LOCAL_SLOTS 65536
#define NONCE_KEY_MAX 160        /* "skip:nonce:<key id>:<nonce>" */

typedef struct nonce_store nonce_store;

nonce_store *nonce_create(void);
void nonce_destroy(nonce_store *n);

/* SK_OK (first use) or SK_EREPLAYED. now_s: wall clock. */
sk_status nonce_check(nonce_store *n, kv *k, const char *key_id, const char *nonce, int64_t now_s) SK_WUR;

/*
 * The same check in two halves, for a caller that sends the Redis SET NX EX
 * itself in one round trip with other work (a create's idempotency claim,
 * flow/flow.h flow_guard): nonce_key gives the Redis key (its length, or -1
 * when it does not fit), and nonce_settle takes what Redis answered
 * (NONCE_REDIS_DOWN: no answer) and keeps the local table as nonce_check
 * does. Returns SK_OK or SK_EREPLAYED.
 */
typedef enum { NONCE_REDIS_NEW, NONCE_REDIS_SEEN, NONCE_REDIS_DOWN } nonce_redis;
int nonce_key(char out[NONCE_KEY_MAX], const char *key_id, const char *nonce);
sk_status nonce_settle(nonce_store *n, const char *key, nonce_redis v, int64_t now_s) SK_WUR;

/* Was the last check answered by the local table alone (Redis down)? */
bool nonce_local(const nonce_store *n);

#endif
