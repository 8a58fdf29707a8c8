/*
 * clipboard-live.h: the clipboard's data moved in a migration's live
 * phase (vdc-savevm.h's live sections), while the hub keeps serving.
 *
 * The unit is a slot: one (selection, type) of the hub, 3 x 5 of them.
 * The source remembers, per slot, the data (GBytes, referenced) it is
 * sending and how much of it went: a slot whose current data is another
 * GBytes than the one sent (a new clipboard-set, a grab that replaced it,
 * data that came later) is dirty and starts again from its first byte;
 * one whose data went away is dropped on the destination.  GBytes never
 * change, so identity is enough, and the reference held keeps an address
 * from being reused.
 *
 * The payload of every START, PART and END section is a list of records
 * ended by 0x00:
 *   0x01 data   u8 selection, u8 type, be32 total, be32 offset,
 *               be32 length, length bytes: the slot's data from offset
 *               (offset 0 starts the slot afresh; else it continues where
 *               the slot stands; total is the same for every piece)
 *   0x02 drop   u8 selection, u8 type: the slot holds nothing
 *   0x03 ref    u8 selection, u8 type, be32 total: the slot's whole data
 *               (afresh), passed by reference beside the section's bytes
 *               (VdcClipboardLiveRefOps: a sealed memfd over a unix
 *               socket in the host program); only where both ends set
 *               the ops
 * START also begins with be32 selections (3) and be32 types (5).
 *
 * The destination (the sink) holds the slots apart from the hub, checks
 * every record strictly (selection, type, total at most
 * VDC_CLIPBOARD_SAVED_MAX_DATA, offsets in order, a length within what the
 * piece holds and what the total leaves) and grows a slot only with the
 * bytes that came: its memory is bounded by what the records carried and
 * by its held maximum.  A slot of 4 MiB or more takes the address range
 * of its total at once, so that a source's bytes are read straight into
 * their place and never moved; memory is taken only as its pieces come
 * (each piece's pages faulted in with one call just before it is read,
 * or by the prefault ops when set: vdc_clipboard_live_set_prefault()),
 * unless the file ops give it a file, which its pieces are written into
 * (vdc_clipboard_live_set_file_ops()).  A slot keeps the prefault or
 * file ops that took it until it lets the buffer or file go.
 * A slot by reference holds what the ref ops gave, exactly its total,
 * counted held as the rest.
 * Nothing reaches the hub from here: a peer's final
 * section names the slots it takes (vdc_clipboard_live_sink_take()).
 *
 * No I/O of its own (a file slot's bytes are written by the stream,
 * vdc_migration_get_bytes_file()) and no timing: the host program drives
 * both ends.
 */
#ifndef CLIPBOARD_LIVE_H
#define CLIPBOARD_LIVE_H

#include "clipboard/vdc-clipboard.h"
#include "clipboard/vdc-clipboard-vmstate.h"
#include "migration/vdc-savevm.h"

#define VDC_CLIPBOARD_LIVE_SLOTS (VDC_CLIPBOARD_SELECTION__COUNT * VDC_CLIPBOARD_TYPE__COUNT)
/* The bit of a slot in a mask. */
#define VDC_CLIPBOARD_LIVE_BIT(sel, type) \
    (1u << ((unsigned)(sel) * VDC_CLIPBOARD_TYPE__COUNT + (unsigned)(type)))

/* The live section's description (source and sink in one object). */
extern const VdcMigrationLiveOps vdc_clipboard_live_ops;

typedef struct VdcClipboardLive VdcClipboardLive;

/*
 * Both ends: @hub (borrowed, must outlive it) is read by the source;
 * the sink holds at most @max_held bytes of data in all its slots.
 */
VdcClipboardLive *vdc_clipboard_live_new(VdcClipboardHub *hub, uint64_t max_held);
void vdc_clipboard_live_free(VdcClipboardLive *cl);          /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcClipboardLive, vdc_clipboard_live_free)

/*
 * Source: the slots whose current data went whole in the live phase and
 * has not changed since (after an END, every slot that holds data).
 */
uint32_t vdc_clipboard_live_sent(VdcClipboardLive *cl);

/*
 * Source: the slots a final section may leave to the live part: those of
 * vdc_clipboard_live_sent() once the END section was written (every slot with
 * data), else 0 (a migration without a live phase carries its data).
 */
uint32_t vdc_clipboard_live_final_skip(VdcClipboardLive *cl);

/* Source: forget what was sent (the migration ended). */
void vdc_clipboard_live_reset_source(VdcClipboardLive *cl);

/* Sink: is the slot complete (all its announced bytes came)? */
bool vdc_clipboard_live_sink_complete(const VdcClipboardLive *cl, unsigned sel,
                                      unsigned type, uint32_t *len);
/*
 * Sink: take a complete slot's data (a new reference, NULL when the slot
 * is not complete; the slot is emptied).
 */
GBytes *vdc_clipboard_live_sink_take(VdcClipboardLive *cl, unsigned sel,
                                     unsigned type);
