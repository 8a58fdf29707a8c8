/*
 * check_migration_live.c: the live phase of a migration in the library
 * (issue 21, points 1, 2 and 6): vdc-savevm.h's iterative sections and
 * clipboard-live.h's slots, without the host program.
 *
 *   framing    START / PART / END as QEMU writes them (marker, be32 id,
 *              counted idstr, instance and version on START, the footer);
 *              a stream without a live part is byte for byte what a
 *              registry without a live section writes
 *   moves      the data moves in parts of a budget while the hub changes:
 *              a new grab's data restarts its slot, a released selection
 *              is dropped; the destination ends with the newest data and
 *              the final section's slots come by reference
 *   hostile    every cut of every part, and corrupted records and
 *              framing, fail cleanly: the loader refuses further pieces,
 *              the destination holds nothing, nothing reached its hub
 *   bounds     a record may not announce more than the piece holds, nor
 *              more than the sink's bound, and slots grow only with the
 *              bytes that came
 *   zero-copy  the parts reference the hub's data (stream-live.h's
 *              slices), a destination pulls them straight into a large
 *              slot, and the bytes and the bounds are what they were
 *   by-reference  slots passed by the ref ops (record 0x03): no data on
 *              the wire, the very GBytes in the destination's hub; a
 *              destination without the ops, a refused or wrong-sized
 *              reference and the held bound fail cleanly
 *   into-files a large slot received into a file of the file ops (from a
 *              memory piece, a pull source with or without a pull_file),
 *              adopted once whole; no file: memory as before; a refused
 *              or wrong-sized adoption, a slot abandoned, restarted or
 *              dropped, and a cut or failing piece close every file
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clipboard/clipboard-live.h"
#include "clipboard/vdc-clipboard-vmstate.h"
#include "clipboard/vdc-clipboard.h"
#include "migration/stream-live.h"
#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-vmstate.h"
#include "tests/check_suites.h"

#define MIB (1024u * 1024)

/* A full section next to the live one: a saved clipboard, as a peer's. */
typedef struct Full {
    VdcClipboardSaved cb;
    uint32_t live;
} Full;

static VdcClipboardLive *full_live;       /* the sink a Full checks against */

static bool full_live_needed(void *opaque)
{
    return ((Full *)opaque)->live != 0;
}

static bool full_live_post_load(void *opaque, int version_id, GError **errp)
{
    Full *f = opaque;
    unsigned k;

    (void)version_id;
    for (k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        if ((f->live & (1u << k)) &&
            !vdc_clipboard_live_sink_complete(full_live, k / VDC_CLIPBOARD_TYPE__COUNT,
                                              k % VDC_CLIPBOARD_TYPE__COUNT, NULL)) {
            g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                        "slot %u never came whole", k);
            return false;
        }
    }
    return true;
}

static const VdcVMStateDescription vmstate_full_live = {
    .name = "full/live",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = full_live_needed,
    .post_load = full_live_post_load,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_UINT32(live, Full),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static const VdcVMStateDescription vmstate_full = {
    .name = "full",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]){
        VDC_VMSTATE_STRUCT(cb, Full, vdc_vmstate_clipboard_saved, VdcClipboardSaved),
        VDC_VMSTATE_END_OF_LIST()
    },
    .subsections = (const VdcVMStateDescription *const[]){
        &vmstate_full_live,
        NULL
    },
};

static void peer_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    (void)peer;
    (void)n;
}

static const VdcClipboardPeerOps peer_ops = { .notify = peer_notify };

/* One end: a hub with a peer, a registry with "full" and the live one. */
typedef struct End {
    VdcClipboardHub *hub;
    VdcClipboardPeer peer;
    VdcClipboardLive *live;
    VdcMigrationRegistry *reg;
    Full full;
} End;

static void end_init(End *e, uint64_t max_held, bool with_live)
{
    g_autoptr(GError) err = NULL;

    memset(e, 0, sizeof(*e));
    e->hub = vdc_clipboard_hub_new();
    e->peer.name = "peer";
    e->peer.ops = &peer_ops;
    ck_assert(vdc_clipboard_peer_register(e->hub, &e->peer));
    e->live = vdc_clipboard_live_new(e->hub, max_held);
    e->reg = vdc_migration_registry_new();
    ck_assert(vdc_migration_register(e->reg, "full", 0, &vmstate_full, &e->full,
                                     &err));
    if (with_live) {
        ck_assert(vdc_migration_register_live(e->reg, "live", 0, 1,
                                              &vdc_clipboard_live_ops, e->live, &err));
    }
}

static void end_fini(End *e)
{
    vdc_migration_registry_free(e->reg);
    vdc_clipboard_live_free(e->live);
    vdc_clipboard_peer_unregister(&e->peer);
    vdc_clipboard_hub_free(e->hub);
    vdc_clipboard_saved_clear(&e->full.cb);
}

/* @n bytes, a pattern seeded by @seed. */
static GBytes *pattern(size_t n, unsigned seed)
{
    uint8_t *p = g_malloc(n);
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 13));
    }
    return g_bytes_new_take(p, n);
}

/* The peer grabs @sel with @data as @type. */
static void grab(End *e, VdcClipboardSelection sel, VdcClipboardType type,
                 GBytes *data)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(&e->peer, sel);

    info->types[type].available = true;
    info->types[type].data = data;
    ck_assert(vdc_clipboard_hub_update(e->hub, info));
}

/* The source's state for its full section, slots by reference. */
static bool full_pre_save_live(End *e)
{
    e->full.cb.live_skip = vdc_clipboard_live_sent(e->live);
    vdc_clipboard_saved_collect(&e->full.cb, &e->peer);
    e->full.live = e->full.cb.live;
    return true;
}

static GByteArray *piece_of(VdcMigrationStream *s)
{
    size_t len;
    const uint8_t *p = vdc_migration_stream_data(s, &len);
    GByteArray *a = g_byte_array_new();

    g_byte_array_append(a, p, (guint)len);
    return a;
}

static GByteArray *save_setup(End *e)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    ck_assert(vdc_migration_save_live_setup(e->reg, s, &err));
    return piece_of(s);
}

static GByteArray *save_part(End *e, uint64_t budget)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;

    ck_assert(vdc_migration_save_live_iterate(e->reg, s, budget, &err));
    return piece_of(s);
}

static GByteArray *save_final(End *e)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    g_autoptr(VdcMigrationStream) tail = vdc_migration_stream_new_buffer();

    /* END first: then every slot with data is sent, and referenced. */
    ck_assert(vdc_migration_save_live_complete(e->reg, s, &err));
    (void)tail;
    return piece_of(s);
}

static bool feed(VdcMigrationLoader *ld, const GByteArray *a, bool last,
                 GError **errp)
{
    g_autoptr(VdcMigrationStream) r = vdc_migration_stream_new_reader(a->data, a->len);

    return vdc_migration_loader_feed(ld, r, last, errp);
}

/* Feed @a (taken) to @ld, not the last part: it must load. */
static void feed_ok(VdcMigrationLoader *ld, GByteArray *a)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(feed(ld, a, false, &err), "%s", err ? err->message : "");
    g_byte_array_unref(a);
}

/* ---- framing --------------------------------------------------------- */

