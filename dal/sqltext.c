/* dal/sqltext.c — escaping values into SQL literals (dal/sqltext.h). Pure. */
#include "dal/sqltext.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/civil.h"

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

/* ---- dal_sb ---- */

/* Room for n more bytes plus the NUL, or overflow. */
static bool sb_room(dal_sb *b, size_t n)
{
    if (b->overflow)
        return false;
    size_t max = b->max ? b->max : DAL_SB_MAX;
    size_t need = b->len + n + 1;
    if (need > max || sk_reserve(&b->buf, &b->cap, need, 4096) != 0) {
        b->overflow = true;
        return false;
    }
    return true;
}

void dal_sb_free(dal_sb *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
}

void dal_sb_reset(dal_sb *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->buf)
        b->buf[0] = '\0';
}

void dal_sb_add(dal_sb *b, const char *fmt, ...)
{
    if (!sb_room(b, 0))
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len && sb_room(b, (size_t)n)) {
        va_start(ap, fmt);
        n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    if (n < 0 || (size_t)n >= b->cap - b->len)
        b->overflow = true;
    else
        b->len += (size_t)n;
}

void dal_sb_mem(dal_sb *b, const char *s, size_t n)
{
    if (!sb_room(b, n))
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void dal_sb_str(dal_sb *b, const char *s, bool present)
{
    if (!present) {
        dal_sb_mem(b, "NULL", 4);
        return;
    }
    size_t n = strlen(s);
    if (!sb_room(b, 2 * n + 3))
        return;
    b->len += dal_quote(b->buf + b->len, s, n);
}

void dal_sb_hex(dal_sb *b, const void *p, size_t n, bool present)
{
    if (!present) {
        dal_sb_mem(b, "NULL", 4);
        return;
    }
    if (!sb_room(b, n * 2 + 3))
        return;
    static const char hx[] = "0123456789abcdef";
    const unsigned char *s = p;
    b->buf[b->len++] = 'X';
    b->buf[b->len++] = '\'';
    for (size_t i = 0; i < n; i++) {
        b->buf[b->len++] = hx[s[i] >> 4];
        b->buf[b->len++] = hx[s[i] & 15];
    }
    b->buf[b->len++] = '\'';
    b->buf[b->len] = '\0';
}

void dal_sb_dt(dal_sb *b, int64_t ms)
{
    if (ms == 0) {
        dal_sb_mem(b, "NULL", 4);
        return;
    }
    char dt[32];
    sk_fmt_time(ms, ' ', false, dt);
    dal_sb_add(b, "'%s'", dt);
}

void dal_sb_order_values(dal_sb *b, const order_t *o)
{
    dal_sb_str(b, o->order_no, true);
    dal_sb_add(b, ",%d,", o->group);
    dal_sb_str(b, o->merchant_id, true);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->out_trade_no, true);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->store_id, o->has_store_id);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->terminal_id, o->has_terminal_id);
    dal_sb_add(b, ",%" PRId64 ",", o->amount);
    dal_sb_str(b, o->currency, true);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->channel, true);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->subject, o->has_subject);
    dal_sb_add(b, ",");
    dal_sb_str(b, o->attach, o->has_attach);
    dal_sb_add(b, ",'%s',%" PRId64 ",", os_status_name(o->status), o->refunded_amount);
    dal_sb_str(b, o->channel_txn_id, o->has_channel_txn_id);
    dal_sb_add(b, ",%" PRId64 ",", o->version);
    dal_sb_dt(b, o->created_at_ms);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->updated_at_ms);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->expire_at_ms);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->paid_at_ms);
    dal_sb_add(b, ",");
    dal_sb_dt(b, o->closed_at_ms);
}
