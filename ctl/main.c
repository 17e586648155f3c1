/*
 * ctl/main.c — skipctl: operator CLI. Dispatches to one file per command
 * family (ctl/cmd_*.c). Human output by default, --json for scripts.
 * `skipctl --help`, `skipctl help [CMD]` and `skipctl CMD --help` print the
 * man-style pages of ctl/help.c; a command without a page gets its --help.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "common/help.h"
#include "ctl/ctl.h"

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int main(int argc, char **argv)
{
    const char *overview = ctl_help_text(NULL);
    if (argc < 2)
        return help_usage(overview, "skipctl", "missing COMMAND");
    if (is_help(argv[1]))
        return help_show(overview);
    if (strcmp(argv[1], "help") == 0)
        return ctl_help_main(argc - 1, argv + 1);
    const struct ctl_cmd *c = ctl_find(argv[1]);
    if (c == NULL)
        return help_usage(overview, "skipctl", "unknown command '%s'", argv[1]);
    const char *page = ctl_help_text(argv[1]);
    for (int i = 2; i < argc && page != NULL && strcmp(argv[i], "--") != 0; i++)
        if (is_help(argv[i]))
            return help_show(page);
    return c->run(argc - 1, argv + 1);
}
