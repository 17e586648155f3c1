/*
 * migrate/retire_verify.c — verification of a retire by checksums
 * (docs/shrink.md "Verify"): COUNT + BIT_XOR(CRC32) per chunk on both sides
 * (G's orphans left out), refunds as a whole; a differing chunk is re-copied
 * (version-guarded) and re-checked for a few rounds, resolving key clashes
 * (retire_clash.c) after the first.
 */
#include "migrate/retire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_ROUNDS 5               /* re-copy + re-check rounds for a differing chunk */

/* ---------------- verification ---------------- */

static int checksum(rt *r, MYSQL *my, const char *sql, char out[2][DAL_CELL])
{
    sk_status st = dal_query_row(my, sql, out, 2);
    if (st != SK_OK) {
        snprintf(r->err, sizeof r->err, "checksum: %s", dal_strerror(my, st));
        return -1;
    }
    return 0;
}

/* Verify chunk i: 1 = equal, 0 = differs, -1 = error. */
static int verify_chunk(rt *r, int i, bool quiet)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sql[2048];
    char a[2][DAL_CELL], b[2][DAL_CELL];
    if (mig_checksum_sql(sql, sizeof sql, lo, hi, r->filter) < 0) {
        snprintf(r->err, sizeof r->err, "checksum SQL for chunk %d", i);
        return -1;
    }
    if (checksum(r, r->t, sql, b) != 0)
        return -1;
    /* G's side leaves out G's orphans (closed; T holds the given order under that key) */
    size_t xcap = (size_t)r->j.skipped_orphans.n * (MIG_KEY_LEN + 4) + 64;
    char *gfilter = malloc(strlen(r->filter) + xcap), *gsql = malloc(strlen(r->filter) + xcap + 2048);
    int rc = -1;
    if (gfilter && gsql) {
        strcpy(gfilter, r->filter);
        if (mig_exclude_sql(&r->j.skipped_orphans, lo, hi, gfilter + strlen(r->filter), xcap) >= 0 &&
            mig_checksum_sql(gsql, strlen(r->filter) + xcap + 2048, lo, hi, gfilter) >= 0)
            rc = checksum(r, r->g, gsql, a);
        else
            snprintf(r->err, sizeof r->err, "checksum SQL for chunk %d", i);
    } else {
        snprintf(r->err, sizeof r->err, "out of memory");
    }
    free(gfilter);
    free(gsql);
    if (rc != 0)
        return -1;
    if (strcmp(a[0], b[0]) == 0 && strcmp(a[1], b[1]) == 0)
        return 1;
    if (!quiet) {
        rt_say(r, "chunk %d (%s, %s]: group %d has %s rows crc %s, group %d has %s rows crc %s", i, lo[0] ? lo : "-inf",
            hi[0] ? hi : "+inf", r->j.group, a[0], a[1], r->j.into, b[0], b[1]);
        sk_warn("event=retire_chunk_differs group=%d chunk=%d lo=%s hi=%s g_rows=%s g_crc=%s t_rows=%s t_crc=%s",
                r->j.group, i, lo[0] ? lo : "-", hi[0] ? hi : "-", a[0], a[1], b[0], b[1]);
    }
    return 0;
}

static int verify_refunds(rt *r)
{
    char sql[2048], a[2][DAL_CELL], b[2][DAL_CELL];
    if (mig_refund_checksum_sql(sql, sizeof sql, r->rfilter) < 0)
        return -1;
    if (checksum(r, r->g, sql, a) != 0 || checksum(r, r->t, sql, b) != 0)
        return -1;
    if (strcmp(a[0], b[0]) == 0 && strcmp(a[1], b[1]) == 0)
        return 1;
    rt_say(r, "refunds: group %d has %s crc %s, group %d has %s crc %s", r->j.group, a[0], a[1], r->j.into, b[0], b[1]);
    return 0;
}

/* Re-copy chunk i from G (version-guarded: fixes a row T missed). */
static int recopy_chunk(rt *r, int i)
{
    const char *lo, *hi;
    mig_chunks_range(&r->j.chunks, i, &lo, &hi);
    char sel[1024], last[MIG_KEY_LEN + 1];
    snprintf(last, sizeof last, "%s", lo);
    for (;;) {
        snprintf(sel, sizeof sel, "SELECT " ORD_SQL_COLS " FROM orders WHERE order_no > '%s'%s%s%s ORDER BY order_no LIMIT %d",
                 last, hi[0] ? " AND order_no <= '" : "", hi, hi[0] ? "'" : "", r->j.chunk_rows);
        int64_t n = rt_copy_select(r, RT_ORDERS, sel, last, NULL, 0);
        if (n < 0)
            return -1;
        if (n < r->j.chunk_rows)
            return 0;
    }
}

int rt_verify(rt *r, const unsigned char *touched, bool fix)
{
    int bad = 0, nchunks = r->j.chunks.n ? r->j.chunks.n : 1;
    for (int i = 0; i < nchunks; i++) {
        if (touched && !touched[i])
            continue;
        int v = verify_chunk(r, i, fix);
        if (v < 0)
            return -1;
        if (v == 0 && fix) {
            /* re-copy and re-check; G's rows may still be changing (updates
             * through the daemons, a burst of expiries by the sweeper), so a
             * few rounds; after the first, resolve key clashes (G rows whose
             * merchant_id+out_trade_no another order of T holds) */
            for (int round = 0; v == 0 && round < VERIFY_ROUNDS; round++) {
                if (round > 0)
                    sk_sleep_ms(100 * round);
                if (round == 1) {
                    int k = rt_resolve_clashes(r, i);
                    if (k < 0)
                        return -1;
                }
                if (recopy_chunk(r, i) != 0)
                    return -1;
                v = verify_chunk(r, i, round < VERIFY_ROUNDS - 1);
                if (v < 0)
                    return -1;
            }
        }
        bad += v == 0;
    }
    int v = verify_refunds(r);
    if (v < 0)
        return -1;
    if (v == 0 && fix) {
        char last[MIG_KEY_LEN + 1] = "";
        char sel[1024];
        for (;;) {
            snprintf(sel, sizeof sel, "SELECT " ORD_REFUND_SQL_COLS " FROM refunds WHERE refund_no > '%s' ORDER BY refund_no LIMIT %d",
                     last, r->j.chunk_rows);
            int64_t n = rt_copy_select(r, RT_REFUNDS, sel, last, NULL, 0);
            if (n < 0)
                return -1;
            if (n < r->j.chunk_rows)
                break;
        }
        v = verify_refunds(r);
        if (v < 0)
            return -1;
    }
    bad += v == 0;
    if (bad)
        snprintf(r->err, sizeof r->err, "%d chunk(s) differ between group %d and group %d after re-copy and key-clash "
                 "resolution (see the chunk lines above; skipctl audit)", bad, r->j.group, r->j.into);
    return bad ? 0 : 1;
}

