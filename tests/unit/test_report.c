/*
 * tests/unit/test_report.c — per-second aggregation, the drill summary, the
 * report JSON and the SVG chart (bench/report.c).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/report.h"

static rep_groups three(void)
{
    rep_groups g = {.n = 3, .ids = {1, 2, 3}};
    return g;
}

START_TEST(second_aggregation)
{
    rep_groups g = three();
    rep_sec *s = malloc(sizeof *s);
    rep_sec_init(s);
    for (int i = 0; i < 100; i++)
        rep_sec_sent(s);
    /* 90 ok creates over groups 1..3, latencies 1..90 ms */
    for (int i = 0; i < 90; i++)
        rep_sec_done(s, &g, (i + 1) * 1000, true, NULL, 1 + i % 3);
    /* 10 failures of two kinds, 1 s each */
    for (int i = 0; i < 10; i++)
        rep_sec_done(s, &g, 1000000, false, i < 7 ? "503 NO_WRITABLE_GROUP" : "timeout", 0);
    /* an ok non-create (group 0) and an untracked group count as ok, not in share */
    rep_sec_close(s);
    const rep_row *r = &s->row;
    ck_assert_int_eq(r->sent, 100);
    ck_assert_int_eq(r->ok, 90);
    ck_assert_int_eq(r->failed, 10);
    ck_assert_int_eq(r->ncodes, 2);
    ck_assert_str_eq(r->codes[0].code, "503 NO_WRITABLE_GROUP");
    ck_assert_int_eq(r->codes[0].n, 7);
    ck_assert_int_eq(r->codes[1].n, 3);
    ck_assert_int_eq(r->group_ok[0], 30);
    ck_assert_int_eq(r->group_ok[1], 30);
    ck_assert_int_eq(r->group_ok[2], 30);
    /* p50 = 50th of 100 sorted values = 50 ms; p99 = 99th = 1 s (a failure) */
    ck_assert(fabs((double)r->p50_us - 50000) / 50000 < 0.01);
    ck_assert(fabs((double)r->p99_us - 1000000) / 1000000 < 0.01);
    ck_assert_int_eq(r->max_us, 1000000);
    free(s);
}
END_TEST

START_TEST(codes_overflow_to_other)
{
    rep_code c[REP_MAX_CODES];
    int n = 0;
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "code%d", i);
        rep_codes_add(c, &n, name, 1);
    }
    ck_assert_int_eq(n, REP_MAX_CODES);
    ck_assert_str_eq(c[REP_MAX_CODES - 1].code, "OTHER");
    ck_assert_int_eq(c[REP_MAX_CODES - 1].n, 20 - (REP_MAX_CODES - 1));
    rep_codes_add(c, &n, "code3", 5);
    ck_assert_int_eq(c[3].n, 6);
}
END_TEST

/* a 20 s fence drill on group 2: window 5.0 .. 11.0, back at 11.4 */
static void make_run(rep_run *run, rep_row *rows)
{
    memset(run, 0, sizeof *run);
    memset(rows, 0, 20 * sizeof *rows);
    snprintf(run->title, sizeof run->title, "drill <fence> g2 & co");
    strcpy(run->mode, "fence");
    run->fault_groups[0] = 2;
    run->nfault_groups = 1;
    run->fault_at_s = 5.0;
    run->recover_at_s = 11.0;
    run->back_at_s[0] = 11.4;
    run->rate = 100;
    run->duration_s = 20;
    run->groups = three();
    run->rows = rows;
    run->nrows = 20;
    for (int t = 0; t < 20; t++) {
        rep_row *r = &rows[t];
        bool in = t >= 5 && t < 11;
        r->sent = 100;
        r->ok = t == 5 ? 98 : 100;
        r->failed = r->sent - r->ok;
        if (r->failed)
            rep_codes_add(r->codes, &r->ncodes, "503 OVERLOADED", r->failed);
        r->group_ok[0] = in ? 50 : 34;
        r->group_ok[1] = in ? 0 : 33;
        r->group_ok[2] = r->ok - r->group_ok[0] - r->group_ok[1];
        r->p50_us = 3000;
        r->p99_us = t == 7 ? 450000 : 9000;
        r->max_us = r->p99_us + 1000;
        for (int g = 0; g < 3; g++)
            strcpy(r->state[g], g == 1 && in ? "FENCED" : "ACTIVE");
    }
}

