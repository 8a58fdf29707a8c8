/*
 * check_clipboard.c: the protocol-free clipboard hub (clipboard.h).
 *
 * Every test gets a fresh hub (request timeout TIMEOUT_MS) with three
 * recording peers registered in this order: a and b, which have a request
 * callback, and n, which has none (the VNC-like peer of CVE-2023-6683).
 * A recording peer logs each notification (type, info pointer and what the
 * info said at that moment, new_info, data_type) and each request, and can
 * answer a request at once or never, or run a hook from inside notify.
 *
 * Timers run on the hub's thread-default GMainContext; every wait here is
 * a bounded loop of g_main_context_iteration() guarded by its own timeout
 * source, so a missing notification fails the test instead of hanging it.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>
#include <glib.h>

#include "tests/check_suites.h"
#include "clipboard/clipboard.h"

#define TIMEOUT_MS 30u                /* request timeout of test hubs */
#define WAIT_MS 2000u                 /* bound on any wait for a timer */
#define QUIET_MS (4 * TIMEOUT_MS)     /* "nothing comes": well past a timeout */

#define SEL_CB CLIPBOARD_SELECTION_CLIPBOARD
#define SEL_PRI CLIPBOARD_SELECTION_PRIMARY
#define SEL_SEC CLIPBOARD_SELECTION_SECONDARY
#define TEXT CLIPBOARD_TYPE_TEXT
#define PNG CLIPBOARD_TYPE_PNG
#define BIT(t) (1u << (t))

#define UPDATE CLIPBOARD_NOTIFY_UPDATE
#define RESET CLIPBOARD_NOTIFY_RESET_SERIAL
#define TIMEOUT CLIPBOARD_NOTIFY_REQUEST_TIMEOUT

/* Distinct data per type; never empty. */
static const char *const payloads[CLIPBOARD_TYPE__COUNT] = {
    [CLIPBOARD_TYPE_TEXT] = "hello, clipboard",
    [CLIPBOARD_TYPE_PNG] = "\x89PNG\r\n\x1a\n-png",
    [CLIPBOARD_TYPE_BMP] = "BM-bitmap",
    [CLIPBOARD_TYPE_TIFF] = "II*\x01-tiff",
    [CLIPBOARD_TYPE_JPG] = "\xff\xd8\xff-jpg",
};

static GBytes *payload(ClipboardType type)
{
    return g_bytes_new_static(payloads[type], strlen(payloads[type]));
}

static void check_payload(GBytes *data, ClipboardType type)
{
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(g_bytes_get_size(data), strlen(payloads[type]));
    ck_assert_mem_eq(g_bytes_get_data(data, NULL), payloads[type],
                     strlen(payloads[type]));
}

/* ---- recording peer ------------------------------------------------ */

typedef struct Note {
    ClipboardNotifyType type;
    ClipboardInfo *info;            /* borrowed then: compare, never follow */
    ClipboardPeer *owner;           /* info->owner then */
    ClipboardSelection selection;   /* info->selection then */
    unsigned types;                 /* clipboard_info_types(info) then */
    bool new_info;
    ClipboardType data_type;
} Note;

typedef struct Req {
    ClipboardInfo *info;
    ClipboardType type;
} Req;

typedef enum { ANSWER_NEVER, ANSWER_SYNC } Answer;

typedef struct RecPeer RecPeer;
typedef void (*RecHook)(RecPeer *rp, const ClipboardNotify *n);

struct RecPeer {
    ClipboardPeer peer;
    ClipboardHub *hub;              /* where it answers requests */
    GArray *notes;                  /* Note */
    GArray *reqs;                   /* Req */
    Answer answer;
    bool answer_update;             /* set_data(..., update) when answering */
    RecHook hook;                   /* run after logging each notification */
    void *hook_arg;
    unsigned hook_calls;
};

static void rec_notify(ClipboardPeer *peer, const ClipboardNotify *n)
{
    RecPeer *rp = peer->opaque;
    Note note = {
        .type = n->type, .info = n->info, .new_info = n->new_info,
        .data_type = n->data_type,
    };

    ck_assert_ptr_eq(&rp->peer, peer);
    if (n->type != RESET) {
        ck_assert_ptr_nonnull(n->info);
    }
    if (n->info) {
        ck_assert_int_gt(n->info->refcount, 0);
        note.owner = n->info->owner;
        note.selection = n->info->selection;
        note.types = clipboard_info_types(n->info);
    }
    g_array_append_val(rp->notes, note);
    if (rp->hook) {
        rp->hook_calls++;
        rp->hook(rp, n);
    }
}

static void rec_request(ClipboardPeer *peer, ClipboardInfo *info,
                        ClipboardType type)
{
    RecPeer *rp = peer->opaque;
    Req req = { .info = info, .type = type };

    g_array_append_val(rp->reqs, req);
    if (rp->answer == ANSWER_SYNC) {
        g_autoptr(GBytes) data = payload(type);

        ck_assert(clipboard_hub_set_data(rp->hub, peer, info, type, data,
                                         rp->answer_update));
    }
}

static const ClipboardPeerOps rec_ops = {
    .notify = rec_notify,
    .request = rec_request,
};

static const ClipboardPeerOps rec_ops_norequest = {
    .notify = rec_notify,
};

static void rec_init(RecPeer *rp, const char *name, ClipboardHub *hub,
                     bool can_request)
{
    memset(rp, 0, sizeof(*rp));
    rp->peer.name = name;
    rp->peer.ops = can_request ? &rec_ops : &rec_ops_norequest;
    rp->peer.opaque = rp;
    rp->hub = hub;
    rp->notes = g_array_new(FALSE, TRUE, sizeof(Note));
    rp->reqs = g_array_new(FALSE, TRUE, sizeof(Req));
}

static void rec_fini(RecPeer *rp)
{
    g_array_unref(rp->notes);
    g_array_unref(rp->reqs);
    rp->notes = rp->reqs = NULL;
}

static RecPeer *rec_new(const char *name, ClipboardHub *hub, bool can_request)
{
    RecPeer *rp = g_new(RecPeer, 1);

    rec_init(rp, name, hub, can_request);
    return rp;
}

static void rec_free(RecPeer *rp)
{
    ck_assert(!clipboard_peer_registered(&rp->peer));
    rec_fini(rp);
    g_free(rp);
}

static void rec_clear(RecPeer *rp)
{
    g_array_set_size(rp->notes, 0);
    g_array_set_size(rp->reqs, 0);
}

static unsigned count(const RecPeer *rp, ClipboardNotifyType type)
{
    unsigned i, c = 0;

    for (i = 0; i < rp->notes->len; i++) {
        c += g_array_index(rp->notes, Note, i).type == type;
    }
    return c;
}

static const Note *note_at(const RecPeer *rp, unsigned i)
{
    ck_assert_uint_lt(i, rp->notes->len);
    return &g_array_index(rp->notes, Note, i);
}

static unsigned count_updates(const RecPeer *rp, ClipboardSelection sel)
{
    unsigned i, c = 0;

    for (i = 0; i < rp->notes->len; i++) {
        const Note *n = note_at(rp, i);

        c += n->type == UPDATE && n->selection == sel;
    }
    return c;
}

/* The last UPDATE @rp saw for @sel. */
static const Note *last_update(const RecPeer *rp, ClipboardSelection sel)
{
    unsigned i;

    for (i = rp->notes->len; i-- > 0;) {
        const Note *n = note_at(rp, i);

        if (n->type == UPDATE && n->selection == sel) {
            return n;
        }
    }
    ck_abort_msg("peer %s saw no update of selection %d", rp->peer.name, sel);
    return NULL;
}

