/*
 * rpc/http_input.c — reading a request on a connection of the HTTP edge
 * (http.c): the input buffer, the header block (http_parse.c), 100 Continue,
 * the body (Content-Length or chunked), and the hand-off of a complete
 * request to the worker queue (or to the handler on the loop, overloaded,
 * when the queue is full). Runs on the connection's loop thread.
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

/* ------------------------------------------------------------------ requests */

static bool queue_push(http_server *s, request *r)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qlen == s->qcap || s->qstop) {
        pthread_mutex_unlock(&s->qmu);
        return false;
    }
    s->q[(s->qhead + s->qlen) % s->qcap] = r;
    s->qlen++;
    s->inflight++;
    atomic_fetch_add(&g_queued, 1);
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return true;
}

/* The request is complete (or too large): hand it to a worker and park the
 * connection until the answer is back. */
void dispatch(conn *c)
{
    request *r = c->rq;
    http_server *s = c->lp->s;
    if (r->too_large) {
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
    }
    if (r->body)
        r->body[r->body_len] = '\0';
    r->buf = c->in;
    r->lp = c->lp;
    r->req = (http_req){
        .method = c->in + r->head.method,
        .target = c->in + r->head.target,
        .body = r->body ? r->body : "",
        .len = r->body_len,
        .too_large = r->too_large,
        .tls = c->tls,
        .overloaded = false,
        .conn = r,
    };
    timer_off(c);
    c->state = CS_HANDLER;
    update_events(c);
    atomic_fetch_add(&g_requests, 1);
    if (queue_push(s, r))
        return;
    r->req.overloaded = true;
    atomic_fetch_add(&g_overloaded, 1);
    s->o.handler(s->o.ctx, &r->req, &r->resp);
    answer(s, c, r);
    finish(c);
}

static bool in_reserve(conn *c, size_t need)
{
    if (need <= c->in_cap)
        return true;
    if (need > IN_MAX)
        return false;
    size_t cap = c->in_cap;
    if (sk_reserve(&c->in, &cap, need, IN_FIRST) != 0)
        return false;
    if (cap > IN_MAX) {
        char *p = realloc(c->in, IN_MAX);
        if (p == NULL)
            return false;
        c->in = p;
        cap = IN_MAX;
    }
    c->in_cap = (uint32_t)cap;
    return true;
}

void send_interim(conn *c)
{
    request *r = c->rq;
    while (r->interim_off < r->interim_len) {
        ssize_t n = conn_send(c, r->interim + r->interim_off, r->interim_len - r->interim_off);
        if (n == -1)
            break;
        if (n < 0) {
            conn_close(c);
            return;
        }
        r->interim_off += (uint8_t)n;
    }
    update_events(c);
}

/* The header block is complete in c->in[0..end): parse it and set up the body. */
static void head_done(conn *c, size_t end)
{
    request *r = c->rq;
    http_server *s = c->lp->s;
    hp_status st = hp_head_parse(c->in, end, &r->head);
    if (st != HP_OK) {
        edge_error(c, hp_status_code(st), r->head.why);
        return;
    }
    r->head_len = end;
    c->in_pos = (uint32_t)end;
    size_t avail = c->in_len - c->in_pos;
    if (r->head.body == HP_BODY_NONE) {
        dispatch(c);
        return;
    }
    if (r->head.body == HP_BODY_LENGTH) {
        if (r->head.content_length > s->o.max_body) {
            r->too_large = true;
            dispatch(c);
            return;
        }
        size_t cl = (size_t)r->head.content_length;
        if ((r->body = malloc(cl + 1)) == NULL) {
            conn_close(c);
            return;
        }
        r->body_cap = cl + 1;
        size_t take = avail < cl ? avail : cl;
        memcpy(r->body, c->in + c->in_pos, take);
        r->body_len = take;
        c->in_pos += (uint32_t)take;
        if (take == cl) {
            dispatch(c);
            return;
        }
    }
    c->state = CS_BODY;
    timer_on(c, TL_BODY);
    if (r->head.expect_continue && avail == 0) {
        r->interim_len = (uint8_t)snprintf(r->interim, sizeof r->interim, "HTTP/1.1 100 Continue\r\n\r\n");
        send_interim(c);
        return;
    }
    update_events(c);
}

