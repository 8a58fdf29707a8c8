/*
 * check_vdagent_file_xfer.c: files to the guest (vdagent-file-xfer.c),
 * against the scripted agent's file-transfer model (tests/guest-agent.c,
 * spice-vdagent's behaviour): the START text as the agent parses it,
 * byte-exact files, several at once, the output window, every guest
 * status, a full disk, host cancel, a guest close, a failing source, bad
 * guest statuses dropped and counted, and re-entry from the callback.
 */
#define _GNU_SOURCE
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdc-file-xfer.h"

Suite *vdagent_file_xfer_suite(void);


/* ---- a source in memory ------------------------------------------------ */

typedef struct MemSrc {
    const uint8_t *data;
    size_t len;                  /* what read() gives, then 0 */
    size_t pos;
    ssize_t fail_at;             /* >= 0: read() fails once pos reaches it */
    unsigned closes;
    size_t max_read;             /* largest single read asked */
} MemSrc;

static gssize mem_read(void *opaque, uint8_t *buf, size_t len)
{
    MemSrc *s = opaque;
    size_t n;

    s->max_read = MAX(s->max_read, len);
    if (s->fail_at >= 0 && s->pos >= (size_t)s->fail_at) {
        return -1;
    }
    n = MIN(len, s->len - s->pos);
    /* a short read now and then: the device reads on */
    if (n > 100 && (s->pos / 7) % 3 == 0) {
        n -= 17;
    }
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (gssize)n;
}

static void mem_close(void *opaque)
{
    ((MemSrc *)opaque)->closes++;
}

static const VdcFileSource mem_source = { mem_read, mem_close };

static MemSrc mem_src(const uint8_t *data, size_t len)
{
    return (MemSrc){ .data = data, .len = len, .fail_at = -1 };
}

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = g_malloc(len ? len : 1);
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
    }
    return p;
}

/* ---- what the embedding hears ------------------------------------------ */

typedef struct Log {
    GString *seq;                /* one letter per status change, per call */
    VdcFileXferInfo last[8];     /* the last call, per id (ids 1..7) */
    char *message[8];
    unsigned ends[8];            /* terminal calls per id */
    unsigned progress[8];
    TestFe *fe;
    /* re-entry: on the first SENDING of id @cancel_other_on, cancel
     * @cancel_other; on any end, start @restart (a name) */
    uint32_t cancel_other_on, cancel_other;
    MemSrc *restart_src;
    uint32_t restarted;
} Log;

static void log_update(void *opaque, const VdcFileXferInfo *info)
{
    Log *lg = opaque;
    uint32_t id = info->id;

    ck_assert_uint_lt(id, 8);
    if (info->status >= VDC_FILE_XFER_SUCCESS) {
        lg->ends[id]++;
        g_string_append_printf(lg->seq, "%u:%s ", id,
                               vdc_file_xfer_status_name(info->status));
        /* out of the device already */
        ck_assert(!vdc_file_xfer_get(lg->fe->dev, id, &(VdcFileXferInfo){ 0 }));
    } else if (lg->last[id].status != info->status || lg->last[id].id == 0) {
        g_string_append_printf(lg->seq, "%u:%s ", id,
                               vdc_file_xfer_status_name(info->status));
    } else {
        ck_assert_uint_gt(info->sent, lg->last[id].sent);
        lg->progress[id]++;
    }
    lg->last[id] = *info;
    lg->last[id].name = NULL;
    g_free(lg->message[id]);
    lg->message[id] = g_strdup(info->message);
    lg->last[id].message = NULL;
    if (lg->cancel_other_on == id && info->status == VDC_FILE_XFER_SENDING) {
        lg->cancel_other_on = 0;
        ck_assert(vdc_file_xfer_cancel(lg->fe->dev, lg->cancel_other));
    }
    if (lg->restart_src && info->status >= VDC_FILE_XFER_SUCCESS) {
        MemSrc *s = g_steal_pointer(&lg->restart_src);

        lg->restarted = vdc_file_xfer_start(lg->fe->dev, "again", NULL, s->len,
                                            &mem_source, s, NULL);
        ck_assert_uint_ne(lg->restarted, 0);
    }
}

static const VdcFileXferOps log_ops = { .update = log_update };

static void log_clear(Log *lg)
{
    unsigned i;

    g_string_free(lg->seq, TRUE);
    for (i = 0; i < 8; i++) {
        g_free(lg->message[i]);
    }
}

/* ---- fixture ------------------------------------------------------------ */

/*
 * Each test's set-up (a checked fixture): a connected device and an agent
 * with the model on (in memory), announcing REAL_AGENT_CAPS, and what the
 * embedding hears of it.  The sources and data a test makes with fx_src()
 * and fx_pattern() live until after the device is freed (it closes the
 * sources still under way).
 */
static TestFe *fe;
static Log l;
static GPtrArray *fx_owned;

static void fx_open(uint32_t caps)
{
    VdcConfig config = fe_config(true, true, true);

    fe = fe_new1(&config, caps);
    l = (Log){ .seq = g_string_new(NULL), .fe = fe };
    vdc_chardev_set_file_xfer_ops(fe->dev, &log_ops, &l);
    guest_agent_fx_enable(fe->ga, NULL);
    fe_open(fe);
}

