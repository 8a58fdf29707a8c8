/*
 * check_vdagent_migration_live.c: the device's section in a migration
 * with a live phase (issue 21, point 1: "anything else large"): the
 * guest-owned clipboard data the device holds moves in the live part
 * (clipboard-live.h) and the final "vdagent" section refers to it in its
 * subsection vdagent/clipboard-live, written only then.
 *
 *   reference  a source in the canonical clipboard state (the guest owns
 *              CLIPBOARD text and answered the host's request): the data
 *              is in a live part, not in the final piece; the destination
 *              device owns it after the load, and resumes as usual
 *   missing    a final piece that refers to a slot whose parts never came
 *              fails cleanly and leaves the destination device fresh
 *   plain      vdc_migration_save() of the same state with the live object
 *              attached carries the data inline, without the subsection
 */
#define _GNU_SOURCE

#include <check.h>
#include <glib.h>
#include <string.h>

#include "clipboard/clipboard-live.h"
#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

#define MIB (1024u * 1024)

typedef struct LiveEnd {
    VdcClipboardLive *cl;
    VdcMigrationRegistry *reg;
} LiveEnd;

static void live_end_init(LiveEnd *e, TestFe *fe)
{
    g_autoptr(GError) err = NULL;

    e->cl = vdc_clipboard_live_new(fe->hub, 64 * MIB);
    vdc_clipboard_live_attach(e->cl);
    e->reg = vdc_migration_registry_new();
    ck_assert(vdc_chardev_register_migration(fe->dev, e->reg, 0, &err));
    ck_assert(vdc_migration_register_live(e->reg, "live", 0, 1,
                                          &vdc_clipboard_live_ops, e->cl, &err));
}

static void live_end_fini(LiveEnd *e)
{
    vdc_migration_registry_free(e->reg);
    vdc_clipboard_live_free(e->cl);
}

static GByteArray *piece(VdcMigrationStream *s)
{
    size_t len;
    const uint8_t *p = vdc_migration_stream_data(s, &len);

    return bytes_copy(p, len);
}

/* The source's pieces: setup, one part, then (stopped) the final. */
static void save_pieces(Canon *c, LiveEnd *e, GByteArray **start,
                        GByteArray **part, GByteArray **final)
{
    g_autoptr(VdcMigrationStream) s1 = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) s2 = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) s3 = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    ck_assert(vdc_migration_save_live_setup(e->reg, s1, &err));
    ck_assert(vdc_migration_save_live_iterate(e->reg, s2, MIB, &err));
    ck_assert_uint_eq(vdc_migration_save_live_pending(e->reg), 0);
    vdc_chardev_set_running(c->src->dev, false);
    ck_assert_msg(vdc_migration_save_live_complete(e->reg, s3, &err), "%s",
                  err ? err->message : "");
    vdc_migration_save_live_cleanup(e->reg);
    *start = piece(s1);
    *part = piece(s2);
    *final = piece(s3);
}

static bool feed(VdcMigrationLoader *ld, const GByteArray *a, bool last,
                 GError **errp)
{
    g_autoptr(VdcMigrationStream) r = vdc_migration_stream_new_reader(a->data, a->len);

    return vdc_migration_loader_feed(ld, r, last, errp);
}

START_TEST(test_reference)
{
    Canon c;
    LiveEnd se, de;
    TestFe *dst;
    g_autoptr(GByteArray) start = NULL, part = NULL, final = NULL;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    VdcClipboardInfo *info;

    canon_start(&c);
    canon_states[1].drive(&c);
    live_end_init(&se, c.src);
    save_pieces(&c, &se, &start, &part, &final);
    /* the guest's text went in the part, the final refers to it */
    ck_assert_ptr_nonnull(memmem(part->data, part->len, canon_hello, 5));
    ck_assert_ptr_null(memmem(final->data, final->len, canon_hello, 5));
    ck_assert_ptr_nonnull(memmem(final->data, final->len,
                                 "vdagent/clipboard-live", 22));

    dst = dest_new(c.src);
    live_end_init(&de, dst);
    ld = vdc_migration_loader_new(de.reg);
    ck_assert(feed(ld, start, false, &err));
    ck_assert(feed(ld, part, false, &err));
    ck_assert_msg(feed(ld, final, true, &err), "%s", err ? err->message : "");
    info = vdc_clipboard_hub_info(dst->hub, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_nonnull(info->owner);
    ck_assert_ptr_nonnull(info->types[VDC_CLIPBOARD_TYPE_TEXT].data);
    ck_assert(g_bytes_get_size(info->types[VDC_CLIPBOARD_TYPE_TEXT].data) == 5);
    ck_assert(memcmp(g_bytes_get_data(info->types[VDC_CLIPBOARD_TYPE_TEXT].data,
                                      NULL), canon_hello, 5) == 0);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(de.cl), 0);
    c.src->ga = NULL;
    dest_resume(dst, c.ga);
    ck_agent_clean(c.ga);
    live_end_fini(&de);
    fe_free(dst);
    live_end_fini(&se);
    canon_stop(&c);
}
END_TEST

START_TEST(test_missing)
{
    Canon c;
    LiveEnd se, de;
    TestFe *dst;
    g_autoptr(GByteArray) start = NULL, part = NULL, final = NULL;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;

    canon_start(&c);
    canon_states[1].drive(&c);
    live_end_init(&se, c.src);
    save_pieces(&c, &se, &start, &part, &final);
    dst = dest_new(c.src);
    live_end_init(&de, dst);
    ld = vdc_migration_loader_new(de.reg);
    ck_assert(feed(ld, start, false, &err));
    /* the part never came */
    ck_assert(!feed(ld, final, true, &err));
    ck_assert_msg(strstr(err->message, "live data for clipboard/text never "
                         "came whole"), "%s", err->message);
    ck_assert(!vdc_chardev_connected(dst->dev));
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst->hub,
                                              VDC_CLIPBOARD_SELECTION_CLIPBOARD));
    live_end_fini(&de);
    fe_free(dst);
    live_end_fini(&se);
    canon_stop(&c);
}
END_TEST

START_TEST(test_plain)
{
    Canon c;
    LiveEnd se;
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) plain = NULL, attached = NULL;

    canon_start(&c);
    canon_states[1].drive(&c);
    vdc_chardev_set_running(c.src->dev, false);
    plain = save_dev(c.src->dev);
    live_end_init(&se, c.src);
    ck_assert(vdc_migration_save(se.reg, s, &err));
    attached = piece(s);
    ck_assert_uint_eq(plain->len, attached->len);
    ck_assert(memcmp(plain->data, attached->data, plain->len) == 0);
    ck_assert_ptr_nonnull(memmem(plain->data, plain->len, canon_hello, 5));
    live_end_fini(&se);
    canon_stop(&c);
}
END_TEST

Suite *vdagent_migration_live_suite(void)
{
    Suite *s = suite_create("vdagent-migration-live");
    TCase *tc = tcase_create("live");

    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_missing);
    tcase_add_test(tc, test_plain);
    suite_add_tcase(s, tc);

    /* The same with the Windows agent (issue 22). */
    tc = tcase_create("live-windows");
    tcase_add_checked_fixture(tc, mig_model_windows, mig_model_linux);
    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_missing);
    tcase_add_test(tc, test_plain);
    suite_add_tcase(s, tc);
    return s;
}
