/*
 * client/httpc.h — a minimal blocking HTTP/1.1 client with keep-alive, used by
 * skipbench and skipctl (the daemon never calls out over HTTP), and on top of
 * it httpc_call, the one JSON call every tool makes to the daemon's API.
 *
 * One httpc = one TCP connection to one http://host:port, or one TLS
 * connection to one https://host:port (TLS 1.2+, the server's certificate
 * verified against the pinned CA and the host name or IP; see
 * httpc_tls_setup), used by one thread
 * at a time. Every socket operation is bounded: connect and each request
 * (send + full response) share one deadline of timeout_ms. Responses are
 * read into a buffer owned by the handle, bounded by HTTPC_MAX_BODY; larger
 * responses fail with HTTPC_ETOOBIG. Content-Length and chunked bodies are
 * understood. After any error the connection is closed and the next request
 * reconnects. A request sent on a reused keep-alive connection that the
 * server had already closed (EOF/RST before any response byte) is retried
 * once on a fresh connection.
 */
#ifndef CLIENT_HTTPC_H
#define CLIENT_HTTPC_H

#include <stddef.h>
#include <jansson.h>
#include "auth/auth.h"
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
    HTTPC_ENOMEM,
    HTTPC_ESIG,      /* the answer's Skip-Signature is missing (on a 2xx) or wrong: not an answer */
    HTTPC_ETLS       /* TLS: no usable settings, handshake refused, server certificate not trusted */
} httpc_err;

#define HTTPC_SIG_MAX 160

typedef struct httpc httpc;

typedef struct {
    int status;             /* HTTP status */
    const char *body;       /* NUL-terminated; owned by the handle; valid until the next request */
    size_t len;
} httpc_resp;

/*
 * TLS settings for every https:// handle of the process: ca = the PEM CA the
 * server's certificate must chain to (NULL/"": the system store); cert/key =
 * a client certificate and its key for mTLS (NULL/"": none; key NULL = in
 * cert's file). Call before the first https request; without a call the
 * settings come from $SKIP_CA, $SKIP_CLIENT_CERT and $SKIP_CLIENT_KEY.
 * 0, or -1 with the reason in err.
 */
int httpc_tls_setup(const char *ca, const char *cert, const char *key, char *err, size_t cap) SK_WUR;

/* url: "http://host:port" or "https://host:port" (a trailing path is ignored). Does not connect.
 * Returns an owned handle (free with httpc_free) or NULL on a bad URL. */
httpc *httpc_new(const char *url, int timeout_ms);
void httpc_free(httpc *c);

/*
 * Send one request and read the whole response. With a key (httpc_set_key;
 * httpc_new picks httpc_default_key()) the request is signed (spec §10:
 * SKIP-HMAC-SHA256, a fresh nonce each time) and the answer's
 * Skip-Signature verified: HTTPC_ESIG when a 2xx has none or any answer
 * has a wrong one. auth_token is ignored (kept for the callers' signature).
 * body may be NULL.
 */
httpc_err httpc_request(httpc *c, const char *method, const char *path, const char *auth_token,
                        const char *body, size_t len, httpc_resp *out) SK_WUR;

/* Sign with k (NULL: unsigned). The key must outlive the handle. */
void httpc_set_key(httpc *c, const auth_key *k);

/* A key from $SKIP_KEYS (loaded once per process): by id, or else the live
 * key of `role` ("admin", "cashier", ...) with the widest merchant scope.
 * NULL when none (or SKIP_KEYS unset/bad: said once on stderr). */
const auth_key *httpc_key(const char *id, const char *role);
/* $SKIP_KEY_ID, else the widest admin key. */
const auth_key *httpc_default_key(void);

/* Static short name for an error: "timeout", "connect", "io", ... */
const char *httpc_strerror(httpc_err e);

/* Close the connection now (the next request reconnects). */
void httpc_close(httpc *c);

/* ---- one API call (client/call.c) ---- */

/* $SKIP_URL, else http://127.0.0.1:17000 */
const char *httpc_env_url(void);

/*
 * One request on a fresh connection, bounded by timeout_ms: body (JSON, may
 * be NULL) sent with token as the bearer. Returns the HTTP status, or -1 on
 * a transport error. *out (out may be NULL; owned, json_decref) gets the
 * body when it is JSON, whatever the status, else NULL. err gets a message
 * whenever the result is not 2xx: "METHOD URLPATH: timeout", or
 * "METHOD URLPATH: HTTP 404 NOT_FOUND: no such group" from the API's error
 * body (its first 300 bytes when it is not one).
 */
int httpc_call(const char *url, const char *token, const char *method, const char *path, const char *body,
               int timeout_ms, json_t **out, char *err, size_t cap);

#endif
