/*
 * mirror/ready.h — skipstore-mirror's readiness as the service manager sees
 * it (systemd Type=notify, packaging/systemd/skipstore-mirror.service;
 * issue 14).
 *
 * A small thread started before mirror_run() sends READY=1 once both hold:
 *   - a connection to the merchant store has succeeded (tried every second
 *     with the config's timeouts; STATUS= says why it is not ready yet);
 *   - the consumer group has given this mirror its assignment
 *     (mirror_assigned(), set by the rebalance callback; an empty
 *     assignment counts: the subscription is live).
 * It then waits for *stop and sends STOPPING=1 at once, while mirror_run()
 * drains and commits. It never touches the consumer. All no-ops without
 * NOTIFY_SOCKET except the one-off connection check (logged).
 */
#ifndef MIRROR_READY_H
#define MIRROR_READY_H

#include <signal.h>
#include "config/conf.h"

/* c and stop must outlive mready_join(). Returns 0, -1 if no thread. */
int mready_start(const conf *c, volatile sig_atomic_t *stop);
void mready_join(void);

#endif
