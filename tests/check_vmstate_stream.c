/*
 * check_vmstate_stream.c: the container around the engine.  Nested
 * structs before a 0x05 byte, the registry with several sections, the
 * stream's integer primitives, fd sinks and sources (pipes, files,
 * non-blocking, errors), and buffers freed or replaced by a load
 * (fixture: check_vmstate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <check.h>

#include "tests/check_suites.h"
#include "tests/check_vmstate.h"

/* ---- nested structs and the 0x05 byte ------------------------------- */

typedef struct Wrap {
    TestInner inner;
    uint8_t x;
    uint8_t y;
    uint8_t z[4];
} Wrap;

static const VdcVMStateDescription vmstate_wrap = {
    .name = "wrap",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_STRUCT(inner, Wrap, vmstate_inner, TestInner),
        VDC_VMSTATE_UINT8(x, Wrap),
        VDC_VMSTATE_UINT8(y, Wrap),
        VDC_VMSTATE_BUFFER(z, Wrap, 4),
        VDC_VMSTATE_END_OF_LIST()
    },
};

/*
 * A nested struct with subsections followed by a field starting with 0x05
 * (even with a plausible length and "test" after it) round-trips.
 */
START_TEST(test_nested_then_0x05)
{
    static const uint8_t want_tail[] = { 0x05, 16, 't', 'e', 's', 't' };
    unsigned extra;

    for (extra = 0; extra < 2; extra++) {
        Wrap src = { .inner = { .a = 1, .extra = extra ? 9 : 0 },
                     .x = 0x05, .y = 16, .z = { 't', 'e', 's', 't' } };
        Wrap dst = { .x = 0 };
        g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
        g_autoptr(VdcMigrationStream) in = NULL;
        g_autoptr(GError) err = NULL;
        const uint8_t *p;
        size_t len;

        ck_assert(vdc_vmstate_save(out, &vmstate_wrap, &src, NULL, &err));
        p = vdc_migration_stream_data(out, &len);
        ck_assert_uint_eq(len, 10 + (extra ? 23 : 0) + 6);
        ck_assert_mem_eq(p + len - 6, want_tail, 6);
        in = vdc_migration_stream_new_reader(p, len);
        ck_assert_msg(vdc_vmstate_load(in, &vmstate_wrap, &dst, 1, &err), "%s",
                      err ? err->message : "?");
        ck_assert(vdc_migration_stream_at_end(in));
        ck_assert_uint_eq(dst.inner.a, 1);
        ck_assert_uint_eq(dst.inner.extra, extra ? 9 : 0);
        ck_assert_uint_eq(dst.x, 0x05);
        ck_assert_uint_eq(dst.y, 16);
        ck_assert_mem_eq(dst.z, "test", 4);
    }
}
END_TEST

/* ---- registry and several sections ---------------------------------- */

