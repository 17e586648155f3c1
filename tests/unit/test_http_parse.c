/* tests/unit/test_http_parse.c — the HTTP/1.1 framing parser (rpc/http_parse.c,
 * pure): header block end, request line, fields, every 400/431/501/505 rule
 * (smuggling: duplicate Content-Length, CL + TE, obs-fold, bare CR), chunked
 * bodies fed in every split, response heads and the edge's error bodies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/http_parse.h"

static char B[HP_HEAD_MAX + 64];
static hp_head H;

/* Parse a complete header block given as a C string. */
static hp_status parse(const char *s)
{
    size_t len = strlen(s), scan = 0;
    ck_assert_uint_lt(len, sizeof B);
    memcpy(B, s, len + 1);
    size_t end = hp_head_end(B, len, &scan);
    ck_assert_msg(end == len, "head end %zu != %zu for %s", end, len, s);
    return hp_head_parse(B, end, &H);
}

static const char *field(const char *name, int *count)
{
    return hp_field_get(&H, B, name, count);
}

START_TEST(simple_get)
{
    ck_assert_int_eq(parse("GET /v1/orders/1?x=%20y HTTP/1.1\r\nHost: a\r\nAccept:  */*  \r\n\r\n"), HP_OK);
    ck_assert_str_eq(B + H.method, "GET");
    ck_assert_str_eq(B + H.target, "/v1/orders/1?x=%20y");
    ck_assert_int_eq(H.minor, 1);
    ck_assert_int_eq(H.nf, 2);
    ck_assert_int_eq(H.body, HP_BODY_NONE);
    ck_assert(H.keep_alive);
    ck_assert(!H.expect_continue);
    ck_assert(!H.is_head);
    int n;
    ck_assert_str_eq(field("accept", &n), "*/*");
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(field("HOST", NULL), "a");
    ck_assert_ptr_null(field("Authorization", &n));
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(bare_lf_line_ends_and_empty_values)
{
    ck_assert_int_eq(parse("POST /x HTTP/1.1\nHost: h\nX-Empty:\nX-Sp: \t \nContent-Length: 3\n\n"), HP_OK);
    ck_assert_str_eq(field("X-Empty", NULL), "");
    ck_assert_str_eq(field("X-Sp", NULL), "");
    ck_assert_int_eq(H.body, HP_BODY_LENGTH);
    ck_assert_uint_eq(H.content_length, 3);
    /* mixed: CRLF then LF LF */
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\n\r\n"), HP_OK);
    /* obs-text (high bytes) and HTAB inside a value are allowed */
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xe4\xb8\xad\r\n\r\n"), HP_OK);
    ck_assert_str_eq(field("X", NULL), "a\tb \xe4\xb8\xad");
}
END_TEST

START_TEST(head_end_is_incremental)
{
    const char *req = "GET / HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
    size_t full = strlen(req) - 4;
    /* feed byte by byte: found exactly when the empty line is complete */
    for (size_t cut = 0; cut <= strlen(req); cut++) {
        size_t scan = 0, end = 0;
        for (size_t l = 0; l <= cut && end == 0; l++)
            end = hp_head_end(req, l, &scan);
        ck_assert_uint_eq(end, cut >= full ? full : 0);
    }
    size_t scan = 0;
    ck_assert_uint_eq(hp_head_end("a\n\nb", 4, &scan), 3);
    scan = 0;
    ck_assert_uint_eq(hp_head_end("a\r\n\nb", 5, &scan), 4);
    scan = 0;
    ck_assert_uint_eq(hp_head_end("a\n\r\nb", 5, &scan), 4);
    scan = 0;
    ck_assert_uint_eq(hp_head_end("a\r\n\rb", 5, &scan), 0);
    ck_assert_uint_eq(hp_skip_empty_lines("\r\n\r\nGET", 7), 4);
    ck_assert_uint_eq(hp_skip_empty_lines("GET", 3), 0);
    ck_assert_uint_eq(hp_skip_empty_lines("\n\n", 2), 2);
}
END_TEST

START_TEST(versions)
{
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n"), HP_OK); /* 1.0 needs no Host */
    ck_assert_int_eq(H.minor, 0);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HP_OK);
    ck_assert(H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), HP_EVERSION);
    ck_assert_int_eq(parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), HP_EVERSION);
    ck_assert_int_eq(parse("GET / HTTP/0.9\r\n\r\n"), HP_EVERSION);
    ck_assert_int_eq(hp_status_code(HP_EVERSION), 505);
    static const char *const bad[] = {"GET / HTTP/1.1x\r\n\r\n", "GET / http/1.1\r\n\r\n", "GET / HTTP/1\r\n\r\n",
                                      "GET / HTTP/a.1\r\n\r\n", "GET / HTTP/1.b\r\n\r\n", "GET /\r\n\r\n",
                                      "GET / HTTP/1.1 \r\n\r\n", "GET / HTTPS1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(bad[i]) == HP_EBAD, "accepted %s", bad[i]);
}
END_TEST

