/*
 * fuzz/fuzz_conf.c — the config loader (config/conf.c conf_load_string:
 * libyaml -> tree -> table validation -> post-checks), which also parses
 * every SIGHUP reload and `skipctl config check FILE`.
 *
 * Properties: an error is "fz.yaml:LINE: message", NUL-terminated, valid
 * UTF-8 (skipctl prints it and --json embeds it), and a smaller error buffer
 * gets a prefix of the same message; a loaded config keeps the documented
 * invariants (group ids 1..99 unique, a primary for every group in service,
 * every alias routes to a group in service, the bounded numbers in bounds).
 */
#include "config/conf.h"
#include "fuzz/fuzz.h"

static void check_conf(const conf *c)
{
    FZ_ASSERT(c->ngroups >= 1 && c->ngroups <= CONF_MAX_GROUPS, "ngroups %d", c->ngroups);
    FZ_ASSERT(c->listen && c->log_level && c->db_name && c->db_user && c->db_password && c->redis_addr &&
                  c->kafka_brokers && c->kafka_topic && c->kafka_group && c->merchant_addr &&
                  c->merchant_db_name && c->merchant_user && c->merchant_password,
              "a string field is NULL");
    FZ_ASSERT(c->node_id >= 0 && c->node_id <= 999, "node_id");
    FZ_ASSERT(c->db_pool_size >= 1 && c->db_pool_size <= 256, "pool_size");
    FZ_ASSERT(c->window_s >= 1 && c->window_s <= 3600, "window_s");
    FZ_ASSERT(c->max_body_bytes >= 1024 && c->max_body_bytes <= 1048576, "max_body_bytes");
    FZ_ASSERT(c->default_expire_s >= 30 && c->default_expire_s <= 86400, "default_expire_s");
    bool seen[CONF_MAX_GROUPS + 1] = {false};
    int in_service = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        FZ_ASSERT(g->id >= 1 && g->id <= CONF_MAX_GROUPS && !seen[g->id], "group id %d", g->id);
        seen[g->id] = true;
        FZ_ASSERT(g->weight >= 0 && g->weight <= 1000, "weight");
        FZ_ASSERT(g->nreplicas >= 0 && g->nreplicas <= CONF_MAX_REPLICAS, "nreplicas");
        for (int r = 0; r < g->nreplicas; r++)
            FZ_ASSERT(g->replicas[r] != NULL, "replica NULL");
        if (g->state != GROUP_RETIRED) {
            FZ_ASSERT(g->primary != NULL, "group %d in service without primary", g->id);
            in_service++;
        }
        FZ_ASSERT(conf_group_by_id(c, g->id) == g, "lookup");
    }
    FZ_ASSERT(in_service >= 1, "no group in service");
    for (int i = 0; i < c->ngroups; i++) {
        int t = conf_route_group(c, c->groups[i].id);
        FZ_ASSERT(t >= 1, "group %d does not route", c->groups[i].id);
        const conf_group *tg = conf_group_by_id(c, t);
        FZ_ASSERT(tg != NULL && tg->state != GROUP_RETIRED, "group %d routes to %d", c->groups[i].id, t);
    }
    FZ_ASSERT(conf_route_group(c, 0) == -1 && conf_route_group(c, 100) == -1, "route out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fz_dup(data, size);
    char err[CONF_ERR_MAX];
    memset(err, 'x', sizeof err);
    conf *c = conf_load_string("fz.yaml", text, size, err, sizeof err);
    if (c != NULL) {
        check_conf(c);
        conf_free(c);
    } else {
        FZ_ASSERT_TEXT(err);
        FZ_ASSERT(strncmp(err, "fz.yaml:", 8) == 0, "error without file: %s", err);
        char small[24];
        memset(small, 'x', sizeof small);
        conf *c2 = conf_load_string("fz.yaml", text, size, small, sizeof small);
        FZ_ASSERT(c2 == NULL, "second load succeeded");
        FZ_ASSERT_TEXT(small);
        FZ_ASSERT(strncmp(small, err, strlen(small)) == 0, "not a prefix: '%s' of '%s'", small, err);
    }
    free(text);
    return 0;
}