START_TEST(test_registry)
{
    static const uint8_t want[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3,
        0x04, 0, 0, 0, 0, 1, 't', 0, 0, 0, 5, 0, 0, 0, 1, 0xaa,
        0x7e, 0, 0, 0, 0,
        0x04, 0, 0, 0, 1, 1, 'u', 0, 0, 0, 0, 0, 0, 0, 1, 0xbb,
        0x7e, 0, 0, 0, 1,
        0x00, 0x06,
    };
    static const char want_json[] =
        "{\"page_size\":4096,\"devices\":["
        "{\"name\":\"t\",\"instance_id\":5,\"vmsd_name\":\"t\",\"version\":1,"
        "\"fields\":[{\"name\":\"v\",\"type\":\"uint8\",\"size\":1}]},"
        "{\"name\":\"u\",\"instance_id\":0,\"vmsd_name\":\"t\",\"version\":1,"
        "\"fields\":[{\"name\":\"v\",\"type\":\"uint8\",\"size\":1}]}]}";
    Tiny a = { 0xaa }, b = { 0xbb }, c = { 0 }, d = { 0 };
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationRegistry) dreg = vdc_migration_registry_new();
    g_autoptr(GByteArray) out = NULL;
    g_autoptr(VdcMigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    uint32_t jlen;

    ck_assert(vdc_migration_register(reg, "t", 5, &vmstate_tiny, &a, NULL));
    ck_assert(!vdc_migration_register(reg, "t", 5, &vmstate_tiny, &b, &err));
    ck_assert_int_eq(err->code, VDC_VMSTATE_ERROR_DUPLICATE);
    ck_assert_str_eq(err->message,
                     "section 't' instance 5 is already registered");
    g_clear_error(&err);
    ck_assert(!vdc_migration_register(reg, "t", 5, &vmstate_tiny, &b, NULL));
    ck_assert(vdc_migration_register(reg, "gone", 0, &vmstate_tiny, &b, NULL));
    ck_assert(vdc_migration_register(reg, "u", 0, &vmstate_tiny, &b, NULL));
    vdc_migration_unregister(reg, "gone", 0);
    vdc_migration_unregister(reg, "never", 0);
    out = save_stream(reg);
    ck_assert_uint_eq(out->len, sizeof(want) + 4 + strlen(want_json));
    ck_assert_mem_eq(out->data, want, sizeof(want));
    jlen = (uint32_t)out->data[sizeof(want)] << 24 |
           (uint32_t)out->data[sizeof(want) + 1] << 16 |
           (uint32_t)out->data[sizeof(want) + 2] << 8 |
           out->data[sizeof(want) + 3];
    ck_assert_uint_eq(jlen, strlen(want_json));
    ck_assert_mem_eq(out->data + sizeof(want) + 4, want_json, jlen);

    /* Registration order does not matter on load. */
    ck_assert(vdc_migration_register(dreg, "u", 0, &vmstate_tiny, &d, NULL));
    ck_assert(vdc_migration_register(dreg, "t", 5, &vmstate_tiny, &c, NULL));
    in = vdc_migration_stream_new_reader(out->data, out->len);
    ck_assert_msg(vdc_migration_load(dreg, in, &err), "%s",
                  err ? err->message : "?");
    ck_assert_uint_eq(c.v, 0xaa);
    ck_assert_uint_eq(d.v, 0xbb);
}
END_TEST

START_TEST(test_empty_registry)
{
    static const uint8_t want[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0x00, 0x06, 0, 0, 0, 31,
        '{', '"', 'p', 'a', 'g', 'e', '_', 's', 'i', 'z', 'e', '"', ':',
        '4', '0', '9', '6', ',', '"', 'd', 'e', 'v', 'i', 'c', 'e', 's', '"',
        ':', '[', ']', '}',
    };
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(GByteArray) out = save_stream(reg);
    g_autoptr(VdcMigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;

    ck_assert_uint_eq(out->len, sizeof(want));
    ck_assert_mem_eq(out->data, want, sizeof(want));
    in = vdc_migration_stream_new_reader(out->data, out->len);
    ck_assert(vdc_migration_load(reg, in, &err));
}
END_TEST

/* ---- stream primitives ---------------------------------------------- */

START_TEST(test_stream_primitives)
{
    static const uint8_t want[] = {
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f, 'x', 'y',
    };
    g_autoptr(VdcMigrationStream) out = vdc_migration_stream_new_buffer();
    g_autoptr(VdcMigrationStream) in = NULL;
    uint8_t b8, peek[3];
    uint16_t b16;
    uint32_t b32;
    uint64_t b64;
    const uint8_t *p;
    size_t len;

    vdc_migration_put_u8(out, 0x01);
    vdc_migration_put_be16(out, 0x0203);
    vdc_migration_put_be32(out, 0x04050607);
    vdc_migration_put_be64(out, 0x08090a0b0c0d0e0full);
    vdc_migration_put_bytes(out, "xy", 2);
    ck_assert_uint_eq(vdc_migration_stream_offset(out), sizeof(want));
    ck_assert(vdc_migration_stream_flush(out, NULL));
    p = vdc_migration_stream_data(out, &len);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(p, want, sizeof(want));

    in = vdc_migration_stream_new_reader(want, sizeof(want));
    ck_assert(vdc_migration_peek_bytes(in, peek, 3));
    ck_assert_mem_eq(peek, want, 3);
    ck_assert_uint_eq(vdc_migration_stream_offset(in), 0);
    ck_assert(vdc_migration_get_u8(in, &b8) && b8 == 0x01);
    ck_assert(vdc_migration_get_be16(in, &b16) && b16 == 0x0203);
    ck_assert(vdc_migration_get_be32(in, &b32) && b32 == 0x04050607);
    ck_assert(vdc_migration_get_be64(in, &b64) && b64 == 0x08090a0b0c0d0e0full);
    ck_assert(!vdc_migration_peek_bytes(in, peek, 3));
    ck_assert_ptr_null(vdc_migration_stream_error(in));    /* peeks are free */
    ck_assert(vdc_migration_peek_u8(in, &b8) && b8 == 'x');
    ck_assert(!vdc_migration_stream_at_end(in));
    ck_assert(!vdc_migration_get_be32(in, &b32));
    ck_assert_uint_eq(b32, 0);
    ck_assert_int_eq(vdc_migration_stream_error(in)->code,
                     VDC_VMSTATE_ERROR_TRUNCATED);
    /* Sticky: the two bytes that are there are not handed out any more. */
    ck_assert(!vdc_migration_get_u8(in, &b8));
    ck_assert_uint_eq(b8, 0);
    ck_assert_uint_eq(vdc_migration_stream_offset(in), 15);
}
END_TEST

/* ---- fd sinks and sources ------------------------------------------- */

typedef struct BigState {
    uint32_t len;
    uint8_t *data;
    uint32_t after;
} BigState;

#define BIG_MAX (8u * 1024 * 1024)

static const VdcVMStateDescription vmstate_big = {
    .name = "big",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VdcVMStateField[]) {
        VDC_VMSTATE_UINT32(len, BigState),
        VDC_VMSTATE_VBUFFER_UINT32(data, BigState, len, BIG_MAX),
        VDC_VMSTATE_UINT32(after, BigState),
        VDC_VMSTATE_END_OF_LIST()
    },
};