static const Req *req_at(const RecPeer *rp, unsigned i)
{
    ck_assert_uint_lt(i, rp->reqs->len);
    return &g_array_index(rp->reqs, Req, i);
}

static void check_update(const Note *n, ClipboardInfo *info, bool new_info)
{
    ck_assert_int_eq(n->type, UPDATE);
    ck_assert_ptr_eq(n->info, info);
    ck_assert_int_eq(n->new_info, new_info);
}

static void check_timeout(const Note *n, ClipboardInfo *info,
                          ClipboardType type)
{
    ck_assert_int_eq(n->type, TIMEOUT);
    ck_assert_ptr_eq(n->info, info);
    ck_assert_int_eq(n->data_type, type);
}

/* ---- main loop ----------------------------------------------------- */

typedef bool (*Pred)(const void *arg);

static gboolean set_flag(gpointer p)
{
    *(bool *)p = true;
    return G_SOURCE_REMOVE;
}

/*
 * Iterate @ctx (NULL: the global default) until @pred(@arg) holds or
 * @max_ms pass.  Returns @pred(@arg) at the end (true for a NULL @pred).
 */
static bool run_until(GMainContext *ctx, Pred pred, const void *arg,
                      unsigned max_ms)
{
    bool expired = false;
    GSource *guard = g_timeout_source_new(max_ms);

    g_source_set_callback(guard, set_flag, &expired, NULL);
    g_source_attach(guard, ctx);
    while (!expired && !(pred && pred(arg))) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(guard);
    g_source_unref(guard);
    return pred ? pred(arg) : true;
}

static void run_for(unsigned ms)
{
    run_until(NULL, NULL, NULL, ms);
}

static bool got_timeout(const void *arg)
{
    return count(arg, TIMEOUT) > 0;
}

static bool got_two_timeouts(const void *arg)
{
    return count(arg, TIMEOUT) >= 2;
}

/* ---- infos --------------------------------------------------------- */

/* A grab by @owner (NULL: nobody) announcing the types of @mask, no data. */
static ClipboardInfo *grab(RecPeer *owner, ClipboardSelection sel,
                           unsigned mask)
{
    ClipboardInfo *info = clipboard_info_new(owner ? &owner->peer : NULL, sel);
    unsigned t;

    ck_assert_ptr_nonnull(info);
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        info->types[t].available = (mask & BIT(t)) != 0;
    }
    return info;
}

/* Give @info the data of the types of @mask, as a grab that carries it. */
static void fill(ClipboardInfo *info, unsigned mask)
{
    unsigned t;

    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        if (mask & BIT(t)) {
            info->types[t].available = true;
            info->types[t].data = payload(t);
        }
    }
}

static void with_serial(ClipboardInfo *info, uint32_t serial)
{
    info->has_serial = true;
    info->serial = serial;
}

/* ---- fixture ------------------------------------------------------- */

static struct {
    ClipboardHub *hub;
    RecPeer *a, *b, *n;             /* registered in this order */
    RecPeer *guarded;               /* see guarded_new() */
    bool guarded_alive;
    size_t guarded_size;
} fx;

static void setup(void)
{
    fx.hub = clipboard_hub_new();
    ck_assert_ptr_nonnull(fx.hub);
    clipboard_hub_set_timeout(fx.hub, TIMEOUT_MS);
    fx.a = rec_new("a", fx.hub, true);
    fx.b = rec_new("b", fx.hub, true);
    fx.n = rec_new("n", fx.hub, false);
    ck_assert(clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(clipboard_peer_register(fx.hub, &fx.b->peer));
    ck_assert(clipboard_peer_register(fx.hub, &fx.n->peer));
}

static void teardown(void)
{
    RecPeer *all[] = { fx.a, fx.b, fx.n };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        all[i]->hook = NULL;
        all[i]->answer = ANSWER_NEVER;
    }
    if (fx.guarded) {
        if (fx.guarded_alive) {
            fx.guarded->hook = NULL;
            clipboard_peer_unregister(&fx.guarded->peer);
            rec_fini(fx.guarded);
        }
        ck_assert_int_eq(munmap(fx.guarded, fx.guarded_size), 0);
    }
    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        clipboard_peer_unregister(&all[i]->peer);
    }
    clipboard_hub_free(fx.hub);
    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        rec_free(all[i]);
    }
    memset(&fx, 0, sizeof(fx));
}

static void clear_logs(void)
{
    rec_clear(fx.a);
    rec_clear(fx.b);
    rec_clear(fx.n);
}

static void install(ClipboardInfo *info)
{
    ck_assert(clipboard_hub_update(fx.hub, info));
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, info->selection), info);
}

#define FOR_PEERS(rp) \
    for (RecPeer *const *rp##_p = (RecPeer *const[]){ fx.a, fx.b, fx.n, NULL }, \
         *rp; (rp = *rp##_p) != NULL; rp##_p++)

/* No peer of the fixture saw anything. */
static void check_silence(void)
{
    ck_assert_uint_eq(fx.a->notes->len, 0);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 0);
}

/*
 * A peer in a page of its own: "freeing" it makes the page inaccessible,
 * so any later access by the hub faults at once, with or without ASan.
 * Registered after the fixture's peers.
 */
static RecPeer *guarded_new(void)
{
    size_t size = (size_t)sysconf(_SC_PAGESIZE);
    void *page;

    ck_assert_uint_ge(size, sizeof(RecPeer));
    page = mmap(NULL, size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(page != MAP_FAILED);
    fx.guarded = page;
    fx.guarded_size = size;
    fx.guarded_alive = true;
    rec_init(fx.guarded, "guarded", fx.hub, true);
    ck_assert(clipboard_peer_register(fx.hub, &fx.guarded->peer));
    return fx.guarded;
}

static void guarded_destroy(RecPeer *rp)
{
    ck_assert_ptr_eq(rp, fx.guarded);
    ck_assert(!clipboard_peer_registered(&rp->peer));
    rec_fini(rp);
    fx.guarded_alive = false;
    ck_assert_int_eq(mprotect(rp, fx.guarded_size, PROT_NONE), 0);
}

/* ---- register ------------------------------------------------------ */

START_TEST(test_register_twice_one_notification)
{
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.b, SEL_CB, BIT(TEXT));

    /* bug P1: a second registration must not add the peer twice */
    ck_assert(clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(clipboard_peer_registered(&fx.a->peer));
    install(info);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);

    /* one unregistration removes it entirely */
    clipboard_peer_unregister(&fx.a->peer);
    ck_assert(!clipboard_peer_registered(&fx.a->peer));
    clear_logs();
    install(info2);
    ck_assert_uint_eq(fx.a->notes->len, 0);
    ck_assert_uint_eq(fx.b->notes->len, 1);
}
END_TEST

START_TEST(test_register_other_hub_refused)
{
    ClipboardHub *hub2 = clipboard_hub_new();
    g_autoptr(ClipboardInfo) info2 = grab(NULL, SEL_CB, 0);
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));

    ck_assert(!clipboard_peer_register(hub2, &fx.a->peer));
    ck_assert(clipboard_peer_registered(&fx.a->peer));

    /* not on the second hub ... */
    ck_assert(clipboard_hub_update(hub2, info2));
    ck_assert_uint_eq(fx.a->notes->len, 0);
    /* ... still on the first */
    install(info);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(note_at(fx.a, 0), info, true);

    /* once unregistered it may join the second hub */
    clipboard_peer_unregister(&fx.a->peer);
    ck_assert(clipboard_peer_register(hub2, &fx.a->peer));
    clipboard_peer_unregister(&fx.a->peer);
    clipboard_hub_free(hub2);
}
END_TEST