/* The device (unless the test freed it), then the log. */
static void fx_close(void)
{
    g_clear_pointer(&fe, fe_free);
    log_clear(&l);
}

static void setup(void)
{
    fx_owned = g_ptr_array_new_with_free_func(g_free);
    fx_open(REAL_AGENT_CAPS);
}

static void teardown(void)
{
    fx_close();
    g_clear_pointer(&fx_owned, g_ptr_array_unref);
}

/* A source of @data's first @len bytes, kept until after the device. */
static MemSrc *fx_src(const uint8_t *data, size_t len)
{
    MemSrc *s = g_new(MemSrc, 1);

    *s = mem_src(data, len);
    g_ptr_array_add(fx_owned, s);
    return s;
}

/* pattern(), kept until after the device. */
static const uint8_t *fx_pattern(size_t len, unsigned seed)
{
    uint8_t *p = pattern(len, seed);

    g_ptr_array_add(fx_owned, p);
    return p;
}

/* Start @name, @size bytes from @s (no origin): its id, never 0. */
static uint32_t fx_start(const char *name, uint64_t size, MemSrc *s)
{
    uint32_t id = vdc_file_xfer_start(fe->dev, name, NULL, size, &mem_source,
                                      s, NULL);

    ck_assert_msg(id != 0, "%s not started", name);
    return id;
}

/* @f refuses to start @name at once, with @code. */
static void assert_start_refused(TestFe *f, const char *name, uint64_t size,
                                 MemSrc *s, VdcError code)
{
    g_autoptr(GError) err = NULL;

    ck_assert_uint_eq(vdc_file_xfer_start(f->dev, name, NULL, size,
                                          &mem_source, s, &err), 0);
    ck_assert_msg(g_error_matches(err, VDC_ERROR, code), "%s: %s", name,
                  err ? err->message : "no error");
}

/* Neither side saw anything wrong. */
static void assert_clean(TestFe *f)
{
    VdcCounters c = fe_counters(f);
    unsigned i;

    ck_assert_msg(guest_agent_errors(f->ga) == 0, "agent: %s",
                  guest_agent_last_error(f->ga));
    ck_assert_msg(guest_agent_ignored(f->ga) == 0, "agent ignored: %s",
                  guest_agent_last_ignored(f->ga));
    for (i = 0; i < VDC_DROP__COUNT; i++) {
        ck_assert_msg(c.drops[i] == 0, "drop %s", vdc_drop_name(i));
    }
}

/*
 * Run the exchange to its end: the agent's answers go in, the frontend
 * takes up to @room bytes per turn (0: unlimited).  Returns the turns.
 */
static unsigned run(TestFe *f, size_t room)
{
    unsigned turns = 0;

    f->unlimited = room == 0;
    for (;;) {
        bool more = guest_agent_output(f->ga)->len > 0 ||
                    vdc_chardev_pending_output(f->dev) > 0;

        if (!more) {
            break;
        }
        f->budget = room;
        fe_pump(f);
        f->budget = room;
        fe_accept(f);
        /* The window holds, whoever queued what. */
        ck_assert_uint_le(vdc_chardev_pending_output(f->dev),
                          VDC_FILE_XFER_WINDOW + VDC_FILE_XFER_CHUNK + 1024);
        /* ... and file data alone never pauses the guest's input */
        ck_assert_uint_gt(vdc_chardev_input_room(f->dev), 0);
        ck_assert_uint_lt(++turns, 1000000);
    }
    return turns;
}

static void assert_file(TestFe *f, const char *name, const uint8_t *data,
                        size_t len)
{
    g_autoptr(GBytes) got = guest_agent_fx_file(f->ga, name);

    ck_assert_msg(got != NULL, "no file %s in the guest", name);
    ck_assert_uint_eq(g_bytes_get_size(got), len);
    ck_assert(len == 0 || memcmp(g_bytes_get_data(got, NULL), data, len) == 0);
}

/* ---- tests --------------------------------------------------------------- */

/* 1 KiB, then 0 bytes: byte-exact, statuses in order, the source closed. */
START_TEST(test_small_and_empty)
{
    const uint8_t *data = fx_pattern(1024, 1);
    MemSrc *a = fx_src(data, 1024), *b = fx_src(NULL, 0);
    uint32_t ida, idb;

    ida = fx_start("one.bin", 1024, a);
    ck_assert_uint_eq(ida, 1);
    ck_assert_str_eq(l.seq->str, "");         /* no call from inside start */
    run(fe, 0);
    assert_file(fe, "one.bin", data, 1024);
    ck_assert_str_eq(l.seq->str, "1:sending 1:success ");
    ck_assert_uint_eq(l.last[1].sent, 1024);
    ck_assert_uint_eq(a->closes, 1);
    ck_assert_uint_le(a->max_read, VDC_FILE_XFER_CHUNK);

    idb = fx_start("empty", 0, b);
    ck_assert_uint_eq(idb, 2);
    run(fe, 0);
    assert_file(fe, "empty", NULL, 0);
    ck_assert_str_eq(l.seq->str,
                     "1:sending 1:success 2:sending 2:success ");
    ck_assert_uint_eq(b->closes, 1);
    /* one empty DATA carried the 0-byte file */
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_FILE_XFER_DATA),
                      2);
    ck_assert_uint_eq(vdc_file_xfer_list(fe->dev, NULL, 0), 0);
    assert_clean(fe);
}
END_TEST

