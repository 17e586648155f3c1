/*
 * common/tz.c — TZif reader and POSIX TZ rules (see tz.h).
 *
 * Calendar arithmetic is proleptic Gregorian on day numbers (days since
 * 1970-01-01), after Howard Hinnant's days_from_civil / civil_from_days, so
 * nothing here calls the C library's time functions (which read the global
 * TZ). Every count read from a file is bounded before it sizes anything.
 */
#include "common/tz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_FILE_MAX (1 << 20)
#define TZ_MAX_TRANS 100000
#define TZ_MAX_TYPES 256
#define TZ_MAX_CHARS 4096

typedef struct {
    char kind;                  /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' (month.week.day) */
    int n, m, w, d;
    int32_t time;               /* seconds after local midnight (may be negative or > 24 h) */
} tz_date;

typedef struct {
    int32_t std_off, dst_off;   /* seconds east of UTC */
    bool has_dst;
    tz_date start, end;         /* DST starts (in standard time) / ends (in DST) */
} tz_rule;

struct tz_zone {
    char name[TZ_NAME_MAX + 1];
    int64_t *trans;             /* ascending */
    uint8_t *idx;               /* type of each transition */
    int ntrans;
    int32_t *utoff;             /* by type */
    int ntypes;
    bool has_rule;
    tz_rule rule;
};

