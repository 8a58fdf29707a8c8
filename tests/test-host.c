/*
 * test-host.c: see test-host.h.
 */
#include "tests/test-host.h"

#include <check.h>
#include <glib/gstdio.h>

static size_t fe_can_write(void *opaque)
{
    (void)opaque;
    return 0;
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    (void)len;
}

static const VdcFrontendOps fe_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
};

void test_host_init(Host *host, VdcConfig *config, VdcMigrationRegistry **reg)
{
    g_autoptr(GError) err = NULL;

    host_init(host, false);
    host->hub = vdc_clipboard_hub_new();
    host->router = vdc_input_router_new();
    vdc_config_init(config);
    config->clipboard = true;
    config->clipboard_hub = host->hub;
    config->input_router = host->router;
    host->dev = vdc_chardev_new(config, &fe_ops, NULL, &err);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(host->dev);
    *reg = vdc_migration_registry_new();
}

void test_host_fini(Host *host, VdcMigrationRegistry **reg)
{
    g_clear_pointer(reg, vdc_migration_registry_free);
    g_clear_pointer(&host->dev, vdc_chardev_free);
    g_clear_pointer(&host->hub, vdc_clipboard_hub_free);
    g_clear_pointer(&host->router, vdc_input_router_free);
    host_fini(host);
}

char *test_scratch_new(const char *prefix)
{
    g_autofree char *tmpl = g_strdup_printf("%s.XXXXXX", prefix);
    char *dir = g_dir_make_tmp(tmpl, NULL);

    ck_assert_ptr_nonnull(dir);
    return dir;
}

void test_scratch_free(char **dir)
{
    g_autoptr(GDir) d = NULL;
    const char *name;

    if (!*dir) {
        return;
    }
    d = g_dir_open(*dir, 0, NULL);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(*dir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(*dir);
    g_clear_pointer(dir, g_free);
}

/* ---- migration ops with nothing behind them ---------------------------- */

unsigned test_host_stub_saves, test_host_stub_restores;

static void stub_save(void *opaque, VdcClipboardSaved *saved, uint8_t **out,
                      uint32_t *out_len)
{
    (void)opaque;
    (void)saved;
    test_host_stub_saves++;
    *out = NULL;
    *out_len = 0;
}

static bool stub_guest_channel(void *opaque, HostGuestChannel *ch)
{
    (void)opaque;
    (void)ch;
    return false;
}

static void stub_restore(void *opaque, VdcClipboardSaved *saved,
                         const uint8_t *out, uint32_t out_len, bool continuing)
{
    (void)opaque;
    (void)out;
    (void)out_len;
    (void)continuing;
    vdc_clipboard_saved_clear(saved);
    test_host_stub_restores++;
}

static void stub_guest(void *opaque)
{
    (void)opaque;
}

static void stub_guest_adopt(void *opaque, const HostGuestChannel *ch)
{
    (void)opaque;
    (void)ch;
}

const HostMigrateOps test_host_stub_ops = {
    .save = stub_save,
    .guest_channel = stub_guest_channel,
    .guest_released = stub_guest,
    .restore = stub_restore,
    .guest_adopt = stub_guest_adopt,
    .guest_activate = stub_guest,
};
