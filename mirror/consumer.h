/*
 * mirror/consumer.h — skipstore-mirror's consumer loop: Kafka consumer group
 * -> version-guarded upsert into skipstore_merchant.merchant_orders.
 * See mirror/consumer.c and docs/mirror.md.
 */
#ifndef MIRROR_CONSUMER_H
#define MIRROR_CONSUMER_H

#include <signal.h>
#include <stdbool.h>
#include "config/conf.h"

/* Run until *stop becomes non-zero. Returns a process exit code. */
int mirror_run(const conf *c, volatile sig_atomic_t *stop);

/* True once the consumer group has given this process an assignment (even
 * an empty one): the subscription is live. Any thread (mirror/ready.c). */
bool mirror_assigned(void);

#endif
