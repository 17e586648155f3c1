/*
 * tests/unit/test_migrate.c — the pure core of expand/shrink (migrate/mig.c):
 * retire state machine (every state x event pair, resume points), chunk
 * bookkeeping, default alias target, checksum/upsert SQL, ramp schedule,
 * duration parsing, state-file round trip, groups-section rewrite.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config/conf.h"
#include "migrate/mig.h"

/* ---------- state machine ---------- */

typedef struct {
    mig_state from;
    mig_event ev;
    mig_state to;
} tr;

static const tr legal[] = {
    {MIG_NONE, MIG_EV_START, MIG_DRAINING},
    {MIG_DRAINING, MIG_EV_DRAINED, MIG_COPYING},
    {MIG_COPYING, MIG_EV_COPIED, MIG_CATCHUP},
    {MIG_CATCHUP, MIG_EV_FROZEN, MIG_FREEZING},
    {MIG_FREEZING, MIG_EV_THAWED, MIG_CATCHUP},
    {MIG_FREEZING, MIG_EV_VERIFIED, MIG_FLIPPING},
    {MIG_FLIPPING, MIG_EV_FLIPPED, MIG_RETIRED},
    {MIG_RETIRED, MIG_EV_DROPPED, MIG_DROPPED},
    {MIG_DRAINING, MIG_EV_ABORT, MIG_ABORTED},
    {MIG_COPYING, MIG_EV_ABORT, MIG_ABORTED},
    {MIG_CATCHUP, MIG_EV_ABORT, MIG_ABORTED},
    {MIG_FREEZING, MIG_EV_ABORT, MIG_ABORTED},
};

START_TEST(state_exhaustive)
{
    for (int s = 0; s < MIG_STATE_MAX; s++)
        for (int e = 0; e < MIG_EV_MAX; e++) {
            int want = -1;
            mig_state wto = MIG_STATE_MAX;
            for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
                if ((int)legal[i].from == s && (int)legal[i].ev == e) {
                    want = 0;
                    wto = legal[i].to;
                }
            mig_state out = MIG_STATE_MAX;
            int rc = mig_next((mig_state)s, (mig_event)e, &out);
            ck_assert_msg(rc == want, "%s on %s: rc %d want %d", mig_event_name((mig_event)e),
                          mig_state_name((mig_state)s), rc, want);
            if (want == 0)
                ck_assert_int_eq(out, wto);
        }
}
END_TEST

START_TEST(state_abort_never_after_flip)
{
    mig_state out;
    ck_assert_int_eq(mig_next(MIG_FLIPPING, MIG_EV_ABORT, &out), -1);
    ck_assert_int_eq(mig_next(MIG_RETIRED, MIG_EV_ABORT, &out), -1);
    ck_assert_int_eq(mig_next(MIG_DROPPED, MIG_EV_ABORT, &out), -1);
}
END_TEST

START_TEST(state_resume_points)
{
    ck_assert_int_eq(mig_resume_point(MIG_FREEZING), MIG_CATCHUP);   /* a freeze never survives a crash */
    ck_assert_int_eq(mig_resume_point(MIG_COPYING), MIG_COPYING);
    ck_assert_int_eq(mig_resume_point(MIG_FLIPPING), MIG_FLIPPING);
    ck_assert_int_eq(mig_resume_point(MIG_DRAINING), MIG_DRAINING);
    ck_assert_int_eq(mig_resume_point(MIG_RETIRED), MIG_RETIRED);
    for (int s = 0; s < MIG_STATE_MAX; s++) {
        mig_state p;
        ck_assert_int_eq(mig_state_parse(mig_state_name((mig_state)s), &p), 0);
        ck_assert_int_eq(p, s);
    }
    mig_state p;
    ck_assert_int_eq(mig_state_parse("BOGUS", &p), -1);
}
END_TEST

/* ---------- chunks ---------- */

