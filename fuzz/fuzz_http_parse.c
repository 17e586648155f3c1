/*
 * fuzz/fuzz_http_parse.c — the HTTP/1.1 framing parser (rpc/http_parse.c),
 * the first code every byte from the network meets.
 *
 * The input is what a client sends on a connection. Properties:
 *  - the end of the header block does not depend on how the bytes arrive
 *    (fed in steps of 1..16 bytes == all at once);
 *  - a parsed head is well-formed: method a token, target visible ASCII,
 *    names tokens, values without CR/LF/NUL, every string NUL-terminated
 *    inside the block, at most HP_FIELDS_MAX fields, one Content-Length at
 *    most and never with Transfer-Encoding; an error has a reason and is
 *    one of 400/431/501/505;
 *  - a chunked body decodes to the same bytes, status and length whether
 *    fed byte by byte or at once, and never consumes more than it is given;
 *  - a response head rendered with a field taken from the input has no
 *    CR or LF except as line ends (no response splitting).
 * Exact-size heap copies: reading past the input hits ASan's redzone.
 *
 * Build and run (clang): with the project's fuzz/ setup (fuzz/run.sh, when
 * it is on main) register it with skip_fuzzer(http_parse skipcore); on its
 * own:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *     fuzz/fuzz_http_parse.c rpc/http_parse.c -o fuzz_http_parse
 *   ./fuzz_http_parse -max_len=20000 fuzz/corpus/http_parse
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define P_ASSERT(cond, ...)                                                               \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static char *dup_exact(const uint8_t *p, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (b == NULL)
        abort();
    if (n)
        memcpy(b, p, n);
    return b;
}

static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A NUL-terminated string that starts at off and ends inside buf[0..len). */
static size_t str_in(const char *buf, size_t len, size_t off)
{
    P_ASSERT(off < len, "offset %zu outside %zu", off, len);
    const char *z = memchr(buf + off, '\0', len - off);
    P_ASSERT(z != NULL, "string at %zu not terminated inside the block", off);
    return (size_t)(z - (buf + off));
}

static void check_head(const char *b, size_t end, const hp_head *h)
{
    size_t ml = str_in(b, end, h->method);
    P_ASSERT(ml > 0, "empty method");
    for (size_t i = 0; i < ml; i++)
        P_ASSERT(tchar((unsigned char)b[h->method + i]), "method byte %02x", (unsigned char)b[h->method + i]);
    size_t tl = str_in(b, end, h->target);
    P_ASSERT(tl > 0, "empty target");
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = (unsigned char)b[h->target + i];
        P_ASSERT(c > 0x20 && c < 0x7f, "target byte %02x", c);
    }
    P_ASSERT(h->minor == 0 || h->minor == 1, "minor %d", h->minor);
    P_ASSERT(h->nf >= 0 && h->nf <= HP_FIELDS_MAX, "nf %d", h->nf);
    for (int i = 0; i < h->nf; i++) {
        size_t nl = str_in(b, end, h->f[i].name);
        P_ASSERT(nl > 0, "empty name");
        for (size_t k = 0; k < nl; k++)
            P_ASSERT(tchar((unsigned char)b[h->f[i].name + k]), "name byte");
        size_t vl = str_in(b, end, h->f[i].value);
        for (size_t k = 0; k < vl; k++) {
            unsigned char c = (unsigned char)b[h->f[i].value + k];
            P_ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f), "value byte %02x", c);
        }
        P_ASSERT(vl == 0 || (b[h->f[i].value] != ' ' && b[h->f[i].value + vl - 1] != ' '), "value not trimmed");
    }
    int ncl, nte, nhost;
    hp_field_get(h, b, "content-length", &ncl);
    hp_field_get(h, b, "transfer-encoding", &nte);
    hp_field_get(h, b, "host", &nhost);
    P_ASSERT(ncl <= 1 && nte <= 1 && !(ncl && nte), "framing ambiguity accepted: cl %d te %d", ncl, nte);
    P_ASSERT(h->minor == 0 || nhost == 1, "HTTP/1.1 with %d Host", nhost);
    P_ASSERT(h->body != HP_BODY_CHUNKED || (nte == 1 && h->minor == 1), "chunked without TE");
    P_ASSERT(h->body != HP_BODY_LENGTH || ncl == 1, "length without CL");
    P_ASSERT(h->body != HP_BODY_NONE || (ncl == 0 && nte == 0), "body framing dropped");
}

