/*
 * rpc/http.c — the HTTP/1.1 + TLS edge of skipstored (contract: http.h).
 *
 * Threads, independent of the number of connections:
 *  - io_threads event loops (epoll, level-triggered). Each does all socket
 *    and TLS I/O of its connections and the HTTP parsing (http_parse.c,
 *    pure). The listening sockets (plain, TLS) are shared: every loop has
 *    them in its epoll set with EPOLLEXCLUSIVE, so one waiting loop is woken
 *    per new connection and accepts it; the connection stays on that loop.
 *    (One socket, not SO_REUSEPORT per loop: a second daemon started on the
 *    same port fails with "address in use" instead of silently sharing the
 *    port, and no connection is lost in a closed loop's accept queue.)
 *  - `workers` threads run the handler (it blocks on MariaDB and Redis).
 *    A complete request goes into a bounded queue (4 per worker); the
 *    connection is parked (no reads) until its response is written, then
 *    the next request on it is read. When the queue is full the handler is
 *    called on the loop with overloaded set (http.h: 503 without I/O).
 *
 * Memory: an idle keep-alive connection is a `conn` (~100 bytes; TLS adds
 * OpenSSL's SSL object, its record buffers released while idle with
 * SSL_MODE_RELEASE_BUFFERS). A request in progress adds a `request`
 * (~7 KiB), the input buffer (1 KiB, doubling to at most HP_HEAD_MAX + 2 KiB)
 * and the body (at most max_body); they are freed when the connection
 * goes idle.
 *
 * Deadlines, each a fixed timeout, so each timer list is a FIFO sorted by
 * deadline (O(1) insert, remove, expiry):
 *  - head:   a new connection's TLS handshake and first header block are
 *            complete within header_timeout_ms of the accept; a later
 *            request's header block within header_timeout_ms of its first
 *            byte (of the previous response for a pipelined one);
 *  - body:   the body within body_timeout_ms of the end of the header block;
 *  - write:  a response is written within body_timeout_ms;
 *  - idle:   a keep-alive connection with no request is closed after
 *            idle_timeout_ms;
 *  - linger: after an answer that closes the connection, the edge stops
 *            writing (shutdown) and reads and drops what the client still
 *            sends for at most LINGER_MS / LINGER_MAX bytes, so the client
 *            reads the answer instead of a reset (a 413 in the middle of an
 *            upload arrives while the client is still sending).
 * A header block or body deadline that passes answers 408 and closes; an
 * idle, handshake or write deadline closes without an answer.
 *
 * Files: http.c (this one: loops, connections, timers, responses, accept),
 * http_input.c (reading requests), http_tls.c (TLS context, socket I/O,
 * handshake), http_server.c (workers, listeners, start, stop); what they
 * share is rpc/http_internal.h.
 */
#include "rpc/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/sk.h"
#include "rpc/http_internal.h"

/* process-wide counters (http_stats_get) */
atomic_long g_plain, g_tls, g_queued, g_busy;
atomic_llong g_requests, g_overloaded, g_refused, g_timeouts, g_bad, g_tls_fail;

static void write_more(conn *c);

/* ------------------------------------------------------------------ helpers */

void http_add_header(http_resp *rs, const char *name, const char *value)
{
    if (rs->nhdr >= HTTP_MAX_HDRS)
        return;
    rs->hdr_name[rs->nhdr] = name;
    sk_strlcpy(rs->hdr_value[rs->nhdr], value, sizeof rs->hdr_value[0]);
    rs->nhdr++;
}

const char *http_header(const http_req *rq, const char *name, int *count)
{
    const request *r = rq->conn;
    return hp_field_get(&r->head, r->buf, name, count);
}

int http_connections(const http_server *s)
{
    if (s != NULL)
        return (int)atomic_load(&((http_server *)s)->nconns);
    return (int)(atomic_load(&g_plain) + atomic_load(&g_tls));
}

void http_stats_get(http_stats *o)
{
    o->conns_plain = atomic_load(&g_plain);
    o->conns_tls = atomic_load(&g_tls);
    o->queued = atomic_load(&g_queued);
    o->busy = atomic_load(&g_busy);
    o->requests = atomic_load(&g_requests);
    o->overloaded = atomic_load(&g_overloaded);
    o->refused = atomic_load(&g_refused);
    o->timeouts = atomic_load(&g_timeouts);
    o->bad_requests = atomic_load(&g_bad);
    o->tls_failures = atomic_load(&g_tls_fail);
}

