/*
 * kv/kv.h — Redis adapter (hiredis) with bounded timeouts and fast failure.
 *
 * A small pool of blocking hiredis contexts guarded by a mutex; every
 * connect and command has the configured timeout. When a command fails the
 * adapter marks Redis down and, until the background health check
 * (kv_check, called by the counter refresher) sees it answer again, callers
 * get an immediate failure instead of waiting on a sick server. That keeps
 * the request path from paying a timeout per request while Redis is out.
 *
 * Thread-safe. Replies are owned by the caller (freeReplyObject).
 */
#ifndef KV_H
#define KV_H

#include <stdbool.h>
#include <hiredis/hiredis.h>
#include "common/sk.h"

typedef struct kv kv;

/* addr "host:port"; timeout_ms applies to connect and to each command. */
kv *kv_create(const char *addr, int timeout_ms);
void kv_destroy(kv *k);

/* Is Redis believed reachable right now? (no I/O) */
bool kv_up(const kv *k);

/* Run one command (hiredis argv form). Returns an owned reply, or NULL when
 * Redis is down, timed out or answered with an error reply (logged at debug). */
redisReply *kv_cmdargv(kv *k, int argc, const char **argv, const size_t *lens);

/* printf-style convenience (hiredis format: %s, %b, %d ...). */
redisReply *kv_cmd(kv *k, const char *fmt, ...);

/* Background health check: PING with the timeout (reconnecting if needed);
 * updates kv_up(). Returns the new state. Call from one background thread. */
bool kv_check(kv *k);

#endif
