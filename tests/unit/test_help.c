/* tests/unit/test_help.c — man-style help (common/help.c) and every program's
 * text: sections present, lines fit the man page, SYNOPSIS extraction. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/help.h"
#include "ctl/ctl.h"

static const char sample[] =
"NAME\n"
"    prog - does things\n"
"\n"
"SYNOPSIS\n"
"    prog --x\n"
"    prog --help\n"
"\n"
"DESCRIPTION\n"
"    Text.\n"
"\n"
"EXIT STATUS\n"
"    0   ok\n";

START_TEST(section_bodies)
{
    char out[256];
    ck_assert_int_eq(help_section(sample, "SYNOPSIS", out, sizeof out), (int)strlen("    prog --x\n    prog --help"));
    ck_assert_str_eq(out, "    prog --x\n    prog --help");
    ck_assert_int_gt(help_section(sample, "EXIT STATUS", out, sizeof out), 0);
    ck_assert_str_eq(out, "    0   ok");
    ck_assert_int_eq(help_section(sample, "FILES", out, sizeof out), -1);
    /* truncation keeps the full length as the result */
    ck_assert_int_eq(help_section(sample, "NAME", out, 5), (int)strlen("    prog - does things"));
    ck_assert_str_eq(out, "    ");
    /* a heading is a whole line: "Text." is not, nor is "    NAME" */
    ck_assert_int_eq(help_section("    NAME\n", "NAME", out, sizeof out), -1);
}
END_TEST

START_TEST(lint_catches)
{
    ck_assert_int_eq(help_lint(sample), 0);
    char wide[512];
    snprintf(wide, sizeof wide, "%s    %0*d\n", sample, HELP_WIDTH, 0);
    ck_assert_int_eq(help_lint(wide), 13);
    ck_assert_int_eq(help_lint("NAME\n    x - y\nSYNOPSIS\n    x\nDESCRIPTION\n\tz\nEXIT STATUS\n    0\n"), 6);
    ck_assert_int_eq(help_lint("NAME\n    x - y \n"), 2);
    ck_assert_int_eq(help_lint("NAME\n    x - y\nSYNOPSIS\n    x\n"), -1);
}
END_TEST

static void check_text(const char *what, const char *text)
{
    int r = help_lint(text);
    ck_assert_msg(r == 0, "%s: help_lint = %d (line at fault, or -1: a section missing)", what, r);
    char name[256];
    ck_assert_int_gt(help_section(text, "NAME", name, sizeof name), 0);
    ck_assert_msg(strstr(name, " - ") != NULL, "%s: NAME must read 'name - what it is'", what);
    ck_assert_int_gt(help_section(text, "SYNOPSIS", name, sizeof name), 0);
}

START_TEST(program_texts)
{
    check_text("skipstored", skipstored_help);
    check_text("skipstore-mirror", skipstore_mirror_help);
    check_text("skipbench", skipbench_help);
    check_text("skipctl", ctl_help_text(NULL));
}
END_TEST

START_TEST(every_skipctl_command_has_a_page)
{
    static const char *const cmds[] = {"config", "order-no", "status", "fence", "unfence", "drill", "soak", "group", "audit"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *t = ctl_help_text(cmds[i]);
        ck_assert_msg(t != NULL, "skipctl %s has no page", cmds[i]);
        check_text(cmds[i], t);
        char syn[1024];
        help_section(t, "SYNOPSIS", syn, sizeof syn);
        char want[64];
        snprintf(want, sizeof want, "skipctl %s", cmds[i]);
        ck_assert_msg(strstr(syn, want) != NULL, "%s: SYNOPSIS does not show '%s'", cmds[i], want);
    }
    ck_assert_ptr_null(ctl_help_text("no-such-command"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("help");
    TCase *tc = tcase_create("texts");
    tcase_add_test(tc, section_bodies);
    tcase_add_test(tc, lint_catches);
    tcase_add_test(tc, program_texts);
    tcase_add_test(tc, every_skipctl_command_has_a_page);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int f = srunner_ntests_failed(sr);
    srunner_free(sr);
    return f ? EXIT_FAILURE : EXIT_SUCCESS;
}
