/*
 * fuzz_live.c: libFuzzer target for the migration loader fed in pieces
 * with a live part (vdc_migration_loader_feed(), migration/savevm.c, and
 * the clipboard's live section, clipboard/clipboard-live.c), built by
 * `make fuzz` (clang, libFuzzer, ASan, UBSan) and by the gcc replay driver
 * tests/fuzz/replay.c.
 *
 * The input is a list of pieces, each [be32 length][length bytes], as a
 * live migration delivers them: the header and START / PART sections
 * during the live phase, then END, the FULL sections, EOF and the vmdesc.
 * The list stops at a length that runs past the input (the bytes after
 * it are then the last piece) or at MAX_PIECES; bytes after that are not
 * read.  Each piece is a memory stream; the last one is fed with
 * last=true.
 *
 * The destination is fuzz_loader's device (loader-checks.h) registered
 * as instance 0, plus a VdcClipboardLive on the device's hub (attached,
 * so that the device's vdagent/clipboard-live subsection can take its
 * slots) with a held maximum small enough to reach, registered after it
 * as the host program's live section.  Its prefault ops record each
 * buffer handed to them; its ref ops stand for the host program's
 * descriptors: a slot by reference (record 0x03) of N bytes gets N bytes
 * made from N (the same in every destination), refused when N % 5 == 4
 * (a descriptor that is not sealed memory).  Its file ops give a slot of
 * a total divisible by 3 a memfd (others none: memory), and take it back
 * as the data unless the total is 6 modulo 7 (refused).
 *
 *  - After every feed the sink holds at most LIVE_MAX_HELD bytes.
 *  - A feed that fails says something, and every later feed fails too;
 *    then the sink holds nothing, no prefault and no file is open, and
 *    the device is fresh and works (fuzz_check_fresh_and_works(), hub
 *    included).
 *  - A file is taken back only complete: exactly the slot's total bytes
 *    in it; each file is taken back or closed by the sink, none is left
 *    open after a failed load or once everything is freed.
 *  - The prefault ops see each buffer started once and finished once with
 *    the same address before it moves or is freed (they read its first
 *    and last byte, so that ASan sees a range that is not the buffer's);
 *    a buffer is never started again while open, and none is left open
 *    after a failed load or once everything is freed.  Several may be open
 *    at once: a slot keeps its buffer until the final section takes it,
 *    and the next large slot starts meanwhile.
 *  - When the last piece loads: the pieces' bytes, concatenated, load in
 *    one go into a second destination, which ends with the same slots in
 *    its sink and saves to the same bytes; then fuzz_check_loaded() (the
 *    device's state saves, loads and saves again byte for byte, and keeps
 *    working).
 *
 * A failed check prints what failed and abort()s, so libFuzzer keeps the
 * input.  Everything is freed per input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clipboard/clipboard-live.h"
#include "clipboard/vdc-clipboard.h"
#include "migration/vdc-savevm.h"
#include "migration/vdc-stream.h"
#include "tests/fuzz/loader-checks.h"
#include "vdagent/vdc-vdagent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* host/migrate.c's MIG_LIVE_IDSTR: the section a real source sends. */
#define LIVE_IDSTR              "vdagent-host-clipboard"
/* Small, so that the sink's bound is reachable. */
#define LIVE_MAX_HELD           (1u << 20)
#define MAX_PIECES              64

/* ---- the prefault ops: a record of the open buffers -------------------- */

typedef struct Prefault {
    uint8_t *buf[VDC_CLIPBOARD_LIVE_SLOTS];     /* open, [0, n) */
    size_t len[VDC_CLIPBOARD_LIVE_SLOTS];
    unsigned n;
} Prefault;

/* Read @p's byte so that ASan checks it is memory still allocated. */
static void touch(const uint8_t *p)
{
    volatile uint8_t b = *p;

    (void)b;
}

