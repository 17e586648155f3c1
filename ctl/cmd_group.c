/*
 * ctl/cmd_group.c — `skipctl group add ...` (expand) and `skipctl group
 * retire G ...` (shrink): argument parsing only; the work is in migrate/
 * (add.c, retire.c; runbooks docs/expand.md, docs/shrink.md).
 * Exit: 0 done, 1 failed (message on stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "dal/dal.h"
#include "migrate/mig.h"
#include "migrate/migio.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: skipctl group add --id N --primary H:P [--replicas H:P,...] [--weight W] [--ramp 10m]\n"
        "                         [--max-failures N] [COMMON]\n"
        "       skipctl group retire G [--into T] [--dry-run] [--abort] [--drop --yes]\n"
        "                         [--chunk-rows N] [--writers K] [--throttle-ms MS] [--max-lag S] [--margin MS]\n"
        "                         [--freeze-timeout MS] [COMMON]\n"
        "       skipctl group failover G [--to H:P] [--dry-run] [--apply-wait MS] [--force-async] [COMMON]\n"
        "       skipctl group rejoin G H:P [COMMON]   (replication account: $SKIP_DB_REPL_USER/PASSWORD)\n"
        "COMMON: --config FILE ($SKIP_CONFIG)  --daemons URL[,URL...] ($SKIP_DAEMON_URLS, else $SKIP_URL)\n"
        "        --admin-user U ($SKIP_DB_ADMIN_USER)  --admin-password P ($SKIP_DB_ADMIN_PASSWORD)  --json\n");
}

static int int_arg(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Common options; returns 1 if consumed (advancing *i), 0 if not ours, -1 bad. */
static int common_opt(mu_common *m, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char **dst = NULL;
    if (strcmp(a, "--json") == 0) {
        m->json = true;
        return 1;
    }
    if (strcmp(a, "--config") == 0)
        dst = &m->config;
    else if (strcmp(a, "--daemons") == 0 || strcmp(a, "--url") == 0)
        dst = &m->daemons;
    else if (strcmp(a, "--admin-user") == 0)
        dst = &m->admin_user;
    else if (strcmp(a, "--admin-password") == 0)
        dst = &m->admin_password;
    if (dst == NULL)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *dst = argv[++*i];
    return 1;
}

static int cmd_retire(int argc, char **argv)
{
    mig_retire_opts o = {.chunk_rows = 5000, .max_lag_s = 2, .margin_ms = 5000, .freeze_ack_ms = 1500};
    mu_common_defaults(&o.m);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_opt(&o.m, argc, argv, &i);
        if (c < 0)
            goto bad;
        if (c > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--dry-run") == 0)
            o.dry_run = true;
        else if (strcmp(a, "--drop") == 0)
            o.drop = true;
        else if (strcmp(a, "--yes") == 0)
            o.yes = true;
        else if (strcmp(a, "--abort") == 0)
            o.abort = true;
        else if (strcmp(a, "--into") == 0 && int_arg(v, 1, CONF_MAX_GROUPS, &o.into) == 0)
            i++;
        else if (strcmp(a, "--chunk-rows") == 0 && int_arg(v, 1, 20000, &o.chunk_rows) == 0)
            i++;
        else if (strcmp(a, "--writers") == 0 && int_arg(v, 1, MIG_MAX_WRITERS, &o.writers) == 0)
            i++;
        else if (strcmp(a, "--throttle-ms") == 0 && int_arg(v, 0, 60000, &o.throttle_ms) == 0)
            i++;
        else if (strcmp(a, "--max-lag") == 0 && int_arg(v, 0, 3600, &o.max_lag_s) == 0)
            i++;
        else if (strcmp(a, "--margin") == 0 && int_arg(v, 0, 3600000, &o.margin_ms) == 0)
            i++;
        else if (strcmp(a, "--freeze-timeout") == 0 && int_arg(v, 100, 60000, &o.freeze_ack_ms) == 0)
            i++;
        else if (a[0] != '-' && o.group == 0 && int_arg(a, 1, CONF_MAX_GROUPS, &o.group) == 0)
            continue;
        else
            goto bad;
    }
    if (o.group == 0 || (o.drop + o.abort + o.dry_run) > 1)
        goto bad;
    return mig_retire(&o);
bad:
    usage(stderr);
    return 2;
}

static int cmd_add(int argc, char **argv)
{
    mig_add_opts o = {.weight = 100, .max_failures = 1};
    mu_common_defaults(&o.m);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_opt(&o.m, argc, argv, &i);
        if (c < 0)
            goto bad;
        if (c > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--id") == 0 && int_arg(v, 1, CONF_MAX_GROUPS, &o.id) == 0)
            i++;
        else if (strcmp(a, "--weight") == 0 && int_arg(v, 1, 1000, &o.weight) == 0)
            i++;
        else if (strcmp(a, "--max-failures") == 0 && int_arg(v, 1, 1000000, &o.max_failures) == 0)
            i++;
        else if (strcmp(a, "--primary") == 0 && v) {
            o.primary = v;
            i++;
        } else if (strcmp(a, "--replicas") == 0 && v) {
            o.replicas = v;
            i++;
        } else if (strcmp(a, "--ramp") == 0 && v && mig_parse_duration(v, &o.ramp_ms) == 0)
            i++;
        else
            goto bad;
    }
    if (o.id == 0 || o.primary == NULL)
        goto bad;
    return mig_add(&o);
bad:
    usage(stderr);
    return 2;
}

static int cmd_failover(int argc, char **argv)
{
    mig_failover_opts o = {.apply_wait_ms = 10000};
    mu_common_defaults(&o.m);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_opt(&o.m, argc, argv, &i);
        if (c < 0)
            goto bad;
        if (c > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--dry-run") == 0)
            o.dry_run = true;
        else if (strcmp(a, "--auto") == 0)
            o.auto_mode = true;
        else if (strcmp(a, "--force-async") == 0)
            o.force_async = true;
        else if (strcmp(a, "--to") == 0 && v) {
            o.to = v;
            i++;
        } else if (strcmp(a, "--expect-primary") == 0 && v) {
            o.expect_primary = v;
            i++;
        } else if (strcmp(a, "--apply-wait") == 0 && int_arg(v, 0, 600000, &o.apply_wait_ms) == 0)
            i++;
        else if (a[0] != '-' && o.group == 0 && int_arg(a, 1, CONF_MAX_GROUPS, &o.group) == 0)
            continue;
        else
            goto bad;
    }
    if (o.group == 0)
        goto bad;
    return mig_failover(&o);
bad:
    usage(stderr);
    return 2;
}

static int cmd_rejoin(int argc, char **argv)
{
    mig_rejoin_opts o = {0};
    mu_common_defaults(&o.m);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_opt(&o.m, argc, argv, &i);
        if (c < 0)
            goto bad;
        if (c > 0)
            continue;
        if (a[0] != '-' && o.group == 0 && int_arg(a, 1, CONF_MAX_GROUPS, &o.group) == 0)
            continue;
        else if (a[0] != '-' && o.group != 0 && o.addr == NULL)
            o.addr = a;
        else
            goto bad;
    }
    if (o.group == 0 || o.addr == NULL)
        goto bad;
    return mig_rejoin(&o);
bad:
    usage(stderr);
    return 2;
}

int ctl_cmd_group(int argc, char **argv)
{
    dal_library_init();
    if (argc >= 2 && strcmp(argv[1], "retire") == 0)
        return cmd_retire(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "add") == 0)
        return cmd_add(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "failover") == 0)
        return cmd_failover(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "rejoin") == 0)
        return cmd_rejoin(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
