/*
 * check_host_migrate.c: the host program's migration entry points
 * (host/migrate.h) called directly, without a control socket: the error
 * contract of host_migration_new(), host_migrate_start() and
 * host_incoming_start().
 *
 * Synchronous errors come back through errp with a false return and change
 * nothing; a NULL errp is fine everywhere; a failure after the migration
 * started (a section that cannot save, a stream that does not load) shows
 * in the migration status, never through errp with a true return.
 * fd:N accepts a plain non-negative decimal that fits an int and names an
 * open descriptor, nothing else.
 *
 * The host is the bare bottom (host/host.c) with a device, a hub and a
 * router; the guest transport and clipboard peer are stubs behind
 * HostMigrateOps.  The outgoing channel URIs (unix:, tcp:, a good fd:)
 * are left to tests/integration.sh.
 */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "host/host.h"
#include "host/migrate.h"
#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-vmstate.h"
#include "tests/check_suites.h"
#include "tests/test-host.h"
#include "vdagent/vdc-vdagent.h"

/* ---- a bare host ------------------------------------------------------- */

static Host host;
static VdcConfig config;
static VdcMigrationRegistry *reg;
static HostMigration *mig;
static char *dir;

static void bare_host(void)
{
    test_host_init(&host, &config, &reg);
    dir = test_scratch_new("check-host-migrate");
    test_host_stub_saves = test_host_stub_restores = 0;
}

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    bare_host();
    mig = host_migration_new(&host, reg, &test_host_stub_ops, NULL, &err);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(mig);
}

static void teardown(void)
{
    test_scratch_free(&dir);
    g_clear_pointer(&mig, host_migration_free);
    test_host_fini(&host, &reg);
}

static HostMigStatus mig_status(void)
{
    HostMigInfo info;

    host_migration_info(mig, &info);
    return info.status;
}

static char *closed_fd_uri(void)
{
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    close(p[1]);
    return g_strdup_printf("fd:%d", p[0]);
}

/* ---- bad fd:N, in both directions ------------------------------------ */

