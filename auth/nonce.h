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

typedef struct nonce_store nonce_store;

nonce_store *nonce_create(void);
void nonce_destroy(nonce_store *n);

/* SK_OK (first use) or SK_EREPLAYED. now_s: wall clock. */
sk_status nonce_check(nonce_store *n, kv *k, const char *key_id, const char *nonce, int64_t now_s) SK_WUR;

/* Was the last check answered by the local table alone (Redis down)? */
bool nonce_local(const nonce_store *n);

#endif
