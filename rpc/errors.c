/* rpc/errors.c — sk_status -> HTTP status / error code (spec §4). */
#include "rpc/errors.h"

int sk_http_status(sk_status s)
{
    switch (s) {
    case SK_OK: return 200;
    case SK_EINVALID_JSON:
    case SK_EINVALID_ARGUMENT:
    case SK_EUNKNOWN_FIELD:
    case SK_EBAD_ORDER_NO: return 400;
    case SK_EUNAUTHENTICATED:
    case SK_ESIGNATURE_INVALID:
    case SK_EREQUEST_EXPIRED:
    case SK_EREPLAYED: return 401;
    case SK_EFORBIDDEN:
    case SK_ETERMINAL_NOT_ACTIVE:
    case SK_ETERMINAL_BLOCKED:
    case SK_ETERMINAL_MISMATCH:
    case SK_EACTIVATION_FAILED:
    case SK_EREFUND_NOT_ALLOWED: return 403;
    case SK_ENOT_FOUND: return 404;
    case SK_EMETHOD: return 405;
    case SK_EDUPLICATE:
    case SK_EVERSION_CONFLICT:
    case SK_EALREADY_PAID:
    case SK_EORDER_CLOSED:
    case SK_EORDER_EXPIRED:
    case SK_EILLEGAL_TRANSITION:
    case SK_EAMOUNT_MISMATCH:
    case SK_EREFUND_EXCEEDS: return 409;
    case SK_ETOO_LARGE: return 413;
    case SK_ENO_WRITABLE_GROUP:
    case SK_EGROUP_UNAVAILABLE:
    case SK_EOVERLOADED:
    case SK_ETIMEDOUT:
    case SK_EREADONLY:
    case SK_ECONNECT: return 503;
    default: return 500;
    }
}

const char *sk_error_code(sk_status s)
{
    switch (s) {
    case SK_EINVALID_JSON: return "INVALID_JSON";
    case SK_EINVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case SK_EUNKNOWN_FIELD: return "UNKNOWN_FIELD";
    case SK_EBAD_ORDER_NO: return "BAD_ORDER_NO";
    case SK_EUNAUTHENTICATED: return "UNAUTHENTICATED";
    case SK_ESIGNATURE_INVALID: return "SIGNATURE_INVALID";
    case SK_EREQUEST_EXPIRED: return "REQUEST_EXPIRED";
    case SK_EREPLAYED: return "REPLAYED";
    case SK_EFORBIDDEN: return "FORBIDDEN";
    case SK_ETERMINAL_NOT_ACTIVE: return "TERMINAL_NOT_ACTIVE";
    case SK_ETERMINAL_BLOCKED: return "TERMINAL_BLOCKED";
    case SK_ETERMINAL_MISMATCH: return "TERMINAL_MISMATCH";
    case SK_EACTIVATION_FAILED: return "ACTIVATION_FAILED";
    case SK_EREFUND_NOT_ALLOWED: return "REFUND_NOT_ALLOWED";
    case SK_ENOT_FOUND: return "NOT_FOUND";
    case SK_EMETHOD: return "METHOD_NOT_ALLOWED";
    case SK_EDUPLICATE: return "DUPLICATE_OUT_TRADE_NO";
    case SK_EVERSION_CONFLICT: return "VERSION_CONFLICT";
    case SK_EALREADY_PAID: return "ALREADY_PAID";
    case SK_EORDER_CLOSED: return "ORDER_CLOSED";
    case SK_EORDER_EXPIRED: return "ORDER_EXPIRED";
    case SK_EILLEGAL_TRANSITION: return "ILLEGAL_TRANSITION";
    case SK_EAMOUNT_MISMATCH: return "AMOUNT_MISMATCH";
    case SK_EREFUND_EXCEEDS: return "REFUND_EXCEEDS_PAID";
    case SK_ETOO_LARGE: return "PAYLOAD_TOO_LARGE";
    case SK_ENO_WRITABLE_GROUP: return "NO_WRITABLE_GROUP";
    case SK_EGROUP_UNAVAILABLE:
    case SK_ETIMEDOUT:
    case SK_EREADONLY:
    case SK_ECONNECT: return "GROUP_UNAVAILABLE";
    case SK_EOVERLOADED: return "OVERLOADED";
    default: return "INTERNAL";
    }
}

int sk_retry_after(sk_status s)
{
    return sk_http_status(s) == 503 ? 1 : 0;
}
