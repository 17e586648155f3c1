/*
 * flow/claim.h — the idempotency claim of a create (spec §4, §6): one Redis
 * key per merchant_id+out_trade_no that names the order number being (or
 * already) written, so a repeated create finds the first one's order in
 * whichever group it went to.
 *
 * Key  skip:idem:<merchant_id>:<out_trade_no>
 * Value "<order_no>|<deadline_wall_ms>|<token>": the number about to be
 *       inserted, the wall-clock deadline of the request holding the claim,
 *       and the holder's daemon token. Kept CLAIM_TTL_MS (a day).
 *
 * take     SET NX before the first insert (one round trip on the normal path)
 * move     SET XX before an insert in another group (the create moved on), so
 *          the key always names the group where the order is or may be
 * release  compare-and-delete when the create gave up
 * takeover compare-and-set when the holder is certainly done (its deadline
 *          plus CLAIM_TAKEOVER_MARGIN_MS has passed) and wrote nothing under
 *          its number
 *
 * The rules that use these (wait for a live holder, replay a found order,
 * take over a dead one) are in flow/create.c. Claims are taken before any
 * pool connection and nothing here sleeps. Every call is one bounded Redis
 * round trip (kv timeouts); with Redis down they answer SK_EUNAVAILABLE and
 * the create goes on without a claim (the group's unique key still catches
 * a duplicate in the same group, and sel_pick sends a retry there).
 */
#ifndef FLOW_CLAIM_H
#define FLOW_CLAIM_H

#include <stdbool.h>
#include <stdint.h>
#include "common/sk.h"
#include "kv/kv.h"
#include "order/ono.h"

#define CLAIM_TTL_MS 86400000LL
#define CLAIM_TAKEOVER_MARGIN_MS 2000   /* longer than a DB call started before the deadline can still take
                                           (no insert starts after it: flow/create.c attempt) */
#define CLAIM_KEY_MAX 160
#define CLAIM_VAL_MAX 200

typedef struct {
    char raw[CLAIM_VAL_MAX];           /* the value as read (for compare-and-set) */
    bool valid;                        /* raw parsed */
    char order_no[ONO_LEN + 1];
    int64_t deadline_wall_ms;
} claim_holder;

/* Pure helpers. */
void claim_key(char out[CLAIM_KEY_MAX], const char *merchant_id, const char *out_trade_no);
void claim_value(char out[CLAIM_VAL_MAX], const char *order_no, int64_t deadline_wall_ms, const char *token);
/* Parse a stored value; h->valid false when it is not one of ours. */
void claim_parse(const char *raw, claim_holder *h);
/* Is the holder certainly finished (its request deadline + margin passed)?
 * An unparseable value counts as finished (garbage is replaced). */
bool claim_holder_gone(const claim_holder *h, int64_t now_wall_ms);

/* SK_OK: ours. SK_EHELD: someone else's (*h filled). SK_EUNAVAILABLE. */
sk_status claim_take(kv *k, const char *key, const char *val, claim_holder *h) SK_WUR;
/* claim_take behind a guard key, atomically and in one round trip (one
 * script): SET guard NX EX guard_ttl_s first; when the guard exists already
 * SK_EREPLAYED and nothing is taken. Else as claim_take (a held claim's
 * value comes back in the same round trip). */
sk_status claim_take_guarded(kv *k, const char *guard, int guard_ttl_s, const char *key, const char *val,
                             claim_holder *h) SK_WUR;
/* SK_OK: replaced h's value with val. SK_EHELD: it changed meanwhile. SK_EUNAVAILABLE. */
sk_status claim_takeover(kv *k, const char *key, const claim_holder *h, const char *val) SK_WUR;
/* Point our claim at a new value (SET XX). SK_OK or SK_EUNAVAILABLE. */
sk_status claim_move(kv *k, const char *key, const char *val);
/* Delete the claim if it still holds val. SK_OK or SK_EUNAVAILABLE. */
sk_status claim_release(kv *k, const char *key, const char *val);

#endif
