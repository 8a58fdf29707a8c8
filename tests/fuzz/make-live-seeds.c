/*
 * make-live-seeds.c: write the seed corpus of tests/fuzz/fuzz_live.c, real
 * live migrations of a source with the fuzz target's device config
 * (clipboard, mouse and monitors on, max_message 64 KiB), a host-side
 * peer and the clipboard's live section on the device's hub, registered
 * as the host program registers it ("vdagent-host-clipboard", after the
 * device).  The guest's side is the scripted guest agent
 * (tests/guest-agent.c).
 *
 *   cc -std=gnu11 -I. \
 *      $(pkg-config --cflags glib-2.0 spice-protocol pixman-1 json-c) \
 *      tests/fuzz/make-live-seeds.c tests/fuzz/seed-device.c \
 *      tests/guest-agent.c tests/test-util.c \
 *      <library .c> \
 *      $(pkg-config --libs glib-2.0 pixman-1 json-c) -o make-live-seeds
 *   ./make-live-seeds [OUTDIR]          (default tests/fuzz/corpus/live)
 *
 * (<library .c>: LIB_SRCS of the Makefile.)  Each seed is the pieces of
 * one migration in the target's framing, [be32 length][bytes] each: the
 * setup (header and START), each PART, then the final piece (END, FULL,
 * EOF, vmdesc); some seeds join pieces, as a destination may receive
 * them.  Files of the same name are overwritten; others (crash
 * reproducers kept as regression seeds) are left alone.  Exits non-zero
 * when a state cannot be reached or saved, or a seed is 64 KiB or more.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipboard/clipboard-live.h"
#include "clipboard/vdc-clipboard.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-stream.h"
#include "tests/fuzz/seed-device.h"
#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

#define SEED_MAX_SIZE (64u * 1024)
#define LIVE_IDSTR "vdagent-host-clipboard"     /* fuzz_live.c's */

static const char *outdir = "tests/fuzz/corpus/live";

/* ---- a source: device, host peer, live section ------------------------- */

typedef struct Src {
    Seed seed;                  /* the device, its agent, the host peer */
    VdcClipboardLive *cl;
    VdcMigrationRegistry *reg;
    GPtrArray *pieces;          /* GByteArray *: setup, parts, final */
} Src;

/* A source whose agent is connected, its live section registered. */
static void src_start(Src *s)
{
    VdcClipboardHub *hub;
    GError *err = NULL;

    memset(s, 0, sizeof(*s));
    seed_start(&s->seed, NULL, 0, true);
    hub = vdc_chardev_clipboard_hub(s->seed.dev);
    s->cl = vdc_clipboard_live_new(hub, 0);
    vdc_clipboard_live_attach(s->cl);
    s->reg = vdc_migration_registry_new();
    if (!vdc_chardev_register_migration(s->seed.dev, s->reg, 0, &err) ||
        !vdc_migration_register_live(s->reg, LIVE_IDSTR, 0, 1,
                                     &vdc_clipboard_live_ops, s->cl, &err)) {
        seed_die("register: %s", err->message);
    }
    s->pieces = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
}

static void src_free(Src *s)
{
    vdc_migration_save_live_cleanup(s->reg);
    vdc_migration_registry_free(s->reg);
    vdc_clipboard_live_free(s->cl);
    seed_free(&s->seed);
    g_ptr_array_unref(s->pieces);
}

static void keep(Src *s, VdcMigrationStream *st, bool ok, GError *err,
                 const char *what)
{
    const uint8_t *p;
    size_t n;
    GByteArray *a;

    if (!ok) {
        seed_die("%s: %s", what, err->message);
    }
    p = vdc_migration_stream_data(st, &n);
    a = g_byte_array_sized_new((guint)n);
    g_byte_array_append(a, p, (guint)n);
    g_ptr_array_add(s->pieces, a);
    vdc_migration_stream_free(st);
}

static void save_setup(Src *s)
{
    VdcMigrationStream *st = vdc_migration_stream_new_buffer();
    GError *err = NULL;

    keep(s, st, vdc_migration_save_live_setup(s->reg, st, &err), err, "setup");
}

