/*
 * tests/unit/test_kprops.c — kafka/kprops.c: the config's kafka.producer /
 * kafka.consumer mappings reach librdkafka unchanged, in file order, and a
 * property librdkafka refuses is an error naming FILE:LINE and the key.
 * Uses real rd_kafka_conf_t objects (no client, no I/O).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include "config/conf.h"
#include "kafka/kprops.h"

#define MIN "db:\n  name: s\n  user: u\ngroups:\n  - id: 1\n    primary: \"h:1\"\n"

static conf *load(const char *yaml)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = conf_load_string("t.yaml", yaml, strlen(yaml), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

static char *get(rd_kafka_conf_t *kc, const char *name, char *buf, size_t cap)
{
    size_t n = cap;
    ck_assert_int_eq(rd_kafka_conf_get(kc, name, buf, &n), RD_KAFKA_CONF_OK);
    return buf;
}

START_TEST(map_reaches_librdkafka_unchanged)
{
    conf *c = load(MIN "kafka:\n"
                       "  producer:\n"
                       "    linger.ms: 7\n"
                       "    compression.type: lz4\n"
                       "    security.protocol: SASL_SSL\n"
                       "    sasl.mechanism: PLAIN\n"
                       "    sasl.username: skipstore\n"
                       "    sasl.password: \"s3cret with spaces\"\n"
                       "    client.id: relay-x\n");
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512] = "", v[256];
    static const kp_prop own[] = {{"linger.ms", "2"}, {"client.id", "skipstored"}};
    ck_assert_int_eq(kp_apply_list(kc, rd_kafka_conf_set, own, 2, err, sizeof err), 0);
    ck_assert_int_eq(kp_apply_map(kc, rd_kafka_conf_set, &c->kafka_producer, c->path, "producer", err, sizeof err), 0);
    /* the config's values win over the defaults applied before them */
    ck_assert_str_eq(get(kc, "linger.ms", v, sizeof v), "7");
    ck_assert_str_eq(get(kc, "client.id", v, sizeof v), "relay-x");
    ck_assert_str_eq(get(kc, "compression.type", v, sizeof v), "lz4");
    ck_assert_str_eq(get(kc, "security.protocol", v, sizeof v), "sasl_ssl");
    ck_assert_str_eq(get(kc, "sasl.mechanisms", v, sizeof v), "PLAIN");
    ck_assert_str_eq(get(kc, "sasl.username", v, sizeof v), "skipstore");
    rd_kafka_conf_destroy(kc);
    conf_free(c);
}
END_TEST

START_TEST(unknown_property_names_the_line)
{
    conf *c = load(MIN "kafka:\n"               /* 7 */
                       "  consumer:\n"
                       "    fetch.wait.max.ms: 20\n"
                       "    fetch.wait.max.mz: 20\n"); /* 10 */
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512] = "";
    ck_assert_int_eq(kp_apply_map(kc, rd_kafka_conf_set, &c->kafka_consumer, c->path, "consumer", err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "t.yaml:10: kafka.consumer.fetch.wait.max.mz: ", 45) == 0, "%s", err);
    ck_assert_msg(strstr(err, "No such configuration property") != NULL, "%s", err);
    rd_kafka_conf_destroy(kc);
    conf_free(c);
}
END_TEST

START_TEST(bad_value_names_the_line)
{
    conf *c = load(MIN "kafka:\n"
                       "  producer:\n"
                       "    linger.ms: soon\n");
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512] = "";
    ck_assert_int_eq(kp_apply_map(kc, rd_kafka_conf_set, &c->kafka_producer, c->path, "producer", err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "t.yaml:9: kafka.producer.linger.ms: ", 36) == 0, "%s", err);
    ck_assert_msg(strstr(err, "Invalid value") != NULL, "%s", err);

    /* an empty (or absent) mapping applies nothing */
    conf_strmap empty = {0};
    ck_assert_int_eq(kp_apply_map(kc, rd_kafka_conf_set, &empty, c->path, "producer", err, sizeof err), 0);
    ck_assert_int_eq(kp_apply_map(kc, rd_kafka_conf_set, NULL, c->path, "producer", err, sizeof err), 0);
    rd_kafka_conf_destroy(kc);
    conf_free(c);
}
END_TEST

START_TEST(own_list_error_names_the_property)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512] = "";
    static const kp_prop own[] = {{"acks", "all"}, {"no.such.thing", "1"}};
    ck_assert_int_eq(kp_apply_list(kc, rd_kafka_conf_set, own, 2, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "no.such.thing: ", 15) == 0, "%s", err);
    rd_kafka_conf_destroy(kc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kprops");
    TCase *t = tcase_create("apply");
    tcase_add_test(t, map_reaches_librdkafka_unchanged);
    tcase_add_test(t, unknown_property_names_the_line);
    tcase_add_test(t, bad_value_names_the_line);
    tcase_add_test(t, own_list_error_names_the_property);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
