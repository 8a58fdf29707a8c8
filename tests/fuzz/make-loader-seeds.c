/*
 * make-loader-seeds.c: write the seed corpus of tests/fuzz/fuzz_loader.c,
 * real saved states of a device with the fuzz target's config (clipboard,
 * mouse and monitors on, max_message 64 KiB), driven by the scripted guest
 * agent (tests/guest-agent.c) and host-side clipboard peers.
 *
 *   cc -std=gnu11 -I. \
 *      $(pkg-config --cflags glib-2.0 spice-protocol pixman-1 json-c) \
 *      tests/fuzz/make-loader-seeds.c tests/fuzz/seed-device.c \
 *      tests/guest-agent.c tests/test-util.c \
 *      <library .c> \
 *      $(pkg-config --libs glib-2.0 pixman-1 json-c) -o make-loader-seeds
 *   ./make-loader-seeds [OUTDIR]        (default tests/fuzz/corpus/loader)
 *
 * (<library .c>: LIB_SRCS of the Makefile.)  Each state is saved with its
 * vmdesc, as vdc_migration_save() writes it; one more seed is the RFC's layout
 * written by hand.  Files of the same name are overwritten; others (crash
 * reproducers kept as regression seeds) are left alone.  Exits non-zero
 * when a state cannot be reached or saved.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipboard/vdc-clipboard.h"
#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "input/vdc-input.h"
#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "tests/fuzz/seed-device.h"
#include "vdagent/vdc-vdagent.h"

static const char *outdir = "tests/fuzz/corpus/loader";
static int failures;

static void write_file(const char *name, const uint8_t *data, size_t len)
{
    char *path = g_build_filename(outdir, name, NULL);
    GError *err = NULL;

    if (!g_file_set_contents(path, (const char *)data, len, &err)) {
        seed_die("%s: %s", path, err->message);
    }
    printf("%-28s %6zu bytes\n", name, len);
    g_free(path);
}

/* Stop, save into @name, free everything. */
static void seed_save(Seed *s, const char *name)
{
    VdcMigrationRegistry *reg = vdc_migration_registry_new();
    VdcMigrationStream *st = vdc_migration_stream_new_buffer();
    GError *err = NULL;
    const uint8_t *p;
    size_t n;

    vdc_chardev_set_running(s->dev, false);
    vdc_chardev_register_migration(s->dev, reg, 0, NULL);
    if (!vdc_migration_save(reg, st, &err)) {
        fprintf(stderr, "%s: %s\n", name, err->message);
        g_error_free(err);
        failures++;
    } else {
        p = vdc_migration_stream_data(st, &n);
        write_file(name, p, n);
    }
    vdc_migration_stream_free(st);
    vdc_migration_registry_free(reg);
    seed_free(s);
}

/* Push the first @n bytes of the agent's pending output. */
static void push_part(Seed *s, size_t n)
{
    GBytes *out = guest_agent_take_output(s->ga);

    if (n > g_bytes_get_size(out)) {
        seed_die("push_part: %zu of %zu bytes", n, g_bytes_get_size(out));
    }
    vdc_chardev_write(s->dev, g_bytes_get_data(out, NULL), n);
    g_bytes_unref(out);
}

static void host_grab(Seed *s, unsigned sel, VdcClipboardType type,
                      const void *data, size_t len)
{
    VdcClipboardHub *hub = vdc_chardev_clipboard_hub(s->dev);
    VdcClipboardInfo *info = vdc_clipboard_info_new(&s->host, sel);
    GBytes *bytes = data ? g_bytes_new(data, len) : NULL;

    if (bytes) {
        vdc_clipboard_hub_set_data(hub, &s->host, info, type, bytes, false);
    } else {
        info->types[type].available = true;
    }
    vdc_clipboard_hub_update(hub, info);
    vdc_clipboard_info_unref(info);
    if (bytes) {
        g_bytes_unref(bytes);
    }
}

