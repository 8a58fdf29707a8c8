/*
 * check_host_seam.c: the seam of a migration with host -> guest bytes in
 * flight, byte-exact (issue 24, point 2): the source writes nothing to
 * the guest once its state is saved, the destination writes everything
 * from the first unsent byte.
 *
 * Two real hosts in this process, each the bare bottom (tests/test-host.h)
 * with the real guest transport (host/guest.c) as the device's frontend
 * and real migration (host/migrate.c) wired as main.c wires it.  The
 * guest is this test: it holds the other end of a socket pair whose
 * host end the source's transport uses (fd:N), answers with the scripted
 * agent's encoder, and reads the host's bytes itself, exactly as many as
 * the case says.  The stream: the session's start, a clipboard GRAB from
 * a host peer, then two REQUESTs of the guest answered with two
 * multi-chunk CLIPBOARDs, so that message headers, chunk headers and
 * chunk bodies follow each other.
 *
 * A case: where the kernel stopped taking the source's bytes and how
 * much of them the guest read; then the source migrates:
 *   handover  over unix: (the connection is handed over with the state),
 *             to this test's listener, which holds the transfer and only
 *             later gives the accepted channel to the destination host as
 *             its fd: incoming channel;
 *   behind    over fd: (the channel stays behind, as in a VM migration):
 *             the guest reads what the source left in the old socket, the
 *             destination writes into a new one.
 * Between the save and the load the guest empties the socket and the main
 * loop runs: the source must write nothing more (nor later).  Then the
 * destination runs, and what the guest read from the source followed by
 * what it read from the destination must be exactly the stream of a run
 * without migration (not a byte duplicated, none missing) and decode
 * without a protocol error, every clipboard whole.
 *
 * The kernel takes whole sends, or pieces of a send sized by the socket's
 * send buffer, never a count of our choosing, so:
 *   fills  sweep the send buffer (smallest to default) and the guest's
 *          reads, with and without a refill: the socket from empty to
 *          full at the save, the seams where the kernel stops by itself;
 *   exact  put the first unsent byte at a chosen offset: the guest leaves
 *          the last bytes of the socket unread, the send buffer is set so
 *          that the kernel takes exactly one more piece, of about half the
 *          buffer (it moves byte by byte with the buffer's size; the size
 *          is adjusted until the seam falls where wanted), and a stop and
 *          a cont make the source flush.  The targets: every byte of a
 *          message header and of a chunk header (and one byte either
 *          side), samples of the bodies; and with the transport's buffer
 *          full (64 KiB), every byte of a message header and of chunk
 *          headers at that buffer's end, the seam between the bytes the
 *          state carries in the transport's buffer and those in the
 *          device's queue.  A target that no buffer size reaches fails
 *          the test (the kernel cut elsewhere).
 * SEAM_TRACE=1 prints every case and the coverage.
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <glib.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/guest.h"
#include "host/host.h"
#include "host/migrate.h"
#include "migration/vdc-savevm.h"
#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-host.h"
#include "tests/test-peer.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-wire.h"
#include "vdagent/vdc-vdagent.h"

#define WAIT_MS 5000

/* ---- a host: the bare bottom, the real transport, real migration -------- */

typedef struct Side {
    Host host;
    VdcConfig config;
    VdcMigrationRegistry *reg;
    HostGuest *guest;
    HostMigration *mig;
} Side;

static void op_save(void *opaque, VdcClipboardSaved *saved, uint8_t **out,
                    uint32_t *out_len)
{
    Side *s = opaque;
    size_t len;
    const uint8_t *p = host_guest_pending(s->guest, &len);

    (void)saved;
    *out_len = (uint32_t)len;
    *out = len ? g_memdup2(p, len) : NULL;
}

static bool op_guest_channel(void *opaque, HostGuestChannel *ch)
{
    return host_guest_channel(((Side *)opaque)->guest, ch);
}

static void op_guest_released(void *opaque)
{
    host_guest_release(((Side *)opaque)->guest);
}

static void op_restore(void *opaque, VdcClipboardSaved *saved, const uint8_t *out,
                       uint32_t out_len, bool continuing)
{
    vdc_clipboard_saved_clear(saved);
    host_guest_restore(((Side *)opaque)->guest, out, out_len, continuing);
}

