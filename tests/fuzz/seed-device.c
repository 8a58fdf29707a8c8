/*
 * seed-device.c: the seed generators' source device.  See seed-device.h.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/seed-device.h"

void seed_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "%s: ", g_get_prgname() ? g_get_prgname() : "seeds");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static size_t seed_can_write(void *opaque)
{
    Seed *s = opaque;

    return s->unlimited ? 65536 : s->budget;
}

static void seed_write(void *opaque, const uint8_t *buf, size_t len)
{
    Seed *s = opaque;

    if (!s->unlimited) {
        s->budget -= len;
    }
    guest_agent_feed(s->ga, buf, len);
}

static const VdcFrontendOps seed_ops = {
    .can_write = seed_can_write,
    .write = seed_write,
};

static void host_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    (void)peer;
    (void)n;
}

/* Never answers: the request stays pending. */
static void host_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                         VdcClipboardType type)
{
    Seed *s = peer->opaque;

    (void)info;
    (void)type;
    s->host_requests++;
}

static const VdcClipboardPeerOps host_ops = {
    .notify = host_notify,
    .request = host_request,
};

void seed_pump(Seed *s)
{
    GBytes *out = guest_agent_take_output(s->ga);

    vdc_chardev_write(s->dev, g_bytes_get_data(out, NULL),
                      g_bytes_get_size(out));
    g_bytes_unref(out);
}

/* A device, its host peer, and (when @open) the agent connected. */
void seed_start(Seed *s, const uint32_t *caps, size_t n_caps, bool open)
{
    VdcConfig config;
    uint32_t agent = AGENT_CAPS;
    GError *err = NULL;

    memset(s, 0, sizeof(*s));
    vdc_config_init(&config);
    config.mouse = true;
    config.clipboard = true;
    config.monitors = true;
    config.max_message = SEED_MAX_MESSAGE;
    s->unlimited = true;
    s->ga = caps ? guest_agent_new(caps, n_caps) : guest_agent_new(&agent, 1);
    s->dev = vdc_chardev_new(&config, &seed_ops, s, &err);
    if (!s->dev) {
        seed_die("device: %s", err->message);
    }
    s->host.name = "seed-host";
    s->host.ops = &host_ops;
    s->host.opaque = s;
    vdc_clipboard_peer_register(vdc_chardev_clipboard_hub(s->dev), &s->host);
    if (open) {
        vdc_chardev_set_guest_open(s->dev, true);
        seed_pump(s);
        if (!vdc_chardev_connected(s->dev) ||
            guest_agent_errors(s->ga) != 0) {
            seed_die("the agent did not connect");
        }
    }
}

void seed_free(Seed *s)
{
    vdc_clipboard_peer_unregister(&s->host);
    vdc_chardev_free(s->dev);
    guest_agent_free(s->ga);
}
