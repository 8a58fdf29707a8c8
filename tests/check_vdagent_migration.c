/*
 * check_vdagent_migration.c: the device's "vdagent" migration section
 * (vdagent/vdagent-vmstate.c) through the savevm container (migration/).
 *
 * The pattern of every test: a source device connected to the scripted
 * guest agent (tests/guest-agent.c) is driven into a state, stopped and
 * saved into a memory stream; a destination device with the same config
 * (stopped, as an incoming VM is) loads it; its next guest open must be a
 * no-op (Q19: no caps request, no reset); it runs; then the SAME guest
 * agent continues against it and must see no reconnect, no second caps
 * request, no protocol error and no discarded grab.
 *
 * Guest input is built with the guest agent's encoder and the device's
 * output decoded by its decoder, never by the library.  Expected streams
 * are written here byte by byte (the idle one as a literal, the others
 * with a small independent builder, Spec below), and the expected vmdesc
 * JSON of each canonical state is tests/data/vdagent-desc-<state>.json,
 * found through $TEST_DATA_DIR (default "tests/data").
 *
 * Host-side clipboard peers live on each device's private hub.  A host
 * peer that owned a selection on the source is "restored" on the
 * destination with clipboard_saved_collect()/clipboard_saved_restore()
 * (a host peer migrating its own state), or re-created after the run.
 *
 * Rows of shared/reference/bug-history.md tested here: Q7 (save with an
 * owned clipboard and a pending request: answered, serials continue), Q19
 * (open after load is not a reconnect), Q21 (versions), R3 (migration
 * mid-chunk, at every byte), R4 (n and selection bounds), R5 (output
 * length bounded), S18 (every parser length checked).
 */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_suites.h"
#include "clipboard/clipboard.h"
#include "clipboard/clipboard-vmstate.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "input/input.h"
#include "migration/migration-stream.h"
#include "migration/savevm.h"
#include "vdagent/vdagent.h"
#include "migration/vmstate.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

#define CAP(c) (1u << VD_AGENT_CAP_##c)
#define N_SEL CLIPBOARD_SELECTION__COUNT
#define N_TYPES CLIPBOARD_TYPE__COUNT
#define BIT(t) (1u << CLIPBOARD_TYPE_##t)

/* Most unanswered guest requests per selection and type (the device's). */
#define MAX_PENDING 16

/* ---- bytes ------------------------------------------------------------- */

static void app_u8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

/* A counted string (u8 length, bytes), as idstrs and subsection names. */
static void app_str8(GByteArray *b, const char *s)
{
    app_u8(b, (uint8_t)strlen(s));
    test_append_bytes(b, s, strlen(s));
}

/* @n bytes of a pattern that differs with @seed and never repeats fast. */
static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = g_malloc(n ? n : 1);
    uint32_t x = 0x9e3779b9u * (seed + 1);

    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = x >> 24;
    }
    return p;
}

static GByteArray *bytes_copy(const uint8_t *p, size_t n)
{
    GByteArray *b = g_byte_array_sized_new(n);

    test_append_bytes(b, p, n);
    return b;
}

/* ---- the frontend (tests/test-frontend.h) and host peers --------------- */

/* Mouse and clipboard on, no MONITORS_CONFIG (less unrelated traffic). */
static VDAgentConfig mig_config(void)
{
    return fe_config(true, true, false);
}

/* Attach @ga, open the port, let the agent answer the caps request. */
static void mig_connect(TestFe *p, GuestAgent *ga)
{
    fe_attach(p, ga);
    fe_open(p);
    ck_assert(vdagent_chardev_connected(p->dev));
    guest_agent_clear_received(ga);
}

static GuestAgent *real_agent(void)
{
    uint32_t caps = REAL_AGENT_CAPS;

    return guest_agent_new(&caps, 1);
}

/* The agent is happy: no protocol error, nothing it would discard. */
static void ck_agent_clean(const GuestAgent *ga)
{
    ck_assert_msg(guest_agent_errors(ga) == 0, "agent error: %s",
                  guest_agent_last_error(ga));
    ck_assert_msg(guest_agent_ignored(ga) == 0, "agent ignored: %s",
                  guest_agent_last_ignored(ga));
}

/*
 * The host peer migrating its own state: a peer on @dst's hub owning what
 * @src owned (serials, types, data), knowing what @src knew.  Done while
 * @dst is stopped, before its load, as an emulator restores its devices.
 */
static HostPeer *hp_restore(HostPeer *src, TestFe *dst)
{
    ClipboardSaved saved;
    HostPeer *hp = fe_peer_new(dst);

    memset(&saved, 0, sizeof(saved));
    memcpy(hp->view, src->view, sizeof(hp->view));
    clipboard_saved_collect(&saved, &src->peer);
    clipboard_saved_restore(&saved, hp->hub, &hp->peer);
    return hp;
}

/* ---- migration --------------------------------------------------------- */

/* Save @dev alone (instance 0) into memory. */
static GByteArray *save_dev(VDAgentChardev *dev)
{
    g_autoptr(MigrationRegistry) reg = migration_registry_new();
    g_autoptr(MigrationStream) s = migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    const uint8_t *p;
    size_t n;

    ck_assert(vdagent_chardev_register_migration(dev, reg, 0, NULL));
    ck_assert_msg(migration_save(reg, s, &err), "save failed: %s",
                  err ? err->message : "(no error)");
    ck_assert_ptr_null(err);
    p = migration_stream_data(s, &n);
    return bytes_copy(p, n);
}

static bool load_dev(VDAgentChardev *dev, const uint8_t *p, size_t n,
                     GError **errp)
{
    g_autoptr(MigrationRegistry) reg = migration_registry_new();
    g_autoptr(MigrationStream) s = migration_stream_new_reader(p, n);

    ck_assert(vdagent_chardev_register_migration(dev, reg, 0, NULL));
    return migration_load(reg, s, errp);
}

/* A destination for @src: same config, stopped (an incoming VM). */
static TestFe *dest_new(const TestFe *src)
{
    TestFe *dst = fe_new_detached(&src->config);

    vdagent_chardev_set_running(dst->dev, false);
    return dst;
}

static void dest_load_ok(TestFe *dst, const GByteArray *stream)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(load_dev(dst->dev, stream->data, stream->len, &err),
                  "load failed: %s", err ? err->message : "(no error)");
    ck_assert_ptr_null(err);
}

/*
 * After a successful load: the guest's open is not a reconnect and
 * nothing reaches the guest before the run; then attach @ga and run.
 */
static void dest_resume(TestFe *dst, GuestAgent *ga)
{
    uint64_t pending = vdagent_chardev_pending_output(dst->dev);

    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert(vdagent_chardev_connected(dst->dev));
    /* Q19: no caps request queued, nothing reset. */
    vdagent_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), pending);
    ck_assert(vdagent_chardev_connected(dst->dev));
    vdagent_chardev_accept_input(dst->dev);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert_str_eq(dst->events->str, "");
    dst->ga = ga;
    vdagent_chardev_set_running(dst->dev, true);
}

/*
 * Stop @src, save it, load it into a new destination (host peers of @src
 * restored there first when @restore_peers) and resume it with @src's
 * agent.  @src stays stopped and no longer feeds the agent.
 */
static TestFe *migrate(TestFe *src, bool restore_peers)
{
    g_autoptr(GByteArray) stream = NULL;
    GuestAgent *ga = src->ga;
    TestFe *dst;

    vdagent_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    if (restore_peers) {
        for (guint i = 0; i < src->peers->len; i++) {
            hp_restore(g_ptr_array_index(src->peers, i), dst);
        }
    }
    dest_load_ok(dst, stream);
    dest_resume(dst, ga);
    return dst;
}

/* ---- fresh devices ----------------------------------------------------- */

/* A device in the state of a new one (no I/O has happened on it). */
static void ck_fresh(TestFe *p)
{
    VDAgentCounters c = fe_counters(p), zero;
    VDAgentMouse m;
    size_t n = 99;

    memset(&zero, 0, sizeof(zero));
    ck_assert(!vdagent_chardev_connected(p->dev));
    vdagent_chardev_guest_caps(p->dev, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(vdagent_chardev_pending_output(p->dev), 0);
    vdagent_chardev_mouse_state(p->dev, &m);
    ck_assert_uint_eq(m.x | m.y | m.buttons | m.display_id, 0);
    ck_assert_mem_eq(&c, &zero, sizeof(c));
    /* nothing owned: no info, or one released (owner-less, no type) */
    for (unsigned s = 0; s < N_SEL; s++) {
        ClipboardInfo *info = clipboard_hub_info(p->hub, s);

        ck_assert(!info || (!info->owner && !clipboard_info_types(info)));
    }
    ck_assert_uint_eq(p->wire->len, 0);
}

/*
 * The device works as a new one: open sends exactly one caps request
 * (request=1); a new agent connects and does a clipboard round trip in
 * each direction.
 */
static void ck_works_fresh(TestFe *p)
{
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp;
    GBytes *got;

    vdagent_chardev_set_running(p->dev, true);
    g_byte_array_set_size(p->wire, 0);
    p->ga = ga;
    vdagent_chardev_set_guest_open(p->dev, true);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(test_le32(m->data), 1);
    ck_assert_uint_eq(test_le32(m->data + 4), vdagent_chardev_host_caps(p->dev));
    fe_pump(p);
    ck_assert(vdagent_chardev_connected(p->dev));
    ck_assert(vdagent_chardev_guest_has_cap(p->dev,
                                            VD_AGENT_CAP_CLIPBOARD_BY_DEMAND));
    guest_agent_clear_received(ga);

    /* guest -> host */
    hp = fe_peer_new(p);
    guest_agent_send_grab(ga, 0, &text, 1);
    fe_pump(p);
    ck_assert_int_eq(hp->view[0].owner, 'g');
    ck_assert(hp_request(hp, 0, CLIPBOARD_TYPE_TEXT));
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_REQUEST, 0);
    ck_assert_ptr_nonnull(m);
    guest_agent_send_clipboard(ga, 0, text, "round trip", 10);
    fe_pump(p);
    got = hp_data(hp, 0, CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 10);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), "round trip", 10);

    /* host -> guest */
    guest_agent_clear_received(ga);
    hp_grab_data(hp, 1, CLIPBOARD_TYPE_TEXT, "from host", 9);
    ck_assert_ptr_nonnull(guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0));
    guest_agent_send_request(ga, 1, text);
    fe_pump(p);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, 4 + 4 + 9);
    ck_assert_mem_eq(m->data + 8, "from host", 9);
    ck_agent_clean(ga);
    p->ga = NULL;
}

/* ---- a stream builder, independent of the engine ----------------------- */

/*
 * Everything a "vdagent" section can carry, field by field, written as the
 * layout says (SPEC section 4, QEMU's savevm format): the three fields,
 * then each subsection present in table order, the footer, EOF and an
 * optional vmdesc.  Values are written as given, so a test can write any
 * corruption; counts and lengths have a separate "bytes actually written"
 * where a lie needs one.
 */
