/*
 * tests/unit/test_ostate.c — the order status state machine (order/ostate.c).
 *
 * One table row per decision; a coverage check proves every (status, event)
 * pair has rows; a cartesian sweep checks the invariants on every
 * combination of status, event, expiry, amount and channel_txn_id.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "order/ostate.h"

#define AMT 1000
#define EXP 10000   /* expire_at_ms */

typedef struct {
    const char *name;
    os_event ev;
    os_status st;
    int64_t refunded;
    int64_t now;
    const char *txn;      /* stored channel_txn_id */
    const char *req_txn;
    int64_t paid;
    int64_t refund;
    os_outcome want;
    os_status want_status; /* the status after the decision */
    sk_status want_err;
} row;

#define A(s) OT_APPLY, s, SK_OK
#define N(s) OT_NOOP, s, SK_OK
#define R(s, e) OT_REJECT, s, e

static const row rows[] = {
    /* PAY on CREATED */
    {"pay created", OE_PAY, OS_CREATED, 0, 5000, NULL, "T1", AMT, 0, A(OS_PAID)},
    {"pay created at expire_at (not expired)", OE_PAY, OS_CREATED, 0, EXP, NULL, "T1", AMT, 0, A(OS_PAID)},
    {"pay created 1 ms after expiry", OE_PAY, OS_CREATED, 0, EXP + 1, NULL, "T1", AMT, 0, R(OS_CREATED, SK_EORDER_EXPIRED)},
    {"pay created long after expiry", OE_PAY, OS_CREATED, 0, EXP * 100, NULL, "T1", AMT, 0, R(OS_CREATED, SK_EORDER_EXPIRED)},
    {"pay created amount low", OE_PAY, OS_CREATED, 0, 5000, NULL, "T1", AMT - 1, 0, R(OS_CREATED, SK_EAMOUNT_MISMATCH)},
    {"pay created amount high", OE_PAY, OS_CREATED, 0, 5000, NULL, "T1", AMT + 1, 0, R(OS_CREATED, SK_EAMOUNT_MISMATCH)},
    {"pay created amount zero", OE_PAY, OS_CREATED, 0, 5000, NULL, "T1", 0, 0, R(OS_CREATED, SK_EAMOUNT_MISMATCH)},
    {"pay created expired and mismatched", OE_PAY, OS_CREATED, 0, EXP + 1, NULL, "T1", AMT + 1, 0, R(OS_CREATED, SK_EAMOUNT_MISMATCH)},
    /* PAY on PAID: repeats of the same notification are no-ops */
    {"pay paid same txn", OE_PAY, OS_PAID, 0, 5000, "T1", "T1", AMT, 0, N(OS_PAID)},
    {"pay paid same txn after expiry", OE_PAY, OS_PAID, 0, EXP + 1, "T1", "T1", AMT, 0, N(OS_PAID)},
    {"pay paid other txn", OE_PAY, OS_PAID, 0, 5000, "T1", "T2", AMT, 0, R(OS_PAID, SK_EALREADY_PAID)},
    {"pay paid txn prefix", OE_PAY, OS_PAID, 0, 5000, "T1", "T", AMT, 0, R(OS_PAID, SK_EALREADY_PAID)},
    {"pay paid same txn other amount", OE_PAY, OS_PAID, 0, 5000, "T1", "T1", AMT - 1, 0, R(OS_PAID, SK_EALREADY_PAID)},
    {"pay paid no stored txn", OE_PAY, OS_PAID, 0, 5000, NULL, "T1", AMT, 0, R(OS_PAID, SK_EALREADY_PAID)},
    {"pay paid no request txn", OE_PAY, OS_PAID, 0, 5000, "T1", NULL, AMT, 0, R(OS_PAID, SK_EALREADY_PAID)},
    {"pay paid partly refunded same txn", OE_PAY, OS_PAID, 400, 5000, "T1", "T1", AMT, 0, N(OS_PAID)},
    /* PAY on REFUNDED */
    {"pay refunded same txn", OE_PAY, OS_REFUNDED, AMT, 5000, "T1", "T1", AMT, 0, N(OS_REFUNDED)},
    {"pay refunded other txn", OE_PAY, OS_REFUNDED, AMT, 5000, "T1", "T9", AMT, 0, R(OS_REFUNDED, SK_EALREADY_PAID)},
    {"pay refunded same txn other amount", OE_PAY, OS_REFUNDED, AMT, 5000, "T1", "T1", AMT + 1, 0, R(OS_REFUNDED, SK_EALREADY_PAID)},
    /* PAY on CLOSED */
    {"pay closed", OE_PAY, OS_CLOSED, 0, 5000, NULL, "T1", AMT, 0, R(OS_CLOSED, SK_EORDER_CLOSED)},
    {"pay closed after expiry", OE_PAY, OS_CLOSED, 0, EXP + 1, NULL, "T1", AMT, 0, R(OS_CLOSED, SK_EORDER_CLOSED)},
    {"pay closed wrong amount", OE_PAY, OS_CLOSED, 0, 5000, NULL, "T1", 1, 0, R(OS_CLOSED, SK_EORDER_CLOSED)},

    /* CLOSE */
    {"close created", OE_CLOSE, OS_CREATED, 0, 5000, NULL, NULL, 0, 0, A(OS_CLOSED)},
    {"close created after expiry", OE_CLOSE, OS_CREATED, 0, EXP + 1, NULL, NULL, 0, 0, A(OS_CLOSED)},
    {"close closed (repeat)", OE_CLOSE, OS_CLOSED, 0, 5000, NULL, NULL, 0, 0, N(OS_CLOSED)},
    {"close paid", OE_CLOSE, OS_PAID, 0, 5000, "T1", NULL, 0, 0, R(OS_PAID, SK_EILLEGAL_TRANSITION)},
    {"close refunded", OE_CLOSE, OS_REFUNDED, AMT, 5000, "T1", NULL, 0, 0, R(OS_REFUNDED, SK_EILLEGAL_TRANSITION)},

    /* EXPIRE (sweeper) */
    {"expire created past expire_at", OE_EXPIRE, OS_CREATED, 0, EXP + 1, NULL, NULL, 0, 0, A(OS_CLOSED)},
    {"expire created at expire_at", OE_EXPIRE, OS_CREATED, 0, EXP, NULL, NULL, 0, 0, N(OS_CREATED)},
    {"expire created before expire_at", OE_EXPIRE, OS_CREATED, 0, EXP - 1, NULL, NULL, 0, 0, N(OS_CREATED)},
    {"expire paid", OE_EXPIRE, OS_PAID, 0, EXP + 1, "T1", NULL, 0, 0, N(OS_PAID)},
    {"expire closed", OE_EXPIRE, OS_CLOSED, 0, EXP + 1, NULL, NULL, 0, 0, N(OS_CLOSED)},
    {"expire refunded", OE_EXPIRE, OS_REFUNDED, AMT, EXP + 1, "T1", NULL, 0, 0, N(OS_REFUNDED)},

    /* REFUND */
    {"refund partial", OE_REFUND, OS_PAID, 0, 5000, "T1", NULL, 0, 100, A(OS_PAID)},
    {"refund partial after expiry time", OE_REFUND, OS_PAID, 0, EXP + 1, "T1", NULL, 0, 100, A(OS_PAID)},
    {"refund full at once", OE_REFUND, OS_PAID, 0, 5000, "T1", NULL, 0, AMT, A(OS_REFUNDED)},
    {"refund completes", OE_REFUND, OS_PAID, 900, 5000, "T1", NULL, 0, 100, A(OS_REFUNDED)},
    {"refund one short of full", OE_REFUND, OS_PAID, 900, 5000, "T1", NULL, 0, 99, A(OS_PAID)},
    {"refund exceeds by 1", OE_REFUND, OS_PAID, 900, 5000, "T1", NULL, 0, 101, R(OS_PAID, SK_EREFUND_EXCEEDS)},
    {"refund exceeds order", OE_REFUND, OS_PAID, 0, 5000, "T1", NULL, 0, AMT + 1, R(OS_PAID, SK_EREFUND_EXCEEDS)},
    {"refund huge (no overflow)", OE_REFUND, OS_PAID, 500, 5000, "T1", NULL, 0, INT64_MAX, R(OS_PAID, SK_EREFUND_EXCEEDS)},
    {"refund zero", OE_REFUND, OS_PAID, 0, 5000, "T1", NULL, 0, 0, R(OS_PAID, SK_EINVALID_ARGUMENT)},
    {"refund negative", OE_REFUND, OS_PAID, 0, 5000, "T1", NULL, 0, -5, R(OS_PAID, SK_EINVALID_ARGUMENT)},
    {"refund refunded", OE_REFUND, OS_REFUNDED, AMT, 5000, "T1", NULL, 0, 1, R(OS_REFUNDED, SK_EREFUND_EXCEEDS)},
    {"refund refunded big", OE_REFUND, OS_REFUNDED, AMT, 5000, "T1", NULL, 0, AMT, R(OS_REFUNDED, SK_EREFUND_EXCEEDS)},
    {"refund created", OE_REFUND, OS_CREATED, 0, 5000, NULL, NULL, 0, 100, R(OS_CREATED, SK_EILLEGAL_TRANSITION)},
    {"refund closed", OE_REFUND, OS_CLOSED, 0, 5000, NULL, NULL, 0, 100, R(OS_CLOSED, SK_EILLEGAL_TRANSITION)},
};