START_TEST(test_framing)
{
    End src;
    g_autoptr(GByteArray) start = NULL, part = NULL;
    static const uint8_t want_start[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3,
        0x01, 0, 0, 0, 1, 4, 'l', 'i', 'v', 'e', 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 3, 0, 0, 0, 5, 0x00,           /* counts, end of records */
        0x7e, 0, 0, 0, 1,
    };
    static const uint8_t want_part[] = {
        0x02, 0, 0, 0, 1,
        0x01, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 'a', 'b',
        0x00,
        0x7e, 0, 0, 0, 1,
    };

    end_init(&src, 0, true);
    grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
         g_bytes_new_static("abc", 3));
    start = save_setup(&src);
    ck_assert_int_eq(start->len, sizeof(want_start));
    ck_assert(memcmp(start->data, want_start, sizeof(want_start)) == 0);
    ck_assert_uint_eq(vdc_migration_save_live_pending(src.reg), 3);
    part = save_part(&src, 2);
    ck_assert_int_eq(part->len, sizeof(want_part));
    ck_assert(memcmp(part->data, want_part, sizeof(want_part)) == 0);
    ck_assert_uint_eq(vdc_migration_save_live_pending(src.reg), 1);
    ck_assert_uint_eq(vdc_clipboard_live_sent(src.live), 0);
    g_byte_array_unref(part);
    part = save_part(&src, 100);
    ck_assert_uint_eq(vdc_migration_save_live_pending(src.reg), 0);
    ck_assert_uint_eq(vdc_clipboard_live_sent(src.live),
                      VDC_CLIPBOARD_LIVE_BIT(VDC_CLIPBOARD_SELECTION_PRIMARY,
                                             VDC_CLIPBOARD_TYPE_TEXT));
    vdc_migration_save_live_cleanup(src.reg);
    ck_assert_uint_eq(vdc_clipboard_live_sent(src.live), 0);
    end_fini(&src);
}
END_TEST

/* A live section registered changes nothing in a stream without one. */
START_TEST(test_no_live_part_identical)
{
    End a, b;
    g_autoptr(VdcMigrationStream) sa = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) sb = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    const uint8_t *pa, *pb;
    size_t la, lb;

    end_init(&a, 0, true);
    end_init(&b, 0, false);
    grab(&a, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, pattern(5000, 1));
    grab(&b, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG, pattern(5000, 1));
    vdc_clipboard_saved_collect(&a.full.cb, &a.peer);
    vdc_clipboard_saved_collect(&b.full.cb, &b.peer);
    ck_assert(vdc_migration_save(a.reg, sa, &err));
    ck_assert(vdc_migration_save(b.reg, sb, &err));
    pa = vdc_migration_stream_data(sa, &la);
    pb = vdc_migration_stream_data(sb, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(pa, pb, la) == 0);
    ck_assert(memmem(pa, la, "live", 4) == NULL);
    end_fini(&a);
    end_fini(&b);
}
END_TEST

/* ---- moves ----------------------------------------------------------- */

/*
 * 3 MiB in parts of 256 KiB; halfway a new grab replaces the data (its
 * slot starts again), another selection comes and goes (a drop); then the
 * final piece: the destination holds the newest data only, the final
 * section refers to it, and nothing is inline.
 */
START_TEST(test_moves_with_changes)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) newest = pattern(3 * MIB + 17, 9);
    GByteArray *a;
    unsigned parts = 0;
    uint32_t len;
    g_autoptr(GBytes) gb = NULL;
    const uint8_t *got;
    gsize glen;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    full_live = dst.live;
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(3 * MIB, 1));
    ld = vdc_migration_loader_new(dst.reg);
    a = save_setup(&src);
    ck_assert_msg(feed(ld, a, false, &err), "%s", err ? err->message : "");
    g_byte_array_unref(a);
    while (vdc_migration_save_live_pending(src.reg) > 0) {
        if (parts == 5) {
            grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
                 g_bytes_ref(newest));
            grab(&src, VDC_CLIPBOARD_SELECTION_SECONDARY, VDC_CLIPBOARD_TYPE_TEXT,
                 pattern(1000, 2));
        }
        if (parts == 8) {
            vdc_clipboard_peer_release(&src.peer, VDC_CLIPBOARD_SELECTION_SECONDARY);
        }
        a = save_part(&src, 256 * 1024);
        ck_assert_msg(feed(ld, a, false, &err), "%s", err ? err->message : "");
        g_byte_array_unref(a);
        parts++;
        ck_assert_uint_le(vdc_clipboard_live_sink_held(dst.live), 8 * MIB);
    }
    ck_assert_uint_ge(parts, 5 + 12);
    /* the secondary was dropped on the destination */
    ck_assert(!vdc_clipboard_live_sink_complete(dst.live,
                                                VDC_CLIPBOARD_SELECTION_SECONDARY,
                                                VDC_CLIPBOARD_TYPE_TEXT, NULL));
    ck_assert(vdc_clipboard_live_sink_complete(dst.live,
                                               VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                               VDC_CLIPBOARD_TYPE_PNG, &len));
    ck_assert_uint_eq(len, g_bytes_get_size(newest));

    full_pre_save_live(&src);
    ck_assert_uint_eq(src.full.live,
                      VDC_CLIPBOARD_LIVE_BIT(VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                             VDC_CLIPBOARD_TYPE_PNG));
    ck_assert_uint_eq(src.full.cb.infos[0].data[VDC_CLIPBOARD_TYPE_PNG].len, 0);
    a = save_final(&src);
    /* the final piece carries no data: a few hundred bytes */
    ck_assert_uint_lt(a->len, 4096);
    ck_assert_msg(feed(ld, a, true, &err), "%s", err ? err->message : "");
    g_byte_array_unref(a);
    ck_assert(vdc_migration_loader_done(ld));
    ck_assert_uint_eq(dst.full.live, src.full.live);
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                      VDC_CLIPBOARD_TYPE_PNG);
    got = g_bytes_get_data(gb, &glen);
    len = (uint32_t)glen;
    ck_assert_uint_eq(len, g_bytes_get_size(newest));
    ck_assert(memcmp(got, g_bytes_get_data(newest, NULL), len) == 0);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    /* nothing reached the destination's hub */
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst.hub,
                                              VDC_CLIPBOARD_SELECTION_CLIPBOARD));
    full_live = NULL;
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* A change after the last part: END sends it, the final is still whole. */
START_TEST(test_change_in_end)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    GByteArray *a;
    uint32_t len;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    full_live = dst.live;
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
         pattern(10000, 1));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
         pattern(20000, 2));
    a = save_final(&src);
    ck_assert_msg(feed(ld, a, true, &err), "%s", err ? err->message : "");
    g_byte_array_unref(a);
    ck_assert(vdc_clipboard_live_sink_complete(dst.live,
                                               VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                               VDC_CLIPBOARD_TYPE_TEXT, &len));
    ck_assert_uint_eq(len, 20000);
    full_live = NULL;
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* ---- hostile --------------------------------------------------------- */

/* The pieces of a small live migration: setup, two parts, final. */
static GPtrArray *small_pieces(void)
{
    End src;
    GPtrArray *pieces = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_byte_array_unref);

    end_init(&src, 0, true);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
         pattern(40, 1));
    g_ptr_array_add(pieces, save_setup(&src));
    g_ptr_array_add(pieces, save_part(&src, 25));
    g_ptr_array_add(pieces, save_part(&src, 25));
    full_pre_save_live(&src);
    g_ptr_array_add(pieces, save_final(&src));
    vdc_clipboard_saved_clear(&src.full.cb);
    end_fini(&src);
    return pieces;
}

/*
 * Load @pieces (piece @which replaced by @bad); true when it all loaded.
 * After a failure: later pieces are refused and the sink holds nothing.
 */
static bool load_pieces(GPtrArray *pieces, guint which, const GByteArray *bad,
                        char **msg)
{
    End dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    bool ok = true;
    guint i;

    end_init(&dst, 64 * MIB, true);
    full_live = dst.live;
    ld = vdc_migration_loader_new(dst.reg);
    for (i = 0; i < pieces->len && ok; i++) {
        const GByteArray *a = i == which ? bad : g_ptr_array_index(pieces, i);

        ok = feed(ld, a, i + 1 == pieces->len, &err);
    }
    if (!ok) {
        g_autoptr(GError) again = NULL;

        *msg = g_strdup(err->message);
        ck_assert_ptr_nonnull(err);
        ck_assert(err->domain == VDC_VMSTATE_ERROR);
        ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
        ck_assert(!feed(ld, g_ptr_array_index(pieces, 1), false, &again));
        ck_assert_str_eq(again->message, "the load already failed");
    } else {
        ck_assert(vdc_migration_loader_done(ld));
    }
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst.hub,
                                              VDC_CLIPBOARD_SELECTION_CLIPBOARD));
    g_clear_pointer(&ld, vdc_migration_loader_free);
    full_live = NULL;
    end_fini(&dst);
    return ok;
}

