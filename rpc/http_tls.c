/*
 * rpc/http_tls.c — TLS of the HTTP edge (http.c): the server context
 * (listen_tls: cert, key, optional client CA; the key file must be private),
 * socket reads and writes through OpenSSL or plain recv/send, and the
 * non-blocking handshake of an accepted TLS connection (loop thread).
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

static void tls_err(char *err, size_t cap, const char *what, const char *file)
{
    char e[256] = "unknown error";
    unsigned long code = ERR_get_error();
    if (code)
        ERR_error_string_n(code, e, sizeof e);
    ERR_clear_error();
    snprintf(err, cap, "%s %s: %s", what, file, e);
}

/* ------------------------------------------------------------------ socket I/O */

/* >0 bytes, 0 end of stream, -1 would block, -2 error */
ssize_t conn_recv(conn *c, char *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return r;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
    }
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
    c->ssl_want_write = false;
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return -1;
    case SSL_ERROR_WANT_WRITE: c->ssl_want_write = true; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: ERR_clear_error(); return -2;
    }
}

/* >0 bytes written, -1 would block, -2 error */
ssize_t conn_send(conn *c, const char *buf, size_t n)
{
    if (!c->ssl) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
    c->ssl_want_read = false;
    if (r > 0)
        return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_WRITE: return -1;
    case SSL_ERROR_WANT_READ: c->ssl_want_read = true; return -1;
    default: ERR_clear_error(); return -2;
    }
}

/* ------------------------------------------------------------------ TLS handshake */

void handshake(conn *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->state = CS_IDLE;
        c->ssl_want_write = false;
        update_events(c);
        ready_push(c);  /* the first request may already be decrypted and buffered */
        return;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        c->ssl_want_write = false;
        update_events(c);
        return;
    case SSL_ERROR_WANT_WRITE:
        c->ssl_want_write = true;
        update_events(c);
        return;
    default: {
        atomic_fetch_add(&g_tls_fail, 1);
        if (sk_log_get_level() <= SK_LOG_DEBUG) {
            char e[160] = "";
            unsigned long code = ERR_peek_error();
            if (code)
                ERR_error_string_n(code, e, sizeof e);
            sk_debug("event=tls_handshake_failed err=\"%s\"", e);
        }
        ERR_clear_error();
        conn_close(c);
    }
    }
}

/* ------------------------------------------------------------------ server context */

/* A private key must not be readable by group or others. */
static int key_mode_ok(const char *path, char *err, size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, cap, "tls.key %s: %s", path, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, cap, "tls.key %s: mode %04o lets group or others read the private key; chmod 600 it", path,
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

SSL_CTX *tls_context(const http_opts *o, char *err, size_t cap)
{
    if (o->tls_cert == NULL || o->tls_cert[0] == '\0' || o->tls_key == NULL || o->tls_key[0] == '\0') {
        snprintf(err, cap, "listen_tls needs tls.cert and tls.key");
        return NULL;
    }
    if (key_mode_ok(o->tls_key, err, cap) != 0)
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        tls_err(err, cap, "TLS context", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_sess_set_cache_size(ctx, 1024);
    /* TLS 1.2: forward secrecy and AEAD only; TLS 1.3 suites are all fine */
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL") != 1) {
        tls_err(err, cap, "cipher list", "");
        goto bad;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
        tls_err(err, cap, "tls.cert", o->tls_cert);
        goto bad;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
        tls_err(err, cap, "tls.key", o->tls_key);
        goto bad;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_err(err, cap, "tls.key does not match tls.cert", o->tls_key);
        goto bad;
    }
    if (o->tls_client_ca != NULL && o->tls_client_ca[0] != '\0') {
        /* the pinned CA is the only trust store: no default paths */
        if (SSL_CTX_load_verify_locations(ctx, o->tls_client_ca, NULL) != 1) {
            tls_err(err, cap, "tls.client_ca", o->tls_client_ca);
            goto bad;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_client_ca);
        if (names == NULL) {
            tls_err(err, cap, "tls.client_ca (no certificate in it)", o->tls_client_ca);
            goto bad;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_verify_depth(ctx, 4);
        /* sessions resumed across CAs would skip the check: keep them to this context */
        static const unsigned char sid[] = "skipstored";
        SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    }
    return ctx;
bad:
    SSL_CTX_free(ctx);
    return NULL;
}

