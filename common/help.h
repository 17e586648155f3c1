/*
 * common/help.h — man-style help for every program (issue 14).
 *
 * A help text is plain text laid out like a man page: section headings
 * (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, ENVIRONMENT, FILES, EXIT STATUS,
 * SEE ALSO, ...) in upper case at column 0, bodies indented by 4 spaces,
 * lines of at most HELP_WIDTH columns. The same text is printed by --help and
 * turned into the installed man pages at build time (packaging/mkman.sh), so
 * the two never drift apart.
 *
 * Conventions of every program: --help / -h prints the text on stdout and
 * exits 0; an unknown option or a missing argument prints the message and
 * the SYNOPSIS on stderr and exits 2.
 */
#ifndef HELP_H
#define HELP_H

#include <stddef.h>
#include "common/sk.h"

#define HELP_WIDTH 74

/* Print text on stdout. Returns 0, the exit status of --help. */
int help_show(const char *text);

/* Usage error: "PROG: MESSAGE", the text's SYNOPSIS and "Try 'PROG --help'."
 * on stderr. prog is the program as the user types it ("skipctl drill").
 * Returns 2, the exit status of a usage error. */
int help_usage(const char *text, const char *prog, const char *fmt, ...) SK_PRINTF(3, 4);

/* Pure: copy the body of section `name` (the lines after its heading, up to
 * the next heading, trailing blank lines dropped) into out (NUL-terminated,
 * truncated to cap). Returns the body's full length, or -1 if there is no
 * such section. */
int help_section(const char *text, const char *name, char *out, size_t cap);

/* Pure: 0 when text follows the layout above and has NAME, SYNOPSIS,
 * DESCRIPTION and EXIT STATUS; else the 1-based number of the first line at
 * fault (too wide, tab, trailing blank) or -1 when a section is missing. */
int help_lint(const char *text);

/* The texts, one file per program, next to its main(). */
extern const char skipstored_help[];        /* daemon/help.c */
extern const char skipstore_mirror_help[];  /* mirror/help.c */
extern const char skipbench_help[];         /* bench/help.c */
/* skipctl: ctl/help.c (one text per command; see ctl/ctl.h) */

#endif
