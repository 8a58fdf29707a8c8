/*
 * check_host_channel.c: the host program's migration channel
 * (host/migrate.c) against a hostile peer (issue 23).
 *
 *   answer   the check-step answer has a magic and a version; a source
 *            that gets anything else fails and resumes
 *
 * The host is the bare bottom (host/host.c) with a device, a hub and a
 * router, as in check_host_migrate.c; the guest transport is a stub that
 * records what it adopts.  The peer is this test: it speaks the channel
 * with its own decoder and encoder (the byte layout of host/migrate.c's
 * comment), over a unix socket, and runs the host's main loop while it
 * waits.
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/host.h"
#include "host/migrate.h"
#include "migration/migration-stream.h"
#include "migration/savevm.h"
#include "tests/check_suites.h"
#include "vdagent/vdagent.h"

#define WAIT_MS 8000

/* ---- a bare host, a recording guest stub ------------------------------ */

static size_t fe_can_write(void *opaque)
{
    return 0;
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
}

static const VDAgentFrontendOps fe_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
};

static struct {
    unsigned adopts, releases, restores;
    HostGuestChannel adopted;
} rec;

static void stub_save(void *opaque, ClipboardSaved *saved, uint8_t **out,
                      uint32_t *out_len)
{
    *out = NULL;
    *out_len = 0;
}

static bool stub_guest_channel(void *opaque, HostGuestChannel *ch)
{
    return false;
}

static void stub_released(void *opaque)
{
    rec.releases++;
}

static void stub_restore(void *opaque, ClipboardSaved *saved,
                         const uint8_t *out, uint32_t out_len, bool continuing)
{
    clipboard_saved_clear(saved);
    rec.restores++;
}

static void stub_adopt(void *opaque, const HostGuestChannel *ch)
{
    rec.adopts++;
    rec.adopted = *ch;
}

static void stub_activate(void *opaque)
{
}

static const HostMigrateOps stub_ops = {
    .save = stub_save,
    .guest_channel = stub_guest_channel,
    .guest_released = stub_released,
    .restore = stub_restore,
    .guest_adopt = stub_adopt,
    .guest_activate = stub_activate,
};

static Host host;
static VDAgentConfig config;
static MigrationRegistry *reg;
static HostMigration *mig;
static char *dir;
static char *in_path;

static void setup(void)
{
    g_autoptr(GError) err = NULL;

    host_init(&host, false);
    host.hub = clipboard_hub_new();
    host.router = input_router_new();
    vdagent_config_init(&config);
    config.clipboard = true;
    config.clipboard_hub = host.hub;
    config.input_router = host.router;
    host.dev = vdagent_chardev_new(&config, &fe_ops, NULL, &err);
    ck_assert_ptr_nonnull(host.dev);
    reg = migration_registry_new();
    mig = host_migration_new(&host, reg, &stub_ops, NULL, &err);
    ck_assert_ptr_nonnull(mig);
    dir = g_dir_make_tmp("check-host-channel.XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    in_path = g_build_filename(dir, "in", NULL);
    memset(&rec, 0, sizeof(rec));
    rec.adopted.conn_fd = rec.adopted.listen_fd = -1;
    signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (rec.adopted.conn_fd >= 0) {
        close(rec.adopted.conn_fd);
    }
    if (rec.adopted.listen_fd >= 0) {
        close(rec.adopted.listen_fd);
    }
    g_clear_pointer(&mig, host_migration_free);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(dir);
    g_clear_pointer(&dir, g_free);
    g_clear_pointer(&in_path, g_free);
    g_clear_pointer(&reg, migration_registry_free);
    g_clear_pointer(&host.dev, vdagent_chardev_free);
    g_clear_pointer(&host.hub, clipboard_hub_free);
    g_clear_pointer(&host.router, input_router_free);
    host_fini(&host);
}

static HostMigStatus mig_status(void)
{
    HostMigInfo info;

    host_migration_info(mig, &info);
    return info.status;
}

static bool mig_done(void)
{
    return mig_status() == HOST_MIG_COMPLETED ||
           mig_status() == HOST_MIG_FAILED;
}

/* Run the main loop until @mig is done (or @ms pass); true when done. */
static bool run_until_done(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!mig_done() && g_get_monotonic_time() < end) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(2000);
        }
    }
    return mig_done();
}

