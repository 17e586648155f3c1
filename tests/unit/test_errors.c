/* tests/unit/test_errors.c — the one place sk_status meets HTTP (spec §4). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/errors.h"

static const struct { sk_status st; int http; const char *code; int retry; } cases[] = {
    {SK_EINVALID_JSON, 400, "INVALID_JSON", 0},
    {SK_EINVALID_ARGUMENT, 400, "INVALID_ARGUMENT", 0},
    {SK_EUNKNOWN_FIELD, 400, "UNKNOWN_FIELD", 0},
    {SK_EBAD_ORDER_NO, 400, "BAD_ORDER_NO", 0},
    {SK_EUNAUTHENTICATED, 401, "UNAUTHENTICATED", 0},
    {SK_ESIGNATURE_INVALID, 401, "SIGNATURE_INVALID", 0},
    {SK_EREQUEST_EXPIRED, 401, "REQUEST_EXPIRED", 0},
    {SK_EREPLAYED, 401, "REPLAYED", 0},
    {SK_EFORBIDDEN, 403, "FORBIDDEN", 0},
    {SK_ETERMINAL_NOT_ACTIVE, 403, "TERMINAL_NOT_ACTIVE", 0},
    {SK_ETERMINAL_BLOCKED, 403, "TERMINAL_BLOCKED", 0},
    {SK_ETERMINAL_MISMATCH, 403, "TERMINAL_MISMATCH", 0},
    {SK_EACTIVATION_FAILED, 403, "ACTIVATION_FAILED", 0},
    {SK_EREFUND_NOT_ALLOWED, 403, "REFUND_NOT_ALLOWED", 0},
    {SK_ENOT_FOUND, 404, "NOT_FOUND", 0},
    {SK_EMETHOD, 405, "METHOD_NOT_ALLOWED", 0},
    {SK_EDUPLICATE, 409, "DUPLICATE_OUT_TRADE_NO", 0},
    {SK_EVERSION_CONFLICT, 409, "VERSION_CONFLICT", 0},
    {SK_EALREADY_PAID, 409, "ALREADY_PAID", 0},
    {SK_EORDER_CLOSED, 409, "ORDER_CLOSED", 0},
    {SK_EORDER_EXPIRED, 409, "ORDER_EXPIRED", 0},
    {SK_EILLEGAL_TRANSITION, 409, "ILLEGAL_TRANSITION", 0},
    {SK_EAMOUNT_MISMATCH, 409, "AMOUNT_MISMATCH", 0},
    {SK_EREFUND_EXCEEDS, 409, "REFUND_EXCEEDS_PAID", 0},
    {SK_ETOO_LARGE, 413, "PAYLOAD_TOO_LARGE", 0},
    {SK_ENO_WRITABLE_GROUP, 503, "NO_WRITABLE_GROUP", 1},
    {SK_EGROUP_UNAVAILABLE, 503, "GROUP_UNAVAILABLE", 1},
    {SK_EOVERLOADED, 503, "OVERLOADED", 1},
    /* infrastructure outcomes never leak raw: they are an unavailable group */
    {SK_ETIMEDOUT, 503, "GROUP_UNAVAILABLE", 1},
    {SK_EREADONLY, 503, "GROUP_UNAVAILABLE", 1},
    {SK_ECONNECT, 503, "GROUP_UNAVAILABLE", 1},
    {SK_EDB, 500, "INTERNAL", 0},
    {SK_EINTERNAL, 500, "INTERNAL", 0},
    {SK_ENOMEM, 500, "INTERNAL", 0},
    /* internal signals of the claim: never shown, but never a 2xx either */
    {SK_EHELD, 500, "INTERNAL", 0},
    {SK_EUNAVAILABLE, 500, "INTERNAL", 0},
};

START_TEST(every_status_maps)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(sk_http_status(cases[i].st), cases[i].http);
        ck_assert_str_eq(sk_error_code(cases[i].st), cases[i].code);
        ck_assert_int_eq(sk_retry_after(cases[i].st) > 0, cases[i].retry);
    }
    ck_assert_int_eq(sk_http_status(SK_OK), 200);
}
END_TEST

START_TEST(every_status_has_a_name)
{
    for (int s = 0; s < SK_STATUS_MAX; s++)
        ck_assert_str_ne(sk_status_name((sk_status)s), "SK_UNKNOWN");
    ck_assert_str_eq(sk_status_name(SK_STATUS_MAX), "SK_UNKNOWN");
    ck_assert_str_eq(sk_status_name((sk_status)-1), "SK_UNKNOWN");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, every_status_maps);
    tcase_add_test(tc, every_status_has_a_name);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int f = srunner_ntests_failed(sr);
    srunner_free(sr);
    return f ? EXIT_FAILURE : EXIT_SUCCESS;
}
