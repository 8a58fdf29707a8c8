/*
 * check_clipboard_peers.c: peers joining and leaving the clipboard hub.
 * Registration, unregistration (what a leaving peer owned and asked is
 * released and cancelled), peers acting on the hub from inside notify,
 * and releases (fixture: check_clipboard.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_clipboard.h"
#include "tests/check_suites.h"

/* ---- register ------------------------------------------------------ */

START_TEST(test_register_twice_one_notification)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.b, SEL_CB, BIT(TEXT));

    /* bug P1: a second registration must not add the peer twice */
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(vdc_clipboard_peer_registered(&fx.a->peer));
    install_info(info);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);

    /* one unregistration removes it entirely */
    vdc_clipboard_peer_unregister(&fx.a->peer);
    ck_assert(!vdc_clipboard_peer_registered(&fx.a->peer));
    clear_logs();
    install_info(info2);
    ck_assert_uint_eq(fx.a->notes->len, 0);
    ck_assert_uint_eq(fx.b->notes->len, 1);
}
END_TEST

START_TEST(test_register_other_hub_refused)
{
    VdcClipboardHub *hub2 = vdc_clipboard_hub_new();
    g_autoptr(VdcClipboardInfo) info2 = grab_info(NULL, SEL_CB, 0);
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));

    ck_assert(!vdc_clipboard_peer_register(hub2, &fx.a->peer));
    ck_assert(vdc_clipboard_peer_registered(&fx.a->peer));

    /* not on the second hub ... */
    ck_assert(vdc_clipboard_hub_update(hub2, info2));
    ck_assert_uint_eq(fx.a->notes->len, 0);
    /* ... still on the first */
    install_info(info);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(note_at(fx.a, 0), info, true);

    /* once unregistered it may join the second hub */
    vdc_clipboard_peer_unregister(&fx.a->peer);
    ck_assert(vdc_clipboard_peer_register(hub2, &fx.a->peer));
    vdc_clipboard_peer_unregister(&fx.a->peer);
    vdc_clipboard_hub_free(hub2);
}
END_TEST

START_TEST(test_register_state)
{
    RecPeer *z = rec_new("z", fx.hub, true);
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    ck_assert(!vdc_clipboard_peer_registered(&z->peer));
    ck_assert(vdc_clipboard_peer_register(fx.hub, &z->peer));
    ck_assert(vdc_clipboard_peer_registered(&z->peer));
    vdc_clipboard_peer_unregister(&z->peer);
    ck_assert(!vdc_clipboard_peer_registered(&z->peer));
    ck_assert(vdc_clipboard_peer_register(fx.hub, &z->peer));
    install_info(info);
    ck_assert_uint_eq(z->notes->len, 1);
    check_update(note_at(z, 0), info, true);
    vdc_clipboard_peer_unregister(&z->peer);
    rec_free(z);
}
END_TEST

/* ---- unregister ---------------------------------------------------- */

START_TEST(test_unregister_releases_owned)
{
    g_autoptr(VdcClipboardInfo) cb = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.a, SEL_PRI, BIT(PNG));
    g_autoptr(VdcClipboardInfo) sec = grab_info(fx.b, SEL_SEC, BIT(TEXT));
    VdcClipboardSelection released[] = { SEL_CB, SEL_PRI };
    unsigned i;

    install_info(cb);
    install_info(pri);
    install_info(sec);
    clear_logs();

    vdc_clipboard_peer_unregister(&fx.a->peer);
    ck_assert(!vdc_clipboard_peer_registered(&fx.a->peer));
    /* bug P2: the leaving peer is not told of its own release */
    ck_assert_uint_eq(fx.a->notes->len, 0);
    /* Q4: the others see both selections go owner-less */
    for (i = 0; i < G_N_ELEMENTS(released); i++) {
        VdcClipboardSelection s = released[i];
        VdcClipboardInfo *cur = vdc_clipboard_hub_info(fx.hub, s);

        ck_assert_ptr_nonnull(cur);
        ck_assert_ptr_null(cur->owner);
        ck_assert_uint_eq(vdc_clipboard_info_types(cur), 0);
        ck_assert(!vdc_clipboard_peer_owns(&fx.a->peer, s));
        ck_assert_uint_eq(count_updates(fx.b, s), 1);
        ck_assert_uint_eq(count_updates(fx.n, s), 1);
        check_update(last_update(fx.b, s), cur, true);
        ck_assert_ptr_null(last_update(fx.b, s)->owner);
        check_update(last_update(fx.n, s), cur, true);
        ck_assert_ptr_null(last_update(fx.n, s)->owner);
    }
    ck_assert_uint_eq(fx.b->notes->len, 2);
    ck_assert_uint_eq(fx.n->notes->len, 2);
    /* the hub dropped its references to a's infos, kept b's */
    ck_assert_int_eq(cb->refcount, 1);
    ck_assert_int_eq(pri->refcount, 1);
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_SEC), sec);
    ck_assert_int_eq(sec->refcount, 2);
}
END_TEST

