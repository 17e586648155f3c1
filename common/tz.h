/*
 * common/tz.h — the UTC offset of an instant in a named time zone, from the
 * system tz database (TZif files, RFC 8536), without touching the process's
 * TZ: localtime_r depends on the one global TZ, which cannot be switched per
 * call by several threads, so a zone is loaded once into a tz_zone and
 * queried purely.
 *
 * A zone is its transitions (64-bit TZif v2+ data, or v1) plus the footer's
 * POSIX TZ rule for instants after the last transition ("slim" files carry
 * almost nothing else). Names: "UTC", a fixed offset "UTC+08:00" /
 * "UTC-05:30" (built in, no file), or a tz database name like
 * "Asia/Shanghai" read from $TZDIR or /usr/share/zoneinfo. Leap-second
 * ("right/...") files are refused.
 *
 * tz_parse and the queries are pure; tz_load reads one file. A tz_zone is
 * immutable, so any number of threads may query it.
 */
#ifndef TZ_H
#define TZ_H

#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"

#define TZ_NAME_MAX 64

typedef struct tz_zone tz_zone;

/* Parse TZif bytes; name is kept for tz_name(). NULL + message in err. */
tz_zone *tz_parse(const char *name, const unsigned char *buf, size_t len, char *err, size_t cap);

/* A zone from a POSIX TZ string alone ("CST-8", "EST5EDT,M3.2.0,M11.1.0"). */
tz_zone *tz_from_posix(const char *name, const char *rule, char *err, size_t cap);

/* Load a zone by name (see the top of the file). NULL + message in err. */
tz_zone *tz_load(const char *name, char *err, size_t cap);

/* Is name acceptable as a zone name at all (syntax only, no I/O)? */
int tz_name_ok(const char *name);

void tz_free(tz_zone *z);
const char *tz_name(const tz_zone *z);

/* UTC offset in seconds east of Greenwich at epoch second t. */
int32_t tz_offset(const tz_zone *z, int64_t t);

/* The local calendar day of epoch instant ms: days since 1970-01-01 in the
 * zone's local time (floor), so two instants are on the same local day iff
 * their day numbers are equal. z NULL: UTC. */
int64_t tz_local_day(const tz_zone *z, int64_t epoch_ms);

#endif
