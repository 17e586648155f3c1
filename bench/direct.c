/* bench/direct.c — baseline operations straight to the group primaries; see direct.h. */
#include "bench/direct.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dal/dal.h"
#include "order/ono.h"
#include "order/order.h"

/* Node id stamped into baseline order numbers: distinct from the daemons'
 * so the two phases can never issue the same number. */
#define DIRECT_NODE 999

struct bench_direct {
    const conf *cfg;
    int ids[CONF_MAX_GROUPS];     /* groups taking creates */
    const char *primary[CONF_MAX_GROUPS];
    int n;
    int merchants;
    char run_id[24];
    _Atomic uint64_t seq;
    pthread_mutex_t gen_mu;
    ono_gen gen;
    lg_ops ops;
};

typedef struct {
    MYSQL *my[CONF_MAX_GROUPS];
} direct_ts;

static void *d_init(void *ctx, int tid)
{
    (void)ctx;
    (void)tid;
    return calloc(1, sizeof(direct_ts));
}

static void d_fini(void *ctx, void *p)
{
    bench_direct *d = ctx;
    direct_ts *ts = p;
    for (int i = 0; i < d->n; i++)
        if (ts->my[i])
            mysql_close(ts->my[i]);
    free(ts);
}

static void d_op(void *ctx, void *p, uint64_t *rng, lg_outcome *oc)
{
    bench_direct *d = ctx;
    direct_ts *ts = p;
    int k = (int)(lg_rand(rng) % (uint64_t)d->n);
    const conf *c = d->cfg;
    if (ts->my[k] == NULL) {
        dal_pool_opts po = {.addr = d->primary[k], .user = c->db_user, .password = c->db_password,
                            .db = c->db_name, .connect_timeout_ms = c->db_connect_timeout_ms,
                            .read_timeout_ms = c->db_read_timeout_ms, .write_timeout_ms = c->db_write_timeout_ms,
                            .size = 1, .max_inflight = 1,
                            .multi_statements = true};   /* dal_order_insert: one round trip */
        dal_tls_set(&po.tls, &c->db_tls);
        char err[256];
        ts->my[k] = dal_connect(&po, err, sizeof err);
        if (ts->my[k] == NULL) {
            sk_strlcpy(oc->code, "db_connect", sizeof oc->code);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&d->seq, 1);
    create_req r;
    memset(&r, 0, sizeof r);
    snprintf(r.merchant_id, sizeof r.merchant_id, "bench%d", (int)(lg_rand(rng) % (uint64_t)d->merchants));
    snprintf(r.out_trade_no, sizeof r.out_trade_no, "%s-%llu", d->run_id, (unsigned long long)n);
    r.amount = 100 + (int64_t)(n % 900);
    sk_strlcpy(r.currency, "CNY", sizeof r.currency);
    sk_strlcpy(r.channel, "bench", sizeof r.channel);
    r.expire_seconds = LG_EXPIRE_S; /* as the daemon's creates (bench/loadgen.h) */
    char no[ONO_LEN + 1];
    int rc;
    /* the same generator work the daemon does per create */
    for (;;) {
        int64_t now_ms = sk_now_ms();
        pthread_mutex_lock(&d->gen_mu);
        rc = ono_gen_next(&d->gen, now_ms / 1000, d->ids[k], no);
        pthread_mutex_unlock(&d->gen_mu);
        if (rc != 1)
            break;
        usleep(1000);
    }
    if (rc != 0) {
        sk_strlcpy(oc->code, "ono_gen", sizeof oc->code);
        return;
    }
    order_t o;
    ord_build(&r, no, d->ids[k], sk_now_ms(), &o);
    sk_status st = dal_order_insert(ts->my[k], &o);
    if (st == SK_OK) {
        oc->ok = true;
        oc->group = d->ids[k];
        sk_strlcpy(oc->order_no, no, sizeof oc->order_no);
        return;
    }
    snprintf(oc->code, sizeof oc->code, "db %s", sk_status_name(st));
    if (st != SK_EDUPKEY) {
        mysql_close(ts->my[k]);
        ts->my[k] = NULL;
    }
}

bench_direct *bench_direct_new(const conf *cfg, int merchants, const char *run_id)
{
    bench_direct *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->cfg = cfg;
    for (int i = 0; i < cfg->ngroups; i++) {
        const conf_group *g = &cfg->groups[i];
        if (g->primary && g->state == GROUP_ACTIVE && g->weight > 0) {
            d->ids[d->n] = g->id;
            d->primary[d->n] = g->primary;
            d->n++;
        }
    }
    if (d->n == 0) {
        free(d);
        return NULL;
    }
    d->merchants = merchants > 0 ? merchants : 100;
    sk_strlcpy(d->run_id, run_id, sizeof d->run_id);
    pthread_mutex_init(&d->gen_mu, NULL);
    ono_gen_init(&d->gen, DIRECT_NODE);
    d->ops = (lg_ops){.thread_init = d_init, .thread_fini = d_fini, .op = d_op, .ctx = d};
    return d;
}

void bench_direct_free(bench_direct *d)
{
    if (d == NULL)
        return;
    pthread_mutex_destroy(&d->gen_mu);
    free(d);
}

const lg_ops *bench_direct_ops(bench_direct *d)
{
    return &d->ops;
}
