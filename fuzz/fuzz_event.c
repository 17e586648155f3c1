/*
 * fuzz/fuzz_event.c — the Kafka event decoder (mirror/event.c mev_decode),
 * fed what a producer can put on the topic: any value bytes, any key, any
 * "type" header.
 *
 * Input framing: byte 0 = flags (bit 0: a key is present, bit 1: a type
 * header is present); then, for each present one, a length byte and that
 * many bytes (key, then type); the rest is the message value.
 *
 * Properties: the result is a known mev_res; the reason (stored in
 * dead_letters.reason, a utf8mb4 column) is non-empty, NUL-terminated, valid
 * UTF-8 and at most 255 bytes; an accepted event's order renders back to
 * JSON that decodes to the same order (the mirror row is a function of the
 * event), its key matches merchant_id, its group is the one stamped in its
 * order number.
 */
#include "fuzz/fuzz.h"
#include "mirror/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t p = 1;
    char *key = NULL, *type = NULL;
    size_t keylen = 0;
    if (flags & 1) {
        if (p >= size)
            return 0;
        keylen = data[p++];
        if (keylen > size - p)
            return 0;
        key = fz_dup(data + p, keylen);
        p += keylen;
    }
    if (flags & 2) {
        if (p >= size) {
            free(key);
            return 0;
        }
        size_t tl = data[p++];
        if (tl > size - p) {
            free(key);
            return 0;
        }
        type = fz_strdup(data + p, tl);
        p += tl;
    }
    size_t vlen = size - p;
    char *val = fz_dup(data + p, vlen);
    order_t o;
    char reason[256];
    memset(reason, 'x', sizeof reason);
    mev_res r = mev_decode(val, vlen, key, keylen, type, &o, reason, sizeof reason);
    FZ_ASSERT(r >= MEV_OK && r <= MEV_BAD_TYPE && strcmp(mev_res_name(r), "?") != 0, "result %d", (int)r);
    if (r != MEV_OK) {
        FZ_ASSERT_TEXT(reason);
        FZ_ASSERT(reason[0] != '\0', "no reason");
    } else {
        if (key != NULL)
            FZ_ASSERT(keylen == strlen(o.merchant_id) && memcmp(key, o.merchant_id, keylen) == 0, "key");
        ono_fields f;
        FZ_ASSERT(ono_parse(o.order_no, strlen(o.order_no), &f, NULL) == SK_OK, "order_no");
        FZ_ASSERT(f.group == o.group, "group %d vs stamped %d", o.group, f.group);
        FZ_ASSERT(o.refunded_amount >= 0 && o.refunded_amount <= o.amount && o.version >= 1, "amounts");
        json_t *j = ord_to_json(&o);
        FZ_ASSERT(j != NULL, "accepted order does not render");
        char *t = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        FZ_ASSERT(t != NULL, "dump");
        order_t o2;
        char r2[256];
        mev_res rr = mev_decode(t, strlen(t), o.merchant_id, strlen(o.merchant_id), "order", &o2, r2, sizeof r2);
        FZ_ASSERT(rr == MEV_OK, "re-decode: %s: %s", r2, t);
        FZ_ASSERT(memcmp(&o, &o2, sizeof o) == 0, "round trip differs: %s", t);
        free(t);
    }
    free(val);
    free(key);
    free(type);
    return 0;
}
