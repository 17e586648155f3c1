/* kafka/kafka.h — librdkafka glue shared by the relay and the mirror. */
#ifndef MIRROR_KAFKA_H
#define MIRROR_KAFKA_H

#include <librdkafka/rdkafka.h>

/* Route librdkafka's own log lines into sk_log, one key=value line each
 * (syslog levels: <=3 error, 4 warn, 5-6 info, 7 debug). */
void mk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
