/*
 * mirror/consumer.h — skipstore-mirror's consumer loop: Kafka consumer group
 * -> version-guarded upsert into skipstore_merchant.merchant_orders.
 * See mirror/consumer_io.c and docs/mirror.md.
 */
#ifndef MIRROR_CONSUMER_H
#define MIRROR_CONSUMER_H

#include <signal.h>
#include "config/conf.h"

/* Run until *stop becomes non-zero. Returns a process exit code. */
int mirror_run(const conf *c, volatile sig_atomic_t *stop);

#endif
