/*
 * tests/unit/test_failover.c — the pure core of group failover
 * (failover/fo.c): GTID positions and their order, replica choice by GTID,
 * every refusal rule, the step state machine over every state x event pair,
 * and the automatic trigger.
 */
#include <string.h>

#include "config/conf.h"
#include "failover/fo.h"
#include "migrate/mig.h"
#include "tests/unit/unit.h"

static fo_gtid G(const char *s)
{
    fo_gtid g;
    ck_assert_int_eq(fo_gtid_parse(s, &g), 0);
    return g;
}

START_TEST(gtid_parse_format)
{
    char b[256];
    fo_gtid g = G("0-18020-57,1-18021-3");
    ck_assert_int_eq(g.n, 2);
    ck_assert_str_eq(fo_gtid_format(&g, b, sizeof b), "0-18020-57,1-18021-3");
    g = G("");
    ck_assert_int_eq(g.n, 0);
    ck_assert_str_eq(fo_gtid_format(&g, b, sizeof b), "");
    g = G(" 0-1-18446744073709551615 ");
    ck_assert(g.d[0].seq == 18446744073709551615ULL);
    fo_gtid x;
    const char *bad[] = {"0-1", "0-1-", "a-1-2", "0-1-2,", "0-1-2,0-3-4", "0-1-18446744073709551616",
                         "0-4294967296-1", "0-1-2;1-1-1", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(fo_gtid_parse(bad[i], &x) == -1, "%s", bad[i]);
    ck_assert_int_eq(fo_gtid_parse(NULL, &x), -1);
}
END_TEST

START_TEST(gtid_order)
{
    fo_gtid a = G("0-1-10"), b = G("0-1-9"), c = G("0-1-10,1-2-1"), e = G("");
    ck_assert_int_eq(fo_gtid_cmp(&a, &a), FO_GTID_EQUAL);
    ck_assert_int_eq(fo_gtid_cmp(&a, &b), FO_GTID_AHEAD);
    ck_assert_int_eq(fo_gtid_cmp(&b, &a), FO_GTID_BEHIND);
    ck_assert_int_eq(fo_gtid_cmp(&c, &a), FO_GTID_AHEAD);
    ck_assert_int_eq(fo_gtid_cmp(&e, &a), FO_GTID_BEHIND);
    fo_gtid d1 = G("0-1-10,1-2-1"), d2 = G("0-1-11");
    ck_assert_int_eq(fo_gtid_cmp(&d1, &d2), FO_GTID_DIVERGED);
    /* the server id of the last GTID does not matter, only the sequence */
    fo_gtid s1 = G("0-18021-12"), s2 = G("0-18020-12");
    ck_assert_int_eq(fo_gtid_cmp(&s1, &s2), FO_GTID_EQUAL);
    char out[256];
    ck_assert_int_eq(fo_gtid_extra(&c, &b, out, sizeof out), 2);
    ck_assert_str_eq(out, "0-1-10..0-1-10,1-2-1..1-2-1");
    ck_assert_int_eq(fo_gtid_extra(&b, &a, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

static fo_replica R(const char *addr, const char *recv, const char *appl, bool sql)
{
    fo_replica r = {.addr = addr, .reachable = true, .is_replica = true, .sql_running = sql};
    r.received = G(recv);
    r.applied = G(appl);
    return r;
}

/* A record that proves the quiet point: last heartbeat `binlog` acked 200 ms
 * before the primary stopped answering, semi-sync timeout 2 s. */
static fo_evidence EV(bool on, const char *binlog)
{
    fo_evidence e = {.known = true, .semi_sync_on = on, .at_ms = 1000, .quiet_ms = 1000, .timeout_ms = 2000,
                     .down_ms = 1200, .now_ms = 6500};
    e.binlog = G(binlog);
    e.quiet = G(binlog);
    return e;
}

START_TEST(choose_most_advanced)
{
    fo_replica r[3] = {R("a:1", "0-1-10", "0-1-10", true), R("b:1", "0-1-12", "0-1-12", true),
                       R("c:1", "0-1-11", "0-1-11", true)};
    fo_evidence ev = EV(true, "0-1-12");
    fo_choice c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_OK);
    ck_assert_int_eq(c.chosen, 1);
    /* an unreachable replica is ignored even when it would be ahead */
    r[0] = R("a:1", "0-1-20", "0-1-20", true);
    r[0].reachable = false;
    c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, NULL, true);
    ck_assert_int_eq(c.chosen, 1);
    /* --to naming the best one is fine; naming a lagging one is refused */
    c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, "b:1", true);
    ck_assert_int_eq(c.why, FO_OK);
    c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, "c:1", true);
    ck_assert_int_eq(c.why, FO_R_BEHIND_OTHER);
    ck_assert_int_eq(c.culprit, 1);
    c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, "z:1", true);
    ck_assert_int_eq(c.why, FO_R_TO_UNKNOWN);
    c = fo_choose(FO_PRIMARY_DEAD, r, 3, &ev, "a:1", true);
    ck_assert_int_eq(c.why, FO_R_UNREACHABLE);
}
END_TEST

