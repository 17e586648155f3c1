/* common/sk.c — status names, clocks, logging, small string helpers. */
#include "common/sk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

sk_log_lvl sk_log_level = SK_LOG_INFO;

static const char *const status_names[SK_STATUS_MAX] = {
    [SK_OK] = "SK_OK",
    [SK_EINVALID_JSON] = "SK_EINVALID_JSON",
    [SK_EINVALID_ARGUMENT] = "SK_EINVALID_ARGUMENT",
    [SK_EUNKNOWN_FIELD] = "SK_EUNKNOWN_FIELD",
    [SK_EBAD_ORDER_NO] = "SK_EBAD_ORDER_NO",
    [SK_EUNAUTHENTICATED] = "SK_EUNAUTHENTICATED",
    [SK_EFORBIDDEN] = "SK_EFORBIDDEN",
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

void sk_log(sk_log_lvl lvl, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < sk_log_level)
        return;
    char line[2048];
    int64_t now = sk_now_ms();
    time_t s = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(now % 1000), names[lvl]);
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
