/*
 * check_host_live.c: vdagent-host's migration with a live phase
 * (host/migrate.c, pause-before-switchover; issue 21, points 1 and 6).
 *
 * Two bare hosts in this process (tests/test-host.h), each with real
 * migration (host/migrate.c) and a clipboard peer of its own ("host") as
 * main.c wires the program's: its selections are what the host section
 * saves and restores.  Another peer ("other") on the source's hub stands
 * for the guest's side of the hub (a grab, a release, a request).  A fake
 * destination (a thread of this test speaking the channel's version 2)
 * stalls, dies or refuses at a chosen phase.
 *
 *   moves      unix:, tcp: and fd: with 16 MiB of host-owned data; a
 *              clipboard-set during the live phase: the destination ends
 *              with the newest data, the final frame carries no data
 *   changes    another owner's grab and release during the live phase; a
 *              request of the other peer for the host's data, answered
 *              during the live phase
 *   cancel     in "active", in "pre-switchover": the source runs on with
 *              its data, the destination fails cleanly and then takes a
 *              new migration; in "device": refused
 *   peer       a destination that dies or refuses in each phase: the
 *              source fails, runs on (resumed when it had stopped) and
 *              serves its data
 *   commands   migrate-continue out of its state, capabilities during a
 *              migration, file: with the capability
 *   hostile    a source speaking the channel's version 2 badly (a header,
 *              a frame too long, a frame type, a live part that does not
 *              load, a truncated frame, a part for no section, a bad final
 *              frame): the destination fails cleanly, holds nothing, and
 *              takes the next migration
 *   by-reference  sealed data (host/sealed.h) over unix: and fd: arrives
 *              as a mapping of the memfd passed, over tcp: as bytes;
 *              sealed memory itself; a source passing descriptors badly
 *              (none, unsealed, a pipe, another size, unused): a clean
 *              failure, every descriptor closed, the next one by reference
 *
 * No guest agent takes part (the hub's other side is the peer "other"),
 * so there is no agent model to vary here: the host program's live
 * migration with the Windows agent is integration scenario "windows".
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clipboard/vdc-clipboard-vmstate.h"
#include "host/host.h"
#include "host/migrate.h"
#include "host/prefault.h"
#include "host/sealed.h"
#include "migration/vdc-savevm.h"
#include "tests/check_suites.h"
#include "tests/test-host.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

#define WAIT_MS 10000
#define MIB (1024u * 1024)

typedef struct LHost {
    Host host;
    VdcConfig config;
    VdcMigrationRegistry *reg;
    HostMigration *mig;
    VdcClipboardPeer peer;         /* "host": its selections migrate */
    unsigned restores;
} LHost;

static void peer_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    (void)peer;
    (void)n;
}

static const VdcClipboardPeerOps host_peer_ops = { .notify = peer_notify };

static void op_save(void *opaque, VdcClipboardSaved *saved, uint8_t **out,
                    uint32_t *out_len)
{
    LHost *lh = opaque;

    vdc_clipboard_saved_collect(saved, &lh->peer);
    *out = NULL;
    *out_len = 0;
}

static bool op_guest_channel(void *opaque, HostGuestChannel *ch)
{
    (void)opaque;
    (void)ch;
    return false;
}

static void op_nothing(void *opaque)
{
    (void)opaque;
}

static void op_restore(void *opaque, VdcClipboardSaved *saved,
                       const uint8_t *out, uint32_t out_len, bool continuing)
{
    LHost *lh = opaque;

    (void)out;
    (void)out_len;
    (void)continuing;
    lh->restores++;
    vdc_clipboard_saved_restore(saved, lh->host.hub, &lh->peer);
}

static void op_adopt(void *opaque, const HostGuestChannel *ch)
{
    (void)opaque;
    (void)ch;
}

static const HostMigrateOps ops = {
    .save = op_save,
    .guest_channel = op_guest_channel,
    .guest_released = op_nothing,
    .restore = op_restore,
    .guest_adopt = op_adopt,
    .guest_activate = op_nothing,
};

static LHost src, dst;
static VdcClipboardPeer other;     /* on the source's hub */
static unsigned other_updates;
static char *dir;

static void other_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    (void)peer;
    if (n->type == VDC_CLIPBOARD_NOTIFY_UPDATE) {
        other_updates++;
    }
}

static const VdcClipboardPeerOps other_ops = { .notify = other_notify };

static void lhost_init(LHost *lh, bool incoming)
{
    g_autoptr(GError) err = NULL;

    memset(lh, 0, sizeof(*lh));
    test_host_init(&lh->host, &lh->config, &lh->reg);
    lh->peer.name = "host";
    lh->peer.ops = &host_peer_ops;
    ck_assert(vdc_clipboard_peer_register(lh->host.hub, &lh->peer));
    lh->mig = host_migration_new(&lh->host, lh->reg, &ops, lh, &err);
    ck_assert_ptr_nonnull(lh->mig);
    if (incoming) {
        host_set_status(&lh->host, HOST_INMIGRATE);
    }
}

static void lhost_fini(LHost *lh)
{
    g_clear_pointer(&lh->mig, host_migration_free);
    vdc_clipboard_peer_unregister(&lh->peer);
    test_host_fini(&lh->host, &lh->reg);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    dir = test_scratch_new("check-host-live");
    lhost_init(&src, false);
    lhost_init(&dst, true);
    memset(&other, 0, sizeof(other));
    other.name = "other";
    other.ops = &other_ops;
    other_updates = 0;
    ck_assert(vdc_clipboard_peer_register(src.host.hub, &other));
}

static void teardown(void)
{
    /* let threads that are ending report (a detached one is harmless) */
    test_run_for(50);
    vdc_clipboard_peer_unregister(&other);
    lhost_fini(&src);
    lhost_fini(&dst);
    test_scratch_free(&dir);
}

static HostMigStatus status_of(const LHost *lh)
{
    HostMigInfo info;

    host_migration_info(lh->mig, &info);
    return info.status;
}

typedef struct Want {
    const LHost *lh;
    HostMigStatus st;
} Want;

static bool is_status(const void *arg)
{
    const Want *w = arg;

    return status_of(w->lh) == w->st;
}

static void wait_status(const LHost *lh, HostMigStatus st)
{
    Want w = { lh, st };
    HostMigInfo info;
    bool ok = test_run_until(NULL, is_status, &w, WAIT_MS);

    host_migration_info(lh->mig, &info);
    ck_assert_msg(ok,
                  "status %s, waited for %s (%s)",
                  host_mig_status_name(status_of(lh)),
                  host_mig_status_name(st), info.error ? info.error : "");
}

static char *path_in(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

/* @peer of @lh grabs @sel with @data (taken) as @type. */
static void grab(LHost *lh, VdcClipboardPeer *peer, VdcClipboardSelection sel,
                 VdcClipboardType type, GBytes *data)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(peer, sel);

    info->types[type].available = true;
    info->types[type].data = data;
    ck_assert(vdc_clipboard_hub_update(lh->host.hub, info));
}

static GBytes *data_of(LHost *lh, VdcClipboardSelection sel, VdcClipboardType type)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(lh->host.hub, sel);

    return info ? info->types[type].data : NULL;
}

