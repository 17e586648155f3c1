/* ctl/api_io.c — skipctl's calls to the skipstored HTTP API (rpc/httpc). */
#include "ctl/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/httpc.h"

const char *ctl_default_url(void)
{
    const char *u = getenv("SKIP_URL");
    return u && *u ? u : "http://127.0.0.1:17000";
}

const char *ctl_default_token(void)
{
    const char *t = getenv("SKIP_ADMIN_TOKEN");
    return t ? t : "";
}

int ctl_api_call(const char *url, const char *token, const char *method, const char *path, int timeout_ms,
                 json_t **out, char *err, size_t cap)
{
    *out = NULL;
    httpc *hc = httpc_new(url, timeout_ms);
    if (hc == NULL) {
        snprintf(err, cap, "bad url '%s' (want http://host:port)", url);
        return -1;
    }
    httpc_resp r;
    httpc_err e = httpc_request(hc, method, path, token, strcmp(method, "POST") == 0 ? "" : NULL, 0, &r);
    if (e != HTTPC_OK) {
        snprintf(err, cap, "%s %s%s: %s", method, url, path, httpc_strerror(e));
        httpc_free(hc);
        return -1;
    }
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    int status = r.status;
    if (status < 200 || status > 299) {
        json_t *eo = j ? json_object_get(j, "error") : NULL;
        const char *code = eo ? json_string_value(json_object_get(eo, "code")) : NULL;
        const char *msg = eo ? json_string_value(json_object_get(eo, "message")) : NULL;
        snprintf(err, cap, "%s %s: HTTP %d %s%s%s", method, path, status, code ? code : "", msg ? ": " : "",
                 msg ? msg : "");
        json_decref(j);
        httpc_free(hc);
        return -1;
    }
    httpc_free(hc);
    if (j == NULL) {
        snprintf(err, cap, "%s %s: response is not JSON: %s", method, path, je.text);
        return -1;
    }
    *out = j;
    return 0;
}
