/*
 * tests/unit/test_tz.c — common/tz.c against the C library's own reading of
 * the same zones (localtime_r with TZ set: fine here, this test is one
 * thread), over instants from 1970 to 2100 — past the last explicit
 * transition of every file, so the footer rules are checked too — and
 * across every DST transition of a few years; a footer-only ("slim") zone
 * built in memory; the built-in fixed offsets; local days across local
 * midnight; bad files.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/tz.h"

static const char *const zones[] = {
    "Asia/Shanghai", "America/New_York", "Europe/London", "Europe/Dublin", "Australia/Sydney",
    "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Chatham", "America/Santiago",
    "Africa/Casablanca", "Asia/Tehran", "UTC",
};

static long libc_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

START_TEST(matches_libc)
{
    const char *name = zones[_i];
    char err[256], path[300];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "test_tz: %s missing (tzdata not installed?): skipped\n", path);
        return;
    }
    tz_zone *z = tz_load(name, err, sizeof err);
    ck_assert_msg(z != NULL, "%s: %s", name, err);
    char tzv[128];
    snprintf(tzv, sizeof tzv, ":%s", name);
    set_tz(tzv);
    const int64_t lo = 0, hi = 4102444800LL; /* 1970 .. 2100 */
    for (int i = 0; i < 50000; i++) {
        int64_t t = lo + (int64_t)(next() % (uint64_t)(hi - lo));
        if (tz_offset(z, t) != libc_offset(t))   /* not ck_assert: Check logs every assertion to a file */
            ck_abort_msg("%s at %lld: %d vs libc %ld", name, (long long)t, tz_offset(z, t), libc_offset(t));
    }
    /* every hour of 2024 and 2077: catches each transition to the hour */
    static const int64_t years[] = {1704067200LL, 3376684800LL};
    for (int y = 0; y < 2; y++)
        for (int64_t t = years[y]; t < years[y] + 366 * 86400; t += 3600)
            for (int64_t d = -1; d <= 1; d++)
                if (tz_offset(z, t + d) != libc_offset(t + d))
                    ck_abort_msg("%s at %lld", name, (long long)(t + d));
    tz_free(z);
}
END_TEST

/* A "slim" TZif v2 file: no transitions, only the footer rule. */
static size_t slim(unsigned char *b, const char *rule)
{
    size_t n = 0;
    for (int part = 0; part < 2; part++) {
        memcpy(b + n, "TZif2", 5);
        memset(b + n + 5, 0, 39);
        b[n + 20 + 19] = 1;    /* typecnt = 1 */
        b[n + 20 + 23] = 4;    /* charcnt = 4 */
        n += 44;
        memset(b + n, 0, 6);   /* ttinfo: utoff 0, isdst 0, abbr 0 */
        n += 6;
        memcpy(b + n, "UTC", 4);
        n += 4;
    }
    n += (size_t)sprintf((char *)b + n, "\n%s\n", rule);
    return n;
}

