/*
 * rpc/httpc.h — a minimal blocking HTTP/1.1 client with keep-alive, used by
 * skipbench and skipctl (the daemon never calls out over HTTP).
 *
 * One httpc = one TCP connection to one http://host:port, used by one thread
 * at a time. Every socket operation is bounded: connect and each request
 * (send + full response) share one deadline of timeout_ms. Responses are
 * read into a buffer owned by the handle, bounded by HTTPC_MAX_BODY; larger
 * responses fail with HTTPC_ETOOBIG. Content-Length and chunked bodies are
 * understood. After any error the connection is closed and the next request
 * reconnects. A request sent on a reused keep-alive connection that the
 * server had already closed (EOF/RST before any response byte) is retried
 * once on a fresh connection.
 */
#ifndef RPC_HTTPC_H
#define RPC_HTTPC_H

#include <stddef.h>
#include "common/sk.h"

#define HTTPC_MAX_BODY (4u << 20) /* 4 MiB */

typedef enum {
    HTTPC_OK = 0,
    HTTPC_EURL,      /* bad URL */
    HTTPC_ECONNECT,  /* connect refused / unreachable */
    HTTPC_ETIMEOUT,  /* deadline passed: outcome unknown for a POST */
    HTTPC_EIO,       /* reset / EOF mid-response */
    HTTPC_EPROTO,    /* malformed response */
    HTTPC_ETOOBIG,   /* response over HTTPC_MAX_BODY */
    HTTPC_ENOMEM
} httpc_err;

typedef struct httpc httpc;

typedef struct {
    int status;             /* HTTP status */
    const char *body;       /* NUL-terminated; owned by the handle; valid until the next request */
    size_t len;
} httpc_resp;

/* url: "http://host:port" (a trailing path is ignored). Does not connect.
 * Returns an owned handle (free with httpc_free) or NULL on a bad URL. */
httpc *httpc_new(const char *url, int timeout_ms);
void httpc_free(httpc *c);

/* Send one request and read the whole response. auth_token (may be NULL or
 * "") is sent as "Authorization: Bearer TOKEN"; body may be NULL. */
httpc_err httpc_request(httpc *c, const char *method, const char *path, const char *auth_token,
                        const char *body, size_t len, httpc_resp *out) SK_WUR;

/* Static short name for an error: "timeout", "connect", "io", ... */
const char *httpc_strerror(httpc_err e);

/* Close the connection now (the next request reconnects). */
void httpc_close(httpc *c);

#endif
