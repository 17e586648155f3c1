/* prober/prober.c — see prober.h. */
#include "prober/prober.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    prober *p;
    int id;
    pthread_t th;
    bool started;
} pthr;

struct prober {
    rtref *rt;
    grt *g;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthr t[CONF_MAX_GROUPS + 1];
};

/* Publish a probe result; a failure counts against the group and drops
 * its idle pooled connections (they are probably dead too). */
static void record(grt *g, const rt *r, int id, sk_status st, int64_t t0, const char *err)
{
    int ms = (int)(sk_mono_ms() - t0);
    bool ok = st == SK_OK;
    grt_probe_end(g, id, ok, ms, ok ? NULL : err);
    if (!ok) {
        grt_record_failure(g, id, r->c->window_s);
        dal_pool *pool = rt_primary(r, id);
        if (pool)
            dal_pool_invalidate(pool);
    }
}

bool probe_inline(grt *g, const rt *r, int id, MYSQL *my)
{
    int64_t t0 = sk_mono_ms();
    grt_probe_begin(g, id, t0);
    sk_status st = dal_probe(my, r->c->node_id);
    char err[160];
    snprintf(err, sizeof err, "%s: %s", sk_status_name(st), mysql_error(my));
    record(g, r, id, st, t0, err);
    return st == SK_OK;
}

static void *run(void *arg)
{
    pthr *t = arg;
    prober *p = t->p;
    MYSQL *my = NULL;
    char addr[600] = "";
    while (!atomic_load(&p->stop)) {
        rt *r = rt_get(p->rt);
        const conf *c = r->c;
        const conf_group *cg = conf_group_by_id(c, t->id);
        int interval = c->probe_interval_ms;
        if (cg == NULL || cg->primary == NULL || cg->state == GROUP_RETIRED) {
            rt_put(r);
            sk_sleep_ms(interval);
            continue;
        }
        /* a new primary address or new credentials (a reload): reconnect */
        char want[600];
        snprintf(want, sizeof want, "%s|%s|%s|%s|%d", cg->primary, c->db_user, c->db_password, c->db_name,
                 c->probe_timeout_ms);
        if (my != NULL && strcmp(addr, want) != 0) {
            mysql_close(my);
            my = NULL;
        }
        int64_t t0 = sk_mono_ms();
        grt_probe_begin(p->g, t->id, t0);
        sk_status st;
        char err[200] = "";
        if (my == NULL) {
            dal_pool_opts o = {
                .addr = cg->primary, .user = c->db_user, .password = c->db_password, .db = c->db_name,
                .connect_timeout_ms = c->probe_timeout_ms, .read_timeout_ms = c->probe_timeout_ms,
                .write_timeout_ms = c->probe_timeout_ms,
            };
            dal_tls_set(&o.tls, &c->db_tls);
            sk_strlcpy(addr, want, sizeof addr);
            my = dal_connect(&o, err, sizeof err);
        }
        if (my == NULL) {
            st = SK_ECONNECT;
        } else {
            st = dal_probe(my, c->node_id);
            if (st != SK_OK) {
                snprintf(err, sizeof err, "%s", mysql_error(my));
                if (st != SK_EREADONLY) { /* connection may be broken */
                    mysql_close(my);
                    my = NULL;
                }
            }
        }
        char msg[240];
        snprintf(msg, sizeof msg, "%s: %s", sk_status_name(st), err);
        record(p->g, r, t->id, st, t0, msg);
        if (st != SK_OK)
            sk_debug("event=probe_failed group=%d err=\"%s\"", t->id, msg);
        rt_put(r);
        int64_t spent = sk_mono_ms() - t0;
        if (spent < interval)
            sk_sleep_ms(interval - spent);
    }
    if (my)
        mysql_close(my);
    return NULL;
}

void prober_sync(prober *p)
{
    rt *r = rt_get(p->rt);
    const conf *c = r->c;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < c->ngroups; i++) {
        int id = c->groups[i].id;
        pthr *t = &p->t[id];
        if (t->started)
            continue;
        t->p = p;
        t->id = id;
        if (pthread_create(&t->th, NULL, run, t) == 0)
            t->started = true;
    }
    pthread_mutex_unlock(&p->mu);
    rt_put(r);
}

prober *prober_start(rtref *rt, grt *g)
{
    prober *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->rt = rt;
    p->g = g;
    pthread_mutex_init(&p->mu, NULL);
    prober_sync(p);
    return p;
}

void prober_stop(prober *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    for (int i = 0; i <= CONF_MAX_GROUPS; i++)
        if (p->t[i].started)
            pthread_join(p->t[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
