/*
 * tests/unit/test_tpolicy.c — the create and refund rules by terminal
 * (terminal/tpolicy.c) and activation codes (terminal/tcode.c).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "terminal/tcode.h"
#include "terminal/tpolicy.h"

static term_view T(const char *id, const char *m, const char *store, ts_status s)
{
    term_view t;
    memset(&t, 0, sizeof t);
    strcpy(t.terminal_id, id);
    strcpy(t.merchant_id, m);
    if (store) {
        strcpy(t.store_id, store);
        t.has_store = true;
    }
    t.status = s;
    return t;
}

START_TEST(create_rules)
{
    term_view act = T("t1", "m1", "s1", TS_ACTIVE), nostore = T("t2", "m1", NULL, TS_ACTIVE);
    term_view blk = T("t1", "m1", "s1", TS_BLOCKED), reg = T("t1", "m1", "s1", TS_REGISTERED);
    term_view lck = T("t1", "m1", "s1", TS_LOCKED), ret = T("t1", "m1", "s1", TS_RETIRED);
    term_view other = T("t1", "m2", "s1", TS_ACTIVE), otherblk = T("t1", "m2", "s1", TS_BLOCKED);
    struct {
        const term_view *t;
        const char *tid, *m, *store;
        sk_status want;
        const char *field;
    } c[] = {
        {&act, "t1", "m1", NULL, SK_OK, NULL},
        {&act, "t1", "m1", "s1", SK_OK, NULL},
        {&nostore, "t2", "m1", NULL, SK_OK, NULL},
        {NULL, NULL, "m1", NULL, SK_ETERMINAL_NOT_ACTIVE, "terminal_id"},
        {NULL, "t9", "m1", NULL, SK_ETERMINAL_NOT_ACTIVE, "terminal_id"},
        {&other, "t1", "m1", NULL, SK_ETERMINAL_MISMATCH, "terminal_id"},
        {&otherblk, "t1", "m1", NULL, SK_ETERMINAL_MISMATCH, "terminal_id"},  /* says nothing of m2's state */
        {&act, "t1", "m1", "s2", SK_ETERMINAL_MISMATCH, "store_id"},
        {&nostore, "t2", "m1", "s1", SK_ETERMINAL_MISMATCH, "store_id"},
        {&blk, "t1", "m1", NULL, SK_ETERMINAL_BLOCKED, "terminal_id"},
        {&blk, "t1", "m1", "s2", SK_ETERMINAL_MISMATCH, "store_id"},
        {&reg, "t1", "m1", NULL, SK_ETERMINAL_NOT_ACTIVE, "terminal_id"},
        {&lck, "t1", "m1", "s1", SK_ETERMINAL_NOT_ACTIVE, "terminal_id"},
        {&ret, "t1", "m1", "s1", SK_ETERMINAL_NOT_ACTIVE, "terminal_id"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tp_verdict v = tp_create(c[i].t, c[i].tid, c[i].m, c[i].store);
        ck_assert_msg(v.status == c[i].want, "case %zu: %s want %s", i, sk_status_name(v.status),
                      sk_status_name(c[i].want));
        if (c[i].field)
            ck_assert_str_eq(v.field, c[i].field);
        else
            ck_assert_ptr_null(v.field);
        ck_assert(v.status == SK_OK || v.message != NULL);
    }
}
END_TEST

/* 2026-03-01 00:00:00.000 in UTC+08:00 */
#define MIDNIGHT 1772294400000LL
#define DAY 86400000LL