START_TEST(test_pieces_load)
{
    g_autoptr(GPtrArray) pieces = small_pieces();
    g_autofree char *msg = NULL;

    ck_assert(load_pieces(pieces, G_MAXUINT, NULL, &msg));
}
END_TEST

/* Every cut of every piece fails cleanly. */
START_TEST(test_cuts)
{
    g_autoptr(GPtrArray) pieces = small_pieces();
    guint which, cut;
    unsigned failed = 0;

    for (which = 0; which < pieces->len; which++) {
        const GByteArray *a = g_ptr_array_index(pieces, which);

        for (cut = 0; cut < a->len; cut++) {
            g_autoptr(GByteArray) bad = g_byte_array_new();
            g_autofree char *msg = NULL;

            g_byte_array_append(bad, a->data, cut);
            /* a non-last piece cut at a section's end is a whole piece */
            if (!load_pieces(pieces, which, bad, &msg)) {
                failed++;
            } else {
                /* only a whole-section boundary of a live piece, or the
                 * final piece right after EOF (no vmdesc), may load */
                ck_assert_msg(which + 1 < pieces->len || cut > 0,
                              "piece %u cut at %u loaded", which, cut);
            }
        }
    }
    ck_assert_uint_gt(failed, 100);
}
END_TEST

/* A corruption at @piece / @at, and the error that names it. */
static const struct {
    const char *name;
    guint piece;
    guint at;                   /* offset in the piece */
    uint8_t byte;
    const char *msg;            /* a part of the message */
} corrupt[] = {
    { "start marker", 0, 8, 0x02, "section id 1 was never started" },
    { "start idstr", 0, 14, 'L', "unknown section 'Live'" },
    { "start version", 0, 25, 2, "unsupported version 2" },
    { "slot count", 0, 29, 4, "4 selections and 5 types" },
    { "start footer", 0, 35, 0x7f, "bad footer" },
    { "part id", 1, 4, 7, "section id 7 was never started" },
    { "part marker end", 1, 0, 0x03, "live end at offset" },
    { "part marker full", 1, 0, 0x04, "unexpected section type 0x04" },
    { "part eof", 1, 0, 0x00, "unexpected section type 0x00" },
    { "record type", 1, 5, 0x07, "unknown record 0x07" },
    { "record selection", 1, 6, 3, "selection 3 type 0 out of range" },
    { "record type index", 1, 7, 5, "selection 0 type 5 out of range" },
    { "record total", 1, 8, 0x7f, "bytes (1..268435456)" },
    { "record offset", 1, 15, 1, "piece at 1 of 40 bytes" },
    { "record length", 1, 19, 0xff, "piece of 255 bytes at 0 of 40" },
    { "record length past the piece", 1, 19, 39,
      "piece of 39 bytes but only 31 left" },
    /* a valid restart, but the slot then never comes whole */
    { "second part restarts", 2, 15, 0, "never came whole" },
    { "second part offset", 2, 15, 24, "piece at 24 of 40 bytes" },
    { "final: live bit for a slot never sent", 3, 0, 0, NULL },
};

START_TEST(test_corrupt)
{
    g_autoptr(GPtrArray) pieces = small_pieces();
    const GByteArray *a = g_ptr_array_index(pieces, corrupt[_i].piece);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_autofree char *msg = NULL;

    g_byte_array_append(bad, a->data, a->len);
    if (!corrupt[_i].msg) {
        /* the final's live mask names a slot: make it another one */
        uint8_t *p = memmem(bad->data, bad->len, "full/live", 9);

        ck_assert_ptr_nonnull(p);
        p[9 + 4 + 3] ^= 0x02;           /* version be32, then the mask */
        ck_assert(!load_pieces(pieces, corrupt[_i].piece, bad, &msg));
        ck_assert_msg(strstr(msg, "never came whole"), "%s", msg);
        return;
    }
    ck_assert_uint_lt(corrupt[_i].at, bad->len);
    bad->data[corrupt[_i].at] = corrupt[_i].byte;
    ck_assert_msg(!load_pieces(pieces, corrupt[_i].piece, bad, &msg),
                  "%s loaded", corrupt[_i].name);
    ck_assert_msg(strstr(msg, corrupt[_i].msg), "%s: %s", corrupt[_i].name,
                  msg);
}
END_TEST

/* Framing errors across pieces. */
START_TEST(test_order)
{
    g_autoptr(GPtrArray) pieces = small_pieces();
    g_autoptr(GPtrArray) p2 = g_ptr_array_new();
    g_autofree char *msg = NULL;
    GByteArray *start = g_ptr_array_index(pieces, 0);
    g_autoptr(GByteArray) restart = g_byte_array_new();
    g_autoptr(GByteArray) noend = NULL;
    uint8_t *end;

    /* START twice (the second without the stream header) */
    g_byte_array_append(restart, start->data + 8, start->len - 8);
    g_ptr_array_add(p2, start);
    g_ptr_array_add(p2, restart);
    g_ptr_array_add(p2, g_ptr_array_index(pieces, 3));
    ck_assert(!load_pieces(p2, G_MAXUINT, NULL, &msg));
    ck_assert_msg(strstr(msg, "started twice"), "%s", msg);
    g_clear_pointer(&msg, g_free);

    /* a final without END: the END becomes a PART, then EOF comes */
    noend = g_byte_array_new();
    g_byte_array_append(noend, ((GByteArray *)g_ptr_array_index(pieces, 3))->data,
                        ((GByteArray *)g_ptr_array_index(pieces, 3))->len);
    end = noend->data;
    ck_assert_uint_eq(end[0], 0x03);
    end[0] = 0x02;
    ck_assert(!load_pieces(pieces, 3, noend, &msg));
    ck_assert_msg(strstr(msg, "never ended before EOF"), "%s", msg);
}
END_TEST

/* Offsets in errors are the whole stream's, not the piece's. */
START_TEST(test_offsets_whole_stream)
{
    g_autoptr(GPtrArray) pieces = small_pieces();
    const GByteArray *p0 = g_ptr_array_index(pieces, 0);
    const GByteArray *p1 = g_ptr_array_index(pieces, 1);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_autofree char *msg = NULL;
    g_autofree char *want = NULL;

    g_byte_array_append(bad, p1->data, p1->len);
    bad->data[4] = 7;                   /* the PART's section id */
    ck_assert(!load_pieces(pieces, 1, bad, &msg));
    want = g_strdup_printf("live part at offset %u: section id 7 was never "
                           "started", p0->len);
    ck_assert_str_eq(msg, want);
}
END_TEST

/* ---- bounds ---------------------------------------------------------- */

/* A record announcing more than the piece holds allocates nothing. */
START_TEST(test_announce_bounded)
{
    End dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    End src;
    GByteArray *start;
    static const uint8_t part[] = {
        0x02, 0, 0, 0, 1,
        0x01, 0, 1, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0xff, 0xff, 0xff,
        'x', 'y',
    };
    g_autoptr(GByteArray) p = g_byte_array_new();

    end_init(&src, 0, true);
    start = save_setup(&src);
    end_fini(&src);
    end_init(&dst, 1024, true);
    ld = vdc_migration_loader_new(dst.reg);
    ck_assert(feed(ld, start, false, &err));
    g_byte_array_append(p, part, sizeof(part));
    ck_assert(!feed(ld, p, false, &err));
    ck_assert_int_eq(err->code, VDC_VMSTATE_ERROR_TRUNCATED);
    ck_assert_msg(strstr(err->message, "but only 2 left"), "%s", err->message);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    g_byte_array_unref(start);
    g_clear_pointer(&ld, vdc_migration_loader_free);
    end_fini(&dst);
}
END_TEST

