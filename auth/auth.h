/*
 * auth/auth.h — who may call skipstored, and the proof that they did
 * (spec §10). Pure: no sockets, no clock reads (callers pass `now`).
 *
 * Callers are keys in a key file (auth.keys_file, YAML, mode 0600):
 *
 *   keys:
 *     - id: cashier-m1-2026a          # [A-Za-z0-9_.-]{1,64}, unique
 *       caller: cashier-m1            # optional, default = id; at most two
 *                                     # live keys per caller (rotation)
 *       secret: "<base64, >= 32 bytes>"
 *       role: cashier                 # cashier | backoffice | admin | observer
 *       merchants: [m1]               # merchant ids, or ["*"]
 *       not_after: "2027-06-30T00:00:00Z"   # optional; expired = unknown key
 *
 * Requests carry one header:
 *   Authorization: SKIP-HMAC-SHA256 key="<id>", ts="<unix s>",
 *                  nonce="<16-64 of [A-Za-z0-9]>", sig="<base64 HMAC>"
 *   string to sign = METHOD "\n" PATH_AND_QUERY "\n" ts "\n" nonce "\n"
 *                    hex(SHA-256(body)) "\n"
 * and every answer to one carries
 *   Skip-Signature: ts="<unix s>", sig="<base64 HMAC(STATUS "\n" nonce "\n"
 *                   ts "\n" hex(SHA-256(response body)) "\n")>"
 * both with the key's secret. Secrets are compared in constant time and
 * never logged.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"
#include "metrics/metrics.h"

#define AUTH_ID_MAX 64
#define AUTH_SECRET_MIN 32           /* bytes, decoded */
#define AUTH_SECRET_MAX 128
#define AUTH_MERCHANTS_MAX 64
#define AUTH_MERCHANT_MAX 32
#define AUTH_NONCE_MIN 16
#define AUTH_NONCE_MAX 64
#define AUTH_SIG_B64_MAX 64          /* base64 of 32 bytes is 44 */
#define AUTH_SKEW_S 300              /* |now - ts| allowed */
#define AUTH_NONCE_TTL_S 600         /* a nonce is remembered this long */
#define AUTH_KEYS_MAX 1024

typedef enum { ROLE_CASHIER, ROLE_BACKOFFICE, ROLE_ADMIN, ROLE_OBSERVER, ROLE_MAX } auth_role;

const char *auth_role_name(auth_role r);

typedef struct {
    char id[AUTH_ID_MAX + 1];
    char caller[AUTH_ID_MAX + 1];
    unsigned char secret[AUTH_SECRET_MAX];
    size_t secret_len;
    auth_role role;
    bool all_merchants;              /* ["*"] */
    int nmerchants;
    char merchants[AUTH_MERCHANTS_MAX][AUTH_MERCHANT_MAX + 1];
    int64_t not_after_s;             /* 0 = never expires */
    int line;                        /* in the key file */
} auth_key;

typedef struct {
    auth_key *keys;                  /* owned */
    int n;
} auth_keys;

/*
 * Parse a key file's text (name is used in "NAME:LINE: message" errors).
 * now_s decides which keys are live for the two-per-caller rule. Returns an
 * owned table (auth_keys_free) or NULL with the first error in err.
 */
auth_keys *auth_keys_parse(const char *name, const char *text, size_t len, int64_t now_s, char *err, size_t cap);

/* Read and parse path; refuses a file readable or writable by group or
 * others ("mode 0644: must be 0600"). */
auth_keys *auth_keys_load(const char *path, int64_t now_s, char *err, size_t cap);

void auth_keys_free(auth_keys *k);

/* The live key with this id, or NULL (unknown or past not_after). */
const auth_key *auth_key_find(const auth_keys *k, const char *id, int64_t now_s);

/* The parsed Authorization header. */
typedef struct {
    char key[AUTH_ID_MAX + 1];
    char nonce[AUTH_NONCE_MAX + 1];
    char sig[AUTH_SIG_B64_MAX + 1];
    int64_t ts;
} auth_header;

/* SK_OK, or SK_EUNAUTHENTICATED for anything that is not exactly one
 * SKIP-HMAC-SHA256 header with key, ts, nonce and sig once each (any
 * order, comma separated, quoted), within the field limits. */
sk_status auth_parse_header(const char *value, auth_header *out) SK_WUR;

/* hex(SHA-256(data)): out gets 64 hex digits + NUL. */
void auth_sha256_hex(const void *data, size_t len, char out[65]);

/* HMAC-SHA256(key, msg) (RFC 2104) into out. Built on one SHA-256
 * implementation fetched once per process: OpenSSL 3's one-shot HMAC() and
 * SHA256() look the algorithm up in the provider store on every call
 * (measured 3.4 vs 0.7-1.3 us a request here, and a shared lock). */
void auth_hmac_sha256(const unsigned char *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32]);

/* base64(HMAC-SHA256(key, msg)) into out (>= 45 bytes). */
void auth_hmac_b64(const unsigned char *key, size_t klen, const char *msg, size_t mlen, char out[AUTH_SIG_B64_MAX + 1]);

/* The request's string to sign. Returns its length, or -1 if cap is too small. */
int auth_request_string(const char *method, const char *path_and_query, int64_t ts, const char *nonce,
                        const char body_hash_hex[65], char *out, size_t cap);

/*
 * Verify a parsed request: signature (constant time), then timestamp.
 * SK_OK, SK_ESIGNATURE_INVALID or SK_EREQUEST_EXPIRED. The nonce replay
 * check is the caller's (it needs the replay store).
 */
sk_status auth_verify(const auth_key *k, const auth_header *h, const char *method, const char *path_and_query,
                      const void *body, size_t body_len, int64_t now_s) SK_WUR;

/* The Skip-Signature header value for a response. out >= 128 bytes. */
void auth_response_header(const auth_key *k, int status, const char *nonce, int64_t ts, const void *body,
                          size_t body_len, char *out, size_t cap);

/* Constant-time equality of two NUL-terminated strings' bytes (length is
 * not secret). */
bool auth_ct_eq(const char *a, const char *b);

/* ---- policy: roles x routes, merchant scope ---- */

/* May this role call this route at all? (403 FORBIDDEN when not.) */
bool auth_role_allows(auth_role r, met_route route);

/* Is merchant_id within the key's merchants? */
bool auth_merchant_allowed(const auth_key *k, const char *merchant_id);

/* base64 (standard, padded) encode/decode. decode returns the length, or -1. */
size_t auth_b64_encode(const unsigned char *in, size_t n, char *out, size_t cap);
int auth_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);

#endif
