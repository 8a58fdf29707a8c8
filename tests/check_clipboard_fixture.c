/*
 * check_clipboard_fixture.c: the fixture of the clipboard hub suites (see
 * check_clipboard.h).
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/check_clipboard.h"

/* ---- payloads ---------------------------------------------------- */

/* Distinct data per type; never empty. */
const char *const payloads[VDC_CLIPBOARD_TYPE__COUNT] = {
    [VDC_CLIPBOARD_TYPE_TEXT] = "hello, clipboard",
    [VDC_CLIPBOARD_TYPE_PNG] = "\x89PNG\r\n\x1a\n-png",
    [VDC_CLIPBOARD_TYPE_BMP] = "BM-bitmap",
    [VDC_CLIPBOARD_TYPE_TIFF] = "II*\x01-tiff",
    [VDC_CLIPBOARD_TYPE_JPG] = "\xff\xd8\xff-jpg",
};

GBytes *payload(VdcClipboardType type)
{
    return g_bytes_new_static(payloads[type], strlen(payloads[type]));
}

void check_payload(GBytes *data, VdcClipboardType type)
{
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(g_bytes_get_size(data), strlen(payloads[type]));
    ck_assert_mem_eq(g_bytes_get_data(data, NULL), payloads[type],
                     strlen(payloads[type]));
}

/* ---- recording peer ------------------------------------------------ */

static void rec_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
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
        note.types = vdc_clipboard_info_types(n->info);
    }
    g_array_append_val(rp->notes, note);
    if (rp->hook) {
        rp->hook_calls++;
        rp->hook(rp, n);
    }
}

static void rec_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                        VdcClipboardType type)
{
    RecPeer *rp = peer->opaque;
    Req req = { .info = info, .type = type };

    g_array_append_val(rp->reqs, req);
    if (rp->answer == ANSWER_SYNC) {
        g_autoptr(GBytes) data = payload(type);

        ck_assert(vdc_clipboard_hub_set_data(rp->hub, peer, info, type, data,
                                             rp->answer_update));
    }
}

static const VdcClipboardPeerOps rec_ops = {
    .notify = rec_notify,
    .request = rec_request,
};

static const VdcClipboardPeerOps rec_ops_norequest = {
    .notify = rec_notify,
};

void rec_init(RecPeer *rp, const char *name, VdcClipboardHub *hub,
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

void rec_fini(RecPeer *rp)
{
    g_array_unref(rp->notes);
    g_array_unref(rp->reqs);
    rp->notes = rp->reqs = NULL;
}

RecPeer *rec_new(const char *name, VdcClipboardHub *hub, bool can_request)
{
    RecPeer *rp = g_new(RecPeer, 1);

    rec_init(rp, name, hub, can_request);
    return rp;
}

void rec_free(RecPeer *rp)
{
    ck_assert(!vdc_clipboard_peer_registered(&rp->peer));
    rec_fini(rp);
    g_free(rp);
}

void rec_clear(RecPeer *rp)
{
    g_array_set_size(rp->notes, 0);
    g_array_set_size(rp->reqs, 0);
}

unsigned rec_count(const RecPeer *rp, VdcClipboardNotifyType type)
{
    unsigned i, c = 0;

    for (i = 0; i < rp->notes->len; i++) {
        c += g_array_index(rp->notes, Note, i).type == type;
    }
    return c;
}

const Note *note_at(const RecPeer *rp, unsigned i)
{
    ck_assert_uint_lt(i, rp->notes->len);
    return &g_array_index(rp->notes, Note, i);
}

unsigned count_updates(const RecPeer *rp, VdcClipboardSelection sel)
{
    unsigned i, c = 0;

    for (i = 0; i < rp->notes->len; i++) {
        const Note *n = note_at(rp, i);

        c += n->type == UPDATE && n->selection == sel;
    }
    return c;
}

const Note *last_update(const RecPeer *rp, VdcClipboardSelection sel)
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

const Req *req_at(const RecPeer *rp, unsigned i)
{
    ck_assert_uint_lt(i, rp->reqs->len);
    return &g_array_index(rp->reqs, Req, i);
}

void check_update(const Note *n, VdcClipboardInfo *info, bool new_info)
{
    ck_assert_int_eq(n->type, UPDATE);
    ck_assert_ptr_eq(n->info, info);
    ck_assert_int_eq(n->new_info, new_info);
}

void check_timeout(const Note *n, VdcClipboardInfo *info,
                   VdcClipboardType type)
{
    ck_assert_int_eq(n->type, TIMEOUT);
    ck_assert_ptr_eq(n->info, info);
    ck_assert_int_eq(n->data_type, type);
}

/* ---- main loop ----------------------------------------------------- */

bool got_timeout(const void *arg)
{
    return rec_count(arg, TIMEOUT) > 0;
}

bool got_two_timeouts(const void *arg)
{
    return rec_count(arg, TIMEOUT) >= 2;
}

/* ---- infos --------------------------------------------------------- */

VdcClipboardInfo *grab_info(RecPeer *owner, VdcClipboardSelection sel,
                    unsigned mask)
{
    VdcClipboardInfo *info = vdc_clipboard_info_new(owner ? &owner->peer : NULL, sel);
    unsigned t;

    ck_assert_ptr_nonnull(info);
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        info->types[t].available = (mask & BIT(t)) != 0;
    }
    return info;
}

