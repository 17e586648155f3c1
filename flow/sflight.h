/*
 * flow/sflight.h — single flight: concurrent creates with the same
 * idempotency key on one daemon share one attempt.
 *
 * The first request for a key leads: it runs the create (claim, insert) and
 * publishes the outcome — a status and the order it found or wrote. The
 * ones that arrive while it runs follow: they wait (holding no pool
 * connection and no Redis round trip) for that outcome and answer from it
 * (replay or 409, each against its own request). A storm of retries for one
 * out_trade_no therefore costs one claim and one insert, not one each —
 * and cannot starve a group's pool. Across daemons the Redis claim still
 * serialises the leaders.
 *
 * Memory: one entry per key in flight (at most one per request in flight);
 * an entry is dropped when its leader has finished and its last follower
 * has read the outcome.
 */
#ifndef FLOW_SFLIGHT_H
#define FLOW_SFLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include "common/sk.h"
#include "order/order.h"

typedef struct sflight sflight;
typedef struct sf_entry sf_entry;

sflight *sf_create(void);
void sf_destroy(sflight *s);

/* Join the flight for key. *leader: true if the caller must run the create
 * and call sf_finish; else it must call sf_wait. Never NULL (out of memory
 * aborts: an entry is a few hundred bytes). */
sf_entry *sf_join(sflight *s, const char *key, bool *leader);

/* Leader: publish the outcome (o may be NULL when there is no order) and
 * wake the followers. Drops the leader's reference. */
void sf_finish(sflight *s, sf_entry *e, sk_status st, const order_t *o);

/* Follower: wait for the outcome until deadline_mono_ms. true with *st and
 * *o (when *has_order) filled; false on timeout. Drops the reference. */
bool sf_wait(sflight *s, sf_entry *e, int64_t deadline_mono_ms, sk_status *st, order_t *o, bool *has_order);

/* Keys in flight now (metrics, tests). */
int sf_size(sflight *s);

#endif
