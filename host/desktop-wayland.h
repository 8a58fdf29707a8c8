/*
 * desktop-wayland.h: the host desktop's clipboard on a Wayland compositor,
 * the native side of `--desktop-clipboard on` (desktop-clipboard.h picks
 * it when $WAYLAND_DISPLAY is set).
 *
 * A Wayland compositor hands the selections only to the client with the
 * keyboard focus, and vdagent-host has no window: GTK's own Wayland
 * backend cannot own or read the clipboard for it.  The compositors that
 * serve clipboard managers offer a protocol for exactly this, wlroots'
 * data-control (zwlr_data_control_manager_v1: sway, Hyprland, river,
 * Wayfire, labwc, KDE Plasma); this peer speaks it with libwayland-client
 * (the protocol's description: host/protocols/).  It behaves as the GTK
 * peer does, and traces the same "desktop: ..." lines:
 *  - a desktop copy (CLIPBOARD, and PRIMARY with version 2) becomes a
 *    grab on the hub with the offer's MIME types mapped to ours (text from
 *    text/plain;charset=utf-8, UTF8_STRING, text/plain, TEXT or STRING
 *    (Latin-1); image/png, image/bmp, image/tiff, image/jpeg), fetched
 *    only when another peer asks, through a pipe read on the main loop;
 *  - another peer's grab makes the peer set a source of its own offering
 *    the hub's types; a desktop paste gets a pipe that is written on the
 *    main loop once the hub has the data (never blocking, no nested main
 *    loop), or closed empty when it cannot come;
 *  - its own source coming back as the selection is recognised by a MIME
 *    type private to the process and never becomes a grab.
 * A compositor that goes away (or a protocol error) ends the peer: the
 * host program goes on without it, its grabs released.
 */
#ifndef HOST_DESKTOP_WAYLAND_H
#define HOST_DESKTOP_WAYLAND_H

#include <glib.h>

#include "host/host.h"

typedef struct HostDesktopWayland HostDesktopWayland;

/*
 * Connect to the compositor at $WAYLAND_DISPLAY and register the peer on
 * @h's hub (@h borrowed; it must outlive the peer).  NULL with @errp set
 * when the display cannot be opened, or when the compositor offers no
 * data-control protocol or no seat (the caller may fall back on X11).
 */
HostDesktopWayland *host_desktop_wayland_new(Host *h, GError **errp);

/* Give up its sources, unregister from the hub, disconnect and free.
 * NULL: no-op. */
void host_desktop_wayland_free(HostDesktopWayland *dw);

#endif /* HOST_DESKTOP_WAYLAND_H */
