/*
 * ctl/cmd_status.c — `skipctl status [--json] [--url URL]`: groups, states,
 * failure counters, last probes, outbox backlog and mirror lag, from
 * GET /v1/groups. Exit 1 when the daemon cannot be asked.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "common/sk.h"
#include "ctl/api.h"
#include "client/httpc.h"
#include "ctl/ctl.h"
#include "order/order.h"

static const char *jstr(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

int ctl_cmd_status(int argc, char **argv)
{
    const char *url = httpc_env_url(), *token = "";   /* requests are signed (SKIP_KEYS) */
    int as_json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"key", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': as_json = 1; break;
        case 'u': url = optarg; break;
        case 't': setenv("SKIP_KEY_ID", optarg, 1); break; /* a key id, never a secret */
        case 'h': printf("usage: skipctl status [--json] [--url URL]\n"); return 0;
        default: fprintf(stderr, "usage: skipctl status [--json] [--url URL]\n"); return 2;
        }
    }
    json_t *j;
    char err[512];
    if (ctl_api_call(url, token, "GET", "/v1/groups", 3000, &j, err, sizeof err) != 0) {
        fprintf(stderr, "skipctl status: %s\n", err);
        return 1;
    }
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(j);
        return 0;
    }
    printf("%-5s %-9s %-6s %-8s %-7s %-28s %-8s %-7s %s\n", "GROUP", "STATE", "WEIGHT", "FAIL/THR", "WINDOW",
           "LAST PROBE", "INFLIGHT", "OUTBOX", "PRIMARY");
    int64_t now = sk_now_ms();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(j, "groups"), i, g) {
        char fail[24], win[16], probe[64] = "never";
        snprintf(fail, sizeof fail, "%lld/%lld", jint(g, "failures_this_window"), jint(g, "threshold"));
        snprintf(win, sizeof win, "%llds", jint(g, "window_s"));
        json_t *p = json_object_get(g, "last_probe");
        if (json_is_object(p)) {
            int64_t at = 0;
            double age = -1;
            if (ord_parse_time(jstr(p, "at", ""), &at) == 0)
                age = (double)(now - at) / 1000.0;
            if (json_is_true(json_object_get(p, "ok")))
                snprintf(probe, sizeof probe, "ok %lldms %.1fs ago", jint(p, "ms"), age);
            else
                snprintf(probe, sizeof probe, "FAIL %.12s %.1fs ago", jstr(p, "error", "?"), age);
        }
        const char *state = jstr(g, "state", "?");
        char st[24];
        snprintf(st, sizeof st, "%s", state);
        json_t *alias = json_object_get(g, "alias_of");
        char prim[80];
        if (json_is_integer(alias))
            snprintf(prim, sizeof prim, "alias of %lld", (long long)json_integer_value(alias));
        else
            snprintf(prim, sizeof prim, "%s", jstr(g, "primary", "-"));
        printf("%-5lld %-9s %-6lld %-8s %-7s %-28s %-8lld %-7lld %s\n", jint(g, "id"), st, jint(g, "weight"), fail,
               win, probe, jint(g, "inflight"), jint(g, "outbox_pending"), prim);
    }
    /* failover history (docs/failover.md): newest first, per group */
    json_array_foreach(json_object_get(j, "groups"), i, g) {
        json_t *former = json_object_get(g, "former_primaries");
        json_t *hist = json_object_get(g, "failovers");
        if (json_array_size(former) == 0 && json_array_size(hist) == 0)
            continue;
        printf("group %lld: primary %s", jint(g, "id"), jstr(g, "primary", "-"));
        size_t k;
        json_t *x;
        json_array_foreach(former, k, x) printf("%s%s", k ? ", " : "; former primaries (read-only): ",
                                                json_string_value(x) ? json_string_value(x) : "?");
        printf("\n");
        json_array_foreach(hist, k, x) {
            printf("  failover %s  %s -> %s  %s  %lld ms  gtid %s\n", jstr(x, "at", "?"), jstr(x, "old_primary", "?"),
                   jstr(x, "new_primary", "?"), jstr(x, "mode", "?"), jint(x, "ms"), jstr(x, "gtid", "?"));
            if (k == 4)
                break;
        }
    }
    json_t *lag = json_object_get(j, "mirror_lag_ms");
    char lags[32] = "unknown";
    if (json_is_integer(lag))
        snprintf(lags, sizeof lags, "%lld ms", (long long)json_integer_value(lag));
    printf("node %lld  counters %s  mirror lag %s\n", jint(j, "node_id"), jstr(j, "counters", "?"), lags);
    json_decref(j);
    return 0;
}
