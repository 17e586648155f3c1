/* kafka/kafka.c — librdkafka glue shared by the relay and the mirror. */
#include "kafka/kafka.h"

#include "common/sk.h"

void mk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *name = rk ? rd_kafka_name(rk) : "-";
    if (level <= 3)
        sk_error("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else if (level == 4)
        sk_warn("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else if (level <= 6)
        sk_info("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
    else
        sk_debug("event=kafka_log client=%s fac=%s msg=\"%s\"", name, fac, buf);
}
