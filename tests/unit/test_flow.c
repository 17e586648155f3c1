/* tests/unit/test_flow.c — the create path's pure parts: the attempt plan
 * (every outcome, deadlines, busy vs no group, each group tried once), the
 * dal-status -> outcome map, the claim value codec, and single flight. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "flow/claim.h"
#include "flow/plan.h"
#include "flow/sflight.h"

#define NOW 100000
#define FRESH 1000
#define SLOW 500

static sel_view ok_group(int id)
{
    sel_view v = {0};
    v.id = id;
    v.weight = 100;
    v.conf_state = GROUP_ACTIVE;
    v.threshold = 5;
    v.probe_at_ms = NOW - 100;
    v.probe_ok = true;
    return v;
}

static void three(sel_view v[3])
{
    for (int i = 0; i < 3; i++)
        v[i] = ok_group(i + 1);
}

/* Every outcome: whether it counts, whether it ends the create, with what. */
START_TEST(record_every_outcome)
{
    static const struct {
        plan_outcome o;
        bool count, done, busy;
        sk_status st;
    } want[AT_MAX] = {
        [AT_OK] = {AT_OK, false, true, false, SK_OK},
        [AT_DUPKEY] = {AT_DUPKEY, false, true, false, SK_EDUPKEY},
        [AT_UNKNOWN] = {AT_UNKNOWN, true, false, false, SK_OK},
        [AT_REFUSED] = {AT_REFUSED, true, false, false, SK_OK},
        [AT_BUSY] = {AT_BUSY, false, false, true, SK_OK},
        [AT_PROBE_FAILED] = {AT_PROBE_FAILED, false, false, false, SK_OK},
        [AT_INTERNAL] = {AT_INTERNAL, false, true, false, SK_EINTERNAL},
        [AT_COLLISION] = {AT_COLLISION, false, false, false, SK_OK},
    };
    for (int o = 0; o < AT_MAX; o++) {
        plan p;
        plan_init(&p, NOW + 3000, 42, FRESH, SLOW);
        plan_verdict v = plan_record(&p, 1, (plan_outcome)o);
        ck_assert_msg(v.count_failure == want[o].count, "count %s", plan_outcome_name((plan_outcome)o));
        ck_assert_msg(v.done == want[o].done, "done %s", plan_outcome_name((plan_outcome)o));
        if (v.done)
            ck_assert_int_eq(v.status, want[o].st);
        ck_assert(p.saw_busy == want[o].busy);
    }
}
END_TEST

START_TEST(outcome_of_status)
{
    ck_assert_int_eq(plan_outcome_of(SK_OK), AT_OK);
    ck_assert_int_eq(plan_outcome_of(SK_EDUPKEY), AT_DUPKEY);
    ck_assert_int_eq(plan_outcome_of(SK_ETIMEDOUT), AT_UNKNOWN);
    ck_assert_int_eq(plan_outcome_of(SK_ECONNECT), AT_REFUSED);
    ck_assert_int_eq(plan_outcome_of(SK_EREADONLY), AT_REFUSED);
    ck_assert_int_eq(plan_outcome_of(SK_EDB), AT_REFUSED);
    ck_assert_int_eq(plan_outcome_of(SK_EOVERLOADED), AT_BUSY);
    /* our own failures are never the group's */
    ck_assert_int_eq(plan_outcome_of(SK_ENOMEM), AT_INTERNAL);
    ck_assert_int_eq(plan_outcome_of(SK_EINTERNAL), AT_INTERNAL);
    ck_assert_str_eq(plan_outcome_name(AT_UNKNOWN), "unknown");
    ck_assert_str_eq(plan_outcome_name(AT_MAX), "?");
}
END_TEST

