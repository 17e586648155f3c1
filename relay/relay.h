/*
 * relay/relay.h — the outbox relay inside skipstored (spec §7): per group,
 * publishes outbox rows to Kafka (idempotent producer, acks=all, key =
 * merchant_id) and deletes them only after their delivery report.
 */
#ifndef RELAY_H
#define RELAY_H

#include "runtime/runtime.h"
#include "selector/grt.h"

typedef struct relay relay;

/*
 * Check that c's Kafka producer settings (kafka.brokers, kafka.producer) make
 * a producer: builds one and destroys it at once (no message is sent). 0, or
 * -1 with "FILE:LINE: kafka.producer.NAME: reason" (or "FILE: kafka.producer:
 * reason") in err. skipstored calls it at start (a bad property is a start
 * error) and on reload (a bad property keeps the old config). 0 when
 * librdkafka cannot be loaded (the relay is off; relay_start logs it).
 */
int relay_check_conf(const conf *c, char *err, size_t cap) SK_WUR;

/* Start relay threads for the configured groups. NULL-safe stop. */
relay *relay_start(rtref *rt, grt *g);
/* Start threads for groups added by a reload. */
void relay_sync(relay *r);
void relay_stop(relay *r);

#endif