static void assert_holds(LHost *lh, VdcClipboardPeer *owner,
                         VdcClipboardSelection sel, VdcClipboardType type,
                         GBytes *want)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(lh->host.hub, sel);
    GBytes *got = data_of(lh, sel, type);

    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_eq(info->owner, owner);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(g_bytes_equal(got, want), "data of %zu bytes, want %zu",
                  g_bytes_get_size(got), g_bytes_get_size(want));
}

static GBytes *pattern(size_t n, unsigned seed)
{
    return g_bytes_new_take(test_pattern(n, seed), n);
}

static void set_pause(LHost *lh, bool on)
{
    g_autoptr(GError) err = NULL;

    ck_assert(host_migration_set_pause(lh->mig, on, &err));
}

static void migrate(LHost *lh, const char *uri)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(host_migrate_start(lh->mig, uri, &err), "%s",
                  err ? err->message : "");
}

static void incoming(LHost *lh, const char *uri)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(host_incoming_start(lh->mig, uri, &err), "%s",
                  err ? err->message : "");
}

static void cont(LHost *lh)
{
    g_autoptr(GError) err = NULL;

    ck_assert_msg(host_migrate_continue(lh->mig, "pre-switchover", &err),
                  "%s", err ? err->message : "");
}

static int free_tcp_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* ---- moves --------------------------------------------------------------- */

/*
 * 8 MiB owned by the source's host peer; during the live phase a new
 * clipboard-set replaces it (and a text comes to the primary): after the
 * switchover the destination's host peer holds the newest data, restored
 * once, and the source is postmigrate.
 */
typedef enum Data {
    DATA_HEAP,                  /* an ordinary GBytes: by its bytes */
    DATA_SEALED_BY_REF,         /* sealed memory, passed as its memfd */
    DATA_SEALED_BY_BYTES,       /* sealed memory, but a channel without fds */
} Data;

static GBytes *data_new(Data kind, size_t n, unsigned seed)
{
    g_autoptr(GBytes) heap = pattern(n, seed);
    GBytes *data;

    if (kind == DATA_HEAP) {
        return g_steal_pointer(&heap);
    }
    data = host_sealed_copy(g_bytes_get_data(heap, NULL), n);
    ck_assert_int_ge(host_sealed_fd(data), 0);
    return data;
}

static void live_migration(const char *in_uri, const char *out_uri,
                           Data kind)
{
    /* more than the queue holds: still "active" when migrate returns */
    g_autoptr(GBytes) first = data_new(kind, 16 * MIB, 1);
    g_autoptr(GBytes) newest = data_new(kind, 16 * MIB + 3, 2);
    g_autoptr(GBytes) text = g_bytes_new_static("during the live phase", 21);
    HostMigInfo info;
    unsigned updates;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(first));
    incoming(&dst, in_uri);
    set_pause(&src, true);
    migrate(&src, out_uri);
    ck_assert_int_eq(status_of(&src), HOST_MIG_ACTIVE);
    /* the state stays here and runs */
    host_migration_info(src.mig, &info);
    ck_assert(info.live);
    ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(newest));
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_PRIMARY, VDC_CLIPBOARD_TYPE_TEXT,
         g_bytes_ref(text));
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    ck_assert_int_eq(status_of(&dst), HOST_MIG_ACTIVE);
    ck_assert_int_eq(host_status(&dst.host), HOST_INMIGRATE);
    updates = other_updates;
    cont(&src);
    ck_assert_int_eq(status_of(&src), HOST_MIG_DEVICE);
    ck_assert_int_eq(host_status(&src.host), HOST_PAUSED);
    wait_status(&src, HOST_MIG_COMPLETED);
    wait_status(&dst, HOST_MIG_COMPLETED);
    ck_assert_int_eq(host_status(&src.host), HOST_POSTMIGRATE);
    ck_assert_int_eq(host_status(&dst.host), HOST_RUNNING);
    ck_assert_uint_eq(dst.restores, 1);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, newest);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_PRIMARY,
                 VDC_CLIPBOARD_TYPE_TEXT, text);
    ck_assert(vdc_clipboard_hub_info(dst.host.hub,
                                     VDC_CLIPBOARD_SELECTION_CLIPBOARD)->restored);
    /*
     * The destination holds sealed memory of its own either way: by
     * reference a mapping of the memfd it was passed; by bytes the memfd
     * it received them into (the 16 MiB slot is large).  Over tcp: they
     * went from the socket into that file by splice(), the newest data's
     * at least; over unix sockets never.
     */
    ck_assert_int_ge(host_sealed_fd(data_of(&dst, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                            VDC_CLIPBOARD_TYPE_PNG)), 0);
    host_migration_info(dst.mig, &info);
    if (g_str_has_prefix(in_uri, "tcp:")) {
        ck_assert_uint_ge(info.spliced, g_bytes_get_size(newest));
    } else {
        ck_assert_uint_eq(info.spliced, 0);
    }
    /* the source's other peers saw no new grab from the switchover */
    ck_assert_uint_eq(other_updates, updates);
    host_migration_info(dst.mig, &info);
    ck_assert_int_ge(info.downtime_us, 0);
    /* the final frame is small: the main loops sent and took it, no
     * hand-off to or from a thread */
    ck_assert(info.final_on_loop);
    host_migration_info(src.mig, &info);
    ck_assert(info.final_on_loop);
}

static void over_unix(Data kind)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);

    live_migration(uri, uri, kind);
}

static void over_tcp(Data kind)
{
    g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%d",
                                           free_tcp_port());

    live_migration(uri, uri, kind);
}

/* fd: over a socket pair, a unix socket: descriptors pass */
static void over_fd(Data kind)
{
    int sv[2];
    g_autofree char *in_uri = NULL, *out_uri = NULL;

    ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    in_uri = g_strdup_printf("fd:%d", sv[0]);
    out_uri = g_strdup_printf("fd:%d", sv[1]);
    live_migration(in_uri, out_uri, kind);
    close(sv[1]);
}

START_TEST(test_unix)
{
    over_unix(DATA_HEAP);
}
END_TEST

START_TEST(test_tcp)
{
    over_tcp(DATA_HEAP);
}
END_TEST

START_TEST(test_fd)
{
    over_fd(DATA_HEAP);
}
END_TEST

static long minor_faults(void)
{
    struct rusage ru;

    ck_assert(getrusage(RUSAGE_SELF, &ru) == 0);
    return ru.ru_minflt;
}

/*
 * --incoming-prealloc: 16 MiB over tcp: land on the destination's pool,
 * byte-exact: the whole migration (both hosts are this process) faults
 * in fewer than half the slot's pages (without the pool, the helper
 * faults in every one of them, 4096; under ASan, whose shadow memory
 * faults too, some 1500 with the pool and 5600 without).
 */