START_TEST(test_register_state)
{
    RecPeer *z = rec_new("z", fx.hub, true);
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    ck_assert(!clipboard_peer_registered(&z->peer));
    ck_assert(clipboard_peer_register(fx.hub, &z->peer));
    ck_assert(clipboard_peer_registered(&z->peer));
    clipboard_peer_unregister(&z->peer);
    ck_assert(!clipboard_peer_registered(&z->peer));
    ck_assert(clipboard_peer_register(fx.hub, &z->peer));
    install(info);
    ck_assert_uint_eq(z->notes->len, 1);
    check_update(note_at(z, 0), info, true);
    clipboard_peer_unregister(&z->peer);
    rec_free(z);
}
END_TEST

/* ---- unregister ---------------------------------------------------- */

START_TEST(test_unregister_releases_owned)
{
    g_autoptr(ClipboardInfo) cb = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) pri = grab(fx.a, SEL_PRI, BIT(PNG));
    g_autoptr(ClipboardInfo) sec = grab(fx.b, SEL_SEC, BIT(TEXT));
    ClipboardSelection released[] = { SEL_CB, SEL_PRI };
    unsigned i;

    install(cb);
    install(pri);
    install(sec);
    clear_logs();

    clipboard_peer_unregister(&fx.a->peer);
    ck_assert(!clipboard_peer_registered(&fx.a->peer));
    /* bug P2: the leaving peer is not told of its own release */
    ck_assert_uint_eq(fx.a->notes->len, 0);
    /* Q4: the others see both selections go owner-less */
    for (i = 0; i < G_N_ELEMENTS(released); i++) {
        ClipboardSelection s = released[i];
        ClipboardInfo *cur = clipboard_hub_info(fx.hub, s);

        ck_assert_ptr_nonnull(cur);
        ck_assert_ptr_null(cur->owner);
        ck_assert_uint_eq(clipboard_info_types(cur), 0);
        ck_assert(!clipboard_peer_owns(&fx.a->peer, s));
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
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_SEC), sec);
    ck_assert_int_eq(sec->refcount, 2);
}
END_TEST

START_TEST(test_unregister_owning_nothing_is_silent)
{
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));

    install(info);
    clear_logs();
    clipboard_peer_unregister(&fx.a->peer);
    check_silence();
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_PRI));
}
END_TEST

START_TEST(test_unregister_twice)
{
    RecPeer *z = rec_new("z", fx.hub, true);
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    clipboard_peer_unregister(&fx.a->peer);
    clear_logs();
    clipboard_peer_unregister(&fx.a->peer);
    check_silence();
    ck_assert(!clipboard_peer_registered(&fx.a->peer));

    /* never registered at all */
    clipboard_peer_unregister(&z->peer);
    ck_assert(!clipboard_peer_registered(&z->peer));
    check_silence();
    rec_free(z);
}
END_TEST

START_TEST(test_unregister_cancels_request)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    clear_logs();
    /* P9: the owner goes away with a request pending */
    clipboard_peer_unregister(&fx.a->peer);
    run_for(QUIET_MS);
    ck_assert_uint_eq(count(fx.b, TIMEOUT), 0);
    ck_assert_uint_eq(count(fx.n, TIMEOUT), 0);
    ck_assert_uint_eq(count(fx.a, TIMEOUT), 0);
    ck_assert_uint_eq(fx.b->notes->len, 1);
}
END_TEST

/* ---- re-entrancy: peers acting from inside notify ------------------ */

static void hook_unregister_self(RecPeer *rp, const ClipboardNotify *n)
{
    if (rp->hook_calls == 1) {
        clipboard_peer_unregister(&rp->peer);
    }
}

static void hook_unregister_other(RecPeer *rp, const ClipboardNotify *n)
{
    if (rp->hook_calls == 1) {
        clipboard_peer_unregister(rp->hook_arg);
    }
}

static void hook_unregister_and_destroy(RecPeer *rp, const ClipboardNotify *n)
{
    RecPeer *victim = rp->hook_arg;

    if (rp->hook_calls == 1) {
        clipboard_peer_unregister(&victim->peer);
        guarded_destroy(victim);
    }
}

START_TEST(test_notify_unregister_self)
{
    g_autoptr(ClipboardInfo) pri = grab(fx.a, SEL_PRI, BIT(TEXT));
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.b, SEL_CB, BIT(PNG));

    install(pri);
    clear_logs();
    fx.a->hook = hook_unregister_self;
    install(info);
    ck_assert(!clipboard_peer_registered(&fx.a->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(note_at(fx.a, 0), info, true);
    /* the others got the update and a's release of PRIMARY */
    ck_assert_uint_eq(count_updates(fx.b, SEL_CB), 1);
    ck_assert_uint_eq(count_updates(fx.n, SEL_CB), 1);
    check_update(last_update(fx.b, SEL_CB), info, true);
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_PRI)->owner);
    ck_assert_ptr_null(last_update(fx.b, SEL_PRI)->owner);
    ck_assert_ptr_null(last_update(fx.n, SEL_PRI)->owner);
    ck_assert_int_eq(pri->refcount, 1);

    install(info2);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    check_update(last_update(fx.b, SEL_CB), info2, true);
}
END_TEST

START_TEST(test_notify_unregister_later_peer)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.a, SEL_CB, BIT(PNG));

    /* a is notified before b: b leaves before its turn */
    fx.a->hook = hook_unregister_other;
    fx.a->hook_arg = &fx.b->peer;
    install(info);
    ck_assert(!clipboard_peer_registered(&fx.b->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install(info2);
    ck_assert_uint_eq(fx.a->notes->len, 2);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 2);
}
END_TEST

START_TEST(test_notify_unregister_earlier_peer)
{
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.b, SEL_CB, BIT(PNG));

    fx.b->hook = hook_unregister_other;
    fx.b->hook_arg = &fx.a->peer;
    install(info);
    ck_assert(!clipboard_peer_registered(&fx.a->peer));
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install(info2);
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
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.a, SEL_CB, BIT(PNG));

    fx.a->hook = hook_unregister_and_destroy;
    fx.a->hook_arg = g;
    install(info);
    ck_assert(!fx.guarded_alive);
    ck_assert_uint_eq(fx.a->notes->len, 1);
    ck_assert_uint_eq(fx.b->notes->len, 1);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    install(info2);
    ck_assert_uint_eq(fx.n->notes->len, 2);
}
END_TEST

/* A clipboard manager: takes the selection over whenever it is released. */
static void hook_regrab_on_release(RecPeer *rp, const ClipboardNotify *n)
{
    ClipboardInfo **mine = rp->hook_arg;

    if (n->type == UPDATE && n->info->selection == SEL_CB &&
        !n->info->owner && !*mine) {
        *mine = grab(rp, SEL_CB, BIT(TEXT));
        ck_assert(clipboard_hub_update(rp->hub, *mine));
    }
}