static void op_guest_adopt(void *opaque, const HostGuestChannel *ch)
{
    host_guest_adopt(((Side *)opaque)->guest, ch);
}

static void op_guest_activate(void *opaque)
{
    host_guest_activate(((Side *)opaque)->guest);
}

static void op_guest_drain(void *opaque)
{
    host_guest_drain(((Side *)opaque)->guest);
}

/* As main.c wires them (the host peer's selections aside: none here). */
static const HostMigrateOps seam_ops = {
    .save = op_save,
    .guest_channel = op_guest_channel,
    .guest_drain = op_guest_drain,
    .guest_released = op_guest_released,
    .restore = op_restore,
    .guest_adopt = op_guest_adopt,
    .guest_activate = op_guest_activate,
};

/* A host whose device writes through a HostGuest; @incoming: inmigrate. */
static void side_init(Side *s, bool incoming)
{
    g_autoptr(GError) err = NULL;

    test_host_init(&s->host, &s->config, &s->reg);
    /* The same device, behind the real transport instead. */
    g_clear_pointer(&s->host.dev, vdc_chardev_free);
    s->guest = host_guest_new(&s->host);
    s->host.dev = vdc_chardev_new(&s->config, &host_guest_frontend_ops,
                                  s->guest, &err);
    ck_assert_ptr_null(err);
    s->mig = host_migration_new(&s->host, s->reg, &seam_ops, s, &err);
    ck_assert_ptr_nonnull(s->mig);
    if (incoming) {
        host_set_status(&s->host, HOST_INMIGRATE);
    }
}

/* As main.c shuts down: transport closed, migration, device, transport. */
static void side_fini(Side *s)
{
    host_guest_close(s->guest);
    g_clear_pointer(&s->mig, host_migration_free);
    g_clear_pointer(&s->reg, vdc_migration_registry_free);
    g_clear_pointer(&s->host.dev, vdc_chardev_free);
    g_clear_pointer(&s->guest, host_guest_free);
    test_host_fini(&s->host, &s->reg);
}

static HostMigStatus side_mig_status(const Side *s)
{
    HostMigInfo info;

    host_migration_info(s->mig, &info);
    return info.status;
}

static bool side_mig_done(const Side *s)
{
    HostMigStatus st = side_mig_status(s);

    return st == HOST_MIG_COMPLETED || st == HOST_MIG_FAILED;
}

/* Run the main loop until nothing is ready (bounded). */
static void settle(void)
{
    unsigned idle = 0, n = 0;

    while (idle < 2 && n++ < 10000) {
        idle = g_main_context_iteration(NULL, FALSE) ? 0 : idle + 1;
    }
}

/* ---- the guest end ------------------------------------------------------ */

/* Read up to @max bytes (what is there now) from @fd into @got. */
static size_t guest_read(int fd, GByteArray *got, size_t max)
{
    uint8_t buf[65536];
    size_t total = 0;

    while (total < max) {
        ssize_t n = read(fd, buf, MIN(sizeof(buf), max - total));

        if (n > 0) {
            g_byte_array_append(got, buf, (guint)n);
            total += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            ck_assert_msg(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
                          "guest read: %s", n == 0 ? "end of stream"
                                                   : g_strerror(errno));
            break;
        }
    }
    return total;
}