/*
 * The START text: read back with GLib's key-file parser, as the agent
 * does: names with a backslash, blanks at the ends, '#', '=', '[' and
 * non-ASCII characters come out as they went in; the text ends with NUL.
 */
START_TEST(test_start_text)
{
    static const char *const names[] = {
        "plain.txt", "back\\slash", " lead and trail ", "#x=y[z];",
        "Größe — 文件.txt", "a",
    };
    size_t i;

    guest_agent_fx_set_hold(fe->ga, true);
    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        MemSrc *s = fx_src(NULL, 0);
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *name = NULL;
        const GuestAgentMsg *m;
        uint32_t id;

        id = vdc_file_xfer_start(fe->dev, names[i], NULL, 1000 + i, &mem_source,
                                 s, NULL);
        ck_assert_uint_ne(id, 0);
        m = guest_agent_find_last(fe->ga, VD_AGENT_FILE_XFER_START);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(test_le32(m->data), id);
        ck_assert_uint_eq(m->data[m->size - 1], 0);
        ck_assert_uint_eq(strlen((const char *)m->data + 4), m->size - 5);
        ck_assert(g_key_file_load_from_data(kf, (const char *)m->data + 4,
                                            -1, G_KEY_FILE_NONE, NULL));
        name = g_key_file_get_string(kf, "vdagent-file-xfer", "name", NULL);
        ck_assert_str_eq(name, names[i]);
        ck_assert_uint_eq(g_key_file_get_uint64(kf, "vdagent-file-xfer",
                                                "size", NULL), 1000 + i);
        ck_assert(vdc_file_xfer_cancel(fe->dev, id));
        ck_assert_uint_eq(s->closes, 1);
    }
    assert_clean(fe);
}
END_TEST

/* Names the agent could not take, or would turn into a path. */
START_TEST(test_bad_names)
{
    static const char *const names[] = {
        "", "a/b", "/etc/passwd", ".", "..", "tab\there", "nl\n",
        "\xff\xfe", "del\x7f",
    };
    g_autofree char *long_name = g_strnfill(VDC_FILE_XFER_NAME_MAX + 1, 'x');
    MemSrc *s = fx_src(NULL, 0);
    size_t i;

    for (i = 0; i <= G_N_ELEMENTS(names); i++) {
        assert_start_refused(fe, i < G_N_ELEMENTS(names) ? names[i] : long_name,
                             1, s, VDC_ERROR_INVALID_ARGUMENT);
    }
    ck_assert_uint_eq(s->closes, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_FILE_XFER_START),
                      0);
}
END_TEST

/*
 * Three at once through a narrow frontend: each byte-exact, their DATA
 * interleaved, the output never above the window (run()), and the
 * guest's input never paused by file data.
 */
START_TEST(test_several_at_once)
{
    static const size_t sizes[] = { 300 * 1024, 70000, 5 };
    const uint8_t *data[3];
    MemSrc *src[3];
    uint32_t last = 0;
    unsigned i, switches = 0;

    for (i = 0; i < 3; i++) {
        g_autofree char *name = g_strdup_printf("f%u", i);

        data[i] = fx_pattern(sizes[i], i);
        src[i] = fx_src(data[i], sizes[i]);
        ck_assert_uint_eq(fx_start(name, sizes[i], src[i]), i + 1);
    }
    /* small turns: the agent answers between DATA messages */
    run(fe, 3000);
    for (i = 0; i < 3; i++) {
        g_autofree char *name = g_strdup_printf("f%u", i);

        assert_file(fe, name, data[i], sizes[i]);
        ck_assert_uint_eq(l.ends[i + 1], 1);
        ck_assert_int_eq(l.last[i + 1].status, VDC_FILE_XFER_SUCCESS);
        ck_assert_uint_eq(src[i]->closes, 1);
    }
    ck_assert_uint_gt(l.progress[1], 10);
    for (i = 0; i < guest_agent_n_received(fe->ga); i++) {
        const GuestAgentMsg *m = guest_agent_received(fe->ga, i);

        if (m->type == VD_AGENT_FILE_XFER_DATA) {
            switches += test_le32(m->data) != last;
            last = test_le32(m->data);
            ck_assert_uint_le(m->size, 12 + VDC_FILE_XFER_CHUNK);
        }
    }
    ck_assert_uint_ge(switches, 6);          /* they took turns */
    ck_assert_uint_le(guest_agent_max_chunk(fe->ga), 2048);
    assert_clean(fe);
}
END_TEST