static void save_part(Src *s, uint64_t budget)
{
    VdcMigrationStream *st = vdc_migration_stream_new_buffer();
    GError *err = NULL;

    keep(s, st, vdc_migration_save_live_iterate(s->reg, st, budget, &err), err,
         "part");
}

/* Parts of @budget until nothing is pending. */
static void save_parts(Src *s, uint64_t budget)
{
    do {
        save_part(s, budget);
    } while (vdc_migration_save_live_pending(s->reg) > 0);
}

/* Stop the device, write END, the FULL section, EOF and the vmdesc. */
static void save_final(Src *s)
{
    VdcMigrationStream *st = vdc_migration_stream_new_buffer();
    GError *err = NULL;

    vdc_chardev_set_running(s->seed.dev, false);
    keep(s, st, vdc_migration_save_live_complete(s->reg, st, &err), err,
         "complete");
}

/* ---- the host's and the guest's clipboard ------------------------------ */

/* The host peer grabs @sel with @len bytes (pattern @seed) as each of @types. */
static void host_grab(Src *s, VdcClipboardSelection sel, unsigned types,
                      size_t len, unsigned seed)
{
    VdcClipboardHub *hub = vdc_chardev_clipboard_hub(s->seed.dev);
    VdcClipboardInfo *info = vdc_clipboard_info_new(&s->seed.host, sel);

    for (unsigned t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (types & (1u << t)) {
            uint8_t *p = test_pattern(len + t, seed + t);
            GBytes *data = g_bytes_new_take(p, len + t);

            vdc_clipboard_hub_set_data(hub, &s->seed.host, info, t, data, false);
            g_bytes_unref(data);
        }
    }
    if (!vdc_clipboard_hub_update(hub, info)) {
        seed_die("host grab of selection %u", sel);
    }
    vdc_clipboard_info_unref(info);
}

/* The guest owns @sel with @len bytes of text, which the host fetched. */
static void guest_owns(Src *s, unsigned sel, size_t len, unsigned seed)
{
    static const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    VdcClipboardHub *hub = vdc_chardev_clipboard_hub(s->seed.dev);
    uint8_t *data = test_pattern(len, seed);
    VdcClipboardInfo *info;

    guest_agent_send_grab(s->seed.ga, sel, &text, 1);
    seed_pump(&s->seed);
    info = vdc_clipboard_hub_info(hub, sel);
    if (!info || !vdc_clipboard_hub_request(hub, info, VDC_CLIPBOARD_TYPE_TEXT)) {
        seed_die("the host cannot ask for the guest's selection %u", sel);
    }
    guest_agent_send_clipboard(s->seed.ga, sel, text, data, len);
    seed_pump(&s->seed);
    info = vdc_clipboard_hub_info(hub, sel);
    if (!info || !info->types[VDC_CLIPBOARD_TYPE_TEXT].data) {
        seed_die("the guest's data for selection %u did not come", sel);
    }
    g_free(data);
}

/* ---- writing ----------------------------------------------------------- */

typedef enum Framing {
    FRAME_EACH,                 /* every piece framed on its own */
    FRAME_LIVE_JOINED,          /* setup and parts in one piece, the final */
    FRAME_ONE,                  /* everything in one piece */
} Framing;

static void put_piece(GByteArray *out, const uint8_t *p, size_t n)
{
    uint8_t be[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n };

    g_byte_array_append(out, be, 4);
    g_byte_array_append(out, p, (guint)n);
}

