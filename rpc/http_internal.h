/*
 * rpc/http_internal.h — what the files of the HTTP edge share (http.c:
 * loops and connections; http_input.c: reading requests; http_tls.c: TLS
 * and socket I/O; http_server.c: workers, start, stop). Not a public
 * header: the contract is rpc/http.h.
 */
#ifndef SK_RPC_HTTP_INTERNAL_H
#define SK_RPC_HTTP_INTERNAL_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rpc/http.h"
#include "rpc/http_parse.h"

#define IN_FIRST 1024                      /* first input buffer of a request */
#define IN_MAX (HP_HEAD_MAX + 2048)        /* input buffer, at most */
#define HEAD_OUT_MAX 4096                  /* a response head (8 x 256-byte fields fit) */
#define QUEUE_PER_WORKER 4
#define LINGER_MS 2000
#define LINGER_MAX (8 * 1024 * 1024)
#define ACCEPT_BATCH 64
#define READ_ROUNDS 16                     /* reads per wake-up and connection (fairness) */
#define EVENTS_MAX 256
#define THREAD_STACK (512 * 1024)
#define ACCEPT_PAUSE_MS 100                /* out of file descriptors: stop accepting this long */

typedef enum { EV_LISTEN, EV_WAKE, EV_CONN } ev_kind;

typedef enum {
    CS_HANDSHAKE, /* TLS handshake in progress */
    CS_IDLE,      /* no byte of a request yet */
    CS_HEAD,      /* reading a header block */
    CS_BODY,      /* reading a body */
    CS_HANDLER,   /* parked: the request is with the handler */
    CS_WRITE,     /* writing a response */
    CS_LINGER,    /* answered and closing: dropping what still comes */
} conn_state;

enum { TL_HEAD, TL_BODY, TL_WRITE, TL_IDLE, TL_LINGER, TL_MAX, TL_NONE = TL_MAX };

typedef struct listener {
    ev_kind kind;  /* EV_LISTEN: first member, epoll data points here */
    int fd;
    bool tls;
} listener;

typedef struct loop loop;
typedef struct conn conn;
typedef struct request request;

struct request {
    request *qnext;            /* done list */
    conn *c;
    loop *lp;
    const char *buf;           /* the header block (c->in), for http_header on the worker */
    hp_head head;
    size_t head_len, scan;
    hp_chunk ck;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool close;                /* close after the response */
    bool werr;                 /* the answer could not be rendered or written: close */
    http_req req;
    http_resp resp;
    char out[HEAD_OUT_MAX];    /* response head, or the edge's own whole answer */
    size_t out_len;
    char *tls_out;             /* TLS: head + body in one buffer (fewer records) */
    const char *wr_body;       /* plain: the body written after out (NULL: none) */
    size_t wr_blen;
    size_t wr_off;             /* bytes of the answer written so far */
    size_t wr_total;
    char interim[32];          /* 100 Continue */
    uint8_t interim_len, interim_off;
};

struct conn {
    ev_kind kind;              /* EV_CONN */
    conn *tprev, *tnext;       /* timer list */
    conn *aprev, *anext;       /* every connection of the loop */
    int64_t deadline;
    loop *lp;
    int fd;
    uint8_t state;
    uint8_t tl;
    bool tls;
    bool fresh;                /* no request finished yet: head deadline runs from accept */
    bool dead;                 /* hung up while parked: close when the handler returns */
    bool ssl_want_write;       /* the last TLS call waits for writability */
    bool ssl_want_read;
    uint32_t events;           /* registered epoll interest */
    SSL *ssl;
    char *in;                  /* input buffer (NULL while idle) */
    uint32_t in_len, in_cap, in_pos;
    request *rq;
    size_t lingered;
    bool closed;               /* closed; freed at the end of the loop iteration */
    bool ready;                /* on the loop's ready list */
    conn *rnext;               /* ready list / graveyard */
};

typedef struct {
    conn *head, *tail;
} tlist;

struct loop {
    ev_kind kind;              /* EV_WAKE: the eventfd */
    http_server *s;
    int ep, wfd;
    pthread_t th;
    tlist timers[TL_MAX];
    conn *all;
    pthread_mutex_t mu;        /* guards done */
    request *done, *done_tail;
    conn *ready, *ready_tail;  /* connections with input to process (pipelined, TLS-buffered) */
    conn *grave;               /* closed, freed at the end of the iteration */
    bool accept_paused;
    int64_t now;               /* monotonic ms, per iteration */
    int64_t accept_paused_until;
};

struct http_server {
    http_opts o;
    char *listen, *listen_tls;
    listener ls[2];
    int nls;
    SSL_CTX *ctx;
    loop *loops;
    int nloops;
    pthread_t *workers;
    int nworkers;
    /* worker queue: a ring of qcap requests */
    pthread_mutex_t qmu;
    pthread_cond_t qcv, idle_cv;
    request **q;
    int qcap, qhead, qlen;
    int inflight;              /* queued + running, under qmu */
    bool qstop;
    atomic_bool stopping, draining;
    atomic_long nconns;
    int timeouts_ms[TL_MAX];
};

/* process-wide counters (http_stats_get) */
extern atomic_long g_plain, g_tls, g_queued, g_busy;
extern atomic_llong g_requests, g_overloaded, g_refused, g_timeouts, g_bad, g_tls_fail;

/* http.c: connections, timers, responses, the event loop (loop thread
 * unless said otherwise) */
void timer_off(conn *c);
void timer_on(conn *c, int tl);      /* deadline = now + that list's timeout */
void update_events(conn *c);         /* the epoll interest that fits the state */
void request_free(request *r);
void conn_close(conn *c);            /* freed at the end of the loop iteration */
void ready_push(conn *c);            /* input to process without a wake-up */
void ensure_request(conn *c);
void edge_error(conn *c, int status, const char *why); /* 400, 408, ...: closes */
void answer(http_server *s, conn *c, request *r);      /* the thread that ran the handler */
void finish(conn *c);                /* a request is back from the handler */
void listeners_watch(loop *lp, bool on);
void *loop_main(void *arg);

/* http_input.c: reading requests (loop thread) */
void conn_input(conn *c);
void dispatch(conn *c);              /* to a worker, or overloaded on the loop */
void send_interim(conn *c);          /* 100 Continue */

/* http_tls.c: socket I/O and TLS */
ssize_t conn_recv(conn *c, char *buf, size_t n);       /* >0 bytes, 0 end of stream, -1 would block, -2 error */
ssize_t conn_send(conn *c, const char *buf, size_t n); /* >0 bytes written, -1 would block, -2 error */
void handshake(conn *c);
SSL_CTX *tls_context(const http_opts *o, char *err, size_t cap); /* NULL: err says why */

#endif
