/*
 * clipboard-live.c: the clipboard's slots in a migration's live phase.
 * See clipboard-live.h for the records and the bounds.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/clipboard-live.h"
#include "clipboard/clipboard-vmstate.h"

#include <inttypes.h>
#include <string.h>

#define REC_EOS  0x00
#define REC_DATA 0x01
#define REC_DROP 0x02

typedef struct SourceSlot {
    GBytes *sent;               /* the data being sent (a reference) */
    uint32_t done;              /* bytes of it sent */
} SourceSlot;

typedef struct SinkSlot {
    bool active;                /* a piece at offset 0 came */
    uint32_t total;
    uint32_t filled;
    uint32_t cap;
    uint8_t *buf;
} SinkSlot;

struct ClipboardLive {
    ClipboardHub *hub;
    uint64_t max_held;
    uint64_t held;              /* capacity of the sink's buffers */
    bool ended;                 /* source: the END section was written */
    SourceSlot src[CLIPBOARD_LIVE_SLOTS];
    SinkSlot sink[CLIPBOARD_LIVE_SLOTS];
};

ClipboardLive *clipboard_live_new(ClipboardHub *hub, uint64_t max_held)
{
    ClipboardLive *cl = g_new0(ClipboardLive, 1);

    cl->hub = hub;
    cl->max_held = max_held;
    return cl;
}

void clipboard_live_reset_source(ClipboardLive *cl)
{
    unsigned k;

    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
        g_clear_pointer(&cl->src[k].sent, g_bytes_unref);
        cl->src[k].done = 0;
    }
    cl->ended = false;
}

static void sink_slot_clear(ClipboardLive *cl, SinkSlot *slot)
{
    cl->held -= slot->cap;
    g_free(slot->buf);
    memset(slot, 0, sizeof(*slot));
}

void clipboard_live_reset_sink(ClipboardLive *cl)
{
    unsigned k;

    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
        sink_slot_clear(cl, &cl->sink[k]);
    }
}

void clipboard_live_free(ClipboardLive *cl)
{
    if (!cl) {
        return;
    }
    clipboard_live_detach(cl);
    clipboard_live_reset_source(cl);
    clipboard_live_reset_sink(cl);
    g_free(cl);
}

/* ---- source ------------------------------------------------------------ */

/* The hub's current data of slot @k (borrowed), or NULL. */
static GBytes *current(ClipboardLive *cl, unsigned k)
{
    ClipboardInfo *info = clipboard_hub_info(cl->hub,
                                             k / CLIPBOARD_TYPE__COUNT);

    return info ? info->types[k % CLIPBOARD_TYPE__COUNT].data : NULL;
}

