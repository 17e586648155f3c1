/* rpc/http_parse.c — HTTP/1.1 request framing and response heads; see
 * http_parse.h for the contract and the strictness rules. */
#include "rpc/http_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int hp_status_code(hp_status st)
{
    switch (st) {
    case HP_EBAD: return 400;
    case HP_ETOO_BIG: return 431;
    case HP_EVERSION: return 505;
    case HP_ENOTIMPL: return 501;
    default: return 0;
    }
}

/* tchar of RFC 9110 §5.6.2 */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB / obs-text */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

size_t hp_skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i;
}

size_t hp_head_end(const char *buf, size_t len, size_t *scan)
{
    /* resume where the last call stopped: an LF seen there may start the
     * end, so step back over at most "\n\r" */
    size_t i = *scan > 2 ? *scan - 2 : 0;
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        size_t j = i + 1;
        if (j < len && buf[j] == '\r')
            j++;
        if (j < len && buf[j] == '\n')
            return j + 1;
    }
    *scan = len;
    return 0;
}

/* One line of buf[*pos..end): its length without the terminator; *pos moves
 * past the terminator. -1: a CR not followed by LF (bare CR), or no LF. */
static long next_line(const char *buf, size_t *pos, size_t end, size_t *eol)
{
    size_t s = *pos;
    for (size_t i = s; i < end; i++) {
        if (buf[i] == '\r') {
            if (i + 1 < end && buf[i + 1] == '\n') {
                *eol = i;
                *pos = i + 2;
                return (long)(i - s);
            }
            return -1;
        }
        if (buf[i] == '\n') {
            *eol = i;
            *pos = i + 1;
            return (long)(i - s);
        }
    }
    return -1;
}

static hp_status fail(hp_head *h, hp_status st, const char *why)
{
    h->why = why;
    return st;
}

/* "HTTP/1.1" -> minor; HP_EVERSION for another HTTP/d.d; HP_EBAD otherwise. */
static hp_status parse_version(const char *v, size_t n, int *minor)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
        v[7] > '9')
        return HP_EBAD;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return HP_EVERSION;
    *minor = v[7] - '0';
    return HP_OK;
}

static hp_status parse_request_line(char *buf, size_t len, hp_head *h)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == 0 || i >= len || buf[i] != ' ')
        return fail(h, HP_EBAD, "bad method");
    buf[i] = '\0';
    h->method = 0;
    size_t t = ++i;
    while (i < len && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f)
        i++;
    if (i == t || i >= len || buf[i] != ' ')
        return fail(h, HP_EBAD, "bad request-target");
    buf[i] = '\0';
    h->target = (uint16_t)t;
    hp_status st = parse_version(buf + i + 1, len - i - 1, &h->minor);
    if (st != HP_OK)
        return fail(h, st, st == HP_EVERSION ? "HTTP version not supported" : "bad HTTP version");
    h->is_head = strcmp(buf, "HEAD") == 0;
    return HP_OK;
}

/* name ":" OWS value OWS, line buf[s..eol) */
static hp_status parse_field(char *buf, size_t s, size_t eol, hp_head *h)
{
    if (buf[s] == ' ' || buf[s] == '\t')
        return fail(h, HP_EBAD, "obs-fold (line folding) is not allowed");
    size_t i = s;
    while (i < eol && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == s || i >= eol || buf[i] != ':')
        return fail(h, HP_EBAD, i < eol && (buf[i] == ' ' || buf[i] == '\t') ? "whitespace before a field's colon"
                                                                              : "bad field name");
    if (h->nf >= HP_FIELDS_MAX)
        return fail(h, HP_ETOO_BIG, "too many header fields");
    buf[i++] = '\0';
    while (i < eol && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t v = i, vend = i;
    for (; i < eol; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (!is_value_char(c))
            return fail(h, HP_EBAD, "control byte in a field value");
        if (c != ' ' && c != '\t')
            vend = i + 1;
    }
    buf[vend] = '\0';  /* vend <= eol: the terminator's own byte at worst */
    h->f[h->nf].name = (uint16_t)s;
    h->f[h->nf].value = (uint16_t)v;
    h->nf++;
    return HP_OK;
}

/* Does the comma-separated list `v` hold token `tok` (case-insensitive)? */
static bool list_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *e = v;
        while (*e && *e != ',')
            e++;
        const char *te = e;
        while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - v) == tl && strncasecmp(v, tok, tl) == 0)
            return true;
        v = e;
    }
    return false;
}

