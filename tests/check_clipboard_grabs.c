/*
 * check_clipboard_grabs.c: grabs on the clipboard hub.  Updates and who
 * is told, grab serials and their resets, and a stopped hub (a paused VM)
 * deferring its notifications (fixture: check_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_clipboard.h"
#include "tests/check_suites.h"

/* ---- update -------------------------------------------------------- */

START_TEST(test_update_notifies_everyone)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB,
                                                 BIT(TEXT) | BIT(PNG));

    install_info(info);
    ck_assert_int_eq(info->refcount, 2);
    FOR_PEERS(rp) {
        const Note *n;

        ck_assert_uint_eq(rp->notes->len, 1);
        n = note_at(rp, 0);
        check_update(n, info, true);
        ck_assert_ptr_eq(n->owner, &fx.a->peer);
        ck_assert_int_eq(n->selection, SEL_CB);
        ck_assert_uint_eq(n->types, BIT(TEXT) | BIT(PNG));
    }
    ck_assert(vdc_clipboard_peer_owns(&fx.a->peer, SEL_CB));
    ck_assert(!vdc_clipboard_peer_owns(&fx.b->peer, SEL_CB));
    ck_assert(!vdc_clipboard_peer_owns(&fx.a->peer, SEL_PRI));
}
END_TEST

START_TEST(test_update_unrefs_old)
{
    g_autoptr(VdcClipboardInfo) info1 = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.b, SEL_CB, BIT(TEXT));

    install_info(info1);
    ck_assert_int_eq(info1->refcount, 2);
    clear_logs();
    install_info(info2);
    ck_assert_int_eq(info1->refcount, 1);
    ck_assert_int_eq(info2->refcount, 2);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info2, true);
        ck_assert_ptr_eq(note_at(rp, 0)->owner, &fx.b->peer);
    }
    ck_assert(!vdc_clipboard_peer_owns(&fx.a->peer, SEL_CB));
    ck_assert(vdc_clipboard_peer_owns(&fx.b->peer, SEL_CB));
}
END_TEST

/* Q8: updating with the current info, held only by the hub. */
START_TEST(test_update_same_info)
{
    VdcClipboardInfo *info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    unsigned round;

    install_info(info);
    vdc_clipboard_info_unref(info);
    info = vdc_clipboard_hub_info(fx.hub, SEL_CB);
    ck_assert_int_eq(info->refcount, 1);
    for (round = 0; round < 2; round++) {
        clear_logs();
        ck_assert(vdc_clipboard_hub_update(fx.hub, vdc_clipboard_hub_info(fx.hub,
                                                                          SEL_CB)));
        ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);
        ck_assert_int_eq(info->refcount, 1);
        FOR_PEERS(rp) {
            ck_assert_uint_eq(rp->notes->len, 1);
            check_update(note_at(rp, 0), info, false);
        }
    }
}
END_TEST

/*
 * CVE-2023-6683 / Q15 / I7: a type available without data and nobody to
 * ask for it.  Rows: owner NULL, then owner n (no request callback), for
 * every type; another type with data does not help.
 */
START_TEST(test_update_refused)
{
    VdcClipboardType t = _i % VDC_CLIPBOARD_TYPE__COUNT;
    VdcClipboardType other = (t + 1) % VDC_CLIPBOARD_TYPE__COUNT;
    RecPeer *owner = _i < VDC_CLIPBOARD_TYPE__COUNT ? NULL : fx.n;
    g_autoptr(VdcClipboardInfo) cur = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) bad = grab_info(owner, SEL_CB, BIT(t));

    fill_info(bad, BIT(other));
    install_info(cur);
    ck_assert(vdc_clipboard_hub_request(fx.hub, cur, TEXT));
    clear_logs();

    ck_assert(!vdc_clipboard_hub_update(fx.hub, bad));
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), cur);
    ck_assert_int_eq(bad->refcount, 1);
    ck_assert_int_eq(cur->refcount, 2);
    check_silence();
    /* nothing changed: the pending request still times out */
    ck_assert(test_run_until(NULL, got_timeout, fx.b, WAIT_MS));
    check_timeout(note_at(fx.b, 0), cur, TEXT);
}
END_TEST