/* ------------------------------------------------------------------ timers */

void timer_off(conn *c)
{
    if (c->tl == TL_NONE)
        return;
    tlist *l = &c->lp->timers[c->tl];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tl = TL_NONE;
}

/* deadline = now + that list's timeout: appending keeps the list sorted */
void timer_on(conn *c, int tl)
{
    timer_off(c);
    loop *lp = c->lp;
    tlist *l = &lp->timers[tl];
    c->deadline = lp->now + lp->s->timeouts_ms[tl];
    c->tl = (uint8_t)tl;
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
}

/* ------------------------------------------------------------------ epoll */

static void set_events(conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->lp->ep, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->events = ev;
}

/* The interest that fits the state (and what TLS waits for). */
void update_events(conn *c)
{
    uint32_t ev = 0;
    switch (c->state) {
    case CS_HANDSHAKE:
        ev = c->ssl_want_write ? EPOLLOUT : EPOLLIN;
        break;
    case CS_IDLE:
    case CS_HEAD:
    case CS_BODY:
        ev = c->ssl_want_write ? EPOLLOUT : EPOLLIN;
        if (c->rq && c->rq->interim_off < c->rq->interim_len)
            ev |= EPOLLOUT;
        break;
    case CS_HANDLER:
        /* the interest stays as it was (two epoll_ctl per request saved):
         * a peer that sends more meanwhile is disarmed by conn_event */
        return;
    case CS_WRITE:
        ev = c->ssl_want_read ? EPOLLIN : EPOLLOUT;
        break;
    case CS_LINGER:
        ev = EPOLLIN;
        break;
    }
    set_events(c, ev);
}

/* ------------------------------------------------------------------ lifecycle */

void request_free(request *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r->resp.body);
    free(r->tls_out);
    free(r);
}

/* Close now; the struct is freed at the end of the loop iteration (a
 * pointer to it may still be in this iteration's event array or ready
 * list: c->closed says to skip it). A request that is with the handler
 * (CS_HANDLER) belongs to the worker queue or a done list, not to c. */
void conn_close(conn *c)
{
    if (c->closed)
        return;
    loop *lp = c->lp;
    http_server *s = lp->s;
    timer_off(c);
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        lp->all = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    if (c->state != CS_HANDLER)
        request_free(c->rq);
    c->rq = NULL;
    free(c->in);
    c->in = NULL;
    atomic_fetch_sub(c->tls ? &g_tls : &g_plain, 1);
    atomic_fetch_sub(&s->nconns, 1);
    c->closed = true;
    if (!c->ready) {  /* on the ready list: freed when popped from it */
        c->rnext = lp->grave;
        lp->grave = c;
    }
}

void ready_push(conn *c)
{
    loop *lp = c->lp;
    if (c->ready || c->closed)
        return;
    c->ready = true;
    c->rnext = NULL;
    if (lp->ready_tail)
        lp->ready_tail->rnext = c;
    else
        lp->ready = c;
    lp->ready_tail = c;
}

void ensure_request(conn *c)
{
    if (c->rq != NULL)
        return;
    c->rq = calloc(1, sizeof *c->rq);
    if (c->rq != NULL)
        c->rq->c = c;
}

/* Stop writing and drop what the client still sends, briefly (header comment). */
static void linger_close(conn *c)
{
    if (c->ssl && SSL_is_init_finished(c->ssl)) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);  /* close_notify; not waiting for the peer's */
        ERR_clear_error();
    }
    shutdown(c->fd, SHUT_WR);
    request_free(c->rq);
    c->rq = NULL;
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = c->in_pos = 0;
    c->state = CS_LINGER;
    c->lingered = 0;
    timer_on(c, TL_LINGER);
    update_events(c);
}

static void linger_read(conn *c)
{
    char junk[16384];
    for (int i = 0; i < READ_ROUNDS; i++) {
        ssize_t n = recv(c->fd, junk, sizeof junk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0 || (c->lingered += (size_t)n) > LINGER_MAX) {
            conn_close(c);
            return;
        }
    }
}

/* ------------------------------------------------------------------ responses */