typedef struct SpecInfo {
    uint32_t selection;
    uint8_t has_serial;          /* the raw byte */
    uint32_t serial;
    uint32_t types;
    uint32_t len[N_TYPES];
    const uint8_t *data[N_TYPES];/* len bytes (NULL: a pattern) */
    bool no_data;                /* lengths only, no bytes (a lie) */
} SpecInfo;

typedef struct Spec {
    uint32_t version;            /* the section's version */
    uint32_t caps;
    uint32_t last_serial[N_SEL];
    uint32_t cbpending[N_SEL];
    /* vdagent/session */
    bool session;
    uint8_t connected, reconnect;
    int32_t gmc;                 /* guest_max_clipboard */
    uint32_t n_caps;
    uint32_t words[VDAGENT_MAX_CAPS_WORDS];
    /* vdagent/parser */
    bool parser;
    uint8_t chdr[8];
    uint32_t chdr_have, chunk_left;
    uint8_t chunk_skip;
    uint32_t msg;
    uint8_t mhdr[20];
    uint32_t mhdr_have, msg_left, len;
    const uint8_t *body;         /* len bytes */
    /* vdagent/output */
    bool output;
    uint32_t out_len;
    const uint8_t *out;
    uint32_t out_written;        /* bytes written (normally out_len) */
    /* vdagent/mouse */
    bool mouse;
    uint32_t mouse_x, mouse_y, mouse_buttons, mouse_display;
    /* vdagent/clipboard */
    bool clipboard;
    uint32_t n;
    SpecInfo infos[4];
    uint32_t host_pending[N_SEL];
    uint8_t cbpending_n[N_SEL * N_TYPES];
    uint32_t host_announced;     /* selections the guest holds host grabs of */
    /* extras for corruptions */
    const char *extra_sub;       /* another subsection, after the others */
    bool no_footer;
    const char *vmdesc;          /* NULL: none */
} Spec;

static void spec_subsection(GByteArray *b, const char *name)
{
    app_u8(b, 0x05);
    app_str8(b, name);
    test_append_be32(b, 1);
}

static GByteArray *spec_stream(const Spec *sp)
{
    GByteArray *b = g_byte_array_new();
    unsigned i, t;

    test_append_bytes(b, "QEVM", 4);
    test_append_be32(b, 3);
    app_u8(b, 0x04);                        /* FULL section */
    test_append_be32(b, 0);                         /* section id */
    app_str8(b, "vdagent");
    test_append_be32(b, 0);                         /* instance */
    test_append_be32(b, sp->version);

    test_append_be32(b, sp->caps);
    for (i = 0; i < N_SEL; i++) {
        test_append_be32(b, sp->last_serial[i]);
    }
    for (i = 0; i < N_SEL; i++) {
        test_append_be32(b, sp->cbpending[i]);
    }

    if (sp->session) {
        spec_subsection(b, "vdagent/session");
        app_u8(b, sp->connected);
        app_u8(b, sp->reconnect);
        test_append_be32(b, (uint32_t)sp->gmc);
        test_append_be32(b, sp->n_caps);
        for (i = 0; i < MIN(sp->n_caps, VDAGENT_MAX_CAPS_WORDS); i++) {
            test_append_be32(b, sp->words[i]);
        }
    }
    if (sp->parser) {
        spec_subsection(b, "vdagent/parser");
        test_append_bytes(b, sp->chdr, 8);
        test_append_be32(b, sp->chdr_have);
        test_append_be32(b, sp->chunk_left);
        app_u8(b, sp->chunk_skip);
        test_append_be32(b, sp->msg);
        test_append_bytes(b, sp->mhdr, 20);
        test_append_be32(b, sp->mhdr_have);
        test_append_be32(b, sp->msg_left);
        test_append_be32(b, sp->len);
        test_append_bytes(b, sp->body, sp->body ? sp->len : 0);
    }
    if (sp->output) {
        spec_subsection(b, "vdagent/output");
        test_append_be32(b, sp->out_len);
        test_append_bytes(b, sp->out, sp->out_written);
    }
    if (sp->mouse) {
        spec_subsection(b, "vdagent/mouse");
        test_append_be32(b, sp->mouse_x);
        test_append_be32(b, sp->mouse_y);
        test_append_be32(b, sp->mouse_buttons);
        test_append_be32(b, sp->mouse_display);
    }
    if (sp->clipboard) {
        spec_subsection(b, "vdagent/clipboard");
        test_append_be32(b, sp->n);
        for (i = 0; i < MIN(sp->n, 4u); i++) {
            const SpecInfo *in = &sp->infos[i];

            test_append_be32(b, in->selection);
            app_u8(b, in->has_serial);
            test_append_be32(b, in->serial);
            test_append_be32(b, in->types);
            for (t = 0; t < N_TYPES; t++) {
                test_append_be32(b, in->len[t]);
                if (in->no_data) {
                    continue;
                }
                if (in->len[t] && in->data[t]) {
                    test_append_bytes(b, in->data[t], in->len[t]);
                } else if (in->len[t]) {
                    g_autofree uint8_t *p = pattern(in->len[t], i * 8 + t);

                    test_append_bytes(b, p, in->len[t]);
                }
            }
        }
        for (i = 0; i < N_SEL; i++) {
            test_append_be32(b, sp->host_pending[i]);
        }
        test_append_bytes(b, sp->cbpending_n, sizeof(sp->cbpending_n));
        test_append_be32(b, sp->host_announced);
    }
    if (sp->extra_sub) {
        spec_subsection(b, sp->extra_sub);
        test_append_be32(b, 0);
    }
    if (!sp->no_footer) {
        app_u8(b, 0x7e);
        test_append_be32(b, 0);
    }
    app_u8(b, 0x00);                        /* EOF */
    if (sp->vmdesc) {
        app_u8(b, 0x06);
        test_append_be32(b, strlen(sp->vmdesc));
        test_append_bytes(b, sp->vmdesc, strlen(sp->vmdesc));
    }
    return b;
}

/* Offset of the EOF byte in a saved stream of one section with a vmdesc. */
static size_t eof_offset(const GByteArray *s)
{
    size_t json_len;

    ck_assert_uint_gt(s->len, 5);
    /* ... 0x00 0x06 be32 len json */
    for (size_t i = s->len - 5; i > 0; i--) {
        if (s->data[i - 1] == 0x00 && s->data[i] == 0x06 &&
            test_be32(s->data + i + 1) == s->len - i - 5) {
            json_len = s->len - i - 5;
            ck_assert_uint_gt(json_len, 0);
            return i - 1;
        }
    }
    ck_abort_msg("no vmdesc in the stream");
    return 0;
}

/* The idle connected state of the real agent, as a Spec. */
static Spec spec_idle(void)
{
    Spec sp;

    memset(&sp, 0, sizeof(sp));
    sp.version = 1;
    sp.caps = REAL_AGENT_CAPS;
    sp.session = true;
    sp.connected = 1;
    sp.gmc = -1;
    sp.n_caps = 1;
    sp.words[0] = REAL_AGENT_CAPS;
    return sp;
}

/* ---- canonical states -------------------------------------------------- */

/*
 * The idle connected device, written out: header, section, the 28 bytes
 * of the fields, the session subsection, footer and EOF.  The vmdesc
 * follows (0x06, be32 length, the JSON of vdagent-desc-idle.json).
 */
static const uint8_t idle_stream[] = {
    'Q', 'E', 'V', 'M', 0x00, 0x00, 0x00, 0x03,     /*  0 magic, version 3 */
    0x04, 0x00, 0x00, 0x00, 0x00,                   /*  8 FULL, section 0 */
    7, 'v', 'd', 'a', 'g', 'e', 'n', 't',           /* 13 idstr */
    0x00, 0x00, 0x00, 0x00,                         /* 21 instance 0 */
    0x00, 0x00, 0x00, 0x01,                         /* 25 version 1 */
    0x00, 0x03, 0x8d, 0xe7,                         /* 29 caps */
    0x00, 0x00, 0x00, 0x00,                         /* 33 last_serial[0] */
    0x00, 0x00, 0x00, 0x00,                         /*    last_serial[1] */
    0x00, 0x00, 0x00, 0x00,                         /*    last_serial[2] */
    0x00, 0x00, 0x00, 0x00,                         /* 45 cbpending[0] */
    0x00, 0x00, 0x00, 0x00,                         /*    cbpending[1] */
    0x00, 0x00, 0x00, 0x00,                         /*    cbpending[2] */
    0x05, 15, 'v', 'd', 'a', 'g', 'e', 'n', 't',    /* 57 subsection */
    '/', 's', 'e', 's', 's', 'i', 'o', 'n',
    0x00, 0x00, 0x00, 0x01,                         /* 74 version 1 */
    0x01,                                           /* 78 connected */
    0x00,                                           /* 79 reconnect_pending */
    0xff, 0xff, 0xff, 0xff,                         /* 80 guest_max_clipboard */
    0x00, 0x00, 0x00, 0x01,                         /* 84 n_caps */
    0x00, 0x03, 0x8d, 0xe7,                         /* 88 caps_words[0] */
    0x7e, 0x00, 0x00, 0x00, 0x00,                   /* 92 footer, section 0 */
    0x00,                                           /* 97 EOF */
};                                                  /* 98: 0x06 ... */

static const uint8_t hello[5] = { 'h', 'e', 'l', 'l', 'o' };

/* The first 10 of the 28 body bytes of a PNG reply in the full state. */
static const uint8_t full_png[20] = {
    0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0,
    0, 0x0d, 'I', 'H', 'D', 'R', 0, 0, 0, 1,
};
static const uint8_t full_partial_body[10] = {
    0x00, 0x00, 0x00, 0x00,                         /* selection 0 */
    0x02, 0x00, 0x00, 0x00,                         /* IMAGE_PNG */
    0x89, 'P',
};
/* The REQUEST for PNG the frontend has not taken, as the wire has it. */
static const uint8_t full_out[36] = {
    0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, /* chunk: port 1, 28 */
    0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, /* protocol 1, REQUEST */
    0, 0, 0, 0, 0, 0, 0, 0,                         /* opaque */
    0x08, 0x00, 0x00, 0x00,                         /* size 8 */
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, /* selection 0, PNG */
};

/* Pointer values that land on exact pixels of the 1024x768 head. */
#define ABS_X_100 3204
#define ABS_Y_200 8545

typedef struct Canon {
    TestFe *src;
    GuestAgent *ga;
    HostPeer *hp;
    GByteArray *rest;            /* guest bytes not pushed yet */
} Canon;

static void canon_start(Canon *c)
{
    VDAgentConfig config = mig_config();

    c->src = fe_new_detached(&config);
    c->ga = real_agent();
    mig_connect(c->src, c->ga);
    c->hp = fe_peer_new(c->src);
    c->rest = g_byte_array_new();
}

static void canon_stop(Canon *c)
{
    fe_free(c->src);
    guest_agent_free(c->ga);
    g_byte_array_unref(c->rest);
}

static void drive_idle(Canon *c)
{
    (void)c;
}

