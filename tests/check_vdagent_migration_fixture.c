/*
 * check_vdagent_migration_fixture.c: the fixture of the vdagent-migration
 * suites (see check_vdagent_migration.h).
 */
#include <check.h>
#include <string.h>

#include "clipboard/vdc-clipboard-vmstate.h"
#include "input/vdc-input.h"
#include "migration/vdc-stream.h"
#include "tests/check_vdagent_migration.h"

/* ---- bytes ------------------------------------------------------------- */

void app_u8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

void app_str8(GByteArray *b, const char *s)
{
    app_u8(b, (uint8_t)strlen(s));
    test_append_bytes(b, s, strlen(s));
}

GByteArray *bytes_copy(const uint8_t *p, size_t n)
{
    GByteArray *b = g_byte_array_sized_new(n);

    test_append_bytes(b, p, n);
    return b;
}

void take_into(GByteArray *out, GuestAgent *ga)
{
    g_autoptr(GBytes) b = guest_agent_take_output(ga);

    test_append_bytes(out, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* ---- the frontend (tests/test-frontend.h) and host peers --------------- */

VdcConfig mig_config(void)
{
    return fe_config(true, true, false);
}

void mig_connect(TestFe *p, GuestAgent *ga)
{
    fe_attach(p, ga);
    fe_open(p);
    ck_assert(vdc_chardev_connected(p->dev));
    guest_agent_clear_received(ga);
}

GuestAgentModel mig_model = GUEST_AGENT_LINUX;

void mig_model_linux(void)
{
    mig_model = GUEST_AGENT_LINUX;
}

void mig_model_windows(void)
{
    mig_model = GUEST_AGENT_WINDOWS;
}

GuestAgent *real_agent(void)
{
    return guest_agent_new_model(mig_model);
}

GByteArray *mig_text_to_guest(const void *p, size_t n)
{
    const uint8_t *b = p;
    GByteArray *out = g_byte_array_sized_new(n + n / 8 + 1);

    for (size_t i = 0; i < n; i++) {
        if (mig_model == GUEST_AGENT_WINDOWS && b[i] == '\n' &&
            (i == 0 || b[i - 1] != '\r')) {
            app_u8(out, '\r');
        }
        app_u8(out, b[i]);
    }
    return out;
}

GByteArray *mig_text_from_guest(const void *p, size_t n)
{
    const uint8_t *b = p;
    GByteArray *out = g_byte_array_sized_new(n + 1);

    for (size_t i = 0; i < n; i++) {
        if (mig_model == GUEST_AGENT_WINDOWS && b[i] == '\r' &&
            i + 1 < n && b[i + 1] == '\n') {
            continue;
        }
        app_u8(out, b[i]);
    }
    return out;
}

size_t mig_wire_len(size_t size)
{
    return size + 20 + 8 * ((size + 20 + 2047) / 2048);
}

void ck_agent_clean(const GuestAgent *ga)
{
    ck_assert_msg(guest_agent_errors(ga) == 0, "agent error: %s",
                  guest_agent_last_error(ga));
    ck_assert_msg(guest_agent_ignored(ga) == 0, "agent ignored: %s",
                  guest_agent_last_ignored(ga));
}

HostPeer *hp_restore(HostPeer *src, TestFe *dst)
{
    VdcClipboardSaved saved;
    HostPeer *hp = fe_peer_new(dst);

    memset(&saved, 0, sizeof(saved));
    memcpy(hp->view, src->view, sizeof(hp->view));
    vdc_clipboard_saved_collect(&saved, &src->peer);
    vdc_clipboard_saved_restore(&saved, hp->hub, &hp->peer);
    return hp;
}

/* ---- migration --------------------------------------------------------- */

GByteArray *save_dev(VdcChardev *dev)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    const uint8_t *p;
    size_t n;

    ck_assert(vdc_chardev_register_migration(dev, reg, 0, NULL));
    ck_assert_msg(vdc_migration_save(reg, s, &err), "save failed: %s",
                  err ? err->message : "(no error)");
    ck_assert_ptr_null(err);
    p = vdc_migration_stream_data(s, &n);
    return bytes_copy(p, n);
}

bool load_dev(VdcChardev *dev, const uint8_t *p, size_t n,
                     GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(p, n);

    ck_assert(vdc_chardev_register_migration(dev, reg, 0, NULL));
    return vdc_migration_load(reg, s, errp);
}

TestFe *dest_new(const TestFe *src)
{
    TestFe *dst = fe_new_detached(&src->config);

    vdc_chardev_set_running(dst->dev, false);
    return dst;
}

void dest_load_ok(TestFe *dst, const GByteArray *stream)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(load_dev(dst->dev, stream->data, stream->len, &err),
                  "load failed: %s", err ? err->message : "(no error)");
    ck_assert_ptr_null(err);
}

void dest_resume(TestFe *dst, GuestAgent *ga)
{
    uint64_t pending = vdc_chardev_pending_output(dst->dev);

    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert(vdc_chardev_connected(dst->dev));
    /* Q19: no caps request queued, nothing reset. */
    vdc_chardev_set_guest_open(dst->dev, true);
    ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), pending);
    ck_assert(vdc_chardev_connected(dst->dev));
    vdc_chardev_accept_input(dst->dev);
    ck_assert_uint_eq(dst->wire->len, 0);
    ck_assert_str_eq(dst->events->str, "");
    dst->ga = ga;
    vdc_chardev_set_running(dst->dev, true);
}