START_TEST(test_unregister_owning_nothing_is_silent)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));

    install_info(info);
    clear_logs();
    vdc_clipboard_peer_unregister(&fx.a->peer);
    check_silence();
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_PRI));
}
END_TEST

START_TEST(test_unregister_twice)
{
    RecPeer *z = rec_new("z", fx.hub, true);
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    vdc_clipboard_peer_unregister(&fx.a->peer);
    clear_logs();
    vdc_clipboard_peer_unregister(&fx.a->peer);
    check_silence();
    ck_assert(!vdc_clipboard_peer_registered(&fx.a->peer));

    /* never registered at all */
    vdc_clipboard_peer_unregister(&z->peer);
    ck_assert(!vdc_clipboard_peer_registered(&z->peer));
    check_silence();
    rec_free(z);
}
END_TEST

START_TEST(test_unregister_cancels_request)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    install_info(info);
    ck_assert(vdc_clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    clear_logs();
    /* P9: the owner goes away with a request pending */
    vdc_clipboard_peer_unregister(&fx.a->peer);
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(rec_count(fx.b, TIMEOUT), 0);
    ck_assert_uint_eq(rec_count(fx.n, TIMEOUT), 0);
    ck_assert_uint_eq(rec_count(fx.a, TIMEOUT), 0);
    ck_assert_uint_eq(fx.b->notes->len, 1);
}
END_TEST

/* ---- re-entrancy: peers acting from inside notify ------------------ */

static void hook_unregister_self(RecPeer *rp, const VdcClipboardNotify *n)
{
    if (rp->hook_calls == 1) {
        vdc_clipboard_peer_unregister(&rp->peer);
    }
}

static void hook_unregister_other(RecPeer *rp, const VdcClipboardNotify *n)
{
    if (rp->hook_calls == 1) {
        vdc_clipboard_peer_unregister(rp->hook_arg);
    }
}

static void hook_unregister_and_destroy(RecPeer *rp, const VdcClipboardNotify *n)
{
    RecPeer *victim = rp->hook_arg;

    if (rp->hook_calls == 1) {
        vdc_clipboard_peer_unregister(&victim->peer);
        guarded_destroy(victim);
    }
}

START_TEST(test_notify_unregister_self)
{
    g_autoptr(VdcClipboardInfo) pri = grab_info(fx.a, SEL_PRI, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.b, SEL_CB, BIT(PNG));

    install_info(pri);
    clear_logs();
    fx.a->hook = hook_unregister_self;
    install_info(info);
    ck_assert(!vdc_clipboard_peer_registered(&fx.a->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(note_at(fx.a, 0), info, true);
    /* the others got the update and a's release of PRIMARY */
    ck_assert_uint_eq(count_updates(fx.b, SEL_CB), 1);
    ck_assert_uint_eq(count_updates(fx.n, SEL_CB), 1);
    check_update(last_update(fx.b, SEL_CB), info, true);
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_PRI)->owner);
    ck_assert_ptr_null(last_update(fx.b, SEL_PRI)->owner);
    ck_assert_ptr_null(last_update(fx.n, SEL_PRI)->owner);
    ck_assert_int_eq(pri->refcount, 1);

    install_info(info2);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(last_update(fx.b, SEL_CB), info2, true);
}
END_TEST

START_TEST(test_notify_unregister_later_peer)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.a, SEL_CB, BIT(PNG));

    /* a is notified before b: b leaves before its turn */
    fx.a->hook = hook_unregister_other;
    fx.a->hook_arg = &fx.b->peer;
    install_info(info);
    ck_assert(!vdc_clipboard_peer_registered(&fx.b->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install_info(info2);
    ck_assert_uint_eq(fx.a->notes->len, 2);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 2);
}
END_TEST

