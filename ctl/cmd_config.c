/*
 * ctl/cmd_config.c — `skipctl config check FILE [--json]`.
 *
 * Loads FILE with the daemon's own loader (config/conf.c), so "ok" here means
 * skipstored would accept the file on start or SIGHUP.
 *   ok:     stdout "FILE: ok (N groups)", exit 0
 *   bad:    stderr "FILE:LINE: message" (or "FILE: cannot open: ..."), exit 1
 *   usage:  exit 2
 * --json prints one object on stdout instead, same exit codes:
 *   {"file":F,"ok":true,"groups":N}
 *   {"file":F,"ok":false,"line":L|null,"message":M,"error":"FILE:LINE: M"}
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/conf.h"
#include "ctl/ctl.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: skipctl config check FILE [--json]\n"
               "  validate a skipstore config file; errors as FILE:LINE: message (exit 1)\n");
}

static int print_json(json_t *o)
{
    if (o == NULL) {
        fprintf(stderr, "skipctl config: out of memory\n");
        return -1;
    }
    int rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    fputc('\n', stdout);
    return rc;
}

/* Split "FILE:LINE: message" as written by conf_load into line and message.
 * line is 0 when the error names no line (e.g. "FILE: cannot open: ..."). */
static const char *split_error(const char *file, const char *err, int *line)
{
    size_t fl = strlen(file);
    *line = 0;
    if (strncmp(err, file, fl) != 0 || err[fl] != ':')
        return err;
    const char *p = err + fl + 1;
    if (*p >= '0' && *p <= '9') {
        char *end;
        long l = strtol(p, &end, 10);
        if (end[0] == ':' && end[1] == ' ') {
            *line = (int)l;
            return end + 2;
        }
        return err;
    }
    return p[0] == ' ' ? p + 1 : err;
}

static int config_check(const char *file, bool json)
{
    char err[CONF_ERR_MAX];
    conf *c = conf_load(file, err, sizeof err);

    if (c != NULL) {
        int n = c->ngroups;
        conf_free(c);
        if (json)
            return print_json(json_pack("{s:s, s:b, s:i}", "file", file, "ok", 1, "groups", n)) < 0 ? 1 : 0;
        printf("%s: ok (%d groups)\n", file, n);
        return 0;
    }
    if (err[0] == '\0')
        snprintf(err, sizeof err, "%s: invalid config", file);
    if (json) {
        int line;
        const char *msg = split_error(file, err, &line);
        json_t *o = json_pack("{s:s, s:b, s:o, s:s, s:s}", "file", file, "ok", 0, "line",
                              line > 0 ? json_integer(line) : json_null(), "message", msg, "error", err);
        (void)print_json(o);
        return 1;
    }
    fprintf(stderr, "%s\n", err);
    return 1;
}

int ctl_cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "skipctl config: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }

    const char *file = NULL;
    bool json = false, opts = true;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && strcmp(a, "--json") == 0) {
            json = true;
        } else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            usage(stdout);
            return 0;
        } else if (opts && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "skipctl config check: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (file != NULL) {
            fprintf(stderr, "skipctl config check: one FILE only ('%s' is extra)\n", a);
            usage(stderr);
            return 2;
        } else {
            file = a;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "skipctl config check: missing FILE\n");
        usage(stderr);
        return 2;
    }
    return config_check(file, json);
}
