/*
 * common/civil.h — the one civil-time core: proleptic Gregorian calendar,
 * UTC, pure (no clock reads, no locale, no gmtime). Every time text of the
 * project is made or read here: order numbers (order/ono.c), RFC 3339 in the
 * API (order/order.c), MariaDB DATETIME(3) literals (dal/), log lines.
 *
 * Days are counted from 1970-01-01 (day 0); the day arithmetic is exact far
 * beyond the years 0000..9999 that four year digits can show, and formatting
 * clamps to that range.
 */
#ifndef SK_CIVIL_H
#define SK_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#define SK_TIME_MS_MIN (-62167219200000LL)  /* 0000-01-01T00:00:00.000Z */
#define SK_TIME_MS_MAX 253402300799999LL    /* 9999-12-31T23:59:59.999Z */

/* Days since 1970-01-01 of y-m-d (m 1..12; d may run past the month: the
 * result is then the day that many days on). */
int64_t sk_days_from_civil(int64_t y, int m, int d);
/* The inverse: the date of day `days`. */
void sk_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 28..31 for a valid month, 0 for m outside 1..12. */
int sk_days_in_month(int64_t y, int m);

/* Calendar fields of a time, in UTC. */
typedef struct {
    int64_t year;
    int month, day, hour, min, sec, ms;
} sk_civil;

/* Split epoch ms (floor: -1 ms is 1969-12-31 23:59:59.999), clamped to
 * SK_TIME_MS_MIN..SK_TIME_MS_MAX. */
void sk_civil_from_ms(int64_t epoch_ms, sk_civil *c);

/* Epoch ms of the fields (no range checks: validate first). */
int64_t sk_civil_to_ms(const sk_civil *c);

/* "YYYY-MM-DD<sep>HH:MM:SS.mmm", then "Z" when zulu: 23 or 24 characters and
 * a NUL; out must hold SK_TIME_BUF bytes (24 are enough without zulu).
 * Clamped like sk_civil_from_ms. Returns the length. */
#define SK_TIME_BUF 25
int sk_fmt_time(int64_t epoch_ms, char sep, bool zulu, char *out);

#endif