/* Failing groups one after another: each is tried once, then no group. */
START_TEST(each_group_once_then_no_writable_group)
{
    sel_view v[3];
    three(v);
    plan p;
    plan_init(&p, NOW + 3000, 7, FRESH, SLOW);
    bool seen[4] = {false};
    for (int i = 0; i < 3; i++) {
        plan_step s = plan_next(&p, v, 3, NOW);
        ck_assert_int_eq(s.act, PLAN_TRY);
        ck_assert(s.group >= 1 && s.group <= 3);
        ck_assert_msg(!seen[s.group], "group %d tried twice", s.group);
        seen[s.group] = true;
        ck_assert(!s.needs_probe);
        plan_verdict vd = plan_record(&p, s.group, AT_REFUSED);
        ck_assert(vd.count_failure && !vd.done);
    }
    plan_step s = plan_next(&p, v, 3, NOW);
    ck_assert_int_eq(s.act, PLAN_ANSWER);
    ck_assert_int_eq(s.status, SK_ENO_WRITABLE_GROUP);
    ck_assert_int_eq(p.attempts, 3);
}
END_TEST

/* An order number taken in the group by another order: the create tries
 * again with a new number (the same group may be picked again), nothing is
 * counted against the group; after PLAN_MAX_COLLISIONS it answers INTERNAL. */
START_TEST(collision_retries_then_internal)
{
    sel_view v[1] = {ok_group(2)};
    plan p;
    plan_init(&p, NOW + 3000, 7, FRESH, SLOW);
    for (int i = 0; i < PLAN_MAX_COLLISIONS; i++) {
        plan_step s = plan_next(&p, v, 1, NOW);
        ck_assert_int_eq(s.act, PLAN_TRY);
        ck_assert_int_eq(s.group, 2);
        plan_verdict vd = plan_record(&p, s.group, AT_COLLISION);
        ck_assert(!vd.done && !vd.count_failure);
    }
    plan_step s = plan_next(&p, v, 1, NOW);
    ck_assert_int_eq(s.act, PLAN_TRY);
    ck_assert_int_eq(s.group, 2);
    plan_verdict vd = plan_record(&p, s.group, AT_COLLISION);
    ck_assert(vd.done && !vd.count_failure);
    ck_assert_int_eq(vd.status, SK_EINTERNAL);
    ck_assert_str_eq(plan_outcome_name(AT_COLLISION), "collision");
}
END_TEST

/* Busy groups make the final answer OVERLOADED (retry soon), not NO_WRITABLE_GROUP. */
START_TEST(busy_answers_overloaded)
{
    sel_view v[3];
    three(v);
    plan p;
    plan_init(&p, NOW + 3000, 7, FRESH, SLOW);
    for (int i = 0; i < 3; i++) {
        plan_step s = plan_next(&p, v, 3, NOW);
        ck_assert_int_eq(s.act, PLAN_TRY);
        plan_verdict vd = plan_record(&p, s.group, i == 1 ? AT_BUSY : AT_UNKNOWN);
        ck_assert(vd.count_failure == (i != 1));
    }
    plan_step s = plan_next(&p, v, 3, NOW);
    ck_assert_int_eq(s.act, PLAN_ANSWER);
    ck_assert_int_eq(s.status, SK_EOVERLOADED);
}
END_TEST

/* A view already at its in-flight limit (bulkhead full) that is otherwise
 * healthy: not picked, and the answer is OVERLOADED. A full but fenced
 * group does not count as busy. */
START_TEST(overloaded_view)
{
    sel_view v[2] = {ok_group(1), ok_group(2)};
    v[0].overloaded = true;
    v[1].overloaded = true;
    v[1].fenced = true;
    plan p;
    plan_init(&p, NOW + 3000, 7, FRESH, SLOW);
    plan_step s = plan_next(&p, v, 2, NOW);
    ck_assert_int_eq(s.act, PLAN_ANSWER);
    ck_assert_int_eq(s.status, SK_EOVERLOADED);
    sel_view w[1] = {ok_group(2)};
    w[0].overloaded = true;
    w[0].fenced = true;
    plan_init(&p, NOW + 3000, 7, FRESH, SLOW);
    s = plan_next(&p, w, 1, NOW);
    ck_assert_int_eq(s.status, SK_ENO_WRITABLE_GROUP);
}
END_TEST

