/*
 * migrate/mig.h — the pure core of expand/shrink (spec §8; docs/shrink.md,
 * docs/expand.md): the retire state machine and its state file, chunk
 * bookkeeping, checksum and upsert SQL, the weight-ramp schedule, the
 * default alias target and the re-emitted `groups:` section of the config.
 *
 * Everything here takes plain data and returns plain data: no sockets, no
 * clock reads (callers pass `now`). The I/O lives in the other migrate/ files.
 */
#ifndef MIG_H
#define MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "config/conf.h"

/* ---------------- retire state machine ---------------- */

/*
 * NONE -> DRAINING -> COPYING -> CATCHUP -> FREEZING -> FLIPPING -> RETIRED -> DROPPED
 *                                   ^            |
 *                                   +------------+  freeze not acknowledged / verify failed
 * ABORTED is reachable from DRAINING..FREEZING (before the alias flip) only.
 * Persisted after every transition; a crashed run resumes at
 * mig_resume_point(persisted state).
 */
typedef enum {
    MIG_NONE = 0,   /* no state file */
    MIG_DRAINING,   /* G is draining in config; waiting for creates in flight */
    MIG_COPYING,    /* chunked copy G -> T (resumes at the last copied key) */
    MIG_CATCHUP,    /* online catch-up of rows changed since the copy started */
    MIG_FREEZING,   /* write freeze held: final catch-up + verify */
    MIG_FLIPPING,   /* config says G retired, alias T; daemons being reloaded */
    MIG_RETIRED,    /* done; G's rows still on its primary until --drop */
    MIG_DROPPED,    /* G's rows deleted from its old primary */
    MIG_ABORTED,    /* rolled back to the starting state (state file removed) */
    MIG_STATE_MAX
} mig_state;

typedef enum {
    MIG_EV_START = 0,   /* NONE -> DRAINING */
    MIG_EV_DRAINED,     /* DRAINING -> COPYING */
    MIG_EV_COPIED,      /* COPYING -> CATCHUP */
    MIG_EV_FROZEN,      /* CATCHUP -> FREEZING */
    MIG_EV_THAWED,      /* FREEZING -> CATCHUP (no ack / verify mismatch: retry) */
    MIG_EV_VERIFIED,    /* FREEZING -> FLIPPING */
    MIG_EV_FLIPPED,     /* FLIPPING -> RETIRED */
    MIG_EV_DROPPED,     /* RETIRED -> DROPPED */
    MIG_EV_ABORT,       /* DRAINING|COPYING|CATCHUP|FREEZING -> ABORTED */
    MIG_EV_MAX
} mig_event;

const char *mig_state_name(mig_state s);     /* "COPYING", ... */
int mig_state_parse(const char *s, mig_state *out) SK_WUR;   /* 0 / -1 */
const char *mig_event_name(mig_event e);

/* The one transition function. 0 and *out = next state, or -1 (illegal). */
int mig_next(mig_state s, mig_event e, mig_state *out) SK_WUR;

/* Where a run that finds state `s` in its state file continues. A freeze
 * never survives a crash of skipctl (it has a TTL and is re-taken), so
 * FREEZING resumes at CATCHUP; every other state resumes at itself. */
mig_state mig_resume_point(mig_state s);

/* ---------------- chunks ---------------- */

#define MIG_KEY_LEN 25          /* order_no / refund_no */
#define MIG_MAX_CHUNKS 100000

/*
 * Chunks of the orders table by primary key, recorded while copying: chunk
 * i covers (upper[i-1], upper[i]] with upper[-1] = "" and the LAST chunk
 * open-ended (rows inserted late fall into it), so the chunks always cover
 * the whole key space.
 */
typedef struct {
    char (*upper)[MIG_KEY_LEN + 1];
    int n, cap;
} mig_chunks;

void mig_chunks_init(mig_chunks *c);
void mig_chunks_free(mig_chunks *c);
/* Append an upper bound (must be > the last one). 0 / -1 (order, full, memory). */
int mig_chunks_add(mig_chunks *c, const char *upper) SK_WUR;
/* Index of the chunk holding key (0 when there are no chunks yet). */
int mig_chunks_find(const mig_chunks *c, const char *key);
/* Range of chunk i: lo exclusive ("" = from the start), hi inclusive
 * ("" = to the end). */