/*
 * UPDATE means "@info is now current".  When a peer replaces the info from
 * inside notify, the peers after it must not be told afterwards of the
 * info that was just replaced: their last UPDATE must be the current one.
 */
START_TEST(test_notify_nested_update_last_is_current)
{
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) managed = NULL;
    ClipboardInfo *cur;

    install(info);
    fx.a->hook = hook_regrab_on_release;
    fx.a->hook_arg = &managed;
    clear_logs();
    clipboard_peer_release(&fx.b->peer, SEL_CB);

    ck_assert_ptr_nonnull(managed);
    cur = clipboard_hub_info(fx.hub, SEL_CB);
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
    g_autoptr(ClipboardInfo) info = grab(fx.b, SEL_CB, BIT(TEXT));
    ClipboardInfo *cur;

    fx.a->hook = hook_unregister_other;
    fx.a->hook_arg = &fx.b->peer;
    ck_assert(clipboard_hub_update(fx.hub, info));

    ck_assert(!clipboard_peer_registered(&fx.b->peer));
    ck_assert_uint_eq(fx.b->notes->len, 0);
    cur = clipboard_hub_info(fx.hub, SEL_CB);
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

static void hook_request_text(RecPeer *rp, const ClipboardNotify *n)
{
    if (n->type == UPDATE && n->new_info &&
        n->info->types[TEXT].available && !n->info->types[TEXT].data) {
        ck_assert(clipboard_hub_request(rp->hub, n->info, TEXT));
    }
}

START_TEST(test_notify_request_answered_at_once)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    fx.b->hook = hook_request_text;
    fx.a->answer = ANSWER_SYNC;
    fx.a->answer_update = true;
    install(info);

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
    run_for(QUIET_MS);
    ck_assert_uint_eq(count(fx.b, TIMEOUT), 0);
}
END_TEST

/* ---- update -------------------------------------------------------- */

START_TEST(test_update_notifies_everyone)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT) | BIT(PNG));

    install(info);
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
    ck_assert(clipboard_peer_owns(&fx.a->peer, SEL_CB));
    ck_assert(!clipboard_peer_owns(&fx.b->peer, SEL_CB));
    ck_assert(!clipboard_peer_owns(&fx.a->peer, SEL_PRI));
}
END_TEST

START_TEST(test_update_unrefs_old)
{
    g_autoptr(ClipboardInfo) info1 = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.b, SEL_CB, BIT(TEXT));

    install(info1);
    ck_assert_int_eq(info1->refcount, 2);
    clear_logs();
    install(info2);
    ck_assert_int_eq(info1->refcount, 1);
    ck_assert_int_eq(info2->refcount, 2);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info2, true);
        ck_assert_ptr_eq(note_at(rp, 0)->owner, &fx.b->peer);
    }
    ck_assert(!clipboard_peer_owns(&fx.a->peer, SEL_CB));
    ck_assert(clipboard_peer_owns(&fx.b->peer, SEL_CB));
}
END_TEST

/* Q8: updating with the current info, held only by the hub. */
START_TEST(test_update_same_info)
{
    ClipboardInfo *info = grab(fx.a, SEL_CB, BIT(TEXT));
    unsigned round;

    install(info);
    clipboard_info_unref(info);
    info = clipboard_hub_info(fx.hub, SEL_CB);
    ck_assert_int_eq(info->refcount, 1);
    for (round = 0; round < 2; round++) {
        clear_logs();
        ck_assert(clipboard_hub_update(fx.hub, clipboard_hub_info(fx.hub,
                                                                  SEL_CB)));
        ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);
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
    ClipboardType t = _i % CLIPBOARD_TYPE__COUNT;
    ClipboardType other = (t + 1) % CLIPBOARD_TYPE__COUNT;
    RecPeer *owner = _i < CLIPBOARD_TYPE__COUNT ? NULL : fx.n;
    g_autoptr(ClipboardInfo) cur = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) bad = grab(owner, SEL_CB, BIT(t));

    fill(bad, BIT(other));
    install(cur);
    ck_assert(clipboard_hub_request(fx.hub, cur, TEXT));
    clear_logs();

    ck_assert(!clipboard_hub_update(fx.hub, bad));
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), cur);
    ck_assert_int_eq(bad->refcount, 1);
    ck_assert_int_eq(cur->refcount, 2);
    check_silence();
    /* nothing changed: the pending request still times out */
    ck_assert(run_until(NULL, got_timeout, fx.b, WAIT_MS));
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
        { 0, 0, CLIPBOARD_TYPE_MASK_ALL },
        { 2, 0, 0 },
        { 2, 0, CLIPBOARD_TYPE_MASK_ALL },
        { 2, 0, BIT(PNG) },
        { 1, CLIPBOARD_TYPE_MASK_ALL, 0 },
        { 1, BIT(TEXT), BIT(PNG) },
    };
    RecPeer *owners[] = { NULL, fx.a, fx.n };
    g_autoptr(ClipboardInfo) info =
        grab(owners[rows[_i].owner], SEL_PRI, rows[_i].announced);

    fill(info, rows[_i].filled);
    install(info);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, true);
        ck_assert_uint_eq(note_at(rp, 0)->types,
                          rows[_i].announced | rows[_i].filled);
    }
}
END_TEST

/* ---- request ------------------------------------------------------- */

START_TEST(test_request_forwarded_once)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT) | BIT(PNG));

    install(info);
    clear_logs();
    ck_assert(clipboard_hub_request(fx.hub, info, PNG));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
    ck_assert_int_eq(req_at(fx.a, 0)->type, PNG);
    ck_assert(info->types[PNG].requested);
    ck_assert(!info->types[TEXT].requested);

    /* outstanding: not forwarded again, still "will come" */
    ck_assert(clipboard_hub_request(fx.hub, info, PNG));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_uint_eq(fx.b->reqs->len, 0);
    ck_assert_uint_eq(fx.n->reqs->len, 0);
    check_silence();
}
END_TEST

START_TEST(test_request_data_present)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, 0);

    fill(info, BIT(TEXT));
    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
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
    g_autoptr(ClipboardInfo) info = NULL;
    g_autoptr(ClipboardInfo) newer = NULL;
    ClipboardType type = PNG;

    switch (_i) {
    case 0:     /* type not available */
        info = grab(fx.a, SEL_CB, BIT(TEXT));
        install(info);
        break;
    case 1:     /* not current any more */
        info = grab(fx.a, SEL_CB, BIT(PNG));
        newer = grab(fx.a, SEL_CB, BIT(PNG));
        install(info);
        install(newer);
        break;
    case 2:     /* owner without request callback */
        info = grab(fx.n, SEL_CB, 0);
        fill(info, BIT(TEXT));
        install(info);
        info->types[PNG].available = true;
        break;
    case 3:     /* no owner */
        info = grab(NULL, SEL_CB, 0);
        fill(info, BIT(TEXT));
        install(info);
        info->types[PNG].available = true;
        break;
    case 4:     /* never made current */
        info = grab(fx.a, SEL_CB, BIT(PNG));
        break;
    default:
        ck_abort();
    }
    ck_assert(!clipboard_hub_request(fx.hub, info, type));
    ck_assert(!info->types[type].requested);
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert_uint_eq(fx.b->reqs->len, 0);
    ck_assert_uint_eq(fx.n->reqs->len, 0);
    /* and no timer was started for it */
    clear_logs();
    run_for(QUIET_MS);
    check_silence();
}
END_TEST

