/*
 * terminal/registry.h — a daemon's in-memory copy of the terminal registry
 * (spec §11): terminal_id -> {merchant, store, status, updated_at}.
 *
 * The request path only reads it (treg_get: a hash lookup under a read
 * lock, no I/O); the refresher (terminal/tsync.c) and the terminal API
 * write it. A row replaces the held entry only when its updated_ms is not
 * older, so a slow read of the merchant store can never undo a newer change
 * this daemon already applied. Bounded: at most `max` entries (terminals.max);
 * rows beyond that are refused and counted.
 *
 * Thread-safe: any number of readers, writers serialised (a writer-preferring
 * rwlock, so a steady stream of lookups cannot starve a block).
 */
#ifndef TREG_H
#define TREG_H

#include <stdbool.h>
#include <stdint.h>
#include "terminal/tpolicy.h"

typedef struct treg treg;

treg *treg_create(void);
void treg_destroy(treg *r);

/* Copy the entry for id into *out. false: unknown. */
bool treg_get(treg *r, const char *id, term_view *out);

/* Insert or update rows (each replaces the entry unless older). Returns
 * how many rows were refused because the registry holds max entries. */
int treg_upsert(treg *r, const term_view *rows, int n, int max);

/*
 * Replace the whole registry with rows (a full read). Entries this daemon
 * holds that are newer than the read are kept: an entry whose row in the
 * read is older, and an entry missing from the read whose updated_ms is
 * after every row of it. Returns rows refused over max.
 */
int treg_replace(treg *r, const term_view *rows, int n, int max);

int64_t treg_size(treg *r);

#endif
