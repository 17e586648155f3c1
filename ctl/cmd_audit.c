/*
 * ctl/cmd_audit.c — `skipctl audit [--fix] [--settle MS] [--json]`: every
 * order exactly once, mirror matches groups, orphans of unknown-outcome
 * inserts (closed through the daemon with --fix). Work in migrate/audit.c.
 * Exit: 0 clean, 1 problems found (or the scan failed), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "dal/dal.h"
#include "migrate/migio.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: skipctl audit [--fix] [--settle MS] [--config FILE] [--daemons URL[,..]]\n"
               "                     [--admin-user U] [--admin-password P] [--json]\n");
}

int ctl_cmd_audit(int argc, char **argv)
{
    mig_audit_opts o = {.settle_ms = 10000};
    mu_common_defaults(&o.m);
    dal_library_init();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--fix") == 0)
            o.fix = true;
        else if (strcmp(a, "--json") == 0)
            o.m.json = true;
        else if (strcmp(a, "--settle") == 0 && v) {
            o.settle_ms = atoi(v);
            i++;
        } else if (strcmp(a, "--config") == 0 && v)
            o.m.config = argv[++i];
        else if ((strcmp(a, "--daemons") == 0 || strcmp(a, "--url") == 0) && v)
            o.m.daemons = argv[++i];
        else if (strcmp(a, "--admin-user") == 0 && v)
            o.m.admin_user = argv[++i];
        else if (strcmp(a, "--admin-password") == 0 && v)
            o.m.admin_password = argv[++i];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.settle_ms < 0 || o.settle_ms > 600000) {
        usage(stderr);
        return 2;
    }
    return mig_audit(&o);
}