static void guest_send(GuestAgent *ga, int fd)
{
    g_autoptr(GBytes) out = guest_agent_take_output(ga);
    size_t len;
    const uint8_t *p = g_bytes_get_data(out, &len);

    while (len) {
        ssize_t n = write(fd, p, len);

        ck_assert_msg(n > 0, "guest write: %s", g_strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Bytes the guest can read from @fd now. */
static size_t guest_available(int fd)
{
    int n = 0;

    ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
    return (size_t)n;
}

/* ---- cases ---------------------------------------------------------------- */

enum { MODE_HANDOVER, MODE_BEHIND };

typedef struct SeamCase {
    int mode;
    size_t len;         /* clipboard bytes */
    unsigned requests;  /* the guest's REQUESTs: that many CLIPBOARDs */
    int sndbuf;         /* SO_SNDBUF of the host's end, 0: the default */
    /* either (coarse) */
    size_t read;        /* bytes the guest reads once the reply waits */
    bool refill;        /* then the source runs again before the save */
    /* or (exact) */
    size_t leave;       /* the guest reads all but this many, */
    int sndbuf2;        /* the send buffer becomes this, the source flushes
                           (a stop and a cont): the kernel takes one more
                           piece of about @sndbuf2 bytes */
    bool read_all;      /* then the guest empties the socket (fill 0) */
} SeamCase;

typedef struct SeamResult {
    GByteArray *got;    /* everything the guest read */
    size_t reply_at;    /* where the GRAB starts */
    size_t sent0;       /* exact cases: sent before the last flush */
    size_t seam;        /* the first byte the source did not send */
    size_t fill;        /* bytes in the socket at the save */
    size_t out_len;     /* the transport's bytes saved (seam .. +out_len) */
} SeamResult;

static char *dir;

static void seam_setup(void)
{
    dir = test_scratch_new("check-host-seam");
    signal(SIGPIPE, SIG_IGN);
}

static void seam_teardown(void)
{
    test_scratch_free(&dir);
}

static uint8_t *clip_data(size_t len)
{
    return test_pattern(len, 24);
}

static bool both_done(const void *arg)
{
    const Side *const *s = arg;

    return side_mig_done(s[0]) && side_mig_done(s[1]);
}

/*
 * Run @c.  @ref NULL: without migration, the reference stream.  Else
 * migrate as @c says and check the seam against @ref (failing the test).
 */
static void run_case(const SeamCase *c, const GByteArray *ref, SeamResult *res)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GuestAgent) ga = NULL;
    g_autofree uint8_t *data = clip_data(c->len);
    g_autofree char *spec = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *mig_path = NULL;
    const uint32_t caps = REAL_AGENT_CAPS;
    Side src = { 0 }, dst = { 0 };
    HostPeer *hp;
    int gs[2], ms[2] = { -1, -1 }, ds[2] = { -1, -1 }, lfd = -1, rfd;
    size_t before, seam;
    unsigned i;

    res->got = g_byte_array_new();
    side_init(&src, false);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gs), 0);
    g_unix_set_fd_nonblocking(gs[1], TRUE, NULL);
    spec = g_strdup_printf("fd:%d", gs[0]);
    ck_assert_msg(host_guest_setup(src.guest, spec, &err), "%s",
                  err ? err->message : "");

    /* the session: caps both ways, until all is said */
    ga = guest_agent_new(&caps, 1);
    guest_agent_send_caps(ga, true);
    do {
        before = res->got->len;
        guest_send(ga, gs[1]);
        settle();
        guest_read(gs[1], res->got, SIZE_MAX);
        guest_agent_feed(ga, res->got->data + before, res->got->len - before);
    } while (res->got->len > before);
    ck_assert(guest_agent_host_has_cap(ga, VD_AGENT_CAP_CLIPBOARD_SELECTION));
    res->reply_at = res->got->len;

    if (c->sndbuf) {
        ck_assert_int_eq(setsockopt(gs[0], SOL_SOCKET, SO_SNDBUF, &c->sndbuf,
                                    sizeof(c->sndbuf)), 0);
    }
    /* a host peer grabs; the guest asks for its text */
    hp = hp_new(src.host.hub, "seam", true);
    hp->answer[VDC_CLIPBOARD_SELECTION_CLIPBOARD][VDC_CLIPBOARD_TYPE_TEXT] =
        g_bytes_new(data, c->len);
    hp_grab(hp, VDC_CLIPBOARD_SELECTION_CLIPBOARD, 1u << VDC_CLIPBOARD_TYPE_TEXT);
    for (i = 0; i < c->requests; i++) {
        guest_agent_send_request(ga, VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD,
                                 VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
    guest_send(ga, gs[1]);
    settle();
    /* the guest reads some, the source maybe refills */
    if (c->leave) {
        size_t avail = guest_available(gs[1]);

        res->sent0 = res->got->len + avail;
        ck_assert_uint_gt(avail, c->leave);
        guest_read(gs[1], res->got, avail - c->leave);
        ck_assert_int_eq(setsockopt(gs[0], SOL_SOCKET, SO_SNDBUF, &c->sndbuf2,
                                    sizeof(c->sndbuf2)), 0);
        host_set_status(&src.host, HOST_PAUSED);
        host_set_status(&src.host, HOST_RUNNING);
        if (c->read_all) {
            guest_read(gs[1], res->got, SIZE_MAX);
        }
    } else {
        guest_read(gs[1], res->got, c->read);
        if (c->refill) {
            settle();
        }
    }

    if (!ref) {
        /* no migration: read it all */
        for (i = 0; i < 100000; i++) {
            settle();
            if (guest_read(gs[1], res->got, SIZE_MAX) == 0 &&
                !g_main_context_pending(NULL)) {
                break;
            }
        }
        hp_free(hp);
        side_fini(&src);
        close(gs[1]);
        return;
    }

    /* migrate: stop, (drain,) save, send to a destination that waits */
    if (c->mode == MODE_HANDOVER) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        mig_path = g_build_filename(dir, "mig", NULL);
        g_strlcpy(sa.sun_path, mig_path, sizeof(sa.sun_path));
        unlink(mig_path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                  listen(lfd, 1) == 0);
        uri = g_strdup_printf("unix:%s", mig_path);
    } else {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ms),
                         0);
        uri = g_strdup_printf("fd:%d", ms[0]);
    }
    ck_assert(host_migrate_start(src.mig, uri, &err));
    ck_assert_int_eq(side_mig_status(&src), HOST_MIG_ACTIVE);
    res->fill = guest_available(gs[1]);
    seam = res->got->len + res->fill;
    host_guest_pending(src.guest, &res->out_len);
    res->seam = seam;

    /* saved: the guest empties the socket, the loop runs, nothing comes */
    guest_read(gs[1], res->got, SIZE_MAX);
    ck_assert_uint_eq(res->got->len, seam);
    for (i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
        guest_read(gs[1], res->got, SIZE_MAX);
    }
    ck_assert_msg(res->got->len == seam,
                  "the source wrote %u bytes after saving (seam %zu)",
                  res->got->len - (unsigned)seam, seam);
    ck_assert_int_eq(side_mig_status(&src), HOST_MIG_ACTIVE);

    /* the destination takes the transfer */
    side_init(&dst, true);
    if (c->mode == MODE_HANDOVER) {
        ck_assert(host_guest_setup(dst.guest, NULL, &err));
        rfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(rfd, 0);
    } else {
        g_autofree char *dspec = NULL;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ds),
                         0);
        g_unix_set_fd_nonblocking(ds[1], TRUE, NULL);
        dspec = g_strdup_printf("fd:%d", ds[0]);
        ck_assert(host_guest_setup(dst.guest, dspec, &err));
        rfd = ms[1];
    }
    g_free(uri);
    uri = g_strdup_printf("fd:%d", rfd);
    ck_assert(host_incoming_start(dst.mig, uri, &err));

    /* both ends finish; the guest reads on (the old socket stays empty) */
    {
        const Side *both[2] = { &src, &dst };
        int gfd = c->mode == MODE_HANDOVER ? gs[1] : ds[1];
        gint64 end = g_get_monotonic_time() + WAIT_MS * 1000;

        do {
            before = res->got->len;
            g_main_context_iteration(NULL, FALSE);
            guest_read(gfd, res->got, SIZE_MAX);
            if (c->mode == MODE_BEHIND) {
                ck_assert_msg(guest_read(gs[1], res->got, SIZE_MAX) == 0,
                              "the source wrote after saving");
            }
            if (res->got->len == before && both_done(both) &&
                res->got->len >= ref->len) {
                settle();
                if (guest_read(gfd, res->got, SIZE_MAX) == 0) {
                    break;
                }
            }
            if (res->got->len == before && !g_main_context_pending(NULL)) {
                g_usleep(100);
            }
        } while (g_get_monotonic_time() < end);
    }
    ck_assert_int_eq(side_mig_status(&src), HOST_MIG_COMPLETED);
    ck_assert_int_eq(side_mig_status(&dst), HOST_MIG_COMPLETED);
    ck_assert_int_eq(host_status(&dst.host), HOST_RUNNING);

    hp_free(hp);
    side_fini(&dst);
    side_fini(&src);
    close(gs[1]);
    if (lfd >= 0) {
        close(lfd);
        unlink(mig_path);
    }
    if (ms[0] >= 0) {
        close(ms[0]);
    }
    if (ds[1] >= 0) {
        close(ds[1]);
    }
}

