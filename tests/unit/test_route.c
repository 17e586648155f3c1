/* tests/unit/test_route.c — the request-target parser and router (pure):
 * strict percent-decoding (control bytes and %00 are 400, never a cut
 * route), query parameters, and every route x method. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/route.h"

static route_target T;

static sk_status parse(const char *s)
{
    const char *why;
    return route_parse(s, &T, &why);
}

START_TEST(paths_decode_strictly)
{
    ck_assert_int_eq(parse("/v1/orders/2026112601102600100000032"), SK_OK);
    ck_assert_int_eq(T.nseg, 3);
    ck_assert_str_eq(T.seg[2], "2026112601102600100000032");
    ck_assert_int_eq(parse("/v1/merchants/m%5F1/orders"), SK_OK);
    ck_assert_str_eq(T.seg[2], "m_1");
    /* an encoded slash stays inside its segment */
    ck_assert_int_eq(parse("/v1/merchants/a%2Fb/orders"), SK_OK);
    ck_assert_int_eq(T.nseg, 4);
    ck_assert_str_eq(T.seg[2], "a/b");
    /* %00 and every control byte: 400, whatever follows */
    static const char *const bad400[] = {"/v1/orders/123%00/pay", "/v1/orders/%0a", "/v1/orders/%7F",
                                          "/v1/orders/%1f", "/v1/orders/%", "/v1/orders/%4", "/v1/orders/%zz",
                                          "/v1/orders/%g0", "/v1/orders/a\tb", "/v1/groups?x=%00",
                                          "/v1/groups?x=%", "/v1/groups?%01=1"};
    for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++)
        ck_assert_msg(parse(bad400[i]) == SK_EINVALID_ARGUMENT, "accepted %s", bad400[i]);
    /* not ours: 404 */
    ck_assert_int_eq(parse(""), SK_ENOT_FOUND);
    ck_assert_int_eq(parse("v1/orders"), SK_ENOT_FOUND);
    ck_assert_int_eq(parse("*"), SK_ENOT_FOUND);
    ck_assert_int_eq(parse("/a/b/c/d/e/f/g/h/i"), SK_ENOT_FOUND);
    char *longt = malloc(ROUTE_TARGET_MAX + 10);
    memset(longt, 'a', ROUTE_TARGET_MAX + 9);
    longt[0] = '/';
    longt[ROUTE_TARGET_MAX + 9] = '\0';
    ck_assert_int_eq(parse(longt), SK_ENOT_FOUND);
    free(longt);
    ck_assert_int_eq(parse("/"), SK_OK);
    ck_assert_int_eq(T.nseg, 0);
    ck_assert_int_eq(parse("/v1/orders/"), SK_OK); /* trailing slash: an empty segment */
    ck_assert_int_eq(T.nseg, 3);
    ck_assert_str_eq(T.seg[2], "");
}
END_TEST

START_TEST(query_parameters)
{
    ck_assert_int_eq(parse("/v1/merchants/m1/orders?limit=5&status=PAID&cursor=abc%3D&since=a+b&empty&x="), SK_OK);
    ck_assert_str_eq(route_query(&T, "limit"), "5");
    ck_assert_str_eq(route_query(&T, "status"), "PAID");
    ck_assert_str_eq(route_query(&T, "cursor"), "abc=");
    ck_assert_str_eq(route_query(&T, "since"), "a b");
    ck_assert_str_eq(route_query(&T, "empty"), "");
    ck_assert_str_eq(route_query(&T, "x"), "");
    ck_assert_ptr_null(route_query(&T, "until"));
    ck_assert_int_eq(parse("/v1/groups?a=1&a=2"), SK_EINVALID_ARGUMENT); /* duplicates are ambiguous */
    ck_assert_int_eq(parse("/v1/groups?&&a=1&&"), SK_OK);
    ck_assert_int_eq(T.nq, 1);
    char q[512] = "/v1/groups?";
    for (int i = 0; i < ROUTE_PARAMS_MAX + 1; i++) {
        char p[24];
        snprintf(p, sizeof p, "k%d=1&", i);
        strcat(q, p);
    }
    ck_assert_int_eq(parse(q), SK_EINVALID_ARGUMENT);
}
END_TEST