START_TEST(test_prealloc)
{
    const size_t n = 16u << 20;
    g_autoptr(GBytes) data = pattern(n, 7);
    g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%d", free_tcp_port());
    g_autoptr(GError) err = NULL;
    long faults;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
         VDC_CLIPBOARD_TYPE_PNG, g_bytes_ref(data));
    ck_assert_msg(host_migration_prealloc(dst.mig, n + (1u << 20), &err),
                  "%s", err ? err->message : "");
    incoming(&dst, uri);
    set_pause(&src, true);
    faults = minor_faults();
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    wait_status(&src, HOST_MIG_COMPLETED);
    wait_status(&dst, HOST_MIG_COMPLETED);
    faults = minor_faults() - faults;
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, data);
    ck_assert_msg(faults < (long)(n / 4096 / 2),
                  "%ld page faults in the migration", faults);
}
END_TEST

/* Another owner grabs, then releases, during the live phase. */
/*
 * New data between pre-switchover and the continue goes in the final
 * frame: one larger than the destination's main loop takes (1 MiB) is
 * received by its thread, and arrives whole all the same.  Over fd: (a
 * socket pair whose send buffer is small), the source's main loop sends
 * what the socket takes and its thread the rest.
 */
START_TEST(test_final_large)
{
    g_autofree char *p = path_in("in");
    g_autofree char *in_uri = NULL, *out_uri = NULL;
    g_autoptr(GBytes) first = pattern(MIB, 5);
    g_autoptr(GBytes) late = pattern(3 * MIB + 1, 6);
    HostMigInfo info;
    int sv[2] = { -1, -1 }, small = 4096;

    if (_i == 0) {
        in_uri = g_strconcat("unix:", p, NULL);
    } else if (_i == 1) {
        in_uri = g_strdup_printf("tcp:127.0.0.1:%d", free_tcp_port());
    } else {
        ck_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        ck_assert(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small,
                             sizeof(small)) == 0);
        in_uri = g_strdup_printf("fd:%d", sv[0]);
        out_uri = g_strdup_printf("fd:%d", sv[1]);
    }
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(first));
    incoming(&dst, in_uri);
    set_pause(&src, true);
    migrate(&src, out_uri ? out_uri : in_uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    /* no main loop turn between: nothing of it goes live */
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(late));
    cont(&src);
    wait_status(&src, HOST_MIG_COMPLETED);
    wait_status(&dst, HOST_MIG_COMPLETED);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, late);
    host_migration_info(dst.mig, &info);
    ck_assert_int_ge(info.downtime_us, 0);
    ck_assert(!info.final_on_loop);
    if (_i == 2) {
        /* 3 MiB through a 4 KiB buffer: not in one go without waiting */
        host_migration_info(src.mig, &info);
        ck_assert(!info.final_on_loop);
        close(sv[1]);
    }
}
END_TEST

START_TEST(test_grab_release)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GBytes) big = pattern(4 * MIB, 3);
    g_autoptr(GBytes) guest = pattern(2 * MIB, 4);

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_SECONDARY, VDC_CLIPBOARD_TYPE_BMP,
         pattern(3 * MIB, 5));
    incoming(&dst, uri);
    set_pause(&src, true);
    migrate(&src, uri);
    /* the other side takes the clipboard, then gives the secondary up */
    grab(&src, &other, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_TEXT,
         g_bytes_ref(guest));
    test_run_for(30);
    vdc_clipboard_peer_release(&src.peer, VDC_CLIPBOARD_SELECTION_SECONDARY);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    wait_status(&dst, HOST_MIG_COMPLETED);
    wait_status(&src, HOST_MIG_COMPLETED);
    /* the host peer owned nothing at the end: the destination's neither */
    ck_assert_ptr_null(data_of(&dst, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                               VDC_CLIPBOARD_TYPE_PNG));
    ck_assert(!vdc_clipboard_peer_owns(&dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD));
    ck_assert(!vdc_clipboard_peer_owns(&dst.peer, VDC_CLIPBOARD_SELECTION_SECONDARY));
}
END_TEST

/* The other peer asks for the host's data during the live phase. */
START_TEST(test_request_during)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GBytes) big = pattern(6 * MIB, 6);

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    incoming(&dst, uri);
    set_pause(&src, true);
    migrate(&src, uri);
    /* served from the hub at once while the data moves */
    ck_assert(vdc_clipboard_hub_request(src.host.hub,
                                        vdc_clipboard_hub_info(src.host.hub,
                                        VDC_CLIPBOARD_SELECTION_CLIPBOARD),
                                    VDC_CLIPBOARD_TYPE_PNG));
    assert_holds(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    wait_status(&dst, HOST_MIG_COMPLETED);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
}
END_TEST

/* ---- a fake destination -------------------------------------------------- */

typedef enum Act { ACT_DIE, ACT_REFUSE } Act;

/*
 * A fake destination: reads the header and live frames (acknowledging
 * each as loaded); then, after
 * @frames data-carrying live frames (it stops reading and waits for @go
 * first), or once @go is set (@frames -2: it keeps reading until then),
 * or at the final frame (@frames -1: at once), it dies (closes) or
 * refuses (writes a refusal answer, then reads until the source closes).
 */
typedef struct Fake {
    int listen_fd;
    int frames;
    Act act;
    bool lie;                   /* acknowledges 1 GiB more than it got */
    gint go;
    GThread *thread;
} Fake;

