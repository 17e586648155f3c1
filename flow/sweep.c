/*
 * flow/sweep.c — the expiry sweeper (spec §6): CREATED orders past
 * expire_at become CLOSED through the state machine, like a close, one
 * transaction each (so each gets its outbox event and version).
 */
#include "flow/internal.h"

#include <stdlib.h>

#define SWEEP_BATCH 200
#define SWEEP_ACQUIRE_MS 100

/* One group: close expired orders in batches until the backlog is gone or
 * the time budget is spent (a burst of expiries drains at a few thousand a
 * second instead of one batch per period). Skips a frozen group. */
static void sweep_group(app *a, const rt *r, int id, int64_t budget_ms)
{
    dal_pool *pool = rt_primary(r, id);
    dal_conn *dc;
    if (pool == NULL || !frz_enter(a->frz, id))
        return;
    if (dal_acquire(pool, sk_mono_ms() + SWEEP_ACQUIRE_MS, &dc) != SK_OK) {
        frz_exit(a->frz, id);
        return;
    }
    MYSQL *my = dal_mysql(dc);
    char (*nos)[ONO_LEN + 1] = calloc(SWEEP_BATCH, sizeof *nos);
    bool broken = false;
    int64_t until = sk_mono_ms() + budget_ms;
    int n = SWEEP_BATCH, closed = 0;
    /* only orders stamped with an id that routes here: never a shrink's copies of another group's */
    int stamped[CONF_MAX_GROUPS], nstamped = conf_routed_ids(r->c, id, stamped);
    while (nos && !broken && n == SWEEP_BATCH && sk_mono_ms() < until && !frz_frozen(a->frz, id)) {
        if (dal_expired_list(my, sk_now_ms(), stamped, nstamped, nos, SWEEP_BATCH, &n) != SK_OK) {
            broken = true;
            break;
        }
        for (int k = 0; k < n && !broken; k++) {
            dal_change ch = {.ev = OE_EXPIRE, .now_ms = sk_now_ms()};
            dal_change_result res;
            sk_status st = dal_order_change(my, nos[k], &ch, &res);
            if (st == SK_OK && res.applied)
                closed++;
            else if (st != SK_OK && st != SK_ENOT_FOUND)
                broken = st == SK_ETIMEDOUT || st == SK_ECONNECT;
        }
    }
    free(nos);
    if (closed > 0)
        sk_debug("event=orders_expired group=%d closed=%d", id, closed);
    dal_release(pool, dc, broken);
    frz_exit(a->frz, id);
}

void flow_sweep(app *a)
{
    rt *r = rt_get(a->rt);
    const conf *c = r->c;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        if (cg->state == GROUP_RETIRED || cg->primary == NULL || flow_group_down(a, c, cg->id))
            continue;
        sweep_group(a, r, cg->id, c->sweep_interval_ms);
    }
    rt_put(r);
}