START_TEST(request_line_errors)
{
    static const char *const bad[] = {
        " GET / HTTP/1.1\r\nHost: h\r\n\r\n",       /* leading space */
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",       /* two spaces */
        "GET / x HTTP/1.1\r\nHost: h\r\n\r\n",      /* space in target */
        "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",        /* not a token */
        "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",    /* control byte in target */
        "GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\xc3\xa4 HTTP/1.1\r\nHost: h\r\n\r\n", /* raw non-ASCII in target */
        "GET\tHTTP/1.1\r\nHost: h\r\n\r\n",
        "GET\r\nHost: h\r\n\r\n",                   /* method only */
        "GET \r\nHost: h\r\n\r\n",                  /* empty target */
        "GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n",     /* bare CR in the request line */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i]) == HP_EBAD, "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(H.why);
    }
    /* an empty first line: hp_head_end sees the block end at once */
    memcpy(B, "\r\n\r\n", 5);
    ck_assert_int_eq(hp_head_parse(B, 2, &H), HP_EBAD);
    ck_assert_str_eq(H.why, "empty request line");
    ck_assert_int_eq(parse("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"), HP_OK);
    ck_assert(H.is_head);
    ck_assert_int_eq(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), HP_OK);
    ck_assert_str_eq(B + H.target, "*");
    ck_assert_int_eq(parse("GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n"), HP_OK);
    ck_assert_str_eq(B + H.target, "http://h/x");
}
END_TEST

