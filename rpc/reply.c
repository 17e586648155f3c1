/* rpc/reply.c — JSON replies and error bodies (see rpc/reply.h). */
#include "rpc/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/errors.h"

void reply_json_body(http_resp *rs, int status, json_t *j)
{
    rs->status = status;
    rs->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    rs->len = rs->body ? strlen(rs->body) : 0;
    json_decref(j);
    if (rs->body == NULL)
        rs->status = 500;
}

void reply_error(http_resp *rs, sk_status st, const char *field, const char *msg, json_t *extra)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(sk_error_code(st)));
    json_object_set_new(e, "message", json_string(msg ? msg : sk_error_code(st)));
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    if (extra) {
        json_object_update(e, extra);
        json_decref(extra);
    }
    json_t *root = json_object();
    json_object_set_new(root, "error", e);
    int ra = sk_retry_after(st);
    if (ra > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", ra);
        http_add_header(rs, "Retry-After", v);
    }
    reply_json_body(rs, sk_http_status(st), root);
}