static void prefault_start(void *opaque, uint8_t *buf, size_t len)
{
    Prefault *pf = opaque;

    CHECK(buf && len, "prefault start(%p, %zu)", (void *)buf, len);
    for (unsigned i = 0; i < pf->n; i++) {
        CHECK(buf + len <= pf->buf[i] || buf >= pf->buf[i] + pf->len[i],
              "prefault start(%p, %zu) while %p (%zu bytes) is open",
              (void *)buf, len, (void *)pf->buf[i], pf->len[i]);
    }
    /* Each open buffer is a slot's: never more than there are slots. */
    CHECK(pf->n < VDC_CLIPBOARD_LIVE_SLOTS, "%u prefaults open", pf->n + 1);
    touch(buf);
    touch(buf + len - 1);
    pf->buf[pf->n] = buf;
    pf->len[pf->n] = len;
    pf->n++;
}

static void prefault_finish(void *opaque, uint8_t *buf)
{
    Prefault *pf = opaque;

    for (unsigned i = 0; i < pf->n; i++) {
        if (pf->buf[i] == buf) {
            /* Still the buffer it started: not moved nor freed yet. */
            touch(buf);
            touch(buf + pf->len[i] - 1);
            pf->n--;
            pf->buf[i] = pf->buf[pf->n];
            pf->len[i] = pf->len[pf->n];
            return;
        }
    }
    fuzz_fail("prefault finish(%p), which is not open", (void *)buf);
}

static const VdcPrefaultOps prefault_ops = {
    .start = prefault_start,
    .finish = prefault_finish,
};

static void check_prefault_closed(const Prefault *pf, const char *when)
{
    CHECK(pf->n == 0, "%s: %u prefaults open (the first %p)", when, pf->n,
          (void *)pf->buf[0]);
}

/* ---- the ref ops: data by reference, made up ---------------------------- */

static bool ref_send(void *opaque, GBytes *data)
{
    (void)opaque;
    (void)data;
    fuzz_fail("a destination sent");
    return false;
}

static GBytes *ref_receive(void *opaque, uint32_t len, GError **errp)
{
    uint8_t *p;

    (void)opaque;
    CHECK(len > 0 && len <= LIVE_MAX_HELD,
          "ref receive of %u bytes (the sink checks 1..%u first)", len,
          LIVE_MAX_HELD);
    if (len % 5 == 4) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "not sealed memory (%u bytes)", len);
        return NULL;
    }
    p = g_malloc(len);
    memset(p, (int)(len & 0xff), len);
    return g_bytes_new_take(p, len);
}

static const VdcClipboardLiveRefOps ref_ops = {
    .send = ref_send,
    .receive = ref_receive,
};

/* ---- the file ops: large slots into memfds ------------------------------ */

/* Every descriptor given out (nothing else here opens any meanwhile). */
typedef struct Files {
    GArray *fds;
} Files;

static int file_open(void *opaque, uint32_t total)
{
    Files *f = opaque;
    int fd;

    CHECK(total >= (4u << 20), "file open for a slot of %u bytes", total);
    if (total % 3 != 0) {
        return -1;
    }
    fd = memfd_create("fuzz-live", MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create: %s", g_strerror(errno));
    g_array_append_val(f->fds, fd);
    return fd;
}

static GBytes *file_adopt(void *opaque, int fd, uint32_t total, GError **errp)
{
    struct stat st;
    uint8_t *p;
    ssize_t n;

    (void)opaque;
    CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == total,
          "file adopted with %lld bytes for a slot of %u",
          (long long)st.st_size, total);
    if (total % 7 == 6) {
        close(fd);
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "cannot seal it (%u bytes)", total);
        return NULL;
    }
    p = g_malloc(total);
    n = pread(fd, p, total, 0);
    CHECK(n == (ssize_t)total, "pread of the file: %zd", n);
    close(fd);
    return g_bytes_new_take(p, total);
}

static const VdcClipboardLiveFileOps file_ops = {
    .open = file_open,
    .adopt = file_adopt,
};

/* Every descriptor the ops gave out is closed (taken back or by the sink). */
static void check_files_closed(const Files *f, const char *when)
{
    for (guint i = 0; i < f->fds->len; i++) {
        int fd = g_array_index(f->fds, int, i);

        CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF,
              "%s: the file of descriptor %d is open", when, fd);
    }
}