START_TEST(refund_rules)
{
    char err[128];
    tz_zone *cn = tz_load("UTC+08:00", err, sizeof err);
    ck_assert_ptr_nonnull(cn);
    term_view act = T("t1", "m1", NULL, TS_ACTIVE), blk = T("t1", "m1", NULL, TS_BLOCKED);
    term_view act2 = T("t2", "m1", NULL, TS_ACTIVE), other = T("t1", "m2", NULL, TS_ACTIVE);
    struct {
        const char *name;
        tp_class who;
        const char *tid;
        const term_view *t;
        const char *order_tid;
        int64_t created, now;
        sk_status want;
        const char *field;
    } c[] = {
        {"same day same terminal", TP_CASHIER, "t1", &act, "t1", MIDNIGHT + 1000, MIDNIGHT + 5000, SK_OK, NULL},
        {"first and last ms of the local day", TP_CASHIER, "t1", &act, "t1", MIDNIGHT, MIDNIGHT + DAY - 1, SK_OK, NULL},
        {"taken 1 ms before local midnight", TP_CASHIER, "t1", &act, "t1", MIDNIGHT - 1, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "created_at"},
        {"yesterday", TP_CASHIER, "t1", &act, "t1", MIDNIGHT - DAY + 3600000, MIDNIGHT + 3600000, SK_EREFUND_NOT_ALLOWED, "created_at"},
        /* 16:00Z and 15:59Z are the same UTC day but not the same day in +08:00 */
        {"same UTC day, two local days", TP_CASHIER, "t1", &act, "t1", MIDNIGHT - 60000, MIDNIGHT + 60000, SK_EREFUND_NOT_ALLOWED, "created_at"},
        {"no terminal_id", TP_CASHIER, NULL, NULL, "t1", MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"unknown terminal", TP_CASHIER, "t9", NULL, "t1", MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"another terminal", TP_CASHIER, "t2", &act2, "t1", MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"order without terminal", TP_CASHIER, "t1", &act, NULL, MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"blocked terminal", TP_CASHIER, "t1", &blk, "t1", MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"another merchant's terminal", TP_CASHIER, "t1", &other, "t1", MIDNIGHT, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"terminal rule before the day rule", TP_CASHIER, "t2", &act2, "t1", MIDNIGHT - DAY, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "terminal_id"},
        {"backoffice yesterday", TP_BACKOFFICE, NULL, NULL, NULL, MIDNIGHT - DAY, MIDNIGHT, SK_OK, NULL},
        {"backoffice 365 days", TP_BACKOFFICE, NULL, NULL, "t1", MIDNIGHT - 365 * DAY, MIDNIGHT + DAY - 1, SK_OK, NULL},
        {"backoffice 366 days", TP_BACKOFFICE, NULL, NULL, "t1", MIDNIGHT - 365 * DAY - 1, MIDNIGHT, SK_EREFUND_NOT_ALLOWED, "created_at"},
        {"backoffice ignores terminals", TP_BACKOFFICE, "t2", &blk, "t1", MIDNIGHT, MIDNIGHT, SK_OK, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tp_refund_in in = {.who = c[i].who, .terminal_id = c[i].tid, .terminal = c[i].t, .order_merchant_id = "m1",
                           .order_terminal_id = c[i].order_tid, .order_created_ms = c[i].created,
                           .now_ms = c[i].now, .tz = cn, .max_age_days = 365};
        tp_verdict v = tp_refund(&in);
        ck_assert_msg(v.status == c[i].want, "%s: %s", c[i].name, sk_status_name(v.status));
        if (c[i].field)
            ck_assert_msg(v.field && strcmp(v.field, c[i].field) == 0, "%s: field %s", c[i].name, v.field);
    }
    /* the same instants in UTC: one day */
    tp_refund_in in = {.who = TP_CASHIER, .terminal_id = "t1", .terminal = &act, .order_merchant_id = "m1",
                       .order_terminal_id = "t1", .order_created_ms = MIDNIGHT - 60000, .now_ms = MIDNIGHT + 60000,
                       .tz = NULL, .max_age_days = 365};
    ck_assert_int_eq(tp_refund(&in).status, SK_OK);
    tz_free(cn);
}
END_TEST

START_TEST(activation_codes)
{
    char code[TCODE_LEN + 1], salt[TCODE_SALT_HEX + 1], h[TCODE_HASH_HEX + 1];
    char code2[TCODE_LEN + 1], salt2[TCODE_SALT_HEX + 1];
    ck_assert_int_eq(tcode_new(code, salt), 0);
    ck_assert_int_eq(tcode_new(code2, salt2), 0);
    ck_assert_int_eq((int)strlen(code), TCODE_LEN);
    ck_assert_str_ne(code, code2);
    ck_assert_str_ne(salt, salt2);
    for (int i = 0; i < TCODE_LEN; i++)
        ck_assert(strchr("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", code[i]) != NULL);
    ck_assert_int_eq(tcode_hash(salt, code, h), 0);
    ck_assert_int_eq((int)strlen(h), TCODE_HASH_HEX);
    ck_assert(strstr(h, code) == NULL);
    ck_assert(tcode_matches(salt, h, code));
    char lower[TCODE_LEN + 1];
    for (int i = 0; i <= TCODE_LEN; i++)
        lower[i] = code[i] >= 'A' && code[i] <= 'Z' ? (char)(code[i] + 32) : code[i];
    ck_assert(tcode_matches(salt, h, lower));           /* typed in lower case */
    ck_assert(!tcode_matches(salt2, h, code));          /* another salt */
    ck_assert(!tcode_matches(salt, h, code2));
    char near[TCODE_LEN + 1];
    strcpy(near, code);
    near[5] = near[5] == 'A' ? 'B' : 'A';
    ck_assert(!tcode_matches(salt, h, near));
    ck_assert(!tcode_matches(salt, NULL, code));        /* used: hash cleared */
    ck_assert(!tcode_matches(salt, "", code));
    ck_assert(!tcode_matches(salt, h, ""));
    ck_assert(!tcode_matches(salt, h, "ABC-DEF"));
    ck_assert(!tcode_matches("zz", h, code));
    /* fixed vector: HMAC-SHA256(key = 16 zero bytes, "ABC") */
    ck_assert_int_eq(tcode_hash("00000000000000000000000000000000", "abc", h), 0);
    char h2[TCODE_HASH_HEX + 1];
    ck_assert_int_eq(tcode_hash("00000000000000000000000000000000", "ABC", h2), 0);
    ck_assert_str_eq(h, h2);
    ck_assert(tcode_input_ok("A", 1));
    ck_assert(!tcode_input_ok("A B", 3));
    ck_assert(!tcode_input_ok("", 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tpolicy");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, create_rules);
    tcase_add_test(tc, refund_rules);
    tcase_add_test(tc, activation_codes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
