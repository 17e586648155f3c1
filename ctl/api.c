/* ctl/api.c — skipctl's calls to the skipstored HTTP API (client/call.c). */
#include "ctl/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client/httpc.h"

int ctl_api_send(const char *url, const char *method, const char *path, const json_t *body, int timeout_ms,
                 json_t **out, char *err, size_t cap)
{
    *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && text == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    json_t *j = NULL;
    int st = httpc_call(url, NULL, method, path, text ? text : strcmp(method, "POST") == 0 ? "" : NULL, timeout_ms,
                        &j, err, cap);
    free(text);
    if (st < 200 || st > 299) {
        json_decref(j);
        return -1;
    }
    if (j == NULL) {
        snprintf(err, cap, "%s %s%s: response is not JSON", method, url, path);
        return -1;
    }
    *out = j;
    return 0;
}

int ctl_api_call(const char *url, const char *token, const char *method, const char *path, int timeout_ms,
                 json_t **out, char *err, size_t cap)
{
    (void)token;
    return ctl_api_send(url, method, path, NULL, timeout_ms, out, err, cap);
}