/* Decode in steps of `step` bytes (0: all at once). */
static hp_status dechunk(const char *in, size_t len, size_t step, char *out, size_t *olen, size_t *used)
{
    hp_chunk c;
    memset(&c, 0, sizeof c);
    size_t pos = 0, avail = step ? 0 : len;
    hp_status st = HP_MORE;
    *olen = 0;
    while (st == HP_MORE) {
        if (pos == avail) {
            if (avail == len)
                break;
            avail = avail + step > len ? len : avail + step;
        }
        size_t u, d, dl;
        st = hp_chunk_feed(&c, in + pos, avail - pos, &u, &d, &dl);
        P_ASSERT(u <= avail - pos, "consumed %zu of %zu", u, avail - pos);
        P_ASSERT(dl == 0 || (d + dl <= u), "data span [%zu,+%zu) outside consumed %zu", d, dl, u);
        P_ASSERT(st != HP_EBAD || c.why != NULL, "error without reason");
        memcpy(out + *olen, in + pos + d, dl);
        *olen += dl;
        pos += u;
        if (st == HP_MORE && u == 0 && pos < avail)
            P_ASSERT(0, "no progress at %zu", pos);
    }
    *used = pos;
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 16) + 1;
    data++;
    size--;

    /* 1. header block end: incremental == one shot */
    char *b = dup_exact(data, size);
    size_t scan = 0, end = hp_head_end(b, size, &scan);
    size_t scan2 = 0, end2 = 0;
    for (size_t l = 0; l <= size && end2 == 0; l = l + step > size && l < size ? size : l + step)
        end2 = hp_head_end(b, l, &scan2);
    P_ASSERT(end == end2, "one shot %zu, in steps of %zu: %zu", end, step, end2);
    P_ASSERT(end <= size, "end %zu past %zu", end, size);

    /* 2. the head */
    if (end > 0 && end <= HP_HEAD_MAX) {
        hp_head h;
        hp_status st = hp_head_parse(b, end, &h);
        if (st == HP_OK) {
            check_head(b, end, &h);
            /* 3. a chunked body: split-invariant */
            if (h.body == HP_BODY_CHUNKED) {
                char *in = dup_exact(data + end, size - end);
                char *o1 = malloc(size + 1), *o2 = malloc(size + 1);
                size_t l1, l2, u1, u2;
                hp_status s1 = dechunk(in, size - end, 0, o1, &l1, &u1);
                hp_status s2 = dechunk(in, size - end, 1, o2, &l2, &u2);
                P_ASSERT(s1 == s2, "status %d at once, %d byte by byte", s1, s2);
                if (s1 != HP_EBAD) {
                    P_ASSERT(l1 == l2 && memcmp(o1, o2, l1) == 0, "body differs: %zu vs %zu", l1, l2);
                    P_ASSERT(u1 == u2, "consumed %zu vs %zu", u1, u2);
                }
                free(in);
                free(o1);
                free(o2);
            }
        } else {
            P_ASSERT(st != HP_MORE, "HP_MORE for a complete block");
            int code = hp_status_code(st);
            P_ASSERT(code == 400 || code == 431 || code == 501 || code == 505, "code %d", code);
            P_ASSERT(h.why != NULL && h.why[0], "no reason");
        }
    }
    free(b);

    /* 4. a response head with a field from the input: no splitting */
    size_t half = size / 2;
    char *name = malloc(half + 1), *value = malloc(size - half + 1);
    memcpy(name, data, half);
    name[half] = '\0';
    memcpy(value, data + half, size - half);
    value[size - half] = '\0';
    const char *names[] = {name}, *values[] = {value};
    char out[2048];
    int n = hp_render_head(out, sizeof out, 200, "D", "t", 1, names, values, 1, false, false);
    if (n > 0) {
        P_ASSERT((size_t)n < sizeof out && out[n] == '\0', "length");
        P_ASSERT(n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0, "head end");
        for (int i = 0; i < n; i++) {
            if (out[i] == '\r')
                P_ASSERT(i + 1 < n && out[i + 1] == '\n', "bare CR at %d", i);
            if (out[i] == '\n')
                P_ASSERT(i > 0 && out[i - 1] == '\r', "bare LF at %d", i);
            P_ASSERT(out[i] != '\0', "NUL at %d", i);
        }
        P_ASSERT(strstr(out, "\r\n\r\n") == out + n - 4, "an empty line inside the head");
    }
    free(name);
    free(value);
    return 0;
}
