/*
 * order/ono.c — the 25-digit order number: Luhn, civil-date arithmetic,
 * format/parse and the per-node generator.
 *
 * Pure: no clock reads, no locale, no timegm/gmtime. The calendar is
 * common/civil.c (proleptic Gregorian), exact for every year this module
 * accepts (2000..9999) and far beyond.
 */
#include "order/ono.h"

#include <string.h>

#include "common/civil.h"

#define ONO_YEAR_MIN 2000
#define ONO_YEAR_MAX 9999
/* 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z as epoch seconds */
#define ONO_EPOCH_MIN 946684800LL
#define ONO_EPOCH_MAX 253402300799LL

/* Returns -1 if a byte is not an ASCII digit. */
int ono_luhn(const char *digits, size_t n)
{
    int sum = 0;
    /* i counts from the rightmost digit (0); even i are doubled */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)digits[n - 1 - i];
        if (c < '0' || c > '9')
            return -1;
        int d = c - '0';
        if ((i & 1) == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

/* Split epoch seconds into calendar fields (common/civil.c). */
static void split_time(int64_t epoch_s, int64_t *y, int *mo, int *d, int *h, int *mi, int *s)
{
    sk_civil c;
    sk_civil_from_ms(epoch_s * 1000, &c);   /* callers keep epoch_s within years 0000..9999 */
    *y = c.year;
    *mo = c.month;
    *d = c.day;
    *h = c.hour;
    *mi = c.min;
    *s = c.sec;
}

/* Write v as exactly w decimal digits (v >= 0, fits in w digits). */
static void put_digits(char *p, int64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static int64_t get_digits(const char *p, int w)
{
    int64_t v = 0;
    for (int i = 0; i < w; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

int ono_format(const ono_fields *f, char out[ONO_LEN + 1])
{
    if (f == NULL || f->epoch_s < ONO_EPOCH_MIN || f->epoch_s > ONO_EPOCH_MAX ||
        f->node < 0 || f->node > ONO_MAX_NODE || f->seq < 0 || f->seq > ONO_MAX_SEQ ||
        f->group < 1 || f->group > 99)
        return -1;
    int64_t y;
    int mo, d, h, mi, s;
    split_time(f->epoch_s, &y, &mo, &d, &h, &mi, &s);
    put_digits(out + 0, y, 4);
    put_digits(out + 4, mo, 2);
    put_digits(out + 6, d, 2);
    put_digits(out + 8, h, 2);
    put_digits(out + 10, mi, 2);
    put_digits(out + 12, s, 2);
    put_digits(out + 14, f->node, 3);
    put_digits(out + 17, f->seq, 5);
    put_digits(out + 22, f->group, 2);
    out[24] = (char)('0' + ono_luhn(out, 24));
    out[25] = '\0';
    return 0;
}

/*
 * Check order: length, digits, check digit, then the fields. The check digit
 * goes before the field checks so that any single mistyped digit is reported
 * as what it is ("bad check digit"), even when it also breaks the timestamp.
 * Years before 2000 are rejected: ono_format never produces them.
 */
sk_status ono_parse(const char *s, size_t len, ono_fields *out, const char **reason)
{
    const char *why = NULL;
    if (s == NULL || len != ONO_LEN) {
        why = "wrong length";
        goto bad;
    }
    for (size_t i = 0; i < ONO_LEN; i++) {
        if (s[i] < '0' || s[i] > '9') {
            why = "non-digit character";
            goto bad;
        }
    }
    if (ono_luhn(s, 24) != s[24] - '0') {
        why = "bad check digit";
        goto bad;
    }
    int64_t y = get_digits(s + 0, 4);
    int mo = (int)get_digits(s + 4, 2);
    int d = (int)get_digits(s + 6, 2);
    int h = (int)get_digits(s + 8, 2);
    int mi = (int)get_digits(s + 10, 2);
    int sec = (int)get_digits(s + 12, 2);
    if (y < ONO_YEAR_MIN || y > ONO_YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
        d > sk_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) {
        why = "bad timestamp";
        goto bad;
    }
    int group = (int)get_digits(s + 22, 2);
    if (group < 1) {
        why = "bad group";
        goto bad;
    }
    if (out != NULL) {
        out->epoch_s = sk_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
        out->node = (int)get_digits(s + 14, 3);
        out->seq = (int)get_digits(s + 17, 5);
        out->group = group;
    }
    if (reason != NULL)
        *reason = NULL;
    return SK_OK;
bad:
    if (reason != NULL)
        *reason = why;
    return SK_EBAD_ORDER_NO;
}

void ono_rfc3339(int64_t epoch_s, char out[21])
{
    /* clamp to what four year digits can show (before * 1000 can overflow) */
    if (epoch_s < SK_TIME_MS_MIN / 1000)
        epoch_s = SK_TIME_MS_MIN / 1000;
    if (epoch_s > ONO_EPOCH_MAX)
        epoch_s = ONO_EPOCH_MAX;
    char t[SK_TIME_BUF];
    sk_fmt_time(epoch_s * 1000, 'T', true, t);   /* "YYYY-MM-DDTHH:MM:SS.000Z" */
    memcpy(out, t, 19);
    out[19] = 'Z';
    out[20] = '\0';
}

/* ---- generator ---- */

void ono_gen_init(ono_gen *g, int node)
{
    g->node = node;
    g->last_s = 0;
    g->next_seq = 0;
}

void ono_gen_start_after(ono_gen *g, int64_t boot_s)
{
    g->last_s = boot_s;
    g->next_seq = ONO_MAX_SEQ + 1;  /* boot_s is used up: the first number waits for the next second */
}

int ono_gen_next(ono_gen *g, int64_t now_s, int group, char out[ONO_LEN + 1])
{
    if (group < 1 || group > 99 || g->node < 0 || g->node > ONO_MAX_NODE)
        return -1;
    int64_t sec;
    int seq;
    if (now_s > g->last_s) {
        sec = now_s;              /* a new second: start over */
        seq = 0;
    } else {
        sec = g->last_s;          /* same second, or the clock stepped back */
        seq = g->next_seq;
    }
    if (seq > ONO_MAX_SEQ)
        return 1;                 /* this second is used up: caller waits */
    ono_fields f = {.epoch_s = sec, .node = g->node, .seq = seq, .group = group};
    if (ono_format(&f, out) != 0)
        return -1;                /* time outside 2000..9999: state untouched */
    g->last_s = sec;
    g->next_seq = seq + 1;
    return 0;
}
