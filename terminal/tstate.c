/*
 * terminal/tstate.c — the terminal status state machine: ts_decide() decides
 * every change (pure; the rules are in tstate.h).
 */
#include "terminal/tstate.h"

#include <string.h>

static const char *const status_names[TS_MAX] = {
    [TS_NONE] = "NONE",       [TS_REGISTERED] = "REGISTERED", [TS_ACTIVE] = "ACTIVE",
    [TS_BLOCKED] = "BLOCKED", [TS_LOCKED] = "LOCKED",         [TS_RETIRED] = "RETIRED",
};

static const char *const event_names[TE_MAX] = {
    [TE_REGISTER] = "register", [TE_ACTIVATE_OK] = "activate_ok", [TE_ACTIVATE_WRONG] = "activate_wrong",
    [TE_BLOCK] = "block",       [TE_UNBLOCK] = "unblock",         [TE_NEW_CODE] = "new_code",
    [TE_RETIRE] = "retire",
};

const char *ts_status_name(ts_status s)
{
    return (int)s >= 0 && s < TS_MAX ? status_names[s] : "UNKNOWN";
}

const char *ts_event_name(ts_event e)
{
    return (int)e >= 0 && e < TE_MAX ? event_names[e] : "unknown";
}

int ts_status_parse(const char *s, ts_status *out)
{
    if (s == NULL)
        return -1;
    for (int i = TS_REGISTERED; i < TS_MAX; i++)
        if (strcmp(s, status_names[i]) == 0) {
            if (out)
                *out = (ts_status)i;
            return 0;
        }
    return -1;
}

static ts_result keep(const ts_input *in, ts_outcome o, sk_status e)
{
    return (ts_result){.outcome = o, .new_status = in->status, .new_failures = in->failures, .error = e};
}

static ts_result to(ts_status s, int failures, bool issue, bool clear)
{
    return (ts_result){.outcome = TT_APPLY, .new_status = s, .new_failures = failures, .issue_code = issue,
                       .clear_code = clear, .error = SK_OK};
}

/* An activation attempt on anything but REGISTERED. */
static ts_result activate_refused(const ts_input *in)
{
    switch (in->status) {
    case TS_BLOCKED: return keep(in, TT_REJECT, SK_ETERMINAL_BLOCKED);
    case TS_RETIRED: return keep(in, TT_REJECT, SK_ETERMINAL_NOT_ACTIVE);
    default: return keep(in, TT_REJECT, SK_EACTIVATION_FAILED);   /* ACTIVE, LOCKED */
    }
}

ts_result ts_decide(ts_event ev, const ts_input *in)
{
    if (in == NULL || (int)in->status < 0 || in->status >= TS_MAX || (int)ev < 0 || ev >= TE_MAX)
        return (ts_result){.outcome = TT_REJECT, .new_status = in ? in->status : TS_NONE, .error = SK_EINTERNAL};
    ts_status s = in->status;
    if (s == TS_NONE)
        return ev == TE_REGISTER ? to(TS_REGISTERED, 0, true, false) : keep(in, TT_REJECT, SK_ENOT_FOUND);
    switch (ev) {
    case TE_REGISTER:
        return keep(in, TT_REJECT, SK_EILLEGAL_TRANSITION);
    case TE_ACTIVATE_OK:
        if (s == TS_REGISTERED)
            return to(TS_ACTIVE, 0, false, true);
        return activate_refused(in);
    case TE_ACTIVATE_WRONG:
        if (s == TS_REGISTERED) {
            int f = in->failures < 0 ? 1 : in->failures + 1;
            bool lock = f >= TS_MAX_WRONG;
            return (ts_result){.outcome = TT_APPLY_FAIL, .new_status = lock ? TS_LOCKED : TS_REGISTERED,
                               .new_failures = f, .clear_code = lock, .error = SK_EACTIVATION_FAILED};
        }
        return activate_refused(in);
    case TE_BLOCK:
        if (s == TS_ACTIVE)
            return to(TS_BLOCKED, in->failures, false, false);
        if (s == TS_BLOCKED)
            return keep(in, TT_NOOP, SK_OK);
        return keep(in, TT_REJECT, SK_EILLEGAL_TRANSITION);
    case TE_UNBLOCK:
        if (s == TS_BLOCKED)
            return to(TS_ACTIVE, in->failures, false, false);
        if (s == TS_ACTIVE)
            return keep(in, TT_NOOP, SK_OK);
        return keep(in, TT_REJECT, SK_EILLEGAL_TRANSITION);
    case TE_NEW_CODE:
        if (s == TS_REGISTERED || s == TS_LOCKED)
            return to(TS_REGISTERED, 0, true, false);
        return keep(in, TT_REJECT, SK_EILLEGAL_TRANSITION);
    case TE_RETIRE:
        if (s == TS_RETIRED)
            return keep(in, TT_NOOP, SK_OK);
        return to(TS_RETIRED, in->failures, false, true);
    default:
        break;
    }
    return keep(in, TT_REJECT, SK_EINTERNAL);
}
