/* bench/hist.c — log-linear latency histogram; see hist.h. */
#include "bench/hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
}

int hist_index(int64_t v)
{
    if (v < 0)
        v = 0;
    if (v > HIST_MAX_VALUE)
        v = HIST_MAX_VALUE;
    if (v < 2 * HIST_SUB)
        return (int)v;
    int k = 63 - __builtin_clzll((unsigned long long)v); /* >= HIST_SUB_BITS + 1 */
    int shift = k - HIST_SUB_BITS;
    return 2 * HIST_SUB + (k - HIST_SUB_BITS - 1) * HIST_SUB + (int)((v >> shift) - HIST_SUB);
}

void hist_bucket_range(int idx, int64_t *lo, int64_t *hi)
{
    if (idx < 2 * HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    int r = idx - 2 * HIST_SUB;
    int k = r / HIST_SUB + HIST_SUB_BITS + 1;
    int shift = k - HIST_SUB_BITS;
    int64_t sub = r % HIST_SUB + HIST_SUB;
    *lo = sub << shift;
    *hi = ((sub + 1) << shift) - 1;
}

void hist_record_n(hist *h, int64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v < 0)
        v = 0;
    h->counts[hist_index(v)] += n;
    if (h->total == 0 || v < h->min)
        h->min = v;
    if (h->total == 0 || v > h->max)
        h->max = v;
    h->total += n;
    h->sum += (double)v * (double)n;
}

void hist_record(hist *h, int64_t v)
{
    hist_record_n(h, v, 1);
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->total == 0)
        return;
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->total == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->sum += src->sum;
}

int64_t hist_quantile(const hist *h, double q)
{
    if (h->total == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    double r = q * (double)h->total;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t lo, hi;
            hist_bucket_range(i, &lo, &hi);
            int64_t v = lo + (hi - lo) / 2;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
