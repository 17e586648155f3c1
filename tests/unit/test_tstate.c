/*
 * tests/unit/test_tstate.c — the terminal state machine (terminal/tstate.c).
 *
 * One table row per decision; a coverage check proves every (status, event)
 * pair has a row; a sweep over status x event x failure count checks the
 * invariants (only diagram transitions, NOOP/REJECT change nothing, errors
 * only where the rules put them); lifecycles walk the paths of spec §11.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>

#include "terminal/tstate.h"

typedef struct {
    const char *name;
    ts_event ev;
    ts_status st;
    int failures;
    ts_outcome want;
    ts_status want_status;
    int want_failures;
    bool issue, clear;
    sk_status want_err;
} row;

#define APPLY(s, f, i, c) TT_APPLY, s, f, i, c, SK_OK
#define FAIL(s, f, c, e) TT_APPLY_FAIL, s, f, false, c, e
#define NOOP(s, f) TT_NOOP, s, f, false, false, SK_OK
#define REJ(s, f, e) TT_REJECT, s, f, false, false, e

static const row rows[] = {
    /* REGISTER */
    {"register new", TE_REGISTER, TS_NONE, 0, APPLY(TS_REGISTERED, 0, true, false)},
    {"register registered", TE_REGISTER, TS_REGISTERED, 0, REJ(TS_REGISTERED, 0, SK_EILLEGAL_TRANSITION)},
    {"register active", TE_REGISTER, TS_ACTIVE, 0, REJ(TS_ACTIVE, 0, SK_EILLEGAL_TRANSITION)},
    {"register blocked", TE_REGISTER, TS_BLOCKED, 0, REJ(TS_BLOCKED, 0, SK_EILLEGAL_TRANSITION)},
    {"register locked", TE_REGISTER, TS_LOCKED, 5, REJ(TS_LOCKED, 5, SK_EILLEGAL_TRANSITION)},
    {"register retired", TE_REGISTER, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_EILLEGAL_TRANSITION)},

    /* ACTIVATE with the right code */
    {"activate ok", TE_ACTIVATE_OK, TS_REGISTERED, 0, APPLY(TS_ACTIVE, 0, false, true)},
    {"activate ok after 4 wrong", TE_ACTIVATE_OK, TS_REGISTERED, 4, APPLY(TS_ACTIVE, 0, false, true)},
    {"activate ok unknown", TE_ACTIVATE_OK, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},
    {"activate ok active (code used)", TE_ACTIVATE_OK, TS_ACTIVE, 0, REJ(TS_ACTIVE, 0, SK_EACTIVATION_FAILED)},
    {"activate ok locked", TE_ACTIVATE_OK, TS_LOCKED, 5, REJ(TS_LOCKED, 5, SK_EACTIVATION_FAILED)},
    {"activate ok blocked", TE_ACTIVATE_OK, TS_BLOCKED, 0, REJ(TS_BLOCKED, 0, SK_ETERMINAL_BLOCKED)},
    {"activate ok retired", TE_ACTIVATE_OK, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_ETERMINAL_NOT_ACTIVE)},

    /* ACTIVATE with a wrong (or expired, or used) code */
    {"wrong 1st", TE_ACTIVATE_WRONG, TS_REGISTERED, 0, FAIL(TS_REGISTERED, 1, false, SK_EACTIVATION_FAILED)},
    {"wrong 4th", TE_ACTIVATE_WRONG, TS_REGISTERED, 3, FAIL(TS_REGISTERED, 4, false, SK_EACTIVATION_FAILED)},
    {"wrong 5th locks", TE_ACTIVATE_WRONG, TS_REGISTERED, 4, FAIL(TS_LOCKED, 5, true, SK_EACTIVATION_FAILED)},
    {"wrong past 5 (bad row) locks", TE_ACTIVATE_WRONG, TS_REGISTERED, 9, FAIL(TS_LOCKED, 10, true, SK_EACTIVATION_FAILED)},
    {"wrong negative count (bad row)", TE_ACTIVATE_WRONG, TS_REGISTERED, -3, FAIL(TS_REGISTERED, 1, false, SK_EACTIVATION_FAILED)},
    {"wrong unknown", TE_ACTIVATE_WRONG, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},
    {"wrong active: not counted", TE_ACTIVATE_WRONG, TS_ACTIVE, 0, REJ(TS_ACTIVE, 0, SK_EACTIVATION_FAILED)},
    {"wrong locked: not counted", TE_ACTIVATE_WRONG, TS_LOCKED, 5, REJ(TS_LOCKED, 5, SK_EACTIVATION_FAILED)},
    {"wrong blocked", TE_ACTIVATE_WRONG, TS_BLOCKED, 0, REJ(TS_BLOCKED, 0, SK_ETERMINAL_BLOCKED)},
    {"wrong retired", TE_ACTIVATE_WRONG, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_ETERMINAL_NOT_ACTIVE)},

    /* BLOCK */
    {"block active", TE_BLOCK, TS_ACTIVE, 0, APPLY(TS_BLOCKED, 0, false, false)},
    {"block blocked (repeat)", TE_BLOCK, TS_BLOCKED, 0, NOOP(TS_BLOCKED, 0)},
    {"block registered", TE_BLOCK, TS_REGISTERED, 2, REJ(TS_REGISTERED, 2, SK_EILLEGAL_TRANSITION)},
    {"block locked", TE_BLOCK, TS_LOCKED, 5, REJ(TS_LOCKED, 5, SK_EILLEGAL_TRANSITION)},
    {"block retired", TE_BLOCK, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_EILLEGAL_TRANSITION)},
    {"block unknown", TE_BLOCK, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},

    /* UNBLOCK */
    {"unblock blocked", TE_UNBLOCK, TS_BLOCKED, 0, APPLY(TS_ACTIVE, 0, false, false)},
    {"unblock active (repeat)", TE_UNBLOCK, TS_ACTIVE, 0, NOOP(TS_ACTIVE, 0)},
    {"unblock registered", TE_UNBLOCK, TS_REGISTERED, 0, REJ(TS_REGISTERED, 0, SK_EILLEGAL_TRANSITION)},
    {"unblock locked", TE_UNBLOCK, TS_LOCKED, 5, REJ(TS_LOCKED, 5, SK_EILLEGAL_TRANSITION)},
    {"unblock retired", TE_UNBLOCK, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_EILLEGAL_TRANSITION)},
    {"unblock unknown", TE_UNBLOCK, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},

    /* NEW_CODE */
    {"new code registered", TE_NEW_CODE, TS_REGISTERED, 3, APPLY(TS_REGISTERED, 0, true, false)},
    {"new code locked", TE_NEW_CODE, TS_LOCKED, 5, APPLY(TS_REGISTERED, 0, true, false)},
    {"new code active", TE_NEW_CODE, TS_ACTIVE, 0, REJ(TS_ACTIVE, 0, SK_EILLEGAL_TRANSITION)},
    {"new code blocked", TE_NEW_CODE, TS_BLOCKED, 0, REJ(TS_BLOCKED, 0, SK_EILLEGAL_TRANSITION)},
    {"new code retired", TE_NEW_CODE, TS_RETIRED, 0, REJ(TS_RETIRED, 0, SK_EILLEGAL_TRANSITION)},
    {"new code unknown", TE_NEW_CODE, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},

    /* RETIRE */
    {"retire registered", TE_RETIRE, TS_REGISTERED, 1, APPLY(TS_RETIRED, 1, false, true)},
    {"retire active", TE_RETIRE, TS_ACTIVE, 0, APPLY(TS_RETIRED, 0, false, true)},
    {"retire blocked", TE_RETIRE, TS_BLOCKED, 0, APPLY(TS_RETIRED, 0, false, true)},
    {"retire locked", TE_RETIRE, TS_LOCKED, 5, APPLY(TS_RETIRED, 5, false, true)},
    {"retire retired (repeat)", TE_RETIRE, TS_RETIRED, 0, NOOP(TS_RETIRED, 0)},
    {"retire unknown", TE_RETIRE, TS_NONE, 0, REJ(TS_NONE, 0, SK_ENOT_FOUND)},
};

