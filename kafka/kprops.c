/* kafka/kprops.c — see kprops.h. */
#include "kafka/kprops.h"

#include <stdio.h>

int kp_apply_list(rd_kafka_conf_t *kc, kp_set_fn set, const kp_prop *p, size_t n, char *err, size_t cap)
{
    char why[512];
    for (size_t i = 0; i < n; i++) {
        if (set(kc, p[i].name, p[i].value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            snprintf(err, cap, "%s: %s", p[i].name, why);
            return -1;
        }
    }
    return 0;
}

int kp_apply_map(rd_kafka_conf_t *kc, kp_set_fn set, const conf_strmap *m, const char *file, const char *section,
                 char *err, size_t cap)
{
    char why[512];
    for (int i = 0; m != NULL && i < m->n; i++) {
        const conf_kv *e = &m->kv[i];
        if (set(kc, e->key, e->val, why, sizeof why) != RD_KAFKA_CONF_OK) {
            snprintf(err, cap, "%s:%d: kafka.%s.%s: %s", file ? file : "(config)", e->line, section, e->key, why);
            return -1;
        }
    }
    return 0;
}
