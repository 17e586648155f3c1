/* tests/unit/test_sel.c — group selection (pure): effective state, probe
 * tiers, weighted choice, exclusion, sticky choice, window arithmetic. */
#include <check.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include "selector/sel.h"

#define NOW 100000
#define FRESH 1000
#define SLOW 500

static sel_view ok_group(int id, int weight)
{
    sel_view v = {0};
    v.id = id;
    v.weight = weight;
    v.conf_state = GROUP_ACTIVE;
    v.threshold = 5;
    v.probe_at_ms = NOW - 100;
    v.probe_ok = true;
    return v;
}

START_TEST(state_precedence)
{
    sel_view v = ok_group(1, 100);
    ck_assert_int_eq(sel_state(&v), GROUP_ACTIVE);
    v.failures = 4;
    ck_assert_int_eq(sel_state(&v), GROUP_ACTIVE);
    v.failures = 5; /* at the threshold: skipped */
    ck_assert_int_eq(sel_state(&v), GROUP_SKIPPED);
    v.fenced = true;
    ck_assert_int_eq(sel_state(&v), GROUP_FENCED);
    v.conf_state = GROUP_DRAINING;
    ck_assert_int_eq(sel_state(&v), GROUP_DRAINING);
    v.conf_state = GROUP_RETIRED;
    ck_assert_int_eq(sel_state(&v), GROUP_RETIRED);
    v = ok_group(1, 100);
    v.conf_state = GROUP_FENCED;
    ck_assert_int_eq(sel_state(&v), GROUP_FENCED);
}
END_TEST

START_TEST(probe_classes)
{
    sel_view v = ok_group(1, 100);
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_FRESH_OK);
    v.probe_at_ms = NOW - FRESH - 1;
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_STALE);
    v.probe_at_ms = 0;
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_STALE);
    v = ok_group(1, 100);
    v.probe_ok = false;
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_FRESH_FAIL);
    v = ok_group(1, 100);
    v.probe_inflight_since = NOW - SLOW - 1; /* hanging server */
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_STALE);
    v.probe_inflight_since = NOW - 10;
    ck_assert_int_eq(sel_probe_class(&v, NOW, FRESH, SLOW), SEL_PROBE_FRESH_OK);
}
END_TEST

START_TEST(pick_weighted_distribution)
{
    sel_view v[3] = {ok_group(1, 100), ok_group(2, 300), ok_group(3, 0)};
    int hits[3] = {0};
    for (int i = 0; i < 40000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "skip:idem:m:%d", i);
        uint64_t r = sel_hash(key, (size_t)kl, 0);
        bool probe;
        int k = sel_pick(v, 3, NOW, FRESH, SLOW, r, &probe);
        ck_assert_int_ge(k, 0);
        ck_assert(!probe);
        hits[k]++;
    }
    ck_assert_int_eq(hits[2], 0);          /* weight 0 takes nothing */
    ck_assert_int_gt(hits[1], hits[0] * 2); /* 3:1 */
    ck_assert_int_lt(hits[1], hits[0] * 4);
}
END_TEST

START_TEST(pick_skips_unhealthy)
{
    sel_view v[4] = {ok_group(1, 100), ok_group(2, 100), ok_group(3, 100), ok_group(4, 100)};
    v[0].failures = 5;       /* skipped */
    v[0].probe_ok = false;   /* and still failing */
    v[1].fenced = true;
    v[2].probe_ok = false;   /* fresh failed probe */
    for (uint64_t r = 0; r < 100; r++) {
        bool probe;
        ck_assert_int_eq(sel_pick(v, 4, NOW, FRESH, SLOW, r, &probe), 3);
    }
    v[3].excluded = true;    /* already tried */
    bool probe;
    ck_assert_int_eq(sel_pick(v, 4, NOW, FRESH, SLOW, 7, &probe), -1);
}
END_TEST