/* ---- a destination ----------------------------------------------------- */

typedef struct Dest {
    VdcChardev *dev;
    FuzzSink sink;
    VdcClipboardLive *cl;
    VdcMigrationRegistry *reg;
    Prefault pf;
    Files files;
} Dest;

static void dest_init(Dest *d)
{
    GError *err = NULL;

    memset(d, 0, sizeof(*d));
    d->dev = fuzz_device_new(&d->sink);
    d->cl = vdc_clipboard_live_new(vdc_chardev_clipboard_hub(d->dev),
                                   LIVE_MAX_HELD);
    vdc_clipboard_live_set_prefault(d->cl, &prefault_ops, &d->pf);
    vdc_clipboard_live_set_ref_ops(d->cl, &ref_ops, NULL);
    d->files.fds = g_array_new(FALSE, FALSE, sizeof(int));
    vdc_clipboard_live_set_file_ops(d->cl, &file_ops, &d->files);
    vdc_clipboard_live_attach(d->cl);
    d->reg = vdc_migration_registry_new();
    CHECK(vdc_chardev_register_migration(d->dev, d->reg, 0, &err),
          "register: %s", err ? err->message : "");
    /* After the FULL section, as the host program does: its id stays 0. */
    CHECK(vdc_migration_register_live(d->reg, LIVE_IDSTR, 0, 1,
                                      &vdc_clipboard_live_ops, d->cl, &err),
          "register live: %s", err ? err->message : "");
}

static void dest_free(Dest *d)
{
    vdc_migration_registry_free(d->reg);
    vdc_clipboard_live_free(d->cl);     /* detaches, finishes its prefaults */
    check_prefault_closed(&d->pf, "freed");
    check_files_closed(&d->files, "freed");
    g_array_unref(d->files.fds);
    fuzz_device_free(d->dev, &d->sink);
}

/* ---- the pieces -------------------------------------------------------- */

typedef struct Piece {
    const uint8_t *data;
    size_t len;
} Piece;

/* Split @data into @pieces (at least one, at most MAX_PIECES); the count. */
static size_t split(const uint8_t *data, size_t size, Piece *pieces)
{
    size_t pos = 0, n = 0;

    while (n < MAX_PIECES) {
        size_t left = size - pos;
        uint32_t len;

        if (left < 4) {
            /* A short tail is a piece of its own, or the input is empty. */
            if (left || n == 0) {
                pieces[n++] = (Piece){ data + pos, left };
            }
            break;
        }
        len = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
              (uint32_t)data[pos + 2] << 8 | data[pos + 3];
        pos += 4;
        left -= 4;
        if (len > left) {
            pieces[n++] = (Piece){ data + pos, left };
            break;
        }
        pieces[n++] = (Piece){ data + pos, len };
        pos += len;
        if (pos == size) {
            break;
        }
    }
    return n;
}

static bool feed(VdcMigrationLoader *ld, const Piece *p, bool last,
                 GError **errp)
{
    VdcMigrationStream *s = vdc_migration_stream_new_reader(p->data, p->len);
    bool ok = vdc_migration_loader_feed(ld, s, last, errp);

    vdc_migration_stream_free(s);
    return ok;
}

/* ---- a successful load ------------------------------------------------- */