START_TEST(refusal_rules)
{
    fo_replica ok = R("a:1", "0-1-10", "0-1-10", true);
    fo_evidence ev = EV(true, "0-1-10");
    fo_choice c;
    c = fo_choose(FO_PRIMARY_WRITABLE, &ok, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_PRIMARY_ALIVE);
    c = fo_choose(FO_PRIMARY_READONLY, &ok, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_PRIMARY_READONLY);
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 0, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_NO_REPLICA);
    fo_replica down = ok;
    down.reachable = false;
    c = fo_choose(FO_PRIMARY_DEAD, &down, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_UNREACHABLE);
    fo_replica notrep = ok;
    notrep.is_replica = false;
    c = fo_choose(FO_PRIMARY_DEAD, &notrep, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_NOT_REPLICA);
    /* SQL thread stopped before the kill: received more than applied */
    fo_replica stopped = R("a:1", "0-1-10", "0-1-7", false);
    c = fo_choose(FO_PRIMARY_DEAD, &stopped, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_SQL_STOPPED);
    ck_assert_int_eq(c.culprit, 0);
    /* stopped but fully applied is still refused: nobody knows why it was stopped */
    stopped = R("a:1", "0-1-10", "0-1-10", false);
    c = fo_choose(FO_PRIMARY_DEAD, &stopped, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_SQL_STOPPED);
    fo_replica lag = R("a:1", "0-1-10", "0-1-9", true);
    c = fo_choose(FO_PRIMARY_DEAD, &lag, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_NOT_APPLIED);
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, NULL, NULL, true);
    ck_assert_int_eq(c.why, FO_R_NO_EVIDENCE);
    fo_evidence none = {0};
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, &none, NULL, true);
    ck_assert_int_eq(c.why, FO_R_NO_EVIDENCE);
    fo_evidence async = EV(false, "0-1-10");
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, &async, NULL, true);
    ck_assert_int_eq(c.why, FO_R_ASYNC);
    /* without required evidence (--force-async) those two rules are off */
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, &async, NULL, false);
    ck_assert_int_eq(c.why, FO_OK);
    fo_evidence ahead = EV(true, "0-1-11");
    c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ahead, NULL, true);
    ck_assert_int_eq(c.why, FO_R_MISSING);
    fo_replica dv[2] = {R("a:1", "0-1-10,1-2-1", "0-1-10,1-2-1", true), R("b:1", "0-1-11", "0-1-11", true)};
    c = fo_choose(FO_PRIMARY_DEAD, dv, 2, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_DIVERGED);
    for (int i = 0; i < FO_R_MAX; i++) {
        ck_assert_str_ne(fo_refusal_name((fo_refusal)i), "?");
        ck_assert(strlen(fo_refusal_text((fo_refusal)i)) > 10);
    }
}
END_TEST