/* The sink's bound: data past it is refused; slots grow with the bytes. */
START_TEST(test_held_bound)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    GByteArray *a;
    bool ok = true;

    end_init(&src, 0, true);
    end_init(&dst, 100000, true);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(150000, 3));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, 10000));
    /* one piece of 10000 bytes of 150000: the slot holds 10000 */
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 10000);
    while (ok && vdc_migration_save_live_pending(src.reg) > 0) {
        a = save_part(&src, 30000);
        ok = feed(ld, a, false, &err);
        g_byte_array_unref(a);
        ck_assert_uint_le(vdc_clipboard_live_sink_held(dst.live), 100000);
    }
    ck_assert(!ok);
    ck_assert_msg(strstr(err->message, "more than 100000 bytes held"), "%s",
                  err->message);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    g_clear_pointer(&ld, vdc_migration_loader_free);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* Abandoning a load (the source cancelled): the sink lets go. */
START_TEST(test_abandon)
{
    End src, dst;
    VdcMigrationLoader *ld;
    g_autoptr(GError) err = NULL;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(50000, 3));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, 20000));
    ck_assert_uint_gt(vdc_clipboard_live_sink_held(dst.live), 0);
    vdc_migration_loader_free(ld);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* ---- zero-copy ------------------------------------------------------- */

/*
 * A pull source over the pieces of a part, at most 300000 bytes a pull;
 * with piece_pull_file() its pull_file too (into files, below).
 */
typedef struct PieceReader {
    GPtrArray *pieces;
    guint i;
    size_t at;
    size_t largest;
    uint64_t stop;              /* 0, or answer 0 once this much was given */
    uint64_t given;             /* bytes given (pulled or moved to files) */
    uint64_t pulled;            /* of which by the pull */
    uint64_t filed;             /* of which by the pull_file */
    int fd;                     /* the file the pull_file last wrote */
    const char *fail;           /* pull_file: past 300000 bytes, fail so */
} PieceReader;

/* The next bytes of @pr for a read of @len (@n of them), NULL at its end. */
static const uint8_t *piece_next(PieceReader *pr, size_t len, size_t *n)
{
    gsize plen;
    const uint8_t *p;

    while (pr->i < pr->pieces->len &&
           pr->at == g_bytes_get_size(pr->pieces->pdata[pr->i])) {
        pr->i++;
        pr->at = 0;
    }
    if (pr->i == pr->pieces->len || (pr->stop && pr->given >= pr->stop)) {
        return NULL;
    }
    p = g_bytes_get_data(pr->pieces->pdata[pr->i], &plen);
    *n = MIN(MIN(len, plen - pr->at), 300000u);
    if (pr->stop) {
        *n = (size_t)MIN((uint64_t)*n, pr->stop - pr->given);
    }
    p += pr->at;
    pr->at += *n;
    pr->given += *n;
    return p;
}

static gssize piece_pull(void *opaque, void *buf, size_t len, GError **errp)
{
    PieceReader *pr = opaque;
    const uint8_t *p;
    size_t n;

    (void)errp;
    pr->largest = MAX(pr->largest, len);
    p = piece_next(pr, len, &n);
    if (!p) {
        return 0;
    }
    memcpy(buf, p, n);
    pr->pulled += n;
    return (gssize)n;
}

/*
 * A 9 MiB slot (large: its range is reserved at once) in parts of 1 MiB:
 * each part's data is a slice of the hub's own bytes, pulled by the
 * destination straight into the slot (the pulls are as large as the
 * piece, not the read-ahead's); the slot is held as the bytes come (1 MiB
 * after the first, never more than twice what came) and ends with
 * exactly the source's bytes.
 */
START_TEST(test_large_slot_pieces)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    GBytes *data = pattern(9 * MIB, 5);
    const uint8_t *dp = g_bytes_get_data(data, NULL);
    g_autoptr(GBytes) gb = NULL;
    const uint8_t *got;
    gsize glen;
    uint32_t len;
    uint64_t came = 0;
    unsigned parts = 0;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    full_live = dst.live;
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(data));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    while (vdc_migration_save_live_pending(src.reg) > 0) {
        g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
        g_autoptr(VdcMigrationStream) r = NULL;
        g_autoptr(GPtrArray) pieces = NULL;
        PieceReader pr = { 0 };
        uint64_t total = 0;
        bool referenced = false;
        guint i;

        ck_assert(vdc_migration_save_live_iterate(src.reg, s, MIB, &err));
        pieces = vdc_migration_stream_steal_pieces(s);
        for (i = 0; i < pieces->len; i++) {
            gsize plen;
            const uint8_t *p = g_bytes_get_data(pieces->pdata[i], &plen);

            total += plen;
            referenced |= p >= dp && p < dp + 9 * MIB && plen == MIB;
        }
        ck_assert_msg(referenced, "part %u: the data was copied", parts);
        pr.pieces = pieces;
        r = vdc_migration_stream_new_pull(piece_pull, &pr, total);
        ck_assert_msg(vdc_migration_loader_feed(ld, r, false, &err), "%s",
                      err ? err->message : "");
        ck_assert_uint_ge(pr.largest, 300000);
        came += MIB;
        if (parts == 0) {
            ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), MIB);
        }
        ck_assert_uint_le(vdc_clipboard_live_sink_held(dst.live), 2 * came);
        parts++;
    }
    ck_assert_uint_eq(parts, 9);
    ck_assert(vdc_clipboard_live_sink_complete(dst.live,
                                           VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                           VDC_CLIPBOARD_TYPE_PNG, &len));
    ck_assert_uint_eq(len, 9 * MIB);
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                      VDC_CLIPBOARD_TYPE_PNG);
    got = g_bytes_get_data(gb, &glen);
    len = (uint32_t)glen;
    ck_assert_uint_eq(len, 9 * MIB);
    ck_assert(memcmp(got, dp, len) == 0);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    g_bytes_unref(data);
    g_clear_pointer(&ld, vdc_migration_loader_free);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* ---- prefault -------------------------------------------------------- */

/* A recording prefault: what the sink handed over, and when. */
typedef struct Prefault {
    unsigned starts, finishes;
    uint8_t *buf;               /* the last started */
    size_t len;
    bool finished_wrong;        /* a finish for a buffer never started */
} Prefault;

static void pf_start(void *opaque, uint8_t *buf, size_t len)
{
    Prefault *pf = opaque;

    pf->starts++;
    pf->buf = buf;
    pf->len = len;
}

static void pf_finish(void *opaque, uint8_t *buf)
{
    Prefault *pf = opaque;

    pf->finishes++;
    pf->finished_wrong |= buf != pf->buf;
}

static const VdcPrefaultOps pf_ops = {
    .start = pf_start,
    .finish = pf_finish,
};

/* Move @sel/@type's @data (set on @src) in parts of 1 MiB into @ld. */
static void move_parts(End *src, VdcMigrationLoader *ld)
{
    feed_ok(ld, save_setup(src));
    while (vdc_migration_save_live_pending(src->reg) > 0) {
        feed_ok(ld, save_part(src, MIB));
    }
}

/*
 * A large slot (9 MiB) is handed to the prefault once, whole, as soon as
 * its first piece announces it, and finished when it is taken, the
 * buffer taken being the one prefaulted; a small one (50000 bytes) is
 * not handed over; with the ops cleared the sink faults in its pieces
 * itself again.
 */