START_TEST(deadline_passed)
{
    sel_view v[3];
    three(v);
    plan p;
    plan_init(&p, NOW, 7, FRESH, SLOW);
    plan_step s = plan_next(&p, v, 3, NOW);
    ck_assert_int_eq(s.act, PLAN_ANSWER);
    ck_assert_int_eq(s.status, SK_ENO_WRITABLE_GROUP);
    ck_assert_int_eq(p.attempts, 0);
    /* busy seen before the deadline: OVERLOADED */
    plan_init(&p, NOW + 10, 7, FRESH, SLOW);
    s = plan_next(&p, v, 3, NOW);
    (void)plan_record(&p, s.group, AT_BUSY);
    s = plan_next(&p, v, 3, NOW + 10);
    ck_assert_int_eq(s.status, SK_EOVERLOADED);
}
END_TEST

/* The first pick is sel_pick's sticky choice for the key; a success ends it. */
START_TEST(first_pick_is_sticky_and_ok_ends)
{
    sel_view v[3];
    three(v);
    uint64_t key = sel_hash("skip:idem:m1:t1", 15, 0);
    bool probe;
    int idx = sel_pick(v, 3, NOW, FRESH, SLOW, key, &probe);
    plan p;
    plan_init(&p, NOW + 3000, key, FRESH, SLOW);
    plan_step s = plan_next(&p, v, 3, NOW);
    ck_assert_int_eq(s.group, v[idx].id);
    plan_verdict vd = plan_record(&p, s.group, AT_OK);
    ck_assert(vd.done && vd.status == SK_OK && !vd.count_failure);
}
END_TEST

/* Only stale groups: tried with an inline probe; a failed probe moves on
 * without counting (the prober counted it). */
START_TEST(stale_needs_probe)
{
    sel_view v[2] = {ok_group(1), ok_group(2)};
    v[0].probe_at_ms = NOW - FRESH - 1;
    v[1].probe_at_ms = NOW - FRESH - 1;
    plan p;
    plan_init(&p, NOW + 3000, 9, FRESH, SLOW);
    plan_step s = plan_next(&p, v, 2, NOW);
    ck_assert_int_eq(s.act, PLAN_TRY);
    ck_assert(s.needs_probe);
    plan_verdict vd = plan_record(&p, s.group, AT_PROBE_FAILED);
    ck_assert(!vd.count_failure && !vd.done);
    s = plan_next(&p, v, 2, NOW);
    ck_assert_int_eq(s.act, PLAN_TRY);
    ck_assert(s.needs_probe);
}
END_TEST

START_TEST(claim_codec)
{
    char key[CLAIM_KEY_MAX], val[CLAIM_VAL_MAX];
    claim_key(key, "m1", "T-1.x");
    ck_assert_str_eq(key, "skip:idem:m1:T-1.x");
    claim_value(val, "2026112601102600100000032", 1764118612345LL, "123-456-7");
    ck_assert_str_eq(val, "2026112601102600100000032|1764118612345|123-456-7");
    claim_holder h;
    claim_parse(val, &h);
    ck_assert(h.valid);
    ck_assert_str_eq(h.order_no, "2026112601102600100000032");
    ck_assert_int_eq(h.deadline_wall_ms, 1764118612345LL);
    ck_assert_str_eq(h.raw, val);
    ck_assert(!claim_holder_gone(&h, 1764118612345LL + CLAIM_TAKEOVER_MARGIN_MS));
    ck_assert(claim_holder_gone(&h, 1764118612345LL + CLAIM_TAKEOVER_MARGIN_MS + 1));
    static const char *const bad[] = {"", "|", "2026|1|x", "2026112601102600100000032", "2026112601102600100000032|",
                                      "2026112601102600100000032|abc|t", "2026112601102600100000032|12",
                                      "20261126011026001000000321|1|t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        claim_parse(bad[i], &h);
        ck_assert_msg(!h.valid, "accepted '%s'", bad[i]);
        ck_assert(claim_holder_gone(&h, 0)); /* garbage is replaced at once */
    }
}
END_TEST

/* ---- single flight ---- */