START_TEST(chunks_cover_keyspace)
{
    mig_chunks c;
    mig_chunks_init(&c);
    const char *lo, *hi;
    ck_assert_int_eq(mig_chunks_find(&c, "5"), 0);
    mig_chunks_range(&c, 0, &lo, &hi);
    ck_assert_str_eq(lo, "");
    ck_assert_str_eq(hi, "");
    ck_assert_int_eq(mig_chunks_add(&c, "100"), 0);
    ck_assert_int_eq(mig_chunks_add(&c, "200"), 0);
    ck_assert_int_eq(mig_chunks_add(&c, "300"), 0);
    ck_assert_int_eq(mig_chunks_add(&c, "300"), -1);   /* must increase */
    ck_assert_int_eq(mig_chunks_add(&c, "250"), -1);
    ck_assert_int_eq(mig_chunks_add(&c, ""), -1);
    ck_assert_int_eq(mig_chunks_find(&c, "050"), 0);
    ck_assert_int_eq(mig_chunks_find(&c, "100"), 0);
    ck_assert_int_eq(mig_chunks_find(&c, "101"), 1);
    ck_assert_int_eq(mig_chunks_find(&c, "200"), 1);
    ck_assert_int_eq(mig_chunks_find(&c, "250"), 2);
    ck_assert_int_eq(mig_chunks_find(&c, "999"), 2);   /* late rows: the open last chunk */
    mig_chunks_range(&c, 0, &lo, &hi);
    ck_assert_str_eq(lo, "");
    ck_assert_str_eq(hi, "100");
    mig_chunks_range(&c, 1, &lo, &hi);
    ck_assert_str_eq(lo, "100");
    ck_assert_str_eq(hi, "200");
    mig_chunks_range(&c, 2, &lo, &hi);
    ck_assert_str_eq(lo, "200");
    ck_assert_str_eq(hi, "");
    mig_chunks_free(&c);
}
END_TEST

START_TEST(chunk_planning)
{
    ck_assert_int_eq(mig_plan_chunks(0, 5000), 0);
    ck_assert_int_eq(mig_plan_chunks(1, 5000), 1);
    ck_assert_int_eq(mig_plan_chunks(5000, 5000), 1);
    ck_assert_int_eq(mig_plan_chunks(5001, 5000), 2);
    ck_assert_int_eq(mig_plan_chunks(1000000, 5000), 200);
    ck_assert_int_eq(mig_eta_s(500, 1000, 100.0), 5);
    ck_assert_int_eq(mig_eta_s(500, 1000, 0.0), -1);
}
END_TEST

/* ---------- default target ---------- */

