/*
 * ctl/cmd_terminal.c — `skipctl terminal ...` (spec §11) through the signed
 * API (client/httpc.h; the key from $SKIP_KEYS: --key ID, else the admin
 * key — a backoffice key works for everything but activate):
 *
 *   terminal add ID --merchant M [--store S]   register; prints the one-time activation code
 *   terminal activate ID                       reads the code from stdin (never on a command line)
 *   terminal block ID --reason TEXT
 *   terminal unblock ID
 *   terminal code ID                           a new activation code (REGISTERED or LOCKED)
 *   terminal retire ID
 *   terminal show ID
 *   terminal list --merchant M [--status S]    every page
 *
 * Common: --url URL, --key ID, --json. Exit 0 done, 1 refused or failed
 * (the API's code and message on stderr), 2 bad arguments.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/httpc.h"
#include "ctl/api.h"
#include "ctl/ctl.h"

#define TIMEOUT_MS 5000
#define LIST_PAGE 500

static void usage(FILE *f)
{
    fprintf(f, "usage: skipctl terminal add ID --merchant M [--store S]\n"
               "       skipctl terminal activate ID        (activation code on stdin)\n"
               "       skipctl terminal block ID --reason TEXT\n"
               "       skipctl terminal unblock|code|retire|show ID\n"
               "       skipctl terminal list --merchant M [--status S]\n"
               "common: --url URL (default $SKIP_URL), --key ID (from $SKIP_KEYS), --json\n");
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_one(json_t *t)
{
    printf("%-32s %-12s %-10s %-10s %-24s %s\n", js(t, "terminal_id"), js(t, "merchant_id"),
           json_is_string(json_object_get(t, "store_id")) ? js(t, "store_id") : "-", js(t, "status"),
           js(t, "updated_at"), json_is_string(json_object_get(t, "block_reason")) ? js(t, "block_reason") : "");
}

static int list(const char *url, const char *merchant, const char *status, int as_json)
{
    char cursor[64] = "", path[256], err[512];
    json_t *all = json_array();
    for (;;) {
        snprintf(path, sizeof path, "/v1/merchants/%s/terminals?limit=%d%s%s%s%s", merchant, LIST_PAGE,
                 status ? "&status=" : "", status ? status : "", cursor[0] ? "&cursor=" : "", cursor);
        json_t *j;
        if (ctl_api_send(url, "GET", path, NULL, TIMEOUT_MS, &j, err, sizeof err) != 0) {
            fprintf(stderr, "skipctl terminal list: %s\n", err);
            json_decref(all);
            return 1;
        }
        json_array_extend(all, json_object_get(j, "terminals"));
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (next)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(j);
        if (next == NULL)
            break;
    }
    if (as_json) {
        json_t *o = json_pack("{s:o}", "terminals", all);
        json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
        return 0;
    }
    printf("%-32s %-12s %-10s %-10s %-24s %s\n", "TERMINAL", "MERCHANT", "STORE", "STATUS", "UPDATED", "REASON");
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t) print_one(t);
    json_decref(all);
    return 0;
}

int ctl_cmd_terminal(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[1];
    const char *url = httpc_env_url(), *merchant = NULL, *store = NULL, *reason = NULL, *status = NULL;
    int as_json = 0;
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},          {"url", required_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},     {"merchant", required_argument, NULL, 'm'},
        {"store", required_argument, NULL, 's'},   {"reason", required_argument, NULL, 'r'},
        {"status", required_argument, NULL, 'S'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': as_json = 1; break;
        case 'u': url = optarg; break;
        case 'k': setenv("SKIP_KEY_ID", optarg, 1); break; /* a key id, never a secret */
        case 'm': merchant = optarg; break;
        case 's': store = optarg; break;
        case 'r': reason = optarg; break;
        case 'S': status = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (strcmp(verb, "list") == 0) {
        if (merchant == NULL || optind != argc) {
            usage(stderr);
            return 2;
        }
        return list(url, merchant, status, as_json);
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *id = argv[optind];
    char path[160], err[512];
    const char *method = "POST";
    json_t *body = NULL;
    if (strcmp(verb, "add") == 0) {
        if (merchant == NULL) {
            usage(stderr);
            return 2;
        }
        snprintf(path, sizeof path, "/v1/terminals");
        body = json_pack("{s:s,s:s}", "terminal_id", id, "merchant_id", merchant);
        if (store)
            json_object_set_new(body, "store_id", json_string(store));
    } else if (strcmp(verb, "block") == 0) {
        if (reason == NULL) {
            fprintf(stderr, "skipctl terminal block: --reason is required (it is kept with the block)\n");
            return 2;
        }
        snprintf(path, sizeof path, "/v1/terminals/%s/block", id);
        body = json_pack("{s:s}", "reason", reason);
    } else if (strcmp(verb, "activate") == 0) {
        char code[128];
        if (fgets(code, sizeof code, stdin) == NULL) {
            fprintf(stderr, "skipctl terminal activate: give the activation code on stdin\n");
            return 2;
        }
        code[strcspn(code, "\r\n")] = '\0';
        snprintf(path, sizeof path, "/v1/terminals/%s/activate", id);
        body = json_pack("{s:s}", "activation_code", code);
    } else if (strcmp(verb, "unblock") == 0 || strcmp(verb, "code") == 0 || strcmp(verb, "retire") == 0) {
        snprintf(path, sizeof path, "/v1/terminals/%s/%s", id, verb);
    } else if (strcmp(verb, "show") == 0) {
        snprintf(path, sizeof path, "/v1/terminals/%s", id);
        method = "GET";
    } else {
        usage(stderr);
        return 2;
    }
    json_t *j;
    int rc = ctl_api_send(url, method, path, body, TIMEOUT_MS, &j, err, sizeof err);
    json_decref(body);
    if (rc != 0) {
        fprintf(stderr, "skipctl terminal %s: %s\n", verb, err);
        return 1;
    }
    if (as_json) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
    } else {
        printf("terminal %s: %s (merchant %s)\n", js(j, "terminal_id"), js(j, "status"), js(j, "merchant_id"));
        if (json_is_string(json_object_get(j, "activation_code")))
            printf("activation code: %s  (shown once; expires %s)\n", js(j, "activation_code"),
                   js(j, "code_expires_at"));
    }
    json_decref(j);
    return 0;
}