START_TEST(footer_only_zone)
{
    static const char *const rules[] = {"EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3",
                                        "<-04>4<-03>,M9.1.6/24,M4.1.6/24", "AEST-10AEDT,M10.1.0,M4.1.0/3",
                                        "CST-8", "IST-1GMT0,M10.5.0,M3.5.0/1", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"};
    for (size_t k = 0; k < sizeof rules / sizeof rules[0]; k++) {
        unsigned char b[512];
        size_t n = slim(b, rules[k]);
        char err[256];
        tz_zone *z = tz_parse("slim", b, n, err, sizeof err);
        ck_assert_msg(z != NULL, "%s: %s", rules[k], err);
        set_tz(rules[k]);
        for (int i = 0; i < 10000; i++) {
            int64_t t = (int64_t)(next() % 4102444800ULL);
            if (tz_offset(z, t) != libc_offset(t))
                ck_abort_msg("%s at %lld: %d vs %ld", rules[k], (long long)t, tz_offset(z, t), libc_offset(t));
        }
        tz_free(z);
        z = tz_from_posix("posix", rules[k], err, sizeof err);
        ck_assert_msg(z != NULL, "%s", err);
        ck_assert_int_eq(tz_offset(z, 1719835200LL), libc_offset(1719835200LL)); /* 2024-07-01 12:00Z */
        tz_free(z);
    }
}
END_TEST

START_TEST(builtins_and_local_days)
{
    char err[256];
    tz_zone *z = tz_load("UTC+08:00", err, sizeof err);
    ck_assert_msg(z != NULL, "%s", err);
    ck_assert_int_eq(tz_offset(z, 0), 8 * 3600);
    /* 2026-03-01 15:59:59.999Z is 23:59:59.999 in +08:00; one ms later is the next local day */
    int64_t t = 1772380799999LL;
    ck_assert_int_eq(tz_local_day(z, t) + 1, tz_local_day(z, t + 1));
    ck_assert_int_eq(tz_local_day(z, t), tz_local_day(z, t - 86399999LL));  /* local 00:00:00.000 */
    ck_assert_int_ne(tz_local_day(z, t), tz_local_day(z, t - 86400000LL));
    tz_free(z);
    z = tz_load("UTC-05:30", err, sizeof err);
    ck_assert_int_eq(tz_offset(z, 12345), -(5 * 3600 + 1800));
    tz_free(z);
    z = tz_load("UTC", err, sizeof err);
    ck_assert_int_eq(tz_offset(z, 12345), 0);
    ck_assert_int_eq(tz_local_day(z, -1), -1);   /* 1969-12-31T23:59:59.999Z */
    ck_assert_int_eq(tz_local_day(z, 0), 0);
    tz_free(z);
    ck_assert_int_eq(tz_local_day(NULL, 86400000LL), 1);
    if (access("/usr/share/zoneinfo/Asia/Shanghai", R_OK) == 0) {
        z = tz_load("Asia/Shanghai", err, sizeof err);
        ck_assert_msg(z != NULL, "%s", err);
        ck_assert_str_eq(tz_name(z), "Asia/Shanghai");
        ck_assert_int_eq(tz_local_day(z, t) + 1, tz_local_day(z, t + 1));
        tz_free(z);
    }
}
END_TEST

START_TEST(bad_names_and_files)
{
    char err[256];
    const char *bad[] = {"", "../etc/passwd", "/etc/localtime", "Asia/../../x", "Asia//Shanghai", "a b",
                         "UTC+8", "UTC+25:00", "Nowhere/Atlantis"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tz_zone *z = tz_load(bad[i], err, sizeof err);
        ck_assert_msg(z == NULL, "'%s' accepted", bad[i]);
        ck_assert(err[0] != '\0');
    }
    unsigned char b[512];
    ck_assert_ptr_null(tz_parse("x", (const unsigned char *)"TZi", 3, err, sizeof err));
    ck_assert_ptr_null(tz_parse("x", (const unsigned char *)"NOPE0000000000000000000000000000000000000000", 44, err,
                                sizeof err));
    size_t n = slim(b, "EST5EDT,M3.2.0,M11.1.0");
    for (size_t cut = 0; cut < 98; cut += 7)
        ck_assert_msg(tz_parse("x", b, cut, err, sizeof err) == NULL, "truncated at %zu accepted", cut);
    n = slim(b, "EST5EDT,M13.2.0,M11.1.0");
    ck_assert_ptr_null(tz_parse("x", b, n, err, sizeof err));
    ck_assert(strstr(err, "footer") != NULL);
    n = slim(b, "EST5EDT,M3.2.0,M11.1.0");
    b[44 + 6 + 4 + 20 + 11] = 1;   /* second header: leapcnt = 1 */
    ck_assert_ptr_null(tz_parse("x", b, n, err, sizeof err));
    ck_assert_ptr_null(tz_from_posix("p", "E5", err, sizeof err));
    ck_assert_ptr_null(tz_from_posix("p", "EST5EDT,M3.2.0", err, sizeof err));
    ck_assert(tz_name_ok("America/Argentina/Buenos_Aires"));
    ck_assert(tz_name_ok("Etc/GMT+8"));
    ck_assert(!tz_name_ok("x/../y"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("tz");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, matches_libc, 0, (int)(sizeof zones / sizeof zones[0]));
    tcase_add_test(tc, footer_only_zone);
    tcase_add_test(tc, builtins_and_local_days);
    tcase_add_test(tc, bad_names_and_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
