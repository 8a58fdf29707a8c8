/*
 * check_vdagent_state_blob.c: the device's state as one blob
 * (vdc_chardev_save_state() / vdc_chardev_load_state(), issue 15 point 6),
 * for an embedding whose migration has a format of its own.
 *
 * The blob is the "vdagent" section in a QEVM container with its vmdesc:
 * the same bytes a registry holding only the device saves, loadable from
 * memory or an fd (which is read no further than the blob), refused with
 * a clear error whenever it is not the device's whole state, and the
 * device left fresh then.  The check step: the source stays stopped and
 * whole until the destination's verdict, and resumes with nothing lost
 * when the load fails.  Fixture: check_vdagent_migration.h.
 */
#include <check.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* A source with an agent, a host grab it was told of and a pending guest
 * request the host peer has not answered: state in every direction; and
 * the guest's grab of PRIMARY, but with the Windows agent (CLIPBOARD
 * only, the host's). */
typedef struct Src {
    VdcConfig config;
    GuestAgent *ga;
    TestFe *fe;
    HostPeer *hp;
} Src;

/* What the host peer @hp knows of PRIMARY: the guest's (Linux), nobody's
 * (Windows). */
static void ck_primary(const HostPeer *hp)
{
    ck_assert_uint_eq(hp->view[1].owner, MIG_SEL(1) == 1 ? 'g' : 'n');
}

static void src_new(Src *s)
{
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;

    s->config = mig_config();
    s->ga = real_agent();
    s->fe = fe_new_detached(&s->config);
    mig_connect(s->fe, s->ga);
    s->hp = fe_peer_new(s->fe);
    hp_grab(s->hp, 0, BIT(TEXT));
    guest_agent_clear_received(s->ga);
    guest_agent_send_request(s->ga, 0, text);
    fe_pump(s->fe);
    ck_assert_uint_eq(s->hp->requests->len, 1);
    if (MIG_SEL(1) == 1) {
        guest_agent_send_grab(s->ga, 1, &text, 1);
        fe_pump(s->fe);
    }
    ck_primary(s->hp);
}

static void src_free(Src *s)
{
    fe_free(s->fe);
    guest_agent_free(s->ga);
}

static GByteArray *blob_of(VdcChardev *dev)
{
    g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    const uint8_t *p;
    size_t n;

    ck_assert_msg(vdc_chardev_save_state(dev, out, &err), "save_state: %s",
                  err ? err->message : "?");
    p = vdc_migration_stream_data(out, &n);
    return bytes_copy(p, n);
}

static bool load_blob(VdcChardev *dev, const uint8_t *p, size_t n,
                      GError **errp)
{
    g_autoptr(VdcMigrationStream) in = vdc_migration_stream_new_reader(p, n);

    return vdc_chardev_load_state(dev, in, errp);
}

/* A fresh device: not connected, nothing queued, no clipboard state. */
static void ck_fresh(VdcChardev *dev)
{
    uint32_t serial[N_SEL], pending[N_SEL];
    size_t n_caps;
    unsigned s;

    ck_assert(!vdc_chardev_connected(dev));
    ck_assert_uint_eq(vdc_chardev_pending_output(dev), 0);
    vdc_chardev_guest_caps(dev, &n_caps);
    ck_assert_uint_eq(n_caps, 0);
    vdc_chardev_clipboard_state(dev, serial, pending);
    for (s = 0; s < N_SEL; s++) {
        ck_assert_uint_eq(serial[s], 0);
        ck_assert_uint_eq(pending[s], 0);
    }
}

/*
 * The blob is the device's section in a registry of its own, byte for
 * byte: a stream a registry-based destination loads too, and the other
 * way round.  It is self-describing: its vmdesc names the section and
 * its version.  Loaded into a new device, the session goes on (the
 * pending request is answered there, the guest's grab is known, no
 * reconnect) and the loaded device saves the same bytes again.
 */
