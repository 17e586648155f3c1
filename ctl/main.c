/*
 * ctl/main.c — skipctl: operator CLI. Dispatches to one file per command
 * family (ctl/cmd_*.c). Human output by default, --json for scripts.
 */
#include <stdio.h>
#include <string.h>
#include "ctl/ctl.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: skipctl COMMAND [ARGS]\n"
        "  config check FILE            validate a config file (FILE:LINE: message, exit 1)\n"
        "  order-no parse NO            decode an order number (JSON)\n"
        "  order-no new --group G       print a fresh valid order number\n"
        "  status [--json]              groups, states, counters, probes, outbox, mirror lag\n"
        "  fence G | unfence G          stop / allow new creates on group G\n"
        "  drill ...                    fault or fence drill under load (see README)\n"
        "  group add ... | group retire G ...   expand / shrink\n"
        "  audit [--fix]                every order exactly once; mirror matches groups\n"
        "common options: --config FILE (default $SKIP_CONFIG), --url URL (default $SKIP_URL), --json\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct ctl_cmd *c = ctl_find(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "skipctl: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