/* Updates that are fine: every available type can be had. */
START_TEST(test_update_accepted)
{
    static const struct {
        int owner;              /* 0: nobody, 1: a, 2: n */
        unsigned announced;     /* available, no data */
        unsigned filled;        /* available with data */
    } rows[] = {
        { 0, 0, 0 },
        { 0, 0, VDC_CLIPBOARD_TYPE_MASK_ALL },
        { 2, 0, 0 },
        { 2, 0, VDC_CLIPBOARD_TYPE_MASK_ALL },
        { 2, 0, BIT(PNG) },
        { 1, VDC_CLIPBOARD_TYPE_MASK_ALL, 0 },
        { 1, BIT(TEXT), BIT(PNG) },
    };
    RecPeer *owners[] = { NULL, fx.a, fx.n };
    g_autoptr(VdcClipboardInfo) info =
        grab_info(owners[rows[_i].owner], SEL_PRI, rows[_i].announced);

    fill_info(info, rows[_i].filled);
    install_info(info);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, true);
        ck_assert_uint_eq(note_at(rp, 0)->types,
                          rows[_i].announced | rows[_i].filled);
    }
}
END_TEST

/* ---- serials ------------------------------------------------------- */

static const struct {
    bool has_serial;
    uint32_t serial;
    bool wins_tie;
    bool ok;
} serial_rows[] = {
    { true, 5, true, true },            /* Q9: the host wins a tie */
    { true, 5, false, false },          /* the guest loses it */
    { true, 6, false, true },
    { true, 4, false, false },
    { true, 6, true, true },
    { true, 4, true, false },
    { true, 0, false, false },
    { true, UINT32_MAX, false, true },
    { false, 0, false, true },          /* no serial: always */
    { false, 0, true, true },
};

/* Current CLIPBOARD serial 5. */
START_TEST(test_check_serial)
{
    g_autoptr(VdcClipboardInfo) cur = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) in = grab_info(fx.b, SEL_CB, BIT(TEXT));

    with_serial(cur, 5);
    install_info(cur);
    clear_logs();
    in->has_serial = serial_rows[_i].has_serial;
    in->serial = serial_rows[_i].serial;
    ck_assert_int_eq(vdc_clipboard_hub_check_serial(fx.hub, in,
                                                    serial_rows[_i].wins_tie),
                     serial_rows[_i].ok);
    /* a check changes nothing */
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), cur);
    ck_assert_uint_eq(cur->serial, 5);
    check_silence();
}
END_TEST

START_TEST(test_check_serial_no_current_serial)
{
    g_autoptr(VdcClipboardInfo) in = grab_info(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) cur = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.a, SEL_PRI, BIT(TEXT));

    with_serial(in, 0);
    /* no current info */
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, false));
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, true));
    /* a current info without serial */
    install_info(cur);
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, false));
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, true));
    /* a serial on another selection does not count */
    with_serial(pri, 100);
    install_info(pri);
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, false));
}
END_TEST

START_TEST(test_reset_serial)
{
    g_autoptr(VdcClipboardInfo) cb = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.b, SEL_PRI, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) sec = grab_info(fx.a, SEL_SEC, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) in = grab_info(fx.b, SEL_CB, BIT(TEXT));

    with_serial(cb, 7);
    with_serial(pri, 8);
    with_serial(sec, 9);
    install_info(cb);
    install_info(pri);
    install_info(sec);
    clear_logs();
    vdc_clipboard_hub_reset_serial(fx.hub);
    /* Q10 */
    ck_assert_uint_eq(cb->serial, 0);
    ck_assert_uint_eq(pri->serial, 0);
    ck_assert_uint_eq(sec->serial, 0);
    /* Q16: exactly one RESET_SERIAL each, nothing else */
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        ck_assert_int_eq(note_at(rp, 0)->type, RESET);
    }
    /* Q11: a guest that starts over at 1 is no longer "lower" */
    with_serial(in, 1);
    ck_assert(vdc_clipboard_hub_check_serial(fx.hub, in, false));
}
END_TEST

START_TEST(test_reset_serial_no_info)
{
    vdc_clipboard_hub_reset_serial(fx.hub);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        ck_assert_int_eq(note_at(rp, 0)->type, RESET);
    }
}
END_TEST

/* ---- stopped (Q18) ------------------------------------------------- */

START_TEST(test_running_by_default)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    ck_assert(vdc_clipboard_hub_running(fx.hub));
    install_info(info);
    clear_logs();
    /* already running: nothing to replay */
    vdc_clipboard_hub_set_running(fx.hub, true);
    ck_assert(vdc_clipboard_hub_running(fx.hub));
    check_silence();
    vdc_clipboard_hub_set_running(fx.hub, false);
    ck_assert(!vdc_clipboard_hub_running(fx.hub));
    check_silence();
}
END_TEST

START_TEST(test_stopped_update_silent)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    vdc_clipboard_hub_set_running(fx.hub, false);
    install_info(info);
    check_silence();
    ck_assert(vdc_clipboard_peer_owns(&fx.a->peer, SEL_CB));
    vdc_clipboard_peer_release(&fx.a->peer, SEL_CB);
    check_silence();
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_CB)->owner);
}
END_TEST