static void big_fill(BigState *b, uint32_t len)
{
    uint32_t i, x = 0x12345678;

    b->len = len;
    b->data = g_malloc(len);
    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        b->data[i] = x >> 24;
    }
    b->after = 0xfeedface;
}

typedef struct Writer {
    int fd;
    VdcMigrationRegistry *reg;
    bool ok;
    char *error;
    const char *reply;          /* written raw after the stream */
} Writer;

static gpointer writer_main(gpointer opaque)
{
    Writer *w = opaque;
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_fd(w->fd, true);
    g_autoptr(GError) err = NULL;

    w->ok = vdc_migration_save(w->reg, s, &err);
    if (!w->ok) {
        w->error = g_strdup(err->message);
    }
    g_clear_pointer(&s, vdc_migration_stream_free);
    if (w->reply && write(w->fd, w->reply, strlen(w->reply)) < 0) {
        w->ok = false;
    }
    close(w->fd);
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
}

/*
 * Through a pipe with a writer thread: a 4 MiB buffer, partial writes and
 * reads, signals interrupting both sides (no SA_RESTART: EINTR), and the
 * reader leaves the bytes after the vmdesc in the pipe.
 */
START_TEST(test_fd_pipe)
{
    BigState src = { 0 }, dst = { 0 };
    g_autoptr(VdcMigrationRegistry) sreg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationRegistry) dreg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    struct sigaction sa = { .sa_handler = on_alarm };
    struct itimerval every = { { 0, 200 }, { 0, 200 } };
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    Writer w = { .reg = sreg, .reply = "REPLY" };
    GThread *thread;
    char reply[16] = "";
    int fds[2];
    bool ok;

    big_fill(&src, 4u * 1024 * 1024);
    ck_assert(vdc_migration_register(sreg, "big", 0, &vmstate_big, &src, NULL));
    ck_assert(vdc_migration_register(dreg, "big", 0, &vmstate_big, &dst, NULL));
    ck_assert_int_eq(pipe(fds), 0);
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);

    w.fd = fds[1];
    thread = g_thread_new("writer", writer_main, &w);
    in = vdc_migration_stream_new_fd(fds[0], false);
    ok = vdc_migration_load(dreg, in, &err);
    g_thread_join(thread);
    setitimer(ITIMER_REAL, &off, NULL);

    ck_assert_msg(w.ok, "writer: %s", w.error ? w.error : "reply");
    ck_assert_msg(ok, "%s", err ? err->message : "?");
    ck_assert_uint_eq(dst.len, src.len);
    ck_assert_mem_eq(dst.data, src.data, src.len);
    ck_assert_uint_eq(dst.after, 0xfeedface);
    ck_assert_int_eq(read(fds[0], reply, sizeof(reply)), 5);
    ck_assert_str_eq(reply, "REPLY");
    ck_assert_int_gt(alarms, 0);
    close(fds[0]);
    vdc_vmstate_free_buffers(&vmstate_big, &src);
    vdc_vmstate_free_buffers(&vmstate_big, &dst);
    g_free(w.error);
}
END_TEST