static os_input input_of(const row *r)
{
    return (os_input){
        .status = r->st, .amount = AMT, .refunded_amount = r->refunded, .expire_at_ms = EXP,
        .now_ms = r->now, .channel_txn_id = r->txn, .req_channel_txn_id = r->req_txn,
        .req_paid_amount = r->paid, .req_refund_amount = r->refund,
    };
}

START_TEST(table)
{
    const row *r = &rows[_i];
    os_input in = input_of(r);
    os_result res = os_decide(r->ev, &in);
    ck_assert_msg(res.outcome == r->want, "%s: outcome %d want %d", r->name, res.outcome, r->want);
    ck_assert_msg(res.new_status == r->want_status, "%s: status %s want %s", r->name,
                  os_status_name(res.new_status), os_status_name(r->want_status));
    ck_assert_msg(res.error == r->want_err, "%s: error %s want %s", r->name,
                  sk_status_name(res.error), sk_status_name(r->want_err));
}
END_TEST

START_TEST(table_covers_every_status_event)
{
    bool seen[OS_MAX][OE_MAX] = {{false}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        seen[rows[i].st][rows[i].ev] = true;
    for (int s = 0; s < OS_MAX; s++)
        for (int e = 0; e < OE_MAX; e++)
            ck_assert_msg(seen[s][e], "no row for status %s event %d", os_status_name((os_status)s), e);
}
END_TEST

/*
 * Every combination of status x event x {before, at, after expiry} x paid
 * amount x stored/request txn x refunded/refund amounts: only transitions of
 * the diagram are applied, NOOP and REJECT never change the status, and each
 * (status, event) only ever answers with its own errors.
 */
START_TEST(sweep_invariants)
{
    const int64_t nows[] = {EXP - 1, EXP, EXP + 1};
    const int64_t paids[] = {AMT, AMT - 1, AMT + 1};
    const char *txns[] = {NULL, "T1", "T2"};
    const int64_t refundeds[] = {0, 500, AMT};
    const int64_t refunds[] = {1, 500, AMT, AMT + 1};
    long n = 0;
    for (int s = 0; s < OS_MAX; s++)
    for (int e = 0; e < OE_MAX; e++)
    for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 3; b++)
    for (size_t c = 0; c < 3; c++)
    for (size_t d = 0; d < 3; d++)
    for (size_t f = 0; f < 3; f++)
    for (size_t g = 0; g < 4; g++) {
        os_input in = {.status = (os_status)s, .amount = AMT, .refunded_amount = refundeds[f],
                       .expire_at_ms = EXP, .now_ms = nows[a], .channel_txn_id = txns[c],
                       .req_channel_txn_id = txns[d], .req_paid_amount = paids[b],
                       .req_refund_amount = refunds[g]};
        os_result r = os_decide((os_event)e, &in);
        n++;
        if (r.outcome != OT_APPLY) {
            if ((int)r.new_status != s)
                ck_abort_msg("non-apply changed status s=%d e=%d", s, e);
        }
        if (r.outcome != OT_REJECT && r.error != SK_OK)
            ck_abort_msg("error set on non-reject s=%d e=%d", s, e);
        if (r.outcome == OT_APPLY) {
            bool ok = (s == OS_CREATED && e == OE_PAY && r.new_status == OS_PAID) ||
                      (s == OS_CREATED && (e == OE_CLOSE || e == OE_EXPIRE) && r.new_status == OS_CLOSED) ||
                      (s == OS_PAID && e == OE_REFUND && (r.new_status == OS_PAID || r.new_status == OS_REFUNDED));
            if (!ok)
                ck_abort_msg("transition not in the diagram: %s -(%d)-> %s",
                             os_status_name((os_status)s), e, os_status_name(r.new_status));
            if (e == OE_PAY && (in.req_paid_amount != AMT || in.now_ms > EXP))
                ck_abort_msg("paid a mismatched or expired order");
            if (e == OE_REFUND && in.refunded_amount + in.req_refund_amount > AMT)
                ck_abort_msg("refund beyond the paid amount applied");
            if (e == OE_REFUND && (r.new_status == OS_REFUNDED) != (in.refunded_amount + in.req_refund_amount == AMT))
                ck_abort_msg("REFUNDED iff fully refunded");
            if (e == OE_EXPIRE && in.now_ms <= EXP)
                ck_abort_msg("expired at or before expire_at");
        }
        if (r.outcome == OT_REJECT) {
            sk_status x = r.error;
            bool ok = false;
            switch ((os_event)e) {
            case OE_PAY:
                ok = x == SK_EAMOUNT_MISMATCH || x == SK_EORDER_EXPIRED || x == SK_EALREADY_PAID ||
                     x == SK_EORDER_CLOSED;
                break;
            case OE_CLOSE:
                ok = x == SK_EILLEGAL_TRANSITION && (s == OS_PAID || s == OS_REFUNDED);
                break;
            case OE_EXPIRE:
                ok = false; /* the sweeper is never refused */
                break;
            case OE_REFUND:
                ok = (x == SK_EREFUND_EXCEEDS && (s == OS_PAID || s == OS_REFUNDED)) ||
                     (x == SK_EILLEGAL_TRANSITION && (s == OS_CREATED || s == OS_CLOSED));
                break;
            default:
                break;
            }
            if (!ok)
                ck_abort_msg("unexpected error %s for %s event %d", sk_status_name(x),
                             os_status_name((os_status)s), e);
        }
        /* the NOOP on a repeated payment needs the very same notification */
        if (e == OE_PAY && r.outcome == OT_NOOP &&
            !(in.channel_txn_id && in.req_channel_txn_id &&
              strcmp(in.channel_txn_id, in.req_channel_txn_id) == 0 && in.req_paid_amount == AMT))
            ck_abort_msg("pay repeat accepted with a different notification");
    }
    ck_assert_int_eq(n, (long)OS_MAX * OE_MAX * 3 * 3 * 3 * 3 * 3 * 4);
}
END_TEST