START_TEST(test_stopped_reset_deferred)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    with_serial(info, 9);
    vdc_clipboard_hub_set_running(fx.hub, false);
    install_info(info);
    vdc_clipboard_hub_reset_serial(fx.hub);
    vdc_clipboard_hub_reset_serial(fx.hub);
    check_silence();
    ck_assert_uint_eq(info->serial, 0);

    vdc_clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 2);
        ck_assert_int_eq(note_at(rp, 0)->type, RESET);
        check_update(note_at(rp, 1), info, true);
    }
    /* replayed once */
    clear_logs();
    vdc_clipboard_hub_set_running(fx.hub, true);
    check_silence();
}
END_TEST

START_TEST(test_resume_replays_latest)
{
    g_autoptr(VdcClipboardInfo) sec = grab_info(fx.b, SEL_SEC, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) cb1 = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) cb2 = grab_info(fx.b, SEL_CB, BIT(PNG));
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.a, SEL_PRI, BIT(TEXT));

    install_info(sec);                       /* before the pause */
    vdc_clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    install_info(cb1);
    install_info(cb2);
    install_info(pri);
    check_silence();

    vdc_clipboard_hub_set_running(fx.hub, true);
    ck_assert(vdc_clipboard_hub_running(fx.hub));
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 3);
        ck_assert_uint_eq(rec_count(rp, RESET), 0);
        ck_assert_uint_eq(count_updates(rp, SEL_CB), 1);
        ck_assert_uint_eq(count_updates(rp, SEL_PRI), 1);
        ck_assert_uint_eq(count_updates(rp, SEL_SEC), 1);
        check_update(last_update(rp, SEL_CB), cb2, true);
        ck_assert_ptr_eq(last_update(rp, SEL_CB)->owner, &fx.b->peer);
        check_update(last_update(rp, SEL_PRI), pri, true);
        check_update(last_update(rp, SEL_SEC), sec, true);
    }
    ck_assert_int_eq(cb1->refcount, 1);
}
END_TEST

START_TEST(test_resume_once)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    vdc_clipboard_hub_set_running(fx.hub, false);
    vdc_clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    vdc_clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, true);
    }
    clear_logs();
    vdc_clipboard_hub_set_running(fx.hub, true);
    check_silence();
}
END_TEST

START_TEST(test_stopped_timeout_deferred)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    vdc_clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    test_run_for(QUIET_MS);                  /* the timer fires while stopped */
    check_silence();

    vdc_clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 2);
        check_update(note_at(rp, 0), info, true);
        check_timeout(note_at(rp, 1), info, TEXT);
    }
    ck_assert(!info->types[TEXT].requested);

    /* delivered once */
    clear_logs();
    vdc_clipboard_hub_set_running(fx.hub, false);
    vdc_clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        ck_assert_uint_eq(rec_count(rp, TIMEOUT), 0);
    }
    /* and the type can be asked for again (reqs were cleared above) */
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
}
END_TEST

START_TEST(test_stopped_timeout_superseded)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.b, SEL_CB, BIT(TEXT));

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    vdc_clipboard_hub_set_running(fx.hub, false);
    test_run_for(QUIET_MS);
    install_info(info2);
    clear_logs();
    vdc_clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info2, true);
    }
    ck_assert_int_eq(info->refcount, 1);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *clipboard_grabs_suite(void)
{
    Suite *s = suite_create("clipboard-grabs");
    TCase *tc;

    tc = hub_tcase(s, "update");
    tcase_add_test(tc, test_update_notifies_everyone);
    tcase_add_test(tc, test_update_unrefs_old);
    tcase_add_test(tc, test_update_same_info);
    tcase_add_loop_test(tc, test_update_refused, 0,
                        2 * VDC_CLIPBOARD_TYPE__COUNT);
    tcase_add_loop_test(tc, test_update_accepted, 0, 7);

    tc = hub_tcase(s, "serial");
    tcase_add_loop_test(tc, test_check_serial, 0, G_N_ELEMENTS(serial_rows));
    tcase_add_test(tc, test_check_serial_no_current_serial);
    tcase_add_test(tc, test_reset_serial);
    tcase_add_test(tc, test_reset_serial_no_info);

    tc = hub_tcase(s, "stopped");
    tcase_add_test(tc, test_running_by_default);
    tcase_add_test(tc, test_stopped_update_silent);
    tcase_add_test(tc, test_stopped_reset_deferred);
    tcase_add_test(tc, test_resume_replays_latest);
    tcase_add_test(tc, test_resume_once);
    tcase_add_test(tc, test_stopped_timeout_deferred);
    tcase_add_test(tc, test_stopped_timeout_superseded);

    return s;
}