/* Write @s's pieces as @name, framed by @framing, and free @s. */
static void src_write_seed(Src *s, const char *name, Framing framing)
{
    GByteArray *out = g_byte_array_new();
    GByteArray *joined = g_byte_array_new();
    g_autofree char *path = g_build_filename(outdir, name, NULL);
    GError *err = NULL;
    guint last = s->pieces->len - 1, framed = 0;

    for (guint i = 0; i < s->pieces->len; i++) {
        GByteArray *a = s->pieces->pdata[i];

        if (framing == FRAME_EACH) {
            put_piece(out, a->data, a->len);
            framed++;
            continue;
        }
        g_byte_array_append(joined, a->data, a->len);
        if (framing == FRAME_LIVE_JOINED && i + 1 == last) {
            put_piece(out, joined->data, joined->len);
            g_byte_array_set_size(joined, 0);
            framed++;
        }
    }
    if (framing != FRAME_EACH) {
        put_piece(out, joined->data, joined->len);
        framed++;
    }
    if (out->len >= SEED_MAX_SIZE) {
        seed_die("%s: %u bytes", name, out->len);
    }
    if (!g_file_set_contents(path, (const char *)out->data, out->len, &err)) {
        seed_die("%s: %s", path, err->message);
    }
    printf("%-28s %2u pieces %6u bytes\n", name, framed, out->len);
    g_byte_array_unref(joined);
    g_byte_array_unref(out);
    src_free(s);
}

/* ---- the seeds --------------------------------------------------------- */

#define BIT(t) (1u << VDC_CLIPBOARD_TYPE_##t)

/* Nothing on the clipboard: START, one empty PART, the final. */
static void seed_empty(void)
{
    Src s;

    src_start(&s);
    save_setup(&s);
    save_part(&s, 4096);
    save_final(&s);
    src_write_seed(&s, "empty-live", FRAME_EACH);
}

/* No PART at all: START, then END with everything. */
static void seed_end_only(void)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT), 300, 1);
    save_setup(&s);
    save_final(&s);
    src_write_seed(&s, "end-carries-all", FRAME_EACH);
}

/* Host-owned data in several slots, parts of @budget. */
static void seed_host_slots(const char *name, uint64_t budget, Framing framing)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT) | BIT(PNG), 2000, 2);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(TEXT), 700, 3);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_SECONDARY, BIT(BMP) | BIT(JPG), 500, 4);
    save_setup(&s);
    save_parts(&s, budget);
    save_final(&s);
    src_write_seed(&s, name, framing);
}

/*
 * Slots by reference (record 0x03), as over unix: from the host program:
 * the ref ops take data of 1000 bytes or more (fuzz_live's destination
 * makes up what stands behind them); then one of them changes.
 */
static bool ref_send(void *opaque, GBytes *data)
{
    (void)opaque;
    return g_bytes_get_size(data) >= 1000;
}

static GBytes *ref_receive(void *opaque, uint32_t len, GError **errp)
{
    (void)opaque;
    (void)len;
    g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "a source");
    return NULL;
}

static const VdcClipboardLiveRefOps ref_ops = { ref_send, ref_receive };

static void seed_by_reference(void)
{
    Src s;

    src_start(&s);
    vdc_clipboard_live_set_ref_ops(s.cl, &ref_ops, NULL);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT) | BIT(PNG), 2000, 2);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(TEXT), 700, 3);
    save_setup(&s);
    save_part(&s, 1024);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(PNG), 1500, 7);
    save_parts(&s, 1024);
    save_final(&s);
    src_write_seed(&s, "host-by-reference", FRAME_EACH);
}

/* A slot's data changes half-way: the slot starts again at offset 0. */
static void seed_restart(void)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT), 3000, 5);
    save_setup(&s);
    save_part(&s, 1000);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT), 2500, 6);
    save_parts(&s, 1000);
    save_final(&s);
    src_write_seed(&s, "host-restart", FRAME_EACH);
}

/* A slot's data changes between the last PART and END. */
static void seed_change_in_end(void)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(TEXT), 1200, 7);
    save_setup(&s);
    save_parts(&s, 800);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(TEXT), 900, 8);
    save_final(&s);
    src_write_seed(&s, "host-change-in-end", FRAME_EACH);
}

/* A slot sent whole, then released: a drop record. */
static void seed_drop(void)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT), 600, 9);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(PNG), 800, 10);
    save_setup(&s);
    save_parts(&s, 512);
    vdc_clipboard_peer_release(&s.seed.host, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    save_part(&s, 512);
    save_final(&s);
    src_write_seed(&s, "host-drop", FRAME_EACH);
}

