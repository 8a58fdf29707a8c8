/*
 * clipboard-live.c: the clipboard's slots in a migration's live phase.
 * See clipboard-live.h for the records and the bounds.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/clipboard-live.h"
#include "clipboard/vdc-clipboard-vmstate.h"
#include "migration/stream-live.h"

#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REC_EOS  0x00
#define REC_DATA 0x01
#define REC_DROP 0x02
#define REC_REF  0x03
/* A sink slot this large gets its whole range at once (sink_reserve()). */
#define SINK_RESERVE_MIN (4u << 20)

typedef struct SourceSlot {
    GBytes *sent;               /* the data being sent (a reference) */
    uint32_t done;              /* bytes of it sent */
} SourceSlot;

typedef struct SinkSlot {
    bool active;                /* a piece at offset 0 came */
    uint32_t total;
    uint32_t filled;
    uint32_t cap;               /* the bytes it may hold (counted held) */
    bool reserved;              /* buf spans total already (sink_reserve()) */
    /* handed to these prefault ops' start() (the ones of then), or NULL */
    const VdcPrefaultOps *pf;
    void *pf_opaque;
    int fd;                     /* the bytes go to this file, or -1 */
    /* the file ops that gave fd (they take it back), or NULL */
    const VdcClipboardLiveFileOps *fops;
    void *fops_opaque;
    uint8_t *buf;
    GBytes *ref;                /* the data, by reference (else buf) */
} SinkSlot;

struct VdcClipboardLive {
    VdcClipboardHub *hub;
    uint64_t max_held;
    uint64_t held;              /* capacity of the sink's buffers */
    bool ended;                 /* source: the END section was written */
    SourceSlot src[VDC_CLIPBOARD_LIVE_SLOTS];
    SinkSlot sink[VDC_CLIPBOARD_LIVE_SLOTS];
    const VdcPrefaultOps *prefault;
    void *prefault_opaque;
    const VdcClipboardLiveRefOps *ref_ops;
    void *ref_opaque;
    const VdcClipboardLiveFileOps *file_ops;
    void *file_opaque;
};

static void sink_slot_init(SinkSlot *slot)
{
    memset(slot, 0, sizeof(*slot));
    slot->fd = -1;
}

VdcClipboardLive *vdc_clipboard_live_new(VdcClipboardHub *hub, uint64_t max_held)
{
    VdcClipboardLive *cl = g_new0(VdcClipboardLive, 1);
    unsigned k;

    cl->hub = hub;
    cl->max_held = max_held;
    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        sink_slot_init(&cl->sink[k]);
    }
    return cl;
}

void vdc_clipboard_live_reset_source(VdcClipboardLive *cl)
{
    unsigned k;

    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        g_clear_pointer(&cl->src[k].sent, g_bytes_unref);
        cl->src[k].done = 0;
    }
    cl->ended = false;
}

void vdc_clipboard_live_set_prefault(VdcClipboardLive *cl,
                                     const VdcPrefaultOps *ops,
                                     void *opaque)
{
    cl->prefault = ops;
    cl->prefault_opaque = opaque;
}

void vdc_clipboard_live_set_ref_ops(VdcClipboardLive *cl,
                                    const VdcClipboardLiveRefOps *ops,
                                    void *opaque)
{
    cl->ref_ops = ops;
    cl->ref_opaque = opaque;
}

void vdc_clipboard_live_set_file_ops(VdcClipboardLive *cl,
                                     const VdcClipboardLiveFileOps *ops,
                                     void *opaque)
{
    cl->file_ops = ops;
    cl->file_opaque = opaque;
}

/* Whatever the embedding does to @slot's buffer has stopped. */
static void sink_prefault_end(SinkSlot *slot)
{
    if (slot->pf) {
        slot->pf->finish(slot->pf_opaque, slot->buf);
        slot->pf = NULL;
    }
}

static void sink_slot_clear(VdcClipboardLive *cl, SinkSlot *slot)
{
    sink_prefault_end(slot);
    cl->held -= slot->cap;
    g_free(slot->buf);
    if (slot->ref) {
        g_bytes_unref(slot->ref);
    }
    if (slot->fd >= 0) {
        close(slot->fd);
    }
    sink_slot_init(slot);
}