static uint64_t live_pending(void *opaque)
{
    ClipboardLive *cl = opaque;
    uint64_t sum = 0;
    unsigned k;

    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
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

uint32_t clipboard_live_sent(ClipboardLive *cl)
{
    uint32_t mask = 0;
    unsigned k;

    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
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
static bool live_save(MigrationStream *s, void *opaque,
                      MigrationLivePhase phase, uint64_t budget,
                      GError **errp)
{
    ClipboardLive *cl = opaque;
    uint64_t used = 0;
    unsigned k;

    (void)errp;
    if (phase == MIGRATION_LIVE_START) {
        clipboard_live_reset_source(cl);
        migration_put_be32(s, CLIPBOARD_SELECTION__COUNT);
        migration_put_be32(s, CLIPBOARD_TYPE__COUNT);
        migration_put_u8(s, REC_EOS);
        return true;
    }
    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
        SourceSlot *slot = &cl->src[k];
        GBytes *cur = current(cl, k);
        const uint8_t *p;
        size_t len;

        if (!cur) {
            if (slot->sent) {
                migration_put_u8(s, REC_DROP);
                migration_put_u8(s, k / CLIPBOARD_TYPE__COUNT);
                migration_put_u8(s, k % CLIPBOARD_TYPE__COUNT);
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
        p = g_bytes_get_data(cur, &len);
        while (slot->done < len &&
               (phase == MIGRATION_LIVE_END || used < budget)) {
            uint64_t n = len - slot->done;

            if (phase != MIGRATION_LIVE_END) {
                n = MIN(n, budget - used);
            }
            migration_put_u8(s, REC_DATA);
            migration_put_u8(s, k / CLIPBOARD_TYPE__COUNT);
            migration_put_u8(s, k % CLIPBOARD_TYPE__COUNT);
            migration_put_be32(s, (uint32_t)len);
            migration_put_be32(s, slot->done);
            migration_put_be32(s, (uint32_t)n);
            migration_put_bytes(s, p + slot->done, n);
            slot->done += (uint32_t)n;
            used += n;
        }
    }
    migration_put_u8(s, REC_EOS);
    cl->ended = phase == MIGRATION_LIVE_END;
    return true;
}

uint32_t clipboard_live_final_skip(ClipboardLive *cl)
{
    return cl->ended ? clipboard_live_sent(cl) : 0;
}

static void live_save_cleanup(void *opaque)
{
    clipboard_live_reset_source(opaque);
}

/* ---- sink -------------------------------------------------------------- */

static bool bad(GError **errp, uint64_t off, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool bad(GError **errp, uint64_t off, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                "clipboard record at offset %" PRIu64 ": %s", off, msg);
    return false;
}

static bool truncated(MigrationStream *s, GError **errp, uint64_t off)
{
    const GError *se = migration_stream_error(s);

    g_set_error(errp, VMSTATE_ERROR, se ? se->code : VMSTATE_ERROR_TRUNCATED,
                "clipboard record at offset %" PRIu64 ": %s", off,
                se ? se->message : "stream truncated");
    return false;
}

static bool load_data(ClipboardLive *cl, MigrationStream *s, uint64_t off,
                      GError **errp)
{
    uint8_t sel, type;
    uint32_t total, offset, len, need, cap;
    SinkSlot *slot;

    if (!migration_get_u8(s, &sel) || !migration_get_u8(s, &type) ||
        !migration_get_be32(s, &total) || !migration_get_be32(s, &offset) ||
        !migration_get_be32(s, &len)) {
        return truncated(s, errp, off);
    }
    if (sel >= CLIPBOARD_SELECTION__COUNT || type >= CLIPBOARD_TYPE__COUNT) {
        return bad(errp, off, "selection %u type %u out of range", sel, type);
    }
    slot = &cl->sink[sel * CLIPBOARD_TYPE__COUNT + type];
    if (total == 0 || total > CLIPBOARD_SAVED_MAX_DATA) {
        return bad(errp, off, "data of %" PRIu32 " bytes (1..%u)", total,
                   CLIPBOARD_SAVED_MAX_DATA);
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
    if (len > migration_stream_remaining(s)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_TRUNCATED,
                    "clipboard record at offset %" PRIu64 ": piece of %"
                    PRIu32 " bytes but only %" PRIu64 " left", off, len,
                    migration_stream_remaining(s));
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
        slot->buf = g_realloc(slot->buf, cap);
        cl->held += cap - slot->cap;
        slot->cap = cap;
    }
    if (!migration_get_bytes(s, slot->buf + offset, len)) {
        return truncated(s, errp, off);
    }
    slot->filled = need;
    return true;
}

static bool live_load(MigrationStream *s, void *opaque,
                      MigrationLivePhase phase, int version_id,
                      GError **errp)
{
    ClipboardLive *cl = opaque;
    uint64_t off = migration_stream_offset(s);
    uint8_t rec, sel, type;

    (void)version_id;
    if (phase == MIGRATION_LIVE_START) {
        uint32_t nsel, ntype;

        clipboard_live_reset_sink(cl);
        if (!migration_get_be32(s, &nsel) || !migration_get_be32(s, &ntype)) {
            return truncated(s, errp, off);
        }
        if (nsel != CLIPBOARD_SELECTION__COUNT ||
            ntype != CLIPBOARD_TYPE__COUNT) {
            return bad(errp, off, "%" PRIu32 " selections and %" PRIu32
                       " types (expected %u and %u)", nsel, ntype,
                       CLIPBOARD_SELECTION__COUNT, CLIPBOARD_TYPE__COUNT);
        }
    }
    for (;;) {
        off = migration_stream_offset(s);
        if (!migration_get_u8(s, &rec)) {
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
        case REC_DROP:
            if (!migration_get_u8(s, &sel) || !migration_get_u8(s, &type)) {
                return truncated(s, errp, off);
            }
            if (sel >= CLIPBOARD_SELECTION__COUNT ||
                type >= CLIPBOARD_TYPE__COUNT) {
                return bad(errp, off, "selection %u type %u out of range",
                           sel, type);
            }
            sink_slot_clear(cl, &cl->sink[sel * CLIPBOARD_TYPE__COUNT + type]);
            break;
        default:
            return bad(errp, off, "unknown record 0x%02x", rec);
        }
    }
}

static void live_load_failed(void *opaque)
{
    clipboard_live_reset_sink(opaque);
}

bool clipboard_live_sink_complete(const ClipboardLive *cl, unsigned sel,
                                  unsigned type, uint32_t *len)
{
    const SinkSlot *slot;

    g_return_val_if_fail(sel < CLIPBOARD_SELECTION__COUNT &&
                         type < CLIPBOARD_TYPE__COUNT, false);
    slot = &cl->sink[sel * CLIPBOARD_TYPE__COUNT + type];
    if (len) {
        *len = slot->total;
    }
    return slot->active && slot->filled == slot->total;
}

uint8_t *clipboard_live_sink_take(ClipboardLive *cl, unsigned sel,
                                  unsigned type, uint32_t *len)
{
    SinkSlot *slot;
    uint8_t *buf;

    *len = 0;
    if (!clipboard_live_sink_complete(cl, sel, type, NULL)) {
        return NULL;
    }
    slot = &cl->sink[sel * CLIPBOARD_TYPE__COUNT + type];
    buf = slot->buf;
    *len = slot->total;
    cl->held -= slot->cap;
    memset(slot, 0, sizeof(*slot));
    return buf;
}

/* The info of @sel in @saved, or NULL. */
static ClipboardSavedInfo *saved_info(const ClipboardSaved *saved,
                                      unsigned sel)
{
    unsigned i;

    for (i = 0; i < saved->n && i < CLIPBOARD_SELECTION__COUNT; i++) {
        if (saved->infos[i].selection == sel) {
            return (ClipboardSavedInfo *)&saved->infos[i];
        }
    }
    return NULL;
}

bool clipboard_live_check_refs(const ClipboardLive *cl,
                               const ClipboardSaved *saved, uint32_t live,
                               GError **errp)
{
    unsigned k;

    if (live >> CLIPBOARD_LIVE_SLOTS) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "live slots 0x%x out of range", live);
        return false;
    }
    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
        unsigned sel = k / CLIPBOARD_TYPE__COUNT, t = k % CLIPBOARD_TYPE__COUNT;
        const ClipboardSavedInfo *info = saved_info(saved, sel);

        if (!(live & (1u << k))) {
            continue;
        }
        if (!info || !(info->types & (1u << t)) || info->data[t].len) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "live data for %s/%s, which the section does not "
                        "leave to it", clipboard_selection_name(sel),
                        clipboard_type_name(t));
            return false;
        }
        if (!clipboard_live_sink_complete(cl, sel, t, NULL)) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "live data for %s/%s never came whole",
                        clipboard_selection_name(sel), clipboard_type_name(t));
            return false;
        }
    }
    return true;
}

