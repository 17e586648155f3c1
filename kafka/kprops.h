/*
 * kafka/kprops.h — librdkafka properties onto an rd_kafka_conf_t: skipstore's
 * own lists and the config's pass-through mappings (kafka.producer,
 * kafka.consumer), with errors that name the config line.
 *
 * References no librdkafka symbol: the setter is passed in, so the relay can
 * use the dlopen'ed table (relay/rdk_dl.h) and the mirror the linked library.
 * Types come from <librdkafka/rdkafka.h>.
 */
#ifndef KAFKA_KPROPS_H
#define KAFKA_KPROPS_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>
#include "config/conf.h"

typedef rd_kafka_conf_res_t (*kp_set_fn)(rd_kafka_conf_t *kc, const char *name, const char *value, char *errstr,
                                         size_t errstr_size);

typedef struct {
    const char *name;
    const char *value;
} kp_prop;

/* Set n properties in order. 0, or -1 with "NAME: <librdkafka's reason>" in
 * err (a bug in skipstore's own list, or an older librdkafka). */
int kp_apply_list(rd_kafka_conf_t *kc, kp_set_fn set, const kp_prop *p, size_t n, char *err, size_t cap) SK_WUR;

/*
 * Set every entry of m (the config's kafka.SECTION mapping) in file order,
 * values unchanged. 0, or -1 at the first property librdkafka refuses, with
 * "FILE:LINE: kafka.SECTION.NAME: <librdkafka's reason>" in err (e.g. `No
 * such configuration property: "linger.mz"`). `file` is the config's path.
 */
int kp_apply_map(rd_kafka_conf_t *kc, kp_set_fn set, const conf_strmap *m, const char *file, const char *section,
                 char *err, size_t cap) SK_WUR;

#endif