/* ---- 9: the source reads the answer ------------------------------------- */

static const struct {
    const char *what;
    const char *bytes;
    size_t len;
    const char *error;          /* NULL: completed */
} answers[] = {
#define A(what, b, err) { what, b, sizeof(b) - 1, err }
    A("one 0 byte (the old answer, or a wrong service)", "\0",
      "not a vdagent-host migration answer"),
    A("another magic", "VDMX\1\0\0\0\0\0", "not a vdagent-host migration answer"),
    A("another version", "VDMR\2\0\0\0\0\0",
      "not a vdagent-host migration answer"),
    A("an unknown status", "VDMR\1\7\0\0\0\0",
      "not a vdagent-host migration answer"),
    A("ok with a message", "VDMR\1\0\0\0\0\2hi",
      "not a vdagent-host migration answer"),
    A("a refusal longer than 4096", "VDMR\1\1\0\1\0\0refused",
      "not a vdagent-host migration answer"),
    A("a refusal cut short", "VDMR\1\1\0\0\0\11refu", "closed early"),
    A("nothing", "", "closed early"),
    A("a refusal", "VDMR\1\1\0\0\0\10no thank", "destination refused: no thank"),
    A("ok", "VDMR\1\0\0\0\0\0", NULL),
#undef A
};

START_TEST(test_answers)
{
    g_autofree char *path = g_build_filename(dir, "out", NULL);
    g_autofree char *uri = g_strconcat("unix:", path, NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
    uint8_t hdr[20], l8[8];
    g_autofree uint8_t *body = NULL;
    uint64_t slen = 0;
    uint32_t plen;
    int lfd, fd, i;
    HostMigInfo info;

    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    strcpy(sa.sun_path, path);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert(host_migrate_start(mig, uri, NULL));
    ck_assert_int_eq(mig_status(), HOST_MIG_ACTIVE);
    ck_assert_int_eq(host_status(&host), HOST_PAUSED);

    fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(recv(fd, hdr, 20, MSG_WAITALL), 20);
    ck_assert_mem_eq(hdr, "VDMG\1", 5);
    plen = (uint32_t)hdr[16] << 24 | (uint32_t)hdr[17] << 16 |
           (uint32_t)hdr[18] << 8 | hdr[19];
    ck_assert_uint_eq(plen, 0);
    ck_assert_int_eq(recv(fd, l8, 8, MSG_WAITALL), 8);
    for (i = 0; i < 8; i++) {
        slen = slen << 8 | l8[i];
    }
    ck_assert_uint_lt(slen, 1 << 20);
    body = g_malloc(slen);
    ck_assert_int_eq(recv(fd, body, slen, MSG_WAITALL), (ssize_t)slen);
    ck_assert_mem_eq(body, "QEVM", 4);
    if (answers[_i].len) {
        ck_assert_int_eq(send(fd, answers[_i].bytes, answers[_i].len,
                              MSG_NOSIGNAL), (ssize_t)answers[_i].len);
    }
    close(fd);
    close(lfd);
    ck_assert(run_until_done(WAIT_MS));
    host_migration_info(mig, &info);
    if (!answers[_i].error) {
        ck_assert_int_eq(info.status, HOST_MIG_COMPLETED);
        ck_assert_int_eq(host_status(&host), HOST_POSTMIGRATE);
        return;
    }
    /* Anything else: failed, running again, nothing let go. */
    ck_assert_msg(info.status == HOST_MIG_FAILED, "%s: completed",
                  answers[_i].what);
    ck_assert_msg(strstr(info.error, answers[_i].error), "%s: '%s'",
                  answers[_i].what, info.error);
    ck_assert_int_eq(host_status(&host), HOST_RUNNING);
    ck_assert_uint_eq(rec.releases, 0);
}
END_TEST

Suite *host_channel_suite(void)
{
    Suite *s = suite_create("host-channel");
    TCase *tc;

    tc = tcase_create("answer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_answers, 0, G_N_ELEMENTS(answers));
    suite_add_tcase(s, tc);
    return s;
}
