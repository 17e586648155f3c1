/*
 * client/call.c — one JSON call to skipstored, the one way every tool
 * (skipctl's commands and migrations) talks to the daemon's API; see httpc.h.
 */
#include "client/httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *httpc_env_url(void)
{
    const char *u = getenv("SKIP_URL");
    return u && *u ? u : "http://127.0.0.1:17000";
}

int httpc_call(const char *url, const char *token, const char *method, const char *path, const char *body,
               int timeout_ms, json_t **out, char *err, size_t cap)
{
    if (out)
        *out = NULL;
    httpc *h = httpc_new(url, timeout_ms);
    if (h == NULL) {
        snprintf(err, cap, "bad url '%s' (want http://host:port)", url);
        return -1;
    }
    httpc_resp r;
    httpc_err e = httpc_request(h, method, path, token, body, body ? strlen(body) : 0, &r);
    if (e != HTTPC_OK) {
        snprintf(err, cap, "%s %s%s: %s", method, url, path, httpc_strerror(e));
        httpc_free(h);
        return -1;
    }
    int status = r.status;
    json_t *j = r.len > 0 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    if (status < 200 || status > 299) {
        /* the API's error body: {"error":{"code":"…","message":"…"}} */
        json_t *eo = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(eo, "code"));
        const char *msg = json_string_value(json_object_get(eo, "message"));
        if (code != NULL)
            snprintf(err, cap, "%s %s%s: HTTP %d %s%s%s", method, url, path, status, code, msg ? ": " : "",
                     msg ? msg : "");
        else
            snprintf(err, cap, "%s %s%s: HTTP %d %.*s", method, url, path, status, (int)(r.len > 300 ? 300 : r.len),
                     r.body ? r.body : "");
    }
    httpc_free(h);
    if (out)
        *out = j;
    else
        json_decref(j);
    return status;
}
