/*
 * mirror/main.c — skipstore-mirror: Kafka -> merchant store (spec §7).
 * Usage: skipstore-mirror --config FILE (the skipstored config: kafka.*,
 * merchant_db.*, redis.*, db timeouts). SIGTERM/SIGINT: finish the batch in
 * hand, commit, leave the group, exit. SIGHUP: ignored (no reload). Signal
 * handlers only set a flag.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/help.h"
#include "config/conf.h"
#include "dal/dal.h"
#include "mirror/consumer.h"
#include "mirror/ready.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    const char *path = getenv("SKIP_CONFIG");
    /* issue 14: man-style --help (mirror/help.c); usage errors exit 2 */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return help_show(skipstore_mirror_help);
        else
            return help_usage(skipstore_mirror_help, "skipstore-mirror", "unknown option or missing value: '%s'",
                              argv[i]);
    }
    if (path == NULL)
        return help_usage(skipstore_mirror_help, "skipstore-mirror", "no --config FILE and no $SKIP_CONFIG");
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
    if (conf_event_key_check(c, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        conf_free(c);
        return 1;
    }
    sk_log_set_level_name(c->log_level);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN); /* issue 14: no reload; a stray HUP must not kill it */
    dal_library_init();
    (void)mready_start(c, &g_stop); /* issue 14: READY=1 / STOPPING=1 (mirror/ready.h) */
    int rc = mirror_run(c, &g_stop);
    g_stop = 1;    /* issue 14: mirror_run can return early (no consumer) */
    mready_join(); /* issue 14 */
    conf_free(c);
    mysql_library_end();
    return rc;
}
