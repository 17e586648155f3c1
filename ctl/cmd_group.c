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

/* One command's options, as a table: a flag sets a bool, the others take the
 * next argument (an int within [lo, hi], a duration like 10m, or a string). */
typedef enum { OPT_FLAG, OPT_INT, OPT_STR, OPT_DURATION } opt_kind;
typedef struct {
    const char *name;
    opt_kind kind;
    void *dst;              /* bool *, int *, const char **, int64_t * */
    int lo, hi;             /* OPT_INT */
} opt_spec;

/* Parse argv[1..] against the common options, `specs`, and up to two
 * positionals: the group id (when `group` is given) and then an address
 * (when `addr` is given). -1 on anything else. */
static int parse_opts(int argc, char **argv, mu_common *m, const opt_spec *specs, int nspecs, int *group,
                      const char **addr)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = common_opt(m, argc, argv, &i);
        if (c < 0)
            return -1;
        if (c > 0)
            continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const opt_spec *o = NULL;
        for (int k = 0; k < nspecs && o == NULL; k++)
            if (strcmp(a, specs[k].name) == 0)
                o = &specs[k];
        if (o != NULL) {
            bool ok = o->kind == OPT_FLAG || v != NULL;
            if (ok && o->kind == OPT_FLAG)
                *(bool *)o->dst = true;
            else if (ok && o->kind == OPT_INT)
                ok = int_arg(v, o->lo, o->hi, (int *)o->dst) == 0;
            else if (ok && o->kind == OPT_DURATION)
                ok = mig_parse_duration(v, (int64_t *)o->dst) == 0;
            else if (ok)
                *(const char **)o->dst = v;
            if (!ok)
                return -1;
            if (o->kind != OPT_FLAG)
                i++;
        } else if (a[0] != '-' && group != NULL && *group == 0) {
            if (int_arg(a, 1, CONF_MAX_GROUPS, group) != 0)
                return -1;
        } else if (a[0] != '-' && addr != NULL && *addr == NULL && (group == NULL || *group != 0)) {
            *addr = a;
        } else {
            return -1;
        }
    }
    return 0;
}

#define NSPECS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static int cmd_retire(int argc, char **argv)
{
    mig_retire_opts o = {.chunk_rows = 5000, .max_lag_s = 2, .margin_ms = 5000, .freeze_ack_ms = 1500};
    mu_common_defaults(&o.m);
    const opt_spec specs[] = {
        {"--dry-run", OPT_FLAG, &o.dry_run, 0, 0},
        {"--drop", OPT_FLAG, &o.drop, 0, 0},
        {"--yes", OPT_FLAG, &o.yes, 0, 0},
        {"--abort", OPT_FLAG, &o.abort, 0, 0},
        {"--into", OPT_INT, &o.into, 1, CONF_MAX_GROUPS},
        {"--chunk-rows", OPT_INT, &o.chunk_rows, 1, 20000},
        {"--writers", OPT_INT, &o.writers, 1, MIG_MAX_WRITERS},
        {"--throttle-ms", OPT_INT, &o.throttle_ms, 0, 60000},
        {"--max-lag", OPT_INT, &o.max_lag_s, 0, 3600},
        {"--margin", OPT_INT, &o.margin_ms, 0, 3600000},
        {"--freeze-timeout", OPT_INT, &o.freeze_ack_ms, 100, 60000},
    };
    if (parse_opts(argc, argv, &o.m, specs, NSPECS(specs), &o.group, NULL) != 0 || o.group == 0 ||
        (o.drop + o.abort + o.dry_run) > 1) {
        usage(stderr);
        return 2;
    }
    return mig_retire(&o);
}

static int cmd_add(int argc, char **argv)
{
    mig_add_opts o = {.weight = 100, .max_failures = 1};
    mu_common_defaults(&o.m);
    const opt_spec specs[] = {
        {"--id", OPT_INT, &o.id, 1, CONF_MAX_GROUPS},
        {"--weight", OPT_INT, &o.weight, 1, 1000},
        {"--max-failures", OPT_INT, &o.max_failures, 1, 1000000},
        {"--primary", OPT_STR, &o.primary, 0, 0},
        {"--replicas", OPT_STR, &o.replicas, 0, 0},
        {"--ramp", OPT_DURATION, &o.ramp_ms, 0, 0},
    };
    if (parse_opts(argc, argv, &o.m, specs, NSPECS(specs), NULL, NULL) != 0 || o.id == 0 || o.primary == NULL) {
        usage(stderr);
        return 2;
    }
    return mig_add(&o);
}

static int cmd_failover(int argc, char **argv)
{
    mig_failover_opts o = {.apply_wait_ms = 10000};
    mu_common_defaults(&o.m);
    const opt_spec specs[] = {
        {"--dry-run", OPT_FLAG, &o.dry_run, 0, 0},
        {"--auto", OPT_FLAG, &o.auto_mode, 0, 0},
        {"--force-async", OPT_FLAG, &o.force_async, 0, 0},
        {"--to", OPT_STR, &o.to, 0, 0},
        {"--expect-primary", OPT_STR, &o.expect_primary, 0, 0},
        {"--apply-wait", OPT_INT, &o.apply_wait_ms, 0, 600000},
    };
    if (parse_opts(argc, argv, &o.m, specs, NSPECS(specs), &o.group, NULL) != 0 || o.group == 0) {
        usage(stderr);
        return 2;
    }
    return mig_failover(&o);
}

static int cmd_rejoin(int argc, char **argv)
{
    mig_rejoin_opts o = {0};
    mu_common_defaults(&o.m);
    if (parse_opts(argc, argv, &o.m, NULL, 0, &o.group, &o.addr) != 0 || o.group == 0 || o.addr == NULL) {
        usage(stderr);
        return 2;
    }
    return mig_rejoin(&o);
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