START_TEST(test_notify_unregister_earlier_peer)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.b, SEL_CB, BIT(PNG));

    fx.b->hook = hook_unregister_other;
    fx.b->hook_arg = &fx.a->peer;
    install_info(info);
    ck_assert(!vdc_clipboard_peer_registered(&fx.a->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install_info(info2);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 2);
    ck_assert_uint_eq(fx.n->notes->len, 2);
}
END_TEST

/*
 * A peer may be freed once unregistered ("it must stay valid until
 * unregistered"), even from inside another peer's notify (a transport of
 * the other peer closing).  The hub must not touch it afterwards.
 */
START_TEST(test_notify_unregister_and_free_later_peer)
{
    RecPeer *g = guarded_new();
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) info2 = grab_info(fx.a, SEL_CB, BIT(PNG));

    fx.a->hook = hook_unregister_and_destroy;
    fx.a->hook_arg = g;
    install_info(info);
    ck_assert(!fx.guarded_alive);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install_info(info2);
    ck_assert_uint_eq(fx.n->notes->len, 2);
}
END_TEST

/* A clipboard manager: takes the selection over whenever it is released. */
static void hook_regrab_on_release(RecPeer *rp, const VdcClipboardNotify *n)
{
    VdcClipboardInfo **mine = rp->hook_arg;

    if (n->type == UPDATE && n->info->selection == SEL_CB &&
        !n->info->owner && !*mine) {
        *mine = grab_info(rp, SEL_CB, BIT(TEXT));
        ck_assert(vdc_clipboard_hub_update(rp->hub, *mine));
    }
}

/*
 * UPDATE means "@info is now current".  When a peer replaces the info from
 * inside notify, the peers after it must not be told afterwards of the
 * info that was just replaced: their last UPDATE must be the current one.
 */
START_TEST(test_notify_nested_update_last_is_current)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(VdcClipboardInfo) managed = NULL;
    VdcClipboardInfo *cur;

    install_info(info);
    fx.a->hook = hook_regrab_on_release;
    fx.a->hook_arg = &managed;
    clear_logs();
    vdc_clipboard_peer_release(&fx.b->peer, SEL_CB);

    ck_assert_ptr_nonnull(managed);
    cur = vdc_clipboard_hub_info(fx.hub, SEL_CB);
    ck_assert_ptr_eq(cur, managed);
    FOR_PEERS(rp) {
        const Note *last = last_update(rp, SEL_CB);

        ck_assert_msg(last->info == cur && last->owner == &fx.a->peer,
                      "peer %s was last told of %p owned by %s, "
                      "current is %p owned by a", rp->peer.name,
                      (void *)last->info,
                      last->owner ? last->owner->name : "nobody",
                      (void *)cur);
    }
}
END_TEST

/*
 * Q4 from inside notify: the grabbing peer is unregistered while its own
 * grab is being announced.  Nobody may be left believing it owns the
 * selection.
 */
START_TEST(test_notify_unregister_owner_mid_update)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.b, SEL_CB, BIT(TEXT));
    VdcClipboardInfo *cur;

    fx.a->hook = hook_unregister_other;
    fx.a->hook_arg = &fx.b->peer;
    ck_assert(vdc_clipboard_hub_update(fx.hub, info));

    ck_assert(!vdc_clipboard_peer_registered(&fx.b->peer));
    ck_assert_uint_eq(fx.b->notes->len, 0);
    cur = vdc_clipboard_hub_info(fx.hub, SEL_CB);
    ck_assert_ptr_nonnull(cur);
    ck_assert_ptr_null(cur->owner);
    ck_assert_int_eq(info->refcount, 1);
    FOR_PEERS(rp) {
        const Note *last;

        if (rp == fx.b) {
            continue;
        }
        last = last_update(rp, SEL_CB);
        ck_assert_msg(last->info == cur && last->owner == NULL,
                      "peer %s was last told that %s owns the clipboard",
                      rp->peer.name,
                      last->owner ? last->owner->name : "nobody");
    }
}
END_TEST

static void hook_request_text(RecPeer *rp, const VdcClipboardNotify *n)
{
    if (n->type == UPDATE && n->new_info &&
        n->info->types[TEXT].available && !n->info->types[TEXT].data) {
        ck_assert(vdc_clipboard_hub_request(rp->hub, n->info, TEXT));
    }
}

