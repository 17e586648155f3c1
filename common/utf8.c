/*
 * common/utf8.c — strict UTF-8 validation (see common/utf8.h).
 *
 * The table of well-formed byte sequences (Unicode 15, table 3-7):
 *
 *   U+0000..U+007F     00..7F
 *   U+0080..U+07FF     C2..DF  80..BF
 *   U+0800..U+0FFF     E0      A0..BF  80..BF
 *   U+1000..U+CFFF     E1..EC  80..BF  80..BF
 *   U+D000..U+D7FF     ED      80..9F  80..BF
 *   U+E000..U+FFFF     EE..EF  80..BF  80..BF
 *   U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
 *   U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
 *   U+100000..U+10FFFF F4      80..8F  80..BF  80..BF
 *
 * The second byte's range is the only thing that varies with the lead; the
 * rest are plain continuation bytes.
 */
#include "common/utf8.h"

static bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

size_t utf8_char_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;      /* below: overlong */
        else if (c == 0xED)
            hi = 0x9F;      /* above: surrogates D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;      /* below: overlong */
        else if (c == 0xF4)
            hi = 0x8F;      /* above: beyond U+10FFFF */
    } else {
        return 0;           /* 80..C1 (continuation, overlong 2-byte), F5..FF */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (!cont(s[i]))
            return 0;
    return len;
}

size_t utf8_valid_prefix(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* ASCII run: the common case */
            i++;
            continue;
        }
        size_t k = utf8_char_len(s + i, n - i);
        if (k == 0)
            break;
        i += k;
    }
    return i;
}

bool utf8_valid(const void *s, size_t n) { return utf8_valid_prefix(s, n) == n; }

size_t utf8_sanitize(char *dst, size_t cap, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t o = 0, i = 0;
    if (cap == 0)
        return 0;
    while (i < n) {
        size_t k = utf8_char_len(s + i, n - i);
        if (k == 0 || s[i] == '\0') {
            if (o + 1 >= cap)
                break;
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + k >= cap)
            break;
        for (size_t j = 0; j < k; j++)
            dst[o++] = (char)s[i + j];
        i += k;
    }
    dst[o] = '\0';
    return o;
}