/* The guest owns CLIPBOARD (text) and answered the host's request. */
static void drive_clipboard(Canon *c)
{
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;

    guest_agent_send_grab(c->ga, 0, &text, 1);
    fe_pump(c->src);
    ck_assert(hp_request(c->hp, 0, CLIPBOARD_TYPE_TEXT));
    ck_assert_ptr_nonnull(guest_agent_find(c->ga, VD_AGENT_CLIPBOARD_REQUEST, 0));
    guest_agent_send_clipboard(c->ga, 0, text, hello, sizeof(hello));
    fe_pump(c->src);
    ck_assert_ptr_nonnull(hp_data(c->hp, 0, CLIPBOARD_TYPE_TEXT));
}

/*
 * Every subsection: the guest owns CLIPBOARD (text known, PNG asked by
 * the host and half sent back), waits for PRIMARY text from the host, the
 * pointer is at (100, 200) with the left button down, and the REQUEST for
 * PNG waits in the output (the frontend takes nothing).
 */
static void drive_full(Canon *c)
{
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    InputRouter *r = vdagent_chardev_input_router(c->src->dev);
    g_autoptr(GBytes) out = NULL;

    hp_grab(c->hp, 1, BIT(TEXT));
    guest_agent_send_grab(c->ga, 0, types, 2);
    fe_pump(c->src);
    ck_assert(hp_request(c->hp, 0, CLIPBOARD_TYPE_TEXT));
    guest_agent_send_clipboard(c->ga, 0, types[0], hello, sizeof(hello));
    guest_agent_send_request(c->ga, 1, types[0]);
    fe_pump(c->src);
    ck_assert_uint_eq(c->hp->requests->len, 1);

    ck_assert(input_send_abs(r, 0, INPUT_AXIS_X, ABS_X_100));
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_Y, ABS_Y_200));
    ck_assert(input_send_btn(r, 0, INPUT_BUTTON_LEFT, true));
    input_event_sync(r);
    ck_assert_ptr_nonnull(guest_agent_find(c->ga, VD_AGENT_MOUSE_STATE, 0));

    c->src->unlimited = false;
    c->src->budget = 0;
    ck_assert(hp_request(c->hp, 0, CLIPBOARD_TYPE_PNG));
    ck_assert_uint_eq(vdagent_chardev_pending_output(c->src->dev),
                      sizeof(full_out));

    guest_agent_send_clipboard(c->ga, 0, types[1], full_png, sizeof(full_png));
    out = guest_agent_take_output(c->ga);
    ck_assert_uint_eq(g_bytes_get_size(out), 8 + 20 + 28);
    fe_push(c->src, g_bytes_get_data(out, NULL), 8 + 20 + 10);
    test_append_bytes(c->rest, (const uint8_t *)g_bytes_get_data(out, NULL) + 38, 18);
}

static Spec spec_clipboard(void)
{
    Spec sp = spec_idle();

    sp.last_serial[0] = 1;
    sp.clipboard = true;
    sp.n = 1;
    sp.infos[0] = (SpecInfo){
        .selection = 0, .has_serial = 1, .serial = 0, .types = BIT(TEXT),
        .len = { [CLIPBOARD_TYPE_TEXT] = sizeof(hello) },
        .data = { [CLIPBOARD_TYPE_TEXT] = hello },
    };
    return sp;
}

static Spec spec_full(void)
{
    Spec sp = spec_clipboard();
    static const uint8_t chdr[8] = { 1, 0, 0, 0, 48, 0, 0, 0 };
    static const uint8_t mhdr[20] = {
        1, 0, 0, 0, VD_AGENT_CLIPBOARD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        28, 0, 0, 0,
    };

    sp.last_serial[1] = 1;
    sp.cbpending[1] = BIT(TEXT);
    sp.parser = true;
    memcpy(sp.chdr, chdr, 8);
    sp.chdr_have = 8;
    sp.chunk_left = 18;
    sp.msg = 2;                              /* BODY */
    memcpy(sp.mhdr, mhdr, 20);
    sp.mhdr_have = 20;
    sp.msg_left = 18;
    sp.len = 10;
    sp.body = full_partial_body;
    sp.output = true;
    sp.out_len = sp.out_written = sizeof(full_out);
    sp.out = full_out;
    sp.mouse = true;
    sp.mouse_x = 100;
    sp.mouse_y = 200;
    sp.mouse_buttons = VD_AGENT_LBUTTON_MASK;
    sp.infos[0].types = BIT(TEXT) | BIT(PNG);
    sp.host_pending[0] = BIT(PNG);
    sp.cbpending_n[1 * N_TYPES + CLIPBOARD_TYPE_TEXT] = 1;
    /* the guest holds the host's grab of PRIMARY */
    sp.host_announced = 1u << 1;
    return sp;
}

static const struct {
    const char *name;
    void (*drive)(Canon *c);
    Spec (*spec)(void);
} canon_states[] = {
    { "idle", drive_idle, spec_idle },
    { "clipboard", drive_clipboard, spec_clipboard },
    { "full", drive_full, spec_full },
};

/* ---- vmdesc ------------------------------------------------------------ */

static char *data_path(const char *name)
{
    const char *dir = g_getenv("TEST_DATA_DIR");

    return g_build_filename(dir && *dir ? dir : TEST_DATA_DIR, name, NULL);
}

static json_object *expected_desc(const char *state)
{
    g_autofree char *name = g_strdup_printf("vdagent-desc-%s.json", state);
    g_autofree char *path = data_path(name);
    json_object *obj = json_object_from_file(path);

    ck_assert_msg(obj != NULL, "cannot read %s (set TEST_DATA_DIR)", path);
    return obj;
}

static const char *plain(json_object *obj)
{
    return json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/*
 * Would QEMU's analyze-migration.py find a vmdesc of length @len?  It
 * takes the last NUL of the file, then the first '{' after it, and wants
 * the 0x06 marker five bytes before.
 */
static bool analyzer_finds(uint32_t len)
{
    uint8_t tail[7] = { 0x00, 0x06, len >> 24, len >> 16, len >> 8, len, '{' };
    int last_nul = -1, brace = -1, i;

    for (i = 0; i < 7; i++) {
        if (tail[i] == 0) {
            last_nul = i;
        }
    }
    for (i = last_nul + 1; i < 7; i++) {
        if (tail[i] == '{') {
            brace = i;
            break;
        }
    }
    return brace == 6 && tail[brace - 5] == 0x06;
}

/* 0x06, be32 length, the JSON of @state's file, serialized and padded. */
static void app_vmdesc(GByteArray *b, const char *state)
{
    json_object *desc = expected_desc(state);
    g_autoptr(GString) json = g_string_new(plain(desc));

    while (!analyzer_finds(json->len)) {
        g_string_insert_c(json, json->len - 1, ' ');
    }
    app_u8(b, 0x06);
    test_append_be32(b, json->len);
    test_append_bytes(b, json->str, json->len);
    json_object_put(desc);
}

/* The vmdesc JSON of a saved stream, parsed. */
static json_object *stream_desc(const GByteArray *s)
{
    size_t eof = eof_offset(s);
    g_autofree char *text = g_strndup((const char *)s->data + eof + 6,
                                      s->len - eof - 6);

    return json_tokener_parse(text);
}

/* ---- tests: byte-exact round trips of canonical states ----------------- */

/*
 * Drive a source into the state, save: the stream is exactly the one
 * written here, with the vmdesc of the file.  A destination loads it and
 * saves exactly the same bytes again; then the session continues.
 */
START_TEST(test_canonical_bytes)
{
    Spec sp = canon_states[_i].spec();
    const char *name = canon_states[_i].name;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(GByteArray) want = spec_stream(&sp);
    g_autoptr(GByteArray) again = NULL;
    json_object *desc, *file;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    Canon c;
    TestFe *dst;

    if (_i == 0) {
        /* The builder writes the hand-written idle stream. */
        ck_assert_uint_eq(want->len, sizeof(idle_stream));
        ck_assert_mem_eq(want->data, idle_stream, sizeof(idle_stream));
    }
    app_vmdesc(want, name);

    canon_start(&c);
    canon_states[_i].drive(&c);
    vdagent_chardev_set_running(c.src->dev, false);
    got = save_dev(c.src->dev);

    desc = stream_desc(got);
    file = expected_desc(name);
    ck_assert_ptr_nonnull(desc);
    ck_assert_msg(json_object_equal(desc, file), "%s vmdesc: %s", name,
                  plain(desc));
    ck_assert_str_eq(plain(desc), plain(file));
    json_object_put(desc);
    json_object_put(file);

    ck_assert_uint_eq(got->len, want->len);
    for (size_t i = 0; i < got->len; i++) {
        ck_assert_msg(got->data[i] == want->data[i],
                      "%s: byte %zu is 0x%02x, expected 0x%02x", name, i,
                      got->data[i], want->data[i]);
    }

    /* save(load(x)) == x */
    dst = dest_new(c.src);
    dest_load_ok(dst, got);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, got->len);
    ck_assert_mem_eq(again->data, got->data, got->len);

    /* The session continues: no caps, the agent's next grab is accepted. */
    c.src->ga = NULL;
    dest_resume(dst, c.ga);
    ck_assert_ptr_null(guest_agent_find(c.ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    fe_push(dst, c.rest->data, c.rest->len);
    guest_agent_send_grab(c.ga, 2, &text, 1);
    fe_pump(dst);
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_STALE_SERIAL], 0);
    ck_assert_ptr_nonnull(clipboard_hub_info(dst->hub, 2));
    ck_assert_str_eq(clipboard_hub_info(dst->hub, 2)->owner->name,
                     "vdagent");
    ck_agent_clean(c.ga);
    ck_assert_str_eq(dst->events->str, "");
    fe_free(dst);
    canon_stop(&c);
}
END_TEST

/* The hand-built streams load as they are (no vmdesc, and with one). */
START_TEST(test_canonical_specs_load)
{
    Spec sp = canon_states[_i / 2].spec();
    VDAgentConfig config = mig_config();
    g_autoptr(GByteArray) s = NULL;
    TestFe *dst = fe_new_detached(&config);
    g_autoptr(GError) err = NULL;

    if (_i % 2) {
        sp.vmdesc = "{\"page_size\":4096,\"devices\":[]}";
    }
    s = spec_stream(&sp);
    vdagent_chardev_set_running(dst->dev, false);
    ck_assert_msg(load_dev(dst->dev, s->data, s->len, &err), "%s: %s",
                  canon_states[_i / 2].name, err ? err->message : "");
    ck_assert(vdagent_chardev_connected(dst->dev));
    fe_free(dst);
}
END_TEST

/* ---- tests: the RFC's layout ------------------------------------------- */

