/*
 * listing/listing.h — GET /v1/merchants/{merchant_id}/orders (spec §4): the
 * I/O side of the merchant listing (the pure part is listing/mlist.h).
 */
#ifndef LISTING_H
#define LISTING_H

#include "rpc/http.h"
#include "rpc/route.h"
#include "runtime/runtime.h"

/* Answer one listing request: from the merchant store, or scattered over
 * the groups (?source=groups, or when the store does not answer). */
void listing_merchant_orders(const rt *r, const route_target *t, http_resp *rs, const char *merchant_id);

#endif