/* The Date field, formatted once a second per thread (loops and workers). */
static const char *date_now(void)
{
    static __thread time_t date_s;
    static __thread char date[40];
    time_t t = time(NULL);
    if (t != date_s) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        date_s = t;
    }
    return date;
}

static void start_write(conn *c)
{
    c->state = CS_WRITE;
    c->rq->wr_off = 0;
    timer_on(c, TL_WRITE);
    write_more(c);
}


/* The edge's own answer (400, 408, 431, 501, 505): always closes. */
void edge_error(conn *c, int status, const char *why)
{
    ensure_request(c);
    request *r = c->rq;
    if (r == NULL) {
        conn_close(c);
        return;
    }
    if (status == 408)
        atomic_fetch_add(&g_timeouts, 1);
    else
        atomic_fetch_add(&g_bad, 1);
    sk_debug("event=http_edge_error status=%d why=\"%s\"", status, why ? why : "");
    char body[256];
    int blen = hp_error_body(body, sizeof body, status, why);
    int hl = hp_render_head(r->out, sizeof r->out - sizeof body, status, date_now(), "application/json",
                            (size_t)blen, NULL, NULL, 0, true, false);
    if (hl < 0) {
        conn_close(c);
        return;
    }
    memcpy(r->out + hl, body, (size_t)blen);
    r->out_len = (size_t)hl + (size_t)blen;
    r->wr_body = NULL;
    r->wr_blen = 0;
    r->close = true;
    r->wr_total = r->out_len;
    if (c->ssl) {
        free(r->tls_out);
        if ((r->tls_out = malloc(r->out_len)) == NULL) {
            conn_close(c);
            return;
        }
        memcpy(r->tls_out, r->out, r->out_len);
    }
    start_write(c);
}

/* Render the handler's answer into r: the head, and for TLS one buffer with
 * head and body (fewer records). Any thread: r is the caller's while the
 * connection is parked. false: it cannot be rendered (close). */
static bool render(http_server *s, request *r, bool tls)
{
    http_resp *rs = &r->resp;
    if (rs->status < 100 || rs->status > 999)
        rs->status = 500;
    if (rs->body == NULL)
        rs->len = 0;
    r->close = r->close || !r->head.keep_alive || rs->close || r->too_large || atomic_load(&s->draining);
    bool keepalive10 = r->head.minor == 0 && !r->close;
    const char *vals[HTTP_MAX_HDRS];
    int nh = rs->nhdr < 0 ? 0 : rs->nhdr > HTTP_MAX_HDRS ? HTTP_MAX_HDRS : rs->nhdr;
    for (int i = 0; i < nh; i++)
        vals[i] = rs->hdr_value[i];
    int hl = hp_render_head(r->out, sizeof r->out, rs->status, date_now(),
                            rs->content_type ? rs->content_type : "application/json", rs->len, rs->hdr_name, vals, nh,
                            r->close, keepalive10);
    if (hl < 0)
        return false;
    r->out_len = (size_t)hl;
    bool body = !r->head.is_head && rs->len > 0;
    r->wr_body = body ? rs->body : NULL;
    r->wr_blen = body ? rs->len : 0;
    r->wr_total = r->out_len + r->wr_blen;
    r->wr_off = 0;
    if (tls) {
        free(r->tls_out);
        if ((r->tls_out = malloc(r->wr_total)) == NULL)
            return false;
        memcpy(r->tls_out, r->out, r->out_len);
        if (r->wr_blen)
            memcpy(r->tls_out + r->out_len, r->wr_body, r->wr_blen);
    }
    return true;
}

/* Write what the socket takes now. 1: all written, 0: would block, -1:
 * error. Loop thread, or the worker while the connection is parked. */
static int write_some(conn *c, request *r)
{
    while (r->wr_off < r->wr_total) {
        ssize_t n;
        if (c->ssl) {
            n = conn_send(c, r->tls_out + r->wr_off, r->wr_total - r->wr_off);
        } else {
            struct iovec iov[2];
            int k = 0;
            if (r->wr_off < r->out_len) {
                iov[k++] = (struct iovec){r->out + r->wr_off, r->out_len - r->wr_off};
                if (r->wr_blen)
                    iov[k++] = (struct iovec){(void *)r->wr_body, r->wr_blen};
            } else {
                size_t o = r->wr_off - r->out_len;
                iov[k++] = (struct iovec){(void *)(r->wr_body + o), r->wr_blen - o};
            }
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
            n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
            if (n < 0)
                n = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
        }
        if (n == -1)
            return 0;
        if (n < 0)
            return -1;
        r->wr_off += (size_t)n;
    }
    return 1;
}

