/* terminal/tcode.c — activation codes; see tcode.h. */
#include "terminal/tcode.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";   /* 32: byte & 31 is unbiased */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    if (s == NULL || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

int tcode_new(char code[TCODE_LEN + 1], char salt_hex[TCODE_SALT_HEX + 1])
{
    unsigned char r[TCODE_LEN], salt[TCODE_SALT_HEX / 2];
    if (RAND_bytes(r, sizeof r) != 1 || RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    for (int i = 0; i < TCODE_LEN; i++)
        code[i] = alphabet[r[i] & 31];
    code[TCODE_LEN] = '\0';
    hex(salt, sizeof salt, salt_hex);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

bool tcode_input_ok(const char *s, size_t len)
{
    if (s == NULL || len < 1 || len > TCODE_INPUT_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

int tcode_hash(const char *salt_hex, const char *code, char out[TCODE_HASH_HEX + 1])
{
    unsigned char salt[TCODE_SALT_HEX / 2], mac[32];
    char up[TCODE_INPUT_MAX + 1];
    size_t n = strlen(code);
    if (unhex(salt_hex, salt, sizeof salt) != 0 || n > TCODE_INPUT_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        up[i] = code[i] >= 'a' && code[i] <= 'z' ? (char)(code[i] - 32) : code[i];
    unsigned int ml = 0;
    if (HMAC(EVP_sha256(), salt, sizeof salt, (const unsigned char *)up, n, mac, &ml) == NULL || ml != sizeof mac)
        return -1;
    hex(mac, sizeof mac, out);
    OPENSSL_cleanse(up, sizeof up);
    return 0;
}

bool tcode_matches(const char *salt_hex, const char *hash_hex, const char *presented)
{
    char h[TCODE_HASH_HEX + 1];
    if (hash_hex == NULL || strlen(hash_hex) != TCODE_HASH_HEX || presented == NULL ||
        !tcode_input_ok(presented, strlen(presented)) || tcode_hash(salt_hex, presented, h) != 0)
        return false;
    return CRYPTO_memcmp(h, hash_hex, TCODE_HASH_HEX) == 0;
}