static conf *load(const char *text)
{
    char err[CONF_ERR_MAX];
    conf *c = conf_load_string("t.yaml", text, strlen(text), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

#define HEAD "node_id: 1\nlisten: \"127.0.0.1:1\"\ndb:\n  name: skipstore\n  user: app\n  password: \"p\"\nredis:\n  addr: \"127.0.0.1:2\"\nkafka:\n  brokers: \"x:1\"\n" \
    "merchant_db:\n  addr: \"127.0.0.1:3\"\n"
#define GRP(n) "  - id: " #n "\n    primary: \"127.0.0.1:10" #n "\"\n    replicas: [\"127.0.0.1:20" #n "\"]\n    weight: 100\n"

START_TEST(default_target)
{
    conf *c = load(HEAD "groups:\n" GRP(1) GRP(2) GRP(3) GRP(4) GRP(5));
    /* spec: 5 -> 3 groups: retire 5 -> 2, retire 4 -> 1 (of the remaining) */
    ck_assert_int_eq(mig_default_target(c, 5), 1);   /* remaining 1..4: 5 mod 4 = 1 -> 1 */
    conf_free(c);
    c = load(HEAD "groups:\n" GRP(1) GRP(2) GRP(3) GRP(4) "  - id: 5\n    state: retired\n    alias_of: 2\n");
    ck_assert_int_eq(mig_default_target(c, 4), 1);   /* remaining 1..3: 4 mod 3 = 1 -> 1 */
    conf_free(c);
    c = load(HEAD "groups:\n" GRP(1) GRP(2) GRP(3));
    ck_assert_int_eq(mig_default_target(c, 3), 1);   /* remaining 1,2: 3 mod 2 = 1 -> 1 */
    ck_assert_int_eq(mig_default_target(c, 2), 3);   /* remaining 1,3: 2 mod 2 = 0 -> last */
    conf_free(c);
}
END_TEST

/* ---------- SQL ---------- */

START_TEST(checksum_sql)
{
    conf *c = load(HEAD "groups:\n" GRP(1) GRP(2) GRP(3) "  - id: 7\n    state: retired\n    alias_of: 3\n");
    char f[256], rf[256], sql[4096];
    ck_assert_int_gt(mig_group_filter(c, 3, f, sizeof f), 0);
    ck_assert_str_eq(f, "group_id IN (3,7)");
    ck_assert_int_gt(mig_refund_filter(c, 3, rf, sizeof rf), 0);
    ck_assert_str_eq(rf, "SUBSTRING(refund_no,23,2) IN ('03','07')");
    ck_assert_int_gt(mig_checksum_sql(sql, sizeof sql, "100", "200", f), 0);
    ck_assert_ptr_nonnull(strstr(sql, "WHERE group_id IN (3,7) AND order_no>'100' AND order_no<='200'"));
    ck_assert_ptr_nonnull(strstr(sql, "BIT_XOR(CRC32(CONCAT_WS('|',order_no,"));
    ck_assert_ptr_nonnull(strstr(sql, "IFNULL(paid_at,'\\\\N')"));
    ck_assert_int_gt(mig_checksum_sql(sql, sizeof sql, "", "", f), 0);
    ck_assert_ptr_null(strstr(sql, "order_no>"));
    ck_assert_int_eq(mig_checksum_sql(sql, sizeof sql, "1' OR 1=1", "", f), -1);   /* keys are digits */
    ck_assert_int_eq(mig_checksum_sql(sql, 20, "1", "2", f), -1);
    ck_assert_int_gt(mig_refund_checksum_sql(sql, sizeof sql, rf), 0);
    const char *u = mig_orders_upsert_suffix();
    /* version last, and every assignment guarded by same order_no + newer version */
    const char *last = NULL;
    for (const char *p = strstr(u, "=IF("); p; p = strstr(p + 1, "=IF("))
        last = p;
    ck_assert_ptr_nonnull(last);
    ck_assert_int_eq(strncmp(last - 8, ",version", 8), 0);
    ck_assert_ptr_nonnull(strstr(u, "status=IF(order_no=VALUES(order_no) AND VALUES(version)>version"));
    conf_free(c);
}
END_TEST

/* ---------- ramp ---------- */

START_TEST(ramp_schedule)
{
    mig_ramp_step s[MIG_RAMP_MAX_STEPS];
    int n = mig_ramp_plan(100, 600000, 1000, s, MIG_RAMP_MAX_STEPS);   /* 10 min */
    ck_assert_int_eq(n, 20);
    ck_assert_int_eq(s[n - 1].weight, 100);
    ck_assert_int_eq(s[n - 1].at_ms, 600000);
    for (int i = 1; i < n; i++) {
        ck_assert_int_ge(s[i].weight, s[i - 1].weight);
        ck_assert_int_gt(s[i].at_ms, s[i - 1].at_ms);
    }
    ck_assert_int_gt(s[0].weight, 0);
    n = mig_ramp_plan(100, 2000, 1000, s, MIG_RAMP_MAX_STEPS);         /* short: 1 s steps */
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(s[0].weight, 50);
    ck_assert_int_eq(s[1].weight, 100);
    n = mig_ramp_plan(100, 0, 1000, s, MIG_RAMP_MAX_STEPS);            /* no ramp: straight to W */
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(s[0].weight, 100);
    n = mig_ramp_plan(3, 600000, 1000, s, MIG_RAMP_MAX_STEPS);          /* no more steps than units */
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(s[2].weight, 3);
}
END_TEST

START_TEST(durations)
{
    int64_t ms;
    ck_assert_int_eq(mig_parse_duration("10m", &ms), 0);
    ck_assert_int_eq(ms, 600000);
    ck_assert_int_eq(mig_parse_duration("30s", &ms), 0);
    ck_assert_int_eq(ms, 30000);
    ck_assert_int_eq(mig_parse_duration("1500ms", &ms), 0);
    ck_assert_int_eq(ms, 1500);
    ck_assert_int_eq(mig_parse_duration("2h", &ms), 0);
    ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(mig_parse_duration("0", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(mig_parse_duration("10", &ms), -1);
    ck_assert_int_eq(mig_parse_duration("-1s", &ms), -1);
    ck_assert_int_eq(mig_parse_duration("5d", &ms), -1);
    ck_assert_int_eq(mig_parse_duration("", &ms), -1);
}
END_TEST

/* ---------- state file ---------- */

START_TEST(job_roundtrip)
{
    mig_job a, b;
    mig_job_init(&a);
    mig_job_init(&b);
    a.group = 5;
    a.into = 1;
    strcpy(a.g_primary, "127.0.0.1:15050");
    strcpy(a.t_primary, "127.0.0.1:15010");
    strcpy(a.t_replicas, "127.0.0.1:15011");
    a.state = MIG_COPYING;
    a.chunk_rows = 20;
    strcpy(a.last_order, "2026112601313000100209951");
    a.copy_start_ms = 1700000000123;
    a.catchup_from_ms = 1700000000000;
    a.rows_copied = 40;
    a.g_prev_weight = 100;
    ck_assert_int_eq(mig_chunks_add(&a.chunks, "2026112601313000100209900"), 0);
    ck_assert_int_eq(mig_chunks_add(&a.chunks, "2026112601313000100209951"), 0);
    json_t *j = mig_job_to_json(&a);
    ck_assert_ptr_nonnull(j);
    char err[256];
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), 0);
    ck_assert_int_eq(b.group, 5);
    ck_assert_int_eq(b.state, MIG_COPYING);
    ck_assert_str_eq(b.last_order, a.last_order);
    ck_assert_str_eq(b.t_replicas, a.t_replicas);
    ck_assert(b.copy_start_ms == a.copy_start_ms);
    ck_assert_int_eq(b.chunks.n, 2);
    ck_assert_str_eq(b.chunks.upper[1], "2026112601313000100209951");
    ck_assert_int_eq(b.skipped_orphans.n, 0);
    /* orphans survive the round trip; a state file without them still loads */
    ck_assert_int_eq(mig_keyset_add(&a.skipped_orphans, "2026112601313000100209905"), 1);
    ck_assert_int_eq(mig_keyset_add(&a.retired_orphans, "2026112601313000100201014"), 1);
    json_decref(j);
    j = mig_job_to_json(&a);
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), 0);
    ck_assert_int_eq(b.skipped_orphans.n, 1);
    ck_assert(mig_keyset_has(&b.skipped_orphans, "2026112601313000100209905"));
    ck_assert(mig_keyset_has(&b.retired_orphans, "2026112601313000100201014"));
    json_object_del(j, "skipped_orphans");
    json_object_del(j, "retired_orphans");
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), 0);
    ck_assert_int_eq(b.skipped_orphans.n, 0);
    json_object_set_new(j, "skipped_orphans", json_pack("[s]", "12x"));
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), -1);
    json_object_del(j, "skipped_orphans");
    json_object_set_new(j, "state", json_string("NOPE"));
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), -1);
    json_object_del(j, "chunks");
    ck_assert_int_eq(mig_job_from_json(j, &b, err, sizeof err), -1);
    json_decref(j);
    mig_job_free(&a);
    mig_job_free(&b);
}
END_TEST