START_TEST(test_prefault_large_slot)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GBytes) data = pattern(9 * MIB, 11);
    Prefault pf = { 0 };
    g_autoptr(GBytes) gb = NULL;
    const uint8_t *got;
    gsize glen;
    uint32_t len;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_prefault(dst.live, &pf_ops, &pf);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(data));
    grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
         pattern(50000, 12));
    ld = vdc_migration_loader_new(dst.reg);
    move_parts(&src, ld);
    ck_assert_uint_eq(pf.starts, 1);
    ck_assert_uint_eq(pf.len, 9 * MIB);
    ck_assert_uint_eq(pf.finishes, 0);          /* not taken yet */
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                      VDC_CLIPBOARD_TYPE_PNG);
    got = g_bytes_get_data(gb, &glen);
    len = (uint32_t)glen;
    ck_assert_uint_eq(pf.finishes, 1);
    ck_assert(!pf.finished_wrong);
    ck_assert_ptr_eq(got, pf.buf);
    ck_assert_uint_eq(len, 9 * MIB);
    ck_assert(memcmp(got, g_bytes_get_data(data, NULL), len) == 0);
    g_clear_pointer(&ld, vdc_migration_loader_free);
    ck_assert_uint_eq(pf.starts, 1);            /* the small slot: never */
    ck_assert_uint_eq(pf.finishes, 1);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/*
 * A load that breaks off in the middle of a large slot finishes its
 * prefault before the buffer is freed (the sink reset), once; so does a
 * slot restarted at offset 0 by a new piece.
 */
START_TEST(test_prefault_abandoned)
{
    End src, dst;
    VdcMigrationLoader *ld;
    g_autoptr(GError) err = NULL;
    Prefault pf = { 0 };

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_prefault(dst.live, &pf_ops, &pf);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(6 * MIB, 13));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(pf.starts, 1);
    ck_assert_uint_eq(pf.finishes, 0);
    /* the data changes: the source sends the slot again from 0 */
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(5 * MIB, 14));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(pf.starts, 2);
    ck_assert_uint_eq(pf.finishes, 1);
    ck_assert_uint_eq(pf.len, 5 * MIB);
    vdc_migration_loader_free(ld);
    ck_assert_uint_eq(pf.finishes, 2);
    ck_assert(!pf.finished_wrong);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* ---- into files ------------------------------------------------------ */

/*
 * File ops over memfds, recording what the sink asked.  Each file open
 * gives has a descriptor number of its own, above any the test had
 * before (never the number of a file closed meanwhile), so that "closed"
 * is a plain fcntl().  adopt maps the file: the data the slot takes is
 * the file's pages, and its GBytes owns the descriptor (closed with the
 * mapping).
 */
typedef struct Files {
    bool none;                  /* open: answer -1 */
    const char *refuse;         /* adopt: fail with this */
    bool short_by_one;          /* adopt: data one byte short */
    unsigned opens, adopts;
    uint32_t open_total;        /* the last open's */
    int fds[8];                 /* every descriptor open gave, in order */
    unsigned nfds;
    int adopted_fd;             /* the last adopt's */
    uint32_t adopted_total;
    const GBytes *adopted;      /* what it returned (not a reference) */
} Files;

typedef struct Mapping {
    void *p;
    size_t len;
    int fd;
} Mapping;

static void mapping_free(gpointer data)
{
    Mapping *m = data;

    munmap(m->p, m->len);
    close(m->fd);
    g_free(m);
}

static int files_open(void *opaque, uint32_t total)
{
    Files *f = opaque;
    int mfd, fd;

    f->opens++;
    f->open_total = total;
    if (f->none) {
        return -1;
    }
    ck_assert_uint_lt(f->nfds, G_N_ELEMENTS(f->fds));
    mfd = memfd_create("check-live", MFD_CLOEXEC);
    ck_assert_int_ge(mfd, 0);
    fd = fcntl(mfd, F_DUPFD_CLOEXEC, 500 + 10 * (int)f->nfds);
    ck_assert_int_ge(fd, 500 + 10 * (int)f->nfds);
    close(mfd);
    f->fds[f->nfds++] = fd;
    return fd;
}

static GBytes *files_adopt(void *opaque, int fd, uint32_t total, GError **errp)
{
    Files *f = opaque;
    struct stat st;
    Mapping *m;
    GBytes *data;

    f->adopts++;
    f->adopted_fd = fd;
    f->adopted_total = total;
    /* every byte was written: the file is as long as the slot */
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_size, total);
    if (f->refuse) {
        close(fd);              /* taken: closed on failure too */
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, f->refuse);
        return NULL;
    }
    m = g_new0(Mapping, 1);
    m->len = total;
    m->fd = fd;
    m->p = mmap(NULL, total, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert(m->p != MAP_FAILED);
    data = g_bytes_new_with_free_func(m->p, f->short_by_one ? total - 1 : total,
                                      mapping_free, m);
    f->adopted = data;
    return data;
}

static const VdcClipboardLiveFileOps files_ops = { files_open, files_adopt };

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static bool fd_is_closed(int fd)
{
    return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* Every file @f's open gave is closed. */
static void assert_files_closed(const Files *f, const char *when)
{
    unsigned i;

    for (i = 0; i < f->nfds; i++) {
        ck_assert_msg(fd_is_closed(f->fds[i]), "%s: file %u (fd %d) still open",
                      when, i, f->fds[i]);
    }
}

/* After a failed load: the sink holds nothing, clipboard/png incomplete. */
static void assert_slot_empty(End *dst)
{
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst->live), 0);
    ck_assert(!vdc_clipboard_live_sink_complete(dst->live,
                                                VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                                VDC_CLIPBOARD_TYPE_PNG, NULL));
}

/* PieceReader's pull_file: the bytes written to @fd at @off. */
static gssize piece_pull_file(void *opaque, int fd, uint64_t off, size_t len,
                              GError **errp)
{
    PieceReader *pr = opaque;
    const uint8_t *p;
    size_t n;

    pr->fd = fd;
    if (pr->fail && pr->filed >= 300000) {
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_IO, pr->fail);
        return -1;
    }
    p = piece_next(pr, len, &n);
    if (!p) {
        return 0;
    }
    ck_assert_int_eq(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
    pr->filed += n;
    return (gssize)n;
}

/*
 * Feed the next part of @src (a budget of 1 MiB) to @ld through a pull
 * source over its pieces, with piece_pull_file() when @with_file; the
 * last @withhold bytes are announced but never come.  @pr keeps the
 * reader's settings and tallies.
 */
static bool feed_pull(End *src, VdcMigrationLoader *ld, PieceReader *pr,
                      bool with_file, uint64_t withhold, GError **errp)
{
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) r = NULL;
    g_autoptr(GPtrArray) pieces = NULL;
    uint64_t total = 0;
    bool ok;
    guint i;

    ck_assert(vdc_migration_save_live_iterate(src->reg, s, MIB, errp));
    pieces = vdc_migration_stream_steal_pieces(s);
    for (i = 0; i < pieces->len; i++) {
        total += g_bytes_get_size(pieces->pdata[i]);
    }
    ck_assert_uint_gt(total, withhold);
    pr->pieces = pieces;
    pr->i = 0;
    pr->at = 0;
    pr->given = 0;
    pr->stop = withhold ? total - withhold : 0;
    r = vdc_migration_stream_new_pull(piece_pull, pr, total);
    if (with_file) {
        vdc_migration_stream_set_pull_file(r, piece_pull_file);
    }
    ok = vdc_migration_loader_feed(ld, r, false, errp);
    pr->pieces = NULL;
    return ok;
}

/* How the parts of a slot reach the destination. */
static const struct {
    const char *name;
    bool pull;                  /* a pull source, else a memory reader */
    bool pull_file;             /* the pull source has a pull_file */
    bool none;                  /* open() gives no file */
} file_moves[] = {
    { "pull_file", true, true, false },
    { "reader", false, false, false },
    { "pull without pull_file", true, false, false },
    { "no file", false, false, true },
    { "no file, pull_file", true, true, true },
};

