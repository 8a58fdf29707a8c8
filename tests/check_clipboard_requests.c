/*
 * check_clipboard_requests.c: clipboard data on the hub.  Requests made of
 * the owner, their timeouts, and the data an owner gives with
 * vdc_clipboard_hub_set_data() (fixture: check_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_clipboard.h"
#include "tests/check_suites.h"

/* ---- request ------------------------------------------------------- */

START_TEST(test_request_forwarded_once)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB,
                                                 BIT(TEXT) | BIT(PNG));

    install_info(info);
    clear_logs();
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, PNG));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
    ck_assert_int_eq(req_at(fx.a, 0)->type, PNG);
    ck_assert(info->types[PNG].requested);
    ck_assert(!info->types[TEXT].requested);

    /* outstanding: not forwarded again, still "will come" */
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, PNG));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_uint_eq(fx.b->reqs->len, 0);
    ck_assert_uint_eq(fx.n->reqs->len, 0);
    check_silence();
}
END_TEST

START_TEST(test_request_data_present)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, 0);

    fill_info(info, BIT(TEXT));
    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert(!info->types[TEXT].requested);
    check_payload(info->types[TEXT].data, TEXT);
}
END_TEST

/*
 * Requests that cannot be answered: false, nothing forwarded, no crash.
 * Rows 2 and 3 force the CVE-2023-6683 state onto a current info (a type
 * available without data whose owner cannot be asked).
 */
START_TEST(test_request_refused)
{
    g_autoptr(VdcClipboardInfo) info = NULL;
    g_autoptr(VdcClipboardInfo) newer = NULL;
    VdcClipboardType type = PNG;

    switch (_i) {
    case 0:     /* type not available */
        info = grab_info(fx.a, SEL_CB, BIT(TEXT));
        install_info(info);
        break;
    case 1:     /* not current any more */
        info = grab_info(fx.a, SEL_CB, BIT(PNG));
        newer = grab_info(fx.a, SEL_CB, BIT(PNG));
        install_info(info);
        install_info(newer);
        break;
    case 2:     /* owner without request callback */
        info = grab_info(fx.n, SEL_CB, 0);
        fill_info(info, BIT(TEXT));
        install_info(info);
        info->types[PNG].available = true;
        break;
    case 3:     /* no owner */
        info = grab_info(NULL, SEL_CB, 0);
        fill_info(info, BIT(TEXT));
        install_info(info);
        info->types[PNG].available = true;
        break;
    case 4:     /* never made current */
        info = grab_info(fx.a, SEL_CB, BIT(PNG));
        break;
    default:
        ck_abort();
    }
    ck_assert(!vdc_clipboard_hub_request(fx.hub, info, type));
    ck_assert(!info->types[type].requested);
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert_uint_eq(fx.b->reqs->len, 0);
    ck_assert_uint_eq(fx.n->reqs->len, 0);
    /* and no timer was started for it */
    clear_logs();
    test_run_for(QUIET_MS);
    check_silence();
}
END_TEST

START_TEST(test_request_cleared_by_answer)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(info->types[TEXT].requested);
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                         false));
    ck_assert(!info->types[TEXT].requested);
    ck_assert(info->types[TEXT].available);
    ck_assert_ptr_eq(info->types[TEXT].data, data);
    /* answered: a new request needs nobody */
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
}
END_TEST

START_TEST(test_request_answered_synchronously)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    clear_logs();
    fx.a->answer = ANSWER_SYNC;
    fx.a->answer_update = true;
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert(!info->types[TEXT].requested);
    check_payload(info->types[TEXT].data, TEXT);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, false);
    }
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(rec_count(fx.b, TIMEOUT), 0);
}
END_TEST

/* ---- request timeouts ---------------------------------------------- */

/* R7: an owner that never answers does not wedge the type.  Per type. */
START_TEST(test_timeout_every_type)
{
    VdcClipboardType type = _i;
    g_autoptr(VdcClipboardInfo) info =
        grab_info(fx.a, SEL_CB, VDC_CLIPBOARD_TYPE_MASK_ALL);
    gint64 start;
    unsigned t;

    install_info(info);
    clear_logs();
    start = g_get_monotonic_time();
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, type));
    g_main_context_iteration(NULL, FALSE);
    ck_assert_uint_eq(rec_count(fx.b, TIMEOUT), 0);

    ck_assert(test_run_until(NULL, got_timeout, fx.b, WAIT_MS));
    ck_assert_int_ge(g_get_monotonic_time() - start,
                     (gint64)TIMEOUT_MS * 1000 - 1000);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_timeout(note_at(rp, 0), info, type);
    }
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        ck_assert(!info->types[t].requested);
    }
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);

    /* forwarded again, and it can time out again */
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 2);
    ck_assert_int_eq(req_at(fx.a, 1)->type, type);
    ck_assert(test_run_until(NULL, got_two_timeouts, fx.b, WAIT_MS));
    check_timeout(note_at(fx.b, 1), info, type);
}
END_TEST

