/*
 * tests/unit/test_civil.c — the civil-time core (common/civil.c): calendar
 * arithmetic and the one time formatter behind dal_fmt_dt, ord_fmt_time,
 * ono_rfc3339 and the log lines.
 *
 * The expected values come from outside the module: libc's gmtime_r/timegm
 * and hand-written dates.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "common/civil.h"


static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { return ut_rnd(&rng_state); }
static int64_t rnd_range(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

START_TEST(days_roundtrip)
{
    /* every day from 0000-03-01 to 9999-12-31: civil(days) -> days, and the
     * date advances by exactly one day each step */
    int64_t first = sk_days_from_civil(0, 3, 1), last = sk_days_from_civil(9999, 12, 31);
    int64_t py = 0;
    int pm = 2, pd = 29; /* year 0 is a leap year */
    for (int64_t z = first; z <= last; z++) {
        int64_t y;
        int m, d;
        sk_civil_from_days(z, &y, &m, &d);
        REQ(sk_days_from_civil(y, m, d) == z);
        if (d == 1) {
            REQ(pd == sk_days_in_month(py, pm));
            REQ(m == pm + 1 || (m == 1 && pm == 12 && y == py + 1));
        } else {
            REQ(y == py && m == pm && d == pd + 1);
        }
        py = y, pm = m, pd = d;
    }
    ck_assert_int_eq(sk_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(sk_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(sk_days_in_month(2000, 2), 29);
    ck_assert_int_eq(sk_days_in_month(2100, 2), 28);
    ck_assert_int_eq(sk_days_in_month(2024, 2), 29);
    ck_assert_int_eq(sk_days_in_month(2025, 2), 28);
    ck_assert_int_eq(sk_days_in_month(2025, 13), 0);
    ck_assert_int_eq(sk_days_in_month(2025, 0), 0);
}
END_TEST

/* The formatter against gmtime_r, both shapes, random ms over 1901..9999
 * (time_t is 64-bit here) and the edges. */
START_TEST(fmt_matches_gmtime)
{
    const int64_t lo = -2145916800000LL /* 1902-01-01 */, hi = SK_TIME_MS_MAX;
    for (int k = 0; k < 200000; k++) {
        int64_t ms = rnd_range(lo, hi);
        if (k < 6)
            ms = (int64_t[]){0, -1, 951782400000LL /* 2000-02-29 */, 4107542400123LL /* 2100-03-01 */,
                             SK_TIME_MS_MAX, 1795654612123LL}[k];
        int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);   /* floor */
        int frac = (int)(ms - s * 1000);
        time_t tt = (time_t)s;
        struct tm tm;
        REQ(gmtime_r(&tt, &tm) != NULL);
        char want[96], got[SK_TIME_BUF];
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        REQ(sk_fmt_time(ms, 'T', true, got) == 24);
        if (strcmp(got, want) != 0)
            ck_abort_msg("ms=%lld got %s want %s", (long long)ms, got, want);
        want[10] = ' ';
        want[23] = '\0';
        REQ(sk_fmt_time(ms, ' ', false, got) == 23);
        if (strcmp(got, want) != 0)
            ck_abort_msg("ms=%lld got %s want %s", (long long)ms, got, want);
        sk_civil c;
        sk_civil_from_ms(ms, &c);
        REQ(sk_civil_to_ms(&c) == ms);
    }
}
END_TEST

START_TEST(fmt_edges)
{
    char t[SK_TIME_BUF];
    sk_fmt_time(0, ' ', false, t);
    ck_assert_str_eq(t, "1970-01-01 00:00:00.000");
    sk_fmt_time(-1, 'T', true, t);
    ck_assert_str_eq(t, "1969-12-31T23:59:59.999Z");
    sk_fmt_time(SK_TIME_MS_MIN, 'T', true, t);
    ck_assert_str_eq(t, "0000-01-01T00:00:00.000Z");
    sk_fmt_time(SK_TIME_MS_MIN - 1, 'T', true, t);     /* clamped */
    ck_assert_str_eq(t, "0000-01-01T00:00:00.000Z");
    sk_fmt_time(INT64_MIN, ' ', false, t);
    ck_assert_str_eq(t, "0000-01-01 00:00:00.000");
    sk_fmt_time(SK_TIME_MS_MAX + 1, 'T', true, t);
    ck_assert_str_eq(t, "9999-12-31T23:59:59.999Z");
    sk_fmt_time(INT64_MAX, ' ', false, t);
    ck_assert_str_eq(t, "9999-12-31 23:59:59.999");
    sk_civil c = {.year = 2026, .month = 11, .day = 26, .hour = 0, .min = 56, .sec = 52, .ms = 7};
    sk_fmt_time(sk_civil_to_ms(&c), 'T', true, t);
    ck_assert_str_eq(t, "2026-11-26T00:56:52.007Z");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("civil");
    TCase *tc = tcase_create("civil");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, days_roundtrip);
    tcase_add_test(tc, fmt_matches_gmtime);
    tcase_add_test(tc, fmt_edges);
    suite_add_tcase(s, tc);
    return ut_run(s);
}
