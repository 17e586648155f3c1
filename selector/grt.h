/*
 * selector/grt.h — per-group runtime: connection pools, probe results,
 * failure counters and fences. One slot per group id (1..99), created when a
 * group first appears in the config and kept across reloads (pools and
 * counters survive a SIGHUP; a changed primary address gets a fresh pool).
 *
 * Counters (spec §6): a failure is counted locally at once and queued for
 * Redis; the refresher thread (grt_refresh, every counter_refresh_ms) sends
 * queued increments (INCRBY + EXPIRE on skip:fail:<g>:<window>) and reads
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
#include "selector/sel.h"

typedef struct grt grt;

typedef struct {
    int64_t at_wall_ms;   /* 0 = never */
    int64_t at_mono_ms;
    bool ok;
    int ms;               /* duration */
    char error[160];
} grt_probe;

grt *grt_create(kv *k);
void grt_destroy(grt *g);

/* Make pools/slots for every group in c (call at start and after reload). */
void grt_apply_conf(grt *g, const conf *c);

/* Pools (NULL if the group has none: retired, or no replica). */
dal_pool *grt_primary(grt *g, int id);
dal_pool *grt_replica(grt *g, int id);

/* Fill views for every configured group (in config order). Returns n. */
int grt_views(grt *g, const conf *c, int64_t now_mono_ms, sel_view *out);

/* Record a failure of group id (probe failure, failed insert, timeout). */
void grt_record_failure(grt *g, int id, int window_s);
int64_t grt_failures(grt *g, int id);
bool grt_counters_local(grt *g);  /* true while Redis is unreachable */

/* Probe results. */
void grt_probe_begin(grt *g, int id, int64_t now_mono_ms);
void grt_probe_end(grt *g, int id, bool ok, int ms, const char *err);
grt_probe grt_probe_get(grt *g, int id);

/* Runtime fence (shared by all daemons through Redis key skip:fence:<g>).
 * Returns SK_OK; if Redis is down the fence applies to this daemon only. */
sk_status grt_set_fence(grt *g, int id, bool fenced);
bool grt_fenced(grt *g, int id);

/* Refresher step: flush queued increments, read counts and fences, check Redis. */
void grt_refresh(grt *g, const conf *c, int64_t now_wall_ms, const char *token);

/*
 * Write freeze (shrink, spec §8 step 4): while Redis key skip:freeze:<g>
 * exists, updates of the group's orders wait instead of writing. The
 * freeze is acknowledged per daemon (skip:freeze_ack:<g>:<node>) once this
 * daemon has seen it and has no update in flight on the group, so the
 * migration knows no write can land behind its final catch-up.
 * Protocol (Dekker, seq_cst): a writer calls grt_write_enter() — which
 * counts itself in flight, then checks the freeze — and grt_write_exit()
 * when done; the refresher sets the frozen flag, then checks the count.
 */
bool grt_write_enter(grt *g, int id);   /* false: frozen, nothing counted */
void grt_write_exit(grt *g, int id);
bool grt_frozen(grt *g, int id);

/* Outbox backlog per group (set by the relay/outbox watcher). */
void grt_set_outbox_pending(grt *g, int id, int64_t n);
int64_t grt_outbox_pending(grt *g, int id);

#endif