static bool recv_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;

    while (n) {
        ssize_t r = read(fd, p, n);

        if (r <= 0) {
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool skip(int fd, uint64_t n)
{
    uint8_t buf[65536];

    while (n) {
        size_t k = MIN(n, sizeof(buf));

        if (!recv_all(fd, buf, k)) {
            return false;
        }
        n -= k;
    }
    return true;
}

static void fake_act(Fake *f, int fd, bool wait)
{
    static const uint8_t refusal[] = { 'V', 'D', 'M', 'R', 1, 1, 0, 0, 0, 2,
                                       'n', 'o' };

    while (wait && !g_atomic_int_get(&f->go)) {
        g_usleep(1000);
    }
    if (f->act == ACT_REFUSE &&
        write(fd, refusal, sizeof(refusal)) == sizeof(refusal)) {
        skip(fd, UINT64_MAX);           /* until the source lets go */
    }
}

static gpointer fake_thread(gpointer opaque)
{
    Fake *f = opaque;
    uint8_t hdr[20], type, b[16];
    int fd = accept(f->listen_fd, NULL, NULL), n = 0;
    uint64_t loaded = 0;

    if (fd < 0 || !recv_all(fd, hdr, sizeof(hdr)) || hdr[4] != 2) {
        goto out;
    }
    for (;;) {
        if (f->frames >= 0 && n == f->frames) {
            fake_act(f, fd, true);
            break;
        }
        if (f->frames == -2 && g_atomic_int_get(&f->go)) {
            fake_act(f, fd, false);
            break;
        }
        if (!recv_all(fd, &type, 1)) {
            break;
        }
        if (type == 0x01) {
            uint8_t ack[12] = { 'V', 'D', 'M', 'K' };

            if (!recv_all(fd, b, 4) || !skip(fd, test_be32(b))) {
                break;
            }
            if (test_be32(b) != 0) {
                /* acknowledged, as a destination that loaded it */
                n++;
                loaded += test_be32(b) + (f->lie ? 1u << 30 : 0);
                for (int i = 0; i < 8; i++) {
                    ack[4 + i] = (uint8_t)(loaded >> (56 - 8 * i));
                }
                if (write(fd, ack, sizeof(ack)) != sizeof(ack)) {
                    break;
                }
            }
            continue;
        }
        if (type != 0x02 || f->frames != -1) {
            break;
        }
        /* the final frame's header (path length 0 here) and length */
        if (!recv_all(fd, b, 16) || !recv_all(fd, b, 8)) {
            break;
        }
        if (f->act == ACT_REFUSE &&
            !skip(fd, (uint64_t)test_be32(b) << 32 | test_be32(b + 4))) {
            break;
        }
        fake_act(f, fd, false);
        break;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

static bool next_fake_lies;     /* the next fake_start()'s @lie */

static char *fake_start(Fake *f, int frames, Act act)
{
    g_autofree char *p = path_in("fake");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    memset(f, 0, sizeof(*f));
    f->frames = frames;
    f->act = act;
    f->lie = next_fake_lies;
    next_fake_lies = false;
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, p, sizeof(sa.sun_path));
    ck_assert(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(listen(f->listen_fd, 1) == 0);
    f->thread = g_thread_new("fake-dest", fake_thread, f);
    return g_strconcat("unix:", p, NULL);
}

static void fake_end(Fake *f)
{
    g_atomic_int_set(&f->go, 1);
    g_thread_join(f->thread);
    close(f->listen_fd);
}

/*
 * After a failed or cancelled migration: the source runs with its data,
 * serves it, and can migrate again (here: with the capability off, to a
 * file: that loads on the destination).
 */
static void source_goes_on(GBytes *big)
{
    g_autofree char *p = path_in("state");
    g_autofree char *uri = g_strconcat("file:", p, NULL);

    ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    assert_holds(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
    ck_assert(vdc_clipboard_hub_request(src.host.hub,
                                        vdc_clipboard_hub_info(src.host.hub,
                                        VDC_CLIPBOARD_SELECTION_CLIPBOARD),
                                    VDC_CLIPBOARD_TYPE_PNG));
    set_pause(&src, false);
    migrate(&src, uri);
    ck_assert_int_eq(status_of(&src), HOST_MIG_COMPLETED);
    incoming(&dst, uri);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
}

/* A destination that dies or refuses at @frames (-1: the final). */
static void peer_case(int frames, Act act)
{
    g_autoptr(GBytes) big = pattern(8 * MIB, 7);
    Fake f;
    g_autofree char *uri = NULL;
    HostMigInfo info;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    uri = fake_start(&f, frames, act);
    set_pause(&src, true);
    migrate(&src, uri);
    if (frames == -1) {
        wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
        cont(&src);
        ck_assert_int_eq(host_status(&src.host), HOST_PAUSED);
    } else {
        /* the fake stops reading early: the source stays active */
        test_run_for(300);
        ck_assert_int_eq(status_of(&src), HOST_MIG_ACTIVE);
        ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    }
    g_atomic_int_set(&f.go, 1);
    wait_status(&src, HOST_MIG_FAILED);
    host_migration_info(src.mig, &info);
    if (act == ACT_REFUSE) {
        ck_assert_msg(strstr(info.error, "destination refused: no") ||
                      strstr(info.error, "closed") ||
                      strstr(info.error, "reset") ||
                      strstr(info.error, "pipe"), "%s", info.error);
    }
    fake_end(&f);
    source_goes_on(big);
}

START_TEST(test_dies_active)
{
    peer_case(1, ACT_DIE);
}
END_TEST

START_TEST(test_refuses_active)
{
    peer_case(1, ACT_REFUSE);
}
END_TEST

START_TEST(test_dies_device)
{
    peer_case(-1, ACT_DIE);
}
END_TEST

START_TEST(test_refuses_device)
{
    peer_case(-1, ACT_REFUSE);
}
END_TEST

/* Dies or refuses while the source waits in pre-switchover. */
static void pre_switchover_case(Act act)
{
    g_autoptr(GBytes) big = pattern(2 * MIB, 8);
    Fake f;
    g_autofree char *uri = NULL;
    HostMigInfo info;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    uri = fake_start(&f, -2, act);
    set_pause(&src, true);
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    g_atomic_int_set(&f.go, 1);       /* at its next keepalive */
    wait_status(&src, HOST_MIG_FAILED);
    host_migration_info(src.mig, &info);
    if (act == ACT_REFUSE) {
        ck_assert_msg(strstr(info.error, "destination refused: no"), "%s",
                      info.error);
    }
    fake_end(&f);
    source_goes_on(big);
}

START_TEST(test_dies_pre_switchover)
{
    pre_switchover_case(ACT_DIE);
}
END_TEST

START_TEST(test_refuses_pre_switchover)
{
    pre_switchover_case(ACT_REFUSE);
}
END_TEST

/* ---- cancel -------------------------------------------------------------- */

/*
 * Cancel in @phase: the source runs on with its data; the destination
 * fails its load, stays inmigrate with nothing loaded, and takes the next
 * migration.
 */
static void cancel_case(HostMigStatus phase)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    /* more than the queue holds: still "active" when migrate returns */
    g_autoptr(GBytes) big = pattern(16 * MIB, 9);
    g_autoptr(GError) err = NULL;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    incoming(&dst, uri);
    set_pause(&src, true);
    migrate(&src, uri);
    if (phase == HOST_MIG_PRE_SWITCHOVER) {
        wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    } else {
        ck_assert_int_eq(status_of(&src), HOST_MIG_ACTIVE);
    }
    ck_assert(host_migrate_cancel(src.mig, &err));
    ck_assert_int_eq(status_of(&src), HOST_MIG_CANCELLING);
    wait_status(&src, HOST_MIG_CANCELLED);
    ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    assert_holds(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
    /* the destination: failed (or never reached), nothing loaded */
    if (status_of(&dst) == HOST_MIG_ACTIVE) {
        wait_status(&dst, HOST_MIG_FAILED);
    }
    ck_assert_int_eq(host_status(&dst.host), HOST_INMIGRATE);
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst.host.hub,
                                              VDC_CLIPBOARD_SELECTION_CLIPBOARD));
    ck_assert_uint_eq(dst.restores, 0);
    /* and both go on: a second live migration completes */
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    wait_status(&src, HOST_MIG_COMPLETED);
    wait_status(&dst, HOST_MIG_COMPLETED);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
}

START_TEST(test_cancel_active)
{
    cancel_case(HOST_MIG_ACTIVE);
}
END_TEST

START_TEST(test_cancel_pre_switchover)
{
    cancel_case(HOST_MIG_PRE_SWITCHOVER);
}
END_TEST

/* In "device" the final state is on its way: cancel is refused. */
START_TEST(test_cancel_device_refused)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GError) err = NULL;

    incoming(&dst, uri);
    set_pause(&src, true);
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    ck_assert(!host_migrate_cancel(src.mig, &err));
    ck_assert_msg(strstr(err->message, "too late to cancel"), "%s",
                  err->message);
    wait_status(&src, HOST_MIG_COMPLETED);
    wait_status(&dst, HOST_MIG_COMPLETED);
}
END_TEST

/* ---- commands ------------------------------------------------------------ */

START_TEST(test_commands)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autofree char *fp = path_in("state");
    g_autofree char *file = g_strconcat("file:", fp, NULL);
    g_autoptr(GError) err = NULL;

    /* nothing to cancel: QEMU answers ok */
    ck_assert(host_migrate_cancel(src.mig, &err));
    ck_assert(!host_migrate_continue(src.mig, "pre-switchover", &err));
    ck_assert_str_eq(err->message, "Migration not in expected state: none");
    g_clear_error(&err);
    ck_assert(!host_migration_pause(src.mig));
    set_pause(&src, true);
    ck_assert(host_migration_pause(src.mig));
    ck_assert(!host_migrate_start(src.mig, file, &err));
    ck_assert_msg(strstr(err->message, "not file:"), "%s", err->message);
    g_clear_error(&err);
    ck_assert_int_eq(status_of(&src), HOST_MIG_NONE);

    incoming(&dst, uri);
    migrate(&src, uri);
    ck_assert(!host_migration_set_pause(src.mig, false, &err));
    ck_assert_str_eq(err->message, "There's a migration process in progress");
    g_clear_error(&err);
    ck_assert(!host_migrate_start(src.mig, uri, &err));
    g_clear_error(&err);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    ck_assert(!host_migrate_continue(src.mig, "active", &err));
    ck_assert_str_eq(err->message,
                     "Migration not in expected state: pre-switchover");
    g_clear_error(&err);
    cont(&src);
    ck_assert(!host_migrate_continue(src.mig, "pre-switchover", &err));
    ck_assert_str_eq(err->message, "Migration not in expected state: device");
    g_clear_error(&err);
    wait_status(&src, HOST_MIG_COMPLETED);
}
END_TEST