/* The quiet point (docs/failover.md): the primary must have stopped answering
 * less than its semi-sync timeout after the start of its last probe whose
 * heartbeat was acknowledged; otherwise it may have fallen back to async and
 * acknowledged commits no replica has. */
START_TEST(quiet_point_bounds_the_async_fallback)
{
    fo_replica ok = R("a:1", "0-1-10", "0-1-10", true);
    fo_evidence ev = EV(true, "0-1-10");
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_OK);
    /* down 1999 ms after the quiet point: provable; 2000: not */
    ev.down_ms = ev.quiet_ms + 1999;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_OK);
    ev.down_ms = ev.quiet_ms + 2000;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_R_UNPROVEN);
    /* no failed-probe record: the time of the check is the only bound */
    ev.down_ms = 0;
    ev.now_ms = ev.quiet_ms + 500;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_OK);
    ev.now_ms = ev.quiet_ms + 6000;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_R_UNPROVEN);
    /* no quiet point ever seen, or no timeout known */
    ev = EV(true, "0-1-10");
    ev.quiet_ms = 0;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_R_UNPROVEN);
    ev = EV(true, "0-1-10");
    ev.timeout_ms = 0;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_R_UNPROVEN);
    /* the candidate must hold the quiet heartbeat; what the binlog had at the
     * last sample beyond it may be unacknowledged commits in flight */
    ev = EV(true, "0-1-12");
    ev.quiet = G("0-1-10");
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_OK);
    ev.quiet = G("0-1-11");
    fo_choice c = fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true);
    ck_assert_int_eq(c.why, FO_R_MISSING);
    ck_assert_int_eq(c.culprit, 0);
    /* async wins over everything else; --force-async skips the rules */
    ev = EV(false, "0-1-10");
    ev.quiet_ms = 0;
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, true).why, FO_R_ASYNC);
    ck_assert_int_eq(fo_choose(FO_PRIMARY_DEAD, &ok, 1, &ev, NULL, false).why, FO_OK);
}
END_TEST

START_TEST(state_machine_every_pair)
{
    /* the expected successor of (state, event); -1 = illegal */
    static const int want[FO_ST_MAX][FO_EV_MAX] = {
        /*              CHECK          PROMOTE         REPOINT          CONFIGURE         RELOAD       ABORT */
        [FO_ST_NONE] = {FO_ST_CHECKED, -1, -1, -1, -1, -1},
        [FO_ST_CHECKED] = {-1, FO_ST_PROMOTED, -1, -1, -1, FO_ST_NONE},
        [FO_ST_PROMOTED] = {-1, -1, FO_ST_REPOINTED, -1, -1, -1},
        [FO_ST_REPOINTED] = {-1, -1, -1, FO_ST_CONFIGURED, -1, -1},
        [FO_ST_CONFIGURED] = {-1, -1, -1, -1, FO_ST_DONE, -1},
        [FO_ST_DONE] = {FO_ST_CHECKED, -1, -1, -1, -1, -1},
    };
    for (int s = 0; s < FO_ST_MAX; s++)
        for (int e = 0; e < FO_EV_MAX; e++) {
            fo_state out = FO_ST_MAX;
            int rc = fo_next((fo_state)s, (fo_event)e, &out);
            if (want[s][e] < 0)
                ck_assert_msg(rc == -1, "%s x %s", fo_state_name((fo_state)s), fo_event_name((fo_event)e));
            else
                ck_assert_msg(rc == 0 && (int)out == want[s][e], "%s x %s", fo_state_name((fo_state)s),
                              fo_event_name((fo_event)e));
        }
    fo_state x;
    ck_assert_int_eq(fo_next(FO_ST_NONE, FO_EV_MAX, &x), -1);
    for (int s = 0; s < FO_ST_MAX; s++) {
        ck_assert_int_eq(fo_state_parse(fo_state_name((fo_state)s), &x), 0);
        ck_assert_int_eq(x, s);
    }
    ck_assert_int_eq(fo_state_parse("done", &x), -1);
    ck_assert_int_eq(fo_state_parse(NULL, &x), -1);
}
END_TEST