/* ---- where the seams fall --------------------------------------------------- */

/* The headers of a stream of whole messages: chunk headers (8 bytes) and
 * message headers (20), in order; @is_msg tells which. */
typedef struct Header {
    size_t at;
    bool is_msg;
} Header;

static GArray *headers(const GByteArray *s)
{
    GArray *h = g_array_new(FALSE, FALSE, sizeof(Header));
    size_t pos = 0;
    uint32_t msg_left = 0;

    while (pos + VDC_CHUNK_HDR_SIZE <= s->len) {
        uint32_t size = test_le32(s->data + pos + 4);
        size_t body = pos + VDC_CHUNK_HDR_SIZE;
        Header x = { pos, false };

        g_array_append_val(h, x);
        if (msg_left == 0) {
            Header m = { body, true };

            g_array_append_val(h, m);
            msg_left = VDC_MSG_HDR_SIZE + test_le32(s->data + body + 16);
        }
        ck_assert_uint_le(size, msg_left);
        msg_left -= size;
        pos = body + size;
    }
    ck_assert_uint_eq(pos, s->len);
    ck_assert_uint_eq(msg_left, 0);
    return h;
}

static size_t header_len(const Header *x)
{
    return x->is_msg ? VDC_MSG_HDR_SIZE : VDC_CHUNK_HDR_SIZE;
}

