/*
 * tls.c: the migration channel's TLS (GIO).  See tls.h.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/tls.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLS_RELAY_PIECE 65536
#define TLS_FLUSH_WAIT_US (5 * G_USEC_PER_SEC)

struct HostTlsCreds {
    char *dir;
    char *authz;
    GTlsDatabase *ca;
    GTlsCertificate *server;        /* or NULL */
    GTlsCertificate *client;        /* or NULL */
};

struct HostTlsChannel {
    GSocket *sock;
    GIOStream *conn;                /* the GSocketConnection */
    GIOStream *tls;
    GCancellable *cancel;
    int user;                       /* the caller's end */
    int plain;                      /* the relay's end */
    GThread *up, *down;
    bool server;
    bool heard;                     /* the down thread: a byte came */
    GMutex lock;
    GCond cond;
    bool up_done;                   /* under lock */
    char *error;                    /* under lock */
};

static bool load_pair(const char *dir, const char *name, GTlsCertificate **out,
                      GError **errp)
{
    g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", dir, name);
    g_autofree char *key = g_strdup_printf("%s/%s-key.pem", dir, name);
    g_autoptr(GError) err = NULL;

    if (!g_file_test(cert, G_FILE_TEST_EXISTS)) {
        return true;                /* this side is not set up */
    }
    *out = g_tls_certificate_new_from_files(cert, key, &err);
    if (!*out) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s, %s: %s",
                    cert, key, err->message);
        return false;
    }
    return true;
}

void host_tls_creds_free(HostTlsCreds *c)
{
    if (!c) {
        return;
    }
    g_clear_object(&c->ca);
    g_clear_object(&c->server);
    g_clear_object(&c->client);
    g_free(c->dir);
    g_free(c->authz);
    g_free(c);
}

/*
 * The first connection of a process pays for the TLS classes, the
 * library's set-up and the backend's default database (tens of ms): paid
 * at start, on a connection over a socketpair that never shakes hands,
 * not in a migration's downtime.
 */
static void tls_warm_up(HostTlsCreds *c)
{
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GIOStream) tls = NULL;
    g_autoptr(GSocketConnectable) id = NULL;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return;
    }
    close(sv[1]);
    sock = g_socket_new_from_fd(sv[0], NULL);
    if (!sock) {
        close(sv[0]);
        return;
    }
    conn = g_socket_connection_factory_create_connection(sock);
    id = g_network_address_new("localhost", 0);
    tls = g_tls_client_connection_new(G_IO_STREAM(conn), id, NULL);
    if (tls) {
        g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), c->client);
        g_tls_connection_set_database(G_TLS_CONNECTION(tls), c->ca);
    }
    g_clear_object(&tls);
    if (c->server) {
        tls = g_tls_server_connection_new(G_IO_STREAM(conn), c->server, NULL);
    }
}

HostTlsCreds *host_tls_creds_new(const char *dir, const char *authz,
                                 GError **errp)
{
    HostTlsCreds *c;
    g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);
    g_autoptr(GError) err = NULL;

    if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                            "this GIO has no TLS backend (install "
                            "glib-networking)");
        return NULL;
    }
    if (!g_file_test(ca, G_FILE_TEST_EXISTS)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no %s", ca);
        return NULL;
    }
    c = g_new0(HostTlsCreds, 1);
    c->dir = g_strdup(dir);
    c->authz = g_strdup(authz);
    c->ca = g_tls_file_database_new(ca, &err);
    if (!c->ca) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", ca,
                    err->message);
        host_tls_creds_free(c);
        return NULL;
    }
    if (!load_pair(dir, "server", &c->server, errp) ||
        !load_pair(dir, "client", &c->client, errp)) {
        host_tls_creds_free(c);
        return NULL;
    }
    tls_warm_up(c);
    if (!c->server && !c->client) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "%s holds neither server-cert.pem nor client-cert.pem",
                    dir);
        host_tls_creds_free(c);
        return NULL;
    }
    return c;
}

