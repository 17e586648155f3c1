/*
 * rpc/http_server.c — the HTTP edge's threads (http.c): the worker pool
 * that runs the handler for queued requests, the listening sockets, and
 * http_start / http_stop (start the loops and workers; stop: drain, then
 * free).
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

/* ------------------------------------------------------------------ workers */

static void *worker_main(void *arg)
{
    http_server *s = arg;
    sk_thread_name("sk-worker");
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        while (s->qlen == 0 && !s->qstop)
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (s->qstop)
            break;
        request *r = s->q[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        atomic_fetch_sub(&g_queued, 1);
        atomic_fetch_add(&g_busy, 1);
        pthread_mutex_unlock(&s->qmu);

        s->o.handler(s->o.ctx, &r->req, &r->resp);
        answer(s, r->c, r);

        atomic_fetch_sub(&g_busy, 1);
        loop *lp = r->lp;
        pthread_mutex_lock(&lp->mu);
        bool was_empty = lp->done == NULL;
        if (lp->done_tail)
            lp->done_tail->qnext = r;
        else
            lp->done = r;
        lp->done_tail = r;
        pthread_mutex_unlock(&lp->mu);
        if (was_empty) {
            uint64_t one = 1;
            if (write(lp->wfd, &one, sizeof one) < 0)
                sk_debug("event=http_wake_failed err=\"%s\"", strerror(errno));
        }
        pthread_mutex_lock(&s->qmu);
        if (--s->inflight == 0)
            pthread_cond_broadcast(&s->idle_cv);
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

/* ------------------------------------------------------------------ start, stop */

static int listen_on(const char *addr, char *err, size_t cap)
{
    char host[256];
    int port;
    if (sk_parse_hostport(addr, host, sizeof host, &port) != 0) {
        snprintf(err, cap, "bad listen address '%s'", addr);
        return -1;
    }
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else if (strcmp(host, "localhost") == 0) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *s4;
    } else {
        snprintf(err, cap, "listen address '%s': host must be an IP address", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void server_free(http_server *s)
{
    for (int i = 0; i < s->nls; i++)
        if (s->ls[i].fd >= 0)
            close(s->ls[i].fd);
    for (int i = 0; i < s->nloops; i++) {
        loop *lp = &s->loops[i];
        request *r = lp->done;
        while (r != NULL) {
            request *n = r->qnext;
            request_free(r);
            r = n;
        }
        while (lp->all != NULL)
            conn_close(lp->all);
        conn *c;
        while ((c = lp->ready) != NULL) {
            lp->ready = c->rnext;
            free(c);
        }
        while ((c = lp->grave) != NULL) {
            lp->grave = c->rnext;
            free(c);
        }
        if (lp->ep >= 0)
            close(lp->ep);
        if (lp->wfd >= 0)
            close(lp->wfd);
        pthread_mutex_destroy(&lp->mu);
    }
    for (int i = 0; s->q && i < s->qlen; i++) {
        atomic_fetch_sub(&g_queued, 1);
        request_free(s->q[(s->qhead + i) % s->qcap]);
    }
    free(s->q);
    free(s->loops);
    free(s->workers);
    if (s->ctx)
        SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
    pthread_cond_destroy(&s->idle_cv);
    free(s->listen);
    free(s->listen_tls);
    free(s);
}

static bool set(const char *v)
{
    return v != NULL && v[0] != '\0';
}

http_server *http_start(const http_opts *o, char *err, size_t cap)
{
    if (!set(o->listen) && !set(o->listen_tls)) {
        snprintf(err, cap, "no listener: set listen or listen_tls");
        return NULL;
    }
    if (o->handler == NULL || o->io_threads < 1 || o->workers < 1 || o->max_connections < 1 ||
        o->header_timeout_ms < 1 || o->body_timeout_ms < 1 || o->idle_timeout_ms < 1) {
        snprintf(err, cap, "bad HTTP options (threads, workers, connections and timeouts must be positive)");
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->o = *o;
    s->listen = strdup(set(o->listen) ? o->listen : "");
    s->listen_tls = strdup(set(o->listen_tls) ? o->listen_tls : "");
    s->o.listen = s->listen;
    s->o.listen_tls = s->listen_tls;
    s->o.tls_cert = s->o.tls_key = s->o.tls_client_ca = NULL;  /* only used here */
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    s->ls[0].fd = s->ls[1].fd = -1;
    s->timeouts_ms[TL_HEAD] = o->header_timeout_ms;
    s->timeouts_ms[TL_BODY] = o->body_timeout_ms;
    s->timeouts_ms[TL_WRITE] = o->body_timeout_ms;
    s->timeouts_ms[TL_IDLE] = o->idle_timeout_ms;
    s->timeouts_ms[TL_LINGER] = LINGER_MS;
    s->qcap = o->workers * QUEUE_PER_WORKER;
    s->q = calloc((size_t)s->qcap, sizeof *s->q);
    s->loops = calloc((size_t)o->io_threads, sizeof *s->loops);
    s->workers = calloc((size_t)o->workers, sizeof *s->workers);
    if (s->listen == NULL || s->listen_tls == NULL || s->q == NULL || s->loops == NULL || s->workers == NULL) {
        snprintf(err, cap, "out of memory");
        goto bad;
    }
    if (set(o->listen_tls) && (s->ctx = tls_context(o, err, cap)) == NULL)
        goto bad;
    if (set(o->listen)) {
        if ((s->ls[s->nls].fd = listen_on(o->listen, err, cap)) < 0)
            goto bad;
        s->ls[s->nls].kind = EV_LISTEN;
        s->ls[s->nls++].tls = false;
    }
    if (set(o->listen_tls)) {
        if ((s->ls[s->nls].fd = listen_on(o->listen_tls, err, cap)) < 0)
            goto bad;
        s->ls[s->nls].kind = EV_LISTEN;
        s->ls[s->nls++].tls = true;
    }
    for (int i = 0; i < o->io_threads; i++) {
        loop *lp = &s->loops[i];
        lp->kind = EV_WAKE;
        lp->s = s;
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_mutex_init(&lp->mu, NULL);
        s->nloops = i + 1;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = lp};
        if (lp->ep < 0 || lp->wfd < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wfd, &e) != 0) {
            snprintf(err, cap, "epoll: %s", strerror(errno));
            goto bad;
        }
        listeners_watch(lp, true);
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, THREAD_STACK);
    for (int i = 0; i < o->workers; i++) {
        if (pthread_create(&s->workers[i], &at, worker_main, s) != 0) {
            snprintf(err, cap, "cannot start worker threads");
            pthread_attr_destroy(&at);
            s->nworkers = i;
            http_stop(s);
            return NULL;
        }
        s->nworkers = i + 1;
    }
    for (int i = 0; i < o->io_threads; i++) {
        if (pthread_create(&s->loops[i].th, &at, loop_main, &s->loops[i]) != 0) {
            snprintf(err, cap, "cannot start I/O threads");
            pthread_attr_destroy(&at);
            /* loops not started: mark so http_stop does not join them */
            for (int j = i; j < o->io_threads; j++)
                s->loops[j].th = 0;
            http_stop(s);
            return NULL;
        }
    }
    pthread_attr_destroy(&at);
    return s;
bad:
    server_free(s);
    return NULL;
}

#define DRAIN_MS 2000

void http_stop(http_server *s)
{
    if (s == NULL)
        return;
    /* stop accepting; let requests with the handlers finish and be answered
     * (with Connection: close) for up to DRAIN_MS */
    atomic_store(&s->draining, true);
    for (int i = 0; i < s->nloops; i++)
        for (int k = 0; k < s->nls; k++)
            epoll_ctl(s->loops[i].ep, EPOLL_CTL_DEL, s->ls[k].fd, NULL);
    /* stop listening now (new connections are refused); the descriptors are
     * closed after the loops are joined: a loop may still be in accept4 on
     * one, and a closed number could be reused meanwhile */
    for (int k = 0; k < s->nls; k++)
        shutdown(s->ls[k].fd, SHUT_RDWR);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DRAIN_MS / 1000;
    pthread_mutex_lock(&s->qmu);
    while (s->inflight > 0 && s->nworkers > 0)
        if (pthread_cond_timedwait(&s->idle_cv, &s->qmu, &until) != 0)
            break;
    pthread_mutex_unlock(&s->qmu);
    sk_sleep_ms(20);  /* the loops write the last answers */
    atomic_store(&s->stopping, true);
    for (int i = 0; i < s->nloops; i++) {
        uint64_t one = 1;
        if (s->loops[i].wfd >= 0 && write(s->loops[i].wfd, &one, sizeof one) < 0)
            sk_debug("event=http_wake_failed err=\"%s\"", strerror(errno));
    }
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].th)
            pthread_join(s->loops[i].th, NULL);
    pthread_mutex_lock(&s->qmu);
    s->qstop = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    server_free(s);
}
