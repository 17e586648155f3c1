/*
 * rpc/http.h — the HTTP/1.1 edge (libmicrohttpd, one thread per connection,
 * keep-alive). It reads the body (bounded by max_body_bytes: 413 without
 * reading more), calls the handler once per request, and sends what the
 * handler returns. Handlers may block on the database: each connection has
 * its own thread, and the per-group bulkheads bound how many wait on a group.
 */
#ifndef RPC_HTTP_H
#define RPC_HTTP_H

#include <stddef.h>
#include <stdbool.h>

typedef struct http_req {
    const char *method;
    const char *path;          /* without the query string */
    const char *body;          /* NUL-terminated copy; len bytes */
    size_t len;
    bool too_large;            /* body exceeded the limit: answer 413 */
    void *conn;                /* opaque, for http_query / http_header */
} http_req;

#define HTTP_MAX_HDRS 4

typedef struct http_resp {
    int status;
    char *body;                /* malloc'd; owned by the edge after return */
    size_t len;
    const char *content_type;  /* default application/json */
    const char *hdr_name[HTTP_MAX_HDRS];
    char hdr_value[HTTP_MAX_HDRS][64];
    int nhdr;
} http_resp;

typedef void (*http_handler)(void *ctx, const http_req *rq, http_resp *rs);

typedef struct http_server http_server;

/* Listen on "host:port". NULL + message on stderr on failure. */
http_server *http_start(const char *listen, size_t max_body, http_handler h, void *ctx);
void http_stop(http_server *s);

const char *http_query(const http_req *rq, const char *key);
const char *http_header(const http_req *rq, const char *name);
void http_add_header(http_resp *rs, const char *name, const char *value);

#endif