/* Guest-owned data: the device's vdagent/clipboard-live takes the slots. */
static void seed_guest(const char *name, bool with_host, uint64_t budget)
{
    Src s;

    src_start(&s);
    guest_owns(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, 1500, 11);
    guest_owns(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, 400, 12);
    if (with_host) {
        host_grab(&s, VDC_CLIPBOARD_SELECTION_SECONDARY, BIT(TEXT), 900, 13);
    }
    save_setup(&s);
    save_parts(&s, budget);
    save_final(&s);
    src_write_seed(&s, name, FRAME_EACH);
}

/* The guest's data changes after it went: a new grab, new data. */
static void seed_guest_regrab(void)
{
    Src s;

    src_start(&s);
    guest_owns(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, 1000, 14);
    save_setup(&s);
    save_parts(&s, 400);
    guest_owns(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, 700, 15);
    save_part(&s, 400);
    save_final(&s);
    src_write_seed(&s, "guest-regrab", FRAME_EACH);
}

/*
 * A large slot (5 MiB, so the sink reserves it and hands it to the
 * prefault ops; 6 MiB, which fuzz_live's file ops take into a file)
 * whose first pieces go, then the host releases it: the slot is dropped
 * and its buffer finished (its file closed) before END.
 */
static void seed_large_dropped(const char *name, uint32_t size, uint8_t seed)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(PNG), size, seed);
    save_setup(&s);
    save_part(&s, 8192);
    save_part(&s, 8192);
    vdc_clipboard_peer_release(&s.seed.host, VDC_CLIPBOARD_SELECTION_CLIPBOARD);
    save_final(&s);
    src_write_seed(&s, name, FRAME_EACH);
}

/*
 * The same large slot, but the stream breaks off after the parts (the
 * last piece is a PART): the load fails with the slot's buffer open.
 */
static void seed_large_cut(const char *name, uint32_t size, uint8_t seed)
{
    Src s;

    src_start(&s);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(PNG), size, seed);
    host_grab(&s, VDC_CLIPBOARD_SELECTION_PRIMARY, BIT(TEXT), 200, 18);
    save_setup(&s);
    save_part(&s, 4096);
    save_part(&s, 4096);
    src_write_seed(&s, name, FRAME_EACH);
}

/* A plain save with the live section registered: no live phase at all. */
static void seed_no_live_phase(void)
{
    VdcMigrationStream *st = vdc_migration_stream_new_buffer();
    GError *err = NULL;
    Src s;

    src_start(&s);
    guest_owns(&s, VDC_CLIPBOARD_SELECTION_CLIPBOARD, 100, 19);
    vdc_chardev_set_running(s.seed.dev, false);
    keep(&s, st, vdc_migration_save(s.reg, st, &err), err, "save");
    src_write_seed(&s, "no-live-phase", FRAME_EACH);
}

int main(int argc, char **argv)
{
    g_set_prgname("make-live-seeds");
    if (argc > 1) {
        outdir = argv[1];
    }
    g_mkdir_with_parents(outdir, 0755);
    seed_empty();
    seed_end_only();
    seed_host_slots("host-slots", 1024, FRAME_EACH);
    seed_host_slots("host-slots-small-parts", 300, FRAME_EACH);
    seed_host_slots("host-slots-live-joined", 1024, FRAME_LIVE_JOINED);
    seed_host_slots("host-slots-one-piece", 1024, FRAME_ONE);
    seed_restart();
    seed_change_in_end();
    seed_drop();
    seed_guest("guest-owned", false, 700);
    seed_guest("guest-and-host", true, 500);
    seed_guest_regrab();
    seed_large_dropped("large-dropped", 5u << 20, 16);
    seed_large_cut("large-cut", 5u << 20, 17);
    seed_large_dropped("large-file-dropped", (6u << 20) - 1, 20);
    seed_large_cut("large-file-cut", (6u << 20) - 1, 21);
    seed_no_live_phase();
    seed_by_reference();
    return 0;
}
