/*
 * common/utf8.h — strict UTF-8 validation (pure).
 *
 * Strict = RFC 3629, the encoding MariaDB's utf8mb4 stores: shortest form only
 * (no overlongs: C0/C1 leads, E0 80..9F, F0 80..8F), no UTF-16 surrogates
 * (ED A0..BF), nothing above U+10FFFF (F4 90..BF, leads F5..FF), no stray
 * continuation bytes, no sequence cut short. U+0000 is a valid character.
 *
 * Every byte string these functions accept is accepted by a utf8mb4 column in
 * strict mode. MariaDB itself also takes encoded surrogates (ED A0 80..ED BF
 * BF); we do not: they are not UTF-8, jansson rejects them, and no valid
 * event or request can contain them (tests/unit/test_utf8.c, and
 * tests/integration/test_poison.py checks the subset claim against MariaDB).
 */
#ifndef SK_UTF8_H
#define SK_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid character at s[0..n), or 0 if s does not start
 * with one (n == 0 included). Reads at most min(n, 4) bytes. */
size_t utf8_char_len(const unsigned char *s, size_t n);

/* Is s[0..n) entirely valid UTF-8? */
bool utf8_valid(const void *s, size_t n);

/* Length of the longest valid prefix of s[0..n) (== n iff utf8_valid). */
size_t utf8_valid_prefix(const void *s, size_t n);

/*
 * Copy s[0..n) into dst (cap bytes, NUL-terminated when cap > 0) as valid
 * UTF-8 text: each invalid byte becomes '?', a NUL byte becomes '?', and the
 * copy ends on a character boundary. Returns the bytes written (without the
 * NUL). For log lines and error text that embeds foreign bytes.
 */
size_t utf8_sanitize(char *dst, size_t cap, const void *s, size_t n);

#endif
