/*
 * check_clipboard_infos.c: clipboard infos.  Selections and types are
 * independent, their names, and the refcounts and lifetimes of infos and
 * hubs (fixture: check_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_clipboard.h"
#include "tests/check_suites.h"

/* ---- selections ---------------------------------------------------- */

START_TEST(test_selection_alone)
{
    VdcClipboardSelection sel = _i;
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, sel, BIT(TEXT));
    unsigned s;

    install_info(info);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        ck_assert_int_eq(vdc_clipboard_peer_owns(&fx.a->peer, s), s == sel);
        if (s != sel) {
            ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, s));
        }
    }
    ck_assert_int_eq(note_at(fx.b, 0)->selection, sel);

    clear_logs();
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
    ck_assert(test_run_until(NULL, got_timeout, fx.b, WAIT_MS));
    check_timeout(note_at(fx.b, 0), info, TEXT);
    ck_assert_int_eq(note_at(fx.b, 0)->selection, sel);

    vdc_clipboard_peer_release(&fx.a->peer, sel);
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, sel)->owner);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        if (s != sel) {
            ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, s));
        }
    }
}
END_TEST

START_TEST(test_selections_independent)
{
    g_autoptr(VdcClipboardInfo) cb = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.b, SEL_PRI, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) sec = grab_info(fx.a, SEL_SEC, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install_info(cb);
    install_info(pri);
    install_info(sec);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), cb);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_PRI), pri);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_SEC), sec);

    /* timers per selection: answer CLIPBOARD only */
    ck_assert(vdc_clipboard_hub_request(fx.hub, cb, TEXT));
    ck_assert(vdc_clipboard_hub_request(fx.hub, sec, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 2);
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, cb, TEXT, data,
                                         false));
    clear_logs();
    ck_assert(test_run_until(NULL, got_timeout, fx.n, WAIT_MS));
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    check_timeout(note_at(fx.n, 0), sec, TEXT);

    /* releasing one leaves the others */
    clear_logs();
    vdc_clipboard_peer_unregister(&fx.b->peer);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), cb);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_SEC), sec);
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_PRI)->owner);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    ck_assert_int_eq(note_at(fx.n, 0)->selection, SEL_PRI);
}
END_TEST

/* ---- types --------------------------------------------------------- */

START_TEST(test_type_alone)
{
    VdcClipboardType type = _i;
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(type));
    g_autoptr(GBytes) data = payload(type);
    unsigned t;

    install_info(info);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(type));
    ck_assert_uint_eq(note_at(fx.b, 0)->types, BIT(type));
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (t != type) {
            ck_assert(!vdc_clipboard_hub_request(fx.hub, info, t));
        }
    }
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_int_eq(req_at(fx.a, 0)->type, type);
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, type, data,
                                         true));
    check_payload(info->types[type].data, type);
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (t != type) {
            ck_assert_ptr_null(info->types[t].data);
        }
    }
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
}
END_TEST

START_TEST(test_type_mask_all)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, 0);

    ck_assert_uint_eq(VDC_CLIPBOARD_TYPE_MASK_ALL, 0x1f);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), 0);
    fill_info(info, VDC_CLIPBOARD_TYPE_MASK_ALL);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), VDC_CLIPBOARD_TYPE_MASK_ALL);
}
END_TEST

/* ---- names --------------------------------------------------------- */

static const char *const selection_names[VDC_CLIPBOARD_SELECTION__COUNT] = {
    "clipboard", "primary", "secondary",
};

static const char *const type_names[VDC_CLIPBOARD_TYPE__COUNT] = {
    "text", "png", "bmp", "tiff", "jpg",
};

START_TEST(test_selection_name)
{
    VdcClipboardSelection out = _i == 0 ? SEL_SEC : SEL_CB;

    ck_assert_str_eq(vdc_clipboard_selection_name(_i), selection_names[_i]);
    ck_assert(vdc_clipboard_selection_from_name(selection_names[_i], &out));
    ck_assert_int_eq(out, _i);
}
END_TEST

START_TEST(test_type_name)
{
    VdcClipboardType out = _i == 0 ? PNG : TEXT;

    ck_assert_str_eq(vdc_clipboard_type_name(_i), type_names[_i]);
    ck_assert(vdc_clipboard_type_from_name(type_names[_i], &out));
    ck_assert_int_eq(out, _i);
}
END_TEST

