/*
 * common/sk.h — the one status type used at module boundaries, plus the small
 * helpers every module shares (monotonic/wall clock, logging).
 *
 * sk_status is mapped to HTTP status and error code in exactly one place:
 * rpc/errors.c (sk_http_status(), sk_error_code()).
 */
#ifndef SK_H
#define SK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SK_WUR __attribute__((warn_unused_result))
#define SK_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum {
    SK_OK = 0,
    /* request errors (400) */
    SK_EINVALID_JSON,
    SK_EINVALID_ARGUMENT,
    SK_EUNKNOWN_FIELD,
    SK_EBAD_ORDER_NO,
    /* auth (401, 403) */
    SK_EUNAUTHENTICATED,
    SK_ESIGNATURE_INVALID,
    SK_EREQUEST_EXPIRED,
    SK_EREPLAYED,
    SK_EFORBIDDEN,
    /* terminals and the refund policy (403, spec §11) */
    SK_ETERMINAL_NOT_ACTIVE,
    SK_ETERMINAL_BLOCKED,
    SK_ETERMINAL_MISMATCH,
    SK_EACTIVATION_FAILED,
    SK_EREFUND_NOT_ALLOWED,
    /* lookup / routing */
    SK_ENOT_FOUND,
    SK_EMETHOD,
    /* conflicts (409) */
    SK_EDUPLICATE,          /* DUPLICATE_OUT_TRADE_NO */
    SK_EVERSION_CONFLICT,
    SK_EALREADY_PAID,
    SK_EORDER_CLOSED,
    SK_EORDER_EXPIRED,
    SK_EILLEGAL_TRANSITION,
    SK_EAMOUNT_MISMATCH,
    SK_EREFUND_EXCEEDS,
    /* size */
    SK_ETOO_LARGE,
    /* availability (503) */
    SK_ENO_WRITABLE_GROUP,
    SK_EGROUP_UNAVAILABLE,
    SK_EOVERLOADED,
    /* infrastructure outcomes used inside the daemon; never shown raw */
    SK_ETIMEDOUT,       /* outcome unknown: the statement may have committed */
    SK_EREADONLY,       /* server refused the write: read_only / super_read_only */
    SK_ECONNECT,        /* could not connect: nothing was executed */
    SK_EDB,             /* other server error; detail in the handle */
    SK_EDUPKEY,         /* unique key violation */
    SK_ENOMEM,
    SK_EINTERNAL,
    SK_EHELD,           /* an idempotency claim is held by another request */
    SK_EUNAVAILABLE,    /* a dependency (Redis) is unreachable: go on without it */
    SK_STATUS_MAX
} sk_status;

/* Static string naming the status, e.g. "SK_ETIMEDOUT". */
const char *sk_status_name(sk_status s);

/* Clocks. sk_now_ms: CLOCK_REALTIME in ms since the epoch (wall time, may step);
 * sk_mono_ms / sk_mono_us: CLOCK_MONOTONIC, for deadlines and durations. */
int64_t sk_now_ms(void);
int64_t sk_mono_ms(void);
int64_t sk_mono_us(void);
/* Sleep ms milliseconds (no-op for ms <= 0). */
void sk_sleep_ms(int64_t ms);
/* Name the calling thread (top -H, perf, /proc/PID/task/TID/comm): the
 * printf-formatted name, cut to the kernel's 15 bytes. */
void sk_thread_name(const char *fmt, ...) SK_PRINTF(1, 2);

/* Logging: one line per event, key=value. The level is one atomic (a
 * reload changes it while other threads log). */
typedef enum { SK_LOG_DEBUG, SK_LOG_INFO, SK_LOG_WARN, SK_LOG_ERROR } sk_log_lvl;
sk_log_lvl sk_log_get_level(void);
void sk_log_set_level(sk_log_lvl lvl);
/* "debug" | "info" | "warn" | "error"; anything else (NULL included): info. */
void sk_log_set_level_name(const char *name);
void sk_log(sk_log_lvl lvl, const char *fmt, ...) SK_PRINTF(2, 3);
#define sk_debug(...) do { if (sk_log_get_level() <= SK_LOG_DEBUG) sk_log(SK_LOG_DEBUG, __VA_ARGS__); } while (0)
#define sk_info(...)  sk_log(SK_LOG_INFO, __VA_ARGS__)
#define sk_warn(...)  sk_log(SK_LOG_WARN, __VA_ARGS__)
#define sk_error(...) sk_log(SK_LOG_ERROR, __VA_ARGS__)

/* Bounded string copy; always NUL-terminates when cap > 0. Returns strlen(src). */
size_t sk_strlcpy(char *dst, const char *src, size_t cap);

/* Grow a malloc'd byte buffer *p of *cap bytes so it holds at least need
 * bytes: doubles from `initial`. Returns 0, or -1 on out of memory (the old
 * buffer is kept). The one growth rule for the project's text buffers. */
int sk_reserve(char **p, size_t *cap, size_t need, size_t initial) SK_WUR;

/* A growable NUL-terminated text buffer (SQL, config text); zero-initialise.
 * A failed growth sets oom and turns every later append into a no-op, so a
 * builder checks oom once at the end. */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sk_buf;
void sk_buf_put(sk_buf *b, const char *s, size_t n);
void sk_buf_str(sk_buf *b, const char *s);
void sk_buf_fmt(sk_buf *b, const char *fmt, ...) SK_PRINTF(2, 3);
/* Empty it (len 0, oom cleared), keeping the memory. */
void sk_buf_reset(sk_buf *b);
void sk_buf_free(sk_buf *b);

/* Raise this process's RLIMIT_NOFILE soft limit to at least `want` (up to
 * the hard limit, which root may raise too). Returns the soft limit now in
 * force. */
long sk_raise_nofile(long want);

/* Parse "host:port" into host (cap bytes) and port. Returns 0 or -1. */
int sk_parse_hostport(const char *s, char *host, size_t cap, int *port) SK_WUR;

#endif
