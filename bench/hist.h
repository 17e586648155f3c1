/*
 * bench/hist.h — an HDR-style log-linear latency histogram (pure, fixed size).
 *
 * Values are non-negative integers (skipbench records microseconds). Values
 * below 256 are counted exactly; above, each power-of-two range [2^k, 2^k+1)
 * is split into 128 equal sub-buckets, so a bucket is at most 1/128 of its
 * lowest value wide and a reported percentile (the bucket midpoint, clamped to
 * the exact min/max) is within 0.4% of the true sample value. Values above
 * HIST_MAX_VALUE are counted in the top bucket (and still raise max).
 * Memory is fixed (~31 KiB), whatever the number of samples.
 *
 * Not thread-safe: use one per thread and hist_merge, or guard it.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7                       /* 128 sub-buckets per octave */
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_TOP_BIT 36                       /* 2^36 us ~ 19 hours */
#define HIST_MAX_VALUE ((INT64_C(1) << HIST_TOP_BIT) - 1)
#define HIST_BUCKETS (2 * HIST_SUB + (HIST_TOP_BIT - HIST_SUB_BITS - 1) * HIST_SUB)

typedef struct {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    int64_t min, max;       /* exact; valid when total > 0 */
    double sum;             /* for the mean */
} hist;

void hist_init(hist *h);
void hist_record(hist *h, int64_t v);          /* v < 0 is recorded as 0 */
void hist_record_n(hist *h, int64_t v, uint64_t n);
void hist_merge(hist *dst, const hist *src);

/* Nearest-rank percentile: the value at rank ceil(q * total), q in [0,1];
 * q = 1 gives the exact max, q = 0 the exact min. 0 when empty. */
int64_t hist_quantile(const hist *h, double q);
double hist_mean(const hist *h);

/* Bucket index of v and the [lo, hi] range of values it holds (exposed for tests). */
int hist_index(int64_t v);
void hist_bucket_range(int idx, int64_t *lo, int64_t *hi);

#endif