void vdc_clipboard_live_reset_sink(VdcClipboardLive *cl)
{
    unsigned k;

    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        sink_slot_clear(cl, &cl->sink[k]);
    }
}

void vdc_clipboard_live_free(VdcClipboardLive *cl)
{
    if (!cl) {
        return;
    }
    vdc_clipboard_live_detach(cl);
    vdc_clipboard_live_reset_source(cl);
    vdc_clipboard_live_reset_sink(cl);
    g_free(cl);
}

/* ---- source ------------------------------------------------------------ */

/* The hub's current data of slot @k (borrowed), or NULL. */
static GBytes *current(VdcClipboardLive *cl, unsigned k)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(cl->hub,
                                                    k / VDC_CLIPBOARD_TYPE__COUNT);

    return info ? info->types[k % VDC_CLIPBOARD_TYPE__COUNT].data : NULL;
}

static uint64_t live_pending(void *opaque)
{
    VdcClipboardLive *cl = opaque;
    uint64_t sum = 0;
    unsigned k;

    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        GBytes *cur = current(cl, k);

        if (!cur) {
            sum += cl->src[k].sent ? 3 : 0;         /* a drop record */
        } else if (cur != cl->src[k].sent) {
            sum += g_bytes_get_size(cur);
        } else {
            sum += g_bytes_get_size(cur) - cl->src[k].done;
        }
    }
    return sum;
}

uint32_t vdc_clipboard_live_sent(VdcClipboardLive *cl)
{
    uint32_t mask = 0;
    unsigned k;

    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        GBytes *cur = current(cl, k);

        if (cur && cur == cl->src[k].sent &&
            cl->src[k].done == g_bytes_get_size(cur)) {
            mask |= 1u << k;
        }
    }
    return mask;
}

/*
 * START: the slot counts only.  PART: the dirty slots' bytes, about
 * @budget of them (at least one piece when something is pending).  END:
 * everything left, each slot in one piece.
 */
static bool live_save(VdcMigrationStream *s, void *opaque,
                      VdcMigrationLivePhase phase, uint64_t budget,
                      GError **errp)
{
    VdcClipboardLive *cl = opaque;
    uint64_t used = 0;
    unsigned k;

    (void)errp;
    if (phase == VDC_MIGRATION_LIVE_START) {
        vdc_clipboard_live_reset_source(cl);
        vdc_migration_put_be32(s, VDC_CLIPBOARD_SELECTION__COUNT);
        vdc_migration_put_be32(s, VDC_CLIPBOARD_TYPE__COUNT);
        vdc_migration_put_u8(s, REC_EOS);
        return true;
    }
    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        SourceSlot *slot = &cl->src[k];
        GBytes *cur = current(cl, k);
        size_t len;

        if (!cur) {
            if (slot->sent) {
                vdc_migration_put_u8(s, REC_DROP);
                vdc_migration_put_u8(s, k / VDC_CLIPBOARD_TYPE__COUNT);
                vdc_migration_put_u8(s, k % VDC_CLIPBOARD_TYPE__COUNT);
                g_clear_pointer(&slot->sent, g_bytes_unref);
                slot->done = 0;
            }
            continue;
        }
        if (cur != slot->sent) {
            g_clear_pointer(&slot->sent, g_bytes_unref);
            slot->sent = g_bytes_ref(cur);
            slot->done = 0;
        }
        len = g_bytes_get_size(cur);
        if (slot->done == 0 && len > 0 && cl->ref_ops &&
            cl->ref_ops->send(cl->ref_opaque, cur)) {
            vdc_migration_put_u8(s, REC_REF);
            vdc_migration_put_u8(s, k / VDC_CLIPBOARD_TYPE__COUNT);
            vdc_migration_put_u8(s, k % VDC_CLIPBOARD_TYPE__COUNT);
            vdc_migration_put_be32(s, (uint32_t)len);
            slot->done = (uint32_t)len;
            used += 7;
        }
        while (slot->done < len &&
               (phase == VDC_MIGRATION_LIVE_END || used < budget)) {
            uint64_t n = len - slot->done;

            if (phase != VDC_MIGRATION_LIVE_END) {
                n = MIN(n, budget - used);
            }
            vdc_migration_put_u8(s, REC_DATA);
            vdc_migration_put_u8(s, k / VDC_CLIPBOARD_TYPE__COUNT);
            vdc_migration_put_u8(s, k % VDC_CLIPBOARD_TYPE__COUNT);
            vdc_migration_put_be32(s, (uint32_t)len);
            vdc_migration_put_be32(s, slot->done);
            vdc_migration_put_be32(s, (uint32_t)n);
            /* By reference where the sink takes one: no copy. */
            vdc_migration_put_bytes_ref(s, cur, slot->done, n);
            slot->done += (uint32_t)n;
            used += n;
        }
    }
    vdc_migration_put_u8(s, REC_EOS);
    cl->ended = phase == VDC_MIGRATION_LIVE_END;
    return true;
}