/* A non-blocking pipe: EAGAIN on both sides is waited out with poll(). */
START_TEST(test_fd_nonblocking)
{
    BigState src = { 0 }, dst = { 0 };
    g_autoptr(VdcMigrationRegistry) sreg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationRegistry) dreg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) in = NULL;
    g_autoptr(GError) err = NULL;
    Writer w = { .reg = sreg };
    GThread *thread;
    int fds[2];
    bool ok;

    big_fill(&src, 1024 * 1024);
    ck_assert(vdc_migration_register(sreg, "big", 0, &vmstate_big, &src, NULL));
    ck_assert(vdc_migration_register(dreg, "big", 0, &vmstate_big, &dst, NULL));
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    w.fd = fds[1];
    thread = g_thread_new("writer", writer_main, &w);
    in = vdc_migration_stream_new_fd(fds[0], false);
    ok = vdc_migration_load(dreg, in, &err);
    g_thread_join(thread);
    ck_assert_msg(w.ok, "writer: %s", w.error ? w.error : "?");
    ck_assert_msg(ok, "%s", err ? err->message : "?");
    ck_assert_mem_eq(dst.data, src.data, src.len);
    close(fds[0]);
    vdc_vmstate_free_buffers(&vmstate_big, &src);
    vdc_vmstate_free_buffers(&vmstate_big, &dst);
}
END_TEST

static int tmp_file(char **path)
{
    int fd;

    *path = g_build_filename(g_get_tmp_dir(), "check-vmstate-XXXXXX", NULL);
    fd = mkstemp(*path);
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* A regular file: the same bytes as memory; loading stops at the vmdesc. */
START_TEST(test_fd_file)
{
    g_autoptr(TestState) src = canon_new();
    g_autoptr(TestState) dst = g_new0(TestState, 1);
    g_autoptr(VdcMigrationRegistry) sreg = registry_for(src);
    g_autoptr(VdcMigrationRegistry) dreg = registry_for(dst);
    g_autoptr(GByteArray) want = canon_stream();
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree uint8_t *got = g_malloc(CANON_LEN + 8);
    int fd = tmp_file(&path);

    s = vdc_migration_stream_new_fd(fd, true);
    ck_assert(vdc_migration_save(sreg, s, &err));
    ck_assert_uint_eq(vdc_migration_stream_offset(s), CANON_LEN);
    g_clear_pointer(&s, vdc_migration_stream_free);
    ck_assert_int_eq(write(fd, "MORE", 4), 4);

    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(read(fd, got, CANON_LEN + 8), CANON_LEN + 4);
    ck_assert_mem_eq(got, want->data, CANON_LEN);

    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = vdc_migration_stream_new_fd(fd, false);
    ck_assert_msg(vdc_migration_load(dreg, s, &err), "%s",
                  err ? err->message : "?");
    assert_state_eq(dst, src);
    ck_assert_uint_eq(vdc_migration_stream_offset(s), CANON_LEN);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), CANON_LEN);
    close(fd);
    unlink(path);
}
END_TEST

