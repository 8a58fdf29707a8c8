/*
 * vdc-clipboard-vmstate.h: migrating the selections a clipboard peer owns.
 *
 * The hub's current infos point at their owner peers, which cannot be
 * restored generically; so each owner saves what it owns and re-creates it
 * on the destination (QEMU's design for ui/clipboard.c).  A peer embeds a
 * VdcClipboardSaved in its migration state, fills it before saving with
 * vdc_clipboard_saved_collect(), and after a successful load re-creates the
 * infos with vdc_clipboard_saved_restore().
 */
#ifndef VDC_CLIPBOARD_VMSTATE_H
#define VDC_CLIPBOARD_VMSTATE_H

#include "clipboard/vdc-clipboard.h"
#include "migration/vdc-vmstate.h"

typedef struct VdcClipboardSavedData {
    uint32_t len;
    uint8_t *data;               /* len bytes, owned; NULL when len is 0 */
} VdcClipboardSavedData;

typedef struct VdcClipboardSavedInfo {
    uint32_t selection;
    bool has_serial;
    uint32_t serial;
    uint32_t types;              /* available types, 1 << VdcClipboardType */
    VdcClipboardSavedData data[VDC_CLIPBOARD_TYPE__COUNT];
} VdcClipboardSavedInfo;

typedef struct VdcClipboardSaved {
    uint32_t n;
    VdcClipboardSavedInfo infos[VDC_CLIPBOARD_SELECTION__COUNT];
    /*
     * Not in the description: slots (VDC_CLIPBOARD_LIVE_BIT(sel, type) of
     * clipboard-live.h) whose data a migration's live phase has already
     * sent.  @live_skip is collect's input (kept by it), @live its output:
     * the slots it left out (the type available, length 0).
     */
    uint32_t live_skip;
    uint32_t live;
    /*
     * Not in the description either: the data of the slots in @live once
     * the destination took them from the live part
     * (vdc_clipboard_live_take_refs(): references, owned here, indexed as
     * the bits); vdc_clipboard_saved_restore() moves them to the hub,
     * vdc_clipboard_saved_clear() drops them.  Data the live part received
     * by reference (a descriptor's mapping) reaches the hub without a copy.
     */
    GBytes *live_data[VDC_CLIPBOARD_SELECTION__COUNT * VDC_CLIPBOARD_TYPE__COUNT];
} VdcClipboardSaved;

/*
 * The description of a VdcClipboardSaved: `n`, then n infos of selection,
 * has_serial, serial, types, and per type a length and its bytes.  Each
 * data length is bounded on load by @max_data of the row below (256 MiB);
 * a VALIDATE row checks the selections (below 3, each at most once), the
 * type bits (known ones only) and that data is present only for an
 * available type.
 */
extern const VdcVMStateDescription vdc_vmstate_clipboard_saved;

/* Largest data of one type a saved stream may carry. */
#define VDC_CLIPBOARD_SAVED_MAX_DATA (256u * 1024 * 1024)

/*
 * Fill @saved (cleared first, but for its live_skip) with the selections
 * @peer owns on its hub: a copy of every data it holds, except the slots
 * in live_skip, which are only marked in @saved->live.
 */
void vdc_clipboard_saved_collect(VdcClipboardSaved *saved, VdcClipboardPeer *peer);

/*
 * Check @saved as loaded (the same checks as the VALIDATE row, usable
 * after loading an older version).
 */
bool vdc_clipboard_saved_check(const VdcClipboardSaved *saved, GError **errp);

/*
 * Make @peer the owner of each saved selection on @hub again: new infos
 * with the saved serials, types and data (the data buffers and live_data
 * are taken, not copied: @saved is left empty).  The hub notifies as for any update (a
 * stopped hub defers that to its resume).
 */
void vdc_clipboard_saved_restore(VdcClipboardSaved *saved, VdcClipboardHub *hub,
                                 VdcClipboardPeer *peer);

/* Free the data buffers and live_data of @saved and empty it. */
void vdc_clipboard_saved_clear(VdcClipboardSaved *saved);

#endif /* VDC_CLIPBOARD_VMSTATE_H */
