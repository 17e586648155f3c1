/*
 * kv/conn.h — one Redis connection: our own transport under hiredis's
 * protocol code (Debian's hiredis 0.14 has no TLS).
 *
 * hiredis formats commands (redisFormatCommandArgv / redisvFormatCommand)
 * and parses replies (redisReader); this file owns the socket: a
 * non-blocking connect bounded by a deadline, an optional OpenSSL session
 * (chain checked against the pinned CA, the server's name or IP checked,
 * SNI for names), and reads/writes that each wait with poll() until the
 * command's deadline. Nothing here blocks past the deadline it is given,
 * except name resolution of a non-numeric host (getaddrinfo has no timeout).
 * Writes never raise SIGPIPE (MSG_NOSIGNAL, also under TLS).
 *
 * A kvc is used by one thread at a time. Error detail is in the handle
 * (kvc_err), never in globals; after any failure the connection is dead
 * and the caller closes it.
 */
#ifndef KV_CONN_H
#define KV_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>
#include <hiredis/hiredis.h>

/* A reply larger than this is a protocol failure (no unbounded buffer). */
#define KVC_REPLY_MAX (64u * 1024u * 1024u)

typedef struct kvc kvc;

typedef struct {
    const char *host;
    int port;
    int timeout_ms;           /* TCP connect + TLS handshake */
    SSL_CTX *tls;             /* NULL = plaintext; else borrowed, outlives the kvc */
    bool verify_name;         /* check server_name (or host) in the server certificate */
    const char *server_name;  /* NULL/"" = host */
} kvc_opts;

/* Connect (and handshake). NULL with the reason in err on failure. */
kvc *kvc_connect(const kvc_opts *o, char *err, size_t errcap);

/* A plaintext kvc over an already connected socket (tests, socketpair);
 * takes ownership of fd. NULL on out of memory (fd closed). */
kvc *kvc_wrap_fd(int fd);

/*
 * Send one formatted command (RESP bytes) and read its reply, all within
 * timeout_ms. 0 and *out = an owned reply (freeReplyObject; may be a
 * REDIS_REPLY_ERROR), or -1 on an I/O error, timeout, protocol error or a
 * reply over KVC_REPLY_MAX (reason in kvc_err; the connection is dead).
 */
int kvc_call(kvc *c, const char *cmd, size_t len, int timeout_ms, redisReply **out);

/*
 * Wait up to timeout_ms for a reply the server sends on its own (a
 * subscription's messages). 1 and *out (owned), 0 when nothing came (the
 * connection is still good), -1 when it is dead (reason in kvc_err).
 */
int kvc_wait(kvc *c, int timeout_ms, redisReply **out);

/* Send one formatted command without waiting for its reply (kvc_wait reads it). */
int kvc_send(kvc *c, const char *cmd, size_t len, int timeout_ms);

/* Lower the reply size limit of this connection (tests). */
void kvc_set_reply_max(kvc *c, size_t max);

/* Did the last failure of this connection come from its deadline (a slow
 * server) rather than a reset, EOF or protocol error (a dead one)? */
bool kvc_timed_out(const kvc *c);

/* Last error of this connection ("" if none). */
const char *kvc_err(const kvc *c);

/* Is the session TLS? (for logs and tests) */
bool kvc_is_tls(const kvc *c);

void kvc_close(kvc *c);

/*
 * The client TLS context for kv: TLS 1.2+, the CA file as the only trust
 * anchor (no system store) when verify, the client certificate chain and
 * key when given. NULL with the OpenSSL reason in err.
 */
SSL_CTX *kvc_tls_ctx(const char *ca, const char *cert, const char *key, bool verify, char *err, size_t errcap);

#endif
