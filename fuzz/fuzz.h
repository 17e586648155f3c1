/*
 * fuzz/fuzz.h — what every libFuzzer harness shares (fuzz/README.md).
 *
 * A harness is one file fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput and
 * registered with skip_fuzzer(NAME) in CMakeLists.txt; its seeds live in
 * fuzz/corpus/NAME/, an optional dictionary in fuzz/NAME.dict. Harnesses
 * assert properties (round trips, bounds, valid UTF-8 in error text), not
 * only "does not crash": a failed FZ_ASSERT aborts, which libFuzzer reports
 * as a crash and saves the input.
 */
#ifndef SKIP_FUZZ_H
#define SKIP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(cond, ...)                                                        \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

/*
 * An exact-size heap copy of the input, NOT NUL-terminated: a parser that
 * reads past len hits ASan's redzone right after the last byte. (libFuzzer's
 * own buffer is exact-size too, but harnesses often split or shift it.)
 * Caller frees. Never NULL for n == 0 (malloc(1), nothing readable).
 */
static inline char *fz_dup(const uint8_t *p, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (b == NULL)
        abort();
    if (n)
        memcpy(b, p, n);
    return b;
}

/* Same, NUL-terminated (for APIs that take C strings). */
static inline char *fz_strdup(const uint8_t *p, size_t n)
{
    char *b = malloc(n + 1);
    if (b == NULL)
        abort();
    if (n)
        memcpy(b, p, n);
    b[n] = '\0';
    return b;
}

/* A C string field is NUL-terminated within its buffer and valid UTF-8. */
#define FZ_ASSERT_TEXT(buf)                                                          \
    do {                                                                             \
        size_t fz_l_ = strnlen((buf), sizeof(buf));                                  \
        FZ_ASSERT(fz_l_ < sizeof(buf), "%s not NUL-terminated", #buf);               \
        FZ_ASSERT(utf8_valid((buf), fz_l_), "%s not valid UTF-8", #buf);             \
    } while (0)

/*
 * Split input into at most max fields at a separator byte (the harness's own
 * framing); the last field takes the rest, separators included. Returns the
 * number of fields; field i is [start[i], start[i] + len[i]).
 */
static inline size_t fz_split(const uint8_t *p, size_t n, uint8_t sep, size_t max, const uint8_t **start,
                              size_t *len)
{
    size_t k = 0, s = 0;
    if (max == 0)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        if (k == max - 1) {
            start[k] = p + s;
            len[k++] = n - s;
            break;
        }
        if (i == n || p[i] == sep) {
            start[k] = p + s;
            len[k++] = i - s;
            s = i + 1;
        }
    }
    return k;
}

#endif