START_TEST(test_unknown_names)
{
    static const char *const bad[] = {
        "", "clip", "clipboard ", "xclipboard", "clipboardx", "unknown",
        "text/plain", "UTF8_TEXT", "jpeg", "image/png",
    };
    VdcClipboardSelection sel;
    VdcClipboardType type;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_msg(!vdc_clipboard_selection_from_name(bad[i], &sel), "%s",
                      bad[i]);
        ck_assert_msg(!vdc_clipboard_type_from_name(bad[i], &type), "%s", bad[i]);
    }
    /* one namespace does not leak into the other */
    for (i = 0; i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        ck_assert(!vdc_clipboard_type_from_name(selection_names[i], &type));
    }
    for (i = 0; i < VDC_CLIPBOARD_TYPE__COUNT; i++) {
        ck_assert(!vdc_clipboard_selection_from_name(type_names[i], &sel));
    }
}
END_TEST

/* ---- refcounts and lifetimes --------------------------------------- */

START_TEST(test_info_new)
{
    VdcClipboardInfo *info = vdc_clipboard_info_new(&fx.a->peer, SEL_SEC);
    unsigned t;

    ck_assert_int_eq(info->refcount, 1);
    ck_assert_ptr_eq(info->owner, &fx.a->peer);
    ck_assert_int_eq(info->selection, SEL_SEC);
    ck_assert(!info->has_serial);
    ck_assert_uint_eq(info->serial, 0);
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        ck_assert(!info->types[t].available);
        ck_assert(!info->types[t].requested);
        ck_assert_ptr_null(info->types[t].data);
    }
    ck_assert_ptr_eq(vdc_clipboard_info_ref(info), info);
    ck_assert_int_eq(info->refcount, 2);
    vdc_clipboard_info_unref(info);
    ck_assert_int_eq(info->refcount, 1);
    vdc_clipboard_info_unref(info);
}
END_TEST

START_TEST(test_null_is_noop)
{
    vdc_clipboard_info_unref(NULL);
    vdc_clipboard_hub_free(NULL);
    {
        g_autoptr(VdcClipboardInfo) none = NULL;
        g_autoptr(VdcClipboardHub) no_hub = NULL;

        (void)none;
        (void)no_hub;
    }
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_CB));
}
END_TEST

/*
 * Freeing a hub drops its references and stops its timers.  Rows: a
 * pending request; a timeout that fired while stopped, kept for resume.
 * The owner is not registered (freeing requires no peers), which the
 * contract allows.
 */
START_TEST(test_hub_free_releases)
{
    VdcClipboardHub *hub2 = vdc_clipboard_hub_new();
    RecPeer *o = rec_new("owner", hub2, true);
    VdcClipboardInfo *info = grab_info(o, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardHub) hub3 = vdc_clipboard_hub_new();  /* autoptr frees */

    vdc_clipboard_hub_set_timeout(hub2, TIMEOUT_MS);
    ck_assert(vdc_clipboard_hub_update(hub2, info));
    ck_assert_int_eq(info->refcount, 2);
    ck_assert(vdc_clipboard_hub_request(hub2, info, TEXT));
    ck_assert_uint_eq(o->reqs->len, 1);
    if (_i == 1) {
        vdc_clipboard_hub_set_running(hub2, false);
        test_run_for(QUIET_MS);
    }
    vdc_clipboard_hub_free(hub2);
    ck_assert_int_eq(info->refcount, 1);
    /* a live timer would hit freed memory */
    test_run_for(QUIET_MS);
    vdc_clipboard_info_unref(info);
    rec_free(o);
    ck_assert(vdc_clipboard_hub_running(hub3));
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *clipboard_infos_suite(void)
{
    Suite *s = suite_create("clipboard-infos");
    TCase *tc;

    tc = hub_tcase(s, "selections");
    tcase_add_loop_test(tc, test_selection_alone, 0,
                        VDC_CLIPBOARD_SELECTION__COUNT);
    tcase_add_test(tc, test_selections_independent);

    tc = hub_tcase(s, "types");
    tcase_add_loop_test(tc, test_type_alone, 0, VDC_CLIPBOARD_TYPE__COUNT);
    tcase_add_test(tc, test_type_mask_all);

    tc = hub_tcase(s, "names");
    tcase_add_loop_test(tc, test_selection_name, 0,
                        VDC_CLIPBOARD_SELECTION__COUNT);
    tcase_add_loop_test(tc, test_type_name, 0, VDC_CLIPBOARD_TYPE__COUNT);
    tcase_add_test(tc, test_unknown_names);

    tc = hub_tcase(s, "lifetime");
    tcase_add_test(tc, test_info_new);
    tcase_add_test(tc, test_null_is_noop);
    tcase_add_loop_test(tc, test_hub_free_releases, 0, 2);

    return s;
}
