/* tests/unit/test_ready.c — which groups skipstored waits for before READY=1
 * (daemon/ready.c ready_pending): every group the prober probes, i.e. with a
 * primary and not retired, whatever its other state. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/ready.h"

static bool in_mask(void *arg, int id)
{
    return (*(unsigned *)arg >> id) & 1u;
}

static void group(conf *c, int id, const char *primary, group_state st)
{
    conf_group *g = &c->groups[c->ngroups++];
    g->id = id;
    g->primary = (char *)primary;
    g->state = st;
}

START_TEST(waits_for_every_probed_group)
{
    static conf c;
    memset(&c, 0, sizeof c);
    group(&c, 1, "db1:3306", GROUP_ACTIVE);
    group(&c, 2, "db2:3306", GROUP_FENCED);    /* fenced: still probed */
    group(&c, 3, "db3:3306", GROUP_DRAINING);  /* draining: still probed */
    group(&c, 4, NULL, GROUP_RETIRED);         /* an alias: no primary */
    group(&c, 5, "db5:3306", GROUP_RETIRED);   /* retired: never probed */
    unsigned probed = 0;
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 1);
    probed = 1u << 1;
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 2);
    probed |= 1u << 2;
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 3);
    probed = (1u << 2) | (1u << 3);
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 1);
    probed = (1u << 1) | (1u << 2) | (1u << 3);
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 0);
}
END_TEST

START_TEST(no_groups_is_ready)
{
    static conf c;
    memset(&c, 0, sizeof c);
    unsigned probed = 0;
    ck_assert_int_eq(ready_pending(&c, in_mask, &probed), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ready");
    TCase *tc = tcase_create("pending");
    tcase_add_test(tc, waits_for_every_probed_group);
    tcase_add_test(tc, no_groups_is_ready);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int f = srunner_ntests_failed(sr);
    srunner_free(sr);
    return f ? EXIT_FAILURE : EXIT_SUCCESS;
}
