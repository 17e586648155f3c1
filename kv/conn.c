/* kv/conn.c — one Redis connection: socket, optional TLS, RESP via hiredis (conn.h). */
#include "kv/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/sk.h"

struct kvc {
    int fd;
    SSL *ssl;              /* NULL = plaintext */
    redisReader *rd;
    size_t reply_max;
    bool timed_out;        /* the last failure was a deadline */
    char err[200];
};

static int fail(kvc *c, const char *fmt, ...) SK_PRINTF(2, 3);
static int fail(kvc *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* The first queued OpenSSL error, or `dflt`; clears the queue. */
static const char *ssl_reason(char *buf, size_t cap, const char *dflt)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(buf, cap, "%s", dflt);
    } else {
        ERR_error_string_n(e, buf, cap);
        ERR_clear_error();
    }
    return buf;
}

/* ------------------------------------------------------------------------ */
/* waiting                                                                   */

/* Wait for ev on fd until deadline (monotonic ms): 0 ready, -1 timeout or error. */
static int wait_fd(kvc *c, short ev, int64_t deadline_ms, const char *what)
{
    for (;;) {
        int64_t left = deadline_ms - sk_mono_ms();
        if (left <= 0) {
            c->timed_out = true;
            return fail(c, "%s: timed out", what);
        }
        struct pollfd p = {.fd = c->fd, .events = ev};
        int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0)
            return 0;  /* ready, or an error/hangup the next read/write reports */
        if (r < 0 && errno != EINTR)
            return fail(c, "%s: poll: %s", what, strerror(errno));
    }
}

/* ------------------------------------------------------------------------ */
/* a socket BIO that never raises SIGPIPE                                     */

/* OpenSSL writes to the socket with write(2): a peer that closed the
 * connection would kill a process that does not ignore SIGPIPE (skipctl,
 * skipbench). Same BIO as BIO_s_socket, with send(MSG_NOSIGNAL). */
static BIO_METHOD *nosig_meth;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    ssize_t r = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)r;
}

static int nosig_read(BIO *b, char *buf, int len)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    ssize_t r = recv(fd, buf, (size_t)len, 0);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static void nosig_init(void)
{
    const BIO_METHOD *s = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "kv socket");
    if (m == NULL)
        return;
    BIO_meth_set_write(m, nosig_write);
    BIO_meth_set_read(m, nosig_read);
    BIO_meth_set_puts(m, BIO_meth_get_puts(s));
    BIO_meth_set_gets(m, BIO_meth_get_gets(s));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(s));
    BIO_meth_set_create(m, BIO_meth_get_create(s));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(s));
    BIO_meth_set_callback_ctrl(m, BIO_meth_get_callback_ctrl(s));
    nosig_meth = m;
}

/* ------------------------------------------------------------------------ */
/* connect                                                                   */

static kvc *kvc_new(int fd)
{
    kvc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->reply_max = KVC_REPLY_MAX;
    c->rd = redisReaderCreate();
    if (c->rd == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

kvc *kvc_wrap_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    kvc *c = kvc_new(fd);
    if (c == NULL)
        close(fd);
    return c;
}

/* TCP connect to the first address that answers before the deadline. */
static int tcp_connect(kvc *c, const kvc_opts *o, int64_t deadline)
{
    char port[16];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(o->host, port, &hints, &res);
    if (gai != 0)
        return fail(c, "resolve %s: %s", o->host, gai_strerror(gai));
    int rc = fail(c, "connect %s:%d: no address", o->host, o->port);
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            rc = fail(c, "socket: %s", strerror(errno));
            continue;
        }
        c->fd = fd;
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            r = wait_fd(c, POLLOUT, deadline, "connect");
            if (r == 0) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                    soerr = errno;
                if (soerr != 0) {
                    r = -1;
                    fail(c, "connect %s:%d: %s", o->host, o->port, strerror(soerr));
                }
            }
        } else if (r != 0) {
            fail(c, "connect %s:%d: %s", o->host, o->port, strerror(errno));
        }
        if (r == 0) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            rc = 0;
            break;
        }
        close(fd);
        c->fd = -1;
        rc = -1;
        if (sk_mono_ms() >= deadline)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

