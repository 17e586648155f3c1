/*
 * auth/evsig.h — the HMAC on order events (spec §10 "Kafka events"). Pure.
 *
 * The relay adds a Kafka header `skip-hmac` to every event it publishes:
 *   skip-hmac = base64(HMAC-SHA256(event key, the message value bytes))
 * (44 characters). The value is the order JSON exactly as the outbox row
 * stores it; it names the order, its group and its merchant, and the Kafka
 * key must equal its merchant_id (mirror/event.h), so one MAC over the value
 * covers everything the mirror applies.
 *
 * The event key is shared by every skipstored and skipstore-mirror: the text
 * of the file kafka.event_key_file (mode 0600, one line, >= EVSIG_KEY_MIN
 * bytes, e.g. `openssl rand -base64 48`; the bytes of that line are the HMAC
 * key). Rotation: kafka.event_key_previous_file may name the key being
 * retired; the mirror accepts either, the relay signs with the current one
 * only (docs/security.md has the steps).
 */
#ifndef AUTH_EVSIG_H
#define AUTH_EVSIG_H

#include <stdbool.h>
#include <stddef.h>
#include "common/sk.h"

#define EVSIG_HEADER "skip-hmac"
#define EVSIG_KEY_MIN 32   /* bytes of key text */
#define EVSIG_B64_LEN 44   /* base64 of 32 bytes */

/* The keys a verifier accepts: cur always, prev when prev_len > 0. Not owned. */
typedef struct {
    const unsigned char *cur;
    size_t cur_len;
    const unsigned char *prev;
    size_t prev_len;
} evsig_keys;

typedef enum {
    EVSIG_OK = 0,      /* verified with the current key */
    EVSIG_OK_PREV,     /* verified with the previous key (rotation in progress) */
    EVSIG_MISSING,     /* no skip-hmac header */
    EVSIG_MALFORMED,   /* not 44 characters of base64 of 32 bytes */
    EVSIG_MISMATCH     /* verifies with no accepted key */
} evsig_res;

const char *evsig_res_name(evsig_res r);

/* base64(HMAC-SHA256(key, payload)) into out (NUL-terminated). */
void evsig_sign(const unsigned char *key, size_t klen, const void *payload, size_t len,
                char out[EVSIG_B64_LEN + 1]);

/*
 * Check header value hdr (hdrlen bytes; hdr NULL = no header) against
 * payload with each accepted key. MACs are compared with CRYPTO_memcmp, and
 * both keys are always tried (no early exit on the first).
 */
evsig_res evsig_verify(const evsig_keys *k, const void *payload, size_t len, const void *hdr, size_t hdrlen) SK_WUR;

#endif