/* Transfer-Encoding: exactly "chunked" -> OK; codings ending in chunked ->
 * 501; anything else (chunked not last, empty) -> 400. */
static hp_status parse_te(const char *v, hp_head *h)
{
    const char *last = v, *p = v;
    int n = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        last = p;
        n++;
        while (*p && *p != ',')
            p++;
    }
    const char *e = last + strcspn(last, ",");
    while (e > last && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    bool chunked_last = n > 0 && e - last == 7 && strncasecmp(last, "chunked", 7) == 0;
    if (!chunked_last)
        return fail(h, HP_EBAD, "Transfer-Encoding must end in chunked");
    if (n > 1)
        return fail(h, HP_ENOTIMPL, "only the chunked transfer coding is supported");
    return HP_OK;
}

/* 1*DIGIT, saturating */
static hp_status parse_cl(const char *v, hp_head *h)
{
    if (*v == '\0')
        return fail(h, HP_EBAD, "empty Content-Length");
    uint64_t x = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return fail(h, HP_EBAD, "bad Content-Length");
        unsigned d = (unsigned)(*v - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    h->content_length = x;
    return HP_OK;
}

static hp_status framing(const char *buf, hp_head *h)
{
    int ncl, nte, nhost, n;
    const char *cl = hp_field_get(h, buf, "Content-Length", &ncl);
    const char *te = hp_field_get(h, buf, "Transfer-Encoding", &nte);
    (void)hp_field_get(h, buf, "Host", &nhost);
    if (h->minor == 1 && nhost != 1)
        return fail(h, HP_EBAD, nhost == 0 ? "HTTP/1.1 request without Host" : "Host sent more than once");
    if (ncl > 1)
        return fail(h, HP_EBAD, "Content-Length sent more than once");
    if (nte > 1)
        return fail(h, HP_EBAD, "Transfer-Encoding sent more than once");
    if (ncl && nte)
        return fail(h, HP_EBAD, "both Content-Length and Transfer-Encoding");
    hp_status st = HP_OK;
    h->body = HP_BODY_NONE;
    if (te != NULL) {
        if (h->minor == 0)
            return fail(h, HP_EBAD, "Transfer-Encoding in an HTTP/1.0 request");
        if ((st = parse_te(te, h)) != HP_OK)
            return st;
        h->body = HP_BODY_CHUNKED;
    } else if (cl != NULL) {
        if ((st = parse_cl(cl, h)) != HP_OK)
            return st;
        h->body = HP_BODY_LENGTH;
    }
    h->keep_alive = h->minor == 1;
    for (int i = 0; i < h->nf; i++) {
        if (strcasecmp(buf + h->f[i].name, "Connection") != 0)
            continue;
        const char *v = buf + h->f[i].value;
        if (list_has(v, "close"))
            h->keep_alive = false;
        else if (h->minor == 0 && list_has(v, "keep-alive"))
            h->keep_alive = true;
    }
    /* any "close" wins over a keep-alive in another Connection line */
    for (int i = 0; i < h->nf; i++)
        if (strcasecmp(buf + h->f[i].name, "Connection") == 0 && list_has(buf + h->f[i].value, "close"))
            h->keep_alive = false;
    const char *ex = hp_field_get(h, buf, "Expect", &n);
    h->expect_continue = h->minor == 1 && ex != NULL && strcasecmp(ex, "100-continue") == 0;
    return HP_OK;
}

hp_status hp_head_parse(char *buf, size_t head_len, hp_head *h)
{
    memset(h, 0, offsetof(hp_head, f));
    h->nf = 0;
    h->why = NULL;
    h->body = HP_BODY_NONE;
    h->content_length = 0;
    h->keep_alive = h->expect_continue = false;
    if (head_len > HP_HEAD_MAX)
        return fail(h, HP_ETOO_BIG, "header block too large");
    size_t pos = 0, eol;
    long n = next_line(buf, &pos, head_len, &eol);
    if (n <= 0)
        return fail(h, HP_EBAD, n == 0 ? "empty request line" : "bare CR");
    hp_status st = parse_request_line(buf, (size_t)n, h);
    if (st != HP_OK)
        return st;
    for (;;) {
        size_t s = pos;
        n = next_line(buf, &pos, head_len, &eol);
        if (n < 0)
            return fail(h, HP_EBAD, "bare CR");
        if (n == 0)
            break;
        if ((st = parse_field(buf, s, eol, h)) != HP_OK)
            return st;
    }
    if (pos != head_len)
        return fail(h, HP_EBAD, "bytes after the header block");
    return framing(buf, h);
}

const char *hp_field_get(const hp_head *h, const char *buf, const char *name, int *count)
{
    const char *first = NULL;
    int n = 0;
    for (int i = 0; i < h->nf; i++) {
        if (strcasecmp(buf + h->f[i].name, name) == 0) {
            if (n++ == 0)
                first = buf + h->f[i].value;
        }
    }
    if (count)
        *count = n;
    return first;
}

/* ---------- chunked ---------- */

enum {
    CK_SIZE0,     /* first hex digit of a chunk size */
    CK_SIZE,      /* more hex digits, BWS, ';' or the line end */
    CK_BWS,       /* whitespace after the size: ';' or the line end */
    CK_EXT,       /* chunk extension up to the line end */
    CK_SIZE_LF,   /* CR seen: LF */
    CK_DATA,
    CK_DATA_CR,   /* after data: CR or LF */
    CK_DATA_LF,
    CK_TRAILER0,  /* start of a trailer line, or the final empty line */
    CK_TRAILER,   /* inside a trailer line */
    CK_TRAILER_LF,
    CK_END_LF,    /* CR of the final line seen: LF */
    CK_DONE,
};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static hp_status ck_fail(hp_chunk *c, const char *why)
{
    c->why = why;
    return HP_EBAD;
}

/* the size line ended: data, or the trailer after the last chunk */
static void ck_size_done(hp_chunk *c)
{
    c->state = c->left ? CK_DATA : CK_TRAILER0;
    c->line = 0;
}

hp_status hp_chunk_feed(hp_chunk *c, const char *in, size_t len, size_t *used, size_t *doff, size_t *dlen)
{
    size_t i = 0;
    *doff = *dlen = *used = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)in[i];
        if (c->state == CK_DATA) {
            size_t n = len - i;
            if ((uint64_t)n > c->left)
                n = (size_t)c->left;
            *doff = i;
            *dlen = n;
            c->left -= n;
            if (c->left == 0)
                c->state = CK_DATA_CR;
            *used = i + n;
            return HP_MORE;
        }
        i++;
        if (c->state <= CK_SIZE_LF && ++c->line > HP_CHUNK_LINE_MAX)
            return ck_fail(c, "chunk-size line too long");
        if (c->state >= CK_TRAILER0 && c->state < CK_DONE && (++c->trailer > HP_TRAILER_MAX || ++c->line > HP_CHUNK_LINE_MAX))
            return ck_fail(c, "trailer section too large");
        switch (c->state) {
        case CK_SIZE0:
        case CK_SIZE: {
            int h = hexval(ch);
            if (h >= 0) {
                if (c->left > (UINT64_MAX >> 4))
                    return ck_fail(c, "chunk size overflows");
                c->left = (c->left << 4) | (uint64_t)h;
                c->state = CK_SIZE;
            } else if (c->state == CK_SIZE0) {
                return ck_fail(c, "bad chunk size");
            } else if (ch == ' ' || ch == '\t') {
                c->state = CK_BWS;
            } else if (ch == ';') {
                c->state = CK_EXT;
            } else if (ch == '\r') {
                c->state = CK_SIZE_LF;
            } else if (ch == '\n') {
                ck_size_done(c);
            } else {
                return ck_fail(c, "bad chunk size");
            }
            break;
        }
        case CK_BWS:
            if (ch == ';')
                c->state = CK_EXT;
            else if (ch == '\r')
                c->state = CK_SIZE_LF;
            else if (ch == '\n')
                ck_size_done(c);
            else if (ch != ' ' && ch != '\t')
                return ck_fail(c, "bad chunk size line");
            break;
        case CK_EXT:
            if (ch == '\r')
                c->state = CK_SIZE_LF;
            else if (ch == '\n')
                ck_size_done(c);
            else if (!is_value_char(ch))
                return ck_fail(c, "control byte in a chunk extension");
            break;
        case CK_SIZE_LF:
            if (ch != '\n')
                return ck_fail(c, "bare CR in a chunk-size line");
            ck_size_done(c);
            break;
        case CK_DATA_CR:
            if (ch == '\r')
                c->state = CK_DATA_LF;
            else if (ch == '\n') {
                c->state = CK_SIZE0;
                c->line = 0;
            } else
                return ck_fail(c, "chunk data longer than its size");
            break;
        case CK_DATA_LF:
            if (ch != '\n')
                return ck_fail(c, "bare CR after chunk data");
            c->state = CK_SIZE0;
            c->line = 0;
            break;
        case CK_TRAILER0:
        case CK_TRAILER:
            if (ch == '\r') {
                c->state = c->state == CK_TRAILER0 ? CK_END_LF : CK_TRAILER_LF;
            } else if (ch == '\n') {
                if (c->state == CK_TRAILER0) {
                    c->state = CK_DONE;
                    *used = i;
                    return HP_OK;
                }
                c->state = CK_TRAILER0;
                c->line = 0;
            } else if (c->state == CK_TRAILER0 && (ch == ' ' || ch == '\t')) {
                return ck_fail(c, "obs-fold in the trailer section");
            } else if (!is_value_char(ch)) {
                return ck_fail(c, "control byte in a trailer field");
            } else {
                c->state = CK_TRAILER;
            }
            break;
        case CK_TRAILER_LF:
            if (ch != '\n')
                return ck_fail(c, "bare CR in a trailer field");
            c->state = CK_TRAILER0;
            c->line = 0;
            break;
        case CK_END_LF:
            if (ch != '\n')
                return ck_fail(c, "bare CR after the last chunk");
            c->state = CK_DONE;
            *used = i;
            return HP_OK;
        default: /* CK_DONE: nothing more belongs to this body */
            *used = i - 1;
            return HP_OK;
        }
    }
    *used = i;
    return c->state == CK_DONE ? HP_OK : HP_MORE;
}

