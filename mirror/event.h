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
 * bump the format (type) instead of adding fields silently.
 */
#ifndef MIRROR_EVENT_H
#define MIRROR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"
#include "order/order.h"

typedef enum {
    MEV_OK = 0,
    MEV_EMPTY,          /* no value (tombstone or empty payload) */
    MEV_BAD_JSON,       /* not JSON, or duplicate keys */
    MEV_NOT_OBJECT,
    MEV_UNKNOWN_FIELD,  /* a key that is not an order field */
    MEV_INVALID,        /* missing field, wrong type, out of range */
    MEV_BAD_KEY,        /* Kafka key present and != merchant_id */
    MEV_BAD_TYPE        /* "type" header present and != "order" */
} mev_res;

const char *mev_res_name(mev_res r);

/*
 * Decode one message. key/type may be NULL (absent). On MEV_OK *out holds
 * the order; otherwise reason (cap bytes) says what was wrong.
 */
mev_res mev_decode(const char *val, size_t len, const char *key, size_t keylen, const char *type,
                   order_t *out, char *reason, size_t cap) SK_WUR;

/*
 * The version guard: does an incoming change of `incoming` version replace
 * the stored row? have_stored=false: no row yet -> yes. Equal or older
 * versions never win (a repeat or a late, out-of-order event).
 * The SQL upsert in mirror/consumer_io.c implements exactly this rule.
 */
bool mev_newer(bool have_stored, int64_t stored_version, int64_t incoming);

/*
 * Parallel apply (mirror/consumer_io.c): every partition is served by one
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
