/*
 * tests/unit/test_soakcheck.c — the soak's verdict (bench/soakcheck.c) and the
 * soak's additions to the chart (fault windows, extra panels; bench/report.c).
 * Each way a soak can fail is planted and must be caught.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/report.h"
#include "bench/soakcheck.h"
#include "tests/unit/unit.h"

#define N 60   /* samples, one every 10 s: 0..590 s */

static soak_sample *flat(void)
{
    soak_sample *s = calloc(N, sizeof *s);
    for (int i = 0; i < N; i++) {
        s[i].t_s = i * 10.0;
        s[i].nproc = 2;
        s[i].p[0] = (soak_proc){.name = "daemon1", .pid = 100, .rss_kb = 20000, .threads = 88, .fds = 50};
        s[i].p[1] = (soak_proc){.name = "mirror", .pid = 200, .may_restart = true, .rss_kb = 10000, .threads = 10,
                                .fds = 18};
        s[i].outbox_pending = 0;
        s[i].mirror_lag_ms = 50;
    }
    return s;
}

static const soak_limits lim0 = {.baseline_s = 300, .window_s = 60, .settle_s = 10, .tolerance = 0.10};

START_TEST(flat_run_passes)
{
    soak_sample *s = flat();
    soak_verdict v;
    soak_judge(s, N, &lim0, 0, 0, 3, &v);
    ck_assert_msg(v.pass, "%s", v.reasons);
    ck_assert(v.have_baseline);
    ck_assert_int_eq(v.nproc, 2);
    ck_assert(v.p[0].judged && v.p[0].ok);
    ck_assert_int_eq(v.p[0].nbase, 6);
    ck_assert_int_eq(v.p[0].nend, 6);   /* 540..590 s */
    ck_assert_int_eq(v.audit_orphans, 3);
    free(s);
}
END_TEST

START_TEST(rss_growth_fails)
{
    soak_sample *s = flat();
    for (int i = 30; i < N; i++)   /* +1 % a sample from 300 s on: +30 % at the end */
        s[i].p[0].rss_kb = 20000 + (i - 30) * 200;
    soak_verdict v;
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert(!v.pass);
    ck_assert_ptr_nonnull(strstr(v.reasons, "daemon1: RSS"));
    free(s);
}
END_TEST

START_TEST(thread_and_fd_leaks_fail)
{
    soak_sample *s = flat();
    for (int i = 40; i < N; i++) {
        s[i].p[0].threads = 100;
        s[i].p[0].fds = 56;   /* +12 % */
    }
    soak_verdict v;
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert(!v.pass);
    ck_assert_ptr_nonnull(strstr(v.reasons, "threads 88 -> 100"));
    ck_assert_ptr_nonnull(strstr(v.reasons, "fds 50 -> 56"));
    free(s);
}
END_TEST

START_TEST(within_ten_percent_passes)
{
    soak_sample *s = flat();
    for (int i = 40; i < N; i++)
        s[i].p[0].fds = 55;   /* exactly +10 % */
    soak_verdict v;
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert_msg(v.pass, "%s", v.reasons);
    ck_assert_int_eq(v.p[0].end.fds, 55);
    free(s);
}
END_TEST

START_TEST(spike_inside_a_fault_is_not_a_leak)
{
    soak_sample *s = flat();
    /* fds up while a fault is on near the end (540..570 s), back after it */
    for (int i = 54; i < 58; i++)
        s[i].p[0].fds = 80;
    rep_window w = {.from_s = 535, .to_s = 565};
    soak_limits lim = lim0;
    lim.faults = &w;
    lim.nfaults = 1;
    soak_verdict v;
    soak_judge(s, N, &lim, 0, 0, 0, &v);
    ck_assert_msg(v.pass, "%s", v.reasons);
    ck_assert_int_eq(v.p[0].peak_fds, 80);
    /* the same spike with no fault on is judged */
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert(!v.pass);
    free(s);
}
END_TEST

