/* common/sk.c — status names, clocks, sleeping, logging, small string helpers. */
#include "common/sk.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/civil.h"

static _Atomic int log_level = SK_LOG_INFO;

sk_log_lvl sk_log_get_level(void) { return (sk_log_lvl)atomic_load_explicit(&log_level, memory_order_relaxed); }
void sk_log_set_level(sk_log_lvl lvl) { atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed); }

void sk_log_set_level_name(const char *s)
{
    sk_log_lvl l = SK_LOG_INFO;
    if (s != NULL && strcmp(s, "debug") == 0)
        l = SK_LOG_DEBUG;
    else if (s != NULL && strcmp(s, "warn") == 0)
        l = SK_LOG_WARN;
    else if (s != NULL && strcmp(s, "error") == 0)
        l = SK_LOG_ERROR;
    sk_log_set_level(l);
}

static const char *const status_names[SK_STATUS_MAX] = {
    [SK_OK] = "SK_OK",
    [SK_EINVALID_JSON] = "SK_EINVALID_JSON",
    [SK_EINVALID_ARGUMENT] = "SK_EINVALID_ARGUMENT",
    [SK_EUNKNOWN_FIELD] = "SK_EUNKNOWN_FIELD",
    [SK_EBAD_ORDER_NO] = "SK_EBAD_ORDER_NO",
    [SK_EUNAUTHENTICATED] = "SK_EUNAUTHENTICATED",
    [SK_ESIGNATURE_INVALID] = "SK_ESIGNATURE_INVALID",
    [SK_EREQUEST_EXPIRED] = "SK_EREQUEST_EXPIRED",
    [SK_EREPLAYED] = "SK_EREPLAYED",
    [SK_EFORBIDDEN] = "SK_EFORBIDDEN",
    [SK_ETERMINAL_NOT_ACTIVE] = "SK_ETERMINAL_NOT_ACTIVE",
    [SK_ETERMINAL_BLOCKED] = "SK_ETERMINAL_BLOCKED",
    [SK_ETERMINAL_MISMATCH] = "SK_ETERMINAL_MISMATCH",
    [SK_EACTIVATION_FAILED] = "SK_EACTIVATION_FAILED",
    [SK_EREFUND_NOT_ALLOWED] = "SK_EREFUND_NOT_ALLOWED",
    [SK_ENOT_FOUND] = "SK_ENOT_FOUND",
    [SK_EMETHOD] = "SK_EMETHOD",
    [SK_EDUPLICATE] = "SK_EDUPLICATE",
    [SK_EVERSION_CONFLICT] = "SK_EVERSION_CONFLICT",
    [SK_EALREADY_PAID] = "SK_EALREADY_PAID",
    [SK_EORDER_CLOSED] = "SK_EORDER_CLOSED",
    [SK_EORDER_EXPIRED] = "SK_EORDER_EXPIRED",
    [SK_EILLEGAL_TRANSITION] = "SK_EILLEGAL_TRANSITION",
    [SK_EAMOUNT_MISMATCH] = "SK_EAMOUNT_MISMATCH",
    [SK_EREFUND_EXCEEDS] = "SK_EREFUND_EXCEEDS",
    [SK_ETOO_LARGE] = "SK_ETOO_LARGE",
    [SK_ENO_WRITABLE_GROUP] = "SK_ENO_WRITABLE_GROUP",
    [SK_EGROUP_UNAVAILABLE] = "SK_EGROUP_UNAVAILABLE",
    [SK_EOVERLOADED] = "SK_EOVERLOADED",
    [SK_ETIMEDOUT] = "SK_ETIMEDOUT",
    [SK_EREADONLY] = "SK_EREADONLY",
    [SK_ECONNECT] = "SK_ECONNECT",
    [SK_EDB] = "SK_EDB",
    [SK_EDUPKEY] = "SK_EDUPKEY",
    [SK_ENOMEM] = "SK_ENOMEM",
    [SK_EINTERNAL] = "SK_EINTERNAL",
    [SK_EHELD] = "SK_EHELD",
    [SK_EUNAVAILABLE] = "SK_EUNAVAILABLE",
};

const char *sk_status_name(sk_status s)
{
    if ((int)s < 0 || s >= SK_STATUS_MAX || status_names[s] == NULL)
        return "SK_UNKNOWN";
    return status_names[s];
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t sk_now_ms(void) { return clock_ns(CLOCK_REALTIME) / 1000000LL; }
int64_t sk_mono_ms(void) { return clock_ns(CLOCK_MONOTONIC) / 1000000LL; }
int64_t sk_mono_us(void) { return clock_ns(CLOCK_MONOTONIC) / 1000LL; }

void sk_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sk_thread_name(const char *fmt, ...)
{
    char name[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    (void)pthread_setname_np(pthread_self(), name);
}

void sk_log(sk_log_lvl lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < sk_log_get_level())
        return;
    char line[2048], ts[SK_TIME_BUF];
    sk_fmt_time(sk_now_ms(), 'T', true, ts);
    int n = snprintf(line, sizeof line, "ts=%s level=%s ", ts, names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    /* one write per line so lines from several threads do not interleave */
    size_t len = strlen(line);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

size_t sk_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap > 0) {
        size_t c = n < cap - 1 ? n : cap - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int sk_reserve(char **p, size_t *cap, size_t need, size_t initial)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : initial;
    while (nc < need)
        nc *= 2;
    char *q = realloc(*p, nc);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void sk_buf_put(sk_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (sk_reserve(&b->p, &b->cap, b->len + n + 1, 1024) != 0) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sk_buf_str(sk_buf *b, const char *s) { sk_buf_put(b, s, strlen(s)); }

void sk_buf_fmt(sk_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sk_reserve(&b->p, &b->cap, b->len + (size_t)n + 1, 1024) != 0) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sk_buf_reset(sk_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->p)
        b->p[0] = '\0';
}

void sk_buf_free(sk_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int sk_parse_hostport(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= cap)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || p < 1 || p > 65535)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

long sk_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur >= want)
        return (long)rl.rlim_cur;
    if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < want) {
        struct rlimit up = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)  /* root (CAP_SYS_RESOURCE) only */
            return want;
    }
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < want ? rl.rlim_max : (rlim_t)want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    return (long)rl.rlim_cur;
}