START_TEST(test_notify_request_answered_at_once)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));

    fx.b->hook = hook_request_text;
    fx.a->answer = ANSWER_SYNC;
    fx.a->answer_update = true;
    install_info(info);

    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
    check_payload(info->types[TEXT].data, TEXT);
    ck_assert(!info->types[TEXT].requested);
    FOR_PEERS(rp) {
        unsigned i, fresh = 0, more = 0;

        ck_assert_uint_eq(rp->notes->len, 2);
        for (i = 0; i < 2; i++) {
            ck_assert_int_eq(note_at(rp, i)->type, UPDATE);
            ck_assert_ptr_eq(note_at(rp, i)->info, info);
            fresh += note_at(rp, i)->new_info;
            more += !note_at(rp, i)->new_info;
        }
        ck_assert_uint_eq(fresh, 1);
        ck_assert_uint_eq(more, 1);
    }
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(rec_count(fx.b, TIMEOUT), 0);
}
END_TEST

/* ---- release ------------------------------------------------------- */

START_TEST(test_release_by_owner)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_PRI, BIT(TEXT));
    VdcClipboardInfo *cur;

    install_info(info);
    clear_logs();
    vdc_clipboard_peer_release(&fx.a->peer, SEL_PRI);
    cur = vdc_clipboard_hub_info(fx.hub, SEL_PRI);
    ck_assert_ptr_nonnull(cur);
    ck_assert_ptr_ne(cur, info);
    ck_assert_ptr_null(cur->owner);
    ck_assert_int_eq(cur->selection, SEL_PRI);
    ck_assert_uint_eq(vdc_clipboard_info_types(cur), 0);
    ck_assert(!vdc_clipboard_peer_owns(&fx.a->peer, SEL_PRI));
    ck_assert_int_eq(info->refcount, 1);
    /* everyone, the releasing peer included */
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), cur, true);
        ck_assert_ptr_null(note_at(rp, 0)->owner);
        ck_assert_int_eq(note_at(rp, 0)->selection, SEL_PRI);
    }
    /* nothing left to release */
    clear_logs();
    vdc_clipboard_peer_release(&fx.a->peer, SEL_PRI);
    check_silence();
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_PRI), cur);
}
END_TEST

START_TEST(test_release_by_non_owner)
{
    g_autoptr(VdcClipboardInfo) info = grab_info(fx.a, SEL_CB, BIT(TEXT));
    RecPeer *z = rec_new("z", fx.hub, true);

    install_info(info);
    clear_logs();
    vdc_clipboard_peer_release(&fx.b->peer, SEL_CB);
    vdc_clipboard_peer_release(&fx.n->peer, SEL_CB);
    vdc_clipboard_peer_release(&fx.a->peer, SEL_PRI);   /* owns another one */
    vdc_clipboard_peer_release(&z->peer, SEL_CB);       /* not registered */
    check_silence();
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, SEL_CB), info);
    ck_assert_ptr_null(vdc_clipboard_hub_info(fx.hub, SEL_PRI));
    ck_assert_int_eq(info->refcount, 2);
    rec_free(z);
}
END_TEST

/* ---- suite --------------------------------------------------------- */

Suite *clipboard_peers_suite(void)
{
    Suite *s = suite_create("clipboard-peers");
    TCase *tc;

    tc = hub_tcase(s, "register");
    tcase_add_test(tc, test_register_twice_one_notification);
    tcase_add_test(tc, test_register_other_hub_refused);
    tcase_add_test(tc, test_register_state);

    tc = hub_tcase(s, "unregister");
    tcase_add_test(tc, test_unregister_releases_owned);
    tcase_add_test(tc, test_unregister_owning_nothing_is_silent);
    tcase_add_test(tc, test_unregister_twice);
    tcase_add_test(tc, test_unregister_cancels_request);

    tc = hub_tcase(s, "notify-reentrancy");
    tcase_add_test(tc, test_notify_unregister_self);
    tcase_add_test(tc, test_notify_unregister_later_peer);
    tcase_add_test(tc, test_notify_unregister_earlier_peer);
    tcase_add_test(tc, test_notify_unregister_and_free_later_peer);
    tcase_add_test(tc, test_notify_nested_update_last_is_current);
    tcase_add_test(tc, test_notify_unregister_owner_mid_update);
    tcase_add_test(tc, test_notify_request_answered_at_once);

    tc = hub_tcase(s, "release");
    tcase_add_test(tc, test_release_by_owner);
    tcase_add_test(tc, test_release_by_non_owner);

    return s;
}
