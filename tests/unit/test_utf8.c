/*
 * tests/unit/test_utf8.c — common/utf8.c against an independent reference
 * decoder, exhaustively over every 1-, 2- and 3-byte sequence and every code
 * point, and by class (overlongs, surrogates, > U+10FFFF, F5..FF leads, stray
 * continuations, truncation) — the classes MariaDB's utf8mb4 rejects.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/utf8.h"

/* Reference: decode by bit pattern, then apply the three rules of RFC 3629
 * (shortest form, no surrogates, <= U+10FFFF). Returns the length or 0. */
static size_t ref_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Encode any cp < 2^21 the naive way (also surrogates and > 0x10FFFF). */
static size_t enc(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F)); return 4;
}

static bool v(const char *s, size_t n) { return utf8_valid(s, n); }
#define V(lit) v(lit, sizeof(lit) - 1)

/* Loops compare in plain C and fail on the first difference: ck_assert
 * per iteration costs a write to Check's pipe (16.7 M of them here). */
#define CHECK(cond, ...) do { if (!(cond)) ck_abort_msg(__VA_ARGS__); } while (0)

START_TEST(every_code_point)
{
    unsigned char b[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t n = enc(cp, b);
        bool sur = cp >= 0xD800 && cp <= 0xDFFF;
        CHECK(utf8_char_len(b, n) == (sur ? 0 : n), "U+%04X", cp);
        CHECK(utf8_valid(b, n) == !sur, "U+%04X", cp);
        if (!sur && n > 1) /* cut short anywhere: invalid */
            for (size_t k = 1; k < n; k++)
                CHECK(!utf8_valid(b, k), "U+%04X cut at %zu", cp, k);
    }
    /* beyond U+10FFFF, up to what a 4-byte form can carry */
    for (uint32_t cp = 0x110000; cp < 0x200000; cp += 0x3F)
        CHECK(utf8_char_len(b, enc(cp, b)) == 0, "U+%X", cp);
}
END_TEST

START_TEST(every_short_sequence_matches_reference)
{
    unsigned char s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        CHECK(utf8_char_len(s, 1) == ref_len(s, 1), "%02X", a);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            CHECK(utf8_char_len(s, 2) == ref_len(s, 2), "%02X %02X", a, b);
            CHECK(utf8_valid(s, 2) == (ref_len(s, 2) == 2 || (ref_len(s, 1) == 1 && ref_len(s + 1, 1) == 1)),
                  "%02X %02X", a, b);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                CHECK(utf8_char_len(s, 3) == ref_len(s, 3), "%02X %02X %02X", a, b, c);
            }
        }
    }
}
END_TEST

START_TEST(four_byte_sequences_match_reference)
{
    /* every lead x second byte, the interesting third/fourth bytes */
    static const unsigned char edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
    unsigned char s[4];
    for (unsigned a = 0xE0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b, s[2] = edge[c], s[3] = edge[d];
                    CHECK(utf8_char_len(s, 4) == ref_len(s, 4), "%02X %02X %02X %02X", s[0], s[1], s[2], s[3]);
                }
}
END_TEST

START_TEST(edge_code_points)
{
    ck_assert(V(""));
    ck_assert(V("\x00"));               /* U+0000 is a character */
    ck_assert(V("\x7F"));
    ck_assert(V("\xC2\x80"));           /* U+0080 */
    ck_assert(V("\xDF\xBF"));           /* U+07FF */
    ck_assert(V("\xE0\xA0\x80"));       /* U+0800 */
    ck_assert(V("\xED\x9F\xBF"));       /* U+D7FF */
    ck_assert(V("\xEE\x80\x80"));       /* U+E000 */
    ck_assert(V("\xEF\xBF\xBD"));       /* U+FFFD */
    ck_assert(V("\xEF\xBF\xBF"));       /* U+FFFF (a noncharacter, still UTF-8) */
    ck_assert(V("\xF0\x90\x80\x80"));   /* U+10000 */
    ck_assert(V("\xF0\x9F\x92\xA9"));   /* U+1F4A9 */
    ck_assert(V("\xF4\x8F\xBF\xBF"));   /* U+10FFFF */
    ck_assert(V("a\xE4\xB8\xAD\xE6\x96\x87z"));
}
END_TEST

