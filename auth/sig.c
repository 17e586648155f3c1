/*
 * auth/sig.c — the Authorization header, the strings to sign, HMAC-SHA256
 * and base64 (spec §10). Pure; OpenSSL's libcrypto for the hashes.
 */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX 512
#define SCHEME "SKIP-HMAC-SHA256"

static bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_id_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }
static bool is_b64_char(char c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; }

/* One param value: its characters checked by kind. 0 ok, -1 bad. */
static int put_value(const char *name, const char *v, size_t n, auth_header *h, unsigned *seen)
{
    if (strcmp(name, "key") == 0) {
        if (*seen & 1 || n < 1 || n > AUTH_ID_MAX)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!is_id_char(v[i]))
                return -1;
        memcpy(h->key, v, n);
        h->key[n] = '\0';
        *seen |= 1;
    } else if (strcmp(name, "ts") == 0) {
        if (*seen & 2 || n < 1 || n > 12)
            return -1;
        int64_t t = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            t = t * 10 + (v[i] - '0');
        }
        h->ts = t;
        *seen |= 2;
    } else if (strcmp(name, "nonce") == 0) {
        if (*seen & 4 || n < AUTH_NONCE_MIN || n > AUTH_NONCE_MAX)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!is_alnum(v[i]))
                return -1;
        memcpy(h->nonce, v, n);
        h->nonce[n] = '\0';
        *seen |= 4;
    } else if (strcmp(name, "sig") == 0) {
        if (*seen & 8 || n < 1 || n > AUTH_SIG_B64_MAX)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (!is_b64_char(v[i]))
                return -1;
        memcpy(h->sig, v, n);
        h->sig[n] = '\0';
        *seen |= 8;
    } else {
        return -1;
    }
    return 0;
}

sk_status auth_parse_header(const char *value, auth_header *out)
{
    memset(out, 0, sizeof *out);
    if (value == NULL)
        return SK_EUNAUTHENTICATED;
    size_t len = strnlen(value, HEADER_MAX + 1);
    if (len > HEADER_MAX)
        return SK_EUNAUTHENTICATED;
    const char *p = value, *end = value + len;
    while (p < end && *p == ' ')
        p++;
    size_t sl = sizeof SCHEME - 1;
    if ((size_t)(end - p) <= sl || memcmp(p, SCHEME, sl) != 0 || p[sl] != ' ')
        return SK_EUNAUTHENTICATED;
    p += sl;
    unsigned seen = 0;
    for (int param = 0; param < 4; param++) {
        while (p < end && *p == ' ')
            p++;
        if (param > 0) {
            if (p >= end || *p != ',')
                return SK_EUNAUTHENTICATED;
            p++;
            while (p < end && *p == ' ')
                p++;
        }
        char name[8];
        size_t n = 0;
        while (p < end && *p >= 'a' && *p <= 'z' && n < sizeof name - 1)
            name[n++] = *p++;
        name[n] = '\0';
        if (n == 0 || p + 1 >= end || p[0] != '=' || p[1] != '"')
            return SK_EUNAUTHENTICATED;
        p += 2;
        const char *v = p;
        while (p < end && *p != '"')
            p++;
        if (p >= end)
            return SK_EUNAUTHENTICATED;
        if (put_value(name, v, (size_t)(p - v), out, &seen) != 0)
            return SK_EUNAUTHENTICATED;
        p++; /* closing quote */
    }
    while (p < end && *p == ' ')
        p++;
    return p == end && seen == 15 ? SK_OK : SK_EUNAUTHENTICATED;
}

/* ---------- SHA-256 and HMAC-SHA256, the algorithm fetched once ---------- */

static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (g_sha256 == NULL)
        abort(); /* no SHA-256 in this OpenSSL: nothing can be signed */
}