uint32_t vdc_clipboard_live_final_skip(VdcClipboardLive *cl)
{
    return cl->ended ? vdc_clipboard_live_sent(cl) : 0;
}

static void live_save_cleanup(void *opaque)
{
    vdc_clipboard_live_reset_source(opaque);
}

/* ---- sink -------------------------------------------------------------- */

/*
 * The buffer of a slot whose first piece announces @total bytes (at
 * least SINK_RESERVE_MIN): an address range for all of them at once, so
 * that the data is received where it stays (no realloc moving it as the
 * slot grows).  Only address space: memory is taken as the pieces come
 * (sink_populate()), and the slot's held count still grows with the
 * bytes that came.  NULL when it cannot be had (the slot then grows by
 * realloc as before).  Freed with g_free().
 */
static uint8_t *sink_reserve(uint32_t total)
{
    return g_try_malloc(total);
}

/*
 * A piece of @len bytes is about to be received at @p in a reserved
 * slot: fault its pages in with one call (MADV_POPULATE_WRITE, Linux
 * 5.14) rather than one fault per 4 KiB page as the socket copy writes
 * them.  The pages are the piece's own (no memory before its bytes
 * come, at most a frame's worth if it then breaks off).  Faulting in the
 * destination's new memory was a third of its receive time; measured on
 * the bench's VM, 64 MiB first touched in about 24 ms this way against
 * 36 ms by the copy's faults (transparent huge pages were faster when the
 * machine was quiet, but much slower under load there: the VM's balloon
 * gives free 2 MiB blocks back to the host, which must supply them again).
 * Advice only: a kernel without it changes nothing.  Not for a slot
 * handed to the prefault ops: they fault it in (VdcPrefaultOps), and
 * the receive faulting in the same pages beside them only contends.
 */
static void sink_populate(uint8_t *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

    if (end > start) {
        madvise((void *)start, end - start, MADV_POPULATE_WRITE);
    }
#else
    (void)p;
    (void)len;
#endif
}

static bool bad(GError **errp, uint64_t off, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool bad(GError **errp, uint64_t off, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                "clipboard record at offset %" PRIu64 ": %s", off, msg);
    return false;
}

static bool truncated(VdcMigrationStream *s, GError **errp, uint64_t off)
{
    const GError *se = vdc_migration_stream_error(s);

    g_set_error(errp, VDC_VMSTATE_ERROR, se ? se->code : VDC_VMSTATE_ERROR_TRUNCATED,
                "clipboard record at offset %" PRIu64 ": %s", off,
                se ? se->message : "stream truncated");
    return false;
}

/* A file slot just completed: its data from the file ops, by reference. */
static bool sink_adopt(VdcClipboardLive *cl, SinkSlot *slot, uint64_t off,
                       GError **errp)
{
    g_autoptr(GError) err = NULL;
    int fd = slot->fd;
    GBytes *data;

    slot->fd = -1;
    data = slot->fops->adopt(slot->fops_opaque, fd, slot->total, &err);
    if (data && g_bytes_get_size(data) != slot->total) {
        g_clear_pointer(&data, g_bytes_unref);
        g_set_error_literal(&err, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                            "of another size");
    }
    if (!data) {
        sink_slot_clear(cl, slot);
        return bad(errp, off, "data received into a file: %s",
                   err ? err->message : "not taken");
    }
    slot->ref = data;
    return true;
}