START_TEST(test_request_cleared_by_answer)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(info->types[TEXT].requested);
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                     false));
    ck_assert(!info->types[TEXT].requested);
    ck_assert(info->types[TEXT].available);
    ck_assert_ptr_eq(info->types[TEXT].data, data);
    /* answered: a new request needs nobody */
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
}
END_TEST

START_TEST(test_request_answered_synchronously)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    clear_logs();
    fx.a->answer = ANSWER_SYNC;
    fx.a->answer_update = true;
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert(!info->types[TEXT].requested);
    check_payload(info->types[TEXT].data, TEXT);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, false);
    }
    run_for(QUIET_MS);
    ck_assert_uint_eq(count(fx.b, TIMEOUT), 0);
}
END_TEST

/* ---- request timeouts ---------------------------------------------- */

/* R7: an owner that never answers does not wedge the type.  Per type. */
START_TEST(test_timeout_every_type)
{
    ClipboardType type = _i;
    g_autoptr(ClipboardInfo) info =
        grab(fx.a, SEL_CB, CLIPBOARD_TYPE_MASK_ALL);
    gint64 start;
    unsigned t;

    install(info);
    clear_logs();
    start = g_get_monotonic_time();
    ck_assert(clipboard_hub_request(fx.hub, info, type));
    g_main_context_iteration(NULL, FALSE);
    ck_assert_uint_eq(count(fx.b, TIMEOUT), 0);

    ck_assert(run_until(NULL, got_timeout, fx.b, WAIT_MS));
    ck_assert_int_ge(g_get_monotonic_time() - start,
                     (gint64)TIMEOUT_MS * 1000 - 1000);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_timeout(note_at(rp, 0), info, type);
    }
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        ck_assert(!info->types[t].requested);
    }
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);

    /* forwarded again, and it can time out again */
    ck_assert(clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 2);
    ck_assert_int_eq(req_at(fx.a, 1)->type, type);
    ck_assert(run_until(NULL, got_two_timeouts, fx.b, WAIT_MS));
    check_timeout(note_at(fx.b, 1), info, type);
}
END_TEST

/* Rows: answered without update, with update, with empty data. */
START_TEST(test_timeout_cancelled_by_answer)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = _i == 2 ? NULL : payload(TEXT);

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                     _i == 1));
    run_for(QUIET_MS);
    ck_assert_uint_eq(count(fx.a, TIMEOUT), 0);
    ck_assert_uint_eq(count(fx.b, TIMEOUT), 0);
    ck_assert_uint_eq(count(fx.n, TIMEOUT), 0);
}
END_TEST

START_TEST(test_timeout_cancelled_by_new_info)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    install(info2);
    clear_logs();
    run_for(QUIET_MS);
    check_silence();
    /* the new info's type is asked for afresh */
    ck_assert(!info2->types[TEXT].requested);
    ck_assert(clipboard_hub_request(fx.hub, info2, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info2);
}
END_TEST

START_TEST(test_timeout_cancelled_by_release)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    clipboard_peer_release(&fx.a->peer, SEL_CB);
    clear_logs();
    run_for(QUIET_MS);
    check_silence();
}
END_TEST

/* Timers run on the context that was thread-default at clipboard_hub_new. */
START_TEST(test_timeout_thread_default_context)
{
    GMainContext *ctx = g_main_context_new();
    ClipboardHub *hub2;
    RecPeer *o, *w;
    ClipboardInfo *info;

    g_main_context_push_thread_default(ctx);
    hub2 = clipboard_hub_new();
    g_main_context_pop_thread_default(ctx);
    clipboard_hub_set_timeout(hub2, TIMEOUT_MS);
    o = rec_new("owner", hub2, true);
    w = rec_new("watcher", hub2, true);
    ck_assert(clipboard_peer_register(hub2, &o->peer));
    ck_assert(clipboard_peer_register(hub2, &w->peer));
    info = grab(o, SEL_CB, BIT(TEXT));
    ck_assert(clipboard_hub_update(hub2, info));
    ck_assert(clipboard_hub_request(hub2, info, TEXT));

    run_for(QUIET_MS);                 /* the global default context */
    ck_assert_uint_eq(count(w, TIMEOUT), 0);
    ck_assert(run_until(ctx, got_timeout, w, WAIT_MS));
    check_timeout(note_at(w, w->notes->len - 1), info, TEXT);

    clipboard_peer_unregister(&o->peer);
    clipboard_peer_unregister(&w->peer);
    clipboard_hub_free(hub2);
    clipboard_info_unref(info);
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
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    unsigned freed1 = 0, freed2 = 0;
    GBytes *data1 = g_bytes_new_with_free_func(text1, 5, mark_freed, &freed1);
    GBytes *data2 = g_bytes_new_with_free_func(text2, 6, mark_freed, &freed2);

    install(info);
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data1,
                                     false));
    g_bytes_unref(data1);
    ck_assert_uint_eq(freed1, 0);
    ck_assert_ptr_eq(info->types[TEXT].data, data1);
    ck_assert_uint_eq(g_bytes_get_size(info->types[TEXT].data), 5);
    ck_assert_mem_eq(g_bytes_get_data(info->types[TEXT].data, NULL), "first",
                     5);
    ck_assert(info->types[TEXT].available);

    /* replacing the data drops the old one */
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data2,
                                     false));
    ck_assert_uint_eq(freed1, 1);
    ck_assert_ptr_eq(info->types[TEXT].data, data2);
    g_bytes_unref(data2);
    ck_assert_uint_eq(freed2, 0);

    /* and the last reference on the info drops it too */
    install(grab(fx.b, SEL_CB, 0));
    clipboard_info_unref(clipboard_hub_info(fx.hub, SEL_CB));
    ck_assert_uint_eq(freed2, 0);
    ck_assert_int_eq(info->refcount, 1);
    clipboard_info_unref(g_steal_pointer(&info));
    ck_assert_uint_eq(freed2, 1);
}
END_TEST

/* Q15: rows NULL and a zero-length GBytes. */
START_TEST(test_set_data_empty)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT) | BIT(PNG));
    g_autoptr(GBytes) empty = _i == 0 ? NULL : g_bytes_new(NULL, 0);

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, empty,
                                     false));
    ck_assert(!info->types[TEXT].available);
    ck_assert_ptr_null(info->types[TEXT].data);
    ck_assert(!info->types[TEXT].requested);
    ck_assert_uint_eq(clipboard_info_types(info), BIT(PNG));
    ck_assert(!clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);

    /* data that was there goes away too */
    {
        g_autoptr(GBytes) data = payload(PNG);

        ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, data,
                                         false));
        ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, empty,
                                         false));
        ck_assert(!info->types[PNG].available);
        ck_assert_ptr_null(info->types[PNG].data);
    }
    ck_assert_uint_eq(clipboard_info_types(info), 0);
}
END_TEST

/* Q15 end to end: the peer without request callback sends size 0. */
START_TEST(test_set_data_empty_no_request_owner)
{
    g_autoptr(ClipboardInfo) info = grab(fx.n, SEL_CB, 0);
    g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);

    fill(info, BIT(TEXT));
    install(info);
    clear_logs();
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.n->peer, info, TEXT, empty,
                                     true));
    ck_assert(!info->types[TEXT].available);
    ck_assert_ptr_null(info->types[TEXT].data);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, false);
        ck_assert_uint_eq(note_at(rp, 0)->types, 0);
    }
    /* the guest's REQUEST cannot reach a NULL callback */
    ck_assert(!clipboard_hub_request(fx.hub, info, TEXT));
}
END_TEST

