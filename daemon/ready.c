/* daemon/ready.c — see ready.h. */
#include "daemon/ready.h"

#include <stdio.h>
#include "common/sdnotify.h"

static bool g_ready;
static int g_waiting_for = -1; /* group named in the last STATUS=, to send it once */

int ready_pending(const conf *c, bool (*probed)(void *arg, int id), void *arg)
{
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *cg = &c->groups[i];
        if (cg->primary == NULL || cg->state == GROUP_RETIRED)
            continue; /* the prober never probes these */
        if (!probed(arg, cg->id))
            return cg->id;
    }
    return 0;
}

static bool grt_probed(void *arg, int id)
{
    return grt_probe_get(arg, id).at_wall_ms != 0;
}

void ready_tick(rtref *ref, grt *g)
{
    if (g_ready)
        return;
    rt *r = rt_get(ref);
    const conf *c = r->c;
    int pending = ready_pending(c, grt_probed, g);
    char status[256];
    if (pending != 0) {
        if (pending != g_waiting_for) {
            g_waiting_for = pending;
            snprintf(status, sizeof status, "starting: waiting for the first probe of group %d", pending);
            (void)sdn_status(status);
        }
        rt_put(r);
        return;
    }
    snprintf(status, sizeof status, "serving on %s, node %d, %d groups", c->listen && *c->listen ? c->listen : "-",
             c->node_id, c->ngroups);
    rt_put(r);
    g_ready = true;
    if (sdn_ready(status) > 0)
        sk_info("event=sd_notify state=READY");
}

void ready_reload_begin(void)
{
    if (g_ready)
        (void)sdn_reloading();
}

void ready_reload_end(bool ok, const char *err)
{
    if (!g_ready)
        return; /* READY=1 still means "started"; the tick sends it */
    char status[512];
    if (ok)
        snprintf(status, sizeof status, "serving; reloaded");
    else
        snprintf(status, sizeof status, "serving; reload FAILED, old config kept: %s", err);
    (void)sdn_ready(status);
}

void ready_stopping(void)
{
    (void)sdn_stopping();
}
