/* common/help.c — see help.h. */
#include "common/help.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A heading: starts at column 0 with an upper-case letter, and holds only
 * upper-case letters, digits, spaces and '-' up to the end of the line. */
static bool is_heading(const char *line, size_t len)
{
    if (len == 0 || line[0] < 'A' || line[0] > 'Z')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '-'))
            return false;
    }
    return true;
}

static size_t line_len(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl ? (size_t)(nl - p) : strlen(p);
}

int help_section(const char *text, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = text, *body = NULL, *end = NULL;
    while (*p) {
        size_t n = line_len(p);
        if (is_heading(p, n)) {
            if (body != NULL) {
                end = p;
                break;
            }
            if (n == nlen && memcmp(p, name, n) == 0)
                body = p + n + (p[n] == '\n');
        }
        p += n + (p[n] == '\n');
    }
    if (body == NULL)
        return -1;
    if (end == NULL)
        end = p;
    while (end > body && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - body);
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(out, body, k);
        out[k] = '\0';
    }
    return (int)len;
}

int help_lint(const char *text)
{
    static const char *const need[] = {"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"};
    char scratch[8];
    int lineno = 0;
    for (const char *p = text; *p;) {
        size_t n = line_len(p);
        lineno++;
        if (n > HELP_WIDTH || memchr(p, '\t', n) != NULL || (n > 0 && p[n - 1] == ' '))
            return lineno;
        p += n + (p[n] == '\n');
    }
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (help_section(text, need[i], scratch, sizeof scratch) <= 0)
            return -1;
    return 0;
}

int help_show(const char *text)
{
    fputs(text, stdout);
    return 0;
}

int help_usage(const char *text, const char *prog, const char *fmt, ...)
{
    char syn[2048];
    fprintf(stderr, "%s: ", prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (help_section(text, "SYNOPSIS", syn, sizeof syn) > 0)
        fprintf(stderr, "usage:\n%s\n", syn);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    return 2;
}
