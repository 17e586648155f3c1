/*
 * tests/unit/unit.h — what the Check unit tests share: a cheap assertion for
 * hot loops, a deterministic generator (a failure reproduces), the runner.
 */
#ifndef TESTS_UNIT_H
#define TESTS_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

/* For hot loops: ck_assert_* records a checkpoint on every call (a pipe write
 * in fork mode), which makes million-iteration loops take seconds. */
#define REQ(c) do { if (!(c)) ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); } while (0)

/* xorshift64*: the next value of *state (seed it with any non-zero value). */
static inline uint64_t ut_rnd(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

/* Run the suite; the process exit status. */
static inline int ut_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
