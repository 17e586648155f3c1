/*
 * fuzz/fuzz_ono.c — the order-number parser (order/ono.c), the first thing
 * every /v1/orders/{no} request meets.
 *
 * Properties: a number that parses re-encodes to exactly the same 25 bytes
 * (one text per order, nothing accepted that the generator would not make);
 * its fields are in range; a rejection always says why; the parser reads
 * only the len bytes it is given (ASan: the copy is exact-size).
 */
#include "fuzz/fuzz.h"
#include "order/ono.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fz_dup(data, size);
    ono_fields f;
    const char *why = (const char *)1;
    sk_status st = ono_parse(s, size, &f, &why);
    if (st == SK_OK) {
        FZ_ASSERT(why == NULL, "reason set on success");
        FZ_ASSERT(size == ONO_LEN, "accepted %zu bytes", size);
        FZ_ASSERT(f.node >= 0 && f.node <= ONO_MAX_NODE && f.seq >= 0 && f.seq <= ONO_MAX_SEQ &&
                      f.group >= 1 && f.group <= 99, "fields out of range");
        char again[ONO_LEN + 1];
        FZ_ASSERT(ono_format(&f, again) == 0, "parsed fields do not format");
        FZ_ASSERT(memcmp(again, s, ONO_LEN) == 0, "re-encodes to %s", again);
        char t[21];
        ono_rfc3339(f.epoch_s, t);
        FZ_ASSERT(strlen(t) == 20 && memcmp(t, s, 4) == 0, "rfc3339 %s", t);
    } else {
        FZ_ASSERT(st == SK_EBAD_ORDER_NO, "status %d", (int)st);
        FZ_ASSERT(why != NULL && why != (const char *)1 && *why != '\0', "no reason");
    }
    /* the check digit alone: any prefix of digits has one, anything else -1 */
    int l = ono_luhn(s, size < 24 ? size : 24);
    FZ_ASSERT(l >= -1 && l <= 9, "luhn %d", l);
    free(s);
    return 0;
}