/* The handler returned: render and write at once, on the thread that ran it
 * (the answer goes out without waiting for the loop); the loop finishes
 * (finish()). */
void answer(http_server *s, conn *c, request *r)
{
    r->werr = !render(s, r, c->ssl != NULL) || write_some(c, r) < 0;
}

static void write_done(conn *c);

/* Loop: a request is back from the handler, answered or partly written. */
void finish(conn *c)
{
    request *r = c->rq;
    if (c->dead || r->werr) {
        conn_close(c);
        return;
    }
    c->state = CS_WRITE;
    if (r->wr_off >= r->wr_total) {
        write_done(c);
        return;
    }
    timer_on(c, TL_WRITE);
    update_events(c);
}

/* A response is out: close, or get ready for the next request. */
static void write_done(conn *c)
{
    request *r = c->rq;
    if (r->close) {
        linger_close(c);
        return;
    }
    c->fresh = false;
    request_free(r);
    c->rq = NULL;
    size_t left = c->in_len - c->in_pos;
    if (left > 0) {
        /* a pipelined request: its header deadline runs from this response */
        memmove(c->in, c->in + c->in_pos, left);
        c->in_len = (uint32_t)left;
        c->in_pos = 0;
        ensure_request(c);
        if (c->rq == NULL) {
            conn_close(c);
            return;
        }
        c->state = CS_HEAD;
        timer_on(c, TL_HEAD);
    } else {
        free(c->in);
        c->in = NULL;
        c->in_len = c->in_cap = c->in_pos = 0;
        c->state = CS_IDLE;
        timer_on(c, TL_IDLE);
    }
    update_events(c);
    ready_push(c);  /* bytes already here (pipelined, or held by TLS) */
}

static void write_more(conn *c)
{
    int rc = write_some(c, c->rq);
    if (rc < 0)
        conn_close(c);
    else if (rc == 0)
        update_events(c);
    else
        write_done(c);
}

/* ------------------------------------------------------------------ accept */

void listeners_watch(loop *lp, bool on)
{
    http_server *s = lp->s;
    for (int i = 0; i < s->nls; i++) {
        if (on) {
            struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &s->ls[i]};
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, s->ls[i].fd, &e);
        } else {
            epoll_ctl(lp->ep, EPOLL_CTL_DEL, s->ls[i].fd, NULL);
        }
    }
    lp->accept_paused = !on;
}

