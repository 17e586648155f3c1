/* mirror/ready.c — see ready.h. */
#include "mirror/ready.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "common/sdnotify.h"
#include "dal/dal.h"
#include "mirror/consumer.h"

static pthread_t g_th;
static bool g_started;
static const conf *g_conf;
static volatile sig_atomic_t *g_stop;

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One connection attempt to the merchant store, closed at once. */
static bool merchant_reachable(const conf *c, char *err, size_t cap)
{
    dal_pool_opts o = {
        .addr = c->merchant_addr, .user = c->merchant_user, .password = c->merchant_password,
        .db = c->merchant_db_name, .connect_timeout_ms = c->db_connect_timeout_ms,
        .read_timeout_ms = c->db_read_timeout_ms, .write_timeout_ms = c->db_write_timeout_ms,
        .size = 1, .max_inflight = 1,
    };
    MYSQL *my = dal_connect(&o, err, cap);
    if (my == NULL)
        return false;
    mysql_close(my);
    return true;
}

static void *run(void *arg)
{
    (void)arg;
    mysql_thread_init();
    bool merchant_ok = false;
    int fails = 0;
    bool said_assign = false; /* STATUS= for the assignment wait, sent once */
    while (!*g_stop) {
        char err[256], status[320];
        if (!merchant_ok) {
            merchant_ok = merchant_reachable(g_conf, err, sizeof err);
            if (!merchant_ok && fails++ % 30 == 0) { /* log and show it every 30 s */
                sk_warn("event=mirror_not_ready reason=merchant_db_unreachable err=\"%s\"", err);
                snprintf(status, sizeof status, "starting: merchant store unreachable: %s", err);
                (void)sdn_status(status);
            }
        }
        if (merchant_ok && mirror_assigned()) {
            snprintf(status, sizeof status, "consuming %s as %s into %s", g_conf->kafka_topic,
                     g_conf->kafka_group, g_conf->merchant_addr);
            if (sdn_ready(status) > 0)
                sk_info("event=sd_notify state=READY");
            break;
        }
        if (merchant_ok && !said_assign) {
            said_assign = true;
            (void)sdn_status("starting: waiting for the consumer group's assignment");
        }
        /* 1 s between connection attempts, 100 ms while waiting for the assignment */
        for (int waited = 0; waited < (merchant_ok ? 100 : 1000) && !*g_stop; waited += 50)
            nap(50);
    }
    while (!*g_stop)
        nap(100);
    (void)sdn_stopping();
    mysql_thread_end();
    return NULL;
}

int mready_start(const conf *c, volatile sig_atomic_t *stop)
{
    g_conf = c;
    g_stop = stop;
    if (pthread_create(&g_th, NULL, run, NULL) != 0)
        return -1;
    g_started = true;
    return 0;
}

void mready_join(void)
{
    if (g_started)
        pthread_join(g_th, NULL);
    g_started = false;
}
