/* ctl/runio.h — what the load-running commands (drill, soak) share besides
 * the load engine: `./dev fault TARGET ACTION`, the local cluster's fault
 * injection, run as a child with a timeout; and writing a report file. */
#ifndef CTL_RUNIO_H
#define CTL_RUNIO_H

#include <jansson.h>

#include "bench/report.h"
#include "common/sk.h"

#define CTL_DEV_FAULT_TIMEOUT_MS 60000

/* Run `DEV fault TARGET ACTION` (its stdout goes to our stderr, so a
 * command's summary line stays alone on stdout); SIGKILLed after
 * CTL_DEV_FAULT_TIMEOUT_MS. 0 when it exited 0, else -1. */
int ctl_dev_fault(const char *dev, const char *target, const char *action) SK_WUR;

/* Run argv (argv[0] a path) the same way, SIGKILLed after timeout_ms. */
int ctl_run(char *const argv[], int64_t timeout_ms) SK_WUR;

/* Write the NUL-terminated data to path (created or truncated). 0 or -1. */
int ctl_write_file(const char *path, const char *data) SK_WUR;

/* A run's report files in dir: report.json (j, indented by `indent`) and
 * report.svg (the chart of run/sum). A file that cannot be written is named
 * on stderr as "skipctl CMD: cannot write PATH". 0, or 1 if any failed. */
int ctl_write_report(const char *cmd, const char *dir, json_t *j, int indent, const rep_run *run,
                     const rep_summary *sum);

#endif