static bool host_ask(Seed *s, unsigned sel, VdcClipboardType type)
{
    VdcClipboardHub *hub = vdc_chardev_clipboard_hub(s->dev);
    VdcClipboardInfo *info = vdc_clipboard_hub_info(hub, sel);

    return info && vdc_clipboard_hub_request(hub, info, type);
}

/* ---- the states -------------------------------------------------------- */

static const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
static const uint32_t text_png[2] = { VD_AGENT_CLIPBOARD_UTF8_TEXT,
                                      VD_AGENT_CLIPBOARD_IMAGE_PNG };

static void seed_fresh(void)
{
    Seed s;

    seed_start(&s, NULL, 0, false);
    seed_save(&s, "fresh");
}

static void seed_idle(void)
{
    Seed s;

    seed_start(&s, NULL, 0, true);
    seed_save(&s, "idle");
}

/* Inside the parser: @at bytes of a CLIPBOARD message of @len data bytes. */
static void seed_partial(const char *name, size_t len, size_t at)
{
    uint8_t *data = test_pattern(len, 1);
    Seed s;

    seed_start(&s, NULL, 0, true);
    guest_agent_send_grab(s.ga, 0, &text, 1);
    seed_pump(&s);
    guest_agent_send_clipboard(s.ga, 0, text, data, len);
    push_part(&s, at);
    seed_save(&s, name);
    g_free(data);
}

/* A Windows-style message in 2048-byte chunks, stopped at @at. */
static void seed_multi_chunk(const char *name, size_t at)
{
    GByteArray *w = g_byte_array_new();
    GByteArray *body = g_byte_array_new();
    uint8_t *data = test_pattern(5000, 2);
    uint8_t prefix[8] = { 0, 0, 0, 0, 1, 0, 0, 0 };
    Seed s;

    seed_start(&s, NULL, 0, true);
    guest_agent_send_grab(s.ga, 0, &text, 1);
    seed_pump(&s);
    g_byte_array_append(body, prefix, sizeof(prefix));
    g_byte_array_append(body, data, 5000);
    guest_wire_message_chunked(w, VD_AGENT_CLIPBOARD, body->data, body->len,
                               2048);
    vdc_chardev_write(s.dev, w->data, at);
    seed_save(&s, name);
    g_byte_array_unref(w);
    g_byte_array_unref(body);
    g_free(data);
}

/* Skipping an oversize message, or a chunk on the server port. */
static void seed_skip(const char *name, bool oversize)
{
    GByteArray *w = g_byte_array_new();
    uint8_t *data = test_pattern(SEED_MAX_MESSAGE + 100, 3);
    Seed s;

    seed_start(&s, NULL, 0, true);
    if (oversize) {
        guest_wire_message_chunked(w, VD_AGENT_CLIPBOARD, data,
                                   SEED_MAX_MESSAGE + 100, 2048);
        vdc_chardev_write(s.dev, w->data, 3 * 2056 + 100);
    } else {
        guest_wire_chunk(w, VDP_SERVER_PORT, 300, data, 300);
        vdc_chardev_write(s.dev, w->data, 8 + 120);
    }
    seed_save(&s, name);
    g_byte_array_unref(w);
    g_free(data);
}

/* The guest waits for text a host peer owns and has not sent. */
static void seed_pending_request(void)
{
    Seed s;

    seed_start(&s, NULL, 0, true);
    host_grab(&s, 1, VDC_CLIPBOARD_TYPE_TEXT, NULL, 0);
    guest_agent_send_request(s.ga, 1, text);
    guest_agent_send_request(s.ga, 1, text);
    seed_pump(&s);
    if (s.host_requests != 1) {
        seed_die("pending-request: %u host requests", s.host_requests);
    }
    seed_save(&s, "pending-request");
}