/* A host freed in the middle of a live phase leaves no thread behind. */
START_TEST(test_free_during_live)
{
    g_autoptr(GBytes) big = pattern(8 * MIB, 10);
    Fake f;
    g_autofree char *uri = NULL;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    uri = fake_start(&f, 1, ACT_DIE);
    set_pause(&src, true);
    migrate(&src, uri);
    test_run_for(100);
    g_clear_pointer(&src.mig, host_migration_free);
    g_atomic_int_set(&f.go, 1);
    fake_end(&f);
    test_run_for(100);          /* the thread's report finds no host */
}
END_TEST

/* A destination acknowledging bytes never sent: the source fails. */
START_TEST(test_ack_lie)
{
    g_autoptr(GBytes) big = pattern(MIB, 13);
    Fake f;
    g_autofree char *uri = NULL;
    HostMigInfo info;

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    next_fake_lies = true;
    uri = fake_start(&f, -2, ACT_DIE);
    set_pause(&src, true);
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_FAILED);
    host_migration_info(src.mig, &info);
    ck_assert_str_eq(info.error,
                     "the destination acknowledged bytes never sent");
    g_atomic_int_set(&f.go, 1);
    fake_end(&f);
    source_goes_on(big);
}
END_TEST

/* A destination freed (quitting) while a live part arrives. */
START_TEST(test_free_dest_during_live)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GBytes) big = pattern(16 * MIB, 12);

    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    incoming(&dst, uri);
    set_pause(&src, true);
    migrate(&src, uri);
    wait_status(&dst, HOST_MIG_ACTIVE);
    g_clear_pointer(&dst.mig, host_migration_free);
    wait_status(&src, HOST_MIG_FAILED);
    ck_assert_int_eq(host_status(&src.host), HOST_RUNNING);
    assert_holds(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
}
END_TEST

/* ---- a hostile source -------------------------------------------------- */

/* The QEVM header and the START of the live section (registry index 2). */
static void append_start(GByteArray *b, uint32_t nsel)
{
    static const uint8_t head[] = { 'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0x01 };
    static const char idstr[] = "vdagent-host-clipboard";
    uint8_t n = sizeof(idstr) - 1;

    g_byte_array_append(b, head, sizeof(head));
    test_append_be32(b, 2);
    g_byte_array_append(b, &n, 1);
    g_byte_array_append(b, (const guint8 *)idstr, n);
    test_append_be32(b, 0);
    test_append_be32(b, 1);
    test_append_be32(b, nsel);
    test_append_be32(b, 5);
    g_byte_array_append(b, (const guint8 *)"\0\x7e", 2);
    test_append_be32(b, 2);
}

/* A live frame holding @piece. */
static void append_frame(GByteArray *b, const GByteArray *piece)
{
    uint8_t t = 0x01;

    g_byte_array_append(b, &t, 1);
    test_append_be32(b, piece->len);
    g_byte_array_append(b, piece->data, piece->len);
}

/*
 * After a failed incoming migration: the source live-migrates @big to
 * @uri, and the destination, which waited, completes with it.
 */
static void next_source_completes(const char *uri, GBytes *big)
{
    grab(&src, &src.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD, VDC_CLIPBOARD_TYPE_PNG,
         g_bytes_ref(big));
    set_pause(&src, true);
    migrate(&src, uri);
    wait_status(&src, HOST_MIG_PRE_SWITCHOVER);
    cont(&src);
    wait_status(&dst, HOST_MIG_COMPLETED);
    assert_holds(&dst, &dst.peer, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                 VDC_CLIPBOARD_TYPE_PNG, big);
}

/*
 * The destination failed an incoming migration with @error in its
 * message (@name says which case), and waits: still inmigrate, nothing
 * loaded.
 */
static void assert_dest_failed(const char *name, const char *error)
{
    HostMigInfo info;

    host_migration_info(dst.mig, &info);
    ck_assert_msg(info.error && strstr(info.error, error), "%s: %s", name,
                  info.error ? info.error : "(no error)");
    ck_assert_int_eq(host_status(&dst.host), HOST_INMIGRATE);
    ck_assert_ptr_null(vdc_clipboard_hub_info(dst.host.hub,
                                              VDC_CLIPBOARD_SELECTION_CLIPBOARD));
}

static const struct {
    const char *name;
    const char *error;          /* part of the destination's error */
} hostile[] = {
    { "header fields", "not a vdagent-host migration channel" },
    { "frame too long", "live frame of 4198401 bytes (at most 4198400)" },
    { "frame type", "bad live frame type 0x07" },
    { "slot counts", "live part: " },
    { "truncated frame", "closed" },
    { "part for no section", "was never started" },
    { "final pad", "bad final frame" },
    /* whole in the socket: the main loop receives them */
    { "final pad, whole", "bad final frame" },
    { "final descriptors", "expected 1 descriptors, got 0" },
    { "final kind", "not a vdagent-host migration channel" },
};

START_TEST(test_hostile)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) piece = g_byte_array_new();
    g_autoptr(GBytes) big = pattern(MIB, 11);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint8_t hdr[20] = { 'V', 'D', 'M', 'G', 2 };
    static const uint8_t zeros[20];
    int fd;

    incoming(&dst, uri);
    g_byte_array_append(b, hdr, sizeof(hdr));
    switch (_i) {
    case 0:
        b->data[7] = 1;
        break;
    case 1:
        test_append_be32(g_byte_array_append(b, (const guint8 *)"\x01", 1),
                         4198401);
        break;
    case 2:
        g_byte_array_append(b, (const guint8 *)"\x07", 1);
        break;
    case 3:
        append_start(piece, 4);
        append_frame(b, piece);
        break;
    case 4:
        append_start(piece, 3);
        test_append_be32(g_byte_array_append(b, (const guint8 *)"\x01", 1),
                         piece->len + 100);
        g_byte_array_append(b, piece->data, piece->len);
        break;
    case 5:
        append_start(piece, 3);
        append_frame(b, piece);
        g_byte_array_set_size(piece, 0);
        g_byte_array_append(piece, (const guint8 *)"\x02\0\0\0\x09\0", 6);
        append_frame(b, piece);
        break;
    case 6:
        append_start(piece, 3);
        append_frame(b, piece);
        g_byte_array_append(b, (const guint8 *)"\x02\0\0\0\x01", 5);
        g_byte_array_set_size(b, b->len + 16);
        break;
    case 7:
    case 8:
    case 9:
        /* type, kind, n_fds, pad, stop, path length 0, stream length 0 */
        append_start(piece, 3);
        append_frame(b, piece);
        g_byte_array_append(b, (const guint8 *)(_i == 7 ? "\x02\0\0\0\x01"
                                                : _i == 8 ? "\x02\0\x01\0\0"
                                                : "\x02\x09\0\0\0"), 5);
        g_byte_array_append(b, zeros, 20);
        break;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, p, sizeof(sa.sun_path));
    ck_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(write(fd, b->data, b->len) == (ssize_t)b->len);
    if (_i == 4) {
        shutdown(fd, SHUT_WR);
    }
    wait_status(&dst, HOST_MIG_FAILED);
    close(fd);
    assert_dest_failed(hostile[_i].name, hostile[_i].error);
    /* the destination waits for the next source, which completes */
    next_source_completes(uri, big);
}
END_TEST