START_TEST(pick_prefers_fresh_then_stale)
{
    sel_view v[2] = {ok_group(1, 100), ok_group(2, 100)};
    v[0].probe_at_ms = NOW - 5000; /* stale */
    bool probe;
    for (uint64_t r = 0; r < 50; r++) {
        ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, r, &probe), 1);
        ck_assert(!probe);
    }
    v[1].excluded = true;
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 3, &probe), 0);
    ck_assert(probe); /* stale pick needs an inline probe */
}
END_TEST

START_TEST(pick_healed_skipped_last_resort)
{
    sel_view v[2] = {ok_group(1, 100), ok_group(2, 100)};
    v[0].failures = 9; /* skipped by counter, but probe fresh OK: healed */
    bool probe;
    for (uint64_t r = 0; r < 50; r++)
        ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, r, &probe), 1);
    v[1].probe_ok = false; /* the only ACTIVE group is down */
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 1, &probe), 0);
    v[0].probe_ok = false; /* healed? no: still failing */
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 1, &probe), -1);
    v[0].probe_ok = true;
    v[0].fenced = true;    /* a fence is never overridden */
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 1, &probe), -1);
}
END_TEST

/* /readyz counts a group writable exactly when sel_pick could choose it */
START_TEST(can_take_matches_pick)
{
    sel_view v = ok_group(1, 100);
    bool probe;
    ck_assert(sel_can_take(&v, NOW, FRESH, SLOW));
    v.failures = 9;                    /* skipped by counter, probe fresh OK: last resort */
    ck_assert(sel_can_take(&v, NOW, FRESH, SLOW));
    ck_assert_int_eq(sel_pick(&v, 1, NOW, FRESH, SLOW, 7, &probe), 0);
    v.probe_at_ms = NOW - 10 * FRESH;  /* counter-skipped and the probe stale: not even last resort */
    ck_assert(!sel_can_take(&v, NOW, FRESH, SLOW));
    ck_assert_int_eq(sel_pick(&v, 1, NOW, FRESH, SLOW, 7, &probe), -1);
    v.failures = 0;                    /* stale probe alone: the stale tier */
    ck_assert(sel_can_take(&v, NOW, FRESH, SLOW));
    v.probe_at_ms = NOW - 100;
    v.probe_ok = false;                /* fresh failed probe */
    ck_assert(!sel_can_take(&v, NOW, FRESH, SLOW));
    v.probe_ok = true;
    v.fenced = true;
    ck_assert(!sel_can_take(&v, NOW, FRESH, SLOW));
    v.fenced = false;
    v.weight = 0;                      /* draining: never chosen */
    ck_assert(!sel_can_take(&v, NOW, FRESH, SLOW));
}
END_TEST

START_TEST(pick_overloaded_and_reasons)
{
    sel_view v[2] = {ok_group(1, 100), ok_group(2, 100)};
    v[0].overloaded = true;
    ck_assert_str_eq(sel_skip_reason(&v[0], NOW, FRESH, SLOW), "overloaded");
    ck_assert_ptr_null(sel_skip_reason(&v[1], NOW, FRESH, SLOW));
    bool probe;
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 0, &probe), 1);
    v[1].conf_state = GROUP_DRAINING;
    ck_assert_str_eq(sel_skip_reason(&v[1], NOW, FRESH, SLOW), "draining");
    ck_assert_int_eq(sel_pick(v, 2, NOW, FRESH, SLOW, 0, &probe), -1);
    v[1] = ok_group(2, 100);
    v[1].probe_ok = false;
    ck_assert_str_eq(sel_skip_reason(&v[1], NOW, FRESH, SLOW), "probe_failed");
    v[1] = ok_group(2, 0);
    ck_assert_str_eq(sel_skip_reason(&v[1], NOW, FRESH, SLOW), "weight_zero");
}
END_TEST

START_TEST(same_key_same_group)
{
    sel_view v[3] = {ok_group(1, 100), ok_group(2, 100), ok_group(3, 100)};
    const char *k = "skip:idem:m1:t1";
    uint64_t h = sel_hash(k, 15, 0);
    bool probe;
    int a = sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe);
    ck_assert_int_ge(a, 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe), a);
    /* the winner excluded: a deterministic second choice, different */
    v[a].excluded = true;
    int b = sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ne(b, a);
    ck_assert_int_eq(sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe), b);
    v[a].excluded = false;
    ck_assert_int_eq(sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe), a);
    ck_assert_uint_ne(sel_hash("a", 1, 0), sel_hash("b", 1, 0));
}
END_TEST