/* Appends the agent's pending output to @out. */
static void take_into(GByteArray *out, GuestAgent *ga)
{
    g_autoptr(GBytes) b = guest_agent_take_output(ga);

    test_append_bytes(out, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* Tell @ga the host's caps (request=0: its serials stay), by hand. */
static void ga_learn_host_caps(GuestAgent *ga, uint32_t host_caps)
{
    g_autoptr(GByteArray) w = g_byte_array_new();

    test_append_le32(w, VDP_CLIENT_PORT);
    test_append_le32(w, 20 + 8);
    test_append_le32(w, VD_AGENT_PROTOCOL);
    test_append_le32(w, VD_AGENT_ANNOUNCE_CAPABILITIES);
    test_append_le32(w, 0);
    test_append_le32(w, 0);
    test_append_le32(w, 8);
    test_append_le32(w, 0);                          /* request */
    test_append_le32(w, host_caps);
    guest_agent_feed(ga, w->data, w->len);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    guest_agent_clear_received(ga);
}

/* Advance @ga's grab counter of @sel to @serial (grabs go nowhere). */
static void ga_advance_serial(GuestAgent *ga, unsigned sel, uint32_t serial)
{
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;

    while (guest_agent_serial(ga, sel) < serial) {
        guest_agent_send_grab(ga, sel, &text, 1);
    }
    g_bytes_unref(guest_agent_take_output(ga));
    ck_assert_uint_eq(guest_agent_serial(ga, sel), serial);
}

/*
 * A stream in the RFC's layout (caps, last_serial x3, cbpending x3, no
 * subsection), with no vmdesc (_i 0) or a minimal one (_i 1), loads: the
 * destination has the caps and serials, a grab below last_serial is
 * stale, one at it is accepted, and the pending bits are answered empty
 * once running (nobody owns those selections).
 */
START_TEST(test_rfc_layout)
{
    VDAgentConfig config = mig_config();
    TestFe *dst = fe_new_detached(&config);
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) stale = g_byte_array_new();
    g_autoptr(GByteArray) body = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const uint32_t *caps;
    const GuestAgentMsg *m;
    ClipboardInfo *info;
    HostPeer *hp;
    size_t n = 0;
    Spec sp;

    memset(&sp, 0, sizeof(sp));
    sp.version = 1;
    sp.caps = REAL_AGENT_CAPS;
    sp.last_serial[0] = 5;
    sp.last_serial[1] = 2;
    sp.cbpending[1] = BIT(TEXT);
    sp.cbpending[2] = BIT(TEXT) | BIT(PNG);
    if (_i == 1) {
        sp.vmdesc = "{\"page_size\":4096,\"devices\":[]}";
    }
    stream = spec_stream(&sp);
    /* The section's payload is the RFC's 28 bytes, then the footer. */
    ck_assert_uint_eq(stream->data[29 + 28], 0x7e);

    ga_learn_host_caps(ga, vdagent_chardev_host_caps(dst->dev));
    ga_advance_serial(ga, 0, 5);
    ga_advance_serial(ga, 1, 2);

    vdagent_chardev_set_running(dst->dev, false);
    ck_assert_msg(load_dev(dst->dev, stream->data, stream->len, &err),
                  "RFC-layout stream refused: %s", err ? err->message : "");
    ck_assert(vdagent_chardev_connected(dst->dev));
    caps = vdagent_chardev_guest_caps(dst->dev, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(caps[0], REAL_AGENT_CAPS);
    dest_resume(dst, ga);

    /* The pending requests, answered empty, in selection and type order. */
    ck_assert_uint_eq(guest_agent_n_received(ga), 3);
    m = guest_agent_received(ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 1);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    m = guest_agent_received(ga, 1);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    m = guest_agent_received(ga, 2);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, 8);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_IMAGE_PNG);
    guest_agent_clear_received(ga);

    /* A grab stamped 4 < last_serial 5 lost a race: discarded. */
    test_append_le32(body, 0);                       /* selection CLIPBOARD */
    test_append_le32(body, 4);                       /* serial */
    test_append_le32(body, text);
    guest_wire_message(stale, VD_AGENT_PROTOCOL, VD_AGENT_CLIPBOARD_GRAB, 0,
                       body->len, body->data, body->len);
    fe_push(dst, stale->data, stale->len);
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_STALE_SERIAL], 1);
    ck_assert_ptr_null(clipboard_hub_info(dst->hub, 0));

    /* The agent's own next grab carries 5: accepted. */
    guest_agent_send_grab(ga, 0, &text, 1);
    fe_pump(dst);
    info = clipboard_hub_info(dst->hub, 0);
    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_nonnull(info->owner);
    ck_assert_str_eq(info->owner->name, "vdagent");
    ck_assert(info->has_serial);
    ck_assert_uint_eq(info->serial, 5);
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_STALE_SERIAL], 1);

    /* A host grab of PRIMARY carries 2, the serial the agent expects. */
    hp = fe_peer_new(dst);
    hp_grab(hp, 1, BIT(TEXT));
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->data[0], 1);
    ck_assert_uint_eq(test_le32(m->data + 4), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 3);
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
}
END_TEST

/* ---- tests: migration at every byte of a guest stream ------------------ */

/* Small enough that a 6100-byte message is skipped as OVERSIZE. */
#define SCRIPT_MAX_MESSAGE 6000u
#define SCRIPT_SLICES 16

typedef struct Script {
    TestFe *src, *dst;
    GuestAgent *ga;
    HostPeer *hp;                /* on the source */
    GByteArray *stream;          /* the recorded guest stream */
} Script;

typedef struct ScriptResult {
    uint64_t msgs_in[VD_AGENT_END_MESSAGE];
    uint64_t drops[VDAGENT_DROP__COUNT];
    GString *host;               /* the host peer's log */
    GString *guest;              /* what the agent received */
} ScriptResult;

static void script_result_clear(ScriptResult *r)
{
    if (r->host) {
        g_string_free(r->host, TRUE);
    }
    if (r->guest) {
        g_string_free(r->guest, TRUE);
    }
    memset(r, 0, sizeof(*r));
}

/*
 * A connected source with a host peer, and the agent's recorded stream: a
 * grab of CLIPBOARD (text, png); 3000 bytes of text in 2048-byte chunks
 * (Windows style) with a server-port chunk between its chunks; 5000 bytes
 * of png in one chunk; an oversize message in 2048-byte chunks; a request
 * for PRIMARY (nobody owns it: answered empty); a release; a reply; caps
 * (request=0).  No host-owned selection here: what a destination does
 * with one on resume is test_host_grab_not_repeated's.
 */
static void script_start(Script *sc)
{
    VDAgentConfig config = mig_config();
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    g_autoptr(GByteArray) chunked = g_byte_array_new();
    g_autofree uint8_t *text = pattern(3000, 1);
    g_autofree uint8_t *png = pattern(5000, 2);
    g_autofree uint8_t *big = pattern(6100, 3);
    g_autofree uint8_t *junk = pattern(100, 4);
    g_autoptr(GByteArray) body = g_byte_array_new();
    GByteArray *s;

    config.max_message = SCRIPT_MAX_MESSAGE;
    memset(sc, 0, sizeof(*sc));
    sc->src = fe_new_detached(&config);
    sc->ga = real_agent();
    mig_connect(sc->src, sc->ga);
    sc->hp = fe_peer_new(sc->src);

    s = sc->stream = g_byte_array_new();
    guest_agent_send_grab(sc->ga, 0, types, 2);
    take_into(s, sc->ga);

    test_append_le32(body, 0);                       /* selection CLIPBOARD */
    test_append_le32(body, types[0]);
    test_append_bytes(body, text, 3000);
    guest_wire_message_chunked(chunked, VD_AGENT_CLIPBOARD, body->data,
                               body->len, 2048);
    ck_assert_uint_eq(chunked->len, 8 + 2048 + 8 + (20 + 3008 - 2048));
    test_append_bytes(s, chunked->data, 8 + 2048);
    guest_wire_chunk(s, VDP_SERVER_PORT, 100, junk, 100);
    test_append_bytes(s, chunked->data + 8 + 2048, chunked->len - 8 - 2048);

    guest_agent_send_clipboard(sc->ga, 0, types[1], png, 5000);
    take_into(s, sc->ga);
    guest_wire_message_chunked(s, VD_AGENT_CLIPBOARD, big, 6100, 2048);
    guest_agent_send_request(sc->ga, 1, types[0]);
    guest_agent_send_release(sc->ga, 0);
    guest_agent_send_reply(sc->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    guest_agent_send_caps(sc->ga, false);
    take_into(s, sc->ga);
}

static void script_stop(Script *sc)
{
    fe_free(sc->dst);
    fe_free(sc->src);
    guest_agent_free(sc->ga);
    g_byte_array_unref(sc->stream);
}

static void result_add(ScriptResult *r, const TestFe *p)
{
    VDAgentCounters c = fe_counters(p);

    for (unsigned t = 0; t < VD_AGENT_END_MESSAGE; t++) {
        r->msgs_in[t] += c.msgs_in[t];
    }
    for (unsigned d = 0; d < VDAGENT_DROP__COUNT; d++) {
        r->drops[d] += c.drops[d];
    }
    for (guint i = 0; i < p->peers->len; i++) {
        HostPeer *hp = g_ptr_array_index(p->peers, i);

        g_string_append(r->host, hp->log->str);
    }
}

/*
 * Run the script, migrating after @k bytes of the stream (k > len: no
 * migration), and collect what both devices did.
 */
static void script_run(size_t k, ScriptResult *r, const GByteArray *want)
{
    Script sc;

    script_start(&sc);
    if (want) {
        ck_assert_uint_eq(sc.stream->len, want->len);
        ck_assert_mem_eq(sc.stream->data, want->data, want->len);
    }
    memset(r, 0, sizeof(*r));
    r->host = g_string_new(NULL);
    r->guest = g_string_new(NULL);
    if (k > sc.stream->len) {
        fe_push(sc.src, sc.stream->data, sc.stream->len);
    } else {
        g_autoptr(GByteArray) saved = NULL;
        g_autoptr(GError) err = NULL;

        fe_push(sc.src, sc.stream->data, k);
        vdagent_chardev_set_running(sc.src->dev, false);
        saved = save_dev(sc.src->dev);
        sc.dst = dest_new(sc.src);
        hp_restore(sc.hp, sc.dst);
        ck_assert_msg(load_dev(sc.dst->dev, saved->data, saved->len, &err),
                      "k=%zu: load failed: %s", k, err->message);
        dest_resume(sc.dst, sc.ga);
        sc.src->ga = NULL;
        fe_push(sc.dst, sc.stream->data + k, sc.stream->len - k);
        ck_assert_str_eq(sc.dst->events->str, "");
    }
    result_add(r, sc.src);
    if (sc.dst) {
        result_add(r, sc.dst);
    }
    for (size_t i = 0; i < guest_agent_n_received(sc.ga); i++) {
        const GuestAgentMsg *m = guest_agent_received(sc.ga, i);

        g_string_append_printf(r->guest, "%u %u %016" G_GINT64_MODIFIER "x\n",
                               m->type, m->size,
                               test_fnv1a64(TEST_FNV1A64_INIT, m->data,
                                            m->size));
    }
    ck_assert_str_eq(sc.src->events->str, "");
    ck_agent_clean(sc.ga);
    script_stop(&sc);
}

/*
 * For each k: the first k bytes to the source, migrate, the rest to the
 * destination.  The two devices together accept and drop exactly what one
 * device does without a migration, the host peer sees the same clipboard
 * history, and the agent receives the same messages.
 */
START_TEST(test_every_offset)
{
    ScriptResult ref, got;
    g_autoptr(GByteArray) stream = NULL;
    size_t len, from, to;
    Script sc;

    script_start(&sc);
    stream = bytes_copy(sc.stream->data, sc.stream->len);
    script_stop(&sc);
    len = stream->len;
    from = len * _i / SCRIPT_SLICES;
    to = _i == SCRIPT_SLICES - 1 ? len + 1 : len * (_i + 1) / SCRIPT_SLICES;

    script_run(len + 1, &ref, stream);
    /* The script does what it says without a migration. */
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_GRAB], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD], 2);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_REQUEST], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_CLIPBOARD_RELEASE], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_REPLY], 1);
    ck_assert_uint_eq(ref.msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES], 2);
    ck_assert_uint_eq(ref.drops[VDAGENT_DROP_BAD_PORT], 1);
    ck_assert_uint_eq(ref.drops[VDAGENT_DROP_OVERSIZE], 1);
    ck_assert_ptr_nonnull(strstr(ref.host->str, "text:3000:"));
    ck_assert_ptr_nonnull(strstr(ref.host->str, "png:5000:"));

    for (size_t k = from; k < to; k++) {
        script_run(k, &got, stream);
        for (unsigned t = 0; t < VD_AGENT_END_MESSAGE; t++) {
            ck_assert_msg(got.msgs_in[t] == ref.msgs_in[t],
                          "k=%zu: msgs_in[%u] %" G_GUINT64_FORMAT
                          " != %" G_GUINT64_FORMAT, k, t, got.msgs_in[t],
                          ref.msgs_in[t]);
        }
        for (unsigned d = 0; d < VDAGENT_DROP__COUNT; d++) {
            ck_assert_msg(got.drops[d] == ref.drops[d],
                          "k=%zu: drops[%u] %" G_GUINT64_FORMAT
                          " != %" G_GUINT64_FORMAT, k, d, got.drops[d],
                          ref.drops[d]);
        }
        ck_assert_msg(strcmp(got.host->str, ref.host->str) == 0,
                      "k=%zu: host peer saw\n%s\ninstead of\n%s", k,
                      got.host->str, ref.host->str);
        ck_assert_msg(strcmp(got.guest->str, ref.guest->str) == 0,
                      "k=%zu: agent received\n%s\ninstead of\n%s", k,
                      got.guest->str, ref.guest->str);
        script_result_clear(&got);
    }
    script_result_clear(&ref);
}
END_TEST