static bool is_ip(const char *s)
{
    unsigned char b[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int tls_handshake(kvc *c, const kvc_opts *o, int64_t deadline)
{
    char why[160];
    pthread_once(&nosig_once, nosig_init);
    if (nosig_meth == NULL)
        return fail(c, "tls: no BIO method");
    c->ssl = SSL_new(o->tls);
    BIO *bio = c->ssl ? BIO_new(nosig_meth) : NULL;
    if (bio == NULL)
        return fail(c, "tls: %s", ssl_reason(why, sizeof why, "out of memory"));
    BIO_set_fd(bio, c->fd, BIO_NOCLOSE);
    SSL_set_bio(c->ssl, bio, bio);
    const char *name = o->server_name && o->server_name[0] ? o->server_name : o->host;
    if (!is_ip(name))
        SSL_set_tlsext_host_name(c->ssl, name);  /* SNI is for names only */
    if (o->verify_name) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        int ok;
        if (is_ip(name)) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name);
        } else {
            X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = X509_VERIFY_PARAM_set1_host(vp, name, 0);
        }
        if (ok != 1)
            return fail(c, "tls: cannot check the name %s", name);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "tls handshake") < 0)
                return -1;
            continue;
        }
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK)
            return fail(c, "tls handshake with %s:%d: server certificate: %s", o->host, o->port,
                        X509_verify_cert_error_string(vr));
        return fail(c, "tls handshake with %s:%d: %s", o->host, o->port,
                    ssl_reason(why, sizeof why, e == SSL_ERROR_SYSCALL ? "connection closed" : "failed"));
    }
}

kvc *kvc_connect(const kvc_opts *o, char *err, size_t errcap)
{
    kvc *c = kvc_new(-1);
    if (c == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    int64_t deadline = sk_mono_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 1);
    if (tcp_connect(c, o, deadline) < 0 || (o->tls != NULL && tls_handshake(c, o, deadline) < 0)) {
        snprintf(err, errcap, "%s", c->err);
        kvc_close(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* I/O                                                                       */

static int io_write(kvc *c, const char *p, size_t n, int64_t deadline)
{
    char why[160];
    while (n > 0) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, n > (size_t)INT32_MAX ? INT32_MAX : (int)n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "write") < 0)
                    return -1;
                continue;
            }
            return fail(c, "tls write: %s", ssl_reason(why, sizeof why, "connection lost"));
        }
        ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT, deadline, "write") < 0)
                return -1;
        } else if (!(r < 0 && errno == EINTR)) {
            return fail(c, "write: %s", r == 0 ? "nothing written" : strerror(errno));
        }
    }
    return 0;
}

/* Some bytes (> 0), or -1. */
static ssize_t io_read(kvc *c, char *buf, size_t cap, int64_t deadline)
{
    char why[160];
    for (;;) {
        if (c->ssl != NULL) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, buf, (int)cap);
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "read") < 0)
                    return -1;
                continue;
            }
            if (e == SSL_ERROR_ZERO_RETURN)
                return fail(c, "read: server closed the connection");
            return fail(c, "tls read: %s", ssl_reason(why, sizeof why, "connection lost"));
        }
        ssize_t r = recv(c->fd, buf, cap, 0);
        if (r > 0)
            return r;
        if (r == 0)
            return fail(c, "read: server closed the connection");
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(c, POLLIN, deadline, "read") < 0)
                return -1;
        } else if (errno != EINTR) {
            return fail(c, "read: %s", strerror(errno));
        }
    }
}