void mig_chunks_range(const mig_chunks *c, int i, const char **lo, const char **hi);

/* Parallel writers of the copy (--writers K / SKIP_RETIRE_WRITERS). */
#define MIG_DEFAULT_WRITERS 4
#define MIG_MAX_WRITERS 32
/* Parse K (1..MIG_MAX_WRITERS). 0 / -1. */
int mig_parse_writers(const char *s, int *k) SK_WUR;
/* Slice i (0..k-1) of n rows split into k contiguous parts: [*lo, *hi).
 * The slices are disjoint, in order, cover 0..n and differ by at most one
 * row in size (empty when n < k). */
void mig_split_range(int64_t n, int k, int i, int64_t *lo, int64_t *hi);

/* Number of chunks a table of `rows` rows takes at `chunk` rows each. */
int64_t mig_plan_chunks(int64_t rows, int chunk);
/* Seconds left at `rate` rows/s, -1 when unknown. */
int64_t mig_eta_s(int64_t done, int64_t total, double rate);

/* ---------------- SQL ---------------- */

/* The rows are copied with the column lists ORD_SQL_COLS,
 * ORD_REFUND_SQL_COLS (order/order.h) and DAL_OUTBOX_COLS (dal/dal.h). */

/* " ON DUPLICATE KEY UPDATE ..." for orders: a row is overwritten only by the
 * SAME order_no with a HIGHER version (a unique-key clash with another
 * order's merchant_id+out_trade_no changes nothing; verification reports it).
 * `version` is assigned last: MariaDB evaluates the assignments in order. */
const char *mig_orders_upsert_suffix(void);

/* Groups filter "group_id IN (3,7)" for the ids routed to `g` (g itself and
 * the retired groups aliased to it). Returns the length or -1 if too small. */
int mig_group_filter(const conf *c, int g, char *out, size_t cap);
/* Same ids as a list, for refunds (SUBSTRING(refund_no,23,2) IN ('03','07')). */
int mig_refund_filter(const conf *c, int g, char *out, size_t cap);

/* Checksum of the orders in chunk (lo, hi] (lo/hi "" = open) restricted by
 * `filter` (a mig_group_filter result): one row, COUNT(*) and the BIT_XOR of
 * a CRC32 over every column (NULLs marked). Keys must be digits only.
 * Returns the SQL length or -1 (bad key / too small). */
int mig_checksum_sql(char *out, size_t cap, const char *lo, const char *hi, const char *filter);
/* Checksum of all refunds matching `rfilter` (a mig_refund_filter result). */
int mig_refund_checksum_sql(char *out, size_t cap, const char *rfilter);

/* ---------------- ramp ---------------- */

#define MIG_RAMP_MAX_STEPS 20

typedef struct {
    int weight;        /* weight to set at this step */
    int64_t at_ms;     /* offset from the ramp start */
} mig_ramp_step;

/* Steps from 0 up to `target` over `ramp_ms`: one step per max(ramp/20,
 * min_step_ms) (at least one step), weights rising linearly, the last step
 * exactly `target` at offset ramp_ms. Returns the number of steps. */
int mig_ramp_plan(int target, int64_t ramp_ms, int64_t min_step_ms, mig_ramp_step *out, int max);

/* Parse "10m", "30s", "1500ms", "2h", "0" into ms. 0 / -1. */
int mig_parse_duration(const char *s, int64_t *ms) SK_WUR;

/* ---------------- default target ---------------- */

/* Default alias target for retiring g: conf_default_alias_target over the
 * groups in service other than g. -1 if none. */
int mig_default_target(const conf *c, int g);

/* ---------------- key clashes (unknown-outcome orphans) ---------------- */

