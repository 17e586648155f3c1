/*
 * tests/unit/test_ono.c — order number codec and generator (order/ono.c).
 *
 * The expected values come from outside the module: hand-computed Luhn
 * vectors, a textbook Luhn example, libc's gmtime_r for the calendar, and a
 * second Luhn written as a validator (sum over all 25 digits ≡ 0 mod 10).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "order/ono.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { return ut_rnd(&rng_state); }
static int64_t rnd_range(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

/* Standard Luhn validation of a whole number (check digit included). */
static int luhn_valid(const char *s, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = s[n - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* Complete 24 digits with the digit that makes luhn_valid true. */
static void complete(const char *d24, char out[ONO_LEN + 1])
{
    memcpy(out, d24, 24);
    out[25] = '\0';
    for (char c = '0'; c <= '9'; c++) {
        out[24] = c;
        if (luhn_valid(out, 25))
            return;
    }
    ck_abort_msg("no check digit");
}

static const char *parse_reason(const char *s, size_t n)
{
    ono_fields f;
    const char *why = "unset";
    sk_status st = ono_parse(s, n, &f, &why);
    if (st == SK_OK)
        return "ok";
    REQ(st == SK_EBAD_ORDER_NO && why != NULL);
    return why;
}

#define EPOCH_2000 946684800LL
#define EPOCH_10000 253402300800LL /* 10000-01-01T00:00:00Z */

/* ---- Luhn ---- */

START_TEST(luhn_textbook)
{
    /* the classic example: 7992739871 + check digit 3 */
    ck_assert_int_eq(ono_luhn("7992739871", 10), 3);
    ck_assert(luhn_valid("79927398713", 11));
    ck_assert_int_eq(ono_luhn("", 0), 0);
    ck_assert_int_eq(ono_luhn("0", 1), 0);
    ck_assert_int_eq(ono_luhn("5", 1), 9);   /* 5*2=10 -> 1; (10-1)%10 = 9 */
    ck_assert_int_eq(ono_luhn("12a4", 4), -1);
}
END_TEST

START_TEST(luhn_matches_validator)
{
    char d[25];
    for (int k = 0; k < 20000; k++) {
        for (int i = 0; i < 24; i++)
            d[i] = (char)('0' + rnd() % 10);
        int c = ono_luhn(d, 24);
        REQ(c >= 0 && c <= 9);
        d[24] = (char)('0' + c);
        REQ(luhn_valid(d, 25));
    }
}
END_TEST

/* ---- known vectors ---- */

START_TEST(known_vector_spec_example)
{
    /*
     * 2026-11-26T00:56:52Z, node 7, seq 12, group 2 (the spec's example).
     * 24 digits: 20261126005652 007 00012 02 = 2 0 2 6 1 1 2 6 0 0 5 6 5 2 0 0 7 0 0 0 1 2 0 2
     * From the right, positions 0,2,4,... are doubled:
     *   doubled: 2 2 0 0 0 2 6 0 6 1 6 0 -> 4 4 0 0 0 4 (12->)3 0 (12->)3 2 (12->)3 0 = 23
     *   plain:   0 1 0 7 0 5 5 0 2 1 2 2                                             = 25
     * sum 48 -> check (10 - 8) % 10 = 2.
     * Epoch: `date -u -d 2026-11-26T00:56:52Z +%s` = 1795654612.
     */
    ono_fields f = {.epoch_s = 1795654612, .node = 7, .seq = 12, .group = 2};
    char out[ONO_LEN + 1];
    ck_assert_int_eq(ono_format(&f, out), 0);
    ck_assert_str_eq(out, "2026112600565200700012022");

    ono_fields g;
    const char *why = "x";
    ck_assert_int_eq(ono_parse("2026112600565200700012022", 25, &g, &why), SK_OK);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(g.epoch_s, 1795654612);
    ck_assert_int_eq(g.node, 7);
    ck_assert_int_eq(g.seq, 12);
    ck_assert_int_eq(g.group, 2);

    char t[21];
    ono_rfc3339(g.epoch_s, t);
    ck_assert_str_eq(t, "2026-11-26T00:56:52Z");
}
END_TEST

START_TEST(known_vector_edges)
{
    /*
     * 2000-01-01T00:00:00Z node 0 seq 0 group 1: 200001010000000000000001.
     * Non-zero digits, position from the right: the final 1 (0, doubled: 2),
     * the 1 of the day (16, doubled: 2), the 1 of the month (18, doubled: 2),
     * the leading 2 (23, plain: 2). Sum 8 -> check digit 2.
     */
    ono_fields f = {.epoch_s = EPOCH_2000, .node = 0, .seq = 0, .group = 1};
    char out[ONO_LEN + 1];
    ck_assert_int_eq(ono_format(&f, out), 0);
    ck_assert_str_eq(out, "2000010100000000000000012");

    /* the last second the format can show */
    ono_fields m = {.epoch_s = EPOCH_10000 - 1, .node = 999, .seq = 99999, .group = 99};
    ck_assert_int_eq(ono_format(&m, out), 0);
    ck_assert_int_eq(strncmp(out, "99991231235959" "999" "99999" "99", 24), 0);
    ck_assert(luhn_valid(out, 25));
    ono_fields back;
    ck_assert_int_eq(ono_parse(out, 25, &back, NULL), SK_OK);
    ck_assert_int_eq(back.epoch_s, EPOCH_10000 - 1);

    /* leap day */
    ono_fields l = {.epoch_s = 1709251199, .node = 42, .seq = 31337, .group = 10};
    ck_assert_int_eq(ono_format(&l, out), 0);
    ck_assert_int_eq(strncmp(out, "20240229235959" "042" "31337" "10", 24), 0);
}
END_TEST

START_TEST(format_rejects_out_of_range)
{
    char out[ONO_LEN + 1];
    ono_fields ok = {.epoch_s = 1795654612, .node = 7, .seq = 12, .group = 2};
    ono_fields f;
    f = ok; f.epoch_s = EPOCH_2000 - 1;   ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.epoch_s = EPOCH_10000;      ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.epoch_s = -1;               ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.node = -1;                  ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.node = 1000;                ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.seq = -1;                   ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.seq = 100000;               ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.group = 0;                  ck_assert_int_eq(ono_format(&f, out), -1);
    f = ok; f.group = 100;                ck_assert_int_eq(ono_format(&f, out), -1);
    ck_assert_int_eq(ono_format(NULL, out), -1);
}
END_TEST

/* ---- calendar ---- */

START_TEST(calendar_matches_gmtime)
{
    for (int k = 0; k < 200000; k++) {
        int64_t t = rnd_range(EPOCH_2000, EPOCH_10000 - 1);
        if (k < 4)
            t = (int64_t[]){EPOCH_2000, EPOCH_10000 - 1, 951782400 /* 2000-02-29 */, 4107542400LL /* 2100-03-01 */}[k];
        time_t tt = (time_t)t;
        struct tm tm;
        REQ(gmtime_r(&tt, &tm) != NULL);
        char want[96], got[21];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        ono_rfc3339(t, got);
        if (strcmp(got, want) != 0)
            ck_abort_msg("t=%lld got %s want %s", (long long)t, got, want);
    }
}
END_TEST


/* ---- round trip ---- */

START_TEST(parse_format_roundtrip_random)
{
    char out[ONO_LEN + 1];
    for (int k = 0; k < 200000; k++) {
        ono_fields f = {
            .epoch_s = rnd_range(EPOCH_2000, EPOCH_10000 - 1),
            .node = (int)rnd_range(0, ONO_MAX_NODE),
            .seq = (int)rnd_range(0, ONO_MAX_SEQ),
            .group = (int)rnd_range(1, 99),
        };
        REQ(ono_format(&f, out) == 0);
        REQ(strlen(out) == ONO_LEN);
        REQ(luhn_valid(out, 25));
        ono_fields g;
        REQ(ono_parse(out, ONO_LEN, &g, NULL) == SK_OK);
        REQ(g.epoch_s == f.epoch_s && g.node == f.node && g.seq == f.seq && g.group == f.group);
    }
}
END_TEST

/* ---- error detection ---- */

START_TEST(every_single_digit_change_fails)
{
    char no[ONO_LEN + 1];
    for (int k = 0; k < 300; k++) {
        ono_fields f = {rnd_range(EPOCH_2000, EPOCH_10000 - 1), (int)rnd_range(0, 999),
                        (int)rnd_range(0, 99999), (int)rnd_range(1, 99)};
        REQ(ono_format(&f, no) == 0);
        for (int pos = 0; pos < ONO_LEN; pos++) {
            for (char c = '0'; c <= '9'; c++) {
                if (c == no[pos])
                    continue;
                char bad[ONO_LEN + 1];
                memcpy(bad, no, sizeof bad);
                bad[pos] = c;
                REQ(strcmp(parse_reason(bad, ONO_LEN), "bad check digit") == 0);
            }
        }
    }
}
END_TEST

START_TEST(adjacent_transpositions)
{
    /*
     * Luhn detects every transposition of adjacent distinct digits except
     * 0<->9 (doubling maps 0->0 and 9->9, so the sum does not move). Assert
     * exactly that: all others fail the check, 09/90 pass it.
     */
    char no[ONO_LEN + 1];
    int detected = 0, missed_09 = 0;
    for (int k = 0; k < 3000; k++) {
        ono_fields f = {rnd_range(EPOCH_2000, EPOCH_10000 - 1), (int)rnd_range(0, 999),
                        (int)rnd_range(0, 99999), (int)rnd_range(1, 99)};
        if (k % 3 == 0)
            f.seq = (int)(rnd() % 2 ? 90909 : 9090); /* plenty of 0/9 neighbours */
        REQ(ono_format(&f, no) == 0);
        for (int pos = 0; pos + 1 < ONO_LEN; pos++) {
            char a = no[pos], b = no[pos + 1];
            if (a == b)
                continue;
            char sw[ONO_LEN + 1];
            memcpy(sw, no, sizeof sw);
            sw[pos] = b;
            sw[pos + 1] = a;
            bool is09 = (a == '0' && b == '9') || (a == '9' && b == '0');
            if (is09) {
                REQ(luhn_valid(sw, 25)); /* the known blind spot */
                missed_09++;
            } else {
                REQ(strcmp(parse_reason(sw, ONO_LEN), "bad check digit") == 0);
                detected++;
            }
        }
    }
    ck_assert_int_gt(detected, 10000);
    ck_assert_int_gt(missed_09, 100);
}
END_TEST

START_TEST(bad_inputs)
{
    char v[ONO_LEN + 1];
    const char *good = "2026112600565200700012022";
    ck_assert_str_eq(parse_reason(good, 25), "ok");

    ck_assert_str_eq(parse_reason("", 0), "wrong length");
    ck_assert_str_eq(parse_reason(NULL, 0), "wrong length");
    ck_assert_str_eq(parse_reason(good, 24), "wrong length");
    ck_assert_str_eq(parse_reason("20261126005652007000120220", 26), "wrong length");
    /* a length in bytes, not C string: 25 bytes out of a longer buffer are fine */
    ck_assert_str_eq(parse_reason("2026112600565200700012022XYZ", 25), "ok");

    memcpy(v, good, sizeof v); v[3] = 'a';
    ck_assert_str_eq(parse_reason(v, 25), "non-digit character");
    memcpy(v, good, sizeof v); v[24] = 'X';
    ck_assert_str_eq(parse_reason(v, 25), "non-digit character");
    memcpy(v, good, sizeof v); v[0] = ' ';
    ck_assert_str_eq(parse_reason(v, 25), "non-digit character");
    ck_assert_str_eq(parse_reason(" 2026112600565200700012022", 26), "wrong length");
    ck_assert_str_eq(parse_reason("abcdefghijklmnopqrstuvwxy", 25), "non-digit character");
    ck_assert_str_eq(parse_reason("-026112600565200700012022", 25), "non-digit character");
    ck_assert_str_eq(parse_reason("+026112600565200700012022", 25), "non-digit character");
    ck_assert_str_eq(parse_reason("２0261126005652007000122", 25), "non-digit character"); /* UTF-8 fullwidth 2 */

    /* embedded NUL */
    memcpy(v, good, sizeof v); v[10] = '\0';
    ck_assert_str_eq(parse_reason(v, 25), "non-digit character");

    /* 10 MB of digits */
    size_t big = 10u * 1024 * 1024;
    char *huge = malloc(big + 1);
    ck_assert_ptr_nonnull(huge);
    memset(huge, '7', big);
    huge[big] = '\0';
    ck_assert_str_eq(parse_reason(huge, big), "wrong length");
    free(huge);

    /* field checks, each with a correct check digit */
    complete("202611260056520070001200", v);   /* group 00 */
    ck_assert_str_eq(parse_reason(v, 25), "bad group");
    complete("202613260056520070001202", v);   /* month 13 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202600260056520070001202", v);   /* month 00 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202602300056520070001202", v);   /* Feb 30 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202511000056520070001202", v);   /* day 0 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202604310056520070001202", v);   /* Apr 31 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202502290000000070001202", v);   /* Feb 29 in a common year */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("210002290000000070001202", v);   /* 2100 is not a leap year */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202402290000000070001202", v);   /* 2024 is */
    ck_assert_str_eq(parse_reason(v, 25), "ok");
    complete("200002290000000070001202", v);   /* 2000 is (divisible by 400) */
    ck_assert_str_eq(parse_reason(v, 25), "ok");
    complete("202611262400000070001202", v);   /* hour 24 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202611262360000070001202", v);   /* minute 60 */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202611262359600070001202", v);   /* second 60 (no leap seconds) */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("199912312359590070001202", v);   /* before 2000: never issued */
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("000000000000000000000000", v);
    ck_assert_str_eq(parse_reason(v, 25), "bad timestamp");
    complete("202611260056529999999999", v);   /* node 999 seq 99999 group 99 */
    ck_assert_str_eq(parse_reason(v, 25), "ok");

    /* out may be NULL; reason may be NULL */
    ck_assert_int_eq(ono_parse(good, 25, NULL, NULL), SK_OK);
    ck_assert_int_eq(ono_parse("x", 1, NULL, NULL), SK_EBAD_ORDER_NO);
}
END_TEST

START_TEST(rfc3339)
{
    char t[21];
    ono_rfc3339(0, t);
    ck_assert_str_eq(t, "1970-01-01T00:00:00Z");
    ono_rfc3339(-1, t);
    ck_assert_str_eq(t, "1969-12-31T23:59:59Z");
    ono_rfc3339(951782400, t);
    ck_assert_str_eq(t, "2000-02-29T00:00:00Z");
    ono_rfc3339(EPOCH_10000 - 1, t);
    ck_assert_str_eq(t, "9999-12-31T23:59:59Z");
    ono_rfc3339(INT64_MAX, t);                 /* clamped, never overflows out */
    ck_assert_str_eq(t, "9999-12-31T23:59:59Z");
    ono_rfc3339(INT64_MIN, t);
    ck_assert_str_eq(t, "0000-01-01T00:00:00Z");
}
END_TEST

/* ---- generator ---- */

/* Sort helper: numbers compared on their first 22 digits (time, node, seq),
 * which is what the generator must never repeat for one node. */
static int cmp22(const void *a, const void *b) { return memcmp(a, b, 22); }

START_TEST(gen_200k_unique_simulated_second)
{
    enum { N = 200000 };
    char (*nos)[ONO_LEN + 1] = malloc(sizeof(*nos) * N);
    ck_assert_ptr_nonnull(nos);
    ono_gen g;
    ono_gen_init(&g, 7);
    int64_t now = 1795654612;
    int waits = 0;
    for (int i = 0; i < N;) {
        int rc = ono_gen_next(&g, now, 1 + i % 99, nos[i]);
        if (rc == 1) {            /* second used up: the simulated clock ticks */
            waits++;
            now++;
            continue;
        }
        REQ(rc == 0);
        if (i > 0)                /* issue order is strictly increasing */
            REQ(memcmp(nos[i - 1], nos[i], 22) < 0);
        i++;
    }
    ck_assert_int_eq(waits, 1);   /* 100000 per second: exactly one wait */
    qsort(nos, N, sizeof *nos, cmp22);
    for (int i = 1; i < N; i++)
        REQ(memcmp(nos[i - 1], nos[i], 22) != 0);
    for (int i = 0; i < N; i += 997) {
        ono_fields f;
        ck_assert_int_eq(ono_parse(nos[i], ONO_LEN, &f, NULL), SK_OK);
        ck_assert_int_eq(f.node, 7);
    }
    free(nos);
}
END_TEST

START_TEST(gen_restart_in_the_same_second_never_reissues)
{
    /* the previous process of node 7 issued numbers in second T, then a new
     * one started in T: the new one must not issue anything of second T */
    int64_t t = 1795654612;
    ono_gen old;
    ono_gen_init(&old, 7);
    char a[3][ONO_LEN + 1];
    for (int i = 0; i < 3; i++)
        REQ(ono_gen_next(&old, t, 2, a[i]) == 0);
    ono_gen g;
    ono_gen_init(&g, 7);
    ono_gen_start_after(&g, t);
    char b[ONO_LEN + 1];
    ck_assert_int_eq(ono_gen_next(&g, t, 2, b), 1);        /* wait: second T is the old one's */
    ck_assert_int_eq(ono_gen_next(&g, t - 3, 2, b), 1);    /* a clock behind the boot second too */
    REQ(ono_gen_next(&g, t + 1, 2, b) == 0);
    ono_fields f;
    ck_assert_int_eq(ono_parse(b, ONO_LEN, &f, NULL), SK_OK);
    ck_assert_int_eq(f.epoch_s, t + 1);
    ck_assert_int_eq(f.seq, 0);
    for (int i = 0; i < 3; i++)
        REQ(memcmp(a[i], b, 22) < 0);
}
END_TEST

START_TEST(gen_jittery_clock_never_reissues)
{
    /* a wall clock that mostly advances, sometimes repeats, sometimes steps back */
    enum { N = 200000 };
    char (*nos)[ONO_LEN + 1] = malloc(sizeof(*nos) * N);
    ck_assert_ptr_nonnull(nos);
    ono_gen g;
    ono_gen_init(&g, 123);
    int64_t now = 1795654612;
    for (int i = 0; i < N;) {
        uint64_t r = rnd() % 1000;
        if (r < 5)
            now -= (int64_t)(rnd() % 30);    /* step back up to 30 s */
        else if (r < 20)
            now += 1;
        int rc = ono_gen_next(&g, now, 2, nos[i]);
        if (rc == 1) {
            now++;
            continue;
        }
        REQ(rc == 0);
        if (i > 0)
            REQ(memcmp(nos[i - 1], nos[i], 22) < 0);
        i++;
    }
    free(nos);
}
END_TEST

START_TEST(gen_clock_step_back_10s)
{
    ono_gen g;
    ono_gen_init(&g, 5);
    char a[ONO_LEN + 1], b[ONO_LEN + 1];
    int64_t t = 1795654612;
    ono_fields f;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ono_gen_next(&g, t, 3, a), 0);
    ck_assert_int_eq(ono_parse(a, 25, &f, NULL), SK_OK);
    ck_assert_int_eq(f.seq, 2);

    /* clock steps back 10 s: keep issuing in second t, seq continues */
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(ono_gen_next(&g, t - 10 + i, 3, b), 0);
        ck_assert_int_eq(ono_parse(b, 25, &f, NULL), SK_OK);
        ck_assert_int_eq(f.epoch_s, t);
        ck_assert_int_eq(f.seq, 3 + i);
        ck_assert_int_lt(memcmp(a, b, 22), 0);
        memcpy(a, b, sizeof a);
    }
    /* clock back at t: still the same second */
    ck_assert_int_eq(ono_gen_next(&g, t, 3, b), 0);
    ck_assert_int_eq(ono_parse(b, 25, &f, NULL), SK_OK);
    ck_assert(f.epoch_s == t && f.seq == 13);
    /* past t: a new second from seq 0 */
    ck_assert_int_eq(ono_gen_next(&g, t + 1, 3, b), 0);
    ck_assert_int_eq(ono_parse(b, 25, &f, NULL), SK_OK);
    ck_assert(f.epoch_s == t + 1 && f.seq == 0);
}
END_TEST