int kvc_call(kvc *c, const char *cmd, size_t len, int timeout_ms, redisReply **out)
{
    *out = NULL;
    c->timed_out = false;
    int64_t deadline = sk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    if (c->fd < 0)
        return fail(c, "not connected");
    if (io_write(c, cmd, len, deadline) < 0)
        return -1;
    size_t fed = 0;
    char buf[16384];
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->rd, &reply) != REDIS_OK)
            return fail(c, "protocol error: %s", c->rd->errstr);
        if (reply != NULL) {
            *out = reply;
            return 0;
        }
        ssize_t n = io_read(c, buf, sizeof buf, deadline);
        if (n < 0)
            return -1;
        fed += (size_t)n;
        if (fed > c->reply_max)
            return fail(c, "reply larger than %zu bytes", c->reply_max);
        if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
            return fail(c, "protocol error: %s", c->rd->errstr);
    }
}

int kvc_send(kvc *c, const char *cmd, size_t len, int timeout_ms)
{
    c->timed_out = false;
    if (c->fd < 0)
        return fail(c, "not connected");
    return io_write(c, cmd, len, sk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1)) < 0 ? -1 : 0;
}

int kvc_wait(kvc *c, int timeout_ms, redisReply **out)
{
    *out = NULL;
    c->timed_out = false;
    if (c->fd < 0)
        return fail(c, "not connected");
    int64_t deadline = sk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    char buf[16384];
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->rd, &reply) != REDIS_OK)
            return fail(c, "protocol error: %s", c->rd->errstr);
        if (reply != NULL) {
            *out = reply;
            return 1;
        }
        /* nothing buffered: is anything there before the deadline? (a quiet
         * connection is not a failure here) */
        if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
            int64_t left = deadline - sk_mono_ms();
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr < 0)
                return fail(c, "poll: %s", strerror(errno));
            if (pr == 0)
                return 0;
        }
        /* data (or EOF) is there: a record or a reply in progress is read to
         * its end within one more timeout */
        ssize_t n = io_read(c, buf, sizeof buf, sk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1));
        if (n < 0)
            return -1;
        if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
            return fail(c, "protocol error: %s", c->rd->errstr);
    }
}

const char *kvc_err(const kvc *c) { return c->err; }

bool kvc_timed_out(const kvc *c) { return c->timed_out; }

void kvc_set_reply_max(kvc *c, size_t max) { c->reply_max = max; }

bool kvc_is_tls(const kvc *c) { return c->ssl != NULL; }

void kvc_close(kvc *c)
{
    if (c == NULL)
        return;
    if (c->ssl != NULL)
        SSL_free(c->ssl);  /* no close_notify: the session may be broken, and we do not wait */
    if (c->fd >= 0)
        close(c->fd);
    if (c->rd != NULL)
        redisReaderFree(c->rd);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* TLS context                                                               */

SSL_CTX *kvc_tls_ctx(const char *ca, const char *cert, const char *key, bool verify, char *err, size_t errcap)
{
    char why[160];
    ERR_clear_error();
    SSL_CTX *x = SSL_CTX_new(TLS_client_method());
    if (x == NULL) {
        snprintf(err, errcap, "tls: %s", ssl_reason(why, sizeof why, "cannot make a context"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
    /* SSL_write may be retried with the same bytes after WANT_WRITE */
    SSL_CTX_set_mode(x, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const char *what = NULL;
    if (ca != NULL && ca[0] != '\0' && SSL_CTX_load_verify_locations(x, ca, NULL) != 1)
        what = "tls ca";
    else if (cert != NULL && cert[0] != '\0' && SSL_CTX_use_certificate_chain_file(x, cert) != 1)
        what = "tls cert";
    else if (key != NULL && key[0] != '\0' && SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM) != 1)
        what = "tls key";
    else if (cert != NULL && cert[0] != '\0' && SSL_CTX_check_private_key(x) != 1)
        what = "tls key does not match cert";
    if (what != NULL) {
        snprintf(err, errcap, "%s: %s", what, ssl_reason(why, sizeof why, "failed"));
        SSL_CTX_free(x);
        return NULL;
    }
    SSL_CTX_set_verify(x, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return x;
}