static void accept_ready(loop *lp, listener *l)
{
    http_server *s = lp->s;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* level-triggered: stop watching the listeners for a while */
                sk_warn("event=http_accept_paused err=\"%s\" conns=%ld", strerror(errno), atomic_load(&s->nconns));
                listeners_watch(lp, false);
                lp->accept_paused_until = lp->now + ACCEPT_PAUSE_MS;
                return;
            }
            if (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)
                continue;
            return;  /* EAGAIN: another loop took it */
        }
        if (atomic_fetch_add(&s->nconns, 1) >= s->o.max_connections) {
            atomic_fetch_sub(&s->nconns, 1);
            atomic_fetch_add(&g_refused, 1);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        SSL *ssl = NULL;
        if (c != NULL && l->tls && ((ssl = SSL_new(s->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)) {
            SSL_free(ssl);
            free(c);
            c = NULL;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (c == NULL || epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            SSL_free(ssl);
            free(c);
            close(fd);
            atomic_fetch_sub(&s->nconns, 1);
            continue;
        }
        c->kind = EV_CONN;
        c->lp = lp;
        c->fd = fd;
        c->tls = l->tls;
        c->ssl = ssl;
        c->events = EPOLLIN;
        c->fresh = true;
        c->tl = TL_NONE;
        c->anext = lp->all;
        if (lp->all)
            lp->all->aprev = c;
        lp->all = c;
        atomic_fetch_add(l->tls ? &g_tls : &g_plain, 1);
        timer_on(c, TL_HEAD);
        if (ssl) {
            SSL_set_accept_state(ssl);
            c->state = CS_HANDSHAKE;
        } else {
            c->state = CS_IDLE;
        }
    }
}

/* ------------------------------------------------------------------ the loop */

static void conn_event(conn *c, uint32_t ev)
{
    if (c->closed)
        return;
    if (ev & (EPOLLERR | EPOLLHUP)) {
        if (c->state == CS_HANDLER) {
            /* the answer has nowhere to go; stop hearing about it */
            epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
            c->events = 0;
            c->dead = true;
            return;
        }
        if (!(ev & EPOLLIN) || c->state == CS_LINGER || c->state == CS_WRITE) {
            conn_close(c);
            return;
        }
    }
    switch (c->state) {
    case CS_HANDSHAKE:
        handshake(c);
        break;
    case CS_IDLE:
    case CS_HEAD:
    case CS_BODY:
        if ((ev & EPOLLOUT) && c->rq && c->rq->interim_off < c->rq->interim_len) {
            send_interim(c);
            if (c->closed)
                return;
        }
        if ((ev & EPOLLIN) || ((ev & EPOLLOUT) && c->ssl_want_write))
            conn_input(c);
        break;
    case CS_WRITE:
        write_more(c);
        break;
    case CS_LINGER:
        linger_read(c);
        break;
    case CS_HANDLER:
        set_events(c, 0); /* more input while the handler runs: read it after the answer */
        break;
    }
}

static void take_done(loop *lp)
{
    uint64_t x;
    if (read(lp->wfd, &x, sizeof x) < 0 && errno != EAGAIN)
        sk_debug("event=http_wake_read_failed err=\"%s\"", strerror(errno));
    pthread_mutex_lock(&lp->mu);
    request *r = lp->done;
    lp->done = lp->done_tail = NULL;
    pthread_mutex_unlock(&lp->mu);
    while (r != NULL) {
        request *next = r->qnext;
        r->qnext = NULL;
        finish(r->c);
        r = next;
    }
}

static void expire(loop *lp)
{
    for (int tl = 0; tl < TL_MAX; tl++) {
        conn *c;
        while ((c = lp->timers[tl].head) != NULL && c->deadline <= lp->now) {
            timer_off(c);
            if (tl == TL_HEAD && c->state == CS_HEAD) {
                edge_error(c, 408, "header block not complete in time");
            } else if (tl == TL_BODY) {
                edge_error(c, 408, "body not complete in time");
            } else {
                if (tl == TL_HEAD || tl == TL_WRITE)
                    atomic_fetch_add(&g_timeouts, 1);
                conn_close(c);
            }
        }
    }
}

static int next_timeout(loop *lp)
{
    if (lp->ready != NULL)
        return 0;
    int64_t next = lp->now + 1000;
    for (int tl = 0; tl < TL_MAX; tl++)
        if (lp->timers[tl].head && lp->timers[tl].head->deadline < next)
            next = lp->timers[tl].head->deadline;
    if (lp->accept_paused && lp->accept_paused_until < next)
        next = lp->accept_paused_until;
    int64_t d = next - lp->now;
    return d < 0 ? 0 : (int)d;
}

void *loop_main(void *arg)
{
    loop *lp = arg;
    sk_thread_name("sk-loop");
    http_server *s = lp->s;
    struct epoll_event ev[EVENTS_MAX];
    lp->now = sk_mono_ms();
    while (!atomic_load(&s->stopping)) {
        int n = epoll_wait(lp->ep, ev, EVENTS_MAX, next_timeout(lp));
        lp->now = sk_mono_ms();
        for (int i = 0; i < n; i++) {
            ev_kind k = *(ev_kind *)ev[i].data.ptr;
            if (k == EV_LISTEN)
                accept_ready(lp, ev[i].data.ptr);
            else if (k == EV_WAKE)
                take_done(lp);
            else
                conn_event(ev[i].data.ptr, ev[i].events);
        }
        conn *c;
        while ((c = lp->ready) != NULL) {
            lp->ready = c->rnext;
            if (lp->ready == NULL)
                lp->ready_tail = NULL;
            c->ready = false;
            if (c->closed) {
                c->rnext = lp->grave;
                lp->grave = c;
            } else {
                conn_input(c);
            }
        }
        if (lp->accept_paused && lp->now >= lp->accept_paused_until && !atomic_load(&s->draining))
            listeners_watch(lp, true);
        expire(lp);
        while ((c = lp->grave) != NULL) {
            lp->grave = c->rnext;
            free(c);
        }
    }
    return NULL;
}