START_TEST(table)
{
    const row *r = &rows[_i];
    ts_input in = {.status = r->st, .failures = r->failures};
    ts_result x = ts_decide(r->ev, &in);
    ck_assert_msg(x.outcome == r->want, "%s: outcome %d want %d", r->name, x.outcome, r->want);
    ck_assert_msg(x.new_status == r->want_status, "%s: status %s want %s", r->name, ts_status_name(x.new_status),
                  ts_status_name(r->want_status));
    ck_assert_msg(x.new_failures == r->want_failures, "%s: failures %d want %d", r->name, x.new_failures,
                  r->want_failures);
    ck_assert_msg(x.issue_code == r->issue, "%s: issue_code", r->name);
    ck_assert_msg(x.clear_code == r->clear, "%s: clear_code", r->name);
    ck_assert_msg(x.error == r->want_err, "%s: error %s want %s", r->name, sk_status_name(x.error),
                  sk_status_name(r->want_err));
}
END_TEST

START_TEST(table_covers_every_status_event)
{
    bool seen[TS_MAX][TE_MAX] = {{false}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        seen[rows[i].st][rows[i].ev] = true;
    for (int s = 0; s < TS_MAX; s++)
        for (int e = 0; e < TE_MAX; e++)
            ck_assert_msg(seen[s][e], "no row for status %s event %s", ts_status_name((ts_status)s),
                          ts_event_name((ts_event)e));
}
END_TEST

/* Is s -> n by e an edge of the diagram in tstate.h? */
static bool edge(ts_status s, ts_event e, ts_status n)
{
    switch (e) {
    case TE_REGISTER: return s == TS_NONE && n == TS_REGISTERED;
    case TE_ACTIVATE_OK: return s == TS_REGISTERED && n == TS_ACTIVE;
    case TE_ACTIVATE_WRONG: return s == TS_REGISTERED && (n == TS_REGISTERED || n == TS_LOCKED);
    case TE_BLOCK: return s == TS_ACTIVE && n == TS_BLOCKED;
    case TE_UNBLOCK: return s == TS_BLOCKED && n == TS_ACTIVE;
    case TE_NEW_CODE: return (s == TS_REGISTERED || s == TS_LOCKED) && n == TS_REGISTERED;
    case TE_RETIRE: return s != TS_NONE && s != TS_RETIRED && n == TS_RETIRED;
    default: return false;
    }
}

START_TEST(sweep_invariants)
{
    for (int s = 0; s < TS_MAX; s++)
        for (int e = 0; e < TE_MAX; e++)
            for (int f = 0; f <= TS_MAX_WRONG + 1; f++) {
                ts_input in = {.status = (ts_status)s, .failures = f};
                ts_result x = ts_decide((ts_event)e, &in);
                const char *sn = ts_status_name((ts_status)s), *en = ts_event_name((ts_event)e);
                if (x.outcome == TT_NOOP || x.outcome == TT_REJECT) {
                    ck_assert_msg((int)x.new_status == s && x.new_failures == f && !x.issue_code && !x.clear_code,
                                  "%s/%s f=%d: a no-op changed something", sn, en, f);
                } else {
                    ck_assert_msg(edge((ts_status)s, (ts_event)e, x.new_status), "%s -%s-> %s not in the diagram",
                                  sn, en, ts_status_name(x.new_status));
                }
                ck_assert_msg((x.outcome == TT_APPLY || x.outcome == TT_NOOP) == (x.error == SK_OK),
                              "%s/%s: error iff refused", sn, en);
                /* only a wrong code is written while refused, and it always counts */
                if (x.outcome == TT_APPLY_FAIL)
                    ck_assert(e == TE_ACTIVATE_WRONG && x.new_failures == f + 1 &&
                              x.error == SK_EACTIVATION_FAILED);
                /* LOCKED exactly at the fifth wrong code */
                if (e == TE_ACTIVATE_WRONG && s == TS_REGISTERED)
                    ck_assert_msg((x.new_status == TS_LOCKED) == (f + 1 >= TS_MAX_WRONG), "lock at f=%d", f);
                /* a code is issued only where an activation can follow, and a
                 * terminal that leaves REGISTERED never keeps a usable code */
                if (x.issue_code)
                    ck_assert(x.new_status == TS_REGISTERED);
                if ((x.outcome == TT_APPLY || x.outcome == TT_APPLY_FAIL) && x.new_status != TS_REGISTERED &&
                    s == TS_REGISTERED)
                    ck_assert_msg(x.clear_code, "%s/%s leaves a live code", sn, en);
                /* only ACTIVE comes out of an activation or an unblock */
                if (x.outcome == TT_APPLY && x.new_status == TS_ACTIVE)
                    ck_assert(e == TE_ACTIVATE_OK || e == TE_UNBLOCK);
                if (s == TS_NONE && e != TE_REGISTER)
                    ck_assert(x.outcome == TT_REJECT && x.error == SK_ENOT_FOUND);
            }
}
END_TEST

START_TEST(lifecycle_lock_and_recover)
{
    ts_input in = {.status = TS_NONE};
    ts_result x = ts_decide(TE_REGISTER, &in);
    ck_assert(x.outcome == TT_APPLY && x.issue_code);
    in = (ts_input){x.new_status, x.new_failures};
    for (int i = 1; i <= TS_MAX_WRONG; i++) {
        x = ts_decide(TE_ACTIVATE_WRONG, &in);
        ck_assert_int_eq(x.outcome, TT_APPLY_FAIL);
        ck_assert_int_eq(x.new_failures, i);
        in = (ts_input){x.new_status, x.new_failures};
    }
    ck_assert_int_eq(in.status, TS_LOCKED);
    /* the right code no longer helps */
    ck_assert_int_eq(ts_decide(TE_ACTIVATE_OK, &in).error, SK_EACTIVATION_FAILED);
    x = ts_decide(TE_NEW_CODE, &in);
    ck_assert(x.outcome == TT_APPLY && x.new_status == TS_REGISTERED && x.new_failures == 0 && x.issue_code);
    in = (ts_input){x.new_status, x.new_failures};
    x = ts_decide(TE_ACTIVATE_OK, &in);
    ck_assert(x.outcome == TT_APPLY && x.new_status == TS_ACTIVE && x.clear_code);
    in = (ts_input){x.new_status, x.new_failures};
    /* a stolen POS: block, unblock, retire */
    x = ts_decide(TE_BLOCK, &in);
    ck_assert(x.new_status == TS_BLOCKED);
    in = (ts_input){x.new_status, x.new_failures};
    ck_assert_int_eq(ts_decide(TE_ACTIVATE_OK, &in).error, SK_ETERMINAL_BLOCKED);
    ck_assert_int_eq(ts_decide(TE_NEW_CODE, &in).error, SK_EILLEGAL_TRANSITION);
    x = ts_decide(TE_UNBLOCK, &in);
    ck_assert(x.new_status == TS_ACTIVE);
    in = (ts_input){x.new_status, x.new_failures};
    x = ts_decide(TE_RETIRE, &in);
    ck_assert(x.new_status == TS_RETIRED);
    in = (ts_input){x.new_status, x.new_failures};
    for (int e = 0; e < TE_MAX; e++)
        ck_assert_msg(ts_decide((ts_event)e, &in).new_status == TS_RETIRED, "RETIRED is final (%s)",
                      ts_event_name((ts_event)e));
}
END_TEST

START_TEST(bad_inputs_and_names)
{
    ts_input in = {.status = TS_ACTIVE};
    ck_assert_int_eq(ts_decide(TE_MAX, &in).error, SK_EINTERNAL);
    ck_assert_int_eq(ts_decide((ts_event)-1, &in).error, SK_EINTERNAL);
    in.status = TS_MAX;
    ck_assert_int_eq(ts_decide(TE_BLOCK, &in).error, SK_EINTERNAL);
    ck_assert_int_eq(ts_decide(TE_BLOCK, NULL).error, SK_EINTERNAL);
    const char *names[] = {"REGISTERED", "ACTIVE", "BLOCKED", "LOCKED", "RETIRED"};
    for (int i = 0; i < 5; i++) {
        ts_status s;
        ck_assert_int_eq(ts_status_parse(names[i], &s), 0);
        ck_assert_int_eq(s, i + 1);
        ck_assert_str_eq(ts_status_name(s), names[i]);
    }
    ck_assert_int_eq(ts_status_parse("NONE", NULL), -1);
    ck_assert_int_eq(ts_status_parse("active", NULL), -1);
    ck_assert_int_eq(ts_status_parse(NULL, NULL), -1);
    ck_assert_str_eq(ts_status_name(TS_MAX), "UNKNOWN");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tstate");
    TCase *tc = tcase_create("decide");
    tcase_add_loop_test(tc, table, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, table_covers_every_status_event);
    tcase_add_test(tc, sweep_invariants);
    tcase_add_test(tc, lifecycle_lock_and_recover);
    tcase_add_test(tc, bad_inputs_and_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