/* ---------------------------------------------------------------- calendar */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_day(int64_t z)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return y + (m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_len(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* The day number of a rule's date in year y. */
static int64_t rule_day(int64_t y, const tz_date *d)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    switch (d->kind) {
    case 'J': return jan1 + d->n - 1 + (is_leap(y) && d->n >= 60 ? 1 : 0);
    case 'N': return jan1 + d->n;
    default: {
        int64_t first = days_from_civil(y, d->m, 1);
        int wd = (int)(((first + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday (4) */
        int day = (d->d - wd + 7) % 7 + (d->w - 1) * 7;
        while (day >= month_len(y, d->m))
            day -= 7;
        return first + day;
    }
    }
}

static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of_day(floor_div(t + r->std_off, 86400));
    int64_t start = rule_day(y, &r->start) * 86400 + r->start.time - r->std_off;
    int64_t end = rule_day(y, &r->end) * 86400 + r->end.time - r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

/* ---------------------------------------------------------------- POSIX TZ */

static const char *p_name(const char *s)
{
    if (*s == '<') {
        const char *e = strchr(s, '>');
        return e && e > s + 1 ? e + 1 : NULL;
    }
    const char *b = s;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    return s - b >= 3 ? s : NULL;
}

static const char *p_num(const char *s, int lo, int hi, int *out)
{
    if (*s < '0' || *s > '9')
        return NULL;
    int v = 0;
    for (int k = 0; *s >= '0' && *s <= '9'; s++, k++) {
        if (k >= 3)
            return NULL;
        v = v * 10 + (*s - '0');
    }
    if (v < lo || v > hi)
        return NULL;
    *out = v;
    return s;
}

/* [+-]h[h[h]][:mm[:ss]] -> seconds (sign applied) */
static const char *p_hms(const char *s, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if ((s = p_num(s, 0, maxh, &h)) == NULL)
        return NULL;
    if (*s == ':' && (s = p_num(s + 1, 0, 59, &m)) != NULL && *s == ':')
        s = p_num(s + 1, 0, 59, &sec);
    if (s == NULL)
        return NULL;
    *out = sign * (h * 3600 + m * 60 + sec);
    return s;
}

static const char *p_date(const char *s, tz_date *d)
{
    memset(d, 0, sizeof *d);
    if (*s == 'J') {
        d->kind = 'J';
        s = p_num(s + 1, 1, 365, &d->n);
    } else if (*s == 'M') {
        d->kind = 'M';
        s = p_num(s + 1, 1, 12, &d->m);
        if (s && *s == '.')
            s = p_num(s + 1, 1, 5, &d->w);
        else
            s = NULL;
        if (s && *s == '.')
            s = p_num(s + 1, 0, 6, &d->d);
        else
            s = NULL;
    } else {
        d->kind = 'N';
        s = p_num(s, 0, 365, &d->n);
    }
    if (s == NULL)
        return NULL;
    d->time = 7200;
    if (*s == '/')
        s = p_hms(s + 1, 167, &d->time);
    return s;
}

static int parse_rule(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    int32_t off;
    if ((s = p_name(s)) == NULL || (s = p_hms(s, 24, &off)) == NULL)
        return -1;
    r->std_off = -off;   /* POSIX offsets are west-positive */
    if (*s == '\0')
        return 0;
    if ((s = p_name(s)) == NULL)
        return -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if ((s = p_hms(s, 24, &off)) == NULL)
            return -1;
        r->dst_off = -off;
    }
    if (*s == '\0') {
        /* no dates: the customary US rule (what glibc assumes too) */
        r->start = (tz_date){.kind = 'M', .m = 3, .w = 2, .d = 0, .time = 7200};
        r->end = (tz_date){.kind = 'M', .m = 11, .w = 1, .d = 0, .time = 7200};
        return 0;
    }
    if (*s != ',' || (s = p_date(s + 1, &r->start)) == NULL || *s != ',' || (s = p_date(s + 1, &r->end)) == NULL)
        return -1;
    return *s == '\0' ? 0 : -1;
}

/* ---------------------------------------------------------------- zones */

void tz_free(tz_zone *z)
{
    if (z == NULL)
        return;
    free(z->trans);
    free(z->idx);
    free(z->utoff);
    free(z);
}

const char *tz_name(const tz_zone *z) { return z ? z->name : "UTC"; }

static tz_zone *zone_new(const char *name)
{
    tz_zone *z = calloc(1, sizeof *z);
    if (z)
        sk_strlcpy(z->name, name ? name : "", sizeof z->name);
    return z;
}

tz_zone *tz_from_posix(const char *name, const char *rule, char *err, size_t cap)
{
    tz_zone *z = zone_new(name);
    if (z == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (parse_rule(rule, &z->rule) != 0) {
        snprintf(err, cap, "%s: bad POSIX TZ rule '%.60s'", name, rule);
        tz_free(z);
        return NULL;
    }
    z->has_rule = true;
    return z;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

typedef struct { uint32_t isut, isstd, leap, time, type, chars; } tzcounts;

static int header(const unsigned char *b, size_t len, size_t at, tzcounts *c)
{
    if (at > len || len - at < 44 || memcmp(b + at, "TZif", 4) != 0)
        return -1;
    const unsigned char *h = b + at + 20;
    *c = (tzcounts){be32(h), be32(h + 4), be32(h + 8), be32(h + 12), be32(h + 16), be32(h + 20)};
    if (c->time > TZ_MAX_TRANS || c->type < 1 || c->type > TZ_MAX_TYPES || c->chars > TZ_MAX_CHARS ||
        c->leap > TZ_MAX_TRANS || c->isut > TZ_MAX_TYPES || c->isstd > TZ_MAX_TYPES)
        return -1;
    return 0;
}

static size_t block_len(const tzcounts *c, size_t tsize)
{
    return (size_t)c->time * tsize + c->time + (size_t)c->type * 6 + c->chars + (size_t)c->leap * (tsize + 4) +
           c->isstd + c->isut;
}

tz_zone *tz_parse(const char *name, const unsigned char *b, size_t len, char *err, size_t cap)
{
    tzcounts c;
    if (header(b, len, 0, &c) != 0) {
        snprintf(err, cap, "%s: not a TZif file", name);
        return NULL;
    }
    size_t at = 44, tsize = 4;
    if (b[4] >= '2') {
        at += block_len(&c, 4);
        if (header(b, len, at, &c) != 0) {
            snprintf(err, cap, "%s: bad TZif v2 header", name);
            return NULL;
        }
        at += 44;
        tsize = 8;
    }
    if (at > len || len - at < block_len(&c, tsize)) {
        snprintf(err, cap, "%s: truncated TZif file", name);
        return NULL;
    }
    if (c.leap != 0) {
        snprintf(err, cap, "%s: zones with leap seconds (right/...) are not supported", name);
        return NULL;
    }
    tz_zone *z = zone_new(name);
    if (z == NULL || (c.time && ((z->trans = malloc(c.time * sizeof *z->trans)) == NULL ||
                                 (z->idx = malloc(c.time)) == NULL)) ||
        (z->utoff = malloc(c.type * sizeof *z->utoff)) == NULL) {
        tz_free(z);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    const unsigned char *p = b + at;
    for (uint32_t i = 0; i < c.time; i++, p += tsize) {
        z->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && z->trans[i] <= z->trans[i - 1]) {
            snprintf(err, cap, "%s: transitions out of order", name);
            tz_free(z);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < c.time; i++, p++) {
        if (*p >= c.type) {
            snprintf(err, cap, "%s: bad transition type", name);
            tz_free(z);
            return NULL;
        }
        z->idx[i] = *p;
    }
    for (uint32_t i = 0; i < c.type; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off <= -89999 || off >= 93599) {
            snprintf(err, cap, "%s: UTC offset out of range", name);
            tz_free(z);
            return NULL;
        }
        z->utoff[i] = off;
    }
    z->ntrans = (int)c.time;
    z->ntypes = (int)c.type;
    if (tsize == 8) {
        /* footer: "\n" POSIX-TZ "\n" */
        size_t f = at + block_len(&c, 8);
        if (f < len && b[f] == '\n') {
            const unsigned char *e = memchr(b + f + 1, '\n', len - f - 1);
            size_t n = e ? (size_t)(e - (b + f + 1)) : 0;
            if (e && n > 0 && n < 128) {
                char rule[128];
                memcpy(rule, b + f + 1, n);
                rule[n] = '\0';
                if (parse_rule(rule, &z->rule) != 0) {
                    snprintf(err, cap, "%s: bad footer rule '%s'", name, rule);
                    tz_free(z);
                    return NULL;
                }
                z->has_rule = true;
            }
        }
    }
    return z;
}

int tz_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TZ_NAME_MAX || s[0] == '/' || s[0] == '.' || strstr(s, "..") != NULL || strstr(s, "//"))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '+' || c == '/' || c == ':'))
            return 0;
    }
    return 1;
}