START_TEST(lifecycle_refunds)
{
    /* pay, repeated callback, three partial refunds to full, then everything else */
    os_input in = {.status = OS_CREATED, .amount = AMT, .expire_at_ms = EXP, .now_ms = 100,
                   .req_channel_txn_id = "wx-1", .req_paid_amount = AMT};
    os_result r = os_decide(OE_PAY, &in);
    ck_assert(r.outcome == OT_APPLY && r.new_status == OS_PAID);
    in.status = r.new_status;
    in.channel_txn_id = "wx-1";
    in.now_ms = EXP + 5000; /* callbacks repeat after expiry too */
    r = os_decide(OE_PAY, &in);
    ck_assert(r.outcome == OT_NOOP && r.new_status == OS_PAID);

    const int64_t parts[] = {300, 300, 400};
    for (int i = 0; i < 3; i++) {
        in.req_refund_amount = parts[i];
        r = os_decide(OE_REFUND, &in);
        ck_assert_int_eq(r.outcome, OT_APPLY);
        in.refunded_amount += parts[i];
        in.status = r.new_status;
        ck_assert_int_eq(in.status, i < 2 ? OS_PAID : OS_REFUNDED);
    }
    in.req_refund_amount = 1;
    r = os_decide(OE_REFUND, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EREFUND_EXCEEDS);
    r = os_decide(OE_PAY, &in);
    ck_assert(r.outcome == OT_NOOP && r.new_status == OS_REFUNDED);
    in.req_channel_txn_id = "wx-2";
    r = os_decide(OE_PAY, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EALREADY_PAID);
    r = os_decide(OE_CLOSE, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EILLEGAL_TRANSITION);
    r = os_decide(OE_EXPIRE, &in);
    ck_assert(r.outcome == OT_NOOP && r.new_status == OS_REFUNDED);
}
END_TEST

