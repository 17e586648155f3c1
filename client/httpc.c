/* client/httpc.c — minimal blocking HTTP/1.1 keep-alive client that signs
 * its requests and verifies the answers' signatures, over TCP or TLS
 * (OpenSSL, the server verified against a pinned CA); see httpc.h. */
#include "client/httpc.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
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
    bool tls;               /* https:// */
    SSL *ssl;               /* the TLS session on fd (tls only) */
    int nreq;               /* requests served on this connection */
    char *buf;              /* response buffer: head + body */
    size_t cap, len;
    char *body;             /* decoded body (separate when chunked) */
    const auth_key *key;    /* signs requests; NULL = unsigned */
    char sigv[HTTPC_SIG_MAX];  /* Skip-Signature of the last response ("" = none) */
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
    case HTTPC_ESIG: return "bad_signature";
    case HTTPC_ETLS: return "tls";
    }
    return "unknown";
}

/* ---- TLS: one client context per process ---- */

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *g_tls;      /* guarded by tls_mu until set; then read-only */
static bool g_tls_tried;

static int tls_fail(char *err, size_t cap, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char es[200] = "";
    if (e != 0)
        ERR_error_string_n(e, es, sizeof es);
    ERR_clear_error();
    snprintf(err, cap, "%s%s%s%s%s", what, file ? " " : "", file ? file : "", es[0] ? ": " : "", es);
    return -1;
}

static SSL_CTX *tls_ctx_new(const char *ca, const char *cert, const char *key, char *err, size_t cap)
{
    SSL_CTX *x = SSL_CTX_new(TLS_client_method());
    if (x == NULL) {
        tls_fail(err, cap, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION);
    SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    int ok = 1;
    if (ca != NULL && *ca != '\0')
        ok = SSL_CTX_load_verify_locations(x, ca, NULL) == 1 || tls_fail(err, cap, "cannot load CA", ca) > 0;
    else
        ok = SSL_CTX_set_default_verify_paths(x) == 1 || tls_fail(err, cap, "no system CA store", NULL) > 0;
    if (ok && cert != NULL && *cert != '\0') {
        const char *k = key != NULL && *key != '\0' ? key : cert;
        ok = (SSL_CTX_use_certificate_chain_file(x, cert) == 1 ||
              tls_fail(err, cap, "cannot load client certificate", cert) > 0) &&
             (SSL_CTX_use_PrivateKey_file(x, k, SSL_FILETYPE_PEM) == 1 ||
              tls_fail(err, cap, "cannot load client key", k) > 0) &&
             (SSL_CTX_check_private_key(x) == 1 || tls_fail(err, cap, "client key does not match", cert) > 0);
    }
    if (!ok) {
        SSL_CTX_free(x);
        return NULL;
    }
    return x;
}

int httpc_tls_setup(const char *ca, const char *cert, const char *key, char *err, size_t cap)
{
    SSL_CTX *x = tls_ctx_new(ca, cert, key, err, cap);
    if (x == NULL)
        return -1;
    pthread_mutex_lock(&tls_mu);
    bool set = g_tls != NULL;
    if (!set) {
        g_tls = x;
        g_tls_tried = true;
    }
    pthread_mutex_unlock(&tls_mu);
    if (set) {
        SSL_CTX_free(x);
        snprintf(err, cap, "TLS settings already in use (httpc_tls_setup before the first https request)");
        return -1;
    }
    return 0;
}

/* The context: httpc_tls_setup's, else one from $SKIP_CA, $SKIP_CLIENT_CERT,
 * $SKIP_CLIENT_KEY (made once; a failure said once on stderr). */
static SSL_CTX *tls_ctx(void)
{
    pthread_mutex_lock(&tls_mu);
    if (g_tls == NULL && !g_tls_tried) {
        g_tls_tried = true;
        char err[400];
        g_tls = tls_ctx_new(getenv("SKIP_CA"), getenv("SKIP_CLIENT_CERT"), getenv("SKIP_CLIENT_KEY"), err, sizeof err);
        if (g_tls == NULL)
            fprintf(stderr, "skipstore client: TLS: %s\n", err);
    }
    SSL_CTX *x = g_tls;
    pthread_mutex_unlock(&tls_mu);
    return x;
}

httpc *httpc_new(const char *url, int timeout_ms)
{
    if (url == NULL)
        return NULL;
    bool tls = strncmp(url, "https://", 8) == 0;
    if (!tls && strncmp(url, "http://", 7) != 0)
        return NULL;
    const char *hp = url + (tls ? 8 : 7);
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
        c->port = tls ? 443 : 80;
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
    c->tls = tls;
    c->key = httpc_default_key();
    return c;
}

void httpc_set_key(httpc *c, const auth_key *k) { c->key = k; }

/* ---- the process's keys: $SKIP_KEYS, loaded once ---- */

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static auth_keys *g_keys;
static char g_keys_err[300];

static void keys_load(void)
{
    const char *path = getenv("SKIP_KEYS");
    if (path == NULL || *path == '\0')
        return;
    g_keys = auth_keys_load(path, sk_now_ms() / 1000, g_keys_err, sizeof g_keys_err);
    if (g_keys == NULL)
        fprintf(stderr, "skipstore client: SKIP_KEYS: %s (requests go unsigned)\n", g_keys_err);
}

const auth_key *httpc_key(const char *id, const char *role)
{
    pthread_once(&keys_once, keys_load);
    if (g_keys == NULL)
        return NULL;
    int64_t now = sk_now_ms() / 1000;
    if (id != NULL && *id != '\0')
        return auth_key_find(g_keys, id, now);
    const auth_key *best = NULL;
    for (int i = 0; i < g_keys->n; i++) {
        const auth_key *k = &g_keys->keys[i];
        if (role != NULL && strcmp(auth_role_name(k->role), role) != 0)
            continue;
        if (auth_key_find(g_keys, k->id, now) == NULL)
            continue;
        if (best == NULL || (k->all_merchants && !best->all_merchants))
            best = k; /* the widest scope of that role */
    }
    return best;
}

const auth_key *httpc_default_key(void) { return httpc_key(getenv("SKIP_KEY_ID"), "admin"); }

/* A fresh nonce: 24 characters of [A-Za-z0-9]. */
static void new_nonce(char out[25])
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[24];
    if (RAND_bytes(r, sizeof r) != 1)
        abort(); /* no randomness: never sign with a guessable nonce */
    for (int i = 0; i < 24; i++)
        out[i] = al[r[i] % (sizeof al - 1)];
    out[24] = '\0';
}