/* ---- by reference ------------------------------------------------------ */

START_TEST(test_ref_unix)
{
    over_unix(DATA_SEALED_BY_REF);
}
END_TEST

START_TEST(test_ref_fd)
{
    over_fd(DATA_SEALED_BY_REF);
}
END_TEST

/* tcp: cannot pass descriptors: the same data goes by its bytes. */
START_TEST(test_ref_tcp)
{
    over_tcp(DATA_SEALED_BY_BYTES);
}
END_TEST

/*
 * Sealed memory itself: what a copy becomes (sealed, read-only, of its
 * size), and what host_sealed_adopt() refuses, closing it.
 */
START_TEST(test_sealed)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) data = NULL, again = NULL;
    g_autofree uint8_t *x = g_malloc(2 * MIB + 1);
    int fd, seals, pipefd[2];

    memset(x, 'x', 2 * MIB + 1);
    data = host_sealed_copy(x, 2 * MIB + 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(g_bytes_get_size(data), 2 * MIB + 1);
    ck_assert(memcmp(g_bytes_get_data(data, NULL), x, 2 * MIB + 1) == 0);
    fd = host_sealed_fd(data);
    ck_assert_int_ge(fd, 0);
    seals = fcntl(fd, F_GET_SEALS);
    ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
                              F_SEAL_SEAL),
                     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    ck_assert_int_eq(lseek(fd, 0, SEEK_END), 2 * MIB + 1);
    ck_assert_int_lt(pwrite(fd, "y", 1, 0), 0);            /* sealed */
    /* a slice is not the whole: not passable */
    again = g_bytes_new_from_bytes(data, 0, MIB);
    ck_assert_int_lt(host_sealed_fd(again), 0);
    g_clear_pointer(&again, g_bytes_unref);
    /* adopted again (as a destination would): another mapping, same bytes */
    again = host_sealed_adopt(dup(fd), 2 * MIB + 1, &err);
    ck_assert_msg(again != NULL, "%s", err ? err->message : "");
    ck_assert(g_bytes_equal(again, data));
    ck_assert_int_ge(host_sealed_fd(again), 0);
    g_clear_pointer(&again, g_bytes_unref);
    /* refused: another size, a pipe, a memfd without the seals */
    ck_assert_ptr_null(host_sealed_adopt(dup(fd), 2 * MIB, &err));
    ck_assert_msg(strstr(err->message, "expected 2097152"), "%s", err->message);
    g_clear_error(&err);
    ck_assert(pipe(pipefd) == 0);
    close(pipefd[1]);
    ck_assert_ptr_null(host_sealed_adopt(pipefd[0], 1, &err));
    ck_assert_msg(strstr(err->message, "not sealed memory"), "%s", err->message);
    g_clear_error(&err);
    fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ck_assert(ftruncate(fd, 4096) == 0);
    ck_assert(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
    ck_assert_ptr_null(host_sealed_adopt(fd, 4096, &err));
    ck_assert_msg(strstr(err->message, "missing"), "%s", err->message);
}
END_TEST

/* A memfd of @len bytes of @c, with @seals (0: none). */
static int memfd_of(size_t len, int c, int seals)
{
    int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    uint8_t *p;

    ck_assert_int_ge(fd, 0);
    ck_assert(ftruncate(fd, (off_t)len) == 0);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert(p != MAP_FAILED);
    memset(p, c, len);
    munmap(p, len);
    if (seals) {
        ck_assert(fcntl(fd, F_ADD_SEALS, seals) == 0);
    }
    return fd;
}

/* Descriptors this process has open. */
static unsigned open_fds(void)
{
    return test_proc_self_count("fd");
}

#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* A source that passes descriptors badly; each fails cleanly. */
static const struct {
    const char *name;
    int fd_kind;                /* 0 none, 1 sealed memfd, 2 unsealed, 3 pipe */
    uint32_t total;             /* the record's (the memfd has 1 MiB) */
    bool record;                /* a ref record at all */
    const char *error;
} ref_hostile[] = {
    { "no descriptor", 0, MIB, true, "no descriptor came with it" },
    { "not sealed", 2, MIB, true, "missing" },
    { "a pipe", 3, MIB, true, "not sealed memory" },
    { "another size", 1, 2 * MIB, true, "bytes, expected 2097152" },
    { "unused", 1, MIB, false, "descriptors it did not use" },
};

