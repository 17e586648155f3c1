/* mirror/relay_io.c — placeholder relay: does nothing yet (issue 5). */
#include "mirror/relay.h"
#include <stdlib.h>

struct relay { int unused; };

relay *relay_start(cref *cfg, grt *g)
{
    (void)cfg;
    (void)g;
    return calloc(1, sizeof(relay));
}

void relay_sync(relay *r) { (void)r; }
void relay_stop(relay *r) { free(r); }
