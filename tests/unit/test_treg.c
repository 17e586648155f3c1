/*
 * tests/unit/test_treg.c — the in-memory terminal registry
 * (terminal/registry.c): lookups, newer-wins updates, full replacement that
 * keeps this daemon's newer changes, the entry cap, growth, and lookups
 * running while a writer replaces the table.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terminal/registry.h"

static term_view V(const char *id, const char *m, ts_status s, int64_t at)
{
    term_view v;
    memset(&v, 0, sizeof v);
    snprintf(v.terminal_id, sizeof v.terminal_id, "%s", id);
    snprintf(v.merchant_id, sizeof v.merchant_id, "%s", m);
    v.status = s;
    v.updated_ms = at;
    return v;
}

START_TEST(upsert_newer_wins)
{
    treg *r = treg_create();
    term_view out, rows[2] = {V("t1", "m1", TS_ACTIVE, 100), V("t2", "m1", TS_REGISTERED, 100)};
    ck_assert(!treg_get(r, "t1", &out));
    ck_assert_int_eq(treg_upsert(r, rows, 2, 10), 0);
    ck_assert(treg_get(r, "t1", &out) && out.status == TS_ACTIVE && strcmp(out.merchant_id, "m1") == 0);
    term_view blk = V("t1", "m1", TS_BLOCKED, 200), stale = V("t1", "m1", TS_ACTIVE, 150);
    treg_upsert(r, &blk, 1, 10);
    treg_upsert(r, &stale, 1, 10);      /* a slow read from before the block */
    ck_assert(treg_get(r, "t1", &out) && out.status == TS_BLOCKED);
    term_view same = V("t1", "m1", TS_ACTIVE, 200);   /* same ms: the later write wins */
    treg_upsert(r, &same, 1, 10);
    ck_assert(treg_get(r, "t1", &out) && out.status == TS_ACTIVE);
    ck_assert_int_eq(treg_size(r), 2);
    ck_assert(!treg_get(r, "t", &out) && !treg_get(r, "t10", &out));
    treg_destroy(r);
}
END_TEST

START_TEST(replace_keeps_newer_local_changes)
{
    treg *r = treg_create();
    term_view a[3] = {V("t1", "m1", TS_ACTIVE, 100), V("t2", "m1", TS_ACTIVE, 100), V("gone", "m1", TS_ACTIVE, 50)};
    treg_upsert(r, a, 3, 100);
    term_view blk = V("t2", "m1", TS_BLOCKED, 300), fresh = V("t9", "m1", TS_ACTIVE, 400);
    treg_upsert(r, &blk, 1, 100);       /* applied by this daemon after the read below started */
    treg_upsert(r, &fresh, 1, 100);
    term_view read[2] = {V("t1", "m2", TS_RETIRED, 200), V("t2", "m1", TS_ACTIVE, 250)};
    ck_assert_int_eq(treg_replace(r, read, 2, 100), 0);
    term_view out;
    ck_assert(treg_get(r, "t1", &out) && out.status == TS_RETIRED && strcmp(out.merchant_id, "m2") == 0);
    ck_assert(treg_get(r, "t2", &out) && out.status == TS_BLOCKED);   /* newer than the read: kept */
    ck_assert(treg_get(r, "t9", &out));                                /* after every row of the read: kept */
    ck_assert(!treg_get(r, "gone", &out));                             /* older and absent: dropped */
    ck_assert_int_eq(treg_size(r), 3);
    treg_destroy(r);
}
END_TEST

START_TEST(cap_and_growth)
{
    treg *r = treg_create();
    enum { N = 5000 };
    term_view *rows = calloc(N, sizeof *rows);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%d", i);
        rows[i] = V(id, "m", i % 2 ? TS_ACTIVE : TS_BLOCKED, i);
    }
    ck_assert_int_eq(treg_upsert(r, rows, N, 4000), 1000);
    ck_assert_int_eq(treg_size(r), 4000);
    ck_assert_int_eq(treg_replace(r, rows, N, N), 0);
    ck_assert_int_eq(treg_size(r), N);
    for (int i = 0; i < N; i++) {
        term_view out;
        ck_assert(treg_get(r, rows[i].terminal_id, &out));
        ck_assert_int_eq(out.status, rows[i].status);
    }
    /* updates of held entries are never refused at the cap */
    rows[7].status = TS_RETIRED;
    rows[7].updated_ms = 1 << 30;
    ck_assert_int_eq(treg_upsert(r, &rows[7], 1, N), 0);
    free(rows);
    treg_destroy(r);
}
END_TEST

static treg *shared;
static atomic_int stop;

static void *reader(void *arg)
{
    (void)arg;
    long seen = 0;
    while (!atomic_load(&stop)) {
        term_view out;
        if (treg_get(shared, "hot", &out)) {
            ck_assert_str_eq(out.terminal_id, "hot");
            seen++;
        }
    }
    return (void *)seen;
}

START_TEST(lookups_during_replacement)
{
    shared = treg_create();
    term_view rows[200];
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, i == 0 ? "hot" : "T%d", i);
        rows[i] = V(id, "m", TS_ACTIVE, 1);
    }
    treg_upsert(shared, rows, 200, 1000);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, NULL);
    for (int k = 2; k < 300; k++) {
        for (int i = 0; i < 200; i++)
            rows[i].updated_ms = k;
        ck_assert_int_eq(treg_replace(shared, rows, 200, 1000), 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    term_view out;
    ck_assert(treg_get(shared, "hot", &out) && out.updated_ms == 299);
    treg_destroy(shared);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("treg");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, upsert_newer_wins);
    tcase_add_test(tc, replace_keeps_newer_local_changes);
    tcase_add_test(tc, cap_and_growth);
    tcase_add_test(tc, lookups_during_replacement);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