/* Another group's weight change does not move a key whose winner stays: for
 * many keys, lowering a losing group's weight never moves the key, and raising
 * it moves the key only to that group (rendezvous: one score per group). */
START_TEST(weight_change_moves_keys_only_to_the_changed_group)
{
    sel_view v[3] = {ok_group(1, 100), ok_group(2, 100), ok_group(3, 100)};
    bool probe;
    int moved = 0;
    for (int k = 0; k < 2000; k++) {
        char key[32];
        int len = snprintf(key, sizeof key, "skip:idem:m1:o%d", k);
        uint64_t h = sel_hash(key, (size_t)len, 0);
        int w = sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe);
        ck_assert_int_ge(w, 0);
        for (int o = 0; o < 3; o++) {
            if (o == w)
                continue;
            v[o].weight = 50;
            if (sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe) != w)
                ck_abort_msg("key %s moved from group %d when group %d's weight went down", key, v[w].id, v[o].id);
            v[o].weight = 400;
            int c = sel_pick(v, 3, NOW, FRESH, SLOW, h, &probe);
            if (c != w && c != o)
                ck_abort_msg("key %s moved from group %d to group %d when group %d's weight went up", key,
                             v[w].id, v[c].id, v[o].id);
            moved += c == o;
            v[o].weight = 100;
        }
    }
    /* raising a weight does take keys (else the check above could not fail) */
    ck_assert_int_gt(moved, 0);
}
END_TEST

/* Failure counters are keyed by the primary (failover: the new server starts
 * from zero in every daemon). */
START_TEST(fail_key_names_group_primary_and_window)
{
    char a[96], b[96], c[96], d[96];
    sel_fail_key(a, sizeof a, 2, "127.0.0.1:17020", 60, 29999);
    sel_fail_key(b, sizeof b, 2, "127.0.0.1:17021", 60, 29999);
    sel_fail_key(c, sizeof c, 2, "127.0.0.1:17020", 60, 29999);
    sel_fail_key(d, sizeof d, 2, "127.0.0.1:17020", 60, 30000);
    ck_assert_str_ne(a, b);
    ck_assert_str_eq(a, c);
    ck_assert_str_ne(a, d);
    ck_assert_int_eq(strncmp(a, "skip:fail:2:", 12), 0);
    ck_assert_ptr_nonnull(strstr(a, ":60:29999"));
    ck_assert_int_eq((int)strlen(a), (int)strlen("skip:fail:2:") + 16 + (int)strlen(":60:29999"));
    /* no primary (a group being added) still gives a key */
    ck_assert_int_gt(sel_fail_key(a, sizeof a, 3, NULL, 60, 1), 0);
}
END_TEST

START_TEST(window_index)
{
    ck_assert_int_eq(sel_window_index(0, 60), 0);
    ck_assert_int_eq(sel_window_index(59, 60), 0);
    ck_assert_int_eq(sel_window_index(60, 60), 1);
    ck_assert_int_eq(sel_window_index(1764118612, 5), 1764118612 / 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("selector");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120); /* the distribution tests sample a lot: slow on a loaded box */
    tcase_add_test(tc, state_precedence);
    tcase_add_test(tc, fail_key_names_group_primary_and_window);
    tcase_add_test(tc, probe_classes);
    tcase_add_test(tc, pick_weighted_distribution);
    tcase_add_test(tc, pick_skips_unhealthy);
    tcase_add_test(tc, pick_prefers_fresh_then_stale);
    tcase_add_test(tc, pick_healed_skipped_last_resort);
    tcase_add_test(tc, can_take_matches_pick);
    tcase_add_test(tc, pick_overloaded_and_reasons);
    tcase_add_test(tc, same_key_same_group);
    tcase_add_test(tc, weight_change_moves_keys_only_to_the_changed_group);
    tcase_add_test(tc, window_index);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