/* An fd source needs the vmdesc, and reports I/O errors as such. */
START_TEST(test_fd_errors)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(TestState) dst = g_new0(TestState, 1);
    g_autoptr(VdcMigrationRegistry) reg = registry_for(st);
    g_autoptr(VdcMigrationRegistry) dreg = registry_for(dst);
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *msg = NULL;
    int fd = tmp_file(&path), fds[2];

    /* Only up to EOF in the file. */
    ck_assert_int_eq(write(fd, canon_head, HEAD_LEN), HEAD_LEN);
    ck_assert_int_eq(write(fd, canon_payload, PAYLOAD_LEN), PAYLOAD_LEN);
    ck_assert_int_eq(write(fd, canon_tail, 6), 6);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = vdc_migration_stream_new_fd(fd, false);
    ck_assert(!vdc_migration_load(dreg, s, &err));
    assert_error(err, VDC_VMSTATE_ERROR_TRUNCATED,
                 "vmdesc at offset 170: stream truncated");
    g_clear_pointer(&s, vdc_migration_stream_free);
    g_clear_error(&err);

    /* Reading a write-only fd. */
    ck_assert_int_eq(pipe(fds), 0);
    s = vdc_migration_stream_new_fd(fds[1], false);
    vdc_vmstate_free_buffers(&vmstate_test, dst);
    ck_assert(!vdc_migration_load(dreg, s, &err));
    msg = g_strdup_printf("stream header at offset 0: read from fd %d: %s",
                          fds[1], g_strerror(EBADF));
    assert_error(err, VDC_VMSTATE_ERROR_IO, msg);
    g_clear_pointer(&s, vdc_migration_stream_free);
    g_clear_error(&err);

    /* Writing into a pipe nobody reads. */
    signal(SIGPIPE, SIG_IGN);
    close(fds[0]);
    s = vdc_migration_stream_new_fd(fds[1], true);
    ck_assert(!vdc_migration_save(reg, s, &err));
    g_free(msg);
    msg = g_strdup_printf("write to fd %d: %s", fds[1], g_strerror(EPIPE));
    assert_error(err, VDC_VMSTATE_ERROR_IO, msg);
    /* Sticky: the next flush says the same. */
    g_clear_error(&err);
    ck_assert(!vdc_migration_stream_flush(s, &err));
    assert_error(err, VDC_VMSTATE_ERROR_IO, msg);
    g_clear_pointer(&s, vdc_migration_stream_free);
    close(fds[1]);

    /* A vmdesc length an fd source refuses before reading it. */
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(write(fd, canon_head, 8), 8);
    ck_assert_int_eq(write(fd, "\x00\x06\x7f\xff\xff\xff", 6), 6);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    s = vdc_migration_stream_new_fd(fd, false);
    g_clear_error(&err);
    ck_assert(!vdc_migration_load(dreg, s, &err));
    assert_error(err, VDC_VMSTATE_ERROR_INVALID, "vmdesc at offset 10: length "
                 "2147483647 above maximum 16777216");
    close(fd);
    unlink(path);
}
END_TEST

/* ---- free_buffers ---------------------------------------------------- */

START_TEST(test_free_buffers)
{
    g_autoptr(TestState) st = canon_new();
    unsigned i;

    st->n = 3;
    st->items[2].buf = g_malloc(5);     /* beyond n before a failed load */
    st->items[2].len = 5;
    vdc_vmstate_free_buffers(&vmstate_test, st);
    ck_assert_ptr_null(st->data);
    ck_assert_uint_eq(st->len, 0);
    ck_assert_ptr_null(st->inner.blob);
    ck_assert_uint_eq(st->inner.blen, 0);
    for (i = 0; i < 3; i++) {
        ck_assert_ptr_null(st->items[i].buf);
        ck_assert_uint_eq(st->items[i].len, 0);
    }
    ck_assert_uint_eq(st->u32, 0x789abcde);     /* the rest untouched */
    vdc_vmstate_free_buffers(&vmstate_test, st);    /* twice: harmless */
    vdc_vmstate_free_buffers(&vmstate_test, NULL);
}
END_TEST

/* A load replaces buffers (no leak) and a 0 length leaves NULL. */
START_TEST(test_load_replaces_buffers)
{
    g_autoptr(TestState) st = canon_new();
    g_autoptr(VdcMigrationStream) s = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t in[PAYLOAD_LEN];

    memcpy(in, canon_payload, PAYLOAD_LEN);
    s = vdc_migration_stream_new_reader(in, PAYLOAD_LEN);
    ck_assert(vdc_vmstate_load(s, &vmstate_test, st, 2, &err));
    ck_assert_mem_eq(st->data, "\xd0\xd1\xd2", 3);
    g_clear_pointer(&s, vdc_migration_stream_free);

    st->items[1].buf = g_malloc(3);     /* its length on the wire is 0 */
    s = vdc_migration_stream_new_reader(in, PAYLOAD_LEN);
    ck_assert(vdc_vmstate_load(s, &vmstate_test, st, 2, &err));
    ck_assert_ptr_null(st->items[1].buf);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

Suite *vmstate_stream_suite(void)
{
    Suite *s = suite_create("vmstate-stream");
    TCase *tc;

    add_tcase(s, "nested-then-0x05", test_nested_then_0x05);
    add_tcase(s, "registry", test_registry);
    add_tcase(s, "empty-registry", test_empty_registry);
    add_tcase(s, "stream-primitives", test_stream_primitives);
    tc = tcase_create("fd-pipe");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fd_pipe);
    suite_add_tcase(s, tc);
    add_tcase(s, "fd-nonblocking", test_fd_nonblocking);
    add_tcase(s, "fd-file", test_fd_file);
    add_tcase(s, "fd-errors", test_fd_errors);
    add_tcase(s, "free-buffers", test_free_buffers);
    add_tcase(s, "load-replaces-buffers", test_load_replaces_buffers);
    return s;
}
