/*
 * desktop-common.h: what the host desktop's two clipboard peers share,
 * GTK's on X11 (desktop-clipboard.c) and data-control's on Wayland
 * (desktop-wayland.c): their counts, their trace, and the clipboard's
 * maximum for a desktop copy.  glib only.
 */
#ifndef HOST_DESKTOP_COMMON_H
#define HOST_DESKTOP_COMMON_H

#include <stdint.h>

#include <glib.h>

#include "clipboard/vdc-clipboard.h"
#include "host/host.h"

/* What a peer did, each traced with its running count. */
typedef struct HostDesktopCounts {
    uint64_t grabs, releases, offers, own_changes;
    uint64_t fetches, served, unserved;
} HostDesktopCounts;

/* "text png": @info's available types, for the trace (g_free). */
char *host_desktop_types_text(const VdcClipboardInfo *info);

/* The summary traced when a peer ends. */
void host_desktop_log_counts(Host *h, const HostDesktopCounts *n);

/*
 * The desktop's copy of @sel is gone (@quit: its owner quit, else it has
 * no type we know): @peer's grab of @sel, if it holds one, is released
 * (traced, counted in @n).
 */
void host_desktop_release(Host *h, VdcClipboardPeer *peer, HostDesktopCounts *n,
                          VdcClipboardSelection sel, bool quit);

/*
 * A desktop copy of @sel offering the types whose @from (an index into
 * the peer's own table, per type) is >= 0: a new grab of @peer on the hub
 * (traced, counted in @n).  @fetch_from gets @from, *@grab the new info
 * (a reference; the previous one dropped).
 */
void host_desktop_grab(Host *h, VdcClipboardPeer *peer, HostDesktopCounts *n,
                       VdcClipboardSelection sel, const int *from,
                       int *fetch_from, VdcClipboardInfo **grab);

/*
 * A desktop copy's data fetched for the hub (taken; may be NULL): as
 * clipboard-set, no more than the guest was told it may send, so NULL
 * (traced) when larger than the device's clipboard maximum.
 */
GBytes *host_desktop_fit(Host *h, GBytes *data);

#endif /* HOST_DESKTOP_COMMON_H */
