/*
 * test-host.h: a bare Host for the suites of host/ code (migration,
 * channel): the device, with the clipboard on, behind a frontend that
 * takes nothing, its own hub and router, and a migration registry; plus a
 * scratch directory; migration ops with nothing behind them.  Failures
 * fail the running Check test.
 */
#ifndef TEST_HOST_H
#define TEST_HOST_H

#include "host/host.h"
#include "host/migrate.h"
#include "migration/vdc-savevm.h"
#include "vdagent/vdc-vdagent.h"

/*
 * Fill @host (host_init(), a new hub, router and device made from
 * @config, which is set up here and must outlive the device) and make
 * *@reg a new registry.  Undo with test_host_fini().
 */
void test_host_init(Host *host, VdcConfig *config, VdcMigrationRegistry **reg);

/* Free *@reg, then @host's device, hub and router, then host_fini(). */
void test_host_fini(Host *host, VdcMigrationRegistry **reg);

/*
 * Migration ops for a host with no transport and no host peer: the save
 * gives no output, no guest channel is handed over, the restore drops
 * the selections; the counters say how often the save and the restore
 * ran (reset them yourself).
 */
extern const HostMigrateOps test_host_stub_ops;
extern unsigned test_host_stub_saves, test_host_stub_restores;

/* A new empty directory under the temporary one, named after @prefix. */
char *test_scratch_new(const char *prefix);

/* Remove the files in *@dir, then the directory; *@dir becomes NULL. */
void test_scratch_free(char **dir);

#endif /* TEST_HOST_H */
