/*
 * tls.h: TLS with x509 certificates for vdagent-host's tcp: migration
 * channel, as QEMU's tls-creds-x509 (GIO's GTlsConnection; the TLS itself
 * is glib-networking's GnuTLS backend).
 *
 * Credentials come from a directory in QEMU's layout: ca-cert.pem (the CA
 * both ends verify their peer against), server-cert.pem and
 * server-key.pem (an incoming side), client-cert.pem and client-key.pem
 * (a sending side); one directory may hold both pairs.  TLS 1.2 or newer
 * only; both ends present a certificate and verify the other's (the
 * sender also the destination's host name, the tcp: URI's HOST).
 *
 * The migration code reads and writes plain descriptors (poll, deadlines),
 * so a TLS channel is a relay: after the handshake two threads copy bytes
 * between the TLS connection and one end of a socketpair, whose other end
 * is the descriptor the caller uses.  A TLS failure after the handshake
 * (garbage, a cut connection) shuts that descriptor down (the caller sees
 * the end of the stream or EPIPE) and is kept for
 * host_tls_channel_error().
 */
#ifndef HOST_TLS_H
#define HOST_TLS_H

#include <glib.h>
#include <stdbool.h>

typedef struct HostTlsCreds HostTlsCreds;
typedef struct HostTlsChannel HostTlsChannel;

/*
 * Load the credentials of @dir; @authz (may be NULL: any certificate the
 * CA signed) is the client identity an incoming side accepts, a whole
 * distinguished name as the certificate spells it or its CN.  The CA is
 * required; each of the two pairs is loaded when its files exist, and a
 * side without its pair fails when it is used.  NULL with @errp set when
 * a file is missing or not a valid certificate or key.
 */
HostTlsCreds *host_tls_creds_new(const char *dir, const char *authz,
                                 GError **errp);
void host_tls_creds_free(HostTlsCreds *c);

/* Does @c hold the pair of an incoming side (@server) or a sending one? */
bool host_tls_creds_can(const HostTlsCreds *c, bool server);

/*
 * Run the handshake on the connected TCP socket @fd (taken: closed on
 * failure too) as the incoming side (@server) or the sending side to
 * @host (the name checked against the destination's certificate), until
 * @deadline (g_get_monotonic_time()'s clock).  The incoming side then
 * checks the client's identity against the authz.  Returns the relay, or
 * NULL with @errp set ("TLS handshake failed: ...", "TLS client identity
 * '...' is not authorized (--tls-authz ...)").
 */
HostTlsChannel *host_tls_channel_new(HostTlsCreds *c, int fd, bool server,
                                     const char *host, gint64 deadline,
                                     GError **errp);

/* The descriptor the caller reads and writes (the channel's: not closed). */
int host_tls_channel_fd(const HostTlsChannel *ch);

/* Why the relay stopped ("TLS: ..."), or NULL (a copy). */
char *host_tls_channel_error(HostTlsChannel *ch);

/*
 * Wake whatever blocks on the channel (any thread): the caller's
 * descriptor is shut down, the TLS connection cancelled.
 */
void host_tls_channel_shutdown(HostTlsChannel *ch);

/*
 * What the caller wrote goes out first (up to 5 s), then the TLS
 * connection is closed (close_notify), the threads joined, everything
 * freed.  NULL: no-op.
 */
void host_tls_channel_free(HostTlsChannel *ch);

/* The host of a tcp:HOST:PORT URI (brackets of [v6] removed), or NULL. */
char *host_tls_uri_host(const char *uri);

#endif /* HOST_TLS_H */