/*
 * A 9 MiB slot in parts of 1 MiB, a small one (50000 bytes) beside it:
 * the large one goes into the one file open() gives (open called once,
 * for 9 MiB; never for the small one), adopted at once when its last
 * piece came and not before, the slot then holding the very GBytes adopt
 * returned (the file's pages), with exactly the source's bytes; through
 * a pull_file most of the bytes never pass through memory (8 MiB and
 * more went by it, into that file), without one they are written from
 * memory.  The held count is as for a memory slot (1 MiB after the
 * first part, never more than twice what came, 0 once taken), and the
 * file is not handed to the prefault ops.  When open() gives no file,
 * the slot is memory as before: prefaulted, never adopted.
 */
START_TEST(test_file_slot)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) data = pattern(9 * MIB, 21);
    g_autoptr(GBytes) small = pattern(50000, 22);
    Files files = { .none = file_moves[_i].none };
    Prefault pf = { 0 };
    PieceReader pr = { .fd = -1 };
    GBytes *gb, *gs;
    uint64_t came = 0;
    unsigned parts = 0;
    uint32_t len;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_file_ops(dst.live, &files_ops, &files);
    vdc_clipboard_live_set_prefault(dst.live, &pf_ops, &pf);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(data));
    grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
         g_bytes_ref(small));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    while (vdc_migration_save_live_pending(src.reg) > 0) {
        uint64_t pending = vdc_migration_save_live_pending(src.reg);

        if (file_moves[_i].pull) {
            ck_assert_msg(feed_pull(&src, ld, &pr, file_moves[_i].pull_file, 0,
                                    &err), "%s: %s", file_moves[_i].name,
                          err ? err->message : "");
        } else {
            feed_ok(ld, save_part(&src, MIB));
        }
        came += MIN(pending, (uint64_t)MIB);
        parts++;
        if (parts == 1) {
            ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), MIB);
            ck_assert_uint_eq(files.opens, 1);
            ck_assert_uint_eq(files.open_total, 9 * MIB);
            if (!files.none) {
                ck_assert(fd_is_open(files.fds[0]));
            }
        }
        ck_assert_uint_le(vdc_clipboard_live_sink_held(dst.live), 2 * came);
        /* adopted as soon as the last piece came, not before */
        ck_assert_uint_eq(files.adopts, parts >= 9 && !files.none ? 1 : 0);
    }
    ck_assert_uint_eq(parts, 10);
    ck_assert_uint_eq(files.opens, 1);          /* the small slot: never */
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 9 * MIB + 50000);
    ck_assert(vdc_clipboard_live_sink_complete(dst.live,
                                               VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                               VDC_CLIPBOARD_TYPE_PNG, &len));
    ck_assert_uint_eq(len, 9 * MIB);
    if (files.none) {
        ck_assert_uint_eq(files.nfds, 0);
        ck_assert_uint_eq(files.adopts, 0);
        ck_assert_uint_eq(pf.starts, 1);        /* memory, as before */
        ck_assert_uint_eq(pf.len, 9 * MIB);
    } else {
        ck_assert_uint_eq(files.nfds, 1);
        ck_assert_uint_eq(files.adopts, 1);
        ck_assert_int_eq(files.adopted_fd, files.fds[0]);
        ck_assert_uint_eq(files.adopted_total, 9 * MIB);
        ck_assert_uint_eq(pf.starts, 0);        /* a file is not prefaulted */
        ck_assert(fd_is_open(files.fds[0]));    /* the adopted data's */
    }
    if (file_moves[_i].pull_file && !files.none) {
        ck_assert_uint_ge(pr.filed, 8 * MIB);
        ck_assert_int_eq(pr.fd, files.fds[0]);
    } else {
        ck_assert_uint_eq(pr.filed, 0);
    }
    if (file_moves[_i].pull) {
        ck_assert_uint_ge(pr.pulled + pr.filed, 9 * MIB + 50000);
    }

    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                      VDC_CLIPBOARD_TYPE_PNG);
    ck_assert_ptr_nonnull(gb);
    if (!files.none) {
        ck_assert_ptr_eq(gb, files.adopted);
    }
    ck_assert(g_bytes_equal(gb, data));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 50000);
    gs = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_PRIMARY,
                                      VDC_CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(gs);
    ck_assert(g_bytes_equal(gs, small));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    g_bytes_unref(gs);
    g_bytes_unref(gb);
    assert_files_closed(&files, "data freed");
    g_clear_pointer(&ld, vdc_migration_loader_free);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* Adoptions that fail, and the message that says so. */
static const struct {
    const char *what;
    const char *refuse;
    bool short_by_one;
    const char *want;
} file_adopt_bad[] = {
    { "refused", "not sealed (test)", false, "not sealed (test)" },
    { "size", NULL, true, "of another size" },
};

/*
 * The slot's file came whole but adopt() refuses it, or gives data of
 * another size: the load fails there, saying so; the sink holds nothing,
 * the slot is not complete, and no file is left open (the short data
 * the sink refused was let go).
 */
START_TEST(test_file_adopt_bad)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    Files files = {
        .refuse = file_adopt_bad[_i].refuse,
        .short_by_one = file_adopt_bad[_i].short_by_one,
    };
    unsigned parts = 0;
    bool ok = true;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_file_ops(dst.live, &files_ops, &files);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(5 * MIB, 23));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    while (ok && vdc_migration_save_live_pending(src.reg) > 0) {
        GByteArray *a = save_part(&src, MIB);

        ok = feed(ld, a, false, &err);
        g_byte_array_unref(a);
        parts++;
    }
    ck_assert_msg(!ok, "%s: loaded", file_adopt_bad[_i].what);
    ck_assert_uint_eq(parts, 5);                /* at the last piece */
    ck_assert_uint_eq(files.opens, 1);
    ck_assert_uint_eq(files.adopts, 1);
    ck_assert_int_eq(files.adopted_fd, files.fds[0]);
    ck_assert(err->domain == VDC_VMSTATE_ERROR);
    ck_assert_msg(strstr(err->message, "clipboard record at offset") &&
                  strstr(err->message, "data received into a file") &&
                  strstr(err->message, file_adopt_bad[_i].want),
                  "%s: %s", file_adopt_bad[_i].what, err->message);
    assert_slot_empty(&dst);
    ck_assert_ptr_null(vdc_clipboard_live_sink_take(dst.live,
                                                    VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                                    VDC_CLIPBOARD_TYPE_PNG));
    assert_files_closed(&files, "after the failed feed");
    g_clear_pointer(&ld, vdc_migration_loader_free);
    assert_files_closed(&files, "loader freed");
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/*
 * A file never adopted is closed by the sink: when the slot starts again
 * at offset 0 (new data), when it is dropped (the selection released),
 * when the load is abandoned (the loader freed after 1 of 7 MiB), and on
 * vdc_clipboard_live_reset_sink(); the sink then holds nothing.
 */
