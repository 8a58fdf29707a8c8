/*
 * desktop-clipboard.h: the host desktop's clipboard as a peer ("desktop")
 * of the device's clipboard hub, for `vdagent-host --desktop-clipboard on`
 * (issue 13).  On X11 built on GTK 3 (GTK's X11 backend only: on Wayland
 * a windowless client gets no selection); on a Wayland compositor the
 * data-control peer of desktop-wayland.h.  Only desktop-clipboard.c sees
 * GTK: this header includes glib only.
 *
 * Both ways, for CLIPBOARD and PRIMARY:
 *  - a desktop application copying becomes a grab on the hub whose types
 *    are the desktop's targets mapped to ours (text from UTF8_STRING,
 *    text/plain;charset=utf-8 or STRING; image/png, image/bmp, image/tiff,
 *    image/jpeg); the data is fetched from the desktop only when another
 *    peer asks (a guest paste), asynchronously;
 *  - another peer's grab (the guest's, a QMP clipboard-set) makes this
 *    peer own the desktop's selection, offering the hub's types; a desktop
 *    paste asks the hub and is served once the data arrives (the main
 *    loop runs nested meanwhile, at most the hub's request timeout plus a
 *    second; an empty answer after that).
 * A selection this peer took itself never comes back as a desktop grab.
 * Text passes byte for byte (UTF-8; STRING is Latin-1 on the wire).
 * With --verbose every step is traced ("desktop: ..." lines, each with
 * its running count) and a summary of the counts is logged at the end.
 *
 * GTK runs on the default main context, the one g_main_loop_run() in
 * main.c dispatches: no gtk_main().
 */
#ifndef HOST_DESKTOP_CLIPBOARD_H
#define HOST_DESKTOP_CLIPBOARD_H

#include <glib.h>

#include "host/host.h"

typedef struct HostDesktopClipboard HostDesktopClipboard;

/*
 * Open the display and register the peer on @h's hub (@h borrowed; it
 * must outlive the peer): with $WAYLAND_DISPLAY set (and not
 * GDK_BACKEND=x11) the compositor's data-control protocol, else (or when
 * that fails and $DISPLAY is set: XWayland) GTK on $DISPLAY.  NULL with
 * @errp set when neither variable is set or no display can be used.
 * Once per process.
 */
HostDesktopClipboard *host_desktop_clipboard_new(Host *h, GError **errp);

/*
 * Give up the desktop selections it owns, unregister from the hub (which
 * releases its grabs: the other peers are told) and free.  NULL: no-op.
 */
void host_desktop_clipboard_free(HostDesktopClipboard *dc);

#endif /* HOST_DESKTOP_CLIPBOARD_H */
