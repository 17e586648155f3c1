/*
 * mirror/main.c — skipstore-mirror: Kafka -> merchant store (spec §7).
 * Usage: skipstore-mirror --config FILE (the skipstored config: kafka.*,
 * merchant_db.*, redis.*, db timeouts). SIGTERM/SIGINT: finish the batch in
 * hand, commit, leave the group, exit. Signal handlers only set a flag.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/conf.h"
#include "dal/dal.h"
#include "mirror/consumer.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void set_log_level(const char *s)
{
    if (s == NULL) return;
    if (strcmp(s, "debug") == 0) sk_log_level = SK_LOG_DEBUG;
    else if (strcmp(s, "warn") == 0) sk_log_level = SK_LOG_WARN;
    else if (strcmp(s, "error") == 0) sk_log_level = SK_LOG_ERROR;
    else sk_log_level = SK_LOG_INFO;
}

int main(int argc, char **argv)
{
    const char *path = getenv("SKIP_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: skipstore-mirror --config FILE\n");
            return strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "usage: skipstore-mirror --config FILE\n");
        return 2;
    }
    char err[CONF_ERR_MAX];
    conf *c = conf_load(path, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (c->kafka_brokers == NULL || c->kafka_topic == NULL || c->kafka_group == NULL || c->merchant_addr == NULL) {
        fprintf(stderr, "%s: kafka.brokers, kafka.topic, kafka.consumer_group and merchant_db.addr are required\n", path);
        conf_free(c);
        return 1;
    }
    set_log_level(c->log_level);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    dal_library_init();
    int rc = mirror_run(c, &g_stop);
    conf_free(c);
    mysql_library_end();
    return rc;
}