/*
 * A row of G whose merchant_id+out_trade_no exists in T under another
 * order_no (docs/shrink.md "Key clashes"). Which of the two did the client
 * get? An order is GIVEN OUT when it is past CREATED (PAID/REFUNDED), has
 * refunds, or is the number the idempotency record skip:idem:<m>:<otn>
 * ("<order_no>|<deadline_ms>|<token>") names. A CREATED/CLOSED order that is
 * not given out while the other side is, or while the idempotency record
 * names some other number, is an ORPHAN (never given to anyone).
 */
typedef struct {
    const char *order_no;
    const char *status;
    bool has_refunds;
} mig_clash_side;

typedef enum {
    MIG_CLASH_G_ORPHAN = 0,   /* G's row is the orphan: close it, leave it out of copy and verify */
    MIG_CLASH_T_ORPHAN,       /* T's row is the orphan: close it, archive + delete it, copy G's row */
    MIG_CLASH_BOTH_ORPHANS,   /* the client has a third number: close both, leave G's out */
    MIG_CLASH_DUPLICATE,      /* both given out: a real duplicate, stop (DBA decision) */
    MIG_CLASH_UNKNOWN,        /* no idempotency record and neither side settled: stop */
} mig_clash;

/* Given out, by the rule above (idem "" = no record). */
bool mig_given_out(const mig_clash_side *s, const char *idem);
mig_clash mig_classify_clash(const mig_clash_side *g, const mig_clash_side *t, const char *idem);
const char *mig_clash_name(mig_clash c);
/* Order number of an idempotency record value; 0 / -1 (not of that form). */
int mig_idem_number(const char *val, size_t len, char out[MIG_KEY_LEN + 1]);

/* Sorted set of order numbers (the orphans a retire handled). */
typedef struct {
    char (*no)[MIG_KEY_LEN + 1];
    int n, cap;
} mig_keyset;

void mig_keyset_init(mig_keyset *s);
void mig_keyset_free(mig_keyset *s);
/* 1 added, 0 already there, -1 bad key / memory. */
int mig_keyset_add(mig_keyset *s, const char *no);
bool mig_keyset_has(const mig_keyset *s, const char *no);
/* " AND order_no NOT IN ('k1','k2')" for the members in chunk (lo, hi]
 * (lo/hi "" = open), "" when none. Returns the length or -1 (too small). */
int mig_exclude_sql(const mig_keyset *s, const char *lo, const char *hi, char *out, size_t cap);

/* ---------------- state file ---------------- */

typedef struct {
    int group, into;
    char g_primary[128], t_primary[128];
    char g_replicas[512], t_replicas[512];   /* comma-separated */
    mig_state state;
    int chunk_rows;
    char last_order[MIG_KEY_LEN + 1];        /* last copied order_no ("" = none) */
    char last_refund[MIG_KEY_LEN + 1];
    int64_t copy_start_ms;                   /* wall clock when the copy began */
    int64_t catchup_from_ms;                 /* next catch-up scans updated_at >= this */
    int64_t rows_copied, refunds_copied, outbox_moved;
    int64_t freeze_ms;                       /* duration of the successful freeze */
    int g_prev_weight;                       /* to restore on --abort */
    mig_chunks chunks;
    mig_keyset skipped_orphans;              /* G's orphans left out of copy + verify (closed) */
    mig_keyset retired_orphans;              /* T's orphans archived in retired_orphans and deleted */
} mig_job;

void mig_job_init(mig_job *j);
void mig_job_free(mig_job *j);
/* Owned JSON (json_decref) of the job. */
json_t *mig_job_to_json(const mig_job *j);
/* Fill j from JSON; 0 / -1 with a message. j must be mig_job_init'ed. */
int mig_job_from_json(const json_t *o, mig_job *j, char *err, size_t cap) SK_WUR;

/* ---------------- config text ---------------- */

/*
 * Replace the `groups:` section (from the line "groups:" to the next
 * top-level key or the end) of the config text `text` by the groups of `c`
 * rendered in the example's format. Every other line is kept byte for byte.
 * Returns an owned string (free) or NULL if there is no groups: section.
 */
char *mig_conf_replace_groups(const char *text, const conf *c);

#endif
