/*
 * relay/rdk_dl.h — librdkafka loaded at run time (dlopen) for the relay in
 * skipstored.
 *
 * Why: librdkafka has ~15 KiB of static thread-local storage. Linked
 * normally, every thread of the process carries it — and skipstored runs one
 * thread per HTTP connection, so 1,000 keep-alive connections would pay
 * ~15 MB for a library only the relay threads use. Loaded with dlopen its
 * TLS is dynamic: allocated only in threads that touch it (librdkafka's own
 * and the relay's). skipstored is linked with --as-needed so librdkafka is
 * not a DT_NEEDED of the daemon (skipstore-mirror links it normally).
 *
 * Types and macros still come from <librdkafka/rdkafka.h>.
 */
#ifndef RDK_DL_H
#define RDK_DL_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

typedef struct {
    rd_kafka_conf_t *(*conf_new)(void);
    rd_kafka_conf_res_t (*conf_set)(rd_kafka_conf_t *, const char *, const char *, char *, size_t);
    rd_kafka_conf_res_t (*conf_get)(const rd_kafka_conf_t *, const char *, char *, size_t *);
    void (*conf_set_opaque)(rd_kafka_conf_t *, void *);
    void (*conf_set_log_cb)(rd_kafka_conf_t *, void (*)(const rd_kafka_t *, int, const char *, const char *));
    void (*conf_set_dr_msg_cb)(rd_kafka_conf_t *, void (*)(rd_kafka_t *, const rd_kafka_message_t *, void *));
    void (*conf_destroy)(rd_kafka_conf_t *);
    rd_kafka_t *(*kafka_new)(rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);
    void (*destroy)(rd_kafka_t *);
    int (*poll)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*flush)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*purge)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*fatal_error)(rd_kafka_t *, char *, size_t);
    const char *(*err2str)(rd_kafka_resp_err_t);
    const char *(*name)(const rd_kafka_t *);
    rd_kafka_error_t *(*produceva)(rd_kafka_t *, const rd_kafka_vu_t *, size_t);
    rd_kafka_resp_err_t (*error_code)(const rd_kafka_error_t *);
    void (*error_destroy)(rd_kafka_error_t *);
} rdk_api;

/* Load librdkafka.so.1 once (thread-safe). NULL if it cannot be loaded;
 * the reason is logged. */
const rdk_api *rdk_load(void);

#endif
