/*
 * terminal/tcode.h — one-time activation codes (spec §11).
 *
 * A code is TCODE_LEN characters from a 32-letter alphabet without look-alikes
 * (no 0/O, 1/I: 60 random bits), shown once to the caller that registered
 * the terminal or asked for a new code, and stored only as
 * hex(HMAC-SHA256(key = 16 random salt bytes, code)) beside the salt. A
 * presented code is upper-cased, hashed with the stored salt and compared in
 * constant time. Expiry and single use are the driver's (the row's
 * code_expires_at; the hash is cleared on use).
 */
#ifndef TCODE_H
#define TCODE_H

#include <stdbool.h>
#include <stddef.h>

#define TCODE_LEN 12
#define TCODE_INPUT_MAX 64
#define TCODE_SALT_HEX 32
#define TCODE_HASH_HEX 64

/* A fresh code and salt from the OpenSSL CSPRNG. 0, or -1 (no randomness). */
int tcode_new(char code[TCODE_LEN + 1], char salt_hex[TCODE_SALT_HEX + 1]);

/* hex(HMAC-SHA256(salt, upper(code))). 0, or -1 on a bad salt. Pure. */
int tcode_hash(const char *salt_hex, const char *code, char out[TCODE_HASH_HEX + 1]);

/* Does presented hash to hash_hex under salt_hex? Constant time in the
 * hash; false for a NULL/empty stored hash. Pure. */
bool tcode_matches(const char *salt_hex, const char *hash_hex, const char *presented);

/* A well-formed presented code: 1..TCODE_INPUT_MAX of [A-Za-z0-9]. */
bool tcode_input_ok(const char *s, size_t len);

#endif