static bool load_data(VdcClipboardLive *cl, VdcMigrationStream *s, uint64_t off,
                      GError **errp)
{
    uint8_t sel, type;
    uint32_t total, offset, len, need, cap;
    SinkSlot *slot;

    if (!vdc_migration_get_u8(s, &sel) || !vdc_migration_get_u8(s, &type) ||
        !vdc_migration_get_be32(s, &total) || !vdc_migration_get_be32(s, &offset) ||
        !vdc_migration_get_be32(s, &len)) {
        return truncated(s, errp, off);
    }
    if (sel >= VDC_CLIPBOARD_SELECTION__COUNT || type >= VDC_CLIPBOARD_TYPE__COUNT) {
        return bad(errp, off, "selection %u type %u out of range", sel, type);
    }
    slot = &cl->sink[sel * VDC_CLIPBOARD_TYPE__COUNT + type];
    if (total == 0 || total > VDC_CLIPBOARD_SAVED_MAX_DATA) {
        return bad(errp, off, "data of %" PRIu32 " bytes (1..%u)", total,
                   VDC_CLIPBOARD_SAVED_MAX_DATA);
    }
    if (offset == 0) {
        sink_slot_clear(cl, slot);
        slot->active = true;
        slot->total = total;
    } else if (!slot->active || slot->total != total ||
               slot->filled != offset) {
        return bad(errp, off, "piece at %" PRIu32 " of %" PRIu32 " bytes, "
                   "but the slot stands at %" PRIu32 " of %" PRIu32, offset,
                   total, slot->filled, slot->total);
    }
    if (len == 0 || len > total - offset) {
        return bad(errp, off, "piece of %" PRIu32 " bytes at %" PRIu32
                   " of %" PRIu32, len, offset, total);
    }
    if (len > vdc_migration_stream_remaining(s)) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_TRUNCATED,
                    "clipboard record at offset %" PRIu64 ": piece of %"
                    PRIu32 " bytes but only %" PRIu64 " left", off, len,
                    vdc_migration_stream_remaining(s));
        return false;
    }
    need = offset + len;
    if (need > slot->cap) {
        /* Grow by doubling, never past the total nor the bound. */
        cap = (uint32_t)MIN((uint64_t)total,
                            MAX((uint64_t)need, 2ull * slot->cap));
        if (cl->held - slot->cap + cap > cl->max_held) {
            return bad(errp, off, "more than %" PRIu64 " bytes held",
                       cl->max_held);
        }
        if (offset == 0 && total >= SINK_RESERVE_MIN && cl->file_ops) {
            slot->fd = cl->file_ops->open(cl->file_opaque, total);
            if (slot->fd >= 0) {
                slot->fops = cl->file_ops;
                slot->fops_opaque = cl->file_opaque;
            }
        }
        if (slot->fd < 0 && !slot->buf && total >= SINK_RESERVE_MIN) {
            slot->buf = sink_reserve(total);
            slot->reserved = slot->buf != NULL;
            if (slot->reserved && cl->prefault) {
                cl->prefault->start(cl->prefault_opaque, slot->buf, total);
                slot->pf = cl->prefault;
                slot->pf_opaque = cl->prefault_opaque;
            }
        }
        if (slot->fd < 0 && !slot->reserved) {
            slot->buf = g_realloc(slot->buf, cap);
        }
        cl->held += cap - slot->cap;
        slot->cap = cap;
    }
    if (slot->fd >= 0) {
        if (!vdc_migration_get_bytes_file(s, slot->fd, offset, len)) {
            return truncated(s, errp, off);
        }
        slot->filled = need;
        return need < total || sink_adopt(cl, slot, off, errp);
    }
    if (slot->reserved && !slot->pf) {
        sink_populate(slot->buf + offset, len);
    }
    if (!vdc_migration_get_bytes(s, slot->buf + offset, len)) {
        return truncated(s, errp, off);
    }
    slot->filled = need;
    return true;
}

