/*
 * ctl/cmd_fence.c — `skipctl fence G` / `skipctl unfence G`: stop / allow new
 * creates on group G through the API (admin role: signed with the admin key
 * from $SKIP_KEYS, or the key --key ID names). Reads and updates of the group's
 * orders continue either way. Exit 1 with the API's message on failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/api.h"
#include "client/httpc.h"
#include "ctl/ctl.h"

static int fence_cmd(int argc, char **argv, const char *verb)
{
    const char *url = httpc_env_url(), *token = "";   /* requests are signed (SKIP_KEYS) */
    int as_json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"key", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': as_json = 1; break;
        case 'u': url = optarg; break;
        case 't': setenv("SKIP_KEY_ID", optarg, 1); break; /* a key id, never a secret */
        default: fprintf(stderr, "usage: skipctl %s G [--url URL] [--key ID] [--json]\n", verb); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: skipctl %s G [--url URL] [--key ID] [--json]\n", verb);
        return 2;
    }
    char *end;
    long g = strtol(argv[optind], &end, 10);
    if (*argv[optind] == '\0' || *end != '\0' || g < 1 || g > 99) {
        fprintf(stderr, "skipctl %s: bad group '%s' (1..99)\n", verb, argv[optind]);
        return 2;
    }
    char path[64], err[512];
    snprintf(path, sizeof path, "/v1/groups/%ld/%s", g, verb);
    json_t *j;
    if (ctl_api_call(url, token, "POST", path, 3000, &j, err, sizeof err) != 0) {
        fprintf(stderr, "skipctl %s: %s\n", verb, err);
        return 1;
    }
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
    } else {
        printf("group %ld: state %s, fenced %s\n", g, json_string_value(json_object_get(j, "state")),
               json_is_true(json_object_get(j, "fenced")) ? "yes" : "no");
    }
    json_decref(j);
    return 0;
}

int ctl_cmd_fence(int argc, char **argv)
{
    return fence_cmd(argc, argv, "fence");
}

int ctl_cmd_unfence(int argc, char **argv)
{
    return fence_cmd(argc, argv, "unfence");
}
