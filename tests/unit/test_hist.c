/*
 * tests/unit/test_hist.c — the log-linear latency histogram (bench/hist.c).
 *
 * Expected percentiles are computed independently: the samples are also kept
 * in an array, sorted with qsort, and the nearest-rank value taken from it.
 * The histogram must agree within 1% relative error (its bound is ~0.4%).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/hist.h"

#define REQ(c) do { if (!(c)) ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); } while (0)

static uint64_t rs = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
    rs ^= rs >> 12;
    rs ^= rs << 25;
    rs ^= rs >> 27;
    return rs * 0x2545F4914F6CDD1DULL;
}
static double urand(void) { return (double)(rnd() >> 11) / (double)(1ULL << 53); }

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t exact_q(const int64_t *sorted, size_t n, double q)
{
    if (q <= 0) return sorted[0];
    if (q >= 1) return sorted[n - 1];
    double r = q * (double)n;
    size_t rank = (size_t)r;
    if ((double)rank < r) rank++;
    if (rank == 0) rank = 1;
    return sorted[rank - 1];
}

static void check_dist(int64_t *v, size_t n)
{
    hist *h = malloc(sizeof *h);
    hist_init(h);
    for (size_t i = 0; i < n; i++)
        hist_record(h, v[i]);
    qsort(v, n, sizeof *v, cmp64);
    static const double qs[] = {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        int64_t want = exact_q(v, n, qs[k]);
        int64_t got = hist_quantile(h, qs[k]);
        double err = want ? fabs((double)(got - want)) / (double)want : (double)llabs(got);
        if (err > 0.01)
            ck_abort_msg("q=%g want %lld got %lld (err %.4f)", qs[k], (long long)want, (long long)got, err);
    }
    ck_assert_int_eq(h->total, n);
    ck_assert_int_eq(h->max, v[n - 1]);
    ck_assert_int_eq(h->min, v[0]);
    free(h);
}

START_TEST(uniform)
{
    size_t n = 200000;
    int64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = 1000 + (int64_t)(rnd() % 99000);   /* 1..100 ms in us */
    check_dist(v, n);
    free(v);
}
END_TEST

START_TEST(exponential_long_tail)
{
    size_t n = 200000;
    int64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(-log(1.0 - urand()) * 5000.0) + 1;   /* mean 5 ms */
    check_dist(v, n);
    free(v);
}
END_TEST

START_TEST(lognormal_wide_range)
{
    size_t n = 100000;
    int64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        double z = sqrt(-2 * log(1 - urand())) * cos(2 * M_PI * urand());
        v[i] = (int64_t)exp(8.0 + 2.5 * z);   /* us .. many seconds */
    }
    check_dist(v, n);
    free(v);
}
END_TEST

START_TEST(small_values_exact)
{
    hist h;
    hist_init(&h);
    for (int i = 0; i < 256; i++)
        hist_record(&h, i);
    for (int i = 1; i <= 256; i++)
        ck_assert_int_eq(hist_quantile(&h, (double)i / 256.0), i - 1);
}
END_TEST

START_TEST(bimodal_p99)
{
    /* 98.9% at 2 ms, 1.1% at 900 ms: p99 must land in the slow mode */
    hist h;
    hist_init(&h);
    hist_record_n(&h, 2000, 989);
    hist_record_n(&h, 900000, 11);
    int64_t p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
    REQ(fabs((double)p50 - 2000) / 2000 < 0.01);
    REQ(fabs((double)p99 - 900000) / 900000 < 0.01);
    ck_assert_int_eq(hist_quantile(&h, 1.0), 900000);
}
END_TEST

START_TEST(bucket_error_bound)
{
    /* every bucket is at most 1/128 of its lowest value wide; indices are monotone */
    int prev = -1;
    for (int64_t v = 0; v < (INT64_C(1) << 35); v = v < 1024 ? v + 1 : v + v / 97 + 1) {
        int i = hist_index(v);
        REQ(i >= prev);
        REQ(i < HIST_BUCKETS);
        prev = i;
        int64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        REQ(lo <= v && v <= hi);
        REQ((double)(hi - lo) <= (double)lo / 128.0 + 1e-9 || lo == hi);
    }
    ck_assert_int_eq(hist_index(HIST_MAX_VALUE), HIST_BUCKETS - 1);
    ck_assert_int_eq(hist_index(INT64_MAX), HIST_BUCKETS - 1);
    ck_assert_int_eq(hist_index(-5), 0);
}
END_TEST

START_TEST(merge_equals_single)
{
    hist *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *all = calloc(1, sizeof *all);
    hist_init(a);
    hist_init(b);
    hist_init(all);
    for (int i = 0; i < 50000; i++) {
        int64_t v = (int64_t)(rnd() % 5000000);
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    ck_assert_int_eq(a->total, all->total);
    ck_assert_int_eq(a->max, all->max);
    ck_assert_int_eq(a->min, all->min);
    ck_assert(memcmp(a->counts, all->counts, sizeof a->counts) == 0);
    for (double q = 0; q <= 1.0; q += 0.05)
        ck_assert_int_eq(hist_quantile(a, q), hist_quantile(all, q));
    /* merging an empty histogram changes nothing; merging into an empty copies */
    {
        hist *e = calloc(1, sizeof *e);
        hist_init(e);
        hist_merge(a, e);
        ck_assert_int_eq(a->total, all->total);
        hist_merge(e, all);
        ck_assert_int_eq(e->min, all->min);
        ck_assert_int_eq(hist_quantile(e, 0.99), hist_quantile(all, 0.99));
        free(e);
    }
    free(a);
    free(b);
    free(all);
}
END_TEST

START_TEST(max_exact_and_empty)
{
    hist h;
    hist_init(&h);
    ck_assert_int_eq(hist_quantile(&h, 0.5), 0);
    ck_assert(hist_mean(&h) == 0);
    hist_record(&h, 123456789);   /* not on a bucket edge */
    hist_record(&h, 1000);
    ck_assert_int_eq(hist_quantile(&h, 1.0), 123456789);
    ck_assert_int_eq(h.max, 123456789);
    /* a single huge value beyond the range still reports its exact max */
    hist_record(&h, HIST_MAX_VALUE + 12345);
    ck_assert_int_eq(hist_quantile(&h, 1.0), HIST_MAX_VALUE + 12345);
    /* negative values count as zero */
    hist_record(&h, -7);
    ck_assert_int_eq(hist_quantile(&h, 0.0), 0);
    ck_assert(sizeof(hist) < 40 * 1024);
}
END_TEST

static Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, uniform);
    tcase_add_test(tc, exponential_long_tail);
    tcase_add_test(tc, lognormal_wide_range);
    tcase_add_test(tc, small_values_exact);
    tcase_add_test(tc, bimodal_p99);
    tcase_add_test(tc, bucket_error_bound);
    tcase_add_test(tc, merge_equals_single);
    tcase_add_test(tc, max_exact_and_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