START_TEST(test_file_abandoned)
{
    End src, dst;
    VdcMigrationLoader *ld;
    Files files = { 0 };

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_file_ops(dst.live, &files_ops, &files);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(6 * MIB, 24));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 1);
    ck_assert(fd_is_open(files.fds[0]));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 2 * MIB);

    /* the data changes: the source sends the slot again from 0 */
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(5 * MIB, 25));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 2);
    ck_assert_uint_eq(files.open_total, 5 * MIB);
    ck_assert(fd_is_closed(files.fds[0]));
    ck_assert(fd_is_open(files.fds[1]));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), MIB);

    /* released: a drop record */
    vdc_clipboard_peer_release(&src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    feed_ok(ld, save_part(&src, MIB));
    ck_assert(fd_is_closed(files.fds[1]));
    assert_slot_empty(&dst);

    /* new data, then the load abandoned */
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(7 * MIB, 26));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 3);
    ck_assert(fd_is_open(files.fds[2]));
    vdc_migration_loader_free(ld);
    ck_assert(fd_is_closed(files.fds[2]));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);

    /* a new load, its sink reset */
    vdc_migration_save_live_cleanup(src.reg);
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 4);
    ck_assert(fd_is_open(files.fds[3]));
    vdc_clipboard_live_reset_sink(dst.live);
    ck_assert(fd_is_closed(files.fds[3]));
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    vdc_migration_loader_free(ld);

    ck_assert_uint_eq(files.adopts, 0);
    assert_files_closed(&files, "the end");
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* Ways the second piece of a file slot breaks off. */
static const struct {
    const char *what;
    bool pull;                  /* a pull source, else a memory reader */
    bool pull_file;
    const char *fail;           /* the pull_file fails so */
    int code;
    const char *want;
} file_cut[] = {
    { "reader cut", false, false, NULL, VDC_VMSTATE_ERROR_TRUNCATED,
      "but only" },
    { "pull_file ends early", true, true, NULL, VDC_VMSTATE_ERROR_TRUNCATED,
      "stream truncated" },
    { "pull ends early", true, false, NULL, VDC_VMSTATE_ERROR_TRUNCATED,
      "stream truncated" },
    { "pull_file fails", true, true, "connection reset (test)",
      VDC_VMSTATE_ERROR_IO, "read: connection reset (test)" },
};

/*
 * A file slot's second piece is cut in its middle (a memory piece cut
 * short; a pull source that announces it whole but ends halfway, with
 * or without a pull_file; a pull_file that fails): the feed fails
 * cleanly with a truncation (the I/O error for the failure), nothing
 * adopted or held, the file closed, later pieces refused.
 */
START_TEST(test_file_cut)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) again = NULL;
    Files files = { 0 };
    PieceReader pr = { .fd = -1, .fail = file_cut[_i].fail };
    GByteArray *a;
    bool ok;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_file_ops(dst.live, &files_ops, &files);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(6 * MIB, 27));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 1);
    ck_assert(fd_is_open(files.fds[0]));
    if (file_cut[_i].pull) {
        ok = feed_pull(&src, ld, &pr, file_cut[_i].pull_file,
                       file_cut[_i].fail ? 0 : MIB / 2, &err);
    } else {
        a = save_part(&src, MIB);
        g_byte_array_set_size(a, a->len / 2);
        ok = feed(ld, a, false, &err);
        g_byte_array_unref(a);
    }
    ck_assert_msg(!ok, "%s: loaded", file_cut[_i].what);
    ck_assert(err->domain == VDC_VMSTATE_ERROR);
    ck_assert_msg(err->code == file_cut[_i].code, "%s: %d %s",
                  file_cut[_i].what, err->code, err->message);
    ck_assert_msg(strstr(err->message, "clipboard record at offset") &&
                  strstr(err->message, file_cut[_i].want),
                  "%s: %s", file_cut[_i].what, err->message);
    if (file_cut[_i].pull_file) {
        /* it broke off inside the file piece, in the pull_file */
        ck_assert_uint_ge(pr.filed, 300000);
        ck_assert_int_eq(pr.fd, files.fds[0]);
    }
    ck_assert_uint_eq(files.opens, 1);
    ck_assert_uint_eq(files.adopts, 0);
    assert_slot_empty(&dst);
    assert_files_closed(&files, "after the failed feed");
    a = save_part(&src, MIB);
    ck_assert(!feed(ld, a, false, &again));
    g_byte_array_unref(a);
    ck_assert_str_eq(again->message, "the load already failed");
    g_clear_pointer(&ld, vdc_migration_loader_free);
    assert_files_closed(&files, "loader freed");
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/*
 * The file ops cleared (vdc_clipboard_live_set_file_ops(NULL): "never")
 * while a slot's file is open, and the prefault ops while another slot's
 * buffer is being faulted in: each slot finishes with the ops that took
 * it (the file adopted by them, the prefault finished by them), the data
 * whole; a later slot uses neither.  (A first version kept only the
 * current ops: a crash, SIGSEGV in sink_adopt().)
 */
START_TEST(test_file_ops_cleared)
{
    End src, dst;
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GBytes) data = pattern(5 * MIB, 28);
    g_autoptr(GBytes) other = pattern(6 * MIB, 29);
    g_autoptr(GBytes) later = pattern(4 * MIB, 30);
    Files files = { 0 };
    Prefault pf = { 0 };
    GBytes *gb;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_file_ops(dst.live, &files_ops, &files);
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(data));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    feed_ok(ld, save_part(&src, MIB));
    ck_assert_uint_eq(files.opens, 1);
    vdc_clipboard_live_set_file_ops(dst.live, NULL, NULL);
    vdc_clipboard_live_set_prefault(dst.live, &pf_ops, &pf);
    grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(other));
    /* the rest of the first slot, then the second's first piece */
    while (pf.starts == 0 && vdc_migration_save_live_pending(src.reg) > 0) {
        feed_ok(ld, save_part(&src, MIB));
    }
    ck_assert_uint_eq(pf.starts, 1);
    ck_assert_uint_eq(files.adopts, 1);
    vdc_clipboard_live_set_prefault(dst.live, NULL, NULL);
    grab(&src, VDC_CLIPBOARD_SELECTION_SECONDARY, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(later));
    while (vdc_migration_save_live_pending(src.reg) > 0) {
        feed_ok(ld, save_part(&src, MIB));
    }
    ck_assert_uint_eq(files.opens, 1);
    ck_assert_uint_eq(files.adopts, 1);
    ck_assert_uint_eq(pf.starts, 1);
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                      VDC_CLIPBOARD_TYPE_PNG);
    ck_assert_ptr_eq(gb, files.adopted);
    ck_assert(g_bytes_equal(gb, data));
    g_bytes_unref(gb);
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_PRIMARY,
                                      VDC_CLIPBOARD_TYPE_PNG);
    ck_assert_uint_eq(pf.finishes, 1);
    ck_assert(!pf.finished_wrong);
    ck_assert(g_bytes_equal(gb, other));
    g_bytes_unref(gb);
    gb = vdc_clipboard_live_sink_take(dst.live, VDC_CLIPBOARD_SELECTION_SECONDARY,
                                      VDC_CLIPBOARD_TYPE_PNG);
    ck_assert(g_bytes_equal(gb, later));
    g_bytes_unref(gb);
    ck_assert_uint_eq(pf.starts, 1);
    g_clear_pointer(&ld, vdc_migration_loader_free);
    assert_files_closed(&files, "the end");
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* ---- by reference ----------------------------------------------------- */

/* Ref ops over a queue in memory: what the source passes, the sink gets. */
typedef struct Refs {
    GQueue q;                   /* GBytes passed, in order (references) */
    size_t min;                 /* send: only data of this size or more */
    unsigned sends;
    GBytes *swap;               /* receive: give this instead (taken) */
    const char *refuse;         /* receive: fail with this */
} Refs;

static bool refs_send(void *opaque, GBytes *data)
{
    Refs *r = opaque;

    if (g_bytes_get_size(data) < r->min) {
        return false;
    }
    r->sends++;
    g_queue_push_tail(&r->q, g_bytes_ref(data));
    return true;
}

static GBytes *refs_receive(void *opaque, uint32_t len, GError **errp)
{
    Refs *r = opaque;
    GBytes *data = g_queue_pop_head(&r->q);

    (void)len;                  /* the sink checks the size */
    if (r->refuse || !data) {
        if (data) {
            g_bytes_unref(data);
        }
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            r->refuse ? r->refuse : "nothing passed");
        return NULL;
    }
    if (r->swap) {
        g_bytes_unref(data);
        return g_steal_pointer(&r->swap);
    }
    return data;
}

