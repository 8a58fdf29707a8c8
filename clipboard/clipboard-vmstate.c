/*
 * clipboard-vmstate.c: saving and restoring the selections a peer owns.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/clipboard-vmstate.h"

#include <string.h>

static const VMStateDescription vmstate_clipboard_saved_data = {
    .name = "clipboard/data",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]){
        VMSTATE_UINT32(len, ClipboardSavedData),
        VMSTATE_VBUFFER_UINT32(data, ClipboardSavedData, len,
                               CLIPBOARD_SAVED_MAX_DATA),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_clipboard_saved_info = {
    .name = "clipboard/info",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]){
        VMSTATE_UINT32(selection, ClipboardSavedInfo),
        VMSTATE_BOOL(has_serial, ClipboardSavedInfo),
        VMSTATE_UINT32(serial, ClipboardSavedInfo),
        VMSTATE_UINT32(types, ClipboardSavedInfo),
        VMSTATE_STRUCT_ARRAY(data, ClipboardSavedInfo, CLIPBOARD_TYPE__COUNT,
                             vmstate_clipboard_saved_data, ClipboardSavedData),
        VMSTATE_END_OF_LIST()
    },
};

bool clipboard_saved_check(const ClipboardSaved *saved, GError **errp)
{
    unsigned seen = 0, i, t;

    if (saved->n > CLIPBOARD_SELECTION__COUNT) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "clipboard: %u selections, at most %u", saved->n,
                    CLIPBOARD_SELECTION__COUNT);
        return false;
    }
    for (i = 0; i < saved->n; i++) {
        const ClipboardSavedInfo *info = &saved->infos[i];

        if (info->selection >= CLIPBOARD_SELECTION__COUNT ||
            (seen & (1u << info->selection))) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "clipboard: selection %u invalid or repeated",
                        info->selection);
            return false;
        }
        seen |= 1u << info->selection;
        if (info->types & ~CLIPBOARD_TYPE_MASK_ALL) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "clipboard: unknown type bits 0x%x",
                        info->types & ~CLIPBOARD_TYPE_MASK_ALL);
            return false;
        }
        for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
            if (info->data[t].len && !(info->types & (1u << t))) {
                g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                            "clipboard: data for %s, which is not available",
                            clipboard_type_name(t));
                return false;
            }
        }
    }
    return true;
}

static bool clipboard_saved_validate(void *opaque, int version_id,
                                     GError **errp)
{
    (void)version_id;
    return clipboard_saved_check(opaque, errp);
}

const VMStateDescription vmstate_clipboard_saved = {
    .name = "clipboard",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]){
        VMSTATE_UINT32(n, ClipboardSaved),
        VMSTATE_STRUCT_VARRAY_UINT32(infos, ClipboardSaved, n,
                                     CLIPBOARD_SELECTION__COUNT,
                                     vmstate_clipboard_saved_info,
                                     ClipboardSavedInfo),
        VMSTATE_VALIDATE("clipboard-valid", clipboard_saved_validate),
        VMSTATE_END_OF_LIST()
    },
};

void clipboard_saved_clear(ClipboardSaved *saved)
{
    unsigned i, t;

    for (i = 0; i < CLIPBOARD_SELECTION__COUNT; i++) {
        for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
            g_clear_pointer(&saved->infos[i].data[t].data, g_free);
        }
    }
    memset(saved, 0, sizeof(*saved));
}

void clipboard_saved_collect(ClipboardSaved *saved, ClipboardPeer *peer)
{
    uint32_t skip = saved->live_skip;
    unsigned s, t;

    clipboard_saved_clear(saved);
    saved->live_skip = skip;
    if (!peer->hub) {
        return;
    }
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        ClipboardInfo *info = clipboard_hub_info(peer->hub, s);
        ClipboardSavedInfo *out;

        if (!info || info->owner != peer) {
            continue;
        }
        out = &saved->infos[saved->n++];
        out->selection = s;
        out->has_serial = info->has_serial;
        out->serial = info->serial;
        out->types = clipboard_info_types(info);
        for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
            GBytes *data = info->types[t].data;
            size_t len;
            const void *p;

            if (!data) {
                continue;
            }
            if (skip & (1u << (s * CLIPBOARD_TYPE__COUNT + t))) {
                saved->live |= 1u << (s * CLIPBOARD_TYPE__COUNT + t);
                continue;
            }
            p = g_bytes_get_data(data, &len);
            out->data[t].len = len;
            out->data[t].data = g_memdup2(p, len);
        }
    }
}

void clipboard_saved_restore(ClipboardSaved *saved, ClipboardHub *hub,
                             ClipboardPeer *peer)
{
    unsigned i, t;

    for (i = 0; i < saved->n; i++) {
        ClipboardSavedInfo *in = &saved->infos[i];
        g_autoptr(ClipboardInfo) info = clipboard_info_new(peer, in->selection);

        info->has_serial = in->has_serial;
        info->serial = in->serial;
        info->restored = true;
        for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
            info->types[t].available = in->types & (1u << t);
            if (in->data[t].len) {
                info->types[t].data = g_bytes_new_take(
                    g_steal_pointer(&in->data[t].data), in->data[t].len);
                in->data[t].len = 0;
            }
        }
        clipboard_hub_update(hub, info);
    }
    clipboard_saved_clear(saved);
}
