/* dal/sqltext.c — escaping values into SQL literals (dal/sqltext.h). Pure. */
#include "dal/sqltext.h"

#include <string.h>

size_t dal_escape(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], e;
        switch (c) {
        case '\0': e = '0'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\\': e = '\\'; break;
        case '\'': e = '\''; break;
        case '"': e = '"'; break;
        case '\032': e = 'Z'; break;
        default: out[o++] = c; continue;
        }
        out[o++] = '\\';
        out[o++] = e;
    }
    out[o] = '\0';
    return o;
}

size_t dal_quote(char *out, const char *s, size_t n)
{
    out[0] = '\'';
    size_t o = 1 + dal_escape(out + 1, s, n);
    out[o++] = '\'';
    out[o] = '\0';
    return o;
}

void dal_sql_val(sk_buf *b, const char *v, size_t n)
{
    if (v == NULL) {
        sk_buf_put(b, "NULL", 4);
        return;
    }
    if (b->oom)
        return;
    if (sk_reserve(&b->p, &b->cap, b->len + 2 * n + 3, 1024) != 0) {
        b->oom = true;
        return;
    }
    b->len += dal_quote(b->p + b->len, v, n);
}
