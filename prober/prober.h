/*
 * prober/prober.h — background writability probes (spec §6).
 *
 * One thread per group (so a hanging primary delays only its own probes):
 * every probe_interval_ms it runs an UPDATE on the heartbeat row over its own
 * connection with the probe timeout. A SELECT cannot see a read-only primary;
 * the UPDATE can. A failed probe counts a failure, invalidates the group's
 * idle pool connections and is published through grt_probe_end().
 *
 * probe_inline() is the same probe on a pooled connection, for a create that
 * found the background result stale.
 */
#ifndef PROBER_H
#define PROBER_H

#include "runtime/runtime.h"
#include "selector/grt.h"

typedef struct prober prober;

prober *prober_start(rtref *rt, grt *g);
/* Start threads for groups that appeared in a reloaded config. */
void prober_sync(prober *p);
void prober_stop(prober *p);

/* Inline probe on a pooled connection; records the result like the
 * background prober. Returns true if the group is writable. */
bool probe_inline(grt *g, const rt *r, int id, MYSQL *my);

#endif
