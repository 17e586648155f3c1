/*
 * terminal/tsync.h — keeps a daemon's registry copy (terminal/registry.h)
 * in step with the merchant store (spec §11).
 *
 * Two threads:
 *   refresher   reads the terminals changed since the newest change it has
 *               seen (minus an overlap that covers transactions committing
 *               out of order) every terminals.refresh_ms, at once when
 *               kicked, and the whole table every terminals.full_refresh_s
 *               (and until the first read succeeds). A failed read keeps
 *               the copy in force: ACTIVE terminals keep taking payments,
 *               BLOCKED stay blocked, nothing new appears.
 *   subscriber  SUBSCRIBE skip:terminals on its own Redis connection (poll
 *               with a timeout, PING when quiet, reconnect with a bounded
 *               backoff) and kicks the refresher on every message.
 * Every change this daemon commits is applied to its own copy at once and
 * PUBLISHed (term_changed), so a block is in force on this daemon before
 * its answer and on the others within one notification, or at the latest
 * one refresh period later when Redis is out.
 */
#ifndef TSYNC_H
#define TSYNC_H

#include <stdbool.h>
#include "runtime/runtime.h"
#include "terminal/registry.h"

#define TERM_CHANNEL "skip:terminals"

typedef struct term term;

term *term_start(rtref *rt);
void term_stop(term *t);

/* The copy the request path reads. */
treg *term_registry(term *t);

/* Has the whole registry been read at least once? Until then cashier
 * creates are refused (there is no copy to trust). */
bool term_loaded(term *t);

/* A change committed by this daemon: into the copy now, then PUBLISH. */
void term_changed(term *t, const rt *r, const term_view *row);

/* Refresh now (a notification arrived). */
void term_kick(term *t);

#endif