START_TEST(gen_exhaustion_then_resume)
{
    ono_gen g;
    ono_gen_init(&g, 1);
    char no[ONO_LEN + 1], keep[ONO_LEN + 1];
    int64_t t = 1795654612;
    for (int i = 0; i <= ONO_MAX_SEQ; i++)
        REQ(ono_gen_next(&g, t, 9, no) == 0);
    memcpy(keep, no, sizeof keep);
    ono_fields f;
    ck_assert_int_eq(ono_parse(no, 25, &f, NULL), SK_OK);
    ck_assert_int_eq(f.seq, ONO_MAX_SEQ);

    memcpy(no, "untouched", 10);
    ck_assert_int_eq(ono_gen_next(&g, t, 9, no), 1);
    ck_assert_int_eq(ono_gen_next(&g, t, 9, no), 1);       /* stays exhausted */
    ck_assert_int_eq(ono_gen_next(&g, t - 5, 9, no), 1);   /* stepped back: still waits */
    ck_assert_str_eq(no, "untouched");

    ck_assert_int_eq(ono_gen_next(&g, t + 1, 9, no), 0);
    ck_assert_int_eq(ono_parse(no, 25, &f, NULL), SK_OK);
    ck_assert(f.epoch_s == t + 1 && f.seq == 0 && f.node == 1 && f.group == 9);
    ck_assert_int_lt(memcmp(keep, no, 22), 0);
}
END_TEST

