/*
 * common/sdnotify.h — the systemd service-manager notification protocol
 * (sd_notify(3)), without libsystemd: one datagram of "KEY=VALUE\n..." text
 * to the AF_UNIX socket named by $NOTIFY_SOCKET. A leading '@' names a socket
 * in the abstract namespace (the '@' becomes a NUL byte).
 *
 * Outside systemd (NOTIFY_SOCKET unset) every call is a no-op returning 0, so
 * ./dev and the tests run the daemons unchanged. Calls never block (the
 * datagram is sent with MSG_DONTWAIT) and may come from any thread; they are
 * not async-signal-safe (call them from the main loop, not a handler).
 *
 * Used by skipstored (daemon/ready.c) and skipstore-mirror (mirror/ready.c);
 * the units in packaging/systemd/ are Type=notify.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/sk.h"

/* Pure: fill *sa from a NOTIFY_SOCKET value ("/abs/path" or "@abstract").
 * Returns 0 and sets *len to the address length to pass to sendto(); -1 if
 * the value is NULL, empty, relative, or does not fit sun_path. */
int sdn_addr(const char *value, struct sockaddr_un *sa, socklen_t *len);

/* Pure: the RELOADING message systemd ≥ 253 wants for Type=notify-reload and
 * accepts for Type=notify: "RELOADING=1\nMONOTONIC_USEC=<mono_us>".
 * Returns snprintf's result. */
int sdn_fmt_reloading(char *buf, size_t cap, int64_t mono_us);

/* Send state (one or more "KEY=VALUE" lines) to $NOTIFY_SOCKET.
 * Returns 1 sent, 0 not under a service manager, -1 failed (errno set). */
int sdn_send(const char *state);
int sdn_sendf(const char *fmt, ...) SK_PRINTF(1, 2);

/* The messages skipstore sends. STATUS texts are made one line. */
int sdn_ready(const char *status);   /* READY=1 (+ STATUS=status when not NULL) */
int sdn_reloading(void);             /* RELOADING=1 + MONOTONIC_USEC */
int sdn_stopping(void);              /* STOPPING=1 */
int sdn_status(const char *status);  /* STATUS=status (shown by systemctl status) */

#endif