/* The guest's own decoder: no protocol error, every clipboard whole. */
static void check_decodes(const GByteArray *s, const SeamCase *c)
{
    g_autoptr(GuestAgent) ga = guest_agent_new(NULL, 0);
    g_autofree uint8_t *data = clip_data(c->len);
    unsigned i;

    guest_agent_feed(ga, s->data, s->len);
    ck_assert_msg(guest_agent_errors(ga) == 0, "%s",
                  guest_agent_last_error(ga));
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD),
                      c->requests);
    for (i = 0; i < c->requests; i++) {
        const GuestAgentMsg *m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, i);

        /* selection prefix (4) and type (4), then the data */
        ck_assert_uint_eq(m->size, 8 + c->len);
        ck_assert(memcmp(m->data + 8, data, c->len) == 0);
        ck_assert_uint_gt(m->n_chunks, 1);
    }
}

static size_t first_difference(const GByteArray *a, const GByteArray *b)
{
    size_t i, n = MIN(a->len, b->len);

    for (i = 0; i < n && a->data[i] == b->data[i]; i++) {
    }
    return i;
}

static unsigned n_cases;

/* Run @c against the reference @ref: byte-exact and decodable. */
static void run_checked(const SeamCase *c, const SeamResult *ref,
                        SeamResult *res)
{
    run_case(c, ref->got, res);
    n_cases++;
    ck_assert_msg(res->got->len == ref->got->len &&
                  memcmp(res->got->data, ref->got->data, ref->got->len) == 0,
                  "%s, %u x %zu bytes, sndbuf %d/%d, read %zu%s, leave %zu%s: "
                  "the guest got %u bytes, expected %u, first difference at "
                  "%zu (the seam at %zu, %zu bytes in the socket, %zu in the "
                  "transport's buffer)",
                  c->mode == MODE_HANDOVER ? "handover" : "behind",
                  c->requests, c->len, c->sndbuf, c->sndbuf2, c->read,
                  c->refill ? ", refilled" : "", c->leave,
                  c->read_all ? ", emptied" : "", res->got->len,
                  ref->got->len, first_difference(res->got, ref->got),
                  res->seam, res->fill, res->out_len);
    check_decodes(res->got, c);
    if (g_getenv("SEAM_TRACE")) {
        fprintf(stderr, "seam %d %u x %zu sndbuf %d/%d read %zu refill %d "
                "leave %zu: seam %zu fill %zu out %zu\n", c->mode, c->requests,
                c->len, c->sndbuf, c->sndbuf2, c->read, c->refill, c->leave,
                res->seam - ref->reply_at, res->fill, res->out_len);
    }
}

