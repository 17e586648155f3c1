/* rpc/errors.h — the one place sk_status maps to HTTP status and error code. */
#ifndef RPC_ERRORS_H
#define RPC_ERRORS_H

#include "common/sk.h"

int sk_http_status(sk_status s);
/* Spec §4 error code, e.g. "NO_WRITABLE_GROUP". Internal statuses map to
 * INTERNAL (500) or GROUP_UNAVAILABLE (503) as appropriate. */
const char *sk_error_code(sk_status s);
/* Retry-After seconds for the status, or 0 for none. */
int sk_retry_after(sk_status s);

#endif