/* Rows: answered without update, with update, with empty data. */
START_TEST(test_timeout_cancelled_by_answer)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = _i == 2 ? NULL : payload(TEXT);

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                         _i == 1));
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(rec_count(fx.a, TIMEOUT), 0);
    ck_assert_uint_eq(rec_count(fx.b, TIMEOUT), 0);
    ck_assert_uint_eq(rec_count(fx.n, TIMEOUT), 0);
}
END_TEST

START_TEST(test_timeout_cancelled_by_new_info)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    install_info(info2);
    clear_logs();
    test_run_for(QUIET_MS);
    check_silence();
    /* the new info's type is asked for afresh */
    ck_assert(!info2->types[TEXT].requested);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info2, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info2);
}
END_TEST

START_TEST(test_timeout_cancelled_by_release)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    vdc_clipboard_peer_release(&fx.a->peer, SEL_CB);
    clear_logs();
    test_run_for(QUIET_MS);
    check_silence();
}
END_TEST

/* Timers run on the context that was thread-default at vdc_clipboard_hub_new. */
START_TEST(test_timeout_thread_default_context)
{
    GMainContext *ctx = g_main_context_new();
    VdcClipboardHub *hub2;
    RecPeer *o, *w;
    VdcClipboardInfo *info;

    g_main_context_push_thread_default(ctx);
    hub2 = vdc_clipboard_hub_new();
    g_main_context_pop_thread_default(ctx);
    vdc_clipboard_hub_set_timeout(hub2, TIMEOUT_MS);
    o = rec_new("owner", hub2, true);
    w = rec_new("watcher", hub2, true);
    ck_assert(vdc_clipboard_peer_register(hub2, &o->peer));
    ck_assert(vdc_clipboard_peer_register(hub2, &w->peer));
    info = grab_info(o, SEL_CB, BIT(TEXT));
    ck_assert(vdc_clipboard_hub_update(hub2, info));
    ck_assert(vdc_clipboard_hub_request(hub2, info, TEXT));

    test_run_for(QUIET_MS);                 /* the global default context */
    ck_assert_uint_eq(rec_count(w, TIMEOUT), 0);
    ck_assert(test_run_until(ctx, got_timeout, w, WAIT_MS));
    check_timeout(note_at(w, w->notes->len - 1), info, TEXT);

    vdc_clipboard_peer_unregister(&o->peer);
    vdc_clipboard_peer_unregister(&w->peer);
    vdc_clipboard_hub_free(hub2);
    vdc_clipboard_info_unref(info);
    rec_free(o);
    rec_free(w);
    g_main_context_unref(ctx);
}
END_TEST

/* ---- set_data ------------------------------------------------------ */

static void mark_freed(gpointer p)
{
    (*(unsigned *)p)++;
}

START_TEST(test_set_data_takes_reference)
{
    static const char text1[] = "first", text2[] = "second";
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    unsigned freed1 = 0, freed2 = 0;
    GBytes *data1 = g_bytes_new_with_free_func(text1, 5, mark_freed, &freed1);
    GBytes *data2 = g_bytes_new_with_free_func(text2, 6, mark_freed, &freed2);

    install_info(info);
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data1,
                                         false));
    g_bytes_unref(data1);
    ck_assert_uint_eq(freed1, 0);
    ck_assert_ptr_eq(info->types[TEXT].data, data1);
    ck_assert_uint_eq(g_bytes_get_size(info->types[TEXT].data), 5);
    ck_assert_mem_eq(g_bytes_get_data(info->types[TEXT].data, NULL), "first",
                     5);
    ck_assert(info->types[TEXT].available);

    /* replacing the data drops the old one */
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data2,
                                         false));
    ck_assert_uint_eq(freed1, 1);
    ck_assert_ptr_eq(info->types[TEXT].data, data2);
    g_bytes_unref(data2);
    ck_assert_uint_eq(freed2, 0);

    /* and the last reference on the info drops it too */
    install_info(grab_info(fx.b, SEL_CB, 0));
    vdc_clipboard_info_unref(vdc_clipboard_hub_info(fx.hub, SEL_CB));
    ck_assert_uint_eq(freed2, 0);
    ck_assert_int_eq(info->refcount, 1);
    vdc_clipboard_info_unref(g_steal_pointer(&info));
    ck_assert_uint_eq(freed2, 1);
}
END_TEST