/*
 * The streams: two CLIPBOARDs of 5000 bytes (3 chunks each), and two of
 * 70000 (35 chunks each: the transport's buffer fills and the device
 * keeps the rest).  Their sizes put the second message's headers where
 * the exact cases can cut: its start 5000 bytes after the first's, at the
 * first unsent byte; 70000 bytes after it, at the transport's buffer's
 * end.
 */
static const struct {
    size_t len;
    unsigned requests;
} streams[] = {
    { 5000, 2 },
    { 70000, 2 },
};

/*
 * Coarse cases: socket buffers from the smallest to the default, the
 * guest reading nothing, a few bytes, a chunk, or what is there, with and
 * without a refill: seams where the kernel stops (whole sends, pieces of
 * a send), fills from 0 to everything the socket holds.
 */
START_TEST(test_seam_fills)
{
    static const int sndbufs[] = { 0, 2600, 3000, 3400, 4100, 8000, 20000 };
    static const size_t reads[] = { 0, 1, 27, 2100, SIZE_MAX };
    SeamCase c = { .mode = _i / 2, .len = streams[_i % 2].len,
                   .requests = streams[_i % 2].requests };
    SeamResult ref = { 0 };
    size_t fill_min = SIZE_MAX, fill_max = 0;
    unsigned b, r;

    n_cases = 0;
    run_case(&c, NULL, &ref);
    check_decodes(ref.got, &c);
    for (b = 0; b < G_N_ELEMENTS(sndbufs); b++) {
        for (r = 0; r < G_N_ELEMENTS(reads) * 2; r++) {
            SeamResult res = { 0 };

            c.sndbuf = sndbufs[b];
            c.read = reads[r / 2];
            c.refill = r % 2;
            run_checked(&c, &ref, &res);
            fill_min = MIN(fill_min, res.fill);
            fill_max = MAX(fill_max, res.fill);
            g_byte_array_unref(res.got);
        }
    }
    /* empty at the save, and the socket holding the most it takes: the
     * whole reply, or more than the transport's buffer */
    ck_assert_uint_eq(fill_min, 0);
    if (c.len > 65536) {
        ck_assert_uint_gt(fill_max, 65536);
    } else {
        ck_assert_uint_eq(fill_max, ref.got->len - ref.reply_at);
    }
    if (g_getenv("SEAM_TRACE")) {
        fprintf(stderr, "# seam fills %s %u x %zu: %u cases, fill %zu .. %zu\n",
            c.mode == MODE_HANDOVER ? "handover" : "behind", c.requests, c.len,
            n_cases, fill_min, fill_max);
    }
    g_byte_array_unref(ref.got);
}
END_TEST

/*
 * Exact cases: the first unsent byte at each byte of the headers that lie
 * where one piece of a send can end (a message header after a chunk body,
 * a chunk header inside a message), at samples of the bodies, and, with
 * the transport's buffer full, the other seam (that buffer / the device's
 * queue) at each byte of a chunk header.  The send buffer is adjusted
 * until the kernel stops exactly there (it takes one piece of about the
 * buffer's half, which moves byte by byte with the buffer's size).
 */
