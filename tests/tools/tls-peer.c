/*
 * tls-peer.c: a misbehaving migration peer for the TLS tests.
 *
 *   tls-peer cut-client PORT          connects to 127.0.0.1:PORT, sends the
 *                                     start of a TLS record, closes
 *   tls-peer cut-server PORT          takes one connection, reads the
 *                                     ClientHello, answers the start of a
 *                                     record, closes
 *   tls-peer garbage-client DIR PORT  a TLS handshake as a client (DIR's
 *                                     client pair, DIR's CA), then raw
 *                                     garbage on the TCP stream
 *   tls-peer garbage-server DIR PORT  the same as a server (DIR's server
 *                                     pair, a client certificate required)
 *
 * Prints "handshake ok" after a handshake; exits 0 when it did its part.
 * Everything is bounded (5 s of socket timeout).
 */
#include <gio/gio.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char garbage[] = "\x17\x03\x03\x00\x20 this is not a TLS record at all, "
                              "just bytes on the stream";

static gboolean accept_all(GTlsConnection *c, GTlsCertificate *p,
                           GTlsCertificateFlags f, gpointer u)
{
    (void)c; (void)p; (void)u;
    return f == 0;
}

static GSocketConnection *get_conn(bool server, int port)
{
    g_autoptr(GError) err = NULL;
    GSocketConnection *conn;

    if (server) {
        g_autoptr(GSocketListener) l = g_socket_listener_new();
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) a = g_inet_socket_address_new(lo, (guint16)port);

        if (!g_socket_listener_add_address(l, a, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL, NULL,
                                           &err)) {
            fprintf(stderr, "tls-peer: %s\n", err->message);
            exit(1);
        }
        printf("listening\n");
        fflush(stdout);
        conn = g_socket_listener_accept(l, NULL, NULL, &err);
    } else {
        g_autoptr(GSocketClient) c = g_socket_client_new();

        conn = g_socket_client_connect_to_host(c, "127.0.0.1", (guint16)port,
                                               NULL, &err);
    }
    if (!conn) {
        fprintf(stderr, "tls-peer: %s\n", err->message);
        exit(1);
    }
    g_socket_set_timeout(g_socket_connection_get_socket(conn), 5);
    return conn;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    const char *mode = argc > 1 ? argv[1] : "";
    bool server = strstr(mode, "server") != NULL;
    bool garbage_mode = g_str_has_prefix(mode, "garbage-");
    int port = atoi(argv[argc - 1]);
    g_autoptr(GSocketConnection) conn = NULL;
    int fd;
    char buf[4096];

    if (argc != (garbage_mode ? 4 : 3)) {
        fprintf(stderr, "usage: tls-peer cut-client|cut-server PORT | "
                        "garbage-client|garbage-server DIR PORT\n");
        return 2;
    }
    conn = get_conn(server, port);
    fd = g_socket_get_fd(g_socket_connection_get_socket(conn));
    if (!garbage_mode) {
        if (server && read(fd, buf, sizeof(buf)) <= 0) {
            return 1;
        }
        /* A handshake record's header and a few bytes of it. */
        if (write(fd, "\x16\x03\x03\x01\x00\x01\x00\x00\xfc\x03\x03", 11) != 11) {
            return 1;
        }
        usleep(200000);
        return 0;
    } else {
        const char *dir = argv[2];
        g_autofree char *ca = g_strdup_printf("%s/ca-cert.pem", dir);
        g_autofree char *cert = g_strdup_printf("%s/%s-cert.pem", dir,
                                                server ? "server" : "client");
        g_autofree char *key = g_strdup_printf("%s/%s-key.pem", dir,
                                               server ? "server" : "client");
        g_autoptr(GTlsDatabase) db = g_tls_file_database_new(ca, &err);
        g_autoptr(GTlsCertificate) me = db ? g_tls_certificate_new_from_files(
                                                 cert, key, &err) : NULL;
        g_autoptr(GIOStream) tls = NULL;

        if (!me) {
            fprintf(stderr, "tls-peer: %s\n", err->message);
            return 1;
        }
        if (server) {
            tls = g_tls_server_connection_new(G_IO_STREAM(conn), me, &err);
            if (tls) {
                g_object_set(tls, "authentication-mode",
                             G_TLS_AUTHENTICATION_REQUIRED, NULL);
            }
        } else {
            g_autoptr(GSocketConnectable) id = g_network_address_new("localhost", 0);

            tls = g_tls_client_connection_new(G_IO_STREAM(conn), id, &err);
            if (tls) {
                g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), me);
            }
        }
        if (!tls) {
            fprintf(stderr, "tls-peer: %s\n", err->message);
            return 1;
        }
        g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
        g_signal_connect(tls, "accept-certificate", G_CALLBACK(accept_all), NULL);
        if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), NULL, &err)) {
            fprintf(stderr, "tls-peer: handshake: %s\n", err->message);
            return 1;
        }
        printf("handshake ok\n");
        fflush(stdout);
        if (server) {
            /* What the source sends first (its header), then garbage. */
            GInputStream *in = g_io_stream_get_input_stream(tls);

            if (g_input_stream_read(in, buf, 20, NULL, &err) <= 0) {
                fprintf(stderr, "tls-peer: read: %s\n", err ? err->message : "EOF");
                return 1;
            }
        }
        if (write(fd, garbage, sizeof(garbage) - 1) < 0) {
            return 1;
        }
        /* Until the peer gives up. */
        while (read(fd, buf, sizeof(buf)) > 0) {
        }
        return 0;
    }
}