/* ---------- key clashes ---------- */

START_TEST(clash_rule)
{
    const char *G = "2026112601313000100200035", *T = "2026112601313000100200019",
               *X = "2026112601313000100200027";
    mig_clash_side gc = {G, "CREATED", false}, gx = {G, "CLOSED", false}, gp = {G, "PAID", false},
                   gr = {G, "REFUNDED", false}, gcr = {G, "CLOSED", true};
    mig_clash_side tc = {T, "CREATED", false}, tx = {T, "CLOSED", false}, tp = {T, "PAID", false},
                   tcr = {T, "CREATED", true};
    /* the idempotency record names the number the client got */
    ck_assert_int_eq(mig_classify_clash(&gc, &tc, T), MIG_CLASH_G_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gx, &tc, T), MIG_CLASH_G_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gc, &tc, G), MIG_CLASH_T_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gc, &tx, G), MIG_CLASH_T_ORPHAN);
    /* past CREATED (or with refunds) = given out, with or without a record */
    ck_assert_int_eq(mig_classify_clash(&gc, &tp, ""), MIG_CLASH_G_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gx, &tcr, ""), MIG_CLASH_G_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gp, &tc, ""), MIG_CLASH_T_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gr, &tx, NULL), MIG_CLASH_T_ORPHAN);
    ck_assert_int_eq(mig_classify_clash(&gcr, &tc, ""), MIG_CLASH_T_ORPHAN);
    /* both given out: a real duplicate, whatever the record says */
    ck_assert_int_eq(mig_classify_clash(&gp, &tp, ""), MIG_CLASH_DUPLICATE);
    ck_assert_int_eq(mig_classify_clash(&gp, &tc, T), MIG_CLASH_DUPLICATE);
    ck_assert_int_eq(mig_classify_clash(&gr, &tcr, G), MIG_CLASH_DUPLICATE);
    /* the record names a third number: both are orphans */
    ck_assert_int_eq(mig_classify_clash(&gc, &tc, X), MIG_CLASH_BOTH_ORPHANS);
    ck_assert_int_eq(mig_classify_clash(&gx, &tx, X), MIG_CLASH_BOTH_ORPHANS);
    /* nothing to tell them apart: stop */
    ck_assert_int_eq(mig_classify_clash(&gc, &tc, ""), MIG_CLASH_UNKNOWN);
    ck_assert_int_eq(mig_classify_clash(&gx, &tc, NULL), MIG_CLASH_UNKNOWN);
    /* an unknown status is treated as given out (never closed or deleted) */
    mig_clash_side gw = {G, "WEIRD", false};
    ck_assert_int_eq(mig_classify_clash(&gw, &tc, T), MIG_CLASH_DUPLICATE);
    ck_assert_str_eq(mig_clash_name(MIG_CLASH_T_ORPHAN), "orphan_in_target");

    char no[MIG_KEY_LEN + 1];
    ck_assert_int_eq(mig_idem_number("2026112601313000100200019|1764121000000|tok", 43, no), 0);
    ck_assert_str_eq(no, T);
    ck_assert_int_eq(mig_idem_number("2026112601313000100200019", 25, no), -1);
    ck_assert_int_eq(mig_idem_number("20261126013130001002000x9|1|t", 29, no), -1);
    ck_assert_str_eq(no, "");
    ck_assert_int_eq(mig_idem_number(NULL, 0, no), -1);
}
END_TEST