START_TEST(gen_bad_arguments)
{
    ono_gen g;
    char no[ONO_LEN + 1];
    ono_gen_init(&g, 7);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 0, no), -1);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 100, no), -1);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, -1, no), -1);
    ck_assert_int_eq(ono_gen_next(&g, 100, 1, no), -1);   /* 1970: cannot be formatted */
    ck_assert(g.last_s == 0 && g.next_seq == 0);          /* state untouched */
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 1, no), 0);
    ono_gen_init(&g, 1000);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 1, no), -1);
    ono_gen_init(&g, -1);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 1, no), -1);
    ono_gen_init(&g, 999);
    ck_assert_int_eq(ono_gen_next(&g, 1795654612, 99, no), 0);
    ck_assert_int_eq(strncmp(no + 14, "999" "00000" "99", 10), 0);
}
END_TEST

static Suite *ono_suite(void)
{
    Suite *s = suite_create("ono");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, luhn_textbook);
    tcase_add_test(tc, luhn_matches_validator);
    tcase_add_test(tc, known_vector_spec_example);
    tcase_add_test(tc, known_vector_edges);
    tcase_add_test(tc, format_rejects_out_of_range);
    tcase_add_test(tc, calendar_matches_gmtime);
    tcase_add_test(tc, parse_format_roundtrip_random);
    tcase_add_test(tc, every_single_digit_change_fails);
    tcase_add_test(tc, adjacent_transpositions);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, rfc3339);
    suite_add_tcase(s, tc);

    TCase *tg = tcase_create("generator");
    tcase_set_timeout(tg, 60);
    tcase_add_test(tg, gen_200k_unique_simulated_second);
    tcase_add_test(tg, gen_jittery_clock_never_reissues);
    tcase_add_test(tg, gen_restart_in_the_same_second_never_reissues);
    tcase_add_test(tg, gen_clock_step_back_10s);
    tcase_add_test(tg, gen_exhaustion_then_resume);
    tcase_add_test(tg, gen_bad_arguments);
    suite_add_tcase(s, tg);
    return s;
}

int main(void)
{
    return ut_run(ono_suite());
}
