/*
 * selector/grt.h — per-group runtime state that survives reloads: probe
 * results, failure counters and fences, one slot per group id (1..99). The
 * group's pools are in the runtime snapshot (runtime/runtime.h); the write
 * freeze of a shrink is migrate/freeze.h.
 *
 * Counters (spec §6): a failure is counted locally at once and queued for
 * Redis; the refresher thread (grt_refresh, every counter_refresh_ms) sends
 * queued increments (INCRBY + EXPIRE on sel_fail_key: skip:fail:<g>:<primary>:…) and reads
 * every group's shared count and fence. While Redis is down each daemon uses
 * its local counts and says so (grt_counters_local()). The request path does
 * no I/O here: it reads the cached values.
 *
 * Thread-safety: all functions may be called from any thread.
 */
#ifndef GRT_H
#define GRT_H

#include <stdbool.h>
#include <stdint.h>
#include "config/conf.h"
#include "dal/dal.h"
#include "kv/kv.h"
#include "runtime/runtime.h"
#include "selector/sel.h"

typedef struct grt grt;

typedef struct {
    int64_t at_wall_ms;   /* 0 = never */
    int64_t at_mono_ms;
    bool ok;
    int ms;               /* duration */
    char error[160];
} grt_probe;

grt *grt_create(void);
void grt_destroy(grt *g);

/* Fill views for every group of r's config (in config order): its state,
 * weight, counts, fence, probe, and whether its pool is at its in-flight
 * limit. Returns n. No I/O. */
int grt_views(grt *g, const rt *r, int64_t now_mono_ms, sel_view *out);

/* Record a failure of group id (probe failure, failed insert, timeout). */
void grt_record_failure(grt *g, int id, int window_s);
/* Forget group id's failures of this window (local, shared cache, pending):
 * its primary changed (a failover), the failures were the old server's. */
void grt_reset_failures(grt *g, int id);
int64_t grt_failures(grt *g, int id);
bool grt_counters_local(grt *g);  /* true while Redis is unreachable */

/* Probe results. */
void grt_probe_begin(grt *g, int id, int64_t now_mono_ms);
void grt_probe_end(grt *g, int id, bool ok, int ms, const char *err);
grt_probe grt_probe_get(grt *g, int id);

/* Runtime fence (shared by all daemons through Redis key skip:fence:<g>).
 * Returns SK_OK; if Redis is down the fence applies to this daemon only
 * and is published when Redis answers again. */
sk_status grt_set_fence(grt *g, kv *k, int id, bool fenced);
bool grt_fenced(grt *g, int id);

/* Refresher step: flush queued increments, read counts and fences, check
 * Redis. A fence set through the API while this runs is never undone by
 * the refresher's older read. */
void grt_refresh(grt *g, kv *k, const conf *c, int64_t now_wall_ms);

/* Outbox backlog per group (written by the relay only). */
void grt_set_outbox_pending(grt *g, int id, int64_t n);
int64_t grt_outbox_pending(grt *g, int id);

#endif