/* Q15: rows NULL and a zero-length GBytes. */
START_TEST(test_set_data_empty)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB,
                                                 BIT(TEXT) | BIT(PNG));
    g_autoptr(GBytes) empty = _i == 0 ? NULL : g_bytes_new(NULL, 0);

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, empty,
                                         false));
    ck_assert(!info->types[TEXT].available);
    ck_assert_ptr_null(info->types[TEXT].data);
    ck_assert(!info->types[TEXT].requested);
    ck_assert_uint_eq(vdc_clipboard_info_types(info), BIT(PNG));
    ck_assert(!vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);

    /* data that was there goes away too */
    {
        g_autoptr(GBytes) data = payload(PNG);

        ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, data,
                                             false));
        ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, empty,
                                             false));
        ck_assert(!info->types[PNG].available);
        ck_assert_ptr_null(info->types[PNG].data);
    }
    ck_assert_uint_eq(vdc_clipboard_info_types(info), 0);
}
END_TEST

/* Q15 end to end: the peer without request callback sends size 0. */
START_TEST(test_set_data_empty_no_request_owner)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.n, SEL_CB, 0);
    g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);

    fill_info(info, BIT(TEXT));
    install_info(info);
    clear_logs();
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.n->peer, info, TEXT, empty,
                                         true));
    ck_assert(!info->types[TEXT].available);
    ck_assert_ptr_null(info->types[TEXT].data);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, false);
        ck_assert_uint_eq(note_at(rp, 0)->types, 0);
    }
    /* the guest's REQUEST cannot reach a NULL callback */
    ck_assert(!vdc_clipboard_hub_request(fx.hub, info, TEXT));
}
END_TEST

START_TEST(test_set_data_non_owner)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);
    VdcClipboardPeer *others[] = { &fx.b->peer, &fx.n->peer, NULL };
    unsigned i;

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    clear_logs();
    for (i = 0; i < G_N_ELEMENTS(others); i++) {
        ck_assert(!vdc_clipboard_hub_set_data(fx.hub, others[i], info, TEXT, data,
                                              true));
        ck_assert(!vdc_clipboard_hub_set_data(fx.hub, others[i], info, TEXT, NULL,
                                              true));
        ck_assert_ptr_null(info->types[TEXT].data);
        ck_assert(info->types[TEXT].available);
        ck_assert(info->types[TEXT].requested);
    }
    check_silence();
    /* the request is still pending: it times out */
    ck_assert(test_run_until(NULL, got_timeout, fx.b, WAIT_MS));
}
END_TEST

START_TEST(test_set_data_update_notifies)
{
    VdcClipboardInfo *info = grab_info(fx.a, SEL_CB, BIT(TEXT) | BIT(PNG));
    g_autoptr(GBytes) data = payload(PNG);

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, PNG));
    vdc_clipboard_info_unref(info);            /* only the hub holds it (Q8) */
    clear_logs();
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, data,
                                         true));
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);
    ck_assert_int_eq(info->refcount, 1);
    check_payload(info->types[PNG].data, PNG);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, false);
        ck_assert_uint_eq(note_at(rp, 0)->types, BIT(TEXT) | BIT(PNG));
    }
}
END_TEST

START_TEST(test_set_data_no_update_is_silent)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install_info(info);
    clear_logs();
    ck_assert(vdc_clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                         false));
    check_silence();
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *clipboard_requests_suite(void)
{
    Suite *s = suite_create("clipboard-requests");
    TCase *tc;

    tc = hub_tcase(s, "request");
    tcase_add_test(tc, test_request_forwarded_once);
    tcase_add_test(tc, test_request_data_present);
    tcase_add_loop_test(tc, test_request_refused, 0, 5);
    tcase_add_test(tc, test_request_cleared_by_answer);
    tcase_add_test(tc, test_request_answered_synchronously);

    tc = hub_tcase(s, "request-timeout");
    tcase_add_loop_test(tc, test_timeout_every_type, 0, VDC_CLIPBOARD_TYPE__COUNT);
    tcase_add_loop_test(tc, test_timeout_cancelled_by_answer, 0, 3);
    tcase_add_test(tc, test_timeout_cancelled_by_new_info);
    tcase_add_test(tc, test_timeout_cancelled_by_release);
    tcase_add_test(tc, test_timeout_thread_default_context);

    tc = hub_tcase(s, "set-data");
    tcase_add_test(tc, test_set_data_takes_reference);
    tcase_add_loop_test(tc, test_set_data_empty, 0, 2);
    tcase_add_test(tc, test_set_data_empty_no_request_owner);
    tcase_add_test(tc, test_set_data_non_owner);
    tcase_add_test(tc, test_set_data_update_notifies);
    tcase_add_test(tc, test_set_data_no_update_is_silent);

    return s;
}
