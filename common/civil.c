/* common/civil.c — calendar arithmetic and time text (common/civil.h). */
#include "common/civil.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t sk_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void sk_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}

int sk_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return dim[m - 1];
}

void sk_civil_from_ms(int64_t epoch_ms, sk_civil *c)
{
    if (epoch_ms < SK_TIME_MS_MIN)
        epoch_ms = SK_TIME_MS_MIN;
    if (epoch_ms > SK_TIME_MS_MAX)
        epoch_ms = SK_TIME_MS_MAX;
    int64_t days = floor_div(epoch_ms, 86400000);
    int64_t msod = epoch_ms - days * 86400000;   /* [0, 86399999] */
    sk_civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(msod / 3600000);
    c->min = (int)(msod / 60000 % 60);
    c->sec = (int)(msod / 1000 % 60);
    c->ms = (int)(msod % 1000);
}

int64_t sk_civil_to_ms(const sk_civil *c)
{
    int64_t s = sk_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 + c->min * 60 + c->sec;
    return s * 1000 + c->ms;
}

/* Write v as exactly w decimal digits (0 <= v < 10^w). */
static void put_digits(char *p, int64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int sk_fmt_time(int64_t epoch_ms, char sep, bool zulu, char *out)
{
    sk_civil c;
    sk_civil_from_ms(epoch_ms, &c);
    put_digits(out + 0, c.year, 4);
    out[4] = '-';
    put_digits(out + 5, c.month, 2);
    out[7] = '-';
    put_digits(out + 8, c.day, 2);
    out[10] = sep;
    put_digits(out + 11, c.hour, 2);
    out[13] = ':';
    put_digits(out + 14, c.min, 2);
    out[16] = ':';
    put_digits(out + 17, c.sec, 2);
    out[19] = '.';
    put_digits(out + 20, c.ms, 3);
    int n = 23;
    if (zulu)
        out[n++] = 'Z';
    out[n] = '\0';
    return n;
}