START_TEST(bad_inputs)
{
    os_input in = {.status = OS_CREATED, .amount = AMT, .expire_at_ms = EXP, .now_ms = 1};
    os_result r = os_decide(OE_MAX, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EINTERNAL);
    r = os_decide((os_event)-1, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EINTERNAL);
    in.status = OS_MAX;
    r = os_decide(OE_PAY, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EINTERNAL);
    in.status = (os_status)-3;
    r = os_decide(OE_CLOSE, &in);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EINTERNAL);
    r = os_decide(OE_PAY, NULL);
    ck_assert(r.outcome == OT_REJECT && r.error == SK_EINTERNAL);
}
END_TEST

START_TEST(status_names)
{
    const char *names[OS_MAX] = {"CREATED", "PAID", "CLOSED", "REFUNDED"};
    for (int s = 0; s < OS_MAX; s++) {
        ck_assert_str_eq(os_status_name((os_status)s), names[s]);
        os_status back = OS_MAX;
        ck_assert_int_eq(os_status_parse(names[s], &back), 0);
        ck_assert_int_eq(back, s);
    }
    ck_assert_str_eq(os_status_name(OS_MAX), "UNKNOWN");
    ck_assert_str_eq(os_status_name((os_status)-1), "UNKNOWN");
    os_status x;
    ck_assert_int_eq(os_status_parse("paid", &x), -1);
    ck_assert_int_eq(os_status_parse("PAID ", &x), -1);
    ck_assert_int_eq(os_status_parse("", &x), -1);
    ck_assert_int_eq(os_status_parse("UNKNOWN", &x), -1);
    ck_assert_int_eq(os_status_parse(NULL, &x), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ostate");
    TCase *tc = tcase_create("decide");
    tcase_add_loop_test(tc, table, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, table_covers_every_status_event);
    tcase_add_test(tc, sweep_invariants);
    tcase_add_test(tc, lifecycle_refunds);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, status_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
