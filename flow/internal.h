/* flow/internal.h — helpers shared by the flow/ files; not for other modules. */
#ifndef FLOW_INTERNAL_H
#define FLOW_INTERNAL_H

#include "flow/flow.h"

/* Read one order of `group` (already routed). replica_first: try the
 * replica, fall back to the primary on a miss or error (read-your-writes).
 * SK_OK (*from = "replica"/"primary"), SK_ENOT_FOUND, SK_EGROUP_UNAVAILABLE
 * or SK_EOVERLOADED. Bounded by the read timeout. */
sk_status flow_read_order(app *a, const rt *r, int group, const char *order_no, bool replica_first, order_t *o,
                          const char **from);

#endif