START_TEST(test_blob_round_trip)
{
    Src s;
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GByteArray) reg_stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    g_autoptr(GError) err = NULL;
    const GuestAgentMsg *m;
    struct json_object *desc, *devices, *dev0, *v;
    size_t eof;
    HostPeer *hp2;
    TestFe *dst;

    src_new(&s);
    vdc_chardev_set_running(s.fe->dev, false);
    blob = blob_of(s.fe->dev);
    reg_stream = save_dev(s.fe->dev);
    ck_assert_uint_eq(blob->len, reg_stream->len);
    ck_assert_mem_eq(blob->data, reg_stream->data, blob->len);

    /* self-describing: magic, version, and the vmdesc after EOF */
    ck_assert_mem_eq(blob->data, "QEVM\0\0\0\3", 8);
    eof = eof_offset(blob);
    ck_assert_uint_eq(blob->data[eof + 1], 0x06);          /* VMDESCRIPTION */
    {
        g_autofree char *json = g_strndup((const char *)blob->data + eof + 6,
                                          blob->len - eof - 6);

        desc = json_tokener_parse(json);
    }
    ck_assert_ptr_nonnull(desc);
    ck_assert(json_object_object_get_ex(desc, "devices", &devices));
    ck_assert_uint_eq(json_object_array_length(devices), 1);
    dev0 = json_object_array_get_idx(devices, 0);
    ck_assert(json_object_object_get_ex(dev0, "name", &v));
    ck_assert_str_eq(json_object_get_string(v), "vdagent");
    ck_assert(json_object_object_get_ex(dev0, "version", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    json_object_put(desc);

    s.fe->ga = NULL;
    dst = dest_new(s.fe);
    hp2 = hp_restore(s.hp, dst);      /* the host peer migrates its own */
    ck_assert_msg(load_blob(dst->dev, blob->data, blob->len, &err),
                  "load_state: %s", err ? err->message : "?");
    again = blob_of(dst->dev);
    ck_assert_uint_eq(again->len, blob->len);
    ck_assert_mem_eq(again->data, blob->data, blob->len);

    dest_resume(dst, s.ga);
    /* The guest's pending request is answered once, from the destination. */
    if (hp2->requests->len) {
        ck_assert_uint_eq(hp2->requests->len, 1);
        hp_answer(hp2, 0, VDC_CLIPBOARD_TYPE_TEXT, "after", 5);
    }
    ck_assert_uint_eq(guest_agent_count_type(s.ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(s.ga, VD_AGENT_CLIPBOARD, 0);
    ck_assert_uint_eq(m->data[0], MIG_PREFIX ? 0 : VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(m->size == MIG_CLIP_HEAD ||
              (m->size == MIG_CLIP_HEAD + 5 &&
               memcmp(m->data + MIG_CLIP_HEAD, "after", 5) == 0));
    /* The guest's grab of PRIMARY is known there. */
    ck_primary(hp2);
    ck_assert_ptr_null(guest_agent_find(s.ga, VD_AGENT_ANNOUNCE_CAPABILITIES,
                                        0));
    ck_agent_clean(s.ga);
    fe_free(dst);
    src_free(&s);
}
END_TEST

/*
 * Through an fd: the saver writes the blob to a file, the loader reads
 * no further than its end, so the embedding's own bytes after it are
 * still there to read.
 */
START_TEST(test_blob_through_fd)
{
    Src s;
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    char tail[8] = { 0 };
    TestFe *dst;
    int fd;

    src_new(&s);
    vdc_chardev_set_running(s.fe->dev, false);
    blob = blob_of(s.fe->dev);
    fd = g_file_open_tmp("blob-XXXXXX", &path, &err);
    ck_assert_msg(fd >= 0, "tmp: %s", err ? err->message : "?");
    unlink(path);
    {
        g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_fd(fd,
                                                                       true);

        ck_assert_msg(vdc_chardev_save_state(s.fe->dev, out, &err),
                      "save_state to fd: %s", err ? err->message : "?");
    }
    ck_assert_int_eq(write(fd, "TAIL", 4), 4);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);

    s.fe->ga = NULL;
    dst = dest_new(s.fe);
    {
        g_autoptr(VdcMigrationStream) in = vdc_migration_stream_new_fd(fd,
                                                                      false);

        ck_assert_msg(vdc_chardev_load_state(dst->dev, in, &err),
                      "load_state from fd: %s", err ? err->message : "?");
    }
    ck_assert_int_eq(read(fd, tail, sizeof(tail)), 4);
    ck_assert_str_eq(tail, "TAIL");
    close(fd);
    {
        g_autoptr(GByteArray) again = blob_of(dst->dev);

        ck_assert_uint_eq(again->len, blob->len);
        ck_assert_mem_eq(again->data, blob->data, blob->len);
    }
    dest_resume(dst, s.ga);
    ck_agent_clean(s.ga);
    fe_free(dst);
    src_free(&s);
}
END_TEST

/* A running device is not saved: a clear error, nothing changes. */
START_TEST(test_blob_save_running_refused)
{
    Src s;
    g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
    g_autoptr(GError) err = NULL;
    size_t n;

    src_new(&s);
    ck_assert(!vdc_chardev_save_state(s.fe->dev, out, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err->message, "stop it"));
    vdc_migration_stream_data(out, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert(vdc_chardev_connected(s.fe->dev));
    /* the session goes on: the host peer's answer reaches the guest */
    hp_answer(s.hp, 0, VDC_CLIPBOARD_TYPE_TEXT, "x", 1);
    ck_assert_ptr_nonnull(guest_agent_find(s.ga, VD_AGENT_CLIPBOARD, 0));
    ck_agent_clean(s.ga);
    src_free(&s);
}
END_TEST

/*
 * Every prefix of the blob is refused with an error, and the device is
 * fresh after each (but the one that ends at EOF: the vmdesc is optional,
 * the state is whole without it): a new agent then connects and is served as on a new
 * device.
 */
START_TEST(test_blob_truncated_everywhere)
{
    Src s;
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GuestAgent) ga2 = real_agent();
    TestFe *dst;
    size_t n;

    src_new(&s);
    vdc_chardev_set_running(s.fe->dev, false);
    blob = blob_of(s.fe->dev);
    dst = dest_new(s.fe);
    for (n = 0; n < blob->len; n++) {
        g_autoptr(GError) err = NULL;

        if (n == eof_offset(blob) + 1) {
            /* No vmdesc at all: optional, as in QEMU's streams; the state
               is whole and loads. */
            ck_assert_msg(load_blob(dst->dev, blob->data, n, &err),
                          "without its vmdesc: %s", err ? err->message : "?");
            continue;
        }
        ck_assert_msg(!load_blob(dst->dev, blob->data, n, &err),
                      "a blob cut at %zu of %u loaded", n, blob->len);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err->message, "device state: "));
        ck_fresh(dst->dev);
    }
    vdc_chardev_set_running(dst->dev, true);
    mig_connect(dst, ga2);
    ck_assert(vdc_chardev_connected(dst->dev));
    ck_agent_clean(ga2);
    fe_free(dst);
    src_free(&s);
}
END_TEST

/*
 * Streams that are not the device's whole state: another magic, a newer
 * stream version, a container without the device's section, one with a
 * section of someone else's, a newer section version.  Each a clear
 * error naming what is wrong; the device fresh.
 */
START_TEST(test_blob_not_device_state)
{
    static const struct {
        const char *what;
        const char *expect;
    } cases[] = {
        { "magic", "not a migration stream" },
        { "stream version", "unsupported stream version" },
        { "no section", "holds no \"vdagent\" section" },
        { "other section", "other" },
        { "section version", "version" },
    };
    Src s;
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) b = g_byte_array_new();
    TestFe *dst;

    src_new(&s);
    vdc_chardev_set_running(s.fe->dev, false);
    blob = blob_of(s.fe->dev);
    dst = dest_new(s.fe);

    switch (_i) {
    case 0:
        g_byte_array_append(b, blob->data, blob->len);
        b->data[0] = 'X';
        break;
    case 1:
        g_byte_array_append(b, blob->data, blob->len);
        b->data[7] = 4;
        break;
    case 2: {
        /* what a registry with no section saves */
        g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
        g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
        const uint8_t *p;
        size_t n;

        ck_assert(vdc_migration_save(reg, out, NULL));
        p = vdc_migration_stream_data(out, &n);
        g_byte_array_append(b, p, n);
        break;
    }
    case 3:
        /* the section renamed: same length, another id string */
        g_byte_array_append(b, blob->data, blob->len);
        ck_assert_mem_eq(b->data + 14, "vdagent", 7);
        memcpy(b->data + 14, "other\0\0", 7);
        b->data[13] = 5;
        g_byte_array_remove_range(b, 19, 2);
        break;
    case 4:
        g_byte_array_append(b, blob->data, blob->len);
        ck_assert_uint_eq(b->data[28], 1);       /* be32 version after id */
        b->data[28] = 9;
        break;
    }
    ck_assert(!load_blob(dst->dev, b->data, b->len, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err->message, cases[_i].expect) != NULL,
                  "%s: error '%s' does not say '%s'", cases[_i].what,
                  err->message, cases[_i].expect);
    ck_fresh(dst->dev);
    fe_free(dst);
    src_free(&s);
}
END_TEST