void fill_info(VdcClipboardInfo *info, unsigned mask)
{
    unsigned t;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (mask & BIT(t)) {
            info->types[t].available = true;
            info->types[t].data = payload(t);
        }
    }
}

void with_serial(VdcClipboardInfo *info, uint32_t serial)
{
    info->has_serial = true;
    info->serial = serial;
}

/* ---- fixture ------------------------------------------------------- */

HubFixture fx;

static void setup(void)
{
    fx.hub = vdc_clipboard_hub_new();
    ck_assert_ptr_nonnull(fx.hub);
    vdc_clipboard_hub_set_timeout(fx.hub, TIMEOUT_MS);
    fx.a = rec_new("a", fx.hub, true);
    fx.b = rec_new("b", fx.hub, true);
    fx.n = rec_new("n", fx.hub, false);
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.a->peer));
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.b->peer));
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.n->peer));
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
            vdc_clipboard_peer_unregister(&fx.guarded->peer);
            rec_fini(fx.guarded);
        }
        ck_assert_int_eq(munmap(fx.guarded, fx.guarded_size), 0);
    }
    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        vdc_clipboard_peer_unregister(&all[i]->peer);
    }
    vdc_clipboard_hub_free(fx.hub);
    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        rec_free(all[i]);
    }
    memset(&fx, 0, sizeof(fx));
}

void clear_logs(void)
{
    rec_clear(fx.a);
    rec_clear(fx.b);
    rec_clear(fx.n);
}

void install_info(VdcClipboardInfo *info)
{
    ck_assert(vdc_clipboard_hub_update(fx.hub, info));
    ck_assert_ptr_eq(vdc_clipboard_hub_info(fx.hub, info->selection), info);
}

void check_silence(void)
{
    ck_assert_uint_eq(fx.a->notes->len, 0);
    ck_assert_uint_eq(fx.b->notes->len, 0);
    ck_assert_uint_eq(fx.n->notes->len, 0);
}

RecPeer *guarded_new(void)
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
    ck_assert(vdc_clipboard_peer_register(fx.hub, &fx.guarded->peer));
    return fx.guarded;
}

void guarded_destroy(RecPeer *rp)
{
    ck_assert_ptr_eq(rp, fx.guarded);
    ck_assert(!vdc_clipboard_peer_registered(&rp->peer));
    rec_fini(rp);
    fx.guarded_alive = false;
    ck_assert_int_eq(mprotect(rp, fx.guarded_size, PROT_NONE), 0);
}

TCase *hub_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}