static const VdcClipboardLiveRefOps refs_ops = { refs_send, refs_receive };

static void refs_clear(Refs *r)
{
    g_queue_clear_full(&r->q, (GDestroyNotify)g_bytes_unref);
    g_clear_pointer(&r->swap, g_bytes_unref);
}

/*
 * A large slot by reference, a small one by its bytes; the large data
 * changes after it went (passed again); the final section refers to both;
 * restored, the destination's hub holds the very GBytes the source
 * passed (no copy anywhere), and the sink holds nothing.
 */
START_TEST(test_ref_moves)
{
    End src, dst;
    Refs refs = { .min = MIB };
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) big = pattern(8 * MIB, 3);
    g_autoptr(GBytes) newest = pattern(8 * MIB + 5, 4);
    g_autoptr(GBytes) small = pattern(1000, 5);
    VdcClipboardInfo *info;
    GByteArray *a;
    size_t wire = 0;
    unsigned parts = 0;

    end_init(&src, 0, true);
    end_init(&dst, 64 * MIB, true);
    vdc_clipboard_live_set_ref_ops(src.live, &refs_ops, &refs);
    vdc_clipboard_live_set_ref_ops(dst.live, &refs_ops, &refs);
    full_live = dst.live;
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
         g_bytes_ref(small));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    while (vdc_migration_save_live_pending(src.reg) > 0 || parts == 1) {
        if (parts == 1) {
            /* both went in the first part; new data for both */
            ck_assert_uint_eq(refs.sends, 1);
            grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
                 g_bytes_ref(newest));
            grab(&src, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
                 pattern(1000, 5));
        }
        a = save_part(&src, 256 * 1024);
        wire += a->len;
        feed_ok(ld, a);
        parts++;
    }
    ck_assert_uint_eq(parts, 2);
    ck_assert_uint_eq(refs.sends, 2);
    ck_assert_uint_eq(g_queue_get_length(&refs.q), 0);
    /* the small text twice, the rest framing: no large data on the wire */
    ck_assert_uint_gt(wire, 2 * 1000);
    ck_assert_uint_lt(wire, 2 * 1000 + 256);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live),
                      g_bytes_get_size(newest) + 1000);

    full_pre_save_live(&src);
    ck_assert_uint_eq(src.full.live,
                      VDC_CLIPBOARD_LIVE_BIT(VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                             VDC_CLIPBOARD_TYPE_PNG) |
                      VDC_CLIPBOARD_LIVE_BIT(VDC_CLIPBOARD_SELECTION_PRIMARY,
                                             VDC_CLIPBOARD_TYPE_TEXT));
    a = save_final(&src);
    ck_assert_uint_lt(a->len, 4096);
    ck_assert_msg(feed(ld, a, true, &err), "%s", err ? err->message : "");
    g_byte_array_unref(a);
    ck_assert(vdc_migration_loader_done(ld));
    ck_assert(vdc_clipboard_live_check_refs(dst.live, &dst.full.cb,
                                            dst.full.live, &err));
    vdc_clipboard_live_take_refs(dst.live, &dst.full.cb, dst.full.live);
    ck_assert_uint_eq(vdc_clipboard_live_sink_held(dst.live), 0);
    vdc_clipboard_saved_restore(&dst.full.cb, dst.hub, &dst.peer);
    info = vdc_clipboard_hub_info(dst.hub, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_eq(info->types[VDC_CLIPBOARD_TYPE_PNG].data, newest);
    info = vdc_clipboard_hub_info(dst.hub, VDC_CLIPBOARD_SELECTION_PRIMARY);
    ck_assert_ptr_nonnull(info);
    ck_assert(g_bytes_equal(info->types[VDC_CLIPBOARD_TYPE_TEXT].data, small));
    full_live = NULL;
    refs_clear(&refs);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

/* Ways a slot by reference fails on the destination; each clean. */
static const struct {
    const char *what;
    bool sink_ops;              /* the destination takes references */
    uint64_t max_held;
    const char *refuse;
    size_t swap;                /* a receive of another size */
    const char *want;
} ref_bad[] = {
    { "no ops", false, 64 * MIB, NULL, 0, "does not take" },
    { "refused", true, 64 * MIB, "not sealed (test)", 0, "not sealed (test)" },
    { "size", true, 64 * MIB, NULL, 8 * MIB - 1, "another size" },
    { "held", true, 4 * MIB, NULL, 0, "more than 4194304 bytes held" },
};

START_TEST(test_ref_bad)
{
    End src, dst;
    Refs refs = { .min = MIB };
    g_autoptr(VdcMigrationLoader) ld = NULL;
    g_autoptr(GError) err = NULL;
    GByteArray *a;

    end_init(&src, 0, true);
    end_init(&dst, ref_bad[_i].max_held, true);
    vdc_clipboard_live_set_ref_ops(src.live, &refs_ops, &refs);
    if (ref_bad[_i].sink_ops) {
        vdc_clipboard_live_set_ref_ops(dst.live, &refs_ops, &refs);
    }
    refs.refuse = ref_bad[_i].refuse;
    if (ref_bad[_i].swap) {
        refs.swap = pattern(ref_bad[_i].swap, 6);
    }
    grab(&src, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         pattern(8 * MIB, 3));
    ld = vdc_migration_loader_new(dst.reg);
    feed_ok(ld, save_setup(&src));
    a = save_part(&src, MIB);
    ck_assert_uint_eq(refs.sends, 1);
    ck_assert(!feed(ld, a, false, &err));
    g_byte_array_unref(a);
    ck_assert_msg(strstr(err->message, ref_bad[_i].want), "%s: %s",
                  ref_bad[_i].what, err->message);
    ck_assert_msg(strstr(err->message, "clipboard record at offset"), "%s",
                  err->message);
    assert_slot_empty(&dst);
    refs_clear(&refs);
    end_fini(&src);
    end_fini(&dst);
}
END_TEST

Suite *migration_live_suite(void)
{
    Suite *s = suite_create("migration-live");
    TCase *tc = tcase_create("framing");

    tcase_add_test(tc, test_framing);
    tcase_add_test(tc, test_no_live_part_identical);
    suite_add_tcase(s, tc);
    tc = tcase_create("moves");
    tcase_add_test(tc, test_moves_with_changes);
    tcase_add_test(tc, test_change_in_end);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_test(tc, test_pieces_load);
    tcase_add_test(tc, test_cuts);
    tcase_add_loop_test(tc, test_corrupt, 0, G_N_ELEMENTS(corrupt));
    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_offsets_whole_stream);
    suite_add_tcase(s, tc);
    tc = tcase_create("bounds");
    tcase_add_test(tc, test_announce_bounded);
    tcase_add_test(tc, test_held_bound);
    tcase_add_test(tc, test_abandon);
    suite_add_tcase(s, tc);
    tc = tcase_create("zero-copy");
    tcase_add_test(tc, test_large_slot_pieces);
    tcase_add_test(tc, test_prefault_large_slot);
    tcase_add_test(tc, test_prefault_abandoned);
    suite_add_tcase(s, tc);
    tc = tcase_create("by-reference");
    tcase_add_test(tc, test_ref_moves);
    tcase_add_loop_test(tc, test_ref_bad, 0, G_N_ELEMENTS(ref_bad));
    suite_add_tcase(s, tc);
    tc = tcase_create("into-files");
    tcase_add_loop_test(tc, test_file_slot, 0, G_N_ELEMENTS(file_moves));
    tcase_add_loop_test(tc, test_file_adopt_bad, 0, G_N_ELEMENTS(file_adopt_bad));
    tcase_add_test(tc, test_file_abandoned);
    tcase_add_loop_test(tc, test_file_cut, 0, G_N_ELEMENTS(file_cut));
    tcase_add_test(tc, test_file_ops_cleared);
    suite_add_tcase(s, tc);
    return s;
}