/* The data waits for CAN_SEND_DATA, and for the device to run. */
START_TEST(test_waits_for_the_agent)
{
    const uint8_t *data = fx_pattern(50000, 3);
    MemSrc *s = fx_src(data, 50000);
    uint32_t id;

    guest_agent_fx_set_hold(fe->ga, true);
    id = fx_start("held", 50000, s);
    run(fe, 0);
    ck_assert_uint_eq(s->pos, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_FILE_XFER_DATA),
                      0);
    vdc_chardev_set_running(fe->dev, false);
    guest_agent_fx_send_status(fe->ga, id,
                               VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    /* said twice: ignored */
    guest_agent_fx_send_status(fe->ga, id,
                               VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    fe_pump(fe);
    ck_assert_uint_eq(s->pos, 0);            /* stopped: nothing read */
    ck_assert_int_eq(l.last[id].status, VDC_FILE_XFER_SENDING);
    vdc_chardev_set_running(fe->dev, true);
    run(fe, 0);
    assert_file(fe, "held", data, 50000);
    ck_assert_str_eq(l.seq->str, "1:sending 1:success ");
    ck_assert_uint_eq(fe_counters(fe).ignored, 1);
    assert_clean(fe);
}
END_TEST

/* Every failure status the agent can answer a START with. */
static const struct {
    uint32_t result;
    VdcFileXferStatus status;
    const char *message;
} answers[] = {
    { VD_AGENT_FILE_XFER_STATUS_CANCELLED, VDC_FILE_XFER_GUEST_CANCELLED,
      "cancelled by the guest" },
    { VD_AGENT_FILE_XFER_STATUS_ERROR, VDC_FILE_XFER_ERROR,
      "the guest failed" },
    { VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE,
      VDC_FILE_XFER_NOT_ENOUGH_SPACE,
      "not enough space in the guest (123 bytes free, 4096 needed)" },
    { VD_AGENT_FILE_XFER_STATUS_SESSION_LOCKED, VDC_FILE_XFER_SESSION_LOCKED,
      "the guest's session is locked" },
    { VD_AGENT_FILE_XFER_STATUS_VDAGENT_NOT_CONNECTED,
      VDC_FILE_XFER_AGENT_NOT_CONNECTED, "no session agent in the guest" },
    { VD_AGENT_FILE_XFER_STATUS_DISABLED, VDC_FILE_XFER_DISABLED,
      "file transfer is disabled in the guest" },
    { 99, VDC_FILE_XFER_PROTOCOL_ERROR, "unknown status 99 from the agent" },
};

START_TEST(test_guest_answers)
{
    const uint8_t *data = fx_pattern(4096, 4);
    MemSrc *s = fx_src(data, 4096);
    g_autofree char *seq = NULL;
    uint32_t id;

    guest_agent_fx_set_disk_free(fe->ga, 123);
    guest_agent_fx_answer_next(fe->ga, (int)answers[_i].result);
    id = fx_start("x", 4096, s);
    run(fe, 0);
    ck_assert_int_eq(l.last[id].status, answers[_i].status);
    ck_assert_str_eq(l.message[id], answers[_i].message);
    ck_assert_uint_eq(l.ends[id], 1);
    ck_assert_uint_eq(s->closes, 1);
    ck_assert_uint_eq(s->pos, 0);
    ck_assert_uint_eq(l.last[id].has_detail,
                      answers[_i].status == VDC_FILE_XFER_NOT_ENOUGH_SPACE);
    if (l.last[id].has_detail) {
        ck_assert_uint_eq(l.last[id].disk_free, 123);
    }
    /* the host answers the agent's own end with nothing; an unknown
     * status gets CANCELLED */
    ck_assert_uint_eq(guest_agent_fx_host_statuses(fe->ga)->len,
                      answers[_i].result == 99);
    seq = g_strdup_printf("1:%s ", vdc_file_xfer_status_name(answers[_i].status));
    ck_assert_str_eq(l.seq->str, seq);
    /* the session goes on: the next one works */
    s = fx_src(data, 4096);
    guest_agent_fx_set_disk_free(fe->ga, UINT64_MAX);
    fx_start("y", 4096, s);
    run(fe, 0);
    assert_file(fe, "y", data, 4096);
    assert_clean(fe);
}
END_TEST

/*
 * The details: ERROR's {type, code}, NOT_ENOUGH_SPACE's free bytes; none
 * from an agent that leaves them out (an old one, or one that did not
 * see DETAILED_ERRORS); a short detail is no detail.
 */
START_TEST(test_details)
{
    MemSrc *s[4];
    uint8_t err[5] = { VD_AGENT_FILE_XFER_STATUS_ERROR_GLIB_IO, 12, 0, 0, 0 };
    uint8_t space[8] = { 0x00, 0x10, 0, 0, 1, 0, 0, 0 };
    unsigned i;

    ck_assert(guest_agent_host_has_cap(fe->ga,
                                       VD_AGENT_CAP_FILE_XFER_DETAILED_ERRORS));
    guest_agent_fx_set_hold(fe->ga, true);
    for (i = 0; i < 4; i++) {
        s[i] = fx_src(NULL, 0);
        ck_assert_uint_eq(fx_start("d", 10, s[i]), i + 1);
    }
    guest_agent_fx_send_status(fe->ga, 1, VD_AGENT_FILE_XFER_STATUS_ERROR,
                               err, 5);
    guest_agent_fx_send_status(fe->ga, 2,
                               VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE,
                               space, 8);
    guest_agent_fx_send_status(fe->ga, 3,
                               VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE,
                               space, 7);
    guest_agent_fx_send_status(fe->ga, 4, VD_AGENT_FILE_XFER_STATUS_ERROR,
                               NULL, 0);
    run(fe, 0);
    ck_assert(l.last[1].has_detail);
    ck_assert_uint_eq(l.last[1].error_type, 0);
    ck_assert_uint_eq(l.last[1].error_code, 12);
    ck_assert_str_eq(l.message[1], "the guest failed (error type 0, code 12)");
    ck_assert(l.last[2].has_detail);
    ck_assert_uint_eq(l.last[2].disk_free, 0x100001000ull);
    ck_assert(!l.last[3].has_detail);
    ck_assert_str_eq(l.message[3], "not enough space in the guest");
    ck_assert(!l.last[4].has_detail);
    ck_assert_str_eq(l.message[4], "the guest failed");
    assert_clean(fe);
}
END_TEST

/* A disk that fills up while the file comes: ERROR, the partial file gone. */
START_TEST(test_disk_fills)
{
    const uint8_t *data = fx_pattern(100000, 5);
    MemSrc *s = fx_src(data, 100000);
    uint32_t id;

    guest_agent_fx_set_hold(fe->ga, true);
    id = fx_start("big", 100000, s);
    run(fe, 0);
    guest_agent_fx_set_disk_free(fe->ga, 40000);
    guest_agent_fx_send_status(fe->ga, id,
                               VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    run(fe, 5000);
    ck_assert_int_eq(l.last[id].status, VDC_FILE_XFER_ERROR);
    ck_assert(l.last[id].has_detail);
    ck_assert_uint_eq(l.last[id].error_code, 12);    /* G_IO_ERROR_NO_SPACE */
    ck_assert_uint_eq(guest_agent_fx_removed(fe->ga), 1);
    ck_assert_uint_eq(guest_agent_fx_active(fe->ga), 0);
    ck_assert_uint_eq(s->closes, 1);
    /* DATA still queued when the ERROR came: the agent drops it */
}
END_TEST

/* Host cancel in the middle: CANCELLED to the agent, no partial file,
 * no DATA for it after, the others go on. */
START_TEST(test_host_cancel)
{
    const uint8_t *data = fx_pattern(200000, 6);
    MemSrc *a = fx_src(data, 200000), *b = fx_src(data, 200000);
    const GArray *st;
    size_t data_msgs;
    unsigned i;

    fx_start("a", 200000, a);
    fx_start("b", 200000, b);
    fe->unlimited = false;
    for (i = 0; i < 20; i++) {
        fe->budget = 2048;
        fe_pump(fe);
        fe_accept(fe);
    }
    ck_assert_uint_gt(guest_agent_fx_received(fe->ga, 1), 0);
    ck_assert_uint_lt(a->pos, 200000);
    ck_assert(vdc_file_xfer_cancel(fe->dev, 1));
    ck_assert(!vdc_file_xfer_cancel(fe->dev, 1));
    ck_assert_uint_eq(a->closes, 1);
    ck_assert_int_eq(l.last[1].status, VDC_FILE_XFER_CANCELLED);
    run(fe, 0);
    st = guest_agent_fx_host_statuses(fe->ga);
    ck_assert_uint_eq(st->len, 1);
    ck_assert_uint_eq(g_array_index(st, GuestFxStatus, 0).id, 1);
    ck_assert_uint_eq(g_array_index(st, GuestFxStatus, 0).result,
                      VD_AGENT_FILE_XFER_STATUS_CANCELLED);
    ck_assert_uint_eq(guest_agent_fx_removed(fe->ga), 1);
    ck_assert_ptr_null(guest_agent_fx_file(fe->ga, "a"));
    assert_file(fe, "b", data, 200000);
    /* after the STATUS, no DATA of 1 */
    data_msgs = 0;
    for (i = 0; i < guest_agent_n_received(fe->ga); i++) {
        const GuestAgentMsg *m = guest_agent_received(fe->ga, i);

        if (m->type == VD_AGENT_FILE_XFER_STATUS) {
            data_msgs = 1;
        } else if (data_msgs && m->type == VD_AGENT_FILE_XFER_DATA) {
            ck_assert_uint_ne(test_le32(m->data), 1);
        }
    }
    /* the agent ignored the DATA of 1 queued before its STATUS: none
     * was (the window is small), or they were dropped as unknown */
}
END_TEST

/* The port closes, the device resets, the agent restarts: all fail. */
START_TEST(test_guest_gone)
{
    static const char *const why[] = {
        "the guest closed the port", "the device was reset",
        "the guest agent restarted",
    };
    MemSrc *s[2] = { fx_src(NULL, 0), fx_src(NULL, 0) };

    guest_agent_fx_set_hold(fe->ga, true);
    fx_start("a", 5, s[0]);
    fx_start("b", 5, s[1]);
    switch (_i) {
    case 0:
        vdc_chardev_set_guest_open(fe->dev, false);
        break;
    case 1:
        vdc_chardev_reset(fe->dev);
        break;
    default:
        fe_restart_agent(fe, false);
        break;
    }
    ck_assert_str_eq(l.seq->str, "1:guest-gone 2:guest-gone ");
    ck_assert_str_eq(l.message[1], why[_i]);
    ck_assert_uint_eq(s[0]->closes + s[1]->closes, 2);
    if (_i < 2) {
        assert_start_refused(fe, "c", 5, s[0], VDC_ERROR_NOT_CONNECTED);
    }
}
END_TEST

/* An agent with FILE_XFER_DISABLED: a new transfer fails at once. */
START_TEST(test_disabled_cap)
{
    MemSrc *s = fx_src(NULL, 0);

    fx_close();
    fx_open(REAL_AGENT_CAPS | CAP(FILE_XFER_DISABLED));
    assert_start_refused(fe, "a", 5, s, VDC_ERROR_FILE_XFER_DISABLED);
    ck_assert_uint_eq(s->closes, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_FILE_XFER_START),
                      0);
}
END_TEST

/*
 * Before the agent announced its caps there is nobody to send to (a device
 * of its own, never opened: not the fixture's).
 */
START_TEST(test_not_connected)
{
    VdcConfig config = fe_config(true, true, true);
    TestFe *bare = fe_new1(&config, REAL_AGENT_CAPS);
    MemSrc s = mem_src(NULL, 0);

    assert_start_refused(bare, "a", 5, &s, VDC_ERROR_NOT_CONNECTED);
    vdc_chardev_set_guest_open(bare->dev, true);    /* caps not answered */
    assert_start_refused(bare, "a", 5, &s, VDC_ERROR_NOT_CONNECTED);
    fe_free(bare);
}
END_TEST

START_TEST(test_busy)
{
    MemSrc *s = fx_src(NULL, 0);
    uint32_t ids[VDC_FILE_XFER_MAX + 1];
    unsigned i;

    guest_agent_fx_set_hold(fe->ga, true);
    for (i = 0; i < VDC_FILE_XFER_MAX; i++) {
        ck_assert_uint_eq(fx_start("n", 1, s), i + 1);
    }
    assert_start_refused(fe, "n", 1, s, VDC_ERROR_BUSY);
    ck_assert_uint_eq(vdc_file_xfer_list(fe->dev, ids, G_N_ELEMENTS(ids)),
                      VDC_FILE_XFER_MAX);
    ck_assert_uint_eq(ids[0], 1);
    ck_assert_uint_eq(ids[VDC_FILE_XFER_MAX - 1], VDC_FILE_XFER_MAX);
    /* ids go on, never reused while under way */
    ck_assert(vdc_file_xfer_cancel(fe->dev, 3));
    ck_assert_uint_eq(fx_start("n", 1, s), VDC_FILE_XFER_MAX + 1);
    g_clear_pointer(&fe, fe_free);
    ck_assert_uint_eq(s->closes, VDC_FILE_XFER_MAX + 1);   /* freed: closed */
}
END_TEST

/* The source fails, or ends before its size: CANCELLED to the agent. */
START_TEST(test_source_fails)
{
    const uint8_t *data = fx_pattern(60000, 7);
    MemSrc *s = fx_src(data, _i == 0 ? 60000 : 30000);

    if (_i == 0) {
        s->fail_at = 20000;
    }
    fx_start("f", 60000, s);
    run(fe, 0);
    ck_assert_int_eq(l.last[1].status, VDC_FILE_XFER_SOURCE_ERROR);
    ck_assert_str_eq(l.message[1], _i == 0 ? "reading the file failed"
                                           : "the file ended before its size");
    ck_assert_uint_eq(s->closes, 1);
    ck_assert_uint_eq(guest_agent_fx_removed(fe->ga), 1);
    ck_assert_uint_eq(guest_agent_fx_active(fe->ga), 0);
    assert_clean(fe);
}
END_TEST

/* SUCCESS before all the data: a protocol error, CANCELLED back. */
START_TEST(test_success_early)
{
    MemSrc *s = fx_src(NULL, 0);

    guest_agent_fx_set_hold(fe->ga, true);
    fx_start("f", 10, s);
    guest_agent_fx_send_status(fe->ga, 1, VD_AGENT_FILE_XFER_STATUS_SUCCESS,
                               NULL, 0);
    run(fe, 0);
    ck_assert_int_eq(l.last[1].status, VDC_FILE_XFER_PROTOCOL_ERROR);
    ck_assert_str_eq(l.message[1],
                     "the agent said success after 0 of 10 bytes");
    ck_assert_uint_eq(guest_agent_fx_host_statuses(fe->ga)->len, 1);
}
END_TEST

/* Bad guest statuses: dropped, counted, the session goes on. */
START_TEST(test_bad_status)
{
    MemSrc *s = fx_src((const uint8_t *)"hello", 5);
    uint8_t big[8 + 65] = { 0 };
    VdcCounters c;

    guest_agent_fx_set_hold(fe->ga, true);
    fx_start("f", 5, s);
    /* unknown id, for each result */
    guest_agent_fx_send_status(fe->ga, 7, VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA,
                               NULL, 0);
    guest_agent_fx_send_status(fe->ga, 0, VD_AGENT_FILE_XFER_STATUS_SUCCESS,
                               NULL, 0);
    /* too short, too long */
    guest_agent_send_message(fe->ga, VD_AGENT_FILE_XFER_STATUS, big, 7);
    test_put_le32(big, 1);
    guest_agent_send_message(fe->ga, VD_AGENT_FILE_XFER_STATUS, big, sizeof(big));
    /* START and DATA are the host's to send */
    guest_agent_send_message(fe->ga, VD_AGENT_FILE_XFER_DATA, big, 12);
    run(fe, 0);
    c = fe_counters(fe);
    ck_assert_uint_eq(c.drops[VDC_DROP_UNKNOWN_XFER], 2);
    ck_assert_uint_eq(c.drops[VDC_DROP_BAD_SIZE], 2);
    ck_assert_uint_eq(c.drops[VDC_DROP_WRONG_DIRECTION], 1);
    ck_assert_str_eq(vdc_drop_name(VDC_DROP_UNKNOWN_XFER), "unknown-transfer");
    ck_assert_str_eq(l.seq->str, "");
    guest_agent_fx_send_status(fe->ga, 1,
                               VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA, NULL, 0);
    run(fe, 0);
    assert_file(fe, "f", (const uint8_t *)"hello", 5);
}
END_TEST

/* From inside update(): cancel another transfer, start a new one. */
START_TEST(test_reentry)
{
    const uint8_t *data = fx_pattern(40000, 8);
    MemSrc *a = fx_src(data, 40000), *b = fx_src(data, 40000);
    MemSrc *c = fx_src(data, 1000);

    fx_start("a", 40000, a);
    fx_start("b", 40000, b);
    l.cancel_other_on = 1;
    l.cancel_other = 2;
    l.restart_src = c;
    run(fe, 4096);
    ck_assert_int_eq(l.last[2].status, VDC_FILE_XFER_CANCELLED);
    ck_assert_uint_eq(l.restarted, 3);
    ck_assert_int_eq(l.last[1].status, VDC_FILE_XFER_SUCCESS);
    ck_assert_int_eq(l.last[3].status, VDC_FILE_XFER_SUCCESS);
    assert_file(fe, "a", data, 40000);
    assert_file(fe, "again", data, 1000);
    ck_assert_uint_eq(a->closes + b->closes + c->closes, 3);
}
END_TEST

/* ---- migration (issue 14 point 2) --------------------------------------- */

/* The destination's reopen(): the same bytes, from info->sent on. */
static const uint8_t *reopen_data;
static size_t reopen_len;
static MemSrc reopen_src;
static unsigned reopens;

static bool mem_reopen(void *opaque, const VdcFileXferInfo *info,
                       const VdcFileSource **source, void **source_opaque)
{
    (void)opaque;
    reopens++;
    ck_assert_str_eq(info->origin, "/srv/files/big.bin");
    if (!reopen_data) {
        return false;
    }
    reopen_src = mem_src(reopen_data, reopen_len);
    reopen_src.pos = info->sent;
    *source = &mem_source;
    *source_opaque = &reopen_src;
    return true;
}

static const VdcFileXferOps reopen_ops = {
    .update = log_update, .reopen = mem_reopen,
};

/*
 * A transfer in flight moves with the device: saved, loaded (the stream
 * saves again to the same bytes before the destination runs), then it
 * goes on from the first byte not queued when the destination can reopen
 * its source (@_i 0), or the agent gets CANCELLED, removes its partial
 * file, and the embedding hears MIGRATION_LOST (@_i 1); one whose data
 * was all queued needs no source: its SUCCESS comes either way.
 */
START_TEST(test_migrate_in_flight)
{
    Log dl;
    size_t len = 300 * 1024;
    const uint8_t *data = fx_pattern(len, 9);
    MemSrc *a = fx_src(data, len), *b = fx_src(data, 3000);
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    GuestAgent *ga;
    TestFe *dst;
    unsigned i;

    reopen_data = _i == 0 ? data : NULL;
    reopen_len = len;
    reopens = 0;
    ck_assert_uint_eq(vdc_file_xfer_start(fe->dev, "big.bin",
                                          "/srv/files/big.bin", len,
                                          &mem_source, a, NULL), 1);
    fe->unlimited = false;
    for (i = 0; i < 12; i++) {
        fe->budget = 4000;
        fe_pump(fe);
        fe_accept(fe);
    }
    /* 2: all its data written, the agent's SUCCESS not read yet */
    ck_assert_uint_eq(vdc_file_xfer_start(fe->dev, "small",
                                          "/srv/files/big.bin", 3000,
                                          &mem_source, b, NULL), 2);
    fe->budget = 100000;
    fe_accept(fe);
    fe->budget = 100000;
    fe_pump(fe);
    fe->budget = 60000;
    fe_accept(fe);
    fe->budget = 0;
    ck_assert_uint_gt(a->pos, 0);
    ck_assert_uint_lt(a->pos, len);
    ck_assert_uint_eq(b->pos, 3000);
    ck_assert_uint_eq(guest_agent_fx_completed(fe->ga), 1);
    vdc_chardev_set_running(fe->dev, false);
    stream = save_dev(fe->dev);
    ga = fe->ga;
    fe->ga = NULL;
    fe->owns_ga = false;

    dst = dest_new(fe);
    dl = (Log){ .seq = g_string_new(NULL), .fe = dst };
    vdc_chardev_set_file_xfer_ops(dst->dev, &reopen_ops, &dl);
    dest_load_ok(dst, stream);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert_mem_eq(again->data, stream->data, stream->len);
    ck_assert_uint_eq(vdc_file_xfer_list(dst->dev, NULL, 0), 2);
    ck_assert_uint_eq(reopens, 0);          /* not before it runs */
    g_clear_pointer(&fe, fe_free);          /* the source goes */
    ck_assert_uint_eq(a->closes + b->closes, 2);

    dest_resume(dst, ga);
    dst->owns_ga = true;
    ck_assert_uint_eq(reopens, 1);          /* 2 needs no source */
    run(dst, 5000);
    ck_assert_int_eq(dl.last[2].status, VDC_FILE_XFER_SUCCESS);
    {
        g_autoptr(GBytes) small = guest_agent_fx_file(ga, "small");

        ck_assert_ptr_nonnull(small);
        ck_assert_uint_eq(g_bytes_get_size(small), 3000);
        ck_assert(memcmp(g_bytes_get_data(small, NULL), data, 3000) == 0);
    }
    if (_i == 0) {
        g_autoptr(GBytes) big = guest_agent_fx_file(ga, "big.bin");

        ck_assert_ptr_nonnull(big);
        ck_assert_uint_eq(g_bytes_get_size(big), len);
        ck_assert(memcmp(g_bytes_get_data(big, NULL), data, len) == 0);
        ck_assert_int_eq(dl.last[1].status, VDC_FILE_XFER_SUCCESS);
        ck_assert_uint_eq(reopen_src.closes, 1);
        ck_assert_uint_eq(guest_agent_fx_removed(ga), 0);
    } else {
        const GArray *st = guest_agent_fx_host_statuses(ga);

        ck_assert_int_eq(dl.last[1].status, VDC_FILE_XFER_MIGRATION_LOST);
        ck_assert_str_eq(dl.message[1],
                         "migrated, and its source could not be opened again");
        ck_assert_uint_eq(st->len, 1);
        ck_assert_uint_eq(g_array_index(st, GuestFxStatus, 0).result,
                          VD_AGENT_FILE_XFER_STATUS_CANCELLED);
        ck_assert_uint_eq(guest_agent_fx_removed(ga), 1);
        ck_assert_ptr_null(guest_agent_fx_file(ga, "big.bin"));
    }
    ck_assert_uint_eq(guest_agent_fx_active(ga), 0);
    /* ids go on after the migrated ones */
    b = fx_src(data, 10);
    ck_assert_uint_eq(vdc_file_xfer_start(dst->dev, "n", NULL, 10,
                                          &mem_source, b, NULL), 3);
    run(dst, 0);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    fe_free(dst);
    log_clear(&dl);
}
END_TEST

/* Streams the device could never have written are refused, whole. */
START_TEST(test_migrate_refused)
{
    MemSrc *a = fx_src(NULL, 0);
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GError) err = NULL;
    const char *what;
    TestFe *dst;
    guint8 *p;

    guest_agent_fx_set_hold(fe->ga, true);
    vdc_file_xfer_start(fe->dev, "name.txt", "/o", 77, &mem_source, a, NULL);
    vdc_chardev_set_running(fe->dev, false);
    stream = save_dev(fe->dev);
    /* the name's bytes: the only "name.txt" in the stream */
    p = memmem(stream->data, stream->len, "name.txt", 8);
    ck_assert_ptr_nonnull(p);
    switch (_i) {
    case 0:
        p[4] = '/';                          /* "name/txt" */
        what = "a name the device refuses";
        break;
    case 1:
        p[-4] = 0xff;                        /* name_len above the bound */
        what = NULL;
        break;
    default:
        /* the id: before status (4), size (8), sent (8), done (1),
           name_len (4) */
        memset(p - 29, 0, 4);
        what = "id 0";
        break;
    }
    dst = dest_new(fe);
    ck_assert(!load_dev(dst->dev, stream->data, stream->len, &err));
    ck_assert_ptr_nonnull(err);
    if (what) {
        ck_assert_msg(strstr(err->message, what), "%s", err->message);
    }
    ck_assert_uint_eq(vdc_file_xfer_list(dst->dev, NULL, 0), 0);
    ck_assert(!vdc_chardev_connected(dst->dev));
    fe_free(dst);
}
END_TEST

Suite *vdagent_file_xfer_suite(void)
{
    Suite *s = suite_create("vdagent-file-xfer");
    TCase *tc = tcase_create("file-xfer");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_small_and_empty);
    tcase_add_test(tc, test_start_text);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_several_at_once);
    tcase_add_test(tc, test_waits_for_the_agent);
    tcase_add_loop_test(tc, test_guest_answers, 0, G_N_ELEMENTS(answers));
    tcase_add_test(tc, test_details);
    tcase_add_test(tc, test_disk_fills);
    tcase_add_test(tc, test_host_cancel);
    tcase_add_loop_test(tc, test_guest_gone, 0, 3);
    tcase_add_test(tc, test_disabled_cap);
    tcase_add_test(tc, test_not_connected);
    tcase_add_test(tc, test_busy);
    tcase_add_loop_test(tc, test_source_fails, 0, 2);
    tcase_add_test(tc, test_success_early);
    tcase_add_test(tc, test_bad_status);
    tcase_add_test(tc, test_reentry);
    tcase_add_loop_test(tc, test_migrate_in_flight, 0, 2);
    tcase_add_loop_test(tc, test_migrate_refused, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
