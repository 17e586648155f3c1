/*
 * ctl/cmd_call.c — `skipctl call`: one signed request to skipstored, its
 * answer's signature verified (spec §10), the body printed as it came.
 *
 *   call [--key ID] [--url URL] [--timeout MS] [-i] METHOD PATH [BODY | -]
 *
 * The request is signed with a key of $SKIP_KEYS (--key ID, else
 * $SKIP_KEY_ID, else the widest admin key); BODY "-" reads it from standard
 * input (at most CALL_MAX_BODY bytes). -i prints "HTTP STATUS" first.
 *
 * Exit 0 on a 2xx, 1 on any other status (the error body is printed), 2 on
 * a usage error or no key, 3 when there is no answer: transport failure,
 * timeout (a POST's outcome is then unknown; repeat it, writes are
 * idempotent), or an answer whose Skip-Signature is missing or wrong.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/httpc.h"
#include "ctl/ctl.h"

#define CALL_MAX_BODY (1 << 20)
#define CALL_TIMEOUT_MS 10000

static int usage(void)
{
    fprintf(stderr, "usage: skipctl call [--key ID] [--url URL] [--timeout MS] [-i] METHOD PATH [BODY | -]\n");
    return 2;
}

/* Standard input into a NUL-terminated buffer of at most CALL_MAX_BODY bytes. */
static char *read_stdin(size_t *len)
{
    char *buf = malloc(CALL_MAX_BODY + 1);
    if (buf == NULL)
        return NULL;
    size_t n = fread(buf, 1, CALL_MAX_BODY + 1, stdin);
    if (n > CALL_MAX_BODY || ferror(stdin)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool valid_method(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(m, ok[i]) == 0)
            return true;
    return false;
}

int ctl_cmd_call(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"url", required_argument, NULL, 'u'},
        {"timeout", required_argument, NULL, 't'},
        {"include", no_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL, *key_id = getenv("SKIP_KEY_ID");
    int timeout_ms = CALL_TIMEOUT_MS;
    bool include = false;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "+k:u:t:i", opts, NULL)) != -1) {
        switch (o) {
        case 'k': key_id = optarg; break; /* a key id, never a secret */
        case 'u': url = optarg; break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 600000)
                return usage();
            timeout_ms = (int)v;
            break;
        }
        case 'i': include = true; break;
        default: return usage();
        }
    }
    int rest = argc - optind;
    if (rest < 2 || rest > 3)
        return usage();
    const char *method = argv[optind], *path = argv[optind + 1];
    if (!valid_method(method) || path[0] != '/') {
        fprintf(stderr, "skipctl call: want an upper-case METHOD and a PATH starting with /\n");
        return 2;
    }
    const auth_key *k = httpc_key(key_id, key_id && *key_id ? NULL : "admin");
    if (k == NULL) {
        fprintf(stderr, "skipctl call: no key %s%s%s in $SKIP_KEYS (source .run/env, or --key ID)\n",
                key_id && *key_id ? "'" : "", key_id && *key_id ? key_id : "of role admin",
                key_id && *key_id ? "'" : "");
        return 2;
    }
    char *stdin_body = NULL;
    const char *body = NULL;
    size_t blen = 0;
    if (rest == 3) {
        if (strcmp(argv[optind + 2], "-") == 0) {
            stdin_body = read_stdin(&blen);
            if (stdin_body == NULL) {
                fprintf(stderr, "skipctl call: standard input unreadable or over %d bytes\n", CALL_MAX_BODY);
                return 2;
            }
            body = stdin_body;
        } else {
            body = argv[optind + 2];
            blen = strlen(body);
        }
    }
    if (url == NULL)
        url = httpc_env_url();
    httpc *h = httpc_new(url, timeout_ms);
    if (h == NULL) {
        free(stdin_body);
        fprintf(stderr, "skipctl call: bad url '%s' (want http://host:port)\n", url);
        return 2;
    }
    httpc_set_key(h, k);
    httpc_resp r;
    httpc_err e = httpc_request(h, method, path, NULL, body, blen, &r);
    free(stdin_body);
    if (e != HTTPC_OK) {
        fprintf(stderr, "skipctl call: %s %s%s: %s%s\n", method, url, path, httpc_strerror(e),
                e == HTTPC_ESIG ? " (the answer's Skip-Signature is missing or wrong: not an answer)"
                : e == HTTPC_ETIMEOUT && strcmp(method, "GET") != 0
                    ? " (outcome unknown: repeat the same request, writes are idempotent)"
                    : "");
        httpc_free(h);
        return 3;
    }
    if (include)
        printf("HTTP %d\n", r.status);
    if (r.len > 0) {
        fwrite(r.body, 1, r.len, stdout);
        if (r.body[r.len - 1] != '\n')
            putchar('\n');
    }
    int status = r.status;
    httpc_free(h);
    return status >= 200 && status <= 299 ? 0 : 1;
}
