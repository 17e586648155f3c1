/* rpc/httpc_io.c — minimal blocking HTTP/1.1 keep-alive client; see httpc.h. */
#include "rpc/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_MAX 16384 /* response head limit */

struct httpc {
    char host[128];
    int port;
    char hostport[160];
    int timeout_ms;
    int fd;                 /* -1 = not connected */
    int nreq;               /* requests served on this connection */
    char *buf;              /* response buffer: head + body */
    size_t cap, len;
    char *body;             /* decoded body (separate when chunked) */
};

const char *httpc_strerror(httpc_err e)
{
    switch (e) {
    case HTTPC_OK: return "ok";
    case HTTPC_EURL: return "bad_url";
    case HTTPC_ECONNECT: return "connect";
    case HTTPC_ETIMEOUT: return "timeout";
    case HTTPC_EIO: return "io";
    case HTTPC_EPROTO: return "protocol";
    case HTTPC_ETOOBIG: return "too_big";
    case HTTPC_ENOMEM: return "nomem";
    }
    return "unknown";
}

httpc *httpc_new(const char *url, int timeout_ms)
{
    if (url == NULL || strncmp(url, "http://", 7) != 0)
        return NULL;
    const char *hp = url + 7;
    size_t n = strcspn(hp, "/");
    char tmp[160];
    if (n == 0 || n >= sizeof tmp)
        return NULL;
    memcpy(tmp, hp, n);
    tmp[n] = '\0';
    httpc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    char *colon = strrchr(tmp, ':');
    if (colon == NULL) {
        sk_strlcpy(c->host, tmp, sizeof c->host);
        c->port = 80;
    } else {
        *colon = '\0';
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end != '\0' || p <= 0 || p > 65535 || colon == tmp) {
            free(c);
            return NULL;
        }
        sk_strlcpy(c->host, tmp, sizeof c->host);
        c->port = (int)p;
    }
    snprintf(c->hostport, sizeof c->hostport, "%s:%d", c->host, c->port);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    c->fd = -1;
    return c;
}

void httpc_close(httpc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->nreq = 0;
}

void httpc_free(httpc *c)
{
    if (c == NULL)
        return;
    httpc_close(c);
    free(c->buf);
    free(c->body);
    free(c);
}

static int remaining(int64_t deadline)
{
    int64_t r = deadline - sk_mono_ms();
    return r < 0 ? 0 : (int)r;
}

static httpc_err do_connect(httpc *c, int64_t deadline)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof port, "%d", c->port);
    /* numeric hosts resolve without I/O; names use the system resolver */
    if (getaddrinfo(c->host, port, &hints, &ai) != 0 || ai == NULL)
        return HTTPC_ECONNECT;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return HTTPC_ECONNECT;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && errno != EINPROGRESS) {
        close(fd);
        return HTTPC_ECONNECT;
    }
    if (rc != 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int pr;
        do
            pr = poll(&p, 1, remaining(deadline));
        while (pr < 0 && errno == EINTR);
        if (pr == 0) {
            close(fd);
            return HTTPC_ETIMEOUT;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            close(fd);
            return HTTPC_ECONNECT;
        }
    }
    c->fd = fd;
    c->nreq = 0;
    return HTTPC_OK;
}

static httpc_err send_all(httpc *c, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
            int r = remaining(deadline);
            if (r == 0 || poll(&pf, 1, r) == 0)
                return HTTPC_ETIMEOUT;
            continue;
        }
        return HTTPC_EIO;
    }
    return HTTPC_OK;
}

/* Read more bytes into c->buf; HTTPC_EIO on EOF. */
static httpc_err recv_some(httpc *c, int64_t deadline)
{
    if (c->len + 1 >= c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16384;
        if (ncap > HTTPC_MAX_BODY + HDR_MAX + 1)
            ncap = HTTPC_MAX_BODY + HDR_MAX + 1;
        if (ncap <= c->len + 1)
            return HTTPC_ETOOBIG;
        char *nb = realloc(c->buf, ncap);
        if (nb == NULL)
            return HTTPC_ENOMEM;
        c->buf = nb;
        c->cap = ncap;
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            c->buf[c->len] = '\0';
            return HTTPC_OK;
        }
        if (r == 0)
            return HTTPC_EIO;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            struct pollfd pf = {.fd = c->fd, .events = POLLIN};
            int rem = remaining(deadline);
            if (rem == 0)
                return HTTPC_ETIMEOUT;
            int pr = poll(&pf, 1, rem);
            if (pr == 0)
                return HTTPC_ETIMEOUT;
            continue;
        }
        return HTTPC_EIO;
    }
}

/* Case-insensitive header lookup in the head [buf, head_end). Copies the
 * value (trimmed) into out. Returns true if found. */
static bool find_header(const char *head, size_t head_len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    const char *end = head + head_len;
    while (p != NULL && p + 2 < end) {
        p += 2;
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL || eol > end)
            eol = end;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = eol;
    }
    return false;
}

/* Decode a chunked body starting at c->buf + off, reading more as needed.
 * On success c->body holds the decoded bytes (*blen). */