/* "UTC", "UTC+08:00", "UTC-05:30": fixed offsets, no file. 1 and *off, or 0. */
static int builtin(const char *s, int32_t *off)
{
    if (strncmp(s, "UTC", 3) != 0)
        return 0;
    if (s[3] == '\0') {
        *off = 0;
        return 1;
    }
    int h, m;
    if ((s[3] != '+' && s[3] != '-') || strlen(s) != 9 || s[6] != ':' ||
        sscanf(s + 4, "%2d", &h) != 1 || sscanf(s + 7, "%2d", &m) != 1 || h > 14 || m > 59)
        return 0;
    for (int i = 4; i < 9; i++)
        if (i != 6 && (s[i] < '0' || s[i] > '9'))
            return 0;
    *off = (s[3] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 1;
}

tz_zone *tz_load(const char *name, char *err, size_t cap)
{
    if (!tz_name_ok(name)) {
        snprintf(err, cap, "'%.64s' is not a time zone name (like Asia/Shanghai or UTC+08:00)", name ? name : "");
        return NULL;
    }
    int32_t off;
    if (builtin(name, &off)) {
        tz_zone *z = zone_new(name);
        if (z == NULL) {
            snprintf(err, cap, "out of memory");
            return NULL;
        }
        z->has_rule = true;
        z->rule.std_off = off;
        return z;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, cap, "unknown time zone '%s' (%s: %s)", name, path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(TZ_FILE_MAX);
    size_t n = buf ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    fclose(f);
    tz_zone *z = NULL;
    if (buf == NULL)
        snprintf(err, cap, "out of memory");
    else if (n == TZ_FILE_MAX)
        snprintf(err, cap, "%s: too large for a TZif file", path);
    else
        z = tz_parse(name, buf, n, err, cap);
    free(buf);
    return z;
}

int32_t tz_offset(const tz_zone *z, int64_t t)
{
    if (z == NULL)
        return 0;
    if (z->ntrans == 0)
        return z->has_rule ? rule_offset(&z->rule, t) : z->utoff ? z->utoff[0] : 0;
    if (t < z->trans[0])
        return z->utoff[0];
    if (t >= z->trans[z->ntrans - 1] && z->has_rule)
        return rule_offset(&z->rule, t);
    int lo = 0, hi = z->ntrans - 1;   /* largest i with trans[i] <= t */
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return z->utoff[z->idx[lo]];
}

int64_t tz_local_day(const tz_zone *z, int64_t epoch_ms)
{
    int64_t t = floor_div(epoch_ms, 1000);
    return floor_div(t + tz_offset(z, t), 86400);
}