START_TEST(summary)
{
    rep_run run;
    rep_row rows[20];
    make_run(&run, rows);
    rep_summary s;
    rep_summarize(&run, &s);
    ck_assert_int_eq(s.sent, 2000);
    ck_assert_int_eq(s.ok, 1998);
    ck_assert_int_eq(s.failed, 2);
    ck_assert_int_eq(s.worst_p99_t, 7);
    ck_assert_int_eq(s.worst_p99_us, 450000);
    ck_assert(fabs(s.recovery_s[0] - 0.4) < 1e-9);
    ck_assert(s.all_back);
    ck_assert(s.fault_share_max == 0.0);
    /* not back: recovery unknown */
    run.back_at_s[0] = -1;
    rep_summarize(&run, &s);
    ck_assert(s.recovery_s[0] < 0);
    ck_assert(!s.all_back);
    /* the faulted group still taking orders inside the window is visible */
    rows[8].group_ok[1] = 10;
    rep_summarize(&run, &s);
    ck_assert(s.fault_share_max > 0.09);
}
END_TEST

START_TEST(json_rows)
{
    rep_run run;
    rep_row rows[20];
    make_run(&run, rows);
    rep_summary s;
    rep_summarize(&run, &s);
    json_t *j = rep_to_json(&run, &s);
    json_t *jr = json_object_get(j, "rows");
    ck_assert_int_eq(json_array_size(jr), 20);
    json_t *r5 = json_array_get(jr, 5);
    ck_assert_int_eq(json_integer_value(json_object_get(r5, "t")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r5, "errors"), "503 OVERLOADED")), 2);
    ck_assert(json_real_value(json_object_get(json_object_get(r5, "share"), "2")) == 0.0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r5, "states"), "2")), "FENCED");
    ck_assert(fabs(json_real_value(json_object_get(r5, "p50_ms")) - 3.0) < 1e-9);
    json_t *sm = json_object_get(j, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(sm, "failed")), 2);
    ck_assert(fabs(json_real_value(json_object_get(sm, "recovery_s")) - 0.4) < 1e-9);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(sm, "worst_p99_second"), "t")), 7);
    json_decref(j);
}
END_TEST

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(svg_sanity)
{
    rep_run run;
    rep_row rows[20];
    make_run(&run, rows);
    rep_summary s;
    rep_summarize(&run, &s);
    char *svg = rep_svg(&run, &s);
    ck_assert_ptr_nonnull(svg);
    ck_assert(strncmp(svg, "<?xml", 5) == 0);
    ck_assert_int_eq(count(svg, "<svg "), 1);
    ck_assert(strstr(svg, "</svg>\n") != NULL && strcmp(strstr(svg, "</svg>\n"), "</svg>\n") == 0);
    /* well-formed enough: tags balance, every element either self-closes or is closed */
    ck_assert_int_eq(count(svg, "<"), count(svg, ">"));
    ck_assert_int_eq(count(svg, "<text"), count(svg, "</text>"));
    ck_assert(strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);
    /* the title is escaped */
    ck_assert(strstr(svg, "drill &lt;fence&gt; g2 &amp; co") != NULL);
    /* the shaded fault window in each panel, and the series */
    ck_assert_int_eq(count(svg, "class=\"fault-window\""), 3);
    ck_assert(strstr(svg, "class=\"series-ok\"") != NULL);
    ck_assert(strstr(svg, "class=\"series-errors\"") != NULL);
    ck_assert(strstr(svg, "class=\"series-p50\"") != NULL);
    ck_assert(strstr(svg, "class=\"series-p99\"") != NULL);
    for (int g = 1; g <= 3; g++) {
        char k[32];
        snprintf(k, sizeof k, "class=\"share-g%d\"", g);
        ck_assert(strstr(svg, k) != NULL);
    }
    ck_assert(strstr(svg, "seconds since start") != NULL);
    ck_assert(strstr(svg, "latency (ms)") != NULL);
    ck_assert(strstr(svg, "group 2 (faulted)") != NULL);
    /* window starts at t=5 of 20 s on an 880 px axis from x=80: x = 300 */
    ck_assert(strstr(svg, "class=\"fault-window\" x=\"300.0\"") != NULL);
    free(svg);
    /* an empty run still renders */
    run.nrows = 0;
    run.fault_at_s = -1;
    rep_summarize(&run, &s);
    svg = rep_svg(&run, &s);
    ck_assert_ptr_nonnull(svg);
    ck_assert(strstr(svg, "fault-window") == NULL);
    free(svg);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, second_aggregation);
    tcase_add_test(tc, codes_overflow_to_other);
    tcase_add_test(tc, summary);
    tcase_add_test(tc, json_rows);
    tcase_add_test(tc, svg_sanity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(report_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