/*
 * Migration while the reader sits between an OVERSIZE message it skipped
 * and the next chunk header, for each byte of that header: the next
 * message arrives intact on the destination.
 */
START_TEST(test_mid_header_after_oversize)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) w = g_byte_array_new();
    g_autofree uint8_t *big = pattern(SCRIPT_MAX_MESSAGE + 1, 5);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    TestFe *src, *dst;
    size_t at;

    config.max_message = SCRIPT_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    guest_wire_message_chunked(w, VD_AGENT_CLIPBOARD, big,
                               SCRIPT_MAX_MESSAGE + 1, 2048);
    at = w->len + _i;                        /* _i bytes of the next header */
    guest_agent_send_request(ga, 2, text);
    take_into(w, ga);
    fe_push(src, w->data, at);
    ck_assert_uint_eq(fe_counters(src).drops[VDAGENT_DROP_OVERSIZE], 1);
    dst = migrate(src, false);
    fe_push(dst, w->data + at, w->len - at);
    ck_assert_uint_eq(fe_counters(dst).msgs_in[VD_AGENT_CLIPBOARD_REQUEST],
                      1);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- tests: clipboard in flight ---------------------------------------- */

/*
 * The guest asked for text a host peer owns, which has not answered.
 * After the migration the guest gets exactly one CLIPBOARD reply for it:
 * the data, when the destination asks the (restored) host peer again, or
 * empty.  _i 0: the host peer is restored before the load; 1: it is
 * re-created after the run; 2: restored, and it answers the source's
 * request on the source after the save (lost with the source).
 */
START_TEST(test_pending_guest_request)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab(hp, 0, BIT(TEXT));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    guest_agent_clear_received(ga);
    guest_agent_send_request(ga, 0, text);
    fe_pump(src);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    vdagent_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    if (_i == 2) {
        hp_answer(hp, 0, CLIPBOARD_TYPE_TEXT, "late", 4);
    }
    dst = dest_new(src);
    hp2 = _i == 1 ? NULL : hp_restore(hp, dst);
    dest_load_ok(dst, stream);
    dest_resume(dst, ga);
    if (!hp2) {
        hp2 = fe_peer_new(dst);
        hp_grab(hp2, 0, BIT(TEXT));
    }
    /* Whatever the destination asked the host peer, it answers. */
    if (hp2->requests->len) {
        ck_assert_uint_eq(hp2->requests->len, 1);
        hp_answer(hp2, 0, CLIPBOARD_TYPE_TEXT, "from host", 9);
    }
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->data[0], 0);
    ck_assert_uint_eq(test_le32(m->data + 4), text);
    if (m->size != 8 && _i == 2) {
        /* The data the restored peer holds. */
        ck_assert_uint_eq(m->size, 8 + 4);
        ck_assert_mem_eq(m->data + 8, "late", 4);
    } else if (m->size != 8) {
        ck_assert_uint_eq(m->size, 8 + 9);
        ck_assert_mem_eq(m->data + 8, "from host", 9);
    }
    /* The guest asks again and gets the host's data. */
    guest_agent_clear_received(ga);
    if (!hp_data(hp2, 0, CLIPBOARD_TYPE_TEXT)) {
        guint before = hp2->requests->len;

        guest_agent_send_request(ga, 0, text);
        fe_pump(dst);
        ck_assert_uint_eq(hp2->requests->len, before + 1);
        hp_answer(hp2, 0, CLIPBOARD_TYPE_TEXT, "from host", 9);
    } else {
        guest_agent_send_request(ga, 0, text);
        fe_pump(dst);
    }
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->size, 8 + g_bytes_get_size(
                                       hp_data(hp2, 0, CLIPBOARD_TYPE_TEXT)));
    ck_assert_mem_eq(m->data + 8,
                     g_bytes_get_data(hp_data(hp2, 0, CLIPBOARD_TYPE_TEXT),
                                      NULL), m->size - 8);
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The guest owns selection _i (text with data the host already fetched,
 * and PNG not fetched).  On the destination a host peer's request for PNG
 * reaches the guest, which answers, and the host peer gets the data; the
 * text is there without asking; the info keeps its serial.
 */
START_TEST(test_guest_owned_selection)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    g_autofree uint8_t *png = pattern(3333, 7);
    const unsigned sel = _i;
    const GuestAgentMsg *m;
    ClipboardInfo *info;
    HostPeer *hp, *hp2;
    GBytes *got;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    /* Serial 2 for this selection: two earlier grabs. */
    guest_agent_send_grab(ga, sel, types, 1);
    guest_agent_send_grab(ga, sel, types, 1);
    guest_agent_send_grab(ga, sel, types, 2);
    fe_pump(src);
    ck_assert(hp_request(hp, sel, CLIPBOARD_TYPE_TEXT));
    guest_agent_send_clipboard(ga, sel, types[0], hello, sizeof(hello));
    fe_pump(src);
    ck_assert_ptr_nonnull(hp_data(hp, sel, CLIPBOARD_TYPE_TEXT));
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    info = clipboard_hub_info(dst->hub, sel);
    ck_assert_ptr_nonnull(info);
    ck_assert_str_eq(info->owner->name, "vdagent");
    ck_assert(info->has_serial);
    ck_assert_uint_eq(info->serial, 2);
    ck_assert_uint_eq(clipboard_info_types(info), BIT(TEXT) | BIT(PNG));
    for (unsigned s = 0; s < N_SEL; s++) {
        if (s != sel) {
            ck_assert_ptr_null(clipboard_hub_info(dst->hub, s));
        }
    }

    hp2 = fe_peer_new(dst);
    ck_assert(hp_request(hp2, sel, CLIPBOARD_TYPE_TEXT));
    got = hp_data(hp2, sel, CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), sizeof(hello));
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), hello, sizeof(hello));
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    ck_assert(hp_request(hp2, sel, CLIPBOARD_TYPE_PNG));
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_REQUEST, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->data[0], sel);
    ck_assert_uint_eq(test_le32(m->data + 4), types[1]);
    guest_agent_send_clipboard(ga, sel, types[1], png, 3333);
    fe_pump(dst);
    got = hp_data(hp2, sel, CLIPBOARD_TYPE_PNG);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 3333);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), png, 3333);
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_NOT_OWNER], 0);

    /* The guest's next grab of the selection continues at serial 3. */
    guest_agent_send_grab(ga, sel, types, 1);
    fe_pump(dst);
    info = clipboard_hub_info(dst->hub, sel);
    ck_assert_uint_eq(info->serial, 3);
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_STALE_SERIAL], 0);
    ck_assert_uint_eq(hp->view[sel].serial, 2);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The host asked the guest for text before the migration; the guest
 * answers the destination, whose host peer gets the data (the request
 * went out on the source, the answer comes in on the destination).
 * _i 0: the REQUEST reached the guest before the save; 1: it was still in
 * the source's output (the frontend took nothing).
 */
START_TEST(test_host_request_pending)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;
    GBytes *got;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    guest_agent_send_grab(ga, 1, &text, 1);
    fe_pump(src);
    if (_i == 1) {
        src->unlimited = false;
        src->budget = 0;
    }
    ck_assert(hp_request(hp, 1, CLIPBOARD_TYPE_TEXT));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_REQUEST),
                      _i == 0);

    dst = migrate(src, false);
    hp2 = fe_peer_new(dst);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_REQUEST),
                      1);
    guest_agent_send_clipboard(ga, 1, text, "answer", 6);
    fe_pump(dst);
    got = hp_data(hp2, 1, CLIPBOARD_TYPE_TEXT);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(g_bytes_get_size(got), 6);
    ck_assert_mem_eq(g_bytes_get_data(got, NULL), "answer", 6);
    ck_assert_int_eq(hp2->view[1].owner, 'g');
    ck_assert_uint_eq(hp2->view[1].len[CLIPBOARD_TYPE_TEXT], 6);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * A host peer owns PRIMARY and the guest was told (one GRAB).  After the
 * migration the guest hears nothing more about that grab, as from the
 * source resumed instead; a new host grab is announced once, with the
 * serial the agent expects.  _i 0: the host peer is restored before the
 * load; 1: restored after the run; 2: not restored, another peer grabs.
 */