START_TEST(test_set_data_non_owner)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);
    ClipboardPeer *others[] = { &fx.b->peer, &fx.n->peer, NULL };
    unsigned i;

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    clear_logs();
    for (i = 0; i < G_N_ELEMENTS(others); i++) {
        ck_assert(!clipboard_hub_set_data(fx.hub, others[i], info, TEXT, data,
                                          true));
        ck_assert(!clipboard_hub_set_data(fx.hub, others[i], info, TEXT, NULL,
                                          true));
        ck_assert_ptr_null(info->types[TEXT].data);
        ck_assert(info->types[TEXT].available);
        ck_assert(info->types[TEXT].requested);
    }
    check_silence();
    /* the request is still pending: it times out */
    ck_assert(run_until(NULL, got_timeout, fx.b, WAIT_MS));
}
END_TEST

START_TEST(test_set_data_update_notifies)
{
    ClipboardInfo *info = grab(fx.a, SEL_CB, BIT(TEXT) | BIT(PNG));
    g_autoptr(GBytes) data = payload(PNG);

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, PNG));
    clipboard_info_unref(info);            /* only the hub holds it (Q8) */
    clear_logs();
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, PNG, data,
                                     true));
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);
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
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install(info);
    clear_logs();
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, TEXT, data,
                                     false));
    check_silence();
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
    g_autoptr(ClipboardInfo) cur = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) in = grab(fx.b, SEL_CB, BIT(TEXT));

    with_serial(cur, 5);
    install(cur);
    clear_logs();
    in->has_serial = serial_rows[_i].has_serial;
    in->serial = serial_rows[_i].serial;
    ck_assert_int_eq(clipboard_hub_check_serial(fx.hub, in,
                                                serial_rows[_i].wins_tie),
                     serial_rows[_i].ok);
    /* a check changes nothing */
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), cur);
    ck_assert_uint_eq(cur->serial, 5);
    check_silence();
}
END_TEST

START_TEST(test_check_serial_no_current_serial)
{
    g_autoptr(ClipboardInfo) in = grab(fx.b, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) cur = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) pri = grab(fx.a, SEL_PRI, BIT(TEXT));

    with_serial(in, 0);
    /* no current info */
    ck_assert(clipboard_hub_check_serial(fx.hub, in, false));
    ck_assert(clipboard_hub_check_serial(fx.hub, in, true));
    /* a current info without serial */
    install(cur);
    ck_assert(clipboard_hub_check_serial(fx.hub, in, false));
    ck_assert(clipboard_hub_check_serial(fx.hub, in, true));
    /* a serial on another selection does not count */
    with_serial(pri, 100);
    install(pri);
    ck_assert(clipboard_hub_check_serial(fx.hub, in, false));
}
END_TEST

START_TEST(test_reset_serial)
{
    g_autoptr(ClipboardInfo) cb = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) pri = grab(fx.b, SEL_PRI, BIT(TEXT));
    g_autoptr(ClipboardInfo) sec = grab(fx.a, SEL_SEC, BIT(TEXT));
    g_autoptr(ClipboardInfo) in = grab(fx.b, SEL_CB, BIT(TEXT));

    with_serial(cb, 7);
    with_serial(pri, 8);
    with_serial(sec, 9);
    install(cb);
    install(pri);
    install(sec);
    clear_logs();
    clipboard_hub_reset_serial(fx.hub);
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
    ck_assert(clipboard_hub_check_serial(fx.hub, in, false));
}
END_TEST

START_TEST(test_reset_serial_no_info)
{
    clipboard_hub_reset_serial(fx.hub);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        ck_assert_int_eq(note_at(rp, 0)->type, RESET);
    }
}
END_TEST

/* ---- stopped (Q18) ------------------------------------------------- */

START_TEST(test_running_by_default)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    ck_assert(clipboard_hub_running(fx.hub));
    install(info);
    clear_logs();
    /* already running: nothing to replay */
    clipboard_hub_set_running(fx.hub, true);
    ck_assert(clipboard_hub_running(fx.hub));
    check_silence();
    clipboard_hub_set_running(fx.hub, false);
    ck_assert(!clipboard_hub_running(fx.hub));
    check_silence();
}
END_TEST

START_TEST(test_stopped_update_silent)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    clipboard_hub_set_running(fx.hub, false);
    install(info);
    check_silence();
    ck_assert(clipboard_peer_owns(&fx.a->peer, SEL_CB));
    clipboard_peer_release(&fx.a->peer, SEL_CB);
    check_silence();
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_CB)->owner);
}
END_TEST

START_TEST(test_stopped_reset_deferred)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    with_serial(info, 9);
    clipboard_hub_set_running(fx.hub, false);
    install(info);
    clipboard_hub_reset_serial(fx.hub);
    clipboard_hub_reset_serial(fx.hub);
    check_silence();
    ck_assert_uint_eq(info->serial, 0);

    clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 2);
        ck_assert_int_eq(note_at(rp, 0)->type, RESET);
        check_update(note_at(rp, 1), info, true);
    }
    /* replayed once */
    clear_logs();
    clipboard_hub_set_running(fx.hub, true);
    check_silence();
}
END_TEST

START_TEST(test_resume_replays_latest)
{
    g_autoptr(ClipboardInfo) sec = grab(fx.b, SEL_SEC, BIT(TEXT));
    g_autoptr(ClipboardInfo) cb1 = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) cb2 = grab(fx.b, SEL_CB, BIT(PNG));
    g_autoptr(ClipboardInfo) pri = grab(fx.a, SEL_PRI, BIT(TEXT));

    install(sec);                       /* before the pause */
    clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    install(cb1);
    install(cb2);
    install(pri);
    check_silence();

    clipboard_hub_set_running(fx.hub, true);
    ck_assert(clipboard_hub_running(fx.hub));
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 3);
        ck_assert_uint_eq(count(rp, RESET), 0);
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
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    clipboard_hub_set_running(fx.hub, false);
    clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info, true);
    }
    clear_logs();
    clipboard_hub_set_running(fx.hub, true);
    check_silence();
}
END_TEST

START_TEST(test_stopped_timeout_deferred)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    clipboard_hub_set_running(fx.hub, false);
    clear_logs();
    run_for(QUIET_MS);                  /* the timer fires while stopped */
    check_silence();

    clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 2);
        check_update(note_at(rp, 0), info, true);
        check_timeout(note_at(rp, 1), info, TEXT);
    }
    ck_assert(!info->types[TEXT].requested);

    /* delivered once */
    clear_logs();
    clipboard_hub_set_running(fx.hub, false);
    clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        ck_assert_uint_eq(count(rp, TIMEOUT), 0);
    }
    /* and the type can be asked for again (reqs were cleared above) */
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
}
END_TEST

START_TEST(test_stopped_timeout_superseded)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) info2 = grab(fx.b, SEL_CB, BIT(TEXT));

    install(info);
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    clipboard_hub_set_running(fx.hub, false);
    run_for(QUIET_MS);
    install(info2);
    clear_logs();
    clipboard_hub_set_running(fx.hub, true);
    FOR_PEERS(rp) {
        ck_assert_uint_eq(rp->notes->len, 1);
        check_update(note_at(rp, 0), info2, true);
    }
    ck_assert_int_eq(info->refcount, 1);
}
END_TEST

