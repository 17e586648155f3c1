/*
 * selector/sel.h — choosing a group for a new order (pure core) and the
 * per-group runtime it reads (failure counters, fences, probe results).
 *
 * Pure part (sel.c): given a snapshot of every group — configured
 * state, weight, runtime fence, failure count this window, last probe —
 * decide each group's effective state and pick one by weighted random.
 * No I/O, no clock: the caller passes now and a random number.
 *
 * Tiers: a create prefers groups whose last probe is fresh and OK; a group
 * with a stale probe (or a probe in flight for too long — a hanging server)
 * is only used when no fresh-OK group is left, and then after an inline
 * probe. A group whose fresh probe failed is never picked. Last of all, a
 * group SKIPPED by its counter but whose fresh probe is OK again (healed
 * before its window rolled over) is used rather than failing the payment.
 */
#ifndef SEL_H
#define SEL_H

#include <stdbool.h>
#include <stdint.h>
#include "config/conf.h"

typedef struct {
    int id;
    int weight;
    group_state conf_state;        /* ACTIVE, FENCED, DRAINING or RETIRED from config */
    bool fenced;                   /* runtime fence (API, shared via Redis) */
    int64_t failures;              /* failure count in the current window */
    int threshold;
    int64_t probe_at_ms;           /* monotonic ms of the last completed probe; 0 = never */
    bool probe_ok;
    int64_t probe_inflight_since;  /* monotonic ms a running probe started; 0 = none */
    bool excluded;                 /* already tried by this request */
    bool overloaded;               /* bulkhead full right now */
} sel_view;

/* Effective state: RETIRED > DRAINING > FENCED > SKIPPED (failures >= threshold) > ACTIVE. */
group_state sel_state(const sel_view *v);

typedef enum { SEL_PROBE_FRESH_OK, SEL_PROBE_STALE, SEL_PROBE_FRESH_FAIL } sel_probe;

/* Classify the probe: fresh = completed within fresh_ms; a probe running for
 * longer than slow_ms makes an OK result stale (the server may be hanging). */
sel_probe sel_probe_class(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms);

/* Why a group cannot take this create, or NULL if it can (metrics label). */
const char *sel_skip_reason(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms);

/* Whether sel_pick could choose this group now, in any tier (the last
 * resort included): what /readyz counts as a writable group. */
bool sel_can_take(const sel_view *v, int64_t now_ms, int fresh_ms, int slow_ms);

/*
 * Pick a group for a create among ACTIVE, non-excluded, non-overloaded
 * groups with weight > 0 in the best available tier, by weighted rendezvous
 * hashing on `key` (a hash of merchant_id + out_trade_no): over many orders
 * each group gets its weight's share (weighted random), and a retried create
 * with the same key lands on the same group while the group set is
 * unchanged — so the group's unique key catches the duplicate even when the
 * Redis idempotency claim is unavailable. Excluding the winner gives the
 * key's next choice. Returns an index into v, or -1 when none can take it.
 * *needs_probe is set when the pick comes from the stale tier.
 */
int sel_pick(const sel_view *v, int n, int64_t now_ms, int fresh_ms, int slow_ms, uint64_t key, bool *needs_probe);

/* Window arithmetic: index of the window containing now (epoch seconds). */
int64_t sel_window_index(int64_t now_s, int window_s);

/* FNV-1a 64 over bytes (sticky hashing). */
uint64_t sel_hash(const char *s, size_t n, uint64_t seed);

/* The shared failure counter of a group in window w, keyed by the group's
 * primary too (docs/skip-order.md): skip:fail:<g>:<hash of primary>:<window_s>:<w>.
 * After a failover every daemon counts the new server from zero. Returns
 * snprintf's result. */
int sel_fail_key(char *out, size_t cap, int group, const char *primary, int window_s, int64_t w);

#endif