void httpc_close(httpc *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl); /* one close_notify, not waited for (non-blocking socket) */
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
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

/* Wait until fd is ready for what OpenSSL asked (SSL_get_error's code). */
static httpc_err tls_wait(httpc *c, int code, int64_t deadline)
{
    if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE)
        return HTTPC_EIO;
    struct pollfd pf = {.fd = c->fd, .events = code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
    int r = remaining(deadline);
    if (r == 0)
        return HTTPC_ETIMEOUT;
    int pr;
    do
        pr = poll(&pf, 1, r);
    while (pr < 0 && errno == EINTR);
    return pr == 0 ? HTTPC_ETIMEOUT : HTTPC_OK;
}

/* The TLS handshake on the connected fd: the server's certificate must chain
 * to the CA and name the host (an IP address host: an IP SAN). */
static httpc_err tls_handshake(httpc *c, int64_t deadline)
{
    SSL_CTX *x = tls_ctx();
    if (x == NULL || (c->ssl = SSL_new(x)) == NULL) {
        httpc_close(c);
        return HTTPC_ETLS;
    }
    SSL_set_fd(c->ssl, c->fd);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, c->host, ip) == 1 || inet_pton(AF_INET6, c->host, ip) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) : X509_VERIFY_PARAM_set1_host(vp, c->host, 0);
    if (ok && !is_ip)
        ok = SSL_set_tlsext_host_name(c->ssl, c->host);
    if (!ok) {
        httpc_close(c);
        return HTTPC_ETLS;
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return HTTPC_OK;
        int code = SSL_get_error(c->ssl, r);
        httpc_err e = tls_wait(c, code, deadline);
        if (e == HTTPC_OK)
            continue;
        httpc_close(c);
        return e == HTTPC_ETIMEOUT ? e : HTTPC_ETLS;
    }
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
    return c->tls ? tls_handshake(c, deadline) : HTTPC_OK;
}