START_TEST(keyset_and_exclusion)
{
    mig_keyset s;
    mig_keyset_init(&s);
    char out[256];
    ck_assert_int_eq(mig_exclude_sql(&s, "", "", out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(mig_keyset_add(&s, "30"), 1);
    ck_assert_int_eq(mig_keyset_add(&s, "10"), 1);
    ck_assert_int_eq(mig_keyset_add(&s, "20"), 1);
    ck_assert_int_eq(mig_keyset_add(&s, "20"), 0);
    ck_assert_int_eq(mig_keyset_add(&s, "2x"), -1);
    ck_assert_int_eq(mig_keyset_add(&s, ""), -1);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.no[0], "10");
    ck_assert_str_eq(s.no[2], "30");
    ck_assert(mig_keyset_has(&s, "20"));
    ck_assert(!mig_keyset_has(&s, "25"));
    /* chunk (lo, hi]: lo exclusive, hi inclusive, "" open */
    ck_assert_int_gt(mig_exclude_sql(&s, "", "", out, sizeof out), 0);
    ck_assert_str_eq(out, " AND order_no NOT IN ('10','20','30')");
    mig_exclude_sql(&s, "10", "20", out, sizeof out);
    ck_assert_str_eq(out, " AND order_no NOT IN ('20')");
    mig_exclude_sql(&s, "15", "", out, sizeof out);
    ck_assert_str_eq(out, " AND order_no NOT IN ('20','30')");
    mig_exclude_sql(&s, "", "19", out, sizeof out);
    ck_assert_str_eq(out, " AND order_no NOT IN ('10')");
    ck_assert_int_eq(mig_exclude_sql(&s, "30", "", out, sizeof out), 0);
    ck_assert_int_eq(mig_exclude_sql(&s, "", "", out, 10), -1);
    mig_keyset_free(&s);
}
END_TEST

/* ---------- config rewrite ---------- */

START_TEST(conf_rewrite)
{
    const char *text = HEAD "# keep me\nlog_level: info\ngroups:   # the groups\n" GRP(1) GRP(2) GRP(3)
        "  # a comment in the section\n";
    conf *c = load(text);
    c->groups[2].state = GROUP_RETIRED;
    c->groups[2].alias_of = 1;
    c->groups[1].weight = 7;
    char *out = mig_conf_replace_groups(text, c);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(strstr(out, "# keep me\nlog_level: info\n"));
    conf *d = load(out);
    ck_assert_int_eq(d->ngroups, 3);
    ck_assert_int_eq(d->groups[1].weight, 7);
    ck_assert_int_eq(d->groups[2].state, GROUP_RETIRED);
    ck_assert_int_eq(d->groups[2].alias_of, 1);
    ck_assert_int_eq(conf_route_group(d, 3), 1);
    ck_assert_str_eq(d->groups[0].replicas[0], "127.0.0.1:201");
    ck_assert_str_eq(d->redis_addr, "127.0.0.1:2");
    conf_free(d);
    free(out);
    ck_assert_ptr_null(mig_conf_replace_groups("node_id: 1\n", c));
    conf_free(c);
}
END_TEST

/* ---------- parallel writers ---------- */

START_TEST(writer_slices)
{
    /* every (n, k): slices are contiguous, disjoint, in order, cover 0..n, sizes differ by <= 1 */
    for (int64_t n = 0; n <= 60; n++)
        for (int k = 1; k <= 9; k++) {
            int64_t next = 0, mn = n + 1, mx = -1;
            for (int i = 0; i < k; i++) {
                int64_t lo, hi;
                mig_split_range(n, k, i, &lo, &hi);
                ck_assert_int_eq(lo, next);
                ck_assert_int_le(lo, hi);
                if (hi - lo < mn)
                    mn = hi - lo;
                if (hi - lo > mx)
                    mx = hi - lo;
                next = hi;
            }
            ck_assert_int_eq(next, n);
            ck_assert_int_le(mx - mn, 1);
        }
    int64_t lo, hi;
    mig_split_range(5000, 4, 3, &lo, &hi);
    ck_assert_int_eq(lo, 3750);
    ck_assert_int_eq(hi, 5000);
    int k = 0;
    ck_assert_int_eq(mig_parse_writers("4", &k), 0);
    ck_assert_int_eq(k, 4);
    ck_assert_int_eq(mig_parse_writers("1", &k), 0);
    ck_assert_int_eq(mig_parse_writers("32", &k), 0);
    ck_assert_int_eq(mig_parse_writers("0", &k), -1);
    ck_assert_int_eq(mig_parse_writers("33", &k), -1);
    ck_assert_int_eq(mig_parse_writers("4x", &k), -1);
    ck_assert_int_eq(mig_parse_writers("", &k), -1);
    ck_assert_int_eq(k, 32);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migrate");
    TCase *t = tcase_create("core");
    tcase_add_test(t, state_exhaustive);
    tcase_add_test(t, state_abort_never_after_flip);
    tcase_add_test(t, state_resume_points);
    tcase_add_test(t, chunks_cover_keyspace);
    tcase_add_test(t, chunk_planning);
    tcase_add_test(t, default_target);
    tcase_add_test(t, checksum_sql);
    tcase_add_test(t, ramp_schedule);
    tcase_add_test(t, durations);
    tcase_add_test(t, job_roundtrip);
    tcase_add_test(t, conf_rewrite);
    tcase_add_test(t, clash_rule);
    tcase_add_test(t, keyset_and_exclusion);
    tcase_add_test(t, writer_slices);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