/* ---------- responses ---------- */

const char *hp_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static bool name_ok(const char *n)
{
    if (n == NULL || *n == '\0')
        return false;
    for (; *n; n++)
        if (!is_tchar((unsigned char)*n))
            return false;
    return true;
}

static bool value_ok(const char *v)
{
    if (v == NULL)
        return false;
    for (; *v; v++)
        if (!is_value_char((unsigned char)*v))
            return false;
    return true;
}

static bool edge_owned(const char *n)
{
    static const char *const owned[] = {"Content-Length", "Transfer-Encoding", "Connection", "Date",
                                        "Content-Type", "Keep-Alive"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcasecmp(n, owned[i]) == 0)
            return true;
    return false;
}

/* append to out[*o..cap); false when it does not fit */
static bool put(char *out, size_t cap, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool put(char *out, size_t cap, size_t *o, const char *fmt, ...)
{
    if (*o >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *o)
        return false;
    *o += (size_t)n;
    return true;
}

int hp_render_head(char *out, size_t cap, int status, const char *date, const char *content_type,
                   size_t content_length, const char *const *names, const char *const *values, int n, bool close,
                   bool keepalive10)
{
    size_t o = 0;
    if (status < 100 || status > 999)
        status = 500;
    if (!put(out, cap, &o, "HTTP/1.1 %d %s\r\n", status, hp_reason(status)))
        return -1;
    if (date != NULL && !put(out, cap, &o, "Date: %s\r\n", date))
        return -1;
    if (content_type != NULL && value_ok(content_type) && !put(out, cap, &o, "Content-Type: %s\r\n", content_type))
        return -1;
    if (!put(out, cap, &o, "Content-Length: %zu\r\n", content_length))
        return -1;
    for (int i = 0; i < n; i++) {
        if (!name_ok(names[i]) || !value_ok(values[i]) || edge_owned(names[i]))
            continue;
        if (!put(out, cap, &o, "%s: %s\r\n", names[i], values[i]))
            return -1;
    }
    if (close && !put(out, cap, &o, "Connection: close\r\n"))
        return -1;
    if (!close && keepalive10 && !put(out, cap, &o, "Connection: keep-alive\r\n"))
        return -1;
    if (!put(out, cap, &o, "\r\n"))
        return -1;
    return (int)o;
}

int hp_error_body(char *out, size_t cap, int status, const char *why)
{
    const char *code;
    switch (status) {
    case 400: code = "BAD_REQUEST"; break;
    case 408: code = "REQUEST_TIMEOUT"; break;
    case 431: code = "HEADER_TOO_LARGE"; break;
    case 501: code = "NOT_IMPLEMENTED"; break;
    case 505: code = "HTTP_VERSION_NOT_SUPPORTED"; break;
    default: code = "INTERNAL"; break;
    }
    /* why is one of our static reasons: no quote or backslash to escape,
     * but be safe with anything else */
    char msg[160];
    size_t m = 0;
    for (const char *p = why ? why : hp_reason(status); *p && m + 1 < sizeof msg; p++)
        if ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\' && (unsigned char)*p < 0x7f)
            msg[m++] = *p;
    msg[m] = '\0';
    int n = snprintf(out, cap, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? (int)cap - 1 : n;
}