static bool same_bytes(const GByteArray *a, const GByteArray *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/*
 * The pieces' bytes in one stream load into a second destination just as
 * they did in pieces (the pieces only cut it at sections).
 */
static void check_whole(Dest *d, const Piece *pieces, size_t n)
{
    GByteArray *whole = g_byte_array_new();
    GByteArray *saved, *saved2;
    VdcMigrationStream *s;
    GError *err = NULL;
    Dest d2;

    for (size_t i = 0; i < n; i++) {
        g_byte_array_append(whole, pieces[i].data, (guint)pieces[i].len);
    }
    dest_init(&d2);
    s = vdc_migration_stream_new_reader(whole->data, whole->len);
    CHECK(vdc_migration_load(d2.reg, s, &err),
          "the pieces loaded, their %u bytes in one go did not: %s",
          whole->len, err ? err->message : "");
    vdc_migration_stream_free(s);
    CHECK(vdc_clipboard_live_sink_held(d2.cl) == vdc_clipboard_live_sink_held(d->cl),
          "the sink holds %" G_GUINT64_FORMAT " bytes after the pieces, %"
          G_GUINT64_FORMAT " after the whole", vdc_clipboard_live_sink_held(d->cl),
          vdc_clipboard_live_sink_held(d2.cl));
    for (unsigned k = 0; k < VDC_CLIPBOARD_LIVE_SLOTS; k++) {
        unsigned sel = k / VDC_CLIPBOARD_TYPE__COUNT;
        unsigned type = k % VDC_CLIPBOARD_TYPE__COUNT;
        uint32_t len = 0, len2 = 0;
        bool done = vdc_clipboard_live_sink_complete(d->cl, sel, type, &len);
        bool done2 = vdc_clipboard_live_sink_complete(d2.cl, sel, type, &len2);

        CHECK(done == done2 && len == len2, "slot %u/%u: %s of %u bytes after "
              "the pieces, %s of %u after the whole", sel, type,
              done ? "complete" : "not complete", len,
              done2 ? "complete" : "not complete", len2);
    }
    saved = fuzz_device_save(d->dev, &err);
    CHECK(saved, "save after the pieces: %s", err ? err->message : "");
    saved2 = fuzz_device_save(d2.dev, &err);
    CHECK(saved2, "save after the whole: %s", err ? err->message : "");
    CHECK(same_bytes(saved, saved2), "the device saves %u bytes after the "
          "pieces, %u different ones after the whole", saved->len,
          saved2->len);
    g_byte_array_unref(saved2);
    g_byte_array_unref(saved);
    dest_free(&d2);
    g_byte_array_unref(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    Piece pieces[MAX_PIECES];
    size_t n;
    VdcMigrationLoader *ld;
    GError *first = NULL;
    Dest d;

    if (!init) {
        fuzz_checks_init("fuzz_live");
        init = true;
    }
    n = split(data, size, pieces);
    dest_init(&d);
    ld = vdc_migration_loader_new(d.reg);
    for (size_t i = 0; i < n; i++) {
        GError *err = NULL;
        bool ok = feed(ld, &pieces[i], i + 1 == n, &err);

        CHECK(vdc_clipboard_live_sink_held(d.cl) <= LIVE_MAX_HELD,
              "piece %zu: the sink holds %" G_GUINT64_FORMAT " bytes", i,
              vdc_clipboard_live_sink_held(d.cl));
        if (ok) {
            CHECK(!err, "piece %zu: success with an error set", i);
            CHECK(!first, "piece %zu loaded after a failure: %s", i,
                  first->message);
            continue;
        }
        CHECK(err && err->message && *err->message,
              "piece %zu: failure without an error", i);
        if (first) {
            g_error_free(err);
            continue;
        }
        first = err;
        /* The loader told the live section at once (load_failed). */
        CHECK(vdc_clipboard_live_sink_held(d.cl) == 0, "piece %zu failed (%s), "
              "the sink holds %" G_GUINT64_FORMAT " bytes", i, first->message,
              vdc_clipboard_live_sink_held(d.cl));
        check_prefault_closed(&d.pf, first->message);
        check_files_closed(&d.files, first->message);
    }
    if (!first) {
        CHECK(vdc_migration_loader_done(ld), "the last piece loaded, not done");
        check_whole(&d, pieces, n);
        fuzz_check_loaded(d.dev, &d.sink);
    } else {
        CHECK(!vdc_migration_loader_done(ld), "done after a failure");
        fuzz_check_fresh_and_works(d.dev, &d.sink, first->message);
        g_error_free(first);
    }
    vdc_migration_loader_free(ld);
    dest_free(&d);
    return 0;
}
