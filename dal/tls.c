/* dal/tls.c — a MariaDB connection's TLS settings from the configuration (dal.h). */
#include "dal/dal.h"

#include <string.h>

void dal_tls_set(dal_tls *t, const conf_tls *c)
{
    memset(t, 0, sizeof *t);
    if (c == NULL || !c->enabled)
        return;
    t->enabled = true;
    t->verify_server_cert = c->verify_server_cert != 0;
    /* conf paths are shorter than CONF_PATH_MAX == DAL_PATH_MAX (validated) */
    sk_strlcpy(t->ca, c->ca ? c->ca : "", sizeof t->ca);
    sk_strlcpy(t->cert, c->cert ? c->cert : "", sizeof t->cert);
    sk_strlcpy(t->key, c->key ? c->key : "", sizeof t->key);
}