/* SHA-256 of up to two pieces. */
static void sha256_2(const void *a, size_t al, const void *b, size_t bl, unsigned char out[32])
{
    pthread_once(&g_sha256_once, sha256_fetch);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, g_sha256, NULL) != 1 || EVP_DigestUpdate(c, a, al) != 1 ||
        (bl > 0 && EVP_DigestUpdate(c, b, bl) != 1) || EVP_DigestFinal_ex(c, out, NULL) != 1)
        abort(); /* out of memory in a digest of a few hundred bytes */
    EVP_MD_CTX_free(c);
}

void auth_hmac_sha256(const unsigned char *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    enum { BLOCK = 64 };
    unsigned char k0[BLOCK] = {0}, pad[BLOCK], inner[32];
    if (klen > BLOCK)
        sha256_2(key, klen, NULL, 0, k0);
    else if (klen > 0)
        memcpy(k0, key, klen);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    sha256_2(pad, BLOCK, msg ? msg : (const void *)"", mlen, inner);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    sha256_2(pad, BLOCK, inner, sizeof inner, out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
}

void auth_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    sha256_2(data ? data : (const void *)"", len, NULL, 0, d);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[64] = '\0';
}

size_t auth_b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    if (cap < 4 * ((n + 2) / 3) + 1) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int auth_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n == 0 || n % 4 != 0 || cap < n / 4 * 3)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!is_b64_char(in[i]) || (in[i] == '=' && i < n - 2))
            return -1;
    int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (got < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes */
    if (n >= 1 && in[n - 1] == '=')
        got--;
    if (n >= 2 && in[n - 2] == '=')
        got--;
    return got;
}

void auth_hmac_b64(const unsigned char *key, size_t klen, const char *msg, size_t mlen, char out[AUTH_SIG_B64_MAX + 1])
{
    unsigned char mac[32];
    auth_hmac_sha256(key, klen, msg, mlen, mac);
    auth_b64_encode(mac, sizeof mac, out, AUTH_SIG_B64_MAX + 1);
    OPENSSL_cleanse(mac, sizeof mac);
}

int auth_request_string(const char *method, const char *path_and_query, int64_t ts, const char *nonce,
                        const char body_hash_hex[65], char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\n%s\n%lld\n%s\n%s\n", method, path_and_query, (long long)ts, nonce, body_hash_hex);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool auth_ct_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}

sk_status auth_verify(const auth_key *k, const auth_header *h, const char *method, const char *path_and_query,
                      const void *body, size_t body_len, int64_t now_s)
{
    char bh[65];
    auth_sha256_hex(body, body_len, bh);
    size_t cap = strlen(method) + strlen(path_and_query) + strlen(h->nonce) + 64 + 32;
    char *sts = malloc(cap);
    if (sts == NULL)
        return SK_ENOMEM;
    int n = auth_request_string(method, path_and_query, h->ts, h->nonce, bh, sts, cap);
    char want[AUTH_SIG_B64_MAX + 1];
    auth_hmac_b64(k->secret, k->secret_len, sts, n < 0 ? 0 : (size_t)n, want);
    free(sts);
    bool ok = auth_ct_eq(want, h->sig);
    OPENSSL_cleanse(want, sizeof want);
    if (!ok)
        return SK_ESIGNATURE_INVALID;
    int64_t skew = now_s - h->ts;
    if (skew > AUTH_SKEW_S || skew < -AUTH_SKEW_S)
        return SK_EREQUEST_EXPIRED;
    return SK_OK;
}

void auth_response_header(const auth_key *k, int status, const char *nonce, int64_t ts, const void *body,
                          size_t body_len, char *out, size_t cap)
{
    char bh[65];
    auth_sha256_hex(body, body_len, bh);
    char sts[256];
    int n = snprintf(sts, sizeof sts, "%d\n%s\n%lld\n%s\n", status, nonce, (long long)ts, bh);
    char sig[AUTH_SIG_B64_MAX + 1];
    auth_hmac_b64(k->secret, k->secret_len, sts, (size_t)n, sig);
    snprintf(out, cap, "ts=\"%lld\", sig=\"%s\"", (long long)ts, sig);
}
