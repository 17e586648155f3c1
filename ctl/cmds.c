/* ctl/cmds.c — the command table. Add a line here for a new command. */
#include <string.h>
#include <stddef.h>
#include "ctl/ctl.h"

static const struct ctl_cmd cmds[] = {
    {"config", ctl_cmd_config},
    {"order-no", ctl_cmd_order_no},
    {"status", ctl_cmd_status},
    {"fence", ctl_cmd_fence},
    {"unfence", ctl_cmd_unfence},
    {"drill", ctl_cmd_drill},
    {"soak", ctl_cmd_soak},
    {"group", ctl_cmd_group},
    {"audit", ctl_cmd_audit},
    {"terminal", ctl_cmd_terminal},
    {"audit-log", ctl_cmd_audit_log},
    {"call", ctl_cmd_call},
};

const struct ctl_cmd *ctl_find(const char *name)
{
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}
