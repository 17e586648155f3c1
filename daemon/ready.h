/*
 * daemon/ready.h — skipstored's readiness as the service manager sees it
 * (systemd Type=notify, packaging/systemd/skipstored.service; issue 14).
 *
 * READY=1 is sent once, from the main loop, when the daemon can do its job
 * with the knowledge it needs:
 *   - the HTTP listener is up (the caller only ticks once http_start worked);
 *   - Redis has been tried (the node-id lease at start-up, before this);
 *   - every group that has a primary and is not retired has a first probe
 *     result, ok or failed. A group that is down at boot therefore delays
 *     READY=1 by at most one probe timeout, and a daemon is never reported
 *     ready while it would still pick groups it knows nothing about.
 * Until then STATUS= names the group being waited for.
 *
 * Reload (SIGHUP): RELOADING=1 before, READY=1 + STATUS (ok / kept old
 * config) after, so `systemctl reload` waits for the outcome. Shutdown:
 * STOPPING=1 when the main loop leaves. All no-ops without NOTIFY_SOCKET.
 * Thread: main thread only.
 */
#ifndef DAEMON_READY_H
#define DAEMON_READY_H

#include <stdbool.h>
#include "config/conf.h"
#include "runtime/runtime.h"
#include "selector/grt.h"

/* Pure: id of the first group that must have a probe result before READY=1
 * and has none (probed(arg, id) == false); 0 when none is missing. */
int ready_pending(const conf *c, bool (*probed)(void *arg, int id), void *arg);

/* Main-loop tick: sends READY=1 the first time nothing is pending. Cheap. */
void ready_tick(rtref *ref, grt *g);

void ready_reload_begin(void);                    /* RELOADING=1 (if ready) */
void ready_reload_end(bool ok, const char *err);  /* READY=1 + STATUS (if ready) */
void ready_stopping(void);                        /* STOPPING=1 */

#endif