typedef struct {
    sflight *s;
    int leaders, followers_ok, joined, want;
    pthread_mutex_t mu;
} sfx;

static void *sf_worker(void *arg)
{
    sfx *x = arg;
    bool leader;
    sf_entry *e = sf_join(x->s, "skip:idem:m:t", &leader);
    if (leader) {
        pthread_mutex_lock(&x->mu);
        x->leaders++;
        pthread_mutex_unlock(&x->mu);
        /* hold the flight until every other worker has joined it (bounded) */
        for (int i = 0; i < 10000; i++) {
            pthread_mutex_lock(&x->mu);
            bool all = x->joined >= x->want;
            pthread_mutex_unlock(&x->mu);
            if (all)
                break;
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        order_t o;
        memset(&o, 0, sizeof o);
        strcpy(o.order_no, "2026112601102600100000032");
        sf_finish(x->s, e, SK_OK, &o);
    } else {
        pthread_mutex_lock(&x->mu);
        x->joined++;
        pthread_mutex_unlock(&x->mu);
        sk_status st;
        order_t o;
        bool has;
        if (sf_wait(x->s, e, sk_mono_ms() + 5000, &st, &o, &has) && st == SK_OK && has &&
            strcmp(o.order_no, "2026112601102600100000032") == 0) {
            pthread_mutex_lock(&x->mu);
            x->followers_ok++;
            pthread_mutex_unlock(&x->mu);
        }
    }
    return NULL;
}

START_TEST(single_flight_one_leader)
{
    sfx x = {.s = sf_create(), .want = 15};
    pthread_mutex_init(&x.mu, NULL);
    enum { N = 16 };
    pthread_t th[N];
    /* the first joins before the others start: one leader for certain */
    pthread_create(&th[0], NULL, sf_worker, &x);
    while (sf_size(x.s) == 0)
        sched_yield();
    for (int i = 1; i < N; i++)
        pthread_create(&th[i], NULL, sf_worker, &x);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(x.leaders, 1);
    ck_assert_int_eq(x.followers_ok, N - 1);
    ck_assert_int_eq(sf_size(x.s), 0);
    /* after the leader finished, the next request leads a new flight */
    bool leader;
    sf_entry *e = sf_join(x.s, "skip:idem:m:t", &leader);
    ck_assert(leader);
    sf_finish(x.s, e, SK_EOVERLOADED, NULL);
    sf_destroy(x.s);
}
END_TEST

START_TEST(single_flight_follower_times_out)
{
    sflight *s = sf_create();
    bool leader;
    sf_entry *l = sf_join(s, "k", &leader);
    ck_assert(leader);
    sf_entry *f = sf_join(s, "k", &leader);
    ck_assert(!leader);
    sf_entry *other = sf_join(s, "k2", &leader);
    ck_assert(leader); /* another key: its own flight */
    sk_status st = SK_OK;
    order_t o;
    bool has = true;
    int64_t t0 = sk_mono_ms();
    ck_assert(!sf_wait(s, f, t0 + 30, &st, &o, &has));
    ck_assert_int_ge(sk_mono_ms() - t0, 29);
    sf_finish(s, l, SK_ENO_WRITABLE_GROUP, NULL);
    sf_finish(s, other, SK_OK, NULL);
    ck_assert_int_eq(sf_size(s), 0);
    sf_destroy(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, record_every_outcome);
    tcase_add_test(tc, collision_retries_then_internal);
    tcase_add_test(tc, outcome_of_status);
    tcase_add_test(tc, each_group_once_then_no_writable_group);
    tcase_add_test(tc, busy_answers_overloaded);
    tcase_add_test(tc, overloaded_view);
    tcase_add_test(tc, deadline_passed);
    tcase_add_test(tc, first_pick_is_sticky_and_ok_ends);
    tcase_add_test(tc, stale_needs_probe);
    tcase_add_test(tc, claim_codec);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("sflight");
    tcase_add_test(tf, single_flight_one_leader);
    tcase_add_test(tf, single_flight_follower_times_out);
    suite_add_tcase(s, tf);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
