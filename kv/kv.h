/*
 * kv/kv.h — Redis adapter with bounded timeouts, AUTH, optional TLS and
 * fast failure.
 *
 * A small pool of connections (kv/conn.h: our own socket + OpenSSL
 * transport; hiredis only formats commands and parses replies) guarded by
 * a mutex; every connect and command has the configured timeout. A new
 * connection sends AUTH first when a password is configured; a refused AUTH
 * is a failed connect. When a command fails the adapter marks Redis down
 * and, until the background health check (kv_check, called by the counter
 * refresher) sees it answer again, callers get an immediate failure instead
 * of waiting on a sick server. That keeps the request path from paying a
 * timeout per request while Redis is out.
 *
 * Thread-safe. Replies are owned by the caller (freeReplyObject).
 */
#ifndef KV_H
#define KV_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include "common/sk.h"
#include "config/conf.h"

typedef struct kv kv;

typedef struct {
    bool enabled;              /* TLS or no connection */
    bool verify_server_cert;   /* chain to ca (the only trust anchor) + server name/IP */
    const char *ca;            /* NULL/"" = none */
    const char *cert;          /* client certificate chain; with key */
    const char *key;
    const char *server_name;   /* checked and sent as SNI; NULL/"" = host of addr */
} kv_tls_opts;

/* What kv_create needs. Pointers are borrowed: kv_create copies what it keeps. */
typedef struct {
    const char *addr;          /* "host:port" */
    int timeout_ms;            /* connect (+TLS handshake), AUTH, and each command; 1..60000 */
    const char *username;      /* ACL user for AUTH; NULL/"" = AUTH with the password only */
    const char *password;      /* NULL/"" = no AUTH */
    kv_tls_opts tls;
} kv_opts;

/* Pure: 0 if the options make sense, else -1 and why in err (no file is read). */
int kv_opts_check(const kv_opts *o, char *err, size_t errcap) SK_WUR;

/* The options of a loaded config's redis section (pointers into c). */
void kv_opts_from_conf(kv_opts *o, const conf *c);

/*
 * Owned handle, or NULL with why in err: bad options, or TLS files that do
 * not load (the CA, certificate and key are read here, once). Does no
 * network I/O: Redis may be down at create time.
 */
kv *kv_create(const kv_opts *o, char *err, size_t errcap);

/* Was k made with these options (same address, timeout, credentials, TLS
 * settings)? A reload keeps the handle when so. */
bool kv_same_opts(const kv *k, const kv_opts *o);

/* kv_create with kv_opts_from_conf(c) and this timeout. */
kv *kv_create_conf(const conf *c, int timeout_ms, char *err, size_t errcap);

void kv_destroy(kv *k);

/* Is Redis believed reachable right now? (no I/O) */
bool kv_up(const kv *k);

/* Run one command (hiredis argv form). Returns an owned reply, or NULL when
 * Redis is down, timed out or answered with an error reply (logged at debug). */
redisReply *kv_cmdargv(kv *k, int argc, const char **argv, const size_t *lens);

/* printf-style convenience (hiredis format: %s, %b, %d ...). */
redisReply *kv_cmd(kv *k, const char *fmt, ...);

/* Background health check: PING with the timeout (reconnecting if needed);
 * updates kv_up(). Returns the new state; a change is logged at warn with
 * the reason (e.g. a refused AUTH, a failed handshake). Call from one
 * background thread. */
bool kv_check(kv *k);

/*
 * The AUTH command for these options (pure): argc 0 when no password is
 * configured, else 2 (AUTH password) or 3 (AUTH username password), with
 * argv pointing into o.
 */
int kv_auth_argv(const kv_opts *o, const char *argv[3], size_t lens[3]);

/*
 * A subscription on its own connection (AUTH and TLS as every connection
 * of k): kv_subscribe connects and SUBSCRIBEs (NULL on failure; the reason
 * is logged like any connect failure of k). kv_sub_wait waits up to
 * timeout_ms: 1 a message, 2 another push (e.g. the answer to kv_sub_ping:
 * the connection is alive), 0 nothing came, -1 the connection is dead
 * (close it and subscribe again). Used by one thread.
 */
typedef struct kv_sub kv_sub;
kv_sub *kv_subscribe(kv *k, const char *channel);
int kv_sub_wait(kv_sub *s, int timeout_ms);
int kv_sub_ping(kv_sub *s);   /* 0, or -1 when the connection is dead */
void kv_sub_close(kv_sub *s);

#endif