START_TEST(test_host_grab_not_repeated)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    const GuestAgentMsg *m;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 1, CLIPBOARD_TYPE_TEXT, hello, sizeof(hello));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);
    guest_agent_clear_received(ga);

    vdagent_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    hp2 = _i == 0 ? hp_restore(hp, dst) : NULL;
    dest_load_ok(dst, stream);
    dest_resume(dst, ga);
    if (_i == 1) {
        hp2 = hp_restore(hp, dst);
    } else if (_i == 2) {
        hp2 = fe_peer_new(dst);
    }
    ck_assert_msg(guest_agent_n_received(ga) == 0,
                  "the destination sent %zu messages on resume (type %u)",
                  guest_agent_n_received(ga),
                  guest_agent_received(ga, 0)->type);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 1);

    /* The guest asks for the host's text: it comes (restored peers). */
    if (_i != 2) {
        guest_agent_send_request(ga, 1, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(dst);
        m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(m->size, 8 + sizeof(hello));
        ck_assert_mem_eq(m->data + 8, hello, sizeof(hello));
        guest_agent_clear_received(ga);
    }

    hp_grab(hp2, 1, BIT(TEXT) | BIT(PNG));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD_GRAB, 0);
    ck_assert_uint_eq(m->data[0], 1);
    ck_assert_uint_eq(test_le32(m->data + 4), 1);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 2);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- tests: output in flight ------------------------------------------- */

/*
 * Output the frontend took @taken bytes of: three empty clipboard
 * replies, two MOUSE_STATEs (the second with a coalesced motion), and
 * the answer to the agent's caps request (caps and MAX_CLIPBOARD).
 */
static void queue_output(TestFe *src, GuestAgent *ga, size_t taken)
{
    InputRouter *r = vdagent_chardev_input_router(src->dev);

    src->unlimited = false;
    src->budget = taken;
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    guest_agent_send_request(ga, 1, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    guest_agent_send_request(ga, 2, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(src);
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_X, ABS_X_100));
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_Y, ABS_Y_200));
    input_event_sync(r);
    ck_assert(input_send_btn(r, 0, INPUT_BUTTON_RIGHT, true));
    input_event_sync(r);
    ck_assert(input_send_abs(r, 0, INPUT_AXIS_X, INPUT_ABS_MAX));
    input_event_sync(r);
    guest_agent_send_caps(ga, true);
    fe_pump(src);
}

/* Bytes of queue_output() in all. */
static size_t queued_output_len(void)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    TestFe *p = fe_new_detached(&config);
    size_t n;

    mig_connect(p, ga);
    queue_output(p, ga, 0);
    n = vdagent_chardev_pending_output(p->dev);
    fe_free(p);
    return n;
}

/*
 * For every amount the frontend took before the stop: the destination
 * delivers exactly the bytes the source would have delivered when resumed
 * instead, and the agent decodes the whole stream (the part the source
 * wrote, then the destination's) without an error.
 */
START_TEST(test_queued_output)
{
    const size_t total = queued_output_len();

    ck_assert_uint_gt(total, 200);
    for (size_t taken = 0; taken <= total + 45; taken++) {
        VDAgentConfig config = mig_config();
        g_autoptr(GuestAgent) ga = real_agent();
        g_autoptr(GByteArray) stream = NULL;
        g_autoptr(GByteArray) would = NULL;
        TestFe *src, *dst;
        const GuestAgentMsg *m;
        size_t pending, n_mouse;

        src = fe_new_detached(&config);
        mig_connect(src, ga);
        g_byte_array_set_size(src->wire, 0);
        queue_output(src, ga, taken);
        /* A motion is merged only into a MOUSE_STATE not yet started. */
        pending = vdagent_chardev_pending_output(src->dev);
        ck_assert(src->wire->len == taken ||
                  (src->wire->len < taken && pending == 0));
        vdagent_chardev_set_running(src->dev, false);
        stream = save_dev(src->dev);

        /* The source resumed instead: what it would have written. */
        src->ga = NULL;
        g_byte_array_set_size(src->wire, 0);
        src->unlimited = true;
        vdagent_chardev_set_running(src->dev, true);
        vdagent_chardev_accept_input(src->dev);
        would = bytes_copy(src->wire->data, src->wire->len);
        ck_assert_uint_eq(would->len, pending);

        dst = dest_new(src);
        dest_load_ok(dst, stream);
        ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), pending);
        dest_resume(dst, ga);
        ck_assert_msg(dst->wire->len == would->len &&
                      (would->len == 0 ||
                       memcmp(dst->wire->data, would->data, would->len) == 0),
                      "taken %zu: the destination wrote %u bytes, the source "
                      "would have written %u", taken, dst->wire->len,
                      would->len);
        ck_assert_uint_eq(vdagent_chardev_pending_output(dst->dev), 0);

        ck_agent_clean(ga);
        ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 3);
        n_mouse = guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE);
        ck_assert_uint_ge(n_mouse, 2);
        ck_assert_uint_le(n_mouse, 3);
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_MAX_CLIPBOARD), 1);
        m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, n_mouse - 1);
        ck_assert_uint_eq(test_le32(m->data), 1023);
        ck_assert_uint_eq(test_le32(m->data + 4), 200);
        ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_RBUTTON_MASK);
        m = guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0);
        ck_assert_uint_eq(test_le32(m->data), 0);
        fe_free(dst);
        fe_free(src);
    }
}
END_TEST

#define BIG_REPLY (1024u * 1024)
/* 1 MiB + 8 bytes of message data + 20 of header, in 2048-byte chunks. */
#define BIG_WIRE (BIG_REPLY + 28 + 8 * ((BIG_REPLY + 28 + 2047) / 2048))

/* How much of the reply the frontend took before the stop. */
static const size_t big_taken[] = {
    0, 3, 8, 8 + 11, 8 + 20, 8 + 20 + 5, 2056, 2056 + 7, 2056 * 3 + 8,
    2056 * 100 + 1000, BIG_WIRE / 2, BIG_WIRE - 2048 - 8 - 4, BIG_WIRE - 9,
    BIG_WIRE - 1,
};

/*
 * A 1 MiB host clipboard reply half streamed: the frontend took
 * big_taken[_i] bytes (inside a chunk header, a message header, a
 * payload...).  The agent receives the complete reply across the two
 * devices, byte-exact.
 */
START_TEST(test_large_reply_half_streamed)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = pattern(BIG_REPLY, 11);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const GuestAgentMsg *m;
    HostPeer *hp;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 2, CLIPBOARD_TYPE_TEXT, data, BIG_REPLY);
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = big_taken[_i];
    guest_agent_send_request(ga, 2, text);
    fe_pump(src);
    ck_assert_uint_eq(src->wire->len, big_taken[_i]);
    ck_assert_uint_eq(vdagent_chardev_pending_output(src->dev),
                      BIG_WIRE - big_taken[_i]);

    dst = migrate(src, false);
    ck_assert_uint_eq(dst->wire->len, BIG_WIRE - big_taken[_i]);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->size, 8 + BIG_REPLY);
    ck_assert_uint_eq(m->data[0], 2);
    ck_assert_uint_eq(test_le32(m->data + 4), text);
    ck_assert(memcmp(m->data + 8, data, BIG_REPLY) == 0);
    ck_assert_uint_eq(m->n_chunks, (BIG_REPLY + 28 + 2047) / 2048);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* ---- tests: session state ---------------------------------------------- */

/*
 * The pointer state (position, buttons held, display) survives and the
 * destination's mouse handler is active: a motion on the destination
 * sends a MOUSE_STATE that keeps the button and the other axis.
 */
START_TEST(test_mouse_survives)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    VDAgentMouse ms;
    const GuestAgentMsg *m;
    InputRouter *r;
    TestFe *src, *dst;

    config.n_heads = 2;
    config.heads[0] = (VDAgentHeadConfig){ .width = 800, .height = 600 };
    config.heads[1] = (VDAgentHeadConfig){ .width = 1024, .height = 768,
                                           .x = 800 };
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    r = vdagent_chardev_input_router(src->dev);
    ck_assert(input_send_abs(r, 1, INPUT_AXIS_X, ABS_X_100));
    ck_assert(input_send_abs(r, 1, INPUT_AXIS_Y, ABS_Y_200));
    ck_assert(input_send_btn(r, 1, INPUT_BUTTON_LEFT, true));
    ck_assert(input_send_btn(r, 1, INPUT_BUTTON_SIDE, true));
    input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE), 1);
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    vdagent_chardev_mouse_state(dst->dev, &ms);
    ck_assert_uint_eq(ms.x, 100);
    ck_assert_uint_eq(ms.y, 200);
    ck_assert_uint_eq(ms.buttons,
                      VD_AGENT_LBUTTON_MASK | VD_AGENT_SBUTTON_MASK);
    ck_assert_uint_eq(ms.display_id, 1);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);

    r = vdagent_chardev_input_router(dst->dev);
    ck_assert(input_send_abs(r, 1, INPUT_AXIS_X, INPUT_ABS_MAX));
    input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE), 1);
    m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, 0);
    ck_assert_uint_eq(m->size, sizeof(VDAgentMouseState));
    ck_assert_uint_eq(test_le32(m->data), 1023);
    ck_assert_uint_eq(test_le32(m->data + 4), 200);
    ck_assert_uint_eq(test_le32(m->data + 8),
                      VD_AGENT_LBUTTON_MASK | VD_AGENT_SBUTTON_MASK);
    ck_assert_uint_eq(m->data[12], 1);
    ck_assert(input_send_btn(r, 1, INPUT_BUTTON_LEFT, false));
    input_event_sync(r);
    m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_SBUTTON_MASK);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

static const size_t caps_counts[] = { 1, 3, VDAGENT_MAX_CAPS_WORDS };

/* Every caps word the guest announced survives. */
START_TEST(test_caps_words_survive)
{
    VDAgentConfig config = mig_config();
    const size_t n = caps_counts[_i];
    uint32_t words[VDAGENT_MAX_CAPS_WORDS];
    g_autoptr(GuestAgent) ga = NULL;
    const uint32_t *got;
    size_t got_n = 0;
    TestFe *src, *dst;

    words[0] = REAL_AGENT_CAPS;
    for (size_t i = 1; i < n; i++) {
        words[i] = 0x9e3779b9u * (uint32_t)i;
    }
    ga = guest_agent_new(words, n);
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    got = vdagent_chardev_guest_caps(src->dev, &got_n);
    ck_assert_uint_eq(got_n, n);

    dst = migrate(src, false);
    got = vdagent_chardev_guest_caps(dst->dev, &got_n);
    ck_assert_uint_eq(got_n, n);
    ck_assert_mem_eq(got, words, n * 4);
    for (unsigned cap = 0; cap < 32 * n; cap++) {
        ck_assert(vdagent_chardev_guest_has_cap(dst->dev, cap) ==
                  !!(words[cap / 32] & (1u << (cap % 32))));
    }
    ck_assert(vdagent_chardev_connected(dst->dev));
    ck_assert_ptr_null(guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0));
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The grab serials continue: host grabs on the destination carry the
 * serial the agent expects for each selection (it discards none), and the
 * agent's own next grabs are not stale.
 */
