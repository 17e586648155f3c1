#include "migrate/migio.h"
int mig_audit(const mig_audit_opts *o) { (void)o; return 1; }
