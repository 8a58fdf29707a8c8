/*
 * loader-checks.c: the device checks of the migration-loader fuzz
 * targets.  See loader-checks.h.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipboard/vdc-clipboard.h"
#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "tests/fuzz/loader-checks.h"
#include "vdagent/vdc-vdagent.h"

/* The loader's bound on restored output (vdagent-vmstate.c). */
#define FUZZ_OUTPUT_LIMIT       ((uint64_t)FUZZ_MAX_MESSAGE * 4 + 1024 * 1024)
/* Where the "caps" field sits in a saved stream of one section. */
#define CAPS_FIELD_AT           29

/* The Linux agent's caps word (spice-vdagentd 0.22.1). */
#define AGENT_CAPS              0x00038de7u

/* ---- checks ------------------------------------------------------------ */

static const char *target_name = "fuzz";

void fuzz_checks_init(const char *name)
{
    target_name = name;
    /* A g_return_if_fail or g_warning is a bug the fuzzer found. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "%s: ", target_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- the frontend: takes everything, keeps the bytes of one open ------- */

static size_t sink_can_write(void *opaque)
{
    (void)opaque;
    return 1u << 20;
}

static void sink_write(void *opaque, const uint8_t *buf, size_t len)
{
    FuzzSink *sink = opaque;

    /* Bounded: the first KiB is all a check ever looks at. */
    if (sink->wire->len < 1024) {
        g_byte_array_append(sink->wire, buf, MIN(len, 1024 - sink->wire->len));
    }
}

static const VdcFrontendOps sink_ops = {
    .can_write = sink_can_write,
    .write = sink_write,
};

VdcChardev *fuzz_device_new(FuzzSink *sink)
{
    VdcConfig config;
    VdcChardev *dev;
    GError *err = NULL;

    vdc_config_init(&config);
    config.mouse = true;
    config.clipboard = true;
    config.monitors = true;
    config.max_message = FUZZ_MAX_MESSAGE;
    sink->wire = g_byte_array_new();
    dev = vdc_chardev_new(&config, &sink_ops, sink, &err);
    CHECK(dev && !err, "device_new: %s", err ? err->message : "NULL");
    vdc_chardev_set_running(dev, false);
    return dev;
}

void fuzz_device_free(VdcChardev *dev, FuzzSink *sink)
{
    vdc_chardev_free(dev);
    g_byte_array_unref(sink->wire);
}

bool fuzz_device_load(VdcChardev *dev, const uint8_t *data, size_t size,
                      GError **errp)
{
    VdcMigrationRegistry *reg = vdc_migration_registry_new();
    VdcMigrationStream *s = vdc_migration_stream_new_reader(data, size);
    bool ok;

    CHECK(vdc_chardev_register_migration(dev, reg, 0, NULL), "register");
    ok = vdc_migration_load(reg, s, errp);
    vdc_migration_stream_free(s);
    vdc_migration_registry_free(reg);
    return ok;
}

/* Save @dev; the stream (g_byte_array) or NULL with @errp set. */
GByteArray *fuzz_device_save(VdcChardev *dev, GError **errp)
{
    VdcMigrationRegistry *reg = vdc_migration_registry_new();
    VdcMigrationStream *s = vdc_migration_stream_new_buffer();
    GByteArray *out = NULL;
    const uint8_t *p;
    size_t n;

    CHECK(vdc_chardev_register_migration(dev, reg, 0, NULL), "register");
    if (vdc_migration_save(reg, s, errp)) {
        p = vdc_migration_stream_data(s, &n);
        out = g_byte_array_sized_new(n);
        g_byte_array_append(out, p, n);
    }
    vdc_migration_stream_free(s);
    vdc_migration_registry_free(reg);
    return out;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

/* Nobody owns anything on @dev's hub (a fresh device's hub is empty). */
void fuzz_check_hub_empty(VdcChardev *dev, const char *when)
{
    VdcClipboardHub *hub = vdc_chardev_clipboard_hub(dev);

    for (unsigned s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        VdcClipboardInfo *info = vdc_clipboard_hub_info(hub, s);

        CHECK(!info || !info->owner, "%s: selection %u owned", when, s);
    }
}

/*
 * A fresh device: nothing of a session, and opening it sends exactly a
 * new device's caps request.
 */
void fuzz_check_fresh_and_works(VdcChardev *dev, FuzzSink *sink,
                                const char *when)
{
    VdcMouse m;
    size_t n = 1;
    const uint8_t *w;

    CHECK(!vdc_chardev_connected(dev), "%s: connected", when);
    vdc_chardev_guest_caps(dev, &n);
    CHECK(n == 0, "%s: %zu guest caps words", when, n);
    CHECK(vdc_chardev_pending_output(dev) == 0, "%s: %" G_GUINT64_FORMAT
          " bytes of output", when, vdc_chardev_pending_output(dev));
    vdc_chardev_mouse_state(dev, &m);
    CHECK((m.x | m.y | m.buttons | m.display_id) == 0, "%s: pointer state",
          when);
    fuzz_check_hub_empty(dev, when);

    vdc_chardev_set_running(dev, true);
    CHECK(sink->wire->len == 0, "%s: %u bytes written on run", when,
          sink->wire->len);
    vdc_chardev_set_guest_open(dev, true);
    /* chunk {1, 28}, message {1, ANNOUNCE_CAPABILITIES, 0, 8}, {1, caps} */
    w = sink->wire->data;
    CHECK(sink->wire->len == 36 && le32(w) == 1 && le32(w + 4) == 28 &&
          le32(w + 8) == 1 && le32(w + 12) == 6 && le32(w + 24) == 8 &&
          le32(w + 28) == 1 && le32(w + 32) == vdc_chardev_host_caps(dev),
          "%s: open wrote %u bytes, not a caps request", when,
          sink->wire->len);
}

/* ---- the continuation -------------------------------------------------- */

/*
 * ANNOUNCE_CAPABILITIES {request 1, the Linux agent's word}, then
 * CLIPBOARD_REQUEST {selection CLIPBOARD, UTF8_TEXT} with the selection
 * prefix, each one chunk on port 1, little-endian.
 */
static const uint8_t continuation[] = {
    0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,     /* chunk 1, 28 */
    0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,     /* protocol, caps */
    0, 0, 0, 0, 0, 0, 0, 0,                             /* opaque */
    0x08, 0x00, 0x00, 0x00,                             /* size 8 */
    0x01, 0x00, 0x00, 0x00,                             /* request 1 */
    0xe7, 0x8d, 0x03, 0x00,                             /* AGENT_CAPS */
    0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,     /* chunk 1, 28 */
    0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,     /* protocol, request */
    0, 0, 0, 0, 0, 0, 0, 0,                             /* opaque */
    0x08, 0x00, 0x00, 0x00,                             /* size 8 */
    0x00, 0x00, 0x00, 0x00,                             /* CLIPBOARD */
    0x01, 0x00, 0x00, 0x00,                             /* UTF8_TEXT */
};

/* ---- a successful load ------------------------------------------------- */

void fuzz_check_loaded(VdcChardev *dev, FuzzSink *sink)
{
    const uint32_t *caps;
    size_t n = 0;
    uint64_t pending = vdc_chardev_pending_output(dev);
    GByteArray *again, *third;
    VdcChardev *dev2;
    FuzzSink sink2;
    GError *err = NULL;

    /* Structural invariants. */
    caps = vdc_chardev_guest_caps(dev, &n);
    CHECK(n <= VDC_MAX_CAPS_WORDS, "%zu caps words", n);
    if (!vdc_chardev_connected(dev)) {
        CHECK(n == 0, "guest caps without a connected guest");
        CHECK(pending == 0, "output without a connected guest");
        fuzz_check_hub_empty(dev, "loaded, not connected");
    }
    CHECK(pending <= FUZZ_OUTPUT_LIMIT, "%" G_GUINT64_FORMAT
          " bytes of output restored", pending);
    CHECK(sink->wire->len == 0, "the load wrote %u bytes", sink->wire->len);

    /* save(load(x)) loads, and saves to the same bytes again. */
    again = fuzz_device_save(dev, &err);
    CHECK(again, "save after load: %s", err ? err->message : "");
    CHECK(again->len > CAPS_FIELD_AT + 4 &&
          be32(again->data + CAPS_FIELD_AT) == (n ? caps[0] : 0),
          "saved caps field 0x%08x, guest caps word 0x%08x",
          be32(again->data + CAPS_FIELD_AT), n ? caps[0] : 0);
    dev2 = fuzz_device_new(&sink2);
    CHECK(fuzz_device_load(dev2, again->data, again->len, &err),
          "loading a saved state: %s", err ? err->message : "");
    third = fuzz_device_save(dev2, &err);
    CHECK(third, "second save: %s", err ? err->message : "");
    CHECK(third->len == again->len &&
          memcmp(third->data, again->data, again->len) == 0,
          "save(load(s)) differs from s: %u and %u bytes", again->len,
          third->len);
    g_byte_array_unref(third);
    g_byte_array_unref(again);
    fuzz_device_free(dev2, &sink2);

    /* The guest's open after a load is not a reconnect. */
    if (vdc_chardev_connected(dev)) {
        vdc_chardev_set_guest_open(dev, true);
        CHECK(vdc_chardev_pending_output(dev) == pending,
              "open after load queued %" G_GUINT64_FORMAT " bytes",
              vdc_chardev_pending_output(dev) - pending);
    }

    /* Run, open, continue as a guest would, save. */
    vdc_chardev_set_running(dev, true);
    CHECK(vdc_chardev_pending_output(dev) == 0, "output left after run");
    vdc_chardev_set_guest_open(dev, true);
    vdc_chardev_write(dev, continuation, sizeof(continuation));
    vdc_chardev_accept_input(dev);
    caps = vdc_chardev_guest_caps(dev, &n);
    CHECK(n <= VDC_MAX_CAPS_WORDS, "%zu caps words", n);
    vdc_chardev_set_running(dev, false);
    again = fuzz_device_save(dev, &err);
    CHECK(again, "save after the continuation: %s", err ? err->message : "");
    /* A state reached by running is one a destination takes. */
    dev2 = fuzz_device_new(&sink2);
    CHECK(fuzz_device_load(dev2, again->data, again->len, &err),
          "loading the state after the continuation: %s",
          err ? err->message : "");
    fuzz_device_free(dev2, &sink2);
    g_byte_array_unref(again);
}
