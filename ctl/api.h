/* ctl/api.h — skipctl's HTTP calls to skipstored (ctl/api_io.c). */
#ifndef CTL_API_H
#define CTL_API_H

#include <stddef.h>
#include <jansson.h>

/* $SKIP_URL or http://127.0.0.1:17000 */
const char *ctl_default_url(void);
/* $SKIP_ADMIN_TOKEN or "" */
const char *ctl_default_token(void);

/*
 * One request (POSTs send an empty body). On a 2xx JSON answer: 0 and *out
 * (owned; json_decref). Otherwise -1 and a message in err: the transport
 * error, or "HTTP 404 NOT_FOUND: no such group" from the API's error body.
 */
int ctl_api_call(const char *url, const char *token, const char *method, const char *path, int timeout_ms,
                 json_t **out, char *err, size_t cap);

#endif
