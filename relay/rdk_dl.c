/* relay/rdk_dl.c — see rdk_dl.h. */
#include "relay/rdk_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include "common/sk.h"

static rdk_api api;
static const rdk_api *loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        sk_error("event=rdkafka_load_failed err=\"%s\"", dlerror());
        return;
    }
    struct { const char *sym; void **slot; } t[] = {
        {"rd_kafka_conf_new", (void **)&api.conf_new},
        {"rd_kafka_conf_set", (void **)&api.conf_set},
        {"rd_kafka_conf_get", (void **)&api.conf_get},
        {"rd_kafka_conf_set_opaque", (void **)&api.conf_set_opaque},
        {"rd_kafka_conf_set_log_cb", (void **)&api.conf_set_log_cb},
        {"rd_kafka_conf_set_dr_msg_cb", (void **)&api.conf_set_dr_msg_cb},
        {"rd_kafka_conf_destroy", (void **)&api.conf_destroy},
        {"rd_kafka_new", (void **)&api.kafka_new},
        {"rd_kafka_destroy", (void **)&api.destroy},
        {"rd_kafka_poll", (void **)&api.poll},
        {"rd_kafka_flush", (void **)&api.flush},
        {"rd_kafka_purge", (void **)&api.purge},
        {"rd_kafka_fatal_error", (void **)&api.fatal_error},
        {"rd_kafka_err2str", (void **)&api.err2str},
        {"rd_kafka_name", (void **)&api.name},
        {"rd_kafka_produceva", (void **)&api.produceva},
        {"rd_kafka_error_code", (void **)&api.error_code},
        {"rd_kafka_error_destroy", (void **)&api.error_destroy},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        void *p = dlsym(h, t[i].sym);
        if (p == NULL) {
            sk_error("event=rdkafka_load_failed missing=%s", t[i].sym);
            return;
        }
        memcpy(t[i].slot, &p, sizeof p); /* object pointer -> function pointer, as POSIX allows */
    }
    loaded = &api;
}

const rdk_api *rdk_load(void)
{
    pthread_once(&once, load);
    return loaded;
}