/* A slot's whole data by reference: the ref ops give it, of its size. */
static bool load_ref(VdcClipboardLive *cl, VdcMigrationStream *s, uint64_t off,
                     GError **errp)
{
    g_autoptr(GError) err = NULL;
    uint8_t sel, type;
    uint32_t total;
    SinkSlot *slot;
    GBytes *data;

    if (!vdc_migration_get_u8(s, &sel) || !vdc_migration_get_u8(s, &type) ||
        !vdc_migration_get_be32(s, &total)) {
        return truncated(s, errp, off);
    }
    if (sel >= VDC_CLIPBOARD_SELECTION__COUNT || type >= VDC_CLIPBOARD_TYPE__COUNT) {
        return bad(errp, off, "selection %u type %u out of range", sel, type);
    }
    if (total == 0 || total > VDC_CLIPBOARD_SAVED_MAX_DATA) {
        return bad(errp, off, "data of %" PRIu32 " bytes (1..%u)", total,
                   VDC_CLIPBOARD_SAVED_MAX_DATA);
    }
    slot = &cl->sink[sel * VDC_CLIPBOARD_TYPE__COUNT + type];
    sink_slot_clear(cl, slot);
    if (!cl->ref_ops) {
        return bad(errp, off, "data by reference, which this destination "
                   "does not take");
    }
    if (cl->held + total > cl->max_held) {
        return bad(errp, off, "more than %" PRIu64 " bytes held", cl->max_held);
    }
    data = cl->ref_ops->receive(cl->ref_opaque, total, &err);
    if (!data) {
        return bad(errp, off, "data by reference: %s",
                   err ? err->message : "none");
    }
    if (g_bytes_get_size(data) != total) {
        g_bytes_unref(data);
        return bad(errp, off, "data by reference of another size than %"
                   PRIu32 " bytes", total);
    }
    slot->active = true;
    slot->total = slot->filled = slot->cap = total;
    slot->ref = data;
    cl->held += total;
    return true;
}

static bool live_load(VdcMigrationStream *s, void *opaque,
                      VdcMigrationLivePhase phase, int version_id,
                      GError **errp)
{
    VdcClipboardLive *cl = opaque;
    uint64_t off = vdc_migration_stream_offset(s);
    uint8_t rec, sel, type;

    (void)version_id;
    if (phase == VDC_MIGRATION_LIVE_START) {
        uint32_t nsel, ntype;

        vdc_clipboard_live_reset_sink(cl);
        if (!vdc_migration_get_be32(s, &nsel) || !vdc_migration_get_be32(s, &ntype)) {
            return truncated(s, errp, off);
        }
        if (nsel != VDC_CLIPBOARD_SELECTION__COUNT ||
            ntype != VDC_CLIPBOARD_TYPE__COUNT) {
            return bad(errp, off, "%" PRIu32 " selections and %" PRIu32
                       " types (expected %u and %u)", nsel, ntype,
                       VDC_CLIPBOARD_SELECTION__COUNT, VDC_CLIPBOARD_TYPE__COUNT);
        }
    }
    for (;;) {
        off = vdc_migration_stream_offset(s);
        if (!vdc_migration_get_u8(s, &rec)) {
            return truncated(s, errp, off);
        }
        switch (rec) {
        case REC_EOS:
            return true;
        case REC_DATA:
            if (!load_data(cl, s, off, errp)) {
                return false;
            }
            break;
        case REC_REF:
            if (!load_ref(cl, s, off, errp)) {
                return false;
            }
            break;
        case REC_DROP:
            if (!vdc_migration_get_u8(s, &sel) || !vdc_migration_get_u8(s, &type)) {
                return truncated(s, errp, off);
            }
            if (sel >= VDC_CLIPBOARD_SELECTION__COUNT ||
                type >= VDC_CLIPBOARD_TYPE__COUNT) {
                return bad(errp, off, "selection %u type %u out of range",
                           sel, type);
            }
            sink_slot_clear(cl, &cl->sink[sel * VDC_CLIPBOARD_TYPE__COUNT + type]);
            break;
        default:
            return bad(errp, off, "unknown record 0x%02x", rec);
        }
    }
}

static void live_load_failed(void *opaque)
{
    vdc_clipboard_live_reset_sink(opaque);
}