bool host_tls_creds_can(const HostTlsCreds *c, bool server)
{
    return (server ? c->server : c->client) != NULL;
}

/* ---- the handshake ---------------------------------------------------------- */

static gboolean on_accept_certificate(GTlsConnection *tls,
                                      GTlsCertificate *peer,
                                      GTlsCertificateFlags errors,
                                      gpointer opaque)
{
    (void)tls;
    (void)peer;
    /*
     * A client's check of the server calls this only when it failed; a
     * server's check of the client always (GIO then leaves the decision
     * here): accept exactly what our CA verified.
     */
    *(GTlsCertificateFlags *)opaque = errors;
    return errors == 0;
}

static char *describe_flags(GTlsCertificateFlags f)
{
    static const struct {
        GTlsCertificateFlags flag;
        const char *what;
    } why[] = {
        { G_TLS_CERTIFICATE_UNKNOWN_CA, "is not signed by our CA" },
        { G_TLS_CERTIFICATE_EXPIRED, "has expired" },
        { G_TLS_CERTIFICATE_NOT_ACTIVATED, "is not valid yet" },
        { G_TLS_CERTIFICATE_BAD_IDENTITY, "does not name the host" },
        { G_TLS_CERTIFICATE_REVOKED, "is revoked" },
        { G_TLS_CERTIFICATE_INSECURE, "uses an insecure algorithm" },
    };
    GString *s = g_string_new("the peer's certificate ");
    const char *sep = "";
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(why); i++) {
        if (f & why[i].flag) {
            g_string_append_printf(s, "%s%s", sep, why[i].what);
            sep = ", ";
        }
    }
    if (!*sep) {
        g_string_append(s, "is not acceptable");
    }
    return g_string_free(s, FALSE);
}