static httpc_err read_chunked(httpc *c, size_t off, size_t *blen, int64_t deadline)
{
    size_t pos = off, out = 0;
    free(c->body);
    c->body = NULL;
    size_t bcap = 0;
    for (;;) {
        char *eol;
        while ((eol = strstr(c->buf + pos, "\r\n")) == NULL) {
            httpc_err e = recv_some(c, deadline);
            if (e != HTTPC_OK)
                return e;
        }
        char *end;
        unsigned long long sz = strtoull(c->buf + pos, &end, 16);
        if (end == c->buf + pos)
            return HTTPC_EPROTO;
        if (sz > HTTPC_MAX_BODY || out + sz > HTTPC_MAX_BODY)
            return HTTPC_ETOOBIG;
        pos = (size_t)(eol - c->buf) + 2;
        while (c->len < pos + sz + 2) {
            httpc_err e = recv_some(c, deadline);
            if (e != HTTPC_OK)
                return e;
        }
        if (sz == 0) {
            /* no trailers supported beyond the final CRLF */
            break;
        }
        if (out + sz + 1 > bcap) {
            size_t nc = bcap ? bcap * 2 : 4096;
            while (nc < out + sz + 1)
                nc *= 2;
            char *nb = realloc(c->body, nc);
            if (nb == NULL)
                return HTTPC_ENOMEM;
            c->body = nb;
            bcap = nc;
        }
        memcpy(c->body + out, c->buf + pos, sz);
        out += sz;
        pos += sz + 2;
    }
    if (c->body == NULL) {
        c->body = malloc(1);
        if (c->body == NULL)
            return HTTPC_ENOMEM;
    }
    c->body[out] = '\0';
    *blen = out;
    return HTTPC_OK;
}

static httpc_err once(httpc *c, const char *req, size_t reqlen, const char *body, size_t blen,
                      int64_t deadline, bool *nothing_received, httpc_resp *out)
{
    *nothing_received = true;
    httpc_err e = send_all(c, req, reqlen, deadline);
    if (e == HTTPC_OK && blen > 0)
        e = send_all(c, body, blen, deadline);
    if (e != HTTPC_OK)
        return e;
    c->len = 0;
    char *hend = NULL;
    while (hend == NULL) {
        e = recv_some(c, deadline);
        if (e != HTTPC_OK)
            return e;
        *nothing_received = false;
        hend = strstr(c->buf, "\r\n\r\n");
        if (hend == NULL && c->len > HDR_MAX)
            return HTTPC_EPROTO;
    }
    size_t head_len = (size_t)(hend - c->buf) + 2;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1 || status < 100 || status > 999)
        return HTTPC_EPROTO;
    char v[64];
    bool close_after = false;
    if (find_header(c->buf, head_len, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0)
        close_after = true;
    if (strncmp(c->buf, "HTTP/1.0", 8) == 0)
        close_after = true;
    size_t off = head_len + 2;
    if (find_header(c->buf, head_len, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0) {
        size_t n;
        e = read_chunked(c, off, &n, deadline);
        if (e != HTTPC_OK)
            return e;
        out->body = c->body;
        out->len = n;
    } else if (find_header(c->buf, head_len, "Content-Length", v, sizeof v)) {
        char *end;
        unsigned long long cl = strtoull(v, &end, 10);
        if (*end != '\0')
            return HTTPC_EPROTO;
        if (cl > HTTPC_MAX_BODY)
            return HTTPC_ETOOBIG;
        while (c->len < off + cl) {
            e = recv_some(c, deadline);
            if (e != HTTPC_OK)
                return e;
        }
        c->buf[off + cl] = '\0';
        out->body = c->buf + off;
        out->len = (size_t)cl;
    } else if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
        out->body = c->buf + off;
        c->buf[off] = '\0';
        out->len = 0;
    } else {
        /* body until EOF */
        for (;;) {
            e = recv_some(c, deadline);
            if (e == HTTPC_EIO)
                break;
            if (e != HTTPC_OK)
                return e;
        }
        close_after = true;
        out->body = c->buf + off;
        out->len = c->len - off;
    }
    out->status = status;
    if (close_after)
        httpc_close(c);
    else
        c->nreq++;
    return HTTPC_OK;
}

httpc_err httpc_request(httpc *c, const char *method, const char *path, const char *auth_token,
                        const char *body, size_t len, httpc_resp *out)
{
    int64_t deadline = sk_mono_ms() + c->timeout_ms;
    char req[1024];
    char auth[300] = "";
    if (auth_token != NULL && auth_token[0] != '\0') {
        int an = snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", auth_token);
        if (an < 0 || (size_t)an >= sizeof auth)
            return HTTPC_EURL;
    }
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s\r\n%s%sContent-Length: %zu\r\n\r\n", method, path,
                     c->hostport, auth, body ? "Content-Type: application/json\r\n" : "", body ? len : 0);
    if (n < 0 || (size_t)n >= sizeof req)
        return HTTPC_EURL;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = c->fd >= 0 && c->nreq > 0;
        if (c->fd < 0) {
            httpc_err e = do_connect(c, deadline);
            if (e != HTTPC_OK)
                return e;
        }
        bool nothing = true;
        httpc_err e = once(c, req, (size_t)n, body, body ? len : 0, deadline, &nothing, out);
        if (e == HTTPC_OK)
            return HTTPC_OK;
        httpc_close(c);
        /* a stale keep-alive connection: the server closed it before reading */
        if (!(reused && nothing && e == HTTPC_EIO))
            return e;
    }
    return HTTPC_EIO;
}
