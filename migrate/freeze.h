/*
 * migrate/freeze.h — the daemon's side of a shrink's write freeze (spec §8,
 * `skipctl group retire`, docs/shrink.md).
 *
 * While Redis key skip:freeze:<g> exists, updates of group g's orders wait
 * instead of writing. Each daemon acknowledges the freeze
 * (skip:freeze_ack:<g>:<node>, short TTL, renewed) once it has seen it and
 * has no update in flight on the group, so the migration knows no write can
 * land behind its final catch-up.
 *
 * Protocol (Dekker, seq_cst): a writer calls frz_enter() — which counts
 * itself in flight, then checks the flag — and frz_exit() when done; the
 * refresher (frz_refresh) sets the flag, then checks the count.
 *
 * Thread-safety: every function from any thread.
 */
#ifndef MIGRATE_FREEZE_H
#define MIGRATE_FREEZE_H

#include <stdbool.h>
#include "config/conf.h"
#include "kv/kv.h"

typedef struct frz frz;

frz *frz_create(void);
void frz_destroy(frz *f);

bool frz_enter(frz *f, int id);   /* false: frozen, nothing counted */
void frz_exit(frz *f, int id);
bool frz_frozen(frz *f, int id);

/* Read every group's freeze flag from Redis and acknowledge the quiet
 * ones as node c->node_id (value token). false when Redis failed (the
 * flags keep their last values). */
bool frz_refresh(frz *f, kv *k, const conf *c, const char *token);

#endif