/* The guest owns @sel: text known, png not fetched, serial 1. */
static void seed_owned(unsigned sel)
{
    char name[32];
    Seed s;

    seed_start(&s, NULL, 0, true);
    guest_agent_send_grab(s.ga, sel, &text, 1);
    guest_agent_send_grab(s.ga, sel, text_png, 2);
    seed_pump(&s);
    host_ask(&s, sel, VDC_CLIPBOARD_TYPE_TEXT);
    guest_agent_send_clipboard(s.ga, sel, text, "owned", 5);
    seed_pump(&s);
    snprintf(name, sizeof(name), "owned-selection-%u", sel);
    seed_save(&s, name);
}

/* The host asked the guest for png; the REQUEST still in the output. */
static void seed_host_request(void)
{
    Seed s;

    seed_start(&s, NULL, 0, true);
    guest_agent_send_grab(s.ga, 2, text_png, 2);
    seed_pump(&s);
    s.unlimited = false;
    s.budget = 0;
    host_ask(&s, 2, VDC_CLIPBOARD_TYPE_PNG);
    seed_save(&s, "host-request-pending");
}

/* The frontend takes nothing: replies, pointer states, caps queued. */
static void seed_queued_output(void)
{
    VdcInputRouter *r;
    Seed s;

    seed_start(&s, NULL, 0, true);
    r = vdc_chardev_input_router(s.dev);
    s.unlimited = false;
    s.budget = 0;
    guest_agent_send_request(s.ga, 0, text);
    guest_agent_send_request(s.ga, 2, VD_AGENT_CLIPBOARD_IMAGE_BMP);
    seed_pump(&s);
    vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, 1000);
    vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, 2000);
    vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_LEFT, true);
    vdc_input_event_sync(r);
    guest_agent_send_caps(s.ga, true);
    seed_pump(&s);
    seed_save(&s, "queued-output");
}

/* A 64 KiB host reply the frontend took @taken bytes of. */
static void seed_half_reply(const char *name, size_t taken)
{
    uint8_t *data = test_pattern(SEED_MAX_MESSAGE, 4);
    Seed s;

    seed_start(&s, NULL, 0, true);
    host_grab(&s, 0, VDC_CLIPBOARD_TYPE_TEXT, data, SEED_MAX_MESSAGE);
    s.unlimited = false;
    s.budget = taken;
    guest_agent_send_request(s.ga, 0, text);
    seed_pump(&s);
    seed_save(&s, name);
    g_free(data);
}

static void seed_mouse(void)
{
    VdcInputRouter *r;
    Seed s;

    seed_start(&s, NULL, 0, true);
    r = vdc_chardev_input_router(s.dev);
    vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, 12345);
    vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, 23456);
    vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_RIGHT, true);
    vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_EXTRA, true);
    vdc_input_event_sync(r);
    seed_save(&s, "mouse");
}

static void seed_caps_words(void)
{
    const uint32_t words[3] = { AGENT_CAPS, 0x00000001, 0x80000000 };
    Seed s;

    seed_start(&s, words, 3, true);
    seed_save(&s, "caps-words");
}

static void seed_max_clipboard(void)
{
    uint8_t max[4] = { 0x00, 0x10, 0x00, 0x00 };     /* 4096 */
    Seed s;

    seed_start(&s, NULL, 0, true);
    guest_agent_send_message(s.ga, VD_AGENT_MAX_CLIPBOARD, max, 4);
    seed_pump(&s);
    seed_save(&s, "max-clipboard");
}

/* Another peer reset the serials: the device waits for a reconnect. */
static void seed_reconnect_pending(void)
{
    Seed s;

    seed_start(&s, NULL, 0, true);
    vdc_clipboard_hub_reset_serial(vdc_chardev_clipboard_hub(s.dev));
    seed_save(&s, "reconnect-pending");
}

