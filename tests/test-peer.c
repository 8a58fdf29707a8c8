/*
 * test-peer.c: a host-side clipboard peer for the device suites (see
 * test-peer.h).
 */
#include <check.h>
#include <string.h>

#include "tests/test-peer.h"
#include "tests/test-util.h"

static void view_of(const HostPeer *hp, const VdcClipboardInfo *info,
                    HostPeerView *v)
{
    memset(v, 0, sizeof(*v));
    v->owner = !info->owner ? 'n' : info->owner == &hp->peer ? 'h' : 'g';
    v->types = vdc_clipboard_info_types(info);
    v->has_serial = info->has_serial;
    v->serial = info->serial;
    for (unsigned t = 0; t < HP_N_TYPES; t++) {
        const uint8_t *d;
        size_t n;

        if (!info->types[t].data) {
            continue;
        }
        d = g_bytes_get_data(info->types[t].data, &n);
        v->len[t] = n;
        v->hash[t] = test_fnv1a64(TEST_FNV1A64_INIT, d, n);
    }
}

/* Keep the view of an UPDATE's selection, and log it when it changed. */
static void hp_update_view(HostPeer *hp, const VdcClipboardInfo *info)
{
    unsigned sel = info->selection;
    HostPeerView v;

    view_of(hp, info, &v);
    if (memcmp(&v, &hp->view[sel], sizeof(v)) == 0) {
        return;                  /* a replay of what we know */
    }
    hp->view[sel] = v;
    g_string_append_printf(hp->log, "sel %u owner %c types 0x%x serial %c%u",
                           sel, v.owner, v.types, v.has_serial ? '+' : '-',
                           v.serial);
    for (unsigned t = 0; t < HP_N_TYPES; t++) {
        if (v.len[t]) {
            g_string_append_printf(hp->log, " %s:%u:%016" G_GINT64_MODIFIER
                                   "x", vdc_clipboard_type_name(t), v.len[t],
                                   v.hash[t]);
        }
    }
    g_string_append_c(hp->log, '\n');
}

static void hp_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    HostPeer *hp = peer->opaque;
    HostPeerNote note = { .type = n->type, .new_info = n->new_info,
                          .data_type = n->data_type };

    if (n->info) {
        note.sel = n->info->selection;
        note.owner = n->info->owner;
        note.types = vdc_clipboard_info_types(n->info);
        note.has_serial = n->info->has_serial;
        note.serial = n->info->serial;
    }
    g_array_append_val(hp->notes, note);
    if (n->type == VDC_CLIPBOARD_NOTIFY_UPDATE) {
        hp_update_view(hp, n->info);
    }
}

static void hp_request_cb(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                          VdcClipboardType type)
{
    HostPeer *hp = peer->opaque;
    HostPeerNote r = { .sel = info->selection, .owner = info->owner,
                       .data_type = type };
    GBytes *answer = hp->answer[info->selection][type];

    ck_assert_ptr_eq(info->owner, peer);
    g_array_append_val(hp->requests, r);
    if (answer) {
        ck_assert(vdc_clipboard_hub_set_data(hp->hub, peer, info, type, answer,
                                             true));
    }
}

static const VdcClipboardPeerOps hp_ops = {
    .notify = hp_notify,
    .request = hp_request_cb,
};

static const VdcClipboardPeerOps hp_ops_no_request = {
    .notify = hp_notify,
};

HostPeer *hp_new(VdcClipboardHub *hub, const char *name, bool can_request)
{
    HostPeer *hp = g_new0(HostPeer, 1);

    hp->peer.name = name;
    hp->peer.ops = can_request ? &hp_ops : &hp_ops_no_request;
    hp->peer.opaque = hp;
    hp->hub = hub;
    hp->notes = g_array_new(FALSE, TRUE, sizeof(HostPeerNote));
    hp->requests = g_array_new(FALSE, TRUE, sizeof(HostPeerNote));
    hp->log = g_string_new(NULL);
    for (unsigned s = 0; s < HP_N_SEL; s++) {
        hp->view[s].owner = 'n';
    }
    ck_assert(vdc_clipboard_peer_register(hub, &hp->peer));
    return hp;
}

void hp_free(HostPeer *hp)
{
    if (!hp) {
        return;
    }
    vdc_clipboard_peer_unregister(&hp->peer);
    for (unsigned s = 0; s < HP_N_SEL; s++) {
        for (unsigned t = 0; t < HP_N_TYPES; t++) {
            g_clear_pointer(&hp->answer[s][t], g_bytes_unref);
        }
    }
    g_array_unref(hp->notes);
    g_array_unref(hp->requests);
    g_string_free(hp->log, TRUE);
    g_free(hp);
}

unsigned hp_count(const HostPeer *hp, VdcClipboardNotifyType type)
{
    unsigned n = 0;

    for (unsigned i = 0; i < hp->notes->len; i++) {
        n += g_array_index(hp->notes, HostPeerNote, i).type == type;
    }
    return n;
}

const HostPeerNote *hp_last(const HostPeer *hp)
{
    ck_assert_uint_gt(hp->notes->len, 0);
    return &g_array_index(hp->notes, HostPeerNote, hp->notes->len - 1);
}

VdcClipboardInfo *hp_grab(HostPeer *hp, unsigned sel, unsigned mask)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&hp->peer, sel);

    for (unsigned t = 0; t < HP_N_TYPES; t++) {
        info->types[t].available = mask & (1u << t);
    }
    ck_assert(vdc_clipboard_hub_update(hp->hub, info));
    return vdc_clipboard_hub_info(hp->hub, sel);
}

bool hp_grab_bytes(HostPeer *hp, unsigned sel, VdcClipboardType type,
                   GBytes *data)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&hp->peer, sel);

    ck_assert(vdc_clipboard_hub_set_data(hp->hub, &hp->peer, info, type, data,
                                         false));
    return vdc_clipboard_hub_update(hp->hub, info);
}

void hp_grab_data(HostPeer *hp, unsigned sel, VdcClipboardType type,
                  const void *data, size_t len)
{
    g_autoptr(GBytes) bytes = g_bytes_new(data, len);

    ck_assert(hp_grab_bytes(hp, sel, type, bytes));
}

void hp_answer(HostPeer *hp, unsigned sel, VdcClipboardType type,
               const void *data, size_t len)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(hp->hub, sel);
    g_autoptr(GBytes) bytes = g_bytes_new(data, len);

    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_eq(info->owner, &hp->peer);
    ck_assert(vdc_clipboard_hub_set_data(hp->hub, &hp->peer, info, type, bytes,
                                         true));
}

bool hp_request(HostPeer *hp, unsigned sel, VdcClipboardType type)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(hp->hub, sel);

    return info && vdc_clipboard_hub_request(hp->hub, info, type);
}

GBytes *hp_data(HostPeer *hp, unsigned sel, VdcClipboardType type)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(hp->hub, sel);

    return info ? info->types[type].data : NULL;
}