START_TEST(auto_due)
{
    ck_assert(!fo_auto_due(false, 10000, 5000));
    ck_assert(!fo_auto_due(true, 0, 5000));       /* last probe ok or read-only */
    ck_assert(!fo_auto_due(true, 4999, 5000));
    ck_assert(fo_auto_due(true, 5000, 5000));
}
END_TEST

START_TEST(binlog_rows)
{
    uint32_t d, sv;
    uint64_t n;
    ck_assert_int_eq(fo_binlog_gtid("BEGIN GTID 0-18020-10019", &d, &sv, &n), 0);
    ck_assert(d == 0 && sv == 18020 && n == 10019);
    ck_assert_int_eq(fo_binlog_gtid("GTID 1-2-3", &d, &sv, &n), 0);
    ck_assert(d == 1 && sv == 2 && n == 3);
    ck_assert_int_eq(fo_binlog_gtid("BEGIN", &d, &sv, &n), -1);
    ck_assert_int_eq(fo_binlog_gtid("BEGIN GTID 0-1", &d, &sv, &n), -1);
    ck_assert_int_eq(fo_binlog_gtid(NULL, &d, &sv, &n), -1);
    char t[64];
    ck_assert_int_eq(fo_binlog_table("table_id: 19 (skipstore.heartbeat)", t, sizeof t), 0);
    ck_assert_str_eq(t, "skipstore.heartbeat");
    ck_assert_int_eq(fo_binlog_table("table_id: 19 (nodot)", t, sizeof t), -1);
    ck_assert_int_eq(fo_binlog_table("COMMIT /* xid=5 */", t, sizeof t), -1);
    ck_assert_int_eq(fo_binlog_table("table_id: 1 (skipstore.orders)", t, 8), -1);
    ck_assert(fo_extra_discardable("skipstore.heartbeat", "skipstore"));
    ck_assert(!fo_extra_discardable("skipstore.orders", "skipstore"));
    ck_assert(!fo_extra_discardable("skipstore.outbox", "skipstore"));
    ck_assert(!fo_extra_discardable("other.heartbeat", "skipstore"));
    ck_assert(!fo_extra_discardable("skipstore.heartbeat2", "skipstore"));
    ck_assert(!fo_extra_discardable("skipstore.heartbeat", ""));
}
END_TEST

START_TEST(config_round_trip_keeps_former_primaries)
{
    /* what `group failover` writes (mig_conf_replace_groups) loads back the same */
    const char *y = "auth: {mode: \"off\"}\ndb: {name: s, user: u, password: p}\n"
                    "groups:\n  - id: 2\n    primary: \"b:2\"\n    replicas: [\"c:3\"]\n"
                    "    former_primaries: [\"a:1\"]\n";
    char err[CONF_ERR_MAX];
    conf *c = conf_load_string("t.yaml", y, strlen(y), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    char *out = mig_conf_replace_groups(y, c);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(strstr(out, "    former_primaries: [\"a:1\"]\n"));
    conf *d = conf_load_string("t2.yaml", out, strlen(out), err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    ck_assert_int_eq(d->groups[0].nformer, 1);
    ck_assert_str_eq(d->groups[0].former[0], "a:1");
    ck_assert_str_eq(d->groups[0].primary, "b:2");
    conf_free(d);
    conf_free(c);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("failover");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, gtid_parse_format);
    tcase_add_test(tc, gtid_order);
    tcase_add_test(tc, choose_most_advanced);
    tcase_add_test(tc, refusal_rules);
    tcase_add_test(tc, quiet_point_bounds_the_async_fallback);
    tcase_add_test(tc, state_machine_every_pair);
    tcase_add_test(tc, auto_due);
    tcase_add_test(tc, binlog_rows);
    tcase_add_test(tc, config_round_trip_keeps_former_primaries);
    suite_add_tcase(s, tc);
    return ut_run(s);
}
