/*
 * audit/audit.h — the audit trail (spec §11): every refund, terminal change,
 * fence/unfence and reload, with the caller's key id.
 *
 * audit_record() is called on the request path: it writes one structured
 * log line and puts a copy of the event on a bounded in-memory queue, and
 * never waits for I/O — recording can neither fail nor delay a payment.
 * One writer thread drains the queue into the merchant store's audit_events
 * table in batches (INSERT IGNORE by a unique event_id, so a retry after an
 * unknown outcome records nothing twice). While the merchant store is down
 * the events wait and are written when it returns; a full queue
 * (audit.queue_max) drops new events, counted in
 * skipstore_audit_dropped_total and logged (the log line is written anyway).
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <jansson.h>
#include "runtime/runtime.h"

typedef struct audit audit;

typedef struct {
    const char *key_id;       /* the caller's key id; "signal:SIGHUP" for a local reload; "-" while auth is off */
    const char *role;         /* NULL: none */
    const char *action;       /* refund, refund_denied, terminal_register, terminal_activate, ..., fence, reload */
    const char *target;       /* order_no, terminal_id, group id; NULL: none */
    const char *merchant_id;  /* NULL: none */
    const char *result;       /* "ok" or the answer's error code */
    json_t *detail;           /* borrowed; NULL: none */
} audit_event;

/* Start the writer (NULL on out of memory). node_id goes into event ids. */
audit *audit_start(rtref *rt, int node_id);

/* Record one event (thread-safe, no I/O but the log line). a may be NULL. */
void audit_record(audit *a, const audit_event *ev);

/* Stop the writer after trying for up to 2 s to write what is queued;
 * what is left is dropped and logged with its count. */
void audit_stop(audit *a);

#endif