/* Decode the chunked bytes in c->in[in_pos..in_len). */
static void chunked_feed(conn *c)
{
    request *r = c->rq;
    http_server *s = c->lp->s;
    while (c->in_pos < c->in_len) {
        size_t used, doff, dlen;
        const char *p = c->in + c->in_pos;
        hp_status st = hp_chunk_feed(&r->ck, p, c->in_len - c->in_pos, &used, &doff, &dlen);
        if (st == HP_EBAD) {
            edge_error(c, 400, r->ck.why);
            return;
        }
        if (dlen > 0) {
            if (r->body_len + dlen > s->o.max_body) {
                /* not read any further: answer at once, then close */
                r->too_large = true;
                c->in_pos = c->in_len;
                dispatch(c);
                return;
            }
            size_t cap = r->body_cap;
            if (sk_reserve(&r->body, &cap, r->body_len + dlen + 1, 1024) != 0) {
                conn_close(c);
                return;
            }
            r->body_cap = cap;
            memcpy(r->body + r->body_len, p + doff, dlen);
            r->body_len += dlen;
        }
        c->in_pos += (uint32_t)used;
        if (st == HP_OK) {
            dispatch(c);
            return;
        }
    }
    /* all consumed: reuse the space after the header block */
    c->in_len = c->in_pos = (uint32_t)r->head_len;
}

/* Read and process input until the request is complete, the socket has no
 * more, or READ_ROUNDS reads were done (level-triggered: we come back). */
void conn_input(conn *c)
{
    http_server *s = c->lp->s;
    for (int round = 0; round < READ_ROUNDS && !c->closed; round++) {
        if (c->state == CS_IDLE || c->state == CS_HEAD) {
            if (c->in_len > 0) {
                ensure_request(c);
                request *r = c->rq;
                if (r == NULL) {
                    conn_close(c);
                    return;
                }
                if (r->scan == 0) {
                    size_t skip = hp_skip_empty_lines(c->in, c->in_len);
                    memmove(c->in, c->in + skip, c->in_len - skip);
                    c->in_len -= (uint32_t)skip;
                }
                size_t end = c->in_len ? hp_head_end(c->in, c->in_len, &r->scan) : 0;
                if (end > 0) {
                    head_done(c, end);
                    if (c->closed || c->state != CS_BODY)
                        return;
                    continue;
                }
                if (c->in_len >= HP_HEAD_MAX) {
                    edge_error(c, 431, "header block too large");
                    return;
                }
            }
            if (c->in_len == c->in_cap) {
                size_t want = c->in_cap == 0 ? IN_FIRST : (size_t)c->in_cap * 2;
                if (want > IN_MAX)
                    want = IN_MAX;
                if (want <= c->in_cap || !in_reserve(c, want)) {
                    conn_close(c);
                    return;
                }
            }
            ssize_t n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
            if (n == -1) {
                update_events(c);
                return;
            }
            if (n <= 0) {
                conn_close(c);  /* the client went away (mid-request or idle) */
                return;
            }
            if (c->state == CS_IDLE) {
                c->state = CS_HEAD;
                if (!c->fresh)
                    timer_on(c, TL_HEAD);
            }
            c->in_len += (uint32_t)n;
        } else if (c->state == CS_BODY) {
            request *r = c->rq;
            ssize_t n;
            if (r->head.body == HP_BODY_LENGTH) {
                n = conn_recv(c, r->body + r->body_len, (size_t)r->head.content_length - r->body_len);
                if (n > 0 && (r->body_len += (size_t)n) == r->head.content_length) {
                    dispatch(c);
                    return;
                }
            } else {
                if (c->in_pos < c->in_len) {
                    chunked_feed(c);
                    if (c->closed || c->state != CS_BODY)
                        return;
                }
                if (c->in_cap < r->head_len + IN_FIRST && !in_reserve(c, r->head_len + IN_FIRST)) {
                    conn_close(c);
                    return;
                }
                n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
                if (n > 0) {
                    c->in_len += (uint32_t)n;
                    chunked_feed(c);
                    if (c->closed || c->state != CS_BODY)
                        return;
                }
            }
            if (n == -1) {
                update_events(c);
                return;
            }
            if (n == 0 || n == -2) {
                conn_close(c);
                return;
            }
        } else {
            return;
        }
    }
    (void)s;
}

