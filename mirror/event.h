/*
 * mirror/event.h — the order-change event on the Kafka topic, pure part:
 * decode + validate, the version-guard decision, and lag statistics.
 *
 * Wire format (see docs/mirror.md): key = merchant_id; value = the order
 * object of spec §4 exactly as the outbox row stores it (ord_to_json), whose
 * `version` orders the changes of one order and whose `updated_at` is the
 * commit time of the change in its group. Header "type" = "order" (optional;
 * any other type is dead-lettered).
 *
 * Strict decoding: every field must be present and valid, and a key that is
 * not an order field makes the event bad (dead letter): a newer writer must
 * bump the format (type) instead of adding fields silently. `group` must be
 * the group stamped in `order_no` (an order never changes group). The
 * reason text is valid UTF-8 (it is stored in a utf8mb4 column).
 */
#ifndef MIRROR_EVENT_H
#define MIRROR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"
#include "auth/evsig.h"
#include "order/order.h"

typedef enum {
    MEV_OK = 0,
    MEV_EMPTY,          /* no value (tombstone or empty payload) */
    MEV_BAD_JSON,       /* not JSON, or duplicate keys */
    MEV_NOT_OBJECT,
    MEV_UNKNOWN_FIELD,  /* a key that is not an order field */
    MEV_INVALID,        /* missing field, wrong type, out of range */
    MEV_BAD_KEY,        /* Kafka key present and != merchant_id */
    MEV_BAD_TYPE,       /* "type" header present and != "order" */
    MEV_BAD_HMAC,       /* skip-hmac header missing, malformed or not verifying */
    MEV_MOVED           /* the stored order belongs to another merchant or group */
} mev_res;

const char *mev_res_name(mev_res r);

/*
 * Decode one message. key/type may be NULL (absent). On MEV_OK *out holds
 * the order; otherwise reason (cap bytes) says what was wrong.
 */
mev_res mev_decode(const char *val, size_t len, const char *key, size_t keylen, const char *type,
                   order_t *out, char *reason, size_t cap) SK_WUR;

/*
 * The event's HMAC (auth/evsig.h), checked before anything else is read
 * from the event: hdr/hdrlen is the last skip-hmac header (hdr NULL: none).
 * k NULL = no event key configured (auth.mode off only): MEV_OK. Otherwise
 * MEV_OK when it verifies with the current or the previous key, else
 * MEV_BAD_HMAC with the reason ("missing", "malformed", "does not verify").
 */
mev_res mev_check_hmac(const evsig_keys *k, const void *val, size_t len, const void *hdr, size_t hdrlen,
                       char *reason, size_t cap) SK_WUR;

/*
 * Ownership: an order never changes merchant or group, whatever version an
 * event claims. stored_merchant NULL = no stored row (and no earlier event
 * of this batch for the order): MEV_OK. Otherwise MEV_OK only when the
 * event's merchant_id (byte-exact) and group are the stored ones, else
 * MEV_MOVED with both owners in the reason.
 */
mev_res mev_check_owner(const order_t *o, const char *stored_merchant, int stored_group, char *reason,
                        size_t cap) SK_WUR;

/*
 * The version guard: does an incoming change of `incoming` version replace
 * the stored row? have_stored=false: no row yet -> yes. Equal or older
 * versions never win (a repeat or a late, out-of-order event).
 * The SQL upsert in mirror/consumer.c implements exactly this rule.
 */
bool mev_newer(bool have_stored, int64_t stored_version, int64_t incoming);

/*
 * Parallel apply (mirror/consumer.c): every partition is served by one
 * worker (own queue, own merchant-store connection), so its events are applied
 * in offset order; partition p goes to worker p mod nworkers.
 */
int mev_slot(int32_t partition, int nworkers);

/*
 * Flow control of one worker's bounded queue: should its partitions be paused
 * (no more fetching)? Pause when `queued` reaches `high` or while the merchant
 * store fails for it (db_failing); resume only at <= `low` and healthy
 * (hysteresis, so a full queue does not flap pause/resume per message).
 */
bool mev_want_pause(bool paused, int queued, int high, int low, bool db_failing);

/*
 * Poison-pill isolation (mirror/consumer.c drives it; docs/mirror.md).
 *
 * A worker applies a batch of n events, in offset order, as one transaction.
 * If the merchant store rejects it for a reason that belongs to one row
 * (MEV_APPLY_ROW: out-of-range value, bad string, ...), mev_isolate splits
 * the range in halves, left half first, each half its own transaction, down
 * to single events; a single rejected event is escalated with
 * set_level(ctx, i, level) and applied again:
 *   MEV_LVL_DEAD     1  as a dead letter (raw bytes and metadata),
 *   MEV_LVL_MINIMAL  2  as a dead letter without key/payload (metadata, reason),
 *   MEV_LVL_SKIP     3  not written at all: the driver logs it (key + payload)
 *                       and counts it; the partition moves on.
 * Good events still apply, in order, and only the bad ones are set aside. A
 * store-level failure (connection, timeout, deadlock, read-only, missing
 * table, ...: MEV_APPLY_FAIL) stops at once and is returned: the driver keeps
 * the whole batch and retries it later — what was committed before is
 * re-applied as a no-op (version guard; dead letters are unique per message).
 * Transactions: 1 without a bad event; about 2 k log2(n) + 1 with k of them.
 */
typedef enum { MEV_APPLY_OK = 0, MEV_APPLY_ROW, MEV_APPLY_FAIL } mev_apply;
enum { MEV_LVL_EVENT = 0, MEV_LVL_DEAD, MEV_LVL_MINIMAL, MEV_LVL_SKIP };

typedef struct {
    mev_apply (*apply)(void *ctx, int from, int to);  /* [from, to) in one transaction */
    void (*set_level)(void *ctx, int i, int level);
    void *ctx;
} mev_isolator;

mev_apply mev_isolate(const mev_isolator *iso, int n);

/*
 * MariaDB error numbers that reject one row's values (strict mode): the
 * event is bad, the store is fine. Anything else is the store's problem.
 */
bool mev_row_error(unsigned mysql_errno);

/* Commit->apply lag samples over a reporting interval (bounded reservoir). */
#define MLAG_CAP 8192
typedef struct {
    int64_t v[MLAG_CAP];
    int n;              /* samples kept (<= MLAG_CAP) */
    int64_t seen;       /* samples offered */
    int64_t max;
    uint64_t rnd;       /* reservoir sampling state */
} mlag;

void mlag_reset(mlag *l);
void mlag_add(mlag *l, int64_t lag_ms);
/* p in [0,1]; -1 when empty. Sorts in place. */
int64_t mlag_pct(mlag *l, double p);

#endif