/* An agent without selections nor serials (the Windows agent's caps). */
static void seed_old_agent(void)
{
    const uint32_t caps = (1u << VD_AGENT_CAP_MOUSE_STATE) |
                          (1u << VD_AGENT_CAP_MONITORS_CONFIG) |
                          (1u << VD_AGENT_CAP_REPLY) |
                          (1u << VD_AGENT_CAP_CLIPBOARD_BY_DEMAND);
    Seed s;

    seed_start(&s, &caps, 1, true);
    guest_agent_send_grab(s.ga, 0, &text, 1);
    seed_pump(&s);
    guest_agent_send_clipboard(s.ga, 0, text, "old", 3);
    seed_pump(&s);
    seed_save(&s, "old-agent");
}

/* Everything at once. */
static void seed_full(void)
{
    uint8_t *data = test_pattern(300, 5);
    VdcInputRouter *r;
    Seed s;

    seed_start(&s, NULL, 0, true);
    r = vdc_chardev_input_router(s.dev);
    host_grab(&s, 1, VDC_CLIPBOARD_TYPE_TEXT, NULL, 0);
    guest_agent_send_grab(s.ga, 0, text_png, 2);
    guest_agent_send_request(s.ga, 1, text);
    seed_pump(&s);
    host_ask(&s, 0, VDC_CLIPBOARD_TYPE_TEXT);
    guest_agent_send_clipboard(s.ga, 0, text, "full", 4);
    seed_pump(&s);
    vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, 300);
    vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_MIDDLE, true);
    vdc_input_event_sync(r);
    s.unlimited = false;
    s.budget = 0;
    host_ask(&s, 0, VDC_CLIPBOARD_TYPE_PNG);
    guest_agent_send_clipboard(s.ga, 0, text_png[1], data, 300);
    push_part(&s, 8 + 20 + 100);
    seed_save(&s, "full");
    g_free(data);
}

/* caps, last_serial x3, cbpending x3, nothing else: by hand. */
static void seed_rfc_layout(void)
{
    static const uint8_t rfc[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3,
        0x04, 0, 0, 0, 0, 7, 'v', 'd', 'a', 'g', 'e', 'n', 't',
        0, 0, 0, 0, 0, 0, 0, 1,
        0x00, 0x03, 0x8d, 0xe7,                 /* caps */
        0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0,     /* last_serial */
        0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3,     /* cbpending */
        0x7e, 0, 0, 0, 0,
        0x00,
    };

    write_file("rfc-layout", rfc, sizeof(rfc));
}

int main(int argc, char **argv)
{
    g_set_prgname("make-loader-seeds");
    if (argc > 2) {
        fprintf(stderr, "usage: %s [OUTDIR]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        outdir = argv[1];
    }
    if (g_mkdir_with_parents(outdir, 0755) != 0) {
        seed_die("cannot create %s", outdir);
    }
    seed_fresh();
    seed_idle();
    seed_partial("mid-chunk-header", 100, 3);
    seed_partial("mid-message-header", 100, 8 + 11);
    seed_partial("header-only", 100, 8 + 20);
    seed_partial("mid-body", 100, 8 + 20 + 50);
    seed_partial("mid-body-large", 40000, 8 + 20 + 30000);
    seed_multi_chunk("mid-multi-chunk", 2056 + 700);
    seed_multi_chunk("between-chunks", 2056);
    seed_multi_chunk("mid-second-chunk-header", 2056 + 5);
    seed_skip("oversize-skip", true);
    seed_skip("bad-port-skip", false);
    seed_pending_request();
    for (unsigned sel = 0; sel < VDC_CLIPBOARD_SELECTION__COUNT; sel++) {
        seed_owned(sel);
    }
    seed_host_request();
    seed_queued_output();
    seed_half_reply("half-reply-mid-chunk-header", 2056 * 3 + 5);
    seed_half_reply("half-reply-mid-payload", 2056 * 10 + 1000);
    seed_mouse();
    seed_caps_words();
    seed_max_clipboard();
    seed_reconnect_pending();
    seed_old_agent();
    seed_full();
    seed_rfc_layout();
    return failures ? 1 : 0;
}