static const struct {
    const char *uri;
    int code;
    const char *message;
} bad_fds[] = {
    { "fd:abc", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not 'abc'" },
    { "fd:", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not ''" },
    { "fd:-1", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not '-1'" },
    { "fd:+1", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not '+1'" },
    { "fd: 1", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not ' 1'" },
    { "fd:12x", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not '12x'" },
    { "fd:0x1", G_FILE_ERROR_INVAL, "fd: expects a descriptor number, not '0x1'" },
    { "fd:99999999999", G_FILE_ERROR_INVAL,
      "fd: descriptor number out of range: 99999999999" },
    { "fd:2147483648", G_FILE_ERROR_INVAL,
      "fd: descriptor number out of range: 2147483648" },
    { "fd:99999999999999999999999", G_FILE_ERROR_INVAL,
      "fd: descriptor number out of range: 99999999999999999999999" },
    { "fd:2147483647", G_FILE_ERROR_BADF, "not an open descriptor: 2147483647" },
};

START_TEST(test_migrate_bad_fd)
{
    g_autoptr(GError) err = NULL;

    ck_assert(!host_migrate_start(mig, bad_fds[_i].uri, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->domain, G_FILE_ERROR);
    ck_assert_int_eq(err->code, bad_fds[_i].code);
    ck_assert_str_eq(err->message, bad_fds[_i].message);
    /* Nothing started, nothing stopped. */
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
    ck_assert_int_eq(host_status(&host), HOST_RUNNING);
    ck_assert_uint_eq(test_host_stub_saves, 0);
    /* The same without an errp. */
    ck_assert(!host_migrate_start(mig, bad_fds[_i].uri, NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
}
END_TEST

START_TEST(test_incoming_bad_fd)
{
    g_autoptr(GError) err = NULL;

    host_set_status(&host, HOST_INMIGRATE);
    ck_assert(!host_incoming_start(mig, bad_fds[_i].uri, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err->domain, G_FILE_ERROR);
    ck_assert_int_eq(err->code, bad_fds[_i].code);
    ck_assert_str_eq(err->message, bad_fds[_i].message);
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
    ck_assert_int_eq(host_status(&host), HOST_INMIGRATE);
    ck_assert(!host_incoming_start(mig, bad_fds[_i].uri, NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
}
END_TEST

START_TEST(test_closed_fd)
{
    g_autofree char *uri = closed_fd_uri();
    g_autofree char *want = g_strdup_printf("not an open descriptor: %s",
                                            uri + 3);
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;

    ck_assert(!host_migrate_start(mig, uri, &err));
    ck_assert_int_eq(err->code, G_FILE_ERROR_BADF);
    ck_assert_str_eq(err->message, want);
    ck_assert(!host_migrate_start(mig, uri, NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
    ck_assert_int_eq(host_status(&host), HOST_RUNNING);

    host_set_status(&host, HOST_INMIGRATE);
    ck_assert(!host_incoming_start(mig, uri, &err2));
    ck_assert_int_eq(err2->code, G_FILE_ERROR_BADF);
    ck_assert_str_eq(err2->message, want);
    ck_assert(!host_incoming_start(mig, uri, NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
}
END_TEST

/* ---- other synchronous errors, errp NULL ------------------------------ */

START_TEST(test_sync_errors_null_errp)
{
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    g_autofree char *file_uri = g_strconcat("file:", missing, NULL);

    ck_assert(!host_migrate_start(mig, "bogus:x", NULL));
    ck_assert(!host_incoming_start(mig, "file:x", NULL));   /* running */
    host_set_status(&host, HOST_INMIGRATE);
    ck_assert(!host_migrate_start(mig, "file:x", NULL));    /* inmigrate */
    ck_assert(!host_incoming_start(mig, "bogus:x", NULL));
    ck_assert(!host_incoming_start(mig, file_uri, NULL));   /* no file */
    ck_assert(!host_incoming_start(mig, "tcp:nocolon", NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_NONE);
    ck_assert_int_eq(host_status(&host), HOST_INMIGRATE);
}
END_TEST

/* ---- failures once started --------------------------------------------- */

static bool failing_pre_save(void *opaque, GError **errp)
{
    (void)opaque;
    g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_HOOK, "no saving today");
    return false;
}

typedef struct Failing {
    uint32_t value;
} Failing;

static Failing failing;

static const VdcVMStateDescription vmstate_failing = {
    .name = "failing",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = failing_pre_save,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(value, Failing),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/* A section that cannot save: started, so true with errp untouched; the
 * failure is the status's, and the host runs again. */
START_TEST(test_save_fails)
{
    g_autofree char *path = g_build_filename(dir, "state", NULL);
    g_autofree char *uri = g_strconcat("file:", path, NULL);
    g_autoptr(GError) err = NULL;
    HostMigInfo info;

    ck_assert(vdc_migration_register(reg, "failing", 0, &vmstate_failing,
                                     &failing, NULL));
    ck_assert(host_migrate_start(mig, uri, _i ? NULL : &err));
    ck_assert_ptr_null(err);
    host_migration_info(mig, &info);
    ck_assert_int_eq(info.status, HOST_MIG_FAILED);
    ck_assert_ptr_nonnull(info.error);
    ck_assert_ptr_nonnull(strstr(info.error, "no saving today"));
    ck_assert_int_eq(host_status(&host), HOST_RUNNING);
}
END_TEST

/* file: that cannot be opened: also after the start. */
START_TEST(test_file_open_fails)
{
    g_autofree char *uri = g_strconcat("file:", dir, "/no/such/dir/state",
                                       NULL);
    g_autoptr(GError) err = NULL;
    HostMigInfo info;

    ck_assert(host_migrate_start(mig, uri, _i ? NULL : &err));
    ck_assert_ptr_null(err);
    host_migration_info(mig, &info);
    ck_assert_int_eq(info.status, HOST_MIG_FAILED);
    ck_assert_ptr_nonnull(strstr(info.error, "cannot open"));
    ck_assert_int_eq(host_status(&host), HOST_RUNNING);
}
END_TEST

/* A good file: migration leaves errp untouched. */
START_TEST(test_file_ok)
{
    g_autofree char *path = g_build_filename(dir, "state", NULL);
    g_autofree char *uri = g_strconcat("file:", path, NULL);
    g_autoptr(GError) err = NULL;

    ck_assert(host_migrate_start(mig, uri, &err));
    ck_assert_ptr_null(err);
    ck_assert_int_eq(mig_status(), HOST_MIG_COMPLETED);
    ck_assert_int_eq(host_status(&host), HOST_POSTMIGRATE);
    ck_assert_uint_eq(test_host_stub_saves, 1);
    ck_assert(g_file_test(path, G_FILE_TEST_IS_REGULAR));
}
END_TEST

/* A file: that does not load: false with errp set (or NULL), status
 * failed, still waiting for a migration. */
START_TEST(test_incoming_file_bad)
{
    g_autofree char *path = g_build_filename(dir, "garbage", NULL);
    g_autofree char *uri = g_strconcat("file:", path, NULL);
    g_autoptr(GError) err = NULL;
    HostMigInfo info;

    ck_assert(g_file_set_contents(path, "not a stream", -1, NULL));
    host_set_status(&host, HOST_INMIGRATE);
    ck_assert(!host_incoming_start(mig, uri, _i ? NULL : &err));
    if (!_i) {
        ck_assert_ptr_nonnull(err);
    }
    host_migration_info(mig, &info);
    ck_assert_int_eq(info.status, HOST_MIG_FAILED);
    ck_assert_ptr_nonnull(info.error);
    if (!_i) {
        ck_assert_str_eq(info.error, err->message);
    }
    ck_assert_int_eq(host_status(&host), HOST_INMIGRATE);
    ck_assert_uint_eq(test_host_stub_restores, 0);
}
END_TEST

/* ---- setting up ------------------------------------------------------- */

/* A registry that already holds one of our sections: NULL with the error,
 * and the registry holds none of ours afterwards. */
START_TEST(test_register_duplicate)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    HostMigration *m;

    bare_host();
    if (_i == 0) {
        ck_assert(vdc_chardev_register_migration(host.dev, reg, 0, NULL));
    } else {
        ck_assert(vdc_migration_register(reg, "vdagent-host", 0, &vmstate_failing,
                                         &failing, NULL));
    }
    m = host_migration_new(&host, reg, &test_host_stub_ops, NULL, &err);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(err);
    ck_assert(g_error_matches(err, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_DUPLICATE));
    ck_assert_ptr_null(host_migration_new(&host, reg, &test_host_stub_ops, NULL, NULL));
    if (_i == 1) {
        /* "vdagent" was taken back. */
        ck_assert(vdc_chardev_register_migration(host.dev, reg, 0, &err2));
    }
}
END_TEST

Suite *host_migrate_suite(void)
{
    Suite *s = suite_create("host_migrate");
    TCase *tc;
    int n_bad = (int)G_N_ELEMENTS(bad_fds);

    tc = tcase_create("fd-uri");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_migrate_bad_fd, 0, n_bad);
    tcase_add_loop_test(tc, test_incoming_bad_fd, 0, n_bad);
    tcase_add_test(tc, test_closed_fd);
    suite_add_tcase(s, tc);

    tc = tcase_create("sync-errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sync_errors_null_errp);
    suite_add_tcase(s, tc);

    tc = tcase_create("after-start");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_save_fails, 0, 2);
    tcase_add_loop_test(tc, test_file_open_fails, 0, 2);
    tcase_add_test(tc, test_file_ok);
    tcase_add_loop_test(tc, test_incoming_file_bad, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, test_register_duplicate, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