START_TEST(test_last_serial_continues)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    HostPeer *hp, *hp2;
    TestFe *src, *dst;
    ClipboardInfo *info;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    for (int i = 0; i < 3; i++) {
        guest_agent_send_grab(ga, 0, &text, 1);
    }
    fe_pump(src);
    hp_grab(hp, 1, BIT(TEXT));
    hp_grab(hp, 1, BIT(PNG));
    guest_agent_send_grab(ga, 2, &text, 1);
    fe_pump(src);
    hp_grab(hp, 2, BIT(TEXT));
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 3);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 2);
    ck_assert_uint_eq(guest_agent_serial(ga, 2), 2);
    ck_agent_clean(ga);
    guest_agent_clear_received(ga);

    dst = migrate(src, false);
    hp2 = fe_peer_new(dst);
    hp_grab(hp2, 0, BIT(TEXT));
    hp_grab(hp2, 1, BIT(TEXT));
    hp_grab(hp2, 2, BIT(BMP));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 3);
    ck_agent_clean(ga);
    ck_assert_uint_eq(guest_agent_serial(ga, 0), 4);
    ck_assert_uint_eq(guest_agent_serial(ga, 1), 3);
    ck_assert_uint_eq(guest_agent_serial(ga, 2), 3);

    for (unsigned s = 0; s < N_SEL; s++) {
        guest_agent_send_grab(ga, s, &text, 1);
        fe_pump(dst);
        info = clipboard_hub_info(dst->hub, s);
        ck_assert_str_eq(info->owner->name, "vdagent");
        ck_assert_uint_eq(info->serial, guest_agent_serial(ga, s) - 1);
    }
    ck_assert_uint_eq(fe_counters(dst).drops[VDAGENT_DROP_STALE_SERIAL], 0);
    ck_assert_uint_eq(hp2->view[2].owner, 'g');
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * Q19: after a load the guest's open is not a reconnect (twice), and a
 * real close and open afterwards still is one.
 */