START_TEST(test_ref_hostile)
{
    g_autofree char *p = path_in("in");
    g_autofree char *uri = g_strconcat("unix:", p, NULL);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) piece = g_byte_array_new();
    g_autoptr(GByteArray) part = g_byte_array_new();
    g_autoptr(GBytes) big = data_new(DATA_SEALED_BY_REF, MIB, 12);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint8_t hdr[20] = { 'V', 'D', 'M', 'G', 2 };
    char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
    struct iovec iov;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    int fd, passed = -1, pipefd[2] = { -1, -1 };
    unsigned fds_before;

    incoming(&dst, uri);
    fds_before = open_fds();
    g_byte_array_append(b, hdr, sizeof(hdr));
    append_start(piece, 3);
    append_frame(b, piece);
    /* PART of section 2: maybe a ref record for clipboard/png, the end */
    g_byte_array_append(part, (const guint8 *)"\x02", 1);
    test_append_be32(part, 2);
    if (ref_hostile[_i].record) {
        g_byte_array_append(part, (const guint8 *)"\x03\x00\x01", 3);
        test_append_be32(part, ref_hostile[_i].total);
    }
    g_byte_array_append(part, (const guint8 *)"\0\x7e", 2);
    test_append_be32(part, 2);
    switch (ref_hostile[_i].fd_kind) {
    case 1:
        passed = memfd_of(MIB, 'r', ALL_SEALS);
        break;
    case 2:
        passed = memfd_of(MIB, 'r', 0);
        break;
    case 3:
        ck_assert(pipe(pipefd) == 0);
        passed = pipefd[0];
        break;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, p, sizeof(sa.sun_path));
    ck_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(write(fd, b->data, b->len) == (ssize_t)b->len);
    /* the PART frame, the descriptor on its first byte */
    g_byte_array_set_size(b, 0);
    append_frame(b, part);
    iov.iov_base = b->data;
    iov.iov_len = b->len;
    if (passed >= 0) {
        struct cmsghdr *c;

        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passed, sizeof(int));
    }
    ck_assert(sendmsg(fd, &msg, 0) == (ssize_t)b->len);
    if (passed >= 0) {
        close(passed);
    }
    if (pipefd[1] >= 0) {
        close(pipefd[1]);
    }
    wait_status(&dst, HOST_MIG_FAILED);
    close(fd);
    assert_dest_failed(ref_hostile[_i].name, ref_hostile[_i].error);
    /* every descriptor that came was closed (the listener stays) */
    test_run_for(50);
    ck_assert_uint_eq(open_fds(), fds_before);
    /* the destination takes the next source, by reference */
    next_source_completes(uri, big);
    ck_assert_int_ge(host_sealed_fd(data_of(&dst, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                            VDC_CLIPBOARD_TYPE_PNG)), 0);
}
END_TEST

/* ---- over tcp: large slots spliced into files -------------------------- */

/* A PART of section 2 holding one data record for clipboard/png. */
static void append_data_part(GByteArray *b, uint32_t total, uint32_t offset,
                             uint32_t len, const uint8_t *bytes)
{
    g_byte_array_append(b, (const guint8 *)"\x02", 1);
    test_append_be32(b, 2);
    g_byte_array_append(b, (const guint8 *)"\x01\x00\x01", 3);
    test_append_be32(b, total);
    test_append_be32(b, offset);
    test_append_be32(b, len);
    g_byte_array_append(b, bytes, len);
    g_byte_array_append(b, (const guint8 *)"\0\x7e", 2);
    test_append_be32(b, 2);
}

/* Bytes a thread writes to a socket, so that the main loop runs meanwhile. */
typedef struct Writer {
    int fd;
    GByteArray *b;
    bool shut;                  /* then shut the writing side down */
} Writer;

static gpointer writer_thread(gpointer opaque)
{
    Writer *w = opaque;
    size_t done = 0;

    while (done < w->b->len) {
        ssize_t n = write(w->fd, w->b->data + done, w->b->len - done);

        if (n <= 0) {
            break;              /* the destination gave up: it says why */
        }
        done += (size_t)n;
    }
    if (w->shut) {
        shutdown(w->fd, SHUT_WR);
    }
    return NULL;
}

/*
 * A source over tcp: that breaks off or lies while a large slot (5 MiB)
 * is spliced into its file: a clean failure, the file closed, the
 * destination waits for the next source, which completes, spliced.
 */
static const struct {
    const char *name;
    const char *error;
} splice_hostile[] = {
    { "cut in a piece", "migration channel closed early" },
    { "piece out of order", "but the slot stands at 1048576 of 5242880" },
    { "another total", "but the slot stands at 1048576 of 5242880" },
};

START_TEST(test_splice_hostile)
{
    g_autofree char *uri = g_strdup_printf("tcp:127.0.0.1:%d", free_tcp_port());
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) piece = g_byte_array_new();
    g_autoptr(GBytes) first = pattern(MIB, 21);
    g_autoptr(GBytes) big = pattern(5 * MIB, 22);
    const uint8_t *bytes = g_bytes_get_data(first, NULL);
    uint8_t hdr[20] = { 'V', 'D', 'M', 'G', 2 };
    struct sockaddr_in sa = { .sin_family = AF_INET };
    HostMigInfo info;
    Writer w;
    GThread *t;
    unsigned fds_before;

    incoming(&dst, uri);
    fds_before = open_fds();
    g_byte_array_append(b, hdr, sizeof(hdr));
    append_start(piece, 3);
    append_frame(b, piece);
    /* the slot's first MiB, into its file */
    g_byte_array_set_size(piece, 0);
    append_data_part(piece, 5 * MIB, 0, MIB, bytes);
    append_frame(b, piece);
    g_byte_array_set_size(piece, 0);
    if (_i == 0) {
        /* the next MiB announced whole, half of it sent */
        append_data_part(piece, 5 * MIB, MIB, MIB, bytes);
        append_frame(b, piece);
        g_byte_array_set_size(b, b->len - MIB / 2 - 7);
    } else {
        /* at 2 MiB; at 1 MiB of a 6 MiB slot */
        append_data_part(piece, _i == 1 ? 5 * MIB : 6 * MIB,
                         _i == 1 ? 2 * MIB : MIB, MIB, bytes);
        append_frame(b, piece);
    }
    w = (Writer){ socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), b, true };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)atoi(strrchr(uri, ':') + 1));
    ck_assert(connect(w.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    t = g_thread_new("hostile-tcp", writer_thread, &w);
    wait_status(&dst, HOST_MIG_FAILED);
    g_thread_join(t);
    close(w.fd);
    assert_dest_failed(splice_hostile[_i].name, splice_hostile[_i].error);
    /* the slot's file and the pipe were closed with the attempt */
    test_run_for(50);
    ck_assert_uint_eq(open_fds(), fds_before);
    next_source_completes(uri, big);
    host_migration_info(dst.mig, &info);
    ck_assert_uint_ge(info.spliced, 5 * MIB - MIB / 4);
    ck_assert_int_ge(host_sealed_fd(data_of(&dst, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                                            VDC_CLIPBOARD_TYPE_PNG)), 0);
}
END_TEST

/* ---- the destination's receive waits for its pages --------------------- */

/* Pages of [@p, @p + @len) (page-aligned inwards) not in memory. */
static size_t pages_absent(const uint8_t *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)p + len) & ~(page - 1);
    g_autofree unsigned char *vec = g_malloc((hi - lo) / page);
    size_t i, absent = 0;

    ck_assert_int_eq(mincore((void *)lo, hi - lo, vec), 0);
    for (i = 0; i < (hi - lo) / page; i++) {
        absent += !(vec[i] & 1);
    }
    return absent;
}