static httpc_err send_all(httpc *c, const char *p, size_t n, int64_t deadline)
{
    while (c->ssl != NULL && n > 0) {
        int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        httpc_err e = tls_wait(c, SSL_get_error(c->ssl, w), deadline);
        if (e != HTTPC_OK)
            return e;
    }
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
    while (c->ssl != NULL) {
        size_t room = c->cap - 1 - c->len;
        int r = SSL_read(c->ssl, c->buf + c->len, room > INT32_MAX ? INT32_MAX : (int)room);
        if (r > 0) {
            c->len += (size_t)r;
            c->buf[c->len] = '\0';
            return HTTPC_OK;
        }
        /* ZERO_RETURN (close_notify), SYSCALL/SSL (EOF, reset): EIO */
        httpc_err e = tls_wait(c, SSL_get_error(c->ssl, r), deadline);
        if (e != HTTPC_OK)
            return e;
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
    /* head and body in one write when they fit: one TCP segment and one TLS
     * record per request, so the server reads it whole in one go */
    char one[4096];
    httpc_err e;
    if (blen > 0 && reqlen + blen <= sizeof one) {
        memcpy(one, req, reqlen);
        memcpy(one + reqlen, body, blen);
        e = send_all(c, one, reqlen + blen, deadline);
    } else {
        e = send_all(c, req, reqlen, deadline);
        if (e == HTTPC_OK && blen > 0)
            e = send_all(c, body, blen, deadline);
    }
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
    if (!find_header(c->buf, head_len, "Skip-Signature", c->sigv, sizeof c->sigv))
        c->sigv[0] = '\0';
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

/* Check the answer's Skip-Signature against our key and nonce: a 2xx
 * must carry a valid one; any answer that carries one must be valid. */
static httpc_err verify(const httpc *c, const char *nonce, const httpc_resp *r)
{
    if (c->sigv[0] == '\0')
        return r->status >= 200 && r->status < 300 ? HTTPC_ESIG : HTTPC_OK;
    long long ts;
    if (sscanf(c->sigv, "ts=\"%lld\"", &ts) != 1)
        return HTTPC_ESIG;
    char want[HTTPC_SIG_MAX];
    auth_response_header(c->key, r->status, nonce, ts, r->body, r->len, want, sizeof want);
    return auth_ct_eq(want, c->sigv) ? HTTPC_OK : HTTPC_ESIG;
}

static httpc_err request_once(httpc *c, const char *method, const char *path, const char *body, size_t len,
                              httpc_resp *out);

/* A 401 REPLAYED for a nonce we made fresh means the request was delivered
 * twice (a balancer re-sent it after the first daemon died): sign it anew
 * and send it again, at most HTTPC_RESIGNS times (while a daemon dies the
 * re-signed request can meet the same fate). Safe: creates, pays and refunds
 * are idempotent. */
#define HTTPC_RESIGNS 3
static bool replayed(const httpc_resp *r)
{
    return r->status == 401 && r->body != NULL && strstr(r->body, "\"REPLAYED\"") != NULL;
}

httpc_err httpc_request(httpc *c, const char *method, const char *path, const char *auth_token,
                        const char *body, size_t len, httpc_resp *out)
{
    (void)auth_token;
    httpc_err e = request_once(c, method, path, body, len, out);
    for (int i = 0; i < HTTPC_RESIGNS && e == HTTPC_OK && c->key != NULL && replayed(out); i++)
        e = request_once(c, method, path, body, len, out);
    return e;
}

static httpc_err request_once(httpc *c, const char *method, const char *path, const char *body, size_t len,
                              httpc_resp *out)
{
    int64_t deadline = sk_mono_ms() + c->timeout_ms;
    char req[1024];
    char auth[400] = "", nonce[25] = "";
    if (c->key != NULL) {
        new_nonce(nonce);
        char bh[65], sig[AUTH_SIG_B64_MAX + 1];
        auth_sha256_hex(body ? body : "", body ? len : 0, bh);
        int64_t ts = sk_now_ms() / 1000;
        size_t scap = strlen(method) + strlen(path) + 160;
        char *sts = malloc(scap);
        if (sts == NULL)
            return HTTPC_ENOMEM;
        int sn = auth_request_string(method, path, ts, nonce, bh, sts, scap);
        auth_hmac_b64(c->key->secret, c->key->secret_len, sts, sn < 0 ? 0 : (size_t)sn, sig);
        free(sts);
        int an = snprintf(auth, sizeof auth,
                          "Authorization: SKIP-HMAC-SHA256 key=\"%s\", ts=\"%lld\", nonce=\"%s\", sig=\"%s\"\r\n",
                          c->key->id, (long long)ts, nonce, sig);
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
            return c->key != NULL ? verify(c, nonce, out) : HTTPC_OK;
        httpc_close(c);
        /* a stale keep-alive connection: the server closed it before reading */
        if (!(reused && nothing && e == HTTPC_EIO))
            return e;
    }
    return HTTPC_EIO;
}