bool vdc_clipboard_live_sink_complete(const VdcClipboardLive *cl, unsigned sel,
                                      unsigned type, uint32_t *len)
{
    const SinkSlot *slot;

    g_return_val_if_fail(sel < VDC_CLIPBOARD_SELECTION__COUNT &&
                         type < VDC_CLIPBOARD_TYPE__COUNT, false);
    slot = &cl->sink[sel * VDC_CLIPBOARD_TYPE__COUNT + type];
    if (len) {
        *len = slot->total;
    }
    return slot->active && slot->filled == slot->total;
}

GBytes *vdc_clipboard_live_sink_take(VdcClipboardLive *cl, unsigned sel,
                                     unsigned type)
{
    SinkSlot *slot;
    GBytes *data;

    if (!vdc_clipboard_live_sink_complete(cl, sel, type, NULL)) {
        return NULL;
    }
    slot = &cl->sink[sel * VDC_CLIPBOARD_TYPE__COUNT + type];
    sink_prefault_end(slot);
    data = slot->ref ? slot->ref : g_bytes_new_take(slot->buf, slot->total);
    cl->held -= slot->cap;
    sink_slot_init(slot);
    return data;
}

/* The info of @sel in @saved, or NULL. */
static VdcClipboardSavedInfo *saved_info(const VdcClipboardSaved *saved,
                                         unsigned sel)
{
    unsigned i;

    for (i = 0; i < saved->n && i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        if (saved->infos[i].selection == sel) {
            return (VdcClipboardSavedInfo *)&saved->infos[i];
        }
    }
    return NULL;
}

bool vdc_clipboard_live_check_refs(const VdcClipboardLive *cl,
                                   const VdcClipboardSaved *saved, uint32_t live,
                                   GError **errp)
{
    unsigned k;

    if (live >> VDC_CLIPBOARD_LIVE_SLOTS) {
        g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                    "live slots 0x%x out of range", live);
        return false;
    }
    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        unsigned sel = k / VDC_CLIPBOARD_TYPE__COUNT, t = k % VDC_CLIPBOARD_TYPE__COUNT;
        const VdcClipboardSavedInfo *info = saved_info(saved, sel);

        if (!(live & (1u << k))) {
            continue;
        }
        if (!info || !(info->types & (1u << t)) || info->data[t].len) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "live data for %s/%s, which the section does not "
                        "leave to it", vdc_clipboard_selection_name(sel),
                        vdc_clipboard_type_name(t));
            return false;
        }
        if (!vdc_clipboard_live_sink_complete(cl, sel, t, NULL)) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "live data for %s/%s never came whole",
                        vdc_clipboard_selection_name(sel), vdc_clipboard_type_name(t));
            return false;
        }
    }
    return true;
}

void vdc_clipboard_live_take_refs(VdcClipboardLive *cl, VdcClipboardSaved *saved,
                                  uint32_t live)
{
    unsigned k;

    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        unsigned sel = k / VDC_CLIPBOARD_TYPE__COUNT, t = k % VDC_CLIPBOARD_TYPE__COUNT;
        VdcClipboardSavedInfo *info = saved_info(saved, sel);

        if ((live & (1u << k)) && info) {
            if (saved->live_data[k]) {
                g_bytes_unref(saved->live_data[k]);
            }
            saved->live_data[k] = vdc_clipboard_live_sink_take(cl, sel, t);
        }
    }
}

void vdc_clipboard_live_attach(VdcClipboardLive *cl)
{
    vdc_clipboard_hub_set_live(cl->hub, cl);
}

void vdc_clipboard_live_detach(VdcClipboardLive *cl)
{
    if (cl->hub && vdc_clipboard_hub_live(cl->hub) == cl) {
        vdc_clipboard_hub_set_live(cl->hub, NULL);
    }
}

VdcClipboardLive *vdc_clipboard_live_of(VdcClipboardHub *hub)
{
    return hub ? vdc_clipboard_hub_live(hub) : NULL;
}

uint64_t vdc_clipboard_live_sink_held(const VdcClipboardLive *cl)
{
    return cl->held;
}

const VdcMigrationLiveOps vdc_clipboard_live_ops = {
    .save = live_save,
    .pending = live_pending,
    .save_cleanup = live_save_cleanup,
    .load = live_load,
    .load_failed = live_load_failed,
};