START_TEST(test_open_after_load)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    const GuestAgentMsg *m;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    dst = migrate(src, false);
    vdagent_chardev_set_guest_open(dst->dev, true);
    vdagent_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert(vdagent_chardev_connected(dst->dev));

    vdagent_chardev_set_guest_open(dst->dev, false);
    ck_assert(!vdagent_chardev_connected(dst->dev));
    vdagent_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(
        guest_agent_count_type(ga, VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
    m = guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0);
    ck_assert_uint_eq(test_le32(m->data), 1);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * A loaded destination sends nothing while stopped, whatever happens
 * (guest input, accept_input, the guest's open); once running, the
 * restored output goes first, then the answers.
 */
START_TEST(test_stopped_destination_silent)
{
    g_autoptr(GByteArray) stream = NULL;
    const GuestAgentMsg *m;
    Canon c;
    TestFe *dst;

    canon_start(&c);
    drive_full(&c);
    vdagent_chardev_set_running(c.src->dev, false);
    stream = save_dev(c.src->dev);
    c.src->ga = NULL;
    dst = dest_new(c.src);
    dest_load_ok(dst, stream);
    guest_agent_clear_received(c.ga);
    dst->ga = c.ga;
    vdagent_chardev_set_guest_open(dst->dev, true);
    fe_push(dst, c.rest->data, c.rest->len);
    guest_agent_send_request(c.ga, 2, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(dst);
    vdagent_chardev_accept_input(dst->dev);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert_uint_eq(fe_counters(dst).bytes_out, 0);

    vdagent_chardev_set_running(dst->dev, true);
    ck_assert_uint_ge(dst->wire->len, sizeof(full_out));
    ck_assert_mem_eq(dst->wire->data, full_out, sizeof(full_out));
    m = guest_agent_received(c.ga, 0);
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD_REQUEST);
    /* The empty answer to the guest's request for SECONDARY. */
    m = guest_agent_find(c.ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_ptr_nonnull(m);
    ck_agent_clean(c.ga);
    fe_free(dst);
    canon_stop(&c);
}
END_TEST

/* ---- tests: truncated and corrupted streams ---------------------------- */

/* A saved stream of canonical state @i. */
static GByteArray *canon_saved(unsigned i)
{
    GByteArray *s;
    Canon c;

    canon_start(&c);
    canon_states[i].drive(&c);
    vdagent_chardev_set_running(c.src->dev, false);
    s = save_dev(c.src->dev);
    canon_stop(&c);
    return s;
}

/* Offset of the section footer (0x7e, be32 0) before the EOF byte. */
static size_t footer_offset(const GByteArray *s)
{
    size_t eof = eof_offset(s);

    ck_assert_uint_ge(eof, 5);
    ck_assert_uint_eq(s->data[eof - 5], 0x7e);
    return eof - 5;
}

/*
 * Load the first @len bytes of @s into a fresh stopped destination.  It
 * must fail cleanly, leave the device fresh, and the device must work as
 * a new one afterwards.
 */
static void ck_truncated(const GByteArray *s, size_t len, const char *name)
{
    VDAgentConfig config = mig_config();
    g_autoptr(GError) err = NULL;
    TestFe *dst = fe_new_detached(&config);

    vdagent_chardev_set_running(dst->dev, false);
    ck_assert_msg(!load_dev(dst->dev, s->data, len, &err),
                  "%s: %zu of %u bytes loaded", name, len, s->len);
    ck_assert_ptr_nonnull(err);
    ck_assert(err->domain == VMSTATE_ERROR);
    ck_assert_msg(strstr(err->message, "offset") != NULL,
                  "%s: %zu: no offset in '%s'", name, len, err->message);
    ck_assert_msg(!vdagent_chardev_connected(dst->dev),
                  "%s: truncated at %zu of %u ('%s'): the device is "
                  "connected after a failed load", name, len, s->len,
                  err->message);
    ck_fresh(dst);
    ck_works_fresh(dst);
    fe_free(dst);
}

/*
 * Every truncation inside the header and the section (before its footer)
 * fails cleanly, and the destination stays fresh and usable.
 */
START_TEST(test_truncated_in_section)
{
    g_autoptr(GByteArray) s = canon_saved(_i);
    size_t footer = footer_offset(s);

    for (size_t len = 0; len <= footer; len++) {
        ck_truncated(s, len, canon_states[_i].name);
    }
}
END_TEST

/*
 * Every truncation after the section (in its footer, before EOF, in the
 * vmdesc) fails too, and leaves the destination as fresh as any failed
 * load: the section was read, but the stream is not a whole one.  The
 * stream cut right after EOF (no vmdesc) is a whole one in memory.
 */
START_TEST(test_truncated_after_section)
{
    g_autoptr(GByteArray) s = canon_saved(_i);
    size_t footer = footer_offset(s);
    size_t eof = eof_offset(s);

    for (size_t len = footer + 1; len < s->len; len++) {
        if (len == eof + 1) {
            VDAgentConfig config = mig_config();
            g_autoptr(GError) err = NULL;
            TestFe *dst = fe_new_detached(&config);

            vdagent_chardev_set_running(dst->dev, false);
            ck_assert_msg(load_dev(dst->dev, s->data, len, &err), "%s",
                          err ? err->message : "");
            ck_assert(vdagent_chardev_connected(dst->dev));
            fe_free(dst);
            continue;
        }
        ck_truncated(s, len, canon_states[_i].name);
    }
}
END_TEST

/* One corruption of the full state, and what the error must say. */
typedef struct Corruption {
    const char *name;
    void (*apply)(Spec *sp);
    const char *expect;          /* in the error message */
    bool header;                 /* refused before the section is read */
} Corruption;

static const uint8_t body30[30];

static void c_parser_len(Spec *sp)
{
    sp->len = 0xffffffffu;
    sp->body = NULL;
}
static void c_parser_len_max(Spec *sp)
{
    sp->len = mig_config().max_message + 1;
    sp->body = NULL;
}
static void c_out_len(Spec *sp)
{
    sp->out_len = 0xffffffffu;
    sp->out_written = 0;
}
static void c_out_len_limit(Spec *sp)
{
    /* The limit: 4 replies of the largest size and 1 MiB. */
    sp->out_len = 4u * mig_config().max_message + 1024 * 1024 + 1;
    sp->out_written = 0;
}
static void c_sel3(Spec *sp) { sp->infos[0].selection = 3; }
static void c_sel_ffff(Spec *sp) { sp->infos[0].selection = 0xffffffffu; }
static void c_n4(Spec *sp)
{
    sp->n = 4;
    for (unsigned i = 1; i < 4; i++) {
        sp->infos[i] = (SpecInfo){ .selection = i };
    }
}
static void c_n_huge(Spec *sp) { sp->n = 0x80000000u; }
static void c_info_types(Spec *sp) { sp->infos[0].types |= 1u << N_TYPES; }
static void c_info_types_high(Spec *sp) { sp->infos[0].types |= 0x80000000u; }
static void c_cbpending_bits(Spec *sp) { sp->cbpending[2] = 1u << N_TYPES; }
static void c_host_pending_bits(Spec *sp) { sp->host_pending[1] = 0x80000000u; }
static void c_count_no_bit(Spec *sp)
{
    sp->cbpending_n[2 * N_TYPES + CLIPBOARD_TYPE_PNG] = 1;
}
static void c_count_above(Spec *sp)
{
    sp->cbpending_n[1 * N_TYPES + CLIPBOARD_TYPE_TEXT] = MAX_PENDING + 1;
}
static void c_own_pending(Spec *sp)
{
    sp->cbpending[0] = BIT(TEXT);
    sp->cbpending_n[0] = 1;
}
static void c_chdr_have(Spec *sp) { sp->chdr_have = 9; }
static void c_msg_state(Spec *sp) { sp->msg = 7; }
static void c_mhdr_have(Spec *sp) { sp->mhdr_have = 21; }
static void c_body_long(Spec *sp)
{
    sp->len = 30;                /* the header says 28 */
    sp->body = body30;
}
static void c_msg_left(Spec *sp) { sp->msg_left = 19; }
static void c_chunk_left(Spec *sp) { sp->chunk_left = 1000; }
static void c_bad_protocol(Spec *sp) { sp->mhdr[0] = 2; }
static void c_caps_word0(Spec *sp) { sp->words[0] ^= 1; }
static void c_not_connected(Spec *sp) { sp->connected = 0; }
static void c_bool2(Spec *sp) { sp->connected = 2; }
static void c_n_caps(Spec *sp) { sp->n_caps = VDAGENT_MAX_CAPS_WORDS + 1; }
static void c_gmc(Spec *sp) { sp->gmc = -2; }
static void c_version2(Spec *sp) { sp->version = 2; }
static void c_version0(Spec *sp) { sp->version = 0; }
static void c_unknown_sub(Spec *sp) { sp->extra_sub = "vdagent/bogus"; }
static void c_twice_sub(Spec *sp) { sp->extra_sub = "vdagent/mouse"; }
static void c_foreign_sub(Spec *sp) { sp->extra_sub = "clipboard/info"; }
static void c_mouse_buttons(Spec *sp) { sp->mouse_buttons |= 1; }
static void c_mouse_display(Spec *sp) { sp->mouse_display = 256; }
/* The config has one head: display 0 is the only one the agent knows. */
static void c_mouse_head(Spec *sp) { sp->mouse_display = 5; }
static void c_data_unavailable(Spec *sp)
{
    sp->infos[0].len[CLIPBOARD_TYPE_TIFF] = 3;
}
static void c_data_huge(Spec *sp)
{
    sp->infos[0].len[CLIPBOARD_TYPE_TEXT] = CLIPBOARD_SAVED_MAX_DATA + 1;
    sp->infos[0].no_data = true;
}
static void c_repeated_sel(Spec *sp)
{
    sp->n = 2;
    sp->infos[1] = sp->infos[0];
}
static void c_has_serial2(Spec *sp) { sp->infos[0].has_serial = 2; }
static void c_no_by_demand(Spec *sp)
{
    sp->caps &= ~CAP(CLIPBOARD_BY_DEMAND);
    sp->words[0] = sp->caps;
}
static void c_no_footer(Spec *sp) { sp->no_footer = true; }
static void c_announced_bits(Spec *sp) { sp->host_announced = 1u << N_SEL; }
/* Saying "not connected" outright, with the caps of a session. */
static void c_not_connected_no_words(Spec *sp)
{
    sp->connected = 0;
    sp->n_caps = 0;
}
/* Host grabs the guest holds, for a guest without CLIPBOARD_BY_DEMAND. */
static void c_announced_no_clipboard(Spec *sp)
{
    Spec idle = spec_idle();

    idle.caps = idle.words[0] = REAL_AGENT_CAPS & ~CAP(CLIPBOARD_BY_DEMAND);
    idle.clipboard = true;
    idle.host_announced = 1u << 2;
    *sp = idle;
}

static const Corruption corruptions[] = {
    { "partial message len 0xffffffff", c_parser_len,
      "partial message", false },
    { "partial message len above max_message", c_parser_len_max,
      "partial message", false },
    { "output length 0xffffffff", c_out_len, "output above the limit", false },
    { "output length above the limit", c_out_len_limit,
      "output above the limit", false },
    { "selection 3", c_sel3, "selection 3", false },
    { "selection 0xffffffff", c_sel_ffff, "selection 4294967295", false },
    { "n=4 infos", c_n4, "infos", false },
    { "n=2^31 infos", c_n_huge, "infos", false },
    { "unknown type bits in an info", c_info_types, "type bits", false },
    { "type bit 31 in an info", c_info_types_high, "type bits", false },
    { "unknown cbpending bits", c_cbpending_bits, "type bits", false },
    { "unknown host_pending bits", c_host_pending_bits, "type bits", false },
    { "cbpending count without its bit", c_count_no_bit, "counts", false },
    { "cbpending count above the maximum", c_count_above, "counts", false },
    { "requests pending on the guest's selection", c_own_pending,
      "own selection", false },
    { "chdr_have 9", c_chdr_have, "chunk header", false },
    { "msg state 7", c_msg_state, "message state", false },
    { "mhdr_have 21", c_mhdr_have, "message state", false },
    { "body longer than its header's size", c_body_long, "body sizes", false },
    { "body sizes not adding up", c_msg_left, "body sizes", false },
    { "chunk_left above the chunk size", c_chunk_left,
      "chunk bytes left", false },
    { "protocol 2 in the message header", c_bad_protocol, "header", false },
    { "caps word 0 differing from caps", c_caps_word0, "caps word 0", false },
    { "connected=false with caps set", c_not_connected, "connected", false },
    { "bool connected 2", c_bool2, "connected", false },
    { "65 caps words", c_n_caps, "caps_words", false },
    { "guest_max_clipboard -2", c_gmc, "clipboard limit", false },
    { "section version 2", c_version2, "unsupported version 2", true },
    { "section version 0", c_version0, "unsupported version 0", true },
    { "unknown subsection name", c_unknown_sub, "vdagent/bogus", false },
    { "subsection twice", c_twice_sub, "twice", false },
    { "another description's subsection", c_foreign_sub,
      "clipboard/info", false },
    { "mouse button bit 0", c_mouse_buttons, "mouse", false },
    { "mouse display 256", c_mouse_display, "mouse", false },
    { "mouse display beyond the heads", c_mouse_head, "mouse", false },
    { "data for a type not available", c_data_unavailable,
      "not available", false },
    { "data length above 256 MiB", c_data_huge, "above maximum", false },
    { "repeated selection", c_repeated_sel, "repeated", false },
    { "has_serial 2", c_has_serial2, "has_serial", false },
    { "clipboard state without BY_DEMAND", c_no_by_demand, "clipboard", false },
    { "no section footer", c_no_footer, "footer", false },
    { "host_announced bit 3", c_announced_bits, "selection bits", false },
    { "connected=false with caps set, no caps words",
      c_not_connected_no_words, "connected", false },
    { "host grabs held without a clipboard", c_announced_no_clipboard,
      "without a clipboard", false },
};

/*
 * Each corruption of the (otherwise loadable) full state fails with an
 * error naming the problem or the field, and leaves a fresh, usable
 * destination.
 */
START_TEST(test_corrupted)
{
    const Corruption *c = &corruptions[_i];
    VDAgentConfig config = mig_config();
    g_autoptr(GByteArray) s = NULL;
    g_autoptr(GError) err = NULL;
    Spec sp = spec_full();
    TestFe *dst;

    c->apply(&sp);
    s = spec_stream(&sp);
    dst = fe_new_detached(&config);
    vdagent_chardev_set_running(dst->dev, false);
    ck_assert_msg(!load_dev(dst->dev, s->data, s->len, &err),
                  "%s: loaded", c->name);
    ck_assert_ptr_nonnull(err);
    ck_assert(err->domain == VMSTATE_ERROR);
    ck_assert_msg(strstr(err->message, c->expect) != NULL,
                  "%s: '%s' does not say '%s'", c->name, err->message,
                  c->expect);
    ck_assert_msg(strstr(err->message, "vdagent") != NULL,
                  "%s: '%s' does not name the section", c->name,
                  err->message);
    ck_assert_msg(!vdagent_chardev_connected(dst->dev),
                  "%s: connected after '%s'", c->name, err->message);
    ck_fresh(dst);
    ck_works_fresh(dst);
    fe_free(dst);
}
END_TEST

/*
 * A failed load into a device that was in use (connected, guest-owned
 * clipboard, output queued, pointer state) leaves it fresh: the section
 * resets it before anything else.  A stream refused at the section header
 * (Q21: a version out of range) leaves it as it was.
 */
START_TEST(test_failed_load_used_device)
{
    const Corruption *c = &corruptions[_i];
    g_autoptr(GByteArray) s = NULL;
    g_autoptr(GError) err = NULL;
    Spec sp = spec_full();
    VDAgentMouse ms;
    size_t n = 9;
    Canon cn;

    canon_start(&cn);
    drive_full(&cn);
    c->apply(&sp);
    s = spec_stream(&sp);
    vdagent_chardev_set_running(cn.src->dev, false);
    ck_assert(!load_dev(cn.src->dev, s->data, s->len, &err));
    if (c->header) {
        ck_assert_int_eq(err->code, VMSTATE_ERROR_VERSION);
        ck_assert(vdagent_chardev_connected(cn.src->dev));
        ck_assert_uint_eq(vdagent_chardev_pending_output(cn.src->dev),
                          sizeof(full_out));
        ck_assert_str_eq(clipboard_hub_info(cn.src->hub, 0)->owner->name,
                         "vdagent");
        canon_stop(&cn);
        return;
    }
    ck_assert_msg(!vdagent_chardev_connected(cn.src->dev),
                  "%s: connected after '%s'", c->name, err->message);
    vdagent_chardev_guest_caps(cn.src->dev, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(vdagent_chardev_pending_output(cn.src->dev), 0);
    vdagent_chardev_mouse_state(cn.src->dev, &ms);
    ck_assert_uint_eq(ms.x | ms.y | ms.buttons | ms.display_id, 0);
    /* What the guest owned is released; the host peer's own grab stays. */
    ck_assert_ptr_null(clipboard_hub_info(cn.src->hub, 0)->owner);
    ck_assert_ptr_eq(clipboard_hub_info(cn.src->hub, 1)->owner,
                     &cn.hp->peer);
    /* Resumed, it sends nothing of the old session. */
    g_byte_array_set_size(cn.src->wire, 0);
    cn.src->unlimited = true;
    vdagent_chardev_set_running(cn.src->dev, true);
    vdagent_chardev_accept_input(cn.src->dev);
    ck_assert_int_eq(cn.hp->view[0].owner, 'n');
    ck_assert_uint_eq(cn.src->wire->len, 0);
    g_ptr_array_set_size(cn.src->peers, 0);
    ck_works_fresh(cn.src);
    canon_stop(&cn);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

/* Registering a second "vdagent" section with the same instance fails. */
START_TEST(test_register_twice)
{
    VDAgentConfig config = mig_config();
    g_autoptr(MigrationRegistry) reg = migration_registry_new();
    g_autoptr(GError) err = NULL;
    TestFe *p = fe_new_detached(&config);

    ck_assert(vdagent_chardev_register_migration(p->dev, reg, 0, &err));
    ck_assert_ptr_null(err);
    ck_assert(!vdagent_chardev_register_migration(p->dev, reg, 0, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->message,
                     "section 'vdagent' instance 0 is already registered");
    g_clear_error(&err);
    ck_assert(vdagent_chardev_register_migration(p->dev, reg, 1, &err));
    ck_assert_ptr_null(err);
    fe_free(p);
}
END_TEST

Suite *vdagent_migration_suite(void)
{
    Suite *s = suite_create("vdagent-migration");
    TCase *tc;

    tc = tcase_create("canonical");
    tcase_add_loop_test(tc, test_canonical_bytes, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_canonical_specs_load, 0,
                        2 * G_N_ELEMENTS(canon_states));
    suite_add_tcase(s, tc);

    tc = tcase_create("register");
    tcase_add_test(tc, test_register_twice);
    suite_add_tcase(s, tc);

    tc = tcase_create("rfc-layout");
    tcase_add_loop_test(tc, test_rfc_layout, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("every-offset");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_offset, 0, SCRIPT_SLICES);
    tcase_add_loop_test(tc, test_mid_header_after_oversize, 0, 9);
    suite_add_tcase(s, tc);

    tc = tcase_create("clipboard");
    tcase_add_loop_test(tc, test_pending_guest_request, 0, 3);
    tcase_add_loop_test(tc, test_guest_owned_selection, 0, N_SEL);
    tcase_add_loop_test(tc, test_host_request_pending, 0, 2);
    tcase_add_loop_test(tc, test_host_grab_not_repeated, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queued_output);
    tcase_add_loop_test(tc, test_large_reply_half_streamed, 0,
                        G_N_ELEMENTS(big_taken));
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_add_test(tc, test_mouse_survives);
    tcase_add_loop_test(tc, test_caps_words_survive, 0,
                        G_N_ELEMENTS(caps_counts));
    tcase_add_test(tc, test_last_serial_continues);
    tcase_add_test(tc, test_open_after_load);
    tcase_add_test(tc, test_stopped_destination_silent);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad-streams");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_truncated_in_section, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_truncated_after_section, 0,
                        G_N_ELEMENTS(canon_states));
    tcase_add_loop_test(tc, test_corrupted, 0, G_N_ELEMENTS(corruptions));
    tcase_add_loop_test(tc, test_failed_load_used_device, 0,
                        G_N_ELEMENTS(corruptions));
    suite_add_tcase(s, tc);
    return s;
}
