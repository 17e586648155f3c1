/*
 * ctl/cmd_auditlog.c — `skipctl audit-log [--since T] [--limit N] [--json]`:
 * the audit trail (spec §11: refunds, terminal changes, fence/unfence,
 * reloads, each with the caller's key id), oldest first, from
 * GET /v1/audit-events (admin role) page by page.
 *
 * Through the API rather than straight from the merchant store (as
 * `skipctl audit` reads the groups): reading the trail is itself an
 * attributable, signed act of an admin key, needs no database account on
 * the operator's machine, and works wherever the daemons are reachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/httpc.h"
#include "ctl/api.h"
#include "ctl/ctl.h"

#define PAGE 500

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

int ctl_cmd_audit_log(int argc, char **argv)
{
    const char *url = httpc_env_url(), *since = NULL;
    long limit = 10000;
    int as_json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},      {"url", required_argument, NULL, 'u'},
                                         {"key", required_argument, NULL, 'k'}, {"since", required_argument, NULL, 's'},
                                         {"limit", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *use = "usage: skipctl audit-log [--since 2026-03-01T00:00:00Z] [--limit N] [--json] [--url URL] "
                      "[--key ID]\n";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': as_json = 1; break;
        case 'u': url = optarg; break;
        case 'k': setenv("SKIP_KEY_ID", optarg, 1); break; /* a key id, never a secret */
        case 's': since = optarg; break;
        case 'l': limit = strtol(optarg, NULL, 10); break;
        case 'h': fputs(use, stdout); return 0;
        default: fputs(use, stderr); return 2;
        }
    }
    if (optind != argc || limit < 1 || limit > 10000000) {
        fputs(use, stderr);
        return 2;
    }
    json_t *all = json_array();
    char cursor[128] = "", path[512], err[512];
    while ((long)json_array_size(all) < limit) {
        long want = limit - (long)json_array_size(all);
        snprintf(path, sizeof path, "/v1/audit-events?limit=%ld%s%s", want < PAGE ? want : PAGE,
                 cursor[0] ? "&cursor=" : since ? "&since=" : "", cursor[0] ? cursor : since ? since : "");
        json_t *j;
        if (ctl_api_send(url, "GET", path, NULL, 10000, &j, err, sizeof err) != 0) {
            fprintf(stderr, "skipctl audit-log: %s\n", err);
            json_decref(all);
            return 1;
        }
        json_array_extend(all, json_object_get(j, "events"));
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (next)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(j);
        if (next == NULL)
            break;
    }
    if (as_json) {
        json_t *o = json_pack("{s:o}", "events", all);
        json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
        return 0;
    }
    printf("%-24s %-16s %-20s %-26s %-10s %-20s %s\n", "AT", "KEY", "ACTION", "TARGET", "MERCHANT", "RESULT",
           "DETAIL");
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) {
        char *d = json_is_object(json_object_get(e, "detail"))
                      ? json_dumps(json_object_get(e, "detail"), JSON_COMPACT | JSON_SORT_KEYS)
                      : NULL;
        printf("%-24s %-16s %-20s %-26s %-10s %-20s %s\n", js(e, "at"), js(e, "key_id"), js(e, "action"),
               js(e, "target"), js(e, "merchant_id"), js(e, "result"), d ? d : "");
        free(d);
    }
    json_decref(all);
    return 0;
}