/*
 * The check step: the destination's load fails (a corrupted copy), so
 * the source, stopped and unchanged since its save, resumes and the
 * session goes on with nothing lost; a second save is the same blob, and
 * it loads.
 */
START_TEST(test_blob_check_step_source_resumes)
{
    Src s;
    g_autoptr(GByteArray) blob = NULL;
    g_autoptr(GByteArray) bad = NULL;
    g_autoptr(GByteArray) again = NULL;
    g_autoptr(GError) err = NULL;
    TestFe *dst;

    src_new(&s);
    vdc_chardev_set_running(s.fe->dev, false);
    blob = blob_of(s.fe->dev);
    bad = bytes_copy(blob->data, blob->len);
    bad->data[eof_offset(bad) - 1] ^= 0xff;      /* the section's footer */
    dst = dest_new(s.fe);
    ck_assert(!load_blob(dst->dev, bad->data, bad->len, &err));
    ck_fresh(dst->dev);
    fe_free(dst);

    /* The verdict says no: the source saves the same state again... */
    again = blob_of(s.fe->dev);
    ck_assert_uint_eq(again->len, blob->len);
    ck_assert_mem_eq(again->data, blob->data, blob->len);
    /* ...and resumes: the host peer's answer reaches the guest. */
    vdc_chardev_set_running(s.fe->dev, true);
    hp_answer(s.hp, 0, VDC_CLIPBOARD_TYPE_TEXT, "kept", 4);
    ck_assert_ptr_nonnull(guest_agent_find(s.ga, VD_AGENT_CLIPBOARD, 0));
    ck_primary(s.hp);
    ck_agent_clean(s.ga);
    src_free(&s);
}
END_TEST

Suite *vdagent_state_blob_suite(void)
{
    Suite *s = suite_create("vdagent-state-blob");
    TCase *tc = tcase_create("blob");

    tcase_add_test(tc, test_blob_round_trip);
    tcase_add_test(tc, test_blob_through_fd);
    tcase_add_test(tc, test_blob_save_running_refused);
    tcase_add_test(tc, test_blob_truncated_everywhere);
    tcase_add_loop_test(tc, test_blob_not_device_state, 0, 5);
    tcase_add_test(tc, test_blob_check_step_source_resumes);
    suite_add_tcase(s, tc);

    /* The same with the Windows agent (issue 22): CLIPBOARD only. */
    tc = tcase_create("blob-windows");
    tcase_add_checked_fixture(tc, mig_model_windows, mig_model_linux);
    tcase_add_test(tc, test_blob_round_trip);
    tcase_add_test(tc, test_blob_through_fd);
    tcase_add_test(tc, test_blob_save_running_refused);
    tcase_add_test(tc, test_blob_truncated_everywhere);
    tcase_add_loop_test(tc, test_blob_not_device_state, 0, 5);
    tcase_add_test(tc, test_blob_check_step_source_resumes);
    suite_add_tcase(s, tc);
    return s;
}