TestFe *migrate(TestFe *src, bool restore_peers)
{
    g_autoptr(GByteArray) stream = NULL;
    GuestAgent *ga = src->ga;
    TestFe *dst;

    vdc_chardev_set_running(src->dev, false);
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

/* ---- a stream builder, independent of the engine ----------------------- */

static void spec_subsection(GByteArray *b, const char *name)
{
    app_u8(b, 0x05);
    app_str8(b, name);
    test_append_be32(b, 1);
}

GByteArray *spec_stream(const Spec *sp)
{
    GByteArray *b = g_byte_array_new();
    unsigned i, t;

    test_append_bytes(b, "QEVM", 4);
    test_append_be32(b, 3);
    app_u8(b, 0x04);                        /* FULL section */
    test_append_be32(b, 0);                 /* section id */
    app_str8(b, "vdagent");
    test_append_be32(b, 0);                 /* instance */
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
        for (i = 0; i < MIN(sp->n_caps, VDC_MAX_CAPS_WORDS); i++) {
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
                    g_autofree uint8_t *p = test_pattern(in->len[t], i * 8 + t);

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

size_t eof_offset(const GByteArray *s)
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

Spec spec_idle(void)
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

const uint8_t canon_hello[5] = { 'h', 'e', 'l', 'l', 'o' };

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
const uint8_t full_out[36] = {
    0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, /* chunk: port 1, 28 */
    0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, /* protocol 1, REQUEST */
    0, 0, 0, 0, 0, 0, 0, 0,                         /* opaque */
    0x08, 0x00, 0x00, 0x00,                         /* size 8 */
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, /* selection 0, PNG */
};

void canon_start(Canon *c)
{
    VdcConfig config = mig_config();

    c->src = fe_new_detached(&config);
    c->ga = real_agent();
    mig_connect(c->src, c->ga);
    c->hp = fe_peer_new(c->src);
    c->rest = g_byte_array_new();
}

void canon_stop(Canon *c)
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
    ck_assert(hp_request(c->hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
    ck_assert_ptr_nonnull(guest_agent_find(c->ga, VD_AGENT_CLIPBOARD_REQUEST,
                                           0));
    guest_agent_send_clipboard(c->ga, 0, text, canon_hello,
                               sizeof(canon_hello));
    fe_pump(c->src);
    ck_assert_ptr_nonnull(hp_data(c->hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
}

/*
 * Every subsection: the guest owns CLIPBOARD (text known, PNG asked by
 * the host and half sent back), waits for PRIMARY text from the host, the
 * pointer is at (100, 200) with the left button down, and the REQUEST for
 * PNG waits in the output (the frontend takes nothing).
 */
void drive_full(Canon *c)
{
    const uint32_t types[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                VD_AGENT_CLIPBOARD_IMAGE_PNG };
    VdcInputRouter *r = vdc_chardev_input_router(c->src->dev);
    g_autoptr(GBytes) out = NULL;

    hp_grab(c->hp, 1, BIT(TEXT));
    guest_agent_send_grab(c->ga, 0, types, 2);
    fe_pump(c->src);
    ck_assert(hp_request(c->hp, 0, VDC_CLIPBOARD_TYPE_TEXT));
    guest_agent_send_clipboard(c->ga, 0, types[0], canon_hello,
                               sizeof(canon_hello));
    guest_agent_send_request(c->ga, 1, types[0]);
    fe_pump(c->src);
    ck_assert_uint_eq(c->hp->requests->len, 1);

    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, ABS_X_100));
    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, ABS_Y_200));
    ck_assert(vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(r);
    ck_assert_ptr_nonnull(guest_agent_find(c->ga, VD_AGENT_MOUSE_STATE, 0));

    c->src->unlimited = false;
    c->src->budget = 0;
    ck_assert(hp_request(c->hp, 0, VDC_CLIPBOARD_TYPE_PNG));
    ck_assert_uint_eq(vdc_chardev_pending_output(c->src->dev),
                      sizeof(full_out));

    guest_agent_send_clipboard(c->ga, 0, types[1], full_png, sizeof(full_png));
    out = guest_agent_take_output(c->ga);
    ck_assert_uint_eq(g_bytes_get_size(out), 8 + 20 + 28);
    fe_push(c->src, g_bytes_get_data(out, NULL), 8 + 20 + 10);
    test_append_bytes(c->rest,
                      (const uint8_t *)g_bytes_get_data(out, NULL) + 38, 18);
}

static Spec spec_clipboard(void)
{
    Spec sp = spec_idle();

    sp.last_serial[0] = 1;
    sp.clipboard = true;
    sp.n = 1;
    sp.infos[0] = (SpecInfo){
        .selection = 0, .has_serial = 1, .serial = 0, .types = BIT(TEXT),
        .len = { [VDC_CLIPBOARD_TYPE_TEXT] = sizeof(canon_hello) },
        .data = { [VDC_CLIPBOARD_TYPE_TEXT] = canon_hello },
    };
    return sp;
}

Spec spec_full(void)
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
    sp.cbpending_n[1 * N_TYPES + VDC_CLIPBOARD_TYPE_TEXT] = 1;
    /* the guest holds the host's grab of PRIMARY */
    sp.host_announced = 1u << 1;
    return sp;
}

const CanonState canon_states[3] = {
    { "idle", drive_idle, spec_idle },
    { "clipboard", drive_clipboard, spec_clipboard },
    { "full", drive_full, spec_full },
};