START_TEST(test_seam_exact)
{
    SeamCase c = { .mode = _i / 2, .len = streams[_i % 2].len,
                   .requests = streams[_i % 2].requests, .sndbuf = 2600,
                   .leave = 8, .sndbuf2 = 3000 };
    SeamResult ref = { 0 }, probe = { 0 };
    g_autoptr(GArray) hdrs = NULL;
    g_autoptr(GArray) targets = g_array_new(FALSE, FALSE, sizeof(size_t));
    g_autoptr(GHashTable) hit = g_hash_table_new(NULL, NULL);
    size_t lo, hi, t, j;
    unsigned k, full_msg = 0, full_chunk = 0, missed = 0;
    unsigned full_out_msg = 0, full_out_chunk = 0;
    bool full_buffer = c.len * c.requests > 2 * HOST_OUT_MAX;
    gint64 t0 = g_get_monotonic_time();

    n_cases = 0;
    {
        SeamCase rc = c;

        rc.leave = 0;
        run_case(&rc, NULL, &ref);
    }
    check_decodes(ref.got, &c);
    hdrs = headers(ref.got);
    /* where one piece can end: from the smallest buffer up */
    run_checked(&c, &ref, &probe);
    lo = probe.sent0 + 2400;
    hi = probe.sent0 + 5000;
    g_byte_array_unref(probe.got);

    for (k = 0; k < hdrs->len; k++) {
        const Header *x = &g_array_index(hdrs, Header, k);
        size_t n = header_len(x);

        /* the first unsent byte at each byte of the header, and just
         * before and after it */
        if (x->at >= lo + 1 && x->at + n + 1 <= hi) {
            for (j = x->at - 1; j <= x->at + n; j++) {
                g_array_append_val(targets, j);
            }
            *(x->is_msg ? &full_msg : &full_chunk) += 1;
        }
        /* the transport's buffer full and ending there: the first
         * unsent byte 64 KiB before */
        if (full_buffer && x->at >= lo + 1 + HOST_OUT_MAX &&
            x->at + n + 1 <= hi + HOST_OUT_MAX) {
            for (j = x->at - 1; j <= x->at + n; j++) {
                t = j - HOST_OUT_MAX;
                g_array_append_val(targets, t);
            }
            *(x->is_msg ? &full_out_msg : &full_out_chunk) += 1;
        }
    }
    for (t = lo; t < hi; t += 97) {
        g_array_append_val(targets, t);     /* bodies */
    }
    /* the streams are laid out so that these exist in the window */
    ck_assert_uint_ge(full_chunk, 1);
    if (!full_buffer) {
        ck_assert_uint_ge(full_msg, 1);
    } else {
        ck_assert_uint_ge(full_out_msg, 1);
        ck_assert_uint_ge(full_out_chunk, 1);
    }

    for (k = 0; k < targets->len; k++) {
        size_t want = g_array_index(targets, size_t, k);
        int val = (int)(want - probe.sent0) + 64, tries;

        if (g_hash_table_contains(hit, GSIZE_TO_POINTER(want))) {
            continue;
        }
        c.read_all = k % 2;
        for (tries = 0; tries < 6; tries++) {
            SeamResult res = { 0 };

            c.sndbuf2 = val;
            run_checked(&c, &ref, &res);
            g_hash_table_add(hit, GSIZE_TO_POINTER(res.seam));
            if (full_buffer) {
                ck_assert_uint_eq(res.out_len, HOST_OUT_MAX);
            }
            g_byte_array_unref(res.got);
            if (res.seam == want) {
                break;
            }
            val += (int)want - (int)res.seam;
        }
        if (!g_hash_table_contains(hit, GSIZE_TO_POINTER(want))) {
            missed++;
            fprintf(stderr, "# seam: no send buffer put the first unsent "
                    "byte at %zu\n", want);
        }
    }
    ck_assert_msg(missed == 0, "%u of %u seam positions not reached", missed,
                  targets->len);
    if (g_getenv("SEAM_TRACE")) {
        fprintf(stderr, "# seam exact %s %u x %zu: %u cases in %.2f s, %u seam "
            "positions; every byte of %u message and %u chunk headers at the "
            "first unsent byte, of %u and %u at the transport's buffer's "
            "end\n",
            c.mode == MODE_HANDOVER ? "handover" : "behind", c.requests, c.len,
            n_cases, (g_get_monotonic_time() - t0) / 1e6, targets->len,
            full_msg, full_chunk, full_out_msg, full_out_chunk);
    }
    g_byte_array_unref(ref.got);
}
END_TEST

Suite *host_seam_suite(void)
{
    Suite *s = suite_create("host-seam");
    TCase *tc = tcase_create("seam");

    tcase_add_checked_fixture(tc, seam_setup, seam_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_seam_fills, 0, 4);
    tcase_add_loop_test(tc, test_seam_exact, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