/* Does the subject @dn match @authz: the whole DN, or its CN? */
static bool authz_match(const char *dn, const char *authz)
{
    g_auto(GStrv) parts = NULL;
    unsigned i;

    if (strcmp(dn, authz) == 0) {
        return true;
    }
    parts = g_strsplit(dn, ",", -1);
    for (i = 0; parts[i]; i++) {
        if (g_str_has_prefix(parts[i], "CN=") &&
            strcmp(parts[i] + 3, authz) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- the relay -------------------------------------------------------------- */

/*
 * With TLS 1.3 a client's handshake ends before the server has checked
 * the client's certificate: a destination that refused it (or its
 * identity) only closes.  Said so when it closes before a byte came.
 */
#define REFUSED_HINT " (the destination closed before answering: did it " \
                     "refuse our certificate or identity? see its error)"

/* The peer closed or reset the connection (NULL: an orderly end). */
static bool peer_closed(const GError *e)
{
    return !e || g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
           g_error_matches(e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
           g_error_matches(e, G_TLS_ERROR, G_TLS_ERROR_EOF);
}

static void relay_fail(HostTlsChannel *ch, const GError *e)
{
    g_mutex_lock(&ch->lock);
    if (!ch->error && !g_cancellable_is_cancelled(ch->cancel)) {
        ch->error = g_strdup_printf("TLS: %s%s",
                                    e ? e->message : "connection closed",
                                    !ch->server && !ch->heard &&
                                            peer_closed(e) ? REFUSED_HINT
                                                           : "");
    }
    g_mutex_unlock(&ch->lock);
    shutdown(ch->plain, SHUT_RDWR);
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* TLS -> the caller. */
static gpointer relay_down(gpointer opaque)
{
    HostTlsChannel *ch = opaque;
    GInputStream *in = g_io_stream_get_input_stream(ch->tls);
    g_autofree char *buf = g_malloc(TLS_RELAY_PIECE);

    for (;;) {
        g_autoptr(GError) e = NULL;
        gssize n = g_input_stream_read(in, buf, TLS_RELAY_PIECE, ch->cancel,
                                       &e);

        if (n > 0) {
            ch->heard = true;
            if (!send_all(ch->plain, buf, (size_t)n)) {
                break;              /* the caller is gone */
            }
            continue;
        }
        if (n == 0 && !ch->server && !ch->heard) {
            relay_fail(ch, NULL);
        } else if (n == 0) {
            shutdown(ch->plain, SHUT_WR);
        } else {
            relay_fail(ch, e);
        }
        break;
    }
    return NULL;
}

/* The caller -> TLS. */
static gpointer relay_up(gpointer opaque)
{
    HostTlsChannel *ch = opaque;
    GOutputStream *out = g_io_stream_get_output_stream(ch->tls);
    g_autofree char *buf = g_malloc(TLS_RELAY_PIECE);

    for (;;) {
        g_autoptr(GError) e = NULL;
        ssize_t n = read(ch->plain, buf, TLS_RELAY_PIECE);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (!g_output_stream_write_all(out, buf, (gsize)n, NULL, ch->cancel,
                                       &e)) {
            relay_fail(ch, e);
            break;
        }
    }
    g_mutex_lock(&ch->lock);
    ch->up_done = true;
    g_cond_broadcast(&ch->cond);
    g_mutex_unlock(&ch->lock);
    return NULL;
}

static void channel_release(HostTlsChannel *ch)
{
    g_clear_object(&ch->tls);
    g_clear_object(&ch->conn);
    g_clear_object(&ch->sock);          /* closes the TCP socket */
    g_clear_object(&ch->cancel);
    if (ch->user >= 0) {
        close(ch->user);
    }
    if (ch->plain >= 0) {
        close(ch->plain);
    }
    g_mutex_clear(&ch->lock);
    g_cond_clear(&ch->cond);
    g_free(ch->error);
    g_free(ch);
}

HostTlsChannel *host_tls_channel_new(HostTlsCreds *c, int fd, bool server,
                                     const char *host, gint64 deadline,
                                     GError **errp)
{
    HostTlsChannel *ch = g_new0(HostTlsChannel, 1);
    GTlsCertificateFlags bad = 0;
    g_autoptr(GError) err = NULL;
    gint64 left = deadline - g_get_monotonic_time();
    int sv[2];

    ch->user = ch->plain = -1;
    ch->server = server;
    g_mutex_init(&ch->lock);
    g_cond_init(&ch->cond);
    ch->cancel = g_cancellable_new();
    ch->sock = g_socket_new_from_fd(fd, &err);
    if (!ch->sock) {
        close(fd);
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "TLS: %s",
                    err->message);
        channel_release(ch);
        return NULL;
    }
    /* The handshake's deadline: blocking calls time out (whole seconds). */
    g_socket_set_timeout(ch->sock,
                         (guint)MAX(1, (left + G_USEC_PER_SEC - 1) /
                                           G_USEC_PER_SEC));
    ch->conn = G_IO_STREAM(g_socket_connection_factory_create_connection(
        ch->sock));
    if (server) {
        if (!c->server) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                        "TLS: no server-cert.pem in %s", c->dir);
            channel_release(ch);
            return NULL;
        }
        ch->tls = g_tls_server_connection_new(ch->conn, c->server, &err);
        if (ch->tls) {
            g_object_set(ch->tls, "authentication-mode",
                         G_TLS_AUTHENTICATION_REQUIRED, NULL);
        }
    } else {
        g_autoptr(GSocketConnectable) id = NULL;

        if (!c->client) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                        "TLS: no client-cert.pem in %s", c->dir);
            channel_release(ch);
            return NULL;
        }
        id = g_network_address_new(host ? host : "", 0);
        ch->tls = g_tls_client_connection_new(ch->conn, id, &err);
        if (ch->tls) {
            g_tls_connection_set_certificate(G_TLS_CONNECTION(ch->tls),
                                             c->client);
        }
    }
    if (!ch->tls) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "TLS: %s",
                    err->message);
        channel_release(ch);
        return NULL;
    }
    g_tls_connection_set_database(G_TLS_CONNECTION(ch->tls), c->ca);
    g_signal_connect(ch->tls, "accept-certificate",
                     G_CALLBACK(on_accept_certificate), &bad);
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(ch->tls), ch->cancel,
                                    &err)) {
        g_autofree char *why = bad ? describe_flags(bad) : NULL;

        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                    "TLS handshake failed: %s%s", why ? why : err->message,
                    why ? ""
                    : !server ? " (is the destination started with "
                                "--tls-creds, by the same CA?)"
                              : " (did the source refuse this "
                                "destination's certificate? see its error)");
        g_signal_handlers_disconnect_by_data(ch->tls, &bad);
        channel_release(ch);
        return NULL;
    }
    g_signal_handlers_disconnect_by_data(ch->tls, &bad);
    if (g_tls_connection_get_protocol_version(G_TLS_CONNECTION(ch->tls)) <
        G_TLS_PROTOCOL_VERSION_TLS_1_2) {
        g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                            "TLS handshake failed: the peer's TLS is older "
                            "than 1.2");
        channel_release(ch);
        return NULL;
    }
    if (server && c->authz) {
        GTlsCertificate *peer = g_tls_connection_get_peer_certificate(
            G_TLS_CONNECTION(ch->tls));
        g_autofree char *dn = peer ? g_tls_certificate_get_subject_name(peer)
                                   : NULL;

        if (!dn || !authz_match(dn, c->authz)) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_PERM,
                        "TLS client identity '%s' is not authorized "
                        "(--tls-authz %s)", dn ? dn : "?", c->authz);
            g_io_stream_close(ch->tls, NULL, NULL);     /* close_notify */
            channel_release(ch);
            return NULL;
        }
    }
    g_socket_set_timeout(ch->sock, 0);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "TLS: socketpair: %s", g_strerror(errno));
        channel_release(ch);
        return NULL;
    }
    ch->user = sv[0];
    ch->plain = sv[1];
    ch->down = g_thread_new("migrate-tls-in", relay_down, ch);
    ch->up = g_thread_new("migrate-tls-out", relay_up, ch);
    return ch;
}

