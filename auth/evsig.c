/*
 * auth/evsig.c — sign and verify order events (see auth/evsig.h).
 */
#include "auth/evsig.h"
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define MAC_LEN 32

const char *evsig_res_name(evsig_res r)
{
    switch (r) {
    case EVSIG_OK: return "ok";
    case EVSIG_OK_PREV: return "ok_previous_key";
    case EVSIG_MISSING: return "missing";
    case EVSIG_MALFORMED: return "malformed";
    case EVSIG_MISMATCH: return "mismatch";
    }
    return "?";
}

static void mac(const unsigned char *key, size_t klen, const void *payload, size_t len, unsigned char out[MAC_LEN])
{
    auth_hmac_sha256(key, klen, payload, len, out);
}

void evsig_sign(const unsigned char *key, size_t klen, const void *payload, size_t len,
                char out[EVSIG_B64_LEN + 1])
{
    unsigned char m[MAC_LEN];
    mac(key, klen, payload, len, m);
    EVP_EncodeBlock((unsigned char *)out, m, MAC_LEN);
    out[EVSIG_B64_LEN] = '\0';
    OPENSSL_cleanse(m, sizeof m);
}

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

evsig_res evsig_verify(const evsig_keys *k, const void *payload, size_t len, const void *hdr, size_t hdrlen)
{
    if (hdr == NULL)
        return EVSIG_MISSING;
    /* 32 bytes encode to 43 characters and one '=' */
    const unsigned char *h = hdr;
    if (hdrlen != EVSIG_B64_LEN || h[EVSIG_B64_LEN - 1] != '=')
        return EVSIG_MALFORMED;
    for (size_t i = 0; i < EVSIG_B64_LEN - 1; i++)
        if (!b64_char(h[i]))
            return EVSIG_MALFORMED;
    unsigned char got[MAC_LEN + 3];
    if (EVP_DecodeBlock(got, h, EVSIG_B64_LEN) != MAC_LEN + 1) /* padding counts as a zero byte */
        return EVSIG_MALFORMED;
    unsigned char want[MAC_LEN];
    mac(k->cur, k->cur_len, payload, len, want);
    int cur_ok = CRYPTO_memcmp(got, want, MAC_LEN) == 0;
    int prev_ok = 0;
    if (k->prev != NULL && k->prev_len > 0) {
        mac(k->prev, k->prev_len, payload, len, want);
        prev_ok = CRYPTO_memcmp(got, want, MAC_LEN) == 0;
    }
    OPENSSL_cleanse(want, sizeof want);
    if (cur_ok)
        return EVSIG_OK;
    return prev_ok ? EVSIG_OK_PREV : EVSIG_MISMATCH;
}