/* ---- release ------------------------------------------------------- */

START_TEST(test_release_by_owner)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_PRI, BIT(TEXT));
    ClipboardInfo *cur;

    install(info);
    clear_logs();
    clipboard_peer_release(&fx.a->peer, SEL_PRI);
    cur = clipboard_hub_info(fx.hub, SEL_PRI);
    ck_assert_ptr_nonnull(cur);
    ck_assert_ptr_ne(cur, info);
    ck_assert_ptr_null(cur->owner);
    ck_assert_int_eq(cur->selection, SEL_PRI);
    ck_assert_uint_eq(clipboard_info_types(cur), 0);
    ck_assert(!clipboard_peer_owns(&fx.a->peer, SEL_PRI));
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
    clipboard_peer_release(&fx.a->peer, SEL_PRI);
    check_silence();
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_PRI), cur);
}
END_TEST

START_TEST(test_release_by_non_owner)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(TEXT));
    RecPeer *z = rec_new("z", fx.hub, true);

    install(info);
    clear_logs();
    clipboard_peer_release(&fx.b->peer, SEL_CB);
    clipboard_peer_release(&fx.n->peer, SEL_CB);
    clipboard_peer_release(&fx.a->peer, SEL_PRI);   /* owns another one */
    clipboard_peer_release(&z->peer, SEL_CB);       /* not registered */
    check_silence();
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), info);
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_PRI));
    ck_assert_int_eq(info->refcount, 2);
    rec_free(z);
}
END_TEST

/* ---- selections ---------------------------------------------------- */

START_TEST(test_selection_alone)
{
    ClipboardSelection sel = _i;
    g_autoptr(ClipboardInfo) info = grab(fx.a, sel, BIT(TEXT));
    unsigned s;

    install(info);
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        ck_assert_int_eq(clipboard_peer_owns(&fx.a->peer, s), s == sel);
        if (s != sel) {
            ck_assert_ptr_null(clipboard_hub_info(fx.hub, s));
        }
    }
    ck_assert_int_eq(note_at(fx.b, 0)->selection, sel);

    clear_logs();
    ck_assert(clipboard_hub_request(fx.hub, info, TEXT));
    ck_assert_ptr_eq(req_at(fx.a, 0)->info, info);
    ck_assert(run_until(NULL, got_timeout, fx.b, WAIT_MS));
    check_timeout(note_at(fx.b, 0), info, TEXT);
    ck_assert_int_eq(note_at(fx.b, 0)->selection, sel);

    clipboard_peer_release(&fx.a->peer, sel);
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, sel)->owner);
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        if (s != sel) {
            ck_assert_ptr_null(clipboard_hub_info(fx.hub, s));
        }
    }
}
END_TEST

START_TEST(test_selections_independent)
{
    g_autoptr(ClipboardInfo) cb = grab(fx.a, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardInfo) pri = grab(fx.b, SEL_PRI, BIT(TEXT));
    g_autoptr(ClipboardInfo) sec = grab(fx.a, SEL_SEC, BIT(TEXT));
    g_autoptr(GBytes) data = payload(TEXT);

    install(cb);
    install(pri);
    install(sec);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), cb);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_PRI), pri);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_SEC), sec);

    /* timers per selection: answer CLIPBOARD only */
    ck_assert(clipboard_hub_request(fx.hub, cb, TEXT));
    ck_assert(clipboard_hub_request(fx.hub, sec, TEXT));
    ck_assert_uint_eq(fx.a->reqs->len, 2);
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, cb, TEXT, data,
                                     false));
    clear_logs();
    ck_assert(run_until(NULL, got_timeout, fx.n, WAIT_MS));
    run_for(QUIET_MS);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    check_timeout(note_at(fx.n, 0), sec, TEXT);

    /* releasing one leaves the others */
    clear_logs();
    clipboard_peer_unregister(&fx.b->peer);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_CB), cb);
    ck_assert_ptr_eq(clipboard_hub_info(fx.hub, SEL_SEC), sec);
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_PRI)->owner);
    ck_assert_uint_eq(fx.n->notes->len, 1);
    ck_assert_int_eq(note_at(fx.n, 0)->selection, SEL_PRI);
}
END_TEST

/* ---- types --------------------------------------------------------- */

START_TEST(test_type_alone)
{
    ClipboardType type = _i;
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, BIT(type));
    g_autoptr(GBytes) data = payload(type);
    unsigned t;

    install(info);
    ck_assert_uint_eq(clipboard_info_types(info), BIT(type));
    ck_assert_uint_eq(note_at(fx.b, 0)->types, BIT(type));
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        if (t != type) {
            ck_assert(!clipboard_hub_request(fx.hub, info, t));
        }
    }
    ck_assert_uint_eq(fx.a->reqs->len, 0);
    ck_assert(clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
    ck_assert_int_eq(req_at(fx.a, 0)->type, type);
    ck_assert(clipboard_hub_set_data(fx.hub, &fx.a->peer, info, type, data,
                                     true));
    check_payload(info->types[type].data, type);
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        if (t != type) {
            ck_assert_ptr_null(info->types[t].data);
        }
    }
    ck_assert(clipboard_hub_request(fx.hub, info, type));
    ck_assert_uint_eq(fx.a->reqs->len, 1);
}
END_TEST

START_TEST(test_type_mask_all)
{
    g_autoptr(ClipboardInfo) info = grab(fx.a, SEL_CB, 0);

    ck_assert_uint_eq(CLIPBOARD_TYPE_MASK_ALL, 0x1f);
    ck_assert_uint_eq(clipboard_info_types(info), 0);
    fill(info, CLIPBOARD_TYPE_MASK_ALL);
    ck_assert_uint_eq(clipboard_info_types(info), CLIPBOARD_TYPE_MASK_ALL);
}
END_TEST

/* ---- names --------------------------------------------------------- */

static const char *const selection_names[CLIPBOARD_SELECTION__COUNT] = {
    "clipboard", "primary", "secondary",
};

static const char *const type_names[CLIPBOARD_TYPE__COUNT] = {
    "text", "png", "bmp", "tiff", "jpg",
};

START_TEST(test_selection_name)
{
    ClipboardSelection out = _i == 0 ? SEL_SEC : SEL_CB;

    ck_assert_str_eq(clipboard_selection_name(_i), selection_names[_i]);
    ck_assert(clipboard_selection_from_name(selection_names[_i], &out));
    ck_assert_int_eq(out, _i);
}
END_TEST

START_TEST(test_type_name)
{
    ClipboardType out = _i == 0 ? PNG : TEXT;

    ck_assert_str_eq(clipboard_type_name(_i), type_names[_i]);
    ck_assert(clipboard_type_from_name(type_names[_i], &out));
    ck_assert_int_eq(out, _i);
}
END_TEST

START_TEST(test_unknown_names)
{
    static const char *const bad[] = {
        "", "clip", "clipboard ", "xclipboard", "clipboardx", "unknown",
        "text/plain", "UTF8_TEXT", "jpeg", "image/png",
    };
    ClipboardSelection sel;
    ClipboardType type;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_msg(!clipboard_selection_from_name(bad[i], &sel), "%s",
                      bad[i]);
        ck_assert_msg(!clipboard_type_from_name(bad[i], &type), "%s", bad[i]);
    }
    /* one namespace does not leak into the other */
    for (i = 0; i < CLIPBOARD_SELECTION__COUNT; i++) {
        ck_assert(!clipboard_type_from_name(selection_names[i], &type));
    }
    for (i = 0; i < CLIPBOARD_TYPE__COUNT; i++) {
        ck_assert(!clipboard_selection_from_name(type_names[i], &sel));
    }
}
END_TEST

