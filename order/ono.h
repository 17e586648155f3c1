/*
 * order/ono.h — the 25-digit order number: codec and generator (pure).
 *
 *   yyyyMMddHHmmss (UTC, 14) | node (3) | seq (5) | group (2, 01..99) | Luhn (1)
 *
 * The Luhn digit is computed over the first 24 digits (standard Luhn: from
 * the rightmost of the 24, double every other digit starting with that one).
 * Nothing here reads a clock or touches I/O: callers pass `now`.
 */
#ifndef ONO_H
#define ONO_H

#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"

#define ONO_LEN 25
#define ONO_MAX_NODE 999
#define ONO_MAX_SEQ 99999

typedef struct {
    int64_t epoch_s; /* the timestamp part as seconds since 1970-01-01 UTC */
    int node;        /* 0..999 */
    int seq;         /* 0..99999 */
    int group;       /* 1..99 */
} ono_fields;

/* Luhn check digit (0..9) for n ASCII digits. */
int ono_luhn(const char *digits, size_t n);

/* Format into out (ONO_LEN+1 bytes, NUL-terminated). Returns 0, or -1 if a
 * field is out of range (year must be 2000..9999). */
int ono_format(const ono_fields *f, char out[ONO_LEN + 1]) SK_WUR;

/*
 * Parse s (len bytes, need not be NUL-terminated). Checks length, digits,
 * calendar validity of the timestamp, group 01..99 and the check digit.
 * Does NOT check whether the group is configured (use conf_route_group).
 * Returns SK_OK or SK_EBAD_ORDER_NO with *reason set to a static string
 * ("wrong length", "non-digit character", "bad check digit", "bad timestamp",
 * "bad group").
 */
sk_status ono_parse(const char *s, size_t len, ono_fields *out, const char **reason) SK_WUR;

/* Format epoch seconds as RFC 3339 UTC "2026-11-26T00:56:52Z" (21 bytes). */
void ono_rfc3339(int64_t epoch_s, char out[21]);

/*
 * Generator state for one node. Not thread-safe: the daemon guards it with a
 * mutex. Never re-issues a number, even when the wall clock steps back: it
 * keeps the last issued second and continues from it.
 */
typedef struct {
    int node;
    int64_t last_s;  /* last second a number was issued in; 0 = none */
    int next_seq;    /* next sequence within last_s */
} ono_gen;

void ono_gen_init(ono_gen *g, int node);

/*
 * A daemon that starts on a node id (a restart, or a takeover after a crash)
 * issues nothing in the second it started in: the process that held the id
 * before may have issued numbers in that very second (a rolling restart
 * takes well under a second), and a re-issued number would collide on the
 * primary key of its group. Numbers start at boot_s + 1.
 */
void ono_gen_start_after(ono_gen *g, int64_t boot_s);

/*
 * Issue the next number for `group` at wall time now_s.
 * Returns 0 and writes out; or 1 when the sequence for the current second is
 * exhausted ("wait for the next second": the caller sleeps briefly and calls
 * again with a later now_s; bounded by its deadline); -1 on bad group/node.
 */
int ono_gen_next(ono_gen *g, int64_t now_s, int group, char out[ONO_LEN + 1]) SK_WUR;

/* The calendar arithmetic is common/civil.h (sk_days_from_civil, ...). */

#endif