START_TEST(field_errors)
{
    struct {
        const char *req;
        hp_status st;
        const char *why;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", HP_EBAD, "obs-fold"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", HP_EBAD, "obs-fold"},
        {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", HP_EBAD, "obs-fold"},
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", HP_EBAD, "whitespace before"},
        {"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", HP_EBAD, "whitespace before"},
        {"GET / HTTP/1.1\r\nHost h\r\n\r\n", HP_EBAD, "whitespace before"},
        {"GET / HTTP/1.1\r\nHost\x01: h\r\n\r\n", HP_EBAD, "bad field name"},
        {"GET / HTTP/1.1\r\nHost\r\n\r\n", HP_EBAD, "bad field name"},
        {"GET / HTTP/1.1\r\n: h\r\n\r\n", HP_EBAD, "bad field name"},
        {"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", HP_EBAD, "bad field name"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", HP_EBAD, "control byte"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", HP_EBAD, "control byte"},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", HP_EBAD, "bare CR"},
        {"GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n", HP_EBAD, "bare CR"},
        {"GET / HTTP/1.1\r\n\r\n", HP_EBAD, "without Host"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HP_EBAD, "more than once"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(parse(cases[i].req) == cases[i].st, "case %zu: %s", i, cases[i].req);
        ck_assert_msg(strstr(H.why, cases[i].why) != NULL, "case %zu: why '%s'", i, H.why);
    }
    /* a NUL byte in a value */
    const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    memcpy(B, nul, sizeof nul);
    size_t scan = 0, end = hp_head_end(B, sizeof nul - 1, &scan);
    ck_assert_uint_eq(end, sizeof nul - 1);
    ck_assert_int_eq(hp_head_parse(B, end, &H), HP_EBAD);
    /* bytes past the block handed to the parser */
    strcpy(B, "GET / HTTP/1.1\r\nHost: h\r\n\r\nX");
    ck_assert_int_eq(hp_head_parse(B, strlen(B), &H), HP_EBAD);
    ck_assert_str_eq(H.why, "bytes after the header block");
    /* a block that does not end with its empty line */
    strcpy(B, "GET / HTTP/1.1\r\nHost: h");
    ck_assert_int_eq(hp_head_parse(B, strlen(B), &H), HP_EBAD);
}
END_TEST

START_TEST(limits_431)
{
    /* exactly HP_FIELDS_MAX fields pass, one more is 431 */
    char *req = malloc(HP_HEAD_MAX * 2);
    for (int extra = 0; extra <= 1; extra++) {
        size_t o = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 1; i < HP_FIELDS_MAX + extra; i++)
            o += (size_t)sprintf(req + o, "X%d: %d\r\n", i, i);
        strcpy(req + o, "\r\n");
        ck_assert_int_eq(parse(req), extra ? HP_ETOO_BIG : HP_OK);
    }
    ck_assert_int_eq(hp_status_code(HP_ETOO_BIG), 431);
    /* a block longer than HP_HEAD_MAX */
    size_t o = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(req + o, 'a', HP_HEAD_MAX);
    strcpy(req + o + HP_HEAD_MAX, "\r\n\r\n");
    size_t len = strlen(req), scan = 0;
    ck_assert_uint_eq(hp_head_end(req, len, &scan), len);
    ck_assert_int_eq(hp_head_parse(req, len, &H), HP_ETOO_BIG);
    free(req);
}
END_TEST

START_TEST(content_length_rules)
{
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"), HP_OK);
    ck_assert_int_eq(H.body, HP_BODY_LENGTH);
    ck_assert_uint_eq(H.content_length, 0);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0065536\r\n\r\n"), HP_OK);
    ck_assert_uint_eq(H.content_length, 65536);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 99999999999999999999999\r\n\r\n"), HP_OK);
    ck_assert(H.content_length == UINT64_MAX);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n"), HP_OK);
    ck_assert(H.content_length == UINT64_MAX);
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(bad[i]) == HP_EBAD, "accepted %s", bad[i]);
}
END_TEST

START_TEST(transfer_encoding_rules)
{
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), HP_OK);
    ck_assert_int_eq(H.body, HP_BODY_CHUNKED);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n"), HP_OK);
    ck_assert_int_eq(H.body, HP_BODY_CHUNKED);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked ,\r\n\r\n"), HP_OK);
    ck_assert_int_eq(H.body, HP_BODY_CHUNKED);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), HP_ENOTIMPL);
    ck_assert_int_eq(hp_status_code(HP_ENOTIMPL), 501);
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(bad[i]) == HP_EBAD, "accepted %s", bad[i]);
    ck_assert_int_eq(hp_status_code(HP_EBAD), 400);
    ck_assert_int_eq(hp_status_code(HP_OK), 0);
    ck_assert_int_eq(hp_status_code(HP_MORE), 0);
}
END_TEST

