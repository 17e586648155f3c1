/*
 * ctl/cmd_orderno.c — `skipctl order-no`: decode an order number, or print a
 * fresh one. Output is compact JSON (parse) or the bare number (new).
 *
 *   order-no parse NO [--config FILE]
 *       {"valid":true,"time":"…Z","node":7,"seq":12,"group":2,"routes_to":2}
 *       exit 0; an invalid number prints {"valid":false,"reason":"…"}, exit 1.
 *       With a config (--config FILE, else $SKIP_CONFIG when set and
 *       readable) routes_to follows the config's aliases and a group the
 *       config does not know is invalid ("unknown group"); without one
 *       routes_to = group.
 *   order-no new --group G [--node N] [--config FILE]
 *       a valid number for the current second. N defaults to 999, a node id
 *       kept for tools, so that the number cannot be one a daemon issues
 *       (daemons lease their own node id). With a config, G must route.
 *
 * Exit 2 for usage errors and an unloadable config.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sk.h"
#include "config/conf.h"
#include "ctl/ctl.h"
#include "order/ono.h"

#define TOOL_NODE 999

static int usage(void)
{
    fprintf(stderr,
            "usage: skipctl order-no parse NO [--config FILE]\n"
            "       skipctl order-no new --group G [--node N] [--config FILE]\n");
    return 2;
}

/* Strict decimal in lo..hi (no sign, no spaces, no trailing bytes). */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 9)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* The config in effect, or NULL for none. Returns -1 (message printed) when
 * a config is named but cannot be loaded. */
static int load_conf(const char *path, conf **out)
{
    *out = NULL;
    if (path == NULL) {
        const char *env = getenv("SKIP_CONFIG");
        if (env == NULL || env[0] == '\0' || access(env, R_OK) != 0)
            return 0;
        path = env;
    }
    char err[CONF_ERR_MAX];
    err[0] = '\0';
    conf *c = conf_load(path, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "skipctl order-no: %s\n", err[0] ? err : path);
        return -1;
    }
    *out = c;
    return 0;
}

static int cmd_parse(const char *no, const conf *c)
{
    ono_fields f;
    const char *reason = NULL;
    if (ono_parse(no, strlen(no), &f, &reason) != SK_OK) {
        printf("{\"valid\":false,\"reason\":\"%s\"}\n", reason);
        return 1;
    }
    int routes_to = f.group;
    if (c != NULL) {
        routes_to = conf_route_group(c, f.group);
        if (routes_to < 0) {
            printf("{\"valid\":false,\"reason\":\"unknown group\"}\n");
            return 1;
        }
    }
    char t[21];
    ono_rfc3339(f.epoch_s, t);
    printf("{\"valid\":true,\"time\":\"%s\",\"node\":%d,\"seq\":%d,\"group\":%d,\"routes_to\":%d}\n",
           t, f.node, f.seq, f.group, routes_to);
    return 0;
}

static int cmd_new(const char *group_s, const char *node_s, const conf *c, const char *cpath)
{
    int group, node = TOOL_NODE;
    if (group_s == NULL) {
        fprintf(stderr, "skipctl order-no new: --group G is required\n");
        return usage();
    }
    if (parse_int(group_s, 1, 99, &group) != 0) {
        fprintf(stderr, "skipctl order-no new: --group must be an integer 1..99\n");
        return 2;
    }
    if (node_s != NULL && parse_int(node_s, 0, ONO_MAX_NODE, &node) != 0) {
        fprintf(stderr, "skipctl order-no new: --node must be an integer 0..%d\n", ONO_MAX_NODE);
        return 2;
    }
    if (c != NULL && conf_route_group(c, group) < 0) {
        fprintf(stderr, "skipctl order-no new: group %d is not configured in %s\n", group, cpath);
        return 2;
    }
    ono_gen g;
    ono_gen_init(&g, node);
    char no[ONO_LEN + 1];
    int64_t now_s = sk_now_ms() / 1000;
    if (ono_gen_next(&g, now_s, group, no) != 0) {
        fprintf(stderr, "skipctl order-no new: cannot issue a number (clock outside 2000..9999?)\n");
        return 2;
    }
    printf("%s\n", no);
    return 0;
}

int ctl_cmd_order_no(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    bool is_parse = strcmp(sub, "parse") == 0, is_new = strcmp(sub, "new") == 0;
    if (!is_parse && !is_new) {
        if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
            usage();
            return 0;
        }
        fprintf(stderr, "skipctl order-no: unknown subcommand\n");
        return usage();
    }

    const char *cpath = NULL, *group_s = NULL, *node_s = NULL, *no = NULL;
    bool opts_done = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strncmp(a, "--", 2) == 0) {
            const char **dst = NULL;
            const char *name = a + 2;
            if (*name == '\0') {
                opts_done = true;
                continue;
            }
            if (strcmp(name, "json") == 0)
                continue; /* output is JSON already */
            size_t nl = strcspn(name, "=");
            if (nl == 6 && strncmp(name, "config", 6) == 0)
                dst = &cpath;
            else if (is_new && nl == 5 && strncmp(name, "group", 5) == 0)
                dst = &group_s;
            else if (is_new && nl == 4 && strncmp(name, "node", 4) == 0)
                dst = &node_s;
            if (dst == NULL) {
                fprintf(stderr, "skipctl order-no %s: unknown option\n", sub);
                return usage();
            }
            if (name[nl] == '=') {
                *dst = name + nl + 1;
            } else if (i + 1 < argc) {
                *dst = argv[++i];
            } else {
                fprintf(stderr, "skipctl order-no %s: option needs a value\n", sub);
                return usage();
            }
            continue;
        }
        if (is_parse && no == NULL) {
            no = a;
            continue;
        }
        fprintf(stderr, "skipctl order-no %s: unexpected argument\n", sub);
        return usage();
    }
    if (is_parse && no == NULL)
        return usage();

    conf *c = NULL;
    if (load_conf(cpath, &c) != 0)
        return 2;
    const char *shown = cpath != NULL ? cpath : getenv("SKIP_CONFIG");
    int rc = is_parse ? cmd_parse(no, c) : cmd_new(group_s, node_s, c, shown);
    if (c != NULL)
        conf_free(c);
    fflush(stdout);
    return rc;
}
