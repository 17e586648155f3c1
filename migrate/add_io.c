#include "migrate/migio.h"
int mig_add(const mig_add_opts *o) { (void)o; return 1; }
