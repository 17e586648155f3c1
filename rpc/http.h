/*
 * rpc/http.h — the HTTP/1.1 edge of skipstored.
 *
 * The edge accepts connections (plain and/or TLS), reads requests, hands
 * each complete request to the handler, and writes what it returns. It
 * knows nothing about routes, JSON or signatures: those are the handler's
 * (rpc/api.c). Contract:
 *
 *  - The handler is called once per request with the request-target exactly
 *    as sent (path + query, not decoded: the string a caller signed), the
 *    headers, and the whole body (bounded by max_body).
 *  - A body that passes max_body (Content-Length or chunked) is not read any
 *    further: the handler is called at once with too_large set, its answer
 *    (413) is sent and the connection is closed.
 *  - Requests that are not HTTP (bad request line, header block over the
 *    limit, bad framing) and timeouts (header block not complete in
 *    header_timeout_ms, body not complete in body_timeout_ms) are answered
 *    by the edge itself (400 / 408 / 431, and 501 for a transfer coding
 *    other than chunked, 505 for an HTTP version other than 1.0/1.1; JSON
 *    error body) and the connection is closed; they never reach the handler.
 *  - The handler may block (database, Redis): it runs on a worker thread.
 *    When every worker is busy and the bounded queue in front of them is
 *    full, the handler is called at once on the I/O thread with overloaded
 *    set: it must then only render a 503 OVERLOADED, without any I/O (no
 *    database, no Redis: it blocks every connection of that thread).
 *  - Requests on one connection are handled one at a time, in order: the
 *    next (pipelined) request is read after the response is written.
 *
 * Implementation: rpc/http.c (see there for threads and memory).
 */
#ifndef RPC_HTTP_H
#define RPC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct http_req {
    const char *method;
    const char *target;        /* request-target as sent: "/v1/orders/..?a=b", not decoded */
    const char *body;          /* NUL-terminated copy; len bytes ("" when none) */
    size_t len;
    bool too_large;            /* the body passed max_body: answer 413; body is empty */
    bool tls;                  /* came over the TLS listener */
    bool overloaded;           /* no worker free: render 503 OVERLOADED, no I/O (see above) */
    void *conn;                /* opaque, for http_header */
} http_req;

#define HTTP_MAX_HDRS 8
#define HTTP_HDR_VALUE_MAX 256

typedef struct http_resp {
    int status;
    char *body;                /* malloc'd; owned by the edge after return */
    size_t len;
    const char *content_type;  /* default application/json */
    const char *hdr_name[HTTP_MAX_HDRS];          /* static strings */
    char hdr_value[HTTP_MAX_HDRS][HTTP_HDR_VALUE_MAX];
    int nhdr;
    bool close;                /* close the connection after this response */
} http_resp;

typedef void (*http_handler)(void *ctx, const http_req *rq, http_resp *rs);

typedef struct {
    const char *listen;        /* "host:port" plain HTTP, or NULL / "" = no plain listener */
    const char *listen_tls;    /* "host:port" HTTPS, or NULL / "" = none */
    const char *tls_cert;      /* PEM certificate (chain) file, for listen_tls */
    const char *tls_key;       /* PEM private key file */
    const char *tls_client_ca; /* PEM CA file: when set, a client must present a certificate
                                  signed by it (the only trusted root) or the handshake fails */
    size_t max_body;           /* bytes; beyond: too_large */
    int io_threads;            /* event loops */
    int workers;               /* handler threads */
    int max_connections;       /* beyond: accepted and closed at once */
    int header_timeout_ms;     /* a request's header block must be complete within this */
    int body_timeout_ms;       /* ... and its body within this after the headers */
    int idle_timeout_ms;       /* a keep-alive connection with no request is closed after this */
    http_handler handler;
    void *ctx;
} http_opts;

typedef struct http_server http_server;

/* Listen and start the threads. NULL + message in err on failure (address
 * in use, bad certificate or key, ...). */
http_server *http_start(const http_opts *o, char *err, size_t cap);
void http_stop(http_server *s);

/* A request header (case-insensitive name), NULL when absent. *count (if
 * non-NULL) gets how many times it was sent. */
const char *http_header(const http_req *rq, const char *name, int *count);
void http_add_header(http_resp *rs, const char *name, const char *value);

/* Gauges for /metrics: open connections of server s (NULL: of every
 * server of this process). */
int http_connections(const http_server *s);

typedef struct {
    long conns_plain;          /* open connections, plain listener (gauge) */
    long conns_tls;            /* open connections, TLS listener, handshake included (gauge) */
    long queued;               /* complete requests waiting for a worker (gauge) */
    long busy;                 /* handlers running on workers (gauge) */
    long long requests;        /* handler calls (counter) */
    long long overloaded;      /* handler calls with overloaded set (counter) */
    long long refused;         /* connections closed at once: max_connections (counter) */
    long long timeouts;        /* 408 sent, or a connection cut at a header/body/write deadline (counter) */
    long long bad_requests;    /* 400/431/501/505 answered by the edge (counter) */
    long long tls_failures;    /* TLS handshakes that failed (counter) */
} http_stats;

/* Totals over every server of this process (rpc/ops.c renders them; the
 * daemon runs one server). */
void http_stats_get(http_stats *out);

#endif
