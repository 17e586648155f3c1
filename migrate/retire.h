/*
 * migrate/retire.h — internal to `skipctl group retire` (the retire*.c files):
 * the run's state and the steps each file provides. Not a public interface;
 * skipctl calls mig_retire() (migrate/migio.h).
 *
 *   retire.c         step driver: state file, config flips, abort/drop/dry-run, entry
 *   retire_copy.c    chunked copy G -> T (reader + writer pool), catch-up, helper index
 *   retire_verify.c  checksums per chunk, re-copy and re-check
 *   retire_clash.c   key clashes: orphans closed, archived, left out or removed
 *   retire_freeze.c  drained wait, catch-up rounds, write freeze, alias flip, outbox move
 *
 * Everything runs on skipctl's main thread except the copy's reader and
 * writer threads (retire_copy.c), which touch only their own connection and
 * hand-off slots; every DB, HTTP and Redis call is bounded by a timeout.
 */
#ifndef MIGRATE_RETIRE_H
#define MIGRATE_RETIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <mysql.h>

#include "dal/dal.h"
#include "migrate/mig.h"
#include "migrate/migio.h"

#define COPY_READ_TIMEOUT_MS 60000   /* one chunk / checksum statement on the admin connection */

/* One run of `group retire`. */
typedef struct {
    const mig_retire_opts *o;
    conf *c;
    mig_job j;
    char path[4096];
    MYSQL *g, *t;               /* admin connections to G's and T's primaries */
    kv *kv;
    char freeze_token[96];
    char filter[512], rfilter[512];
    sk_buf buf;
    char err[1024];
    int64_t t0_ms;
    int64_t lag_checked_ms;     /* last replica-lag check (mono) */
} rt;

/* ---- retire.c ---- */

/* A line for the operator (nothing with --json). */
void rt_say(rt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Persist the job (temp file, fsync, rename). 0 / -1 (r->err). */
int rt_save(rt *r);
/* Apply event e to the job's state (mig_next) and persist. 0 / -1. */
int rt_step(rt *r, mig_event e);
/* Set G's state (alias, weight when >= 0) in the config file, reload every daemon. */
int rt_set_group_state(rt *r, group_state st, int alias, int weight);

/* ---- retire_copy.c ---- */

typedef enum { RT_ORDERS, RT_REFUNDS, RT_OUTBOX } rt_tbl;
/* Run `sel` on G (at most one chunk of rows) and write the rows to T on r->t.
 * Returns the number of rows read (0..), -1 on error. lastkey gets column 0
 * of the last row; ids_csv (if set) gets column 0 of every row, comma-separated. */
int64_t rt_copy_select(rt *r, rt_tbl t, const char *sel, char *lastkey, char *ids_csv, size_t ids_cap);
/* One integer from G; -1 (r->err) on error. */
int64_t rt_count_g(rt *r, const char *sql);
/* COPYING: orders (parallel writers) then refunds, resuming at the state file's keys. */
int rt_copy(rt *r);
/* One catch-up pass from from_ms; touched (may be NULL) marks changed chunks. Rows moved or -1. */
int64_t rt_catch_up(rt *r, int64_t from_ms, unsigned char *touched);
/* Helper index orders(updated_at) on G for the catch-up (online DDL). */
int rt_ensure_index(rt *r);

/* ---- retire_verify.c ---- */

/* Every chunk (touched == NULL) or the touched ones, plus refunds; fix =
 * re-copy and resolve key clashes. 1 equal, 0 differs (r->err), -1 error. */
int rt_verify(rt *r, const unsigned char *touched, bool fix);

/* ---- retire_clash.c ---- */

/* Find G's rows of chunk i that T lacks and resolve their key clashes.
 * Returns how many were resolved, -1 on error or a clash for a DBA (r->err). */
int rt_resolve_clashes(rt *r, int i);

/* ---- retire_freeze.c ---- */

/* Wait until every daemon shows 0 creates in flight on G (bounded by twice
 * the request deadline). */
int rt_wait_drained(rt *r);
/* CATCHUP -> FREEZING -> FLIPPING: catch-up rounds, verify, freeze, flip. */
int rt_catchup_and_freeze(rt *r);
/* FLIPPING (also after a crash) -> RETIRED: reload, catch-up, move the outbox. */
int rt_finish_flip(rt *r);
/* Delete our own freeze key (compare-and-delete). */
void rt_unfreeze(rt *r);

#endif
