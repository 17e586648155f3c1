/* selector/sel.c — pure group selection; see sel.h. */
#include "selector/sel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

group_state sel_state(const sel_view *v)
{
    switch (v->conf_state) {
    case GROUP_RETIRED:
    case GROUP_DRAINING:
    case GROUP_FENCED:
        return v->conf_state;
    default:
        break;
    }
    if (v->fenced)
        return GROUP_FENCED;
    if (v->failures >= v->threshold)
        return GROUP_SKIPPED;
    return GROUP_ACTIVE;
}

sel_probe sel_probe_class(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms)
{
    if (v->probe_at_ms == 0 || now_ms - v->probe_at_ms > fresh_ms)
        return SEL_PROBE_STALE;
    if (!v->probe_ok)
        return SEL_PROBE_FRESH_FAIL;
    if (v->probe_inflight_since != 0 && now_ms - v->probe_inflight_since > slow_ms)
        return SEL_PROBE_STALE;
    return SEL_PROBE_FRESH_OK;
}

const char *sel_skip_reason(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms)
{
    switch (sel_state(v)) {
    case GROUP_RETIRED: return "retired";
    case GROUP_DRAINING: return "draining";
    case GROUP_FENCED: return "fenced";
    case GROUP_SKIPPED: return "skipped";
    default: break;
    }
    if (v->weight <= 0)
        return "weight_zero";
    if (v->overloaded)
        return "overloaded";
    if (sel_probe_class(v, now_ms, fresh_ms, slow_ms) == SEL_PROBE_FRESH_FAIL)
        return "probe_failed";
    return NULL;
}

static bool eligible(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms, sel_probe want)
{
    if (v->excluded || sel_skip_reason(v, now_ms, fresh_ms, slow_ms) != NULL)
        return false;
    return sel_probe_class(v, now_ms, fresh_ms, slow_ms) == want;
}

/* Last resort (payment first): a group SKIPPED only by its failure counter
 * whose probe is fresh and OK again — it has healed but its window has not
 * rolled over yet. Used only when no ACTIVE group can take the create. */
static bool healed_skipped(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms)
{
    return !v->excluded && !v->overloaded && v->weight > 0 && sel_state(v) == GROUP_SKIPPED &&
           sel_probe_class(v, now_ms, fresh_ms, slow_ms) == SEL_PROBE_FRESH_OK;
}

static bool in_tier(const sel_view *v, int t, int64_t now_ms, int fresh_ms, int slow_ms)
{
    switch (t) {
    case 0: return eligible(v, now_ms, fresh_ms, slow_ms, SEL_PROBE_FRESH_OK);
    case 1: return eligible(v, now_ms, fresh_ms, slow_ms, SEL_PROBE_STALE);
    default: return healed_skipped(v, now_ms, fresh_ms, slow_ms);
    }
}

bool sel_can_take(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms)
{
    if (v->weight <= 0)
        return false;
    for (int t = 0; t < 3; t++)
        if (in_tier(v, t, now_ms, fresh_ms, slow_ms))
            return true;
    return false;
}

/* Weighted rendezvous score of group id for key: w / -ln(u), u uniform in
 * (0,1) from a hash of (key, id). The highest score wins; over random keys
 * each group wins with probability weight / total weight. */
static double score(uint64_t key, int id, int weight)
{
    uint64_t h = key ^ ((uint64_t)id * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
    return (double)weight / -log(u);
}

int sel_pick(const sel_view *v, int n, int64_t now_ms, int fresh_ms, int slow_ms, uint64_t key, bool *needs_probe)
{
    for (int t = 0; t < 3; t++) {
        int best = -1;
        double best_score = 0;
        for (int i = 0; i < n; i++) {
            if (!in_tier(&v[i], t, now_ms, fresh_ms, slow_ms) || v[i].weight <= 0)
                continue;
            double sc = score(key, v[i].id, v[i].weight);
            if (best < 0 || sc > best_score) {
                best = i;
                best_score = sc;
            }
        }
        if (best >= 0) {
            *needs_probe = t == 1;
            return best;
        }
    }
    *needs_probe = false;
    return -1;
}

int64_t sel_window_index(int64_t now_s, int window_s)
{
    return window_s > 0 ? now_s / window_s : 0;
}

uint64_t sel_hash(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int sel_fail_key(char *out, size_t cap, int group, const char *primary, int window_s, int64_t w)
{
    const char *p = primary ? primary : "";
    return snprintf(out, cap, "skip:fail:%d:%016llx:%d:%lld", group, (unsigned long long)sel_hash(p, strlen(p), 0),
                    window_s, (long long)w);
}
