/*
 * clipboard-vmstate.c: saving and restoring the selections a peer owns.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/vdc-clipboard-vmstate.h"

#include <string.h>

static const VdcVMStateDescription vmstate_clipboard_saved_data = {
    .name = "clipboard/data",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(len, VdcClipboardSavedData),
        VDC_VMSTATE_VBUFFER_UINT32(data, VdcClipboardSavedData, len,
                                   VDC_CLIPBOARD_SAVED_MAX_DATA),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_clipboard_saved_info = {
    .name = "clipboard/info",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(selection, VdcClipboardSavedInfo),
        VDC_VMSTATE_BOOL(has_serial, VdcClipboardSavedInfo),
        VDC_VMSTATE_UINT32(serial, VdcClipboardSavedInfo),
        VDC_VMSTATE_UINT32(types, VdcClipboardSavedInfo),
        VDC_VMSTATE_STRUCT_ARRAY(data, VdcClipboardSavedInfo, VDC_CLIPBOARD_TYPE__COUNT,
                                 vmstate_clipboard_saved_data, VdcClipboardSavedData),
        VDC_VMSTATE_END_OF_LIST()
    },
};

bool vdc_clipboard_saved_check(const VdcClipboardSaved *saved, GError **errp)
{
    unsigned seen = 0, i, t;

    if (saved->n > VDC_CLIPBOARD_SELECTION__COUNT) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "clipboard: %u selections, at most %u", saved->n,
                    VDC_CLIPBOARD_SELECTION__COUNT);
        return false;
    }
    for (i = 0; i < saved->n; i++) {
        const VdcClipboardSavedInfo *info = &saved->infos[i];

        if (info->selection >= VDC_CLIPBOARD_SELECTION__COUNT ||
            (seen & (1u << info->selection))) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "clipboard: selection %u invalid or repeated",
                        info->selection);
            return false;
        }
        seen |= 1u << info->selection;
        if (info->types & ~VDC_CLIPBOARD_TYPE_MASK_ALL) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "clipboard: unknown type bits 0x%x",
                        info->types & ~VDC_CLIPBOARD_TYPE_MASK_ALL);
            return false;
        }
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            if (info->data[t].len && !(info->types & (1u << t))) {
                g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                            "clipboard: data for %s, which is not available",
                            vdc_clipboard_type_name(t));
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
    return vdc_clipboard_saved_check(opaque, errp);
}

const VdcVMStateDescription vdc_vmstate_clipboard_saved = {
    .name = "clipboard",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(n, VdcClipboardSaved),
        VDC_VMSTATE_STRUCT_VARRAY_UINT32(infos, VdcClipboardSaved, n,
                                         VDC_CLIPBOARD_SELECTION__COUNT,
                                         vmstate_clipboard_saved_info,
                                         VdcClipboardSavedInfo),
        VDC_VMSTATE_VALIDATE("clipboard-valid", clipboard_saved_validate),
        VDC_VMSTATE_END_OF_LIST()
    },
};

void vdc_clipboard_saved_clear(VdcClipboardSaved *saved)
{
    unsigned i, t;

    for (i = 0; i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            g_clear_pointer(&saved->infos[i].data[t].data, g_free);
            g_clear_pointer(&saved->live_data[i * VDC_CLIPBOARD_TYPE__COUNT + t],
                            g_bytes_unref);
        }
    }
    memset(saved, 0, sizeof(*saved));
}

void vdc_clipboard_saved_collect(VdcClipboardSaved *saved, VdcClipboardPeer *peer)
{
    uint32_t skip = saved->live_skip;
    unsigned s, t;

    vdc_clipboard_saved_clear(saved);
    saved->live_skip = skip;
    if (!peer->hub) {
        return;
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(peer->hub, s);
        VdcClipboardSavedInfo *out;

        if (!info || info->owner != peer) {
            continue;
        }
        out = &saved->infos[saved->n++];
        out->selection = s;
        out->has_serial = info->has_serial;
        out->serial = info->serial;
        out->types = vdc_clipboard_info_types(info);
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            GBytes *data = info->types[t].data;
            size_t len;
            const void *p;

            if (!data) {
                continue;
            }
            if (skip & (1u << (s * VDC_CLIPBOARD_TYPE__COUNT + t))) {
                saved->live |= 1u << (s * VDC_CLIPBOARD_TYPE__COUNT + t);
                continue;
            }
            p = g_bytes_get_data(data, &len);
            out->data[t].len = len;
            out->data[t].data = g_memdup2(p, len);
        }
    }
}

void vdc_clipboard_saved_restore(VdcClipboardSaved *saved, VdcClipboardHub *hub,
                                 VdcClipboardPeer *peer)
{
    unsigned i, t;

    for (i = 0; i < saved->n; i++) {
        VdcClipboardSavedInfo *in = &saved->infos[i];
        g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(peer, in->selection);

        info->has_serial = in->has_serial;
        info->serial = in->serial;
        info->restored = true;
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            GBytes **live = &saved->live_data[in->selection *
                                              VDC_CLIPBOARD_TYPE__COUNT + t];

            info->types[t].available = in->types & (1u << t);
            if (*live) {
                info->types[t].data = g_steal_pointer(live);
            } else if (in->data[t].len) {
                info->types[t].data = g_bytes_new_take(
                    g_steal_pointer(&in->data[t].data), in->data[t].len);
                in->data[t].len = 0;
            }
        }
        vdc_clipboard_hub_update(hub, info);
    }
    vdc_clipboard_saved_clear(saved);
}
