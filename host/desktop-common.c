/*
 * desktop-common.c: what the desktop's two clipboard peers share.  See
 * desktop-common.h.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/desktop-common.h"

char *host_desktop_types_text(const VdcClipboardInfo *info)
{
    GString *s = g_string_new(NULL);
    unsigned t;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            g_string_append_printf(s, "%s%s", s->len ? " " : "",
                                   vdc_clipboard_type_name(t));
        }
    }
    return g_string_free(s, FALSE);
}

void host_desktop_log_counts(Host *h, const HostDesktopCounts *n)
{
    host_log(h, "desktop: %" G_GUINT64_FORMAT " grabs, %" G_GUINT64_FORMAT
             " releases, %" G_GUINT64_FORMAT " offers, %" G_GUINT64_FORMAT
             " own owner changes, %" G_GUINT64_FORMAT " fetches, %"
             G_GUINT64_FORMAT " pastes served, %" G_GUINT64_FORMAT
             " unserved", n->grabs, n->releases, n->offers, n->own_changes,
             n->fetches, n->served, n->unserved);
}

void host_desktop_release(Host *h, VdcClipboardPeer *peer, HostDesktopCounts *n,
                          VdcClipboardSelection sel, bool quit)
{
    if (!vdc_clipboard_peer_owns(peer, sel)) {
        return;
    }
    n->releases++;
    host_log(h, quit ? "desktop: the %s owner quit: released (%"
                       G_GUINT64_FORMAT ")"
                     : "desktop: %s has nothing to offer: released (%"
                       G_GUINT64_FORMAT ")",
             vdc_clipboard_selection_name(sel), n->releases);
    vdc_clipboard_peer_release(peer, sel);
}

void host_desktop_grab(Host *h, VdcClipboardPeer *peer, HostDesktopCounts *n,
                       VdcClipboardSelection sel, const int *from,
                       int *fetch_from, VdcClipboardInfo **grab)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(peer, sel);
    g_autofree char *types = NULL;
    unsigned i;

    for (i = 0; i < VDC_CLIPBOARD_TYPE__COUNT; i++) {
        info->types[i].available = from[i] >= 0;
        fetch_from[i] = from[i];
    }
    g_clear_pointer(grab, vdc_clipboard_info_unref);
    *grab = vdc_clipboard_info_ref(info);
    n->grabs++;
    types = host_desktop_types_text(info);
    host_log(h, "desktop: grab %s from the desktop: %s (%" G_GUINT64_FORMAT ")",
             vdc_clipboard_selection_name(sel), types, n->grabs);
    /* may notify the peer at once: its own, nothing to do there */
    vdc_clipboard_hub_update(h->hub, info);
}

GBytes *host_desktop_fit(Host *h, GBytes *data)
{
    unsigned max = vdc_chardev_max_clipboard(h->dev);

    if (data && g_bytes_get_size(data) > max) {
        host_log(h, "desktop: %zu bytes is more than the clipboard's "
                 "maximum (%u): answered empty", g_bytes_get_size(data), max);
        g_bytes_unref(data);
        return NULL;
    }
    return data;
}