/*
 * Sink: check the slots @live (a mask) a loaded @saved leaves to the live
 * part: each a selection of @saved, its type available, no data inline,
 * and the slot complete.  Nothing is taken.
 */
bool vdc_clipboard_live_check_refs(const VdcClipboardLive *cl,
                                   const VdcClipboardSaved *saved, uint32_t live,
                                   GError **errp);
/* Sink: move the data of the slots @live (checked) into @saved->live_data. */
void vdc_clipboard_live_take_refs(VdcClipboardLive *cl, VdcClipboardSaved *saved,
                                  uint32_t live);

/*
 * Make @cl the live object of its hub, so that every peer's final section
 * (the device's guest-owned data too) can leave its data to the live part
 * and take it back on the destination; detach before freeing it.
 */
void vdc_clipboard_live_attach(VdcClipboardLive *cl);
void vdc_clipboard_live_detach(VdcClipboardLive *cl);
/* The live object attached to @hub, or NULL. */
VdcClipboardLive *vdc_clipboard_live_of(VdcClipboardHub *hub);

/*
 * Sink: faulting in a large slot's memory ahead of its bytes
 * (VdcPrefaultOps).  A slot of 4 MiB and more is reserved whole when its
 * first piece announces its size; without @ops each piece's pages are
 * faulted in just before it is received, on the receiving thread.  With
 * @ops, @ops->start() gets each such buffer at once, whole, and the
 * faulting in is theirs alone: the sink no longer faults in its pieces
 * (two threads faulting in the same pages contend); a receive that the
 * embedding drives can wait for its helper to pass (the host program's
 * does), else it faults in the pages it reaches first.  Called on the
 * thread that loads.  NULL @ops: none.
 */
void vdc_clipboard_live_set_prefault(VdcClipboardLive *cl,
                                     const VdcPrefaultOps *ops,
                                     void *opaque);

/*
 * A slot's whole data passed by reference, beside the section's bytes,
 * rather than by its bytes (record 0x03).  The embedding's channel carries
 * what a reference stands for (the host program: a sealed memfd over a
 * unix socket, checked and mapped on the destination): no copy either
 * end, no new memory on the destination.
 */
typedef struct VdcClipboardLiveRefOps {
    /*
     * Source, while a live section is written: may @data (a slot's whole
     * current data, borrowed) go by reference with this section?  true:
     * the embedding keeps what it needs (a reference) and passes it with
     * this section's bytes, in the order of the calls; false: the slot
     * goes by its bytes.
     */
    bool (*send)(void *opaque, GBytes *data);
    /*
     * Sink, while a live section is loaded: the next data passed with it,
     * which must be exactly @len bytes: a new reference, or NULL with
     * @errp set (none passed, not acceptable, another size).  The sink
     * checks the size again.
     */
    GBytes *(*receive)(void *opaque, uint32_t len, GError **errp);
} VdcClipboardLiveRefOps;

/*
 * Both ends: pass slots by reference through @ops (NULL: never; a sink
 * without them fails on a ref record).  Called on the thread that saves
 * or loads.
 */
void vdc_clipboard_live_set_ref_ops(VdcClipboardLive *cl,
                                    const VdcClipboardLiveRefOps *ops,
                                    void *opaque);

/*
 * Sink: a large slot's bytes received into a file of the embedding's
 * rather than into memory (the host program: a memfd filled by splice()
 * from a tcp: socket, which then is sealed memory of its own, see
 * host/sealed.h): new memory given by the kernel as a file's pages is
 * neither faulted in by us nor zeroed first, and the bytes never pass
 * through our address space.  The pieces are written at their offsets
 * (vdc_migration_get_bytes_file()); the slot is counted held as a
 * memory slot is.
 */
typedef struct VdcClipboardLiveFileOps {
    /*
     * A new empty file for a slot of @total bytes (at least 4 MiB), open
     * for writing: its descriptor, the sink's until it gives it to
     * adopt() or closes it; -1: none (the slot takes memory as without
     * the ops).
     */
    int (*open)(void *opaque, uint32_t total);
    /*
     * The slot is complete: its file @fd (taken: closed on failure too)
     * holds its @total bytes.  The data as a GBytes (a new reference,
     * exactly @total bytes), or NULL with @errp set: the load fails.
     */
    GBytes *(*adopt)(void *opaque, int fd, uint32_t total, GError **errp);
} VdcClipboardLiveFileOps;

/*
 * Sink: receive slots of 4 MiB and more through @ops (NULL: never).
 * Called on the thread that loads; the ops are called there.
 */
void vdc_clipboard_live_set_file_ops(VdcClipboardLive *cl,
                                     const VdcClipboardLiveFileOps *ops,
                                     void *opaque);

/* Sink: bytes held in all slots. */
uint64_t vdc_clipboard_live_sink_held(const VdcClipboardLive *cl);
/* Sink: drop everything. */
void vdc_clipboard_live_reset_sink(VdcClipboardLive *cl);

#endif /* CLIPBOARD_LIVE_H */