START_TEST(invalid_classes)
{
    /* overlong encodings */
    ck_assert(!V("\xC0\x80"));          /* U+0000 as 2 bytes ("modified UTF-8") */
    ck_assert(!V("\xC0\xAF"));
    ck_assert(!V("\xC1\xBF"));          /* U+007F as 2 bytes */
    ck_assert(!V("\xE0\x80\x80"));
    ck_assert(!V("\xE0\x9F\xBF"));      /* U+07FF as 3 bytes */
    ck_assert(!V("\xF0\x80\x80\x80"));
    ck_assert(!V("\xF0\x8F\xBF\xBF"));  /* U+FFFF as 4 bytes */
    /* UTF-16 surrogates, lone and paired (CESU-8) */
    ck_assert(!V("\xED\xA0\x80"));      /* U+D800 */
    ck_assert(!V("\xED\xAF\xBF"));      /* U+DBFF */
    ck_assert(!V("\xED\xB0\x80"));      /* U+DC00 */
    ck_assert(!V("\xED\xBF\xBF"));      /* U+DFFF */
    ck_assert(!V("\xED\xA0\xBD\xED\xB2\xA9"));
    /* beyond U+10FFFF */
    ck_assert(!V("\xF4\x90\x80\x80"));  /* U+110000 */
    ck_assert(!V("\xF4\xBF\xBF\xBF"));
    /* leads that never occur */
    for (unsigned c = 0xF5; c <= 0xFF; c++) {
        unsigned char s[4] = {(unsigned char)c, 0x80, 0x80, 0x80};
        ck_assert_msg(!utf8_valid(s, 4) && utf8_char_len(s, 4) == 0, "lead %02X", c);
    }
    /* stray continuation bytes */
    ck_assert(!V("\x80"));
    ck_assert(!V("\xBF"));
    ck_assert(!V("a\x80z"));
    ck_assert(!V("\xC3\xA9\xA9"));
    /* cut short, at the end and in the middle */
    ck_assert(!V("\xC3"));
    ck_assert(!V("\xE4\xB8"));
    ck_assert(!V("\xF0\x9F\x92"));
    ck_assert(!V("\xE4\xB8z"));
    ck_assert(!V("\xF0\x9F\x92z"));
    /* a non-continuation where a continuation belongs */
    ck_assert(!V("\xC3\x28"));
    ck_assert(!V("\xE2\x28\xA1"));
    ck_assert(!V("\xE2\x82\x28"));
    ck_assert(!V("\xF0\x28\x8C\xBC"));
    ck_assert(!V("\xF0\x90\x28\xBC"));
    ck_assert(!V("\xF0\x90\x8C\x28"));
}
END_TEST

START_TEST(char_len_reads_no_more_than_n)
{
    /* a lead at the very end of the buffer: n bounds the read */
    unsigned char s[1] = {0xF0};
    ck_assert_uint_eq(utf8_char_len(s, 1), 0);
    ck_assert_uint_eq(utf8_char_len(s, 0), 0);
}
END_TEST

START_TEST(valid_prefix)
{
    ck_assert_uint_eq(utf8_valid_prefix("abc", 3), 3);
    ck_assert_uint_eq(utf8_valid_prefix("ab\xC0\x80", 4), 2);
    ck_assert_uint_eq(utf8_valid_prefix("\xE4\xB8\xAD\xE4\xB8", 5), 3);
    ck_assert_uint_eq(utf8_valid_prefix("", 0), 0);
}
END_TEST

START_TEST(sanitize)
{
    char out[16];
    ck_assert_uint_eq(utf8_sanitize(out, sizeof out, "a\xC0\x80z", 4), 4);
    ck_assert_str_eq(out, "a??z");
    ck_assert_uint_eq(utf8_sanitize(out, sizeof out, "a\0b", 3), 3);
    ck_assert_str_eq(out, "a?b");
    ck_assert_uint_eq(utf8_sanitize(out, sizeof out, "\xED\xA0\x80", 3), 3);
    ck_assert_str_eq(out, "???");
    /* never splits a character: 4 bytes of room, a 3-byte char after "ab" */
    ck_assert_uint_eq(utf8_sanitize(out, 5, "ab\xE4\xB8\xAD", 5), 2);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(utf8_sanitize(out, 6, "ab\xE4\xB8\xAD", 5), 5);
    ck_assert(utf8_valid(out, strlen(out)));
    ck_assert_uint_eq(utf8_sanitize(out, 1, "abc", 3), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(utf8_sanitize(out, 0, "abc", 3), 0);
    /* the result is always valid, whatever goes in */
    unsigned char junk[64];
    for (int i = 0; i < 64; i++)
        junk[i] = (unsigned char)(i * 37 + 0x80);
    size_t n = utf8_sanitize(out, sizeof out, junk, sizeof junk);
    ck_assert(utf8_valid(out, n) && strlen(out) == n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("utf8");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, every_code_point);
    tcase_add_test(t, every_short_sequence_matches_reference);
    tcase_add_test(t, four_byte_sequences_match_reference);
    tcase_add_test(t, edge_code_points);
    tcase_add_test(t, invalid_classes);
    tcase_add_test(t, char_len_reads_no_more_than_n);
    tcase_add_test(t, valid_prefix);
    tcase_add_test(t, sanitize);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