/* ---- refcounts and lifetimes --------------------------------------- */

START_TEST(test_info_new)
{
    ClipboardInfo *info = clipboard_info_new(&fx.a->peer, SEL_SEC);
    unsigned t;

    ck_assert_int_eq(info->refcount, 1);
    ck_assert_ptr_eq(info->owner, &fx.a->peer);
    ck_assert_int_eq(info->selection, SEL_SEC);
    ck_assert(!info->has_serial);
    ck_assert_uint_eq(info->serial, 0);
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        ck_assert(!info->types[t].available);
        ck_assert(!info->types[t].requested);
        ck_assert_ptr_null(info->types[t].data);
    }
    ck_assert_ptr_eq(clipboard_info_ref(info), info);
    ck_assert_int_eq(info->refcount, 2);
    clipboard_info_unref(info);
    ck_assert_int_eq(info->refcount, 1);
    clipboard_info_unref(info);
}
END_TEST

START_TEST(test_null_is_noop)
{
    clipboard_info_unref(NULL);
    clipboard_hub_free(NULL);
    {
        g_autoptr(ClipboardInfo) none = NULL;
        g_autoptr(ClipboardHub) no_hub = NULL;

        (void)none;
        (void)no_hub;
    }
    ck_assert_ptr_null(clipboard_hub_info(fx.hub, SEL_CB));
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
    ClipboardHub *hub2 = clipboard_hub_new();
    RecPeer *o = rec_new("owner", hub2, true);
    ClipboardInfo *info = grab(o, SEL_CB, BIT(TEXT));
    g_autoptr(ClipboardHub) hub3 = clipboard_hub_new();  /* autoptr frees */

    clipboard_hub_set_timeout(hub2, TIMEOUT_MS);
    ck_assert(clipboard_hub_update(hub2, info));
    ck_assert_int_eq(info->refcount, 2);
    ck_assert(clipboard_hub_request(hub2, info, TEXT));
    ck_assert_uint_eq(o->reqs->len, 1);
    if (_i == 1) {
        clipboard_hub_set_running(hub2, false);
        run_for(QUIET_MS);
    }
    clipboard_hub_free(hub2);
    ck_assert_int_eq(info->refcount, 1);
    run_for(QUIET_MS);                 /* a live timer would hit freed memory */
    clipboard_info_unref(info);
    rec_free(o);
    ck_assert(clipboard_hub_running(hub3));
}
END_TEST

/* ---- suite --------------------------------------------------------- */

static TCase *tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *clipboard_suite(void)
{
    Suite *s = suite_create("clipboard");
    TCase *tc;

    tc = tcase(s, "register");
    tcase_add_test(tc, test_register_twice_one_notification);
    tcase_add_test(tc, test_register_other_hub_refused);
    tcase_add_test(tc, test_register_state);

    tc = tcase(s, "unregister");
    tcase_add_test(tc, test_unregister_releases_owned);
    tcase_add_test(tc, test_unregister_owning_nothing_is_silent);
    tcase_add_test(tc, test_unregister_twice);
    tcase_add_test(tc, test_unregister_cancels_request);

    tc = tcase(s, "notify-reentrancy");
    tcase_add_test(tc, test_notify_unregister_self);
    tcase_add_test(tc, test_notify_unregister_later_peer);
    tcase_add_test(tc, test_notify_unregister_earlier_peer);
    tcase_add_test(tc, test_notify_unregister_and_free_later_peer);
    tcase_add_test(tc, test_notify_nested_update_last_is_current);
    tcase_add_test(tc, test_notify_unregister_owner_mid_update);
    tcase_add_test(tc, test_notify_request_answered_at_once);

    tc = tcase(s, "update");
    tcase_add_test(tc, test_update_notifies_everyone);
    tcase_add_test(tc, test_update_unrefs_old);
    tcase_add_test(tc, test_update_same_info);
    tcase_add_loop_test(tc, test_update_refused, 0,
                        2 * CLIPBOARD_TYPE__COUNT);
    tcase_add_loop_test(tc, test_update_accepted, 0, 7);

    tc = tcase(s, "request");
    tcase_add_test(tc, test_request_forwarded_once);
    tcase_add_test(tc, test_request_data_present);
    tcase_add_loop_test(tc, test_request_refused, 0, 5);
    tcase_add_test(tc, test_request_cleared_by_answer);
    tcase_add_test(tc, test_request_answered_synchronously);

    tc = tcase(s, "request-timeout");
    tcase_add_loop_test(tc, test_timeout_every_type, 0, CLIPBOARD_TYPE__COUNT);
    tcase_add_loop_test(tc, test_timeout_cancelled_by_answer, 0, 3);
    tcase_add_test(tc, test_timeout_cancelled_by_new_info);
    tcase_add_test(tc, test_timeout_cancelled_by_release);
    tcase_add_test(tc, test_timeout_thread_default_context);

    tc = tcase(s, "set-data");
    tcase_add_test(tc, test_set_data_takes_reference);
    tcase_add_loop_test(tc, test_set_data_empty, 0, 2);
    tcase_add_test(tc, test_set_data_empty_no_request_owner);
    tcase_add_test(tc, test_set_data_non_owner);
    tcase_add_test(tc, test_set_data_update_notifies);
    tcase_add_test(tc, test_set_data_no_update_is_silent);

    tc = tcase(s, "serial");
    tcase_add_loop_test(tc, test_check_serial, 0, G_N_ELEMENTS(serial_rows));
    tcase_add_test(tc, test_check_serial_no_current_serial);
    tcase_add_test(tc, test_reset_serial);
    tcase_add_test(tc, test_reset_serial_no_info);

    tc = tcase(s, "stopped");
    tcase_add_test(tc, test_running_by_default);
    tcase_add_test(tc, test_stopped_update_silent);
    tcase_add_test(tc, test_stopped_reset_deferred);
    tcase_add_test(tc, test_resume_replays_latest);
    tcase_add_test(tc, test_resume_once);
    tcase_add_test(tc, test_stopped_timeout_deferred);
    tcase_add_test(tc, test_stopped_timeout_superseded);

    tc = tcase(s, "release");
    tcase_add_test(tc, test_release_by_owner);
    tcase_add_test(tc, test_release_by_non_owner);

    tc = tcase(s, "selections");
    tcase_add_loop_test(tc, test_selection_alone, 0,
                        CLIPBOARD_SELECTION__COUNT);
    tcase_add_test(tc, test_selections_independent);

    tc = tcase(s, "types");
    tcase_add_loop_test(tc, test_type_alone, 0, CLIPBOARD_TYPE__COUNT);
    tcase_add_test(tc, test_type_mask_all);

    tc = tcase(s, "names");
    tcase_add_loop_test(tc, test_selection_name, 0,
                        CLIPBOARD_SELECTION__COUNT);
    tcase_add_loop_test(tc, test_type_name, 0, CLIPBOARD_TYPE__COUNT);
    tcase_add_test(tc, test_unknown_names);

    tc = tcase(s, "lifetime");
    tcase_add_test(tc, test_info_new);
    tcase_add_test(tc, test_null_is_noop);
    tcase_add_loop_test(tc, test_hub_free_releases, 0, 2);

    return s;
}