int host_tls_channel_fd(const HostTlsChannel *ch)
{
    return ch->user;
}

char *host_tls_channel_error(HostTlsChannel *ch)
{
    char *s;

    g_mutex_lock(&ch->lock);
    s = g_strdup(ch->error);
    g_mutex_unlock(&ch->lock);
    return s;
}

void host_tls_channel_shutdown(HostTlsChannel *ch)
{
    shutdown(ch->user, SHUT_RDWR);
    g_cancellable_cancel(ch->cancel);
}

void host_tls_channel_free(HostTlsChannel *ch)
{
    gint64 end = g_get_monotonic_time() + TLS_FLUSH_WAIT_US;

    if (!ch) {
        return;
    }
    /* What the caller wrote goes out first (an answer, say). */
    shutdown(ch->user, SHUT_WR);
    g_mutex_lock(&ch->lock);
    while (!ch->up_done && g_cond_wait_until(&ch->cond, &ch->lock, end)) {
    }
    g_mutex_unlock(&ch->lock);
    g_cancellable_cancel(ch->cancel);
    shutdown(ch->plain, SHUT_RDWR);
    g_thread_join(ch->up);
    g_thread_join(ch->down);
    g_socket_set_timeout(ch->sock, 2);
    g_io_stream_close(ch->tls, NULL, NULL);             /* close_notify */
    channel_release(ch);
}

char *host_tls_uri_host(const char *uri)
{
    const char *rest, *colon;

    if (!g_str_has_prefix(uri, "tcp:")) {
        return NULL;
    }
    rest = uri + 4;
    colon = strrchr(rest, ':');
    if (!colon) {
        return NULL;
    }
    if (rest[0] == '[' && colon > rest && colon[-1] == ']') {
        return g_strndup(rest + 1, (gsize)(colon - rest - 2));
    }
    return g_strndup(rest, (gsize)(colon - rest));
}