START_TEST(daemon_restart_fails_mirror_restart_does_not)
{
    soak_sample *s = flat();
    for (int i = 45; i < N; i++)
        s[i].p[1].pid = 201;   /* the rotation restarted the mirror */
    soak_verdict v;
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert_msg(v.pass, "%s", v.reasons);
    ck_assert(!v.p[1].judged);
    ck_assert_ptr_nonnull(strstr(v.p[1].note, "restarted"));
    for (int i = 45; i < N; i++)
        s[i].p[0].pid = 101;   /* a daemon crashed and came back */
    soak_judge(s, N, &lim0, 0, 0, 0, &v);
    ck_assert(!v.pass);
    ck_assert_ptr_nonnull(strstr(v.reasons, "daemon1: restarted at t=450 s"));
    free(s);
}
END_TEST

START_TEST(failed_creates_and_audit_fail)
{
    soak_sample *s = flat();
    soak_verdict v;
    soak_judge(s, N, &lim0, 1, 0, 0, &v);
    ck_assert(!v.pass);
    ck_assert_ptr_nonnull(strstr(v.reasons, "failed creates: 1"));
    soak_judge(s, N, &lim0, 0, 2, 0, &v);
    ck_assert(!v.pass);
    ck_assert_ptr_nonnull(strstr(v.reasons, "audit: 2 problem(s)"));
    soak_judge(s, N, &lim0, 0, -1, 0, &v);
    ck_assert(!v.pass);
    free(s);
}
END_TEST

START_TEST(too_short_for_a_baseline_fails)
{
    soak_sample *s = flat();
    soak_verdict v;
    soak_judge(s, 25, &lim0, 0, 0, 0, &v);   /* ends at 240 s */
    ck_assert(!v.pass);
    ck_assert(!v.have_baseline);
    json_t *j = soak_verdict_json(&v);
    ck_assert(json_is_false(json_object_get(j, "pass")));
    json_decref(j);
    free(s);
}
END_TEST

START_TEST(svg_windows_and_panels)
{
    rep_row rows[20];
    memset(rows, 0, sizeof rows);
    double t[3] = {0, 10, 19}, v[3] = {1, 2, 3};
    rep_window w[2] = {{.from_s = 2, .to_s = 4, .label = "kill g1"}, {.from_s = 10, .to_s = 12, .label = "redis restart"}};
    rep_panel p;
    memset(&p, 0, sizeof p);
    snprintf(p.title, sizeof p.title, "Resident memory per process");
    p.lines[0] = (rep_line){.label = "daemon1", .t = t, .v = v, .n = 3};
    p.nlines = 1;
    rep_run r = {.title = "soak", .fault_at_s = -1, .recover_at_s = -1, .duration_s = 20, .rows = rows, .nrows = 20,
                 .groups = {.n = 1, .ids = {1}}, .windows = w, .nwindows = 2, .panels = &p, .npanels = 1};
    rep_summary s;
    rep_summarize(&r, &s);
    char *svg = rep_svg(&r, &s);
    ck_assert_ptr_nonnull(svg);
    int nwin = 0;
    for (const char *x = svg; (x = strstr(x, "class=\"fault-window\"")) != NULL; x++)
        nwin++;
    ck_assert_int_eq(nwin, 2 * 4);   /* two windows on each of four panels */
    ck_assert_ptr_nonnull(strstr(svg, ">redis restart<"));
    ck_assert_ptr_nonnull(strstr(svg, "Resident memory per process"));
    ck_assert_ptr_nonnull(strstr(svg, "class=\"extra-line\""));
    ck_assert_ptr_nonnull(strstr(svg, "height=\"1110\""));
    free(svg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("soakcheck");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, flat_run_passes);
    tcase_add_test(tc, rss_growth_fails);
    tcase_add_test(tc, thread_and_fd_leaks_fail);
    tcase_add_test(tc, within_ten_percent_passes);
    tcase_add_test(tc, spike_inside_a_fault_is_not_a_leak);
    tcase_add_test(tc, daemon_restart_fails_mirror_restart_does_not);
    tcase_add_test(tc, failed_creates_and_audit_fail);
    tcase_add_test(tc, too_short_for_a_baseline_fails);
    tcase_add_test(tc, svg_windows_and_panels);
    suite_add_tcase(s, tc);
    return ut_run(s);
}