/* Whether this kernel faults pages in on madvise(MADV_POPULATE_WRITE). */
static bool can_populate(void)
{
#ifdef MADV_POPULATE_WRITE
    size_t len = 4 * (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok;

    ck_assert_ptr_ne(p, MAP_FAILED);
    ok = madvise(p, len, MADV_POPULATE_WRITE) == 0;
    munmap(p, len);
    return ok;
#else
    return false;
#endif
}

/*
 * host_prefault_wait() returns only once the helper has faulted the pages
 * in up to where the receive writes: waiting for the last MiB of 64 MiB
 * of new memory finds every page before it present (the helper alone
 * takes tens of ms for them; a wait that did not wait would find most of
 * them absent).  Without MADV_POPULATE_WRITE the helper gives up and the
 * wait returns all the same (no hang).
 */
START_TEST(test_prefault_wait)
{
    const size_t len = 64u << 20;
    HostPrefault *pf = host_prefault_new();
    uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool populate = can_populate();

    ck_assert_ptr_ne(buf, MAP_FAILED);
    madvise(buf, len, MADV_NOHUGEPAGE);
    ck_assert_uint_eq(pages_absent(buf, len), len / (size_t)sysconf(_SC_PAGESIZE));
    host_prefault_ops.start(pf, buf, len);
    host_prefault_wait(pf, buf + len - (1u << 20), 1u << 20);
    if (populate) {
        ck_assert_uint_eq(pages_absent(buf, len), 0);
    } else {
        fprintf(stderr, "test_prefault_wait: no MADV_POPULATE_WRITE here: "
                "only that the wait returns is tested\n");
    }
    /* Past the end is clamped to it; memory no job holds: no wait. */
    host_prefault_wait(pf, buf + len - 1, 1u << 30);
    host_prefault_wait(pf, &len, sizeof(len));
    host_prefault_wait(NULL, buf, len);
    host_prefault_ops.finish(pf, buf);
    /* Finished: no longer its memory. */
    host_prefault_wait(pf, buf, len);
    host_prefault_free(pf);
    munmap(buf, len);
}
END_TEST

/*
 * A wait within the first MiB while the helper works on more: it returns
 * as soon as those pages are in, long before the whole 256 MiB are (the
 * later pages still absent then, on a kernel that populates).
 */
START_TEST(test_prefault_wait_partial)
{
    const size_t len = 256u << 20;
    HostPrefault *pf = host_prefault_new();
    uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(buf, MAP_FAILED);
    madvise(buf, len, MADV_NOHUGEPAGE);
    host_prefault_ops.start(pf, buf, len);
    host_prefault_wait(pf, buf + 4096, 8192);
    if (can_populate()) {
        ck_assert_uint_eq(pages_absent(buf, 3 * 4096), 0);
        ck_assert_uint_gt(pages_absent(buf + len - (16u << 20), 16u << 20), 0);
    }
    host_prefault_ops.finish(pf, buf);
    host_prefault_free(pf);
    munmap(buf, len);
}
END_TEST

/*
 * The preallocated pool (host_prefault_pool()): a slot it can hold takes
 * its whole pages (present at once, moved, the pool smaller by exactly
 * them), its partial first and last pages untouched (malloc's header
 * before it too: freed as usual); a slot larger than what is left takes
 * nothing; release gives back the rest.
 */
START_TEST(test_prefault_pool)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t len = (6u << 20) + 123;
    HostPrefault *pf = host_prefault_new();
    g_autoptr(GError) err = NULL;
    uint8_t *buf = g_malloc(len), *big;
    uintptr_t lo = ((uintptr_t)buf + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)buf + len) & ~(page - 1);
    size_t left, i;

    ck_assert_msg(host_prefault_pool(pf, (8u << 20) + 100, &err), "%s",
                  err ? err->message : "");
    left = host_prefault_pool_left(pf);
    ck_assert_uint_eq(left, (8u << 20) + page);
    buf[0] = 0xab;
    buf[len - 1] = 0xcd;
    host_prefault_ops.start(pf, buf, len);
    ck_assert_uint_eq(host_prefault_pool_left(pf), left - (hi - lo));
    ck_assert_uint_eq(pages_absent((uint8_t *)lo, hi - lo), 0);
    ck_assert_uint_eq(buf[0], 0xab);
    ck_assert_uint_eq(buf[len - 1], 0xcd);
    host_prefault_wait(pf, buf, len);               /* no job: at once */
    memset(buf, 0x5c, len);
    for (i = 0; i < len; i += 4093) {
        ck_assert_uint_eq(buf[i], 0x5c);
    }
    host_prefault_ops.finish(pf, buf);
    g_free(buf);

    /* larger than the 2 MiB left: as without a pool */
    left = host_prefault_pool_left(pf);
    big = mmap(NULL, 4u << 20, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(big, MAP_FAILED);
    host_prefault_ops.start(pf, big, 4u << 20);
    host_prefault_wait(pf, big, 4u << 20);
    ck_assert_uint_eq(host_prefault_pool_left(pf), left);
    host_prefault_ops.finish(pf, big);
    munmap(big, 4u << 20);

    host_prefault_pool_release(pf);
    ck_assert_uint_eq(host_prefault_pool_left(pf), 0);
    host_prefault_free(pf);
}
END_TEST

/* A test case of @s with the two-host fixture and a 60 s timeout. */
static TCase *live_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *host_live_suite(void)
{
    Suite *s = suite_create("host-live");
    TCase *tc = live_tcase(s, "moves");

    tcase_add_test(tc, test_unix);
    tcase_add_test(tc, test_tcp);
    tcase_add_test(tc, test_fd);
    tcase_add_test(tc, test_prealloc);
    tcase_add_loop_test(tc, test_final_large, 0, 3);
    tcase_add_test(tc, test_grab_release);
    tcase_add_test(tc, test_request_during);
    tc = live_tcase(s, "peer");
    tcase_add_test(tc, test_dies_active);
    tcase_add_test(tc, test_refuses_active);
    tcase_add_test(tc, test_dies_pre_switchover);
    tcase_add_test(tc, test_refuses_pre_switchover);
    tcase_add_test(tc, test_dies_device);
    tcase_add_test(tc, test_refuses_device);
    tc = live_tcase(s, "cancel");
    tcase_add_test(tc, test_cancel_active);
    tcase_add_test(tc, test_cancel_pre_switchover);
    tcase_add_test(tc, test_cancel_device_refused);
    tc = live_tcase(s, "commands");
    tcase_add_test(tc, test_commands);
    tcase_add_test(tc, test_free_during_live);
    tcase_add_test(tc, test_free_dest_during_live);
    tcase_add_test(tc, test_ack_lie);
    tc = live_tcase(s, "hostile");
    tcase_add_loop_test(tc, test_hostile, 0, G_N_ELEMENTS(hostile));
    tc = live_tcase(s, "by-reference");
    tcase_add_test(tc, test_ref_unix);
    tcase_add_test(tc, test_ref_fd);
    tcase_add_test(tc, test_ref_tcp);
    tcase_add_test(tc, test_sealed);
    tcase_add_loop_test(tc, test_ref_hostile, 0, G_N_ELEMENTS(ref_hostile));
    tcase_add_loop_test(tc, test_splice_hostile, 0, G_N_ELEMENTS(splice_hostile));
    tc = tcase_create("prefault");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_prefault_wait);
    tcase_add_test(tc, test_prefault_wait_partial);
    tcase_add_test(tc, test_prefault_pool);
    suite_add_tcase(s, tc);
    return s;
}
