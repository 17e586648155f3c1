/* ctl/ctl.h — skipctl command table. Each command: int run(argc, argv) with
 * argv[0] = the command name; returns the process exit code. */
#ifndef CTL_H
#define CTL_H

struct ctl_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
};

int ctl_cmd_config(int argc, char **argv);   /* ctl/cmd_config.c */
int ctl_cmd_order_no(int argc, char **argv); /* ctl/cmd_orderno.c */
int ctl_cmd_status(int argc, char **argv);   /* ctl/cmd_status.c */
int ctl_cmd_fence(int argc, char **argv);    /* ctl/cmd_fence.c */
int ctl_cmd_unfence(int argc, char **argv);  /* ctl/cmd_fence.c */
int ctl_cmd_drill(int argc, char **argv);    /* ctl/cmd_drill.c */
int ctl_cmd_soak(int argc, char **argv);     /* ctl/cmd_soak.c */
int ctl_cmd_group(int argc, char **argv);    /* ctl/cmd_group.c: group add / retire */
int ctl_cmd_audit(int argc, char **argv);    /* ctl/cmd_audit.c */
int ctl_cmd_terminal(int argc, char **argv); /* ctl/cmd_terminal.c */
int ctl_cmd_audit_log(int argc, char **argv); /* ctl/cmd_auditlog.c */
int ctl_cmd_call(int argc, char **argv);     /* ctl/cmd_call.c */

const struct ctl_cmd *ctl_find(const char *name);

/* ctl/help.c: man-style pages. ctl_help_text(NULL) is the overview; NULL
 * for a command without a page. ctl_help_main runs `skipctl help ...`. */
const char *ctl_help_text(const char *cmd);
int ctl_help_main(int argc, char **argv);

#endif