START_TEST(connection_and_expect)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), HP_OK);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n"), HP_OK);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n"), HP_OK);
    ck_assert(H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"), HP_OK);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"), HP_OK);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: foo, ,keep-alive \r\n\r\n"), HP_OK);
    ck_assert(H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: \r\n\r\n"), HP_OK);
    ck_assert(H.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade ,close\t, x\r\n\r\n"), HP_OK);
    ck_assert(!H.keep_alive);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n"), HP_OK);
    ck_assert(H.expect_continue);
    ck_assert_int_eq(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"), HP_OK);
    ck_assert(!H.expect_continue);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\nContent-Length: 2\r\n\r\n"), HP_OK);
    ck_assert(!H.expect_continue);
}
END_TEST

/* ---------- chunked ---------- */

/* Decode s fed in pieces of `step` bytes (0 = all at once); returns the
 * status, the body in out, and the bytes consumed. */
static hp_status dechunk(const char *s, size_t len, size_t step, char *out, size_t *olen, size_t *consumed,
                         hp_chunk *c)
{
    memset(c, 0, sizeof *c);
    size_t pos = 0, avail = step ? 0 : len;
    *olen = 0;
    hp_status st = HP_MORE;
    while (st == HP_MORE) {
        if (pos == avail) {
            if (avail == len)
                break;
            avail = avail + step > len ? len : avail + step;
        }
        size_t used, doff, dlen;
        st = hp_chunk_feed(c, s + pos, avail - pos, &used, &doff, &dlen);
        if (dlen) {
            memcpy(out + *olen, s + pos + doff, dlen);
            *olen += dlen;
        }
        pos += used;
    }
    *consumed = pos;
    return st;
}

START_TEST(chunked_in_every_split)
{
    const char *body = "5\r\nhello\r\n6;name=val;x\r\n world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                       "0\r\nTrailer-A: 1\r\nB: x y\r\n\r\nGET /next";
    size_t len = strlen(body), want_used = len - 9;
    for (size_t step = 0; step <= 12; step++) {
        char out[128];
        size_t olen, used;
        hp_chunk c;
        hp_status st = dechunk(body, len, step, out, &olen, &used, &c);
        ck_assert_msg(st == HP_OK, "step %zu: %d %s", step, st, c.why ? c.why : "");
        ck_assert_uint_eq(used, want_used);
        out[olen] = '\0';
        ck_assert_str_eq(out, "hello worldabcdefghijklmnopqrstuvwxyz");
    }
    /* lowercase hex, whitespace then CRLF, a trailer ended by a bare LF */
    const char *mix = "a \r\n0123456789\r\n0\r\nX: 1\n\r\n";
    {
        char o[64];
        size_t ol, u;
        hp_chunk cc;
        ck_assert_int_eq(dechunk(mix, strlen(mix), 0, o, &ol, &u, &cc), HP_OK);
        ck_assert_uint_eq(ol, 10);
        ck_assert_uint_eq(u, strlen(mix));
    }
    /* bare LF line ends, uppercase hex, whitespace before ';' and the line end */
    const char *lf = "3 ;ext\nabc\nA\t\n0123456789\n0\n\n";
    char out[64];
    size_t olen, used;
    hp_chunk c;
    ck_assert_int_eq(dechunk(lf, strlen(lf), 1, out, &olen, &used, &c), HP_OK);
    ck_assert_uint_eq(olen, 13);
    ck_assert_uint_eq(used, strlen(lf));
    /* incomplete: HP_MORE after everything given */
    ck_assert_int_eq(dechunk("5\r\nhel", 6, 0, out, &olen, &used, &c), HP_MORE);
    ck_assert_uint_eq(olen, 3);
    ck_assert_int_eq(dechunk("0\r\n\r", 4, 0, out, &olen, &used, &c), HP_MORE);
    /* "0\r\n\r\n" directly: an empty body */
    ck_assert_int_eq(dechunk("0\r\n\r\n", 5, 0, out, &olen, &used, &c), HP_OK);
    ck_assert_uint_eq(olen, 0);
    /* called again after the end: consumes nothing */
    size_t u, d, dl;
    ck_assert_int_eq(hp_chunk_feed(&c, "X", 1, &u, &d, &dl), HP_OK);
    ck_assert_uint_eq(u, 0);
    ck_assert_uint_eq(dl, 0);
    /* a huge but valid size just waits for data */
    ck_assert_int_eq(dechunk("FFFFFFFFFFFFFFF\r\nab", 19, 0, out, &olen, &used, &c), HP_MORE);
    ck_assert_uint_eq(olen, 2);
    ck_assert(c.left == 0xFFFFFFFFFFFFFFFull - 2);
}
END_TEST

START_TEST(chunked_errors)
{
    static const struct {
        const char *s;
        const char *why;
    } bad[] = {
        {"x\r\n", "bad chunk size"},
        {"\r\n", "bad chunk size"},
        {";a\r\n", "bad chunk size"},
        {"5x\r\n", "bad chunk size"},
        {"5 x\r\n", "bad chunk size line"},
        {"5;a\x01\r\n", "control byte in a chunk extension"},
        {"5\rX", "bare CR in a chunk-size line"},
        {"1\r\nab\r\n", "chunk data longer than its size"},
        {"1\r\na\rX", "bare CR after chunk data"},
        {"10000000000000000\r\n", "chunk size overflows"},
        {"0\r\n x: 1\r\n\r\n", "obs-fold"},
        {"0\r\nX: \x01\r\n\r\n", "control byte in a trailer"},
        {"0\r\nX: 1\rY\r\n\r\n", "bare CR in a trailer"},
        {"0\r\n\rX", "bare CR after the last chunk"},
        {"-1\r\n", "bad chunk size"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[64];
        size_t olen, used;
        hp_chunk c;
        for (size_t step = 0; step <= 2; step++) {
            ck_assert_msg(dechunk(bad[i].s, strlen(bad[i].s), step, out, &olen, &used, &c) == HP_EBAD, "accepted %zu",
                          i);
            ck_assert_msg(strstr(c.why, bad[i].why) != NULL, "case %zu: why '%s'", i, c.why);
        }
    }
    /* an error consumes nothing and hands out no data */
    {
        hp_chunk c0 = {0};
        size_t u = 99, d = 99, dl = 99;
        ck_assert_int_eq(hp_chunk_feed(&c0, "zz", 2, &u, &d, &dl), HP_EBAD);
        ck_assert_uint_eq(u, 0);
        ck_assert_uint_eq(dl, 0);
    }
    /* a size line with endless extensions */
    char *big = malloc(HP_CHUNK_LINE_MAX + 16);
    strcpy(big, "5;");
    memset(big + 2, 'e', HP_CHUNK_LINE_MAX);
    big[HP_CHUNK_LINE_MAX + 2] = '\0';
    char out[8];
    size_t olen, used;
    hp_chunk c;
    ck_assert_int_eq(dechunk(big, strlen(big), 0, out, &olen, &used, &c), HP_EBAD);
    ck_assert_str_eq(c.why, "chunk-size line too long");
    /* trailer section over HP_TRAILER_MAX (lines short enough on their own) */
    size_t cap = HP_TRAILER_MAX + 4096;
    char *tr = malloc(cap);
    size_t o = (size_t)sprintf(tr, "0\r\n");
    while (o < HP_TRAILER_MAX + 200)
        o += (size_t)sprintf(tr + o, "X-Trailer: %0100d\r\n", 0);
    ck_assert_int_eq(dechunk(tr, o, 0, out, &olen, &used, &c), HP_EBAD);
    ck_assert_str_eq(c.why, "trailer section too large");
    /* one trailer line over HP_CHUNK_LINE_MAX */
    o = (size_t)sprintf(tr, "0\r\nX: ");
    memset(tr + o, 'v', HP_CHUNK_LINE_MAX);
    ck_assert_int_eq(dechunk(tr, o + HP_CHUNK_LINE_MAX, 0, out, &olen, &used, &c), HP_EBAD);
    free(tr);
    free(big);
}
END_TEST

/* ---------- responses ---------- */

START_TEST(render_head)
{
    char out[512];
    const char *names[] = {"Retry-After", "Content-Length", "X-Bad", "Bad Name", "Connection", "Skip-Signature",
                           "Transfer-Encoding", "date", "content-type", "Keep-Alive"};
    const char *values[] = {"1", "99", "a\r\nInjected: 1", "x", "keep-alive", "ts=\"1\", sig=\"x\"", "chunked",
                            "x", "text/html", "timeout=5"};
    int n = hp_render_head(out, sizeof out, 503, "Sun, 06 Nov 1994 08:49:37 GMT", "application/json", 17, names,
                           values, 10, false, false);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(out, "HTTP/1.1 503 Service Unavailable\r\n"
                          "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: 17\r\n"
                          "Retry-After: 1\r\n"
                          "Skip-Signature: ts=\"1\", sig=\"x\"\r\n"
                          "\r\n");
    n = hp_render_head(out, sizeof out, 200, NULL, NULL, 0, NULL, NULL, 0, true, false);
    ck_assert_str_eq(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    ck_assert_int_eq(n, (int)strlen(out));
    hp_render_head(out, sizeof out, 201, NULL, "a\nb", 2, NULL, NULL, 0, false, true);
    ck_assert_str_eq(out, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
    hp_render_head(out, sizeof out, 42, NULL, NULL, 0, NULL, NULL, 0, false, false);
    ck_assert_str_eq(out, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    const char *nn[] = {"", NULL, "X"};
    const char *vv[] = {"x", "y", NULL};
    hp_render_head(out, sizeof out, 299, NULL, NULL, 0, nn, vv, 3, false, false);
    ck_assert_str_eq(out, "HTTP/1.1 299 Unknown\r\nContent-Length: 0\r\n\r\n");
    /* too small for each part in turn */
    size_t full = strlen("HTTP/1.1 503 Service Unavailable\r\nDate: D\r\nContent-Type: t\r\nContent-Length: 1\r\n"
                         "Retry-After: 1\r\nConnection: close\r\n\r\n");
    for (size_t cap = 0; cap <= full; cap++)
        ck_assert_int_eq(hp_render_head(out, cap, 503, "D", "t", 1, names, values, 1, true, false), -1);
    ck_assert_int_eq(hp_render_head(out, full + 1, 503, "D", "t", 1, names, values, 1, true, false), (int)full);
    full = strlen("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n");
    for (size_t cap = full - 30; cap <= full; cap++)
        ck_assert_int_eq(hp_render_head(out, cap, 200, NULL, NULL, 1, NULL, NULL, 0, false, true), -1);
}
END_TEST

START_TEST(reasons_and_error_bodies)
{
    static const int codes[] = {100, 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 408, 409,
                                413, 429, 431, 500, 501, 502, 503, 504, 505};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        ck_assert_str_ne(hp_reason(codes[i]), "Unknown");
    ck_assert_str_eq(hp_reason(418), "Unknown");
    char out[256];
    hp_error_body(out, sizeof out, 400, "bad \"method\"\\\x01");
    ck_assert_str_eq(out, "{\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"bad method\"}}");
    hp_error_body(out, sizeof out, 408, NULL);
    ck_assert_str_eq(out, "{\"error\":{\"code\":\"REQUEST_TIMEOUT\",\"message\":\"Request Timeout\"}}");
    static const struct {
        int st;
        const char *code;
    } m[] = {{431, "HEADER_TOO_LARGE"}, {501, "NOT_IMPLEMENTED"}, {505, "HTTP_VERSION_NOT_SUPPORTED"},
             {500, "INTERNAL"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        hp_error_body(out, sizeof out, m[i].st, "x");
        ck_assert_ptr_nonnull(strstr(out, m[i].code));
    }
    ck_assert_int_eq(hp_error_body(out, 10, 400, "x"), 9);
    ck_assert_uint_eq(strlen(out), 9);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_parse");
    TCase *t = tcase_create("core");
    tcase_add_test(t, simple_get);
    tcase_add_test(t, bare_lf_line_ends_and_empty_values);
    tcase_add_test(t, head_end_is_incremental);
    tcase_add_test(t, versions);
    tcase_add_test(t, request_line_errors);
    tcase_add_test(t, field_errors);
    tcase_add_test(t, limits_431);
    tcase_add_test(t, content_length_rules);
    tcase_add_test(t, transfer_encoding_rules);
    tcase_add_test(t, connection_and_expect);
    tcase_add_test(t, chunked_in_every_split);
    tcase_add_test(t, chunked_errors);
    tcase_add_test(t, render_head);
    tcase_add_test(t, reasons_and_error_bodies);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int nf = srunner_ntests_failed(r);
    srunner_free(r);
    return nf ? 1 : 0;
}
