/*
 * mirror/relay.h — the outbox relay inside skipstored (spec §7): per group,
 * publishes outbox rows to Kafka (idempotent producer, acks=all, key =
 * merchant_id) and deletes them only after their delivery report.
 */
#ifndef RELAY_H
#define RELAY_H

#include "config/cref.h"
#include "selector/grt.h"

typedef struct relay relay;

/* Start relay threads for the configured groups. NULL-safe stop. */
relay *relay_start(cref *cfg, grt *g);
/* Start threads for groups added by a reload. */
void relay_sync(relay *r);
void relay_stop(relay *r);

#endif
