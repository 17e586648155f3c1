/* ctl/api.h — skipctl's HTTP calls to skipstored (ctl/api.c, on client/call.c). */
#ifndef CTL_API_H
#define CTL_API_H

#include <stddef.h>
#include <jansson.h>

/*
 * One request (POSTs send an empty body) through httpc_call. On a 2xx JSON
 * answer: 0 and *out (owned; json_decref). Otherwise -1 and a message in err:
 * the transport error, or "GET URL/v1/groups/9: HTTP 404 NOT_FOUND: no such
 * group" from the API's error body. Default URL: httpc_env_url().
 */
int ctl_api_call(const char *url, const char *token, const char *method, const char *path, int timeout_ms,
                 json_t **out, char *err, size_t cap);

/* Same, with a JSON body (NULL: none; POSTs then send an empty body). */
int ctl_api_send(const char *url, const char *method, const char *path, const json_t *body, int timeout_ms,
                 json_t **out, char *err, size_t cap);

#endif
