/*
 * rpc/http_parse.h — HTTP/1.1 request framing and response heads (RFC 9112),
 * pure: bytes in, fields out. No sockets, no clock, no allocation; the edge
 * (rpc/http.c) owns the buffers and the I/O.
 *
 * A request is read in two steps:
 *
 *  1. the header block: hp_head_end() finds where it ends (call it again as
 *     bytes arrive), hp_head_parse() parses the request line and fields in
 *     place (NUL-terminating method, target, names and values) and decides
 *     the framing of the body (none, Content-Length, chunked) and the
 *     connection's fate (keep-alive, 100-continue);
 *  2. the body: Content-Length bytes as they come, or hp_chunk_feed() over a
 *     chunked body, which hands out the data spans and says when it ended.
 *
 * Strictness (request smuggling and ambiguity are 400, never a guess): one
 * SP between the request-line parts; line ends CRLF or a bare LF (a CR
 * anywhere else is 400); obs-fold (a field line starting with SP/HTAB) is
 * 400; no whitespace between a field name and its colon; control bytes in a
 * value (other than HTAB) are 400; Content-Length sent twice, sent with
 * Transfer-Encoding, or not 1*DIGIT is 400; Transfer-Encoding sent twice,
 * in HTTP/1.0, or not ending in "chunked" is 400, a coding before chunked
 * is 501; HTTP/1.1 without exactly one Host is 400; a version other than
 * HTTP/1.0 and HTTP/1.1 is 505.
 */
#ifndef RPC_HTTP_PARSE_H
#define RPC_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_HEAD_MAX 16384      /* request line + fields + the empty line, bytes */
#define HP_FIELDS_MAX 100      /* field lines in one header block */
#define HP_CHUNK_LINE_MAX 4096 /* chunk-size line with its extensions, one trailer line */
#define HP_TRAILER_MAX 16384   /* the whole trailer section */

typedef enum {
    HP_OK = 0,   /* complete */
    HP_MORE,     /* not complete yet: call again with more bytes */
    HP_EBAD,     /* 400: bad syntax or framing */
    HP_ETOO_BIG, /* 431: header block over HP_HEAD_MAX or more than HP_FIELDS_MAX fields */
    HP_EVERSION, /* 505: HTTP/x.y other than 1.0 and 1.1 */
    HP_ENOTIMPL, /* 501: a transfer coding other than chunked */
} hp_status;

/* The HTTP status an error answers with (400, 431, 505, 501); 0 for HP_OK/HP_MORE. */
int hp_status_code(hp_status st);

typedef enum { HP_BODY_NONE, HP_BODY_LENGTH, HP_BODY_CHUNKED } hp_body;

/* A field line: offsets of its NUL-terminated name and value in the buffer
 * that was parsed (value without surrounding whitespace). */
typedef struct {
    uint16_t name, value;
} hp_field;

typedef struct {
    uint16_t method, target;   /* offsets of NUL-terminated strings */
    int minor;                 /* HTTP/1.minor: 0 or 1 */
    hp_field f[HP_FIELDS_MAX];
    int nf;
    hp_body body;
    uint64_t content_length;   /* HP_BODY_LENGTH; saturates at UINT64_MAX */
    bool keep_alive;           /* 1.1 unless "Connection: close"; 1.0 only with "keep-alive" */
    bool expect_continue;      /* "Expect: 100-continue" on HTTP/1.1 */
    bool is_head;              /* method HEAD: the response has no body */
    const char *why;           /* error reason (static string) when parse fails */
} hp_head;

/*
 * Leading CR/LF bytes before a request line (RFC 9112 §2.2: a server SHOULD
 * ignore at least one empty line before the request-line). Returns how many
 * of buf's first bytes to drop.
 */
size_t hp_skip_empty_lines(const char *buf, size_t len);

/*
 * Where the header block in buf[0..len) ends: the offset just past its
 * empty line, or 0 when it is not complete yet. *scan keeps where to resume
 * (start it at 0 for a new request; it stays valid while bytes are only
 * appended).
 */
size_t hp_head_end(const char *buf, size_t len, size_t *scan);

/*
 * Parse the header block buf[0..head_len) (head_len from hp_head_end, at
 * most HP_HEAD_MAX) into h. Writes NULs into buf. HP_OK, or an error with
 * h->why set.
 */
hp_status hp_head_parse(char *buf, size_t head_len, hp_head *h);

/* The first value of field `name` (case-insensitive) of a parsed head in
 * buf, NULL when absent; *count (if non-NULL) gets how many times it came. */
const char *hp_field_get(const hp_head *h, const char *buf, const char *name, int *count);

/* Chunked body decoder (RFC 9112 §7.1); chunk extensions and trailer fields
 * are read and dropped. Zero-initialise before the body's first byte. */
typedef struct {
    int state;
    uint64_t left;   /* data bytes left in the current chunk */
    size_t line;     /* bytes of the current size or trailer line */
    size_t trailer;  /* bytes of the trailer section */
    const char *why; /* error reason (static string) */
} hp_chunk;

/*
 * Decode chunked framing from in[0..len). Consumes bytes up to and
 * including the first data span it meets (*doff, *dlen: where in `in` the
 * body bytes are; *dlen == 0 when none) or to the end of the input; *used
 * gets how many bytes it consumed. Returns HP_MORE (call again with the
 * rest, or with more input), HP_OK (the body ended: bytes after *used
 * belong to the next request) or HP_EBAD (c->why set, *used and *dlen 0).
 */
hp_status hp_chunk_feed(hp_chunk *c, const char *in, size_t len, size_t *used, size_t *doff, size_t *dlen);

/* "OK", "Not Found", ...; "Unknown" for codes without a phrase here. */
const char *hp_reason(int status);

/*
 * The head of a response into out (cap bytes): status line, Date (the
 * preformatted IMF-fixdate `date`, or none when NULL), Content-Type (when
 * non-NULL), Content-Length, the extra fields, and Connection: close when
 * `close`, Connection: keep-alive when `keepalive10` (an HTTP/1.0 client
 * that asked for it). Extra fields the edge owns (Content-Length,
 * Transfer-Encoding, Connection, Date, Content-Type) and fields whose name is
 * not a token or whose value holds a control byte (CR, LF: response
 * splitting) are dropped. Returns the length, or -1 when it does not fit.
 */
int hp_render_head(char *out, size_t cap, int status, const char *date, const char *content_type,
                   size_t content_length, const char *const *names, const char *const *values, int n, bool close,
                   bool keepalive10);

/* The JSON error body the edge itself answers with (400, 408, 431, 501, 505):
 * {"error":{"code":"...","message":"..."}} into out. Returns its length
 * (truncated to cap - 1). why: a short reason, or NULL. */
int hp_error_body(char *out, size_t cap, int status, const char *why);

#endif
