/* flow/plan.c — the create attempt loop's decisions; see plan.h. */
#include "flow/plan.h"

#include <string.h>

plan_outcome plan_outcome_of(sk_status st)
{
    switch (st) {
    case SK_OK: return AT_OK;
    case SK_EDUPKEY: return AT_DUPKEY;
    case SK_ETIMEDOUT: return AT_UNKNOWN;
    case SK_ECONNECT:
    case SK_EREADONLY:
    case SK_EDB: return AT_REFUSED;
    case SK_EOVERLOADED: return AT_BUSY;
    default: return AT_INTERNAL;
    }
}

const char *plan_outcome_name(plan_outcome o)
{
    static const char *const n[AT_MAX] = {"ok", "dupkey", "unknown", "refused", "busy", "probe_failed", "internal", "collision"};
    return (int)o >= 0 && o < AT_MAX ? n[o] : "?";
}

void plan_init(plan *p, int64_t deadline_ms, uint64_t key, int fresh_ms, int slow_ms)
{
    memset(p, 0, sizeof *p);
    p->deadline_ms = deadline_ms;
    p->key = key;
    p->fresh_ms = fresh_ms;
    p->slow_ms = slow_ms;
}

static plan_step answer(const plan *p)
{
    return (plan_step){.act = PLAN_ANSWER, .status = p->saw_busy ? SK_EOVERLOADED : SK_ENO_WRITABLE_GROUP};
}

plan_step plan_next(plan *p, sel_view *v, int n, int64_t now_ms)
{
    if (now_ms >= p->deadline_ms)
        return answer(p);
    for (int i = 0; i < n; i++) {
        int id = v[i].id;
        v[i].excluded = id >= 1 && id <= CONF_MAX_GROUPS && p->tried[id];
        /* a group that could take the create but whose bulkhead is full
         * makes "no group" an OVERLOADED answer (retry soon), not a
         * NO_WRITABLE_GROUP one */
        if (v[i].overloaded && !v[i].excluded) {
            sel_view free_ = v[i];
            free_.overloaded = false;
            if (sel_skip_reason(&free_, now_ms, p->fresh_ms, p->slow_ms) == NULL)
                p->saw_busy = true;
        }
    }
    bool needs_probe = false;
    int idx = sel_pick(v, n, now_ms, p->fresh_ms, p->slow_ms, p->key, &needs_probe);
    if (idx < 0)
        return answer(p);
    int g = v[idx].id;
    p->tried[g] = true;
    p->attempts++;
    return (plan_step){.act = PLAN_TRY, .group = g, .needs_probe = needs_probe};
}

plan_verdict plan_record(plan *p, int group, plan_outcome o)
{
    switch (o) {
    case AT_OK: return (plan_verdict){.done = true, .status = SK_OK};
    case AT_DUPKEY: return (plan_verdict){.done = true, .status = SK_EDUPKEY};
    case AT_UNKNOWN:
    case AT_REFUSED: return (plan_verdict){.count_failure = true};
    case AT_BUSY: p->saw_busy = true; return (plan_verdict){0};
    case AT_PROBE_FAILED: return (plan_verdict){0};
    case AT_COLLISION:
        if (++p->collisions <= PLAN_MAX_COLLISIONS) {
            if (group >= 1 && group <= CONF_MAX_GROUPS)
                p->tried[group] = false;  /* the group is fine: it may be picked again */
            return (plan_verdict){0};
        }
        return (plan_verdict){.done = true, .status = SK_EINTERNAL};
    case AT_INTERNAL:
    default: return (plan_verdict){.done = true, .status = SK_EINTERNAL};
    }
}
