/*
 * clipboard-peer.h: the host's own clipboard peer ("host") in vdagent-host.
 *
 * What QMP's clipboard-set puts on the hub and clipboard-get reads from
 * it.  It sends the CLIPBOARD event when another peer (the guest agent)
 * takes a selection, and keeps the clipboard-get requests that wait for
 * the owner's data as host.c waiting requests: each is answered once,
 * with the data, on a timeout, when the owner changes or goes, or by
 * host_fail_waiting().  Its selections migrate (host_clipboard_peer_save,
 * _restore) inside the "vdagent-host" section.
 */
#ifndef HOST_CLIPBOARD_PEER_H
#define HOST_CLIPBOARD_PEER_H

#include <glib.h>
#include <json-c/json.h>

#include "clipboard/vdc-clipboard-vmstate.h"
#include "clipboard/vdc-clipboard.h"
#include "host/host.h"
#include "host/qmp.h"

typedef struct HostClipboardPeer HostClipboardPeer;

/* The peer, registered on @h's hub (@h borrowed; it must outlive it). */
HostClipboardPeer *host_clipboard_peer_new(Host *h);

/*
 * Answer its clipboard-gets still waiting ("vdagent-host is quitting"),
 * unregister from the hub (which releases its selections: the other peers
 * are told) and free.  NULL: no-op.
 */
void host_clipboard_peer_free(HostClipboardPeer *p);

/*
 * clipboard-set: take @sel with @data (a reference is taken) as its only
 * type @type.  The caller checked the size against the device's maximum.
 */
void host_clipboard_peer_set(HostClipboardPeer *p, VdcClipboardSelection sel,
                             VdcClipboardType type, GBytes *data);

/*
 * clipboard-get: answer @req (taken) with the @type data of @sel:
 * {"data": text} for valid UTF-8 text, {"data-base64": ...} otherwise.
 * At once when the data is at hand; else the owner is asked and @req
 * waits.  Errors (GenericError): "no owner for the S selection", "the S
 * selection has no T", "the owner cannot be asked", and later "timed out
 * waiting for the clipboard owner", "the guest has no T data on the S
 * selection" (the owner answered "no data": a guest NONE), "the
 * clipboard changed owner before answering", "the owner went away (guest
 * disconnected?)".
 *
 * @filename (absolute, or NULL): the "filename" form.  The raw bytes go
 * to that file and the answer is {"size": N}.  At once, before the owner
 * is asked, the name must be absent or a regular file (no directory,
 * symbolic link or device) and a temporary file ".NAME.XXXXXX" (mode
 * 0600) is created in its directory, else an error and nothing asked;
 * the data is written there and renamed to @filename, and the temporary
 * file is unlinked on any failure: no partial file is ever left.
 */
void host_clipboard_peer_get(HostClipboardPeer *p, QmpRequest *req,
                             VdcClipboardSelection sel, VdcClipboardType type,
                             const char *filename);

/* clipboard-release: give up @sel if the host owns it (else no-op). */
void host_clipboard_peer_release(HostClipboardPeer *p, VdcClipboardSelection sel);

/* Who owns @info (borrowed; may be NULL): "host", "desktop" (the host
 * desktop, --desktop-clipboard), "guest", or NULL for nobody. */
const char *host_clipboard_owner_name(const HostClipboardPeer *p,
                                      const VdcClipboardInfo *info);

/* A new JSON array of the names of @info's available types ([] for NULL). */
json_object *host_clipboard_types_json(const VdcClipboardInfo *info);

/* Fill @saved (cleared first) with copies of the selections it owns. */
void host_clipboard_peer_save(HostClipboardPeer *p, VdcClipboardSaved *saved);

/*
 * Own the selections of @saved again, as loaded (their data is taken:
 * @saved is left empty).  The hub notifies the other peers as for any
 * update (deferred while stopped).
 */
void host_clipboard_peer_restore(HostClipboardPeer *p, VdcClipboardSaved *saved);

#endif /* HOST_CLIPBOARD_PEER_H */