void clipboard_live_take_refs(ClipboardLive *cl, ClipboardSaved *saved,
                              uint32_t live)
{
    unsigned k;

    for (k = 0; k < CLIPBOARD_LIVE_SLOTS; k++) {
        unsigned sel = k / CLIPBOARD_TYPE__COUNT, t = k % CLIPBOARD_TYPE__COUNT;
        ClipboardSavedInfo *info = saved_info(saved, sel);

        if ((live & (1u << k)) && info) {
            g_free(info->data[t].data);
            info->data[t].data = clipboard_live_sink_take(cl, sel, t,
                                                          &info->data[t].len);
        }
    }
}

void clipboard_live_attach(ClipboardLive *cl)
{
    clipboard_hub_set_live(cl->hub, cl);
}

void clipboard_live_detach(ClipboardLive *cl)
{
    if (cl->hub && clipboard_hub_live(cl->hub) == cl) {
        clipboard_hub_set_live(cl->hub, NULL);
    }
}

ClipboardLive *clipboard_live_of(ClipboardHub *hub)
{
    return hub ? clipboard_hub_live(hub) : NULL;
}

uint64_t clipboard_live_sink_held(const ClipboardLive *cl)
{
    return cl->held;
}

const MigrationLiveOps clipboard_live_ops = {
    .save = live_save,
    .pending = live_pending,
    .save_cleanup = live_save_cleanup,
    .load = live_load,
    .load_failed = live_load_failed,
};