START_TEST(routes_and_methods)
{
    static const struct {
        const char *method, *target;
        met_route route;
        bool ok;
        const char *id;
    } cases[] = {
        {"POST", "/v1/orders", RT_CREATE, true, NULL},
        {"GET", "/v1/orders", RT_CREATE, false, NULL},
        {"GET", "/v1/orders/N1", RT_GET, true, "N1"},
        {"POST", "/v1/orders/N1", RT_GET, false, "N1"},
        {"POST", "/v1/orders/N1/pay", RT_PAY, true, "N1"},
        {"POST", "/v1/orders/N1/close", RT_CLOSE, true, "N1"},
        {"POST", "/v1/orders/N1/refunds", RT_REFUND, true, "N1"},
        {"GET", "/v1/orders/N1/refunds", RT_REFUND_LIST, true, "N1"},
        {"PUT", "/v1/orders/N1/refunds", RT_REFUND, false, "N1"},
        {"GET", "/v1/merchants/m1/orders", RT_MERCHANT_ORDERS, true, "m1"},
        {"GET", "/v1/groups", RT_GROUPS, true, NULL},
        {"POST", "/v1/groups/2/fence", RT_FENCE, true, "2"},
        {"POST", "/v1/groups/2/unfence", RT_UNFENCE, true, "2"},
        {"POST", "/v1/admin/reload", RT_RELOAD, true, NULL},
        {"POST", "/v1/terminals", RT_TERMINAL_REGISTER, true, NULL},
        {"GET", "/v1/terminals", RT_TERMINAL_REGISTER, false, NULL},
        {"GET", "/v1/terminals/T-1", RT_TERMINAL_GET, true, "T-1"},
        {"POST", "/v1/terminals/T-1", RT_TERMINAL_GET, false, "T-1"},
        {"POST", "/v1/terminals/T-1/activate", RT_TERMINAL_ACTIVATE, true, "T-1"},
        {"POST", "/v1/terminals/T-1/block", RT_TERMINAL_BLOCK, true, "T-1"},
        {"POST", "/v1/terminals/T-1/unblock", RT_TERMINAL_UNBLOCK, true, "T-1"},
        {"POST", "/v1/terminals/T-1/code", RT_TERMINAL_CODE, true, "T-1"},
        {"POST", "/v1/terminals/T-1/retire", RT_TERMINAL_RETIRE, true, "T-1"},
        {"GET", "/v1/terminals/T-1/block", RT_TERMINAL_BLOCK, false, "T-1"},
        {"POST", "/v1/terminals/T-1/delete", RT_OTHER, false, NULL},
        {"POST", "/v1/terminals/T-1/block/x", RT_OTHER, false, NULL},
        {"GET", "/v1/merchants/m1/terminals", RT_MERCHANT_TERMINALS, true, "m1"},
        {"POST", "/v1/merchants/m1/terminals", RT_MERCHANT_TERMINALS, false, "m1"},
        {"GET", "/v1/audit-events", RT_AUDIT_EVENTS, true, NULL},
        {"POST", "/v1/audit-events", RT_AUDIT_EVENTS, false, NULL},
        {"GET", "/healthz", RT_HEALTHZ, true, NULL},
        {"HEAD", "/healthz", RT_HEALTHZ, true, NULL},
        {"GET", "/readyz", RT_READYZ, true, NULL},
        {"GET", "/metrics", RT_METRICS, true, NULL},
        {"HEAD", "/metrics", RT_METRICS, false, NULL},
        {"HEAD", "/v1/groups", RT_GROUPS, false, NULL},
        {"GET", "/v1/orders/N1/pay/x", RT_OTHER, false, NULL},
        {"GET", "/v2/orders", RT_OTHER, false, NULL},
        {"GET", "/v1/groups/2", RT_OTHER, false, NULL},
        {"GET", "/healthz/x", RT_OTHER, false, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(parse(cases[i].target), SK_OK);
        route_match_t m = route_match(&T, cases[i].method);
        ck_assert_msg(m.route == cases[i].route, "%s %s", cases[i].method, cases[i].target);
        if (m.route == RT_OTHER)
            continue;
        ck_assert_msg(m.method_ok == cases[i].ok, "%s %s", cases[i].method, cases[i].target);
        if (cases[i].id)
            ck_assert_str_eq(m.id, cases[i].id);
        else
            ck_assert_ptr_null(m.id);
    }
    ck_assert(route_is_open(RT_HEALTHZ) && route_is_open(RT_READYZ) && route_is_open(RT_METRICS));
    ck_assert(!route_is_open(RT_GROUPS) && !route_is_open(RT_CREATE));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, paths_decode_strictly);
    tcase_add_test(tc, query_parameters);
    tcase_add_test(tc, routes_and_methods);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
