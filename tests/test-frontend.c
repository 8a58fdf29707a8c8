/*
 * test-frontend.c: the fake frontend of the device suites (see
 * test-frontend.h).
 */
#include <check.h>

#include "tests/test-frontend.h"

static void fe_run_hook(TestFe *fe, const TestFeCall *call)
{
    if (fe->hook) {
        fe->hook(fe, call, fe->hook_opaque);
    }
}

static size_t fe_can_write(void *opaque)
{
    TestFe *fe = opaque;

    if (!fe->dev) {
        ck_abort_msg("can_write() after the device was freed");
    }
    return fe->unlimited ? FE_UNLIMITED_ROOM : fe->budget;
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
    TestFe *fe = opaque;
    TestFeCall call = { .kind = FE_CALL_WRITE, .buf = buf, .len = len };

    /*
     * No passing ck_assert here: each one costs a write to the runner,
     * and this runs once per byte in the large tests.
     */
    if (!fe->dev) {
        ck_abort_msg("write() after the device was freed");
    }
    if (!fe->unlimited) {
        if (len > fe->budget) {
            ck_abort_msg("write of %zu bytes, budget %zu", len, fe->budget);
        }
        fe->budget -= len;
    }
    fe->writes++;
    fe->written += len;
    if (fe->wire) {
        g_byte_array_append(fe->wire, buf, len);
    }
    if (fe->ga) {
        guest_agent_feed(fe->ga, buf, len);
    }
    fe_run_hook(fe, &call);
}

static void fe_event(void *opaque, VdcEvent event)
{
    TestFe *fe = opaque;
    TestFeCall call = { .kind = FE_CALL_EVENT, .event = event };

    if (!fe->dev) {
        ck_abort_msg("event() after the device was freed");
    }
    g_string_append_c(fe->events, event == VDC_EVENT_CLOSED ? 'C' : 'O');
    fe_run_hook(fe, &call);
}

static void fe_guest_caps(void *opaque)
{
    TestFe *fe = opaque;
    TestFeCall call = { .kind = FE_CALL_GUEST_CAPS };

    if (!fe->dev) {
        ck_abort_msg("guest_caps() after the device was freed");
    }
    fe->guest_caps++;
    fe_run_hook(fe, &call);
}

const VdcFrontendOps test_fe_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
    .event = fe_event,
    .guest_caps = fe_guest_caps,
};

VdcConfig fe_config(bool mouse, bool clipboard, bool monitors)
{
    VdcConfig config;

    vdc_config_init(&config);
    config.mouse = mouse;
    config.clipboard = clipboard;
    config.monitors = monitors;
    return config;
}

TestFe *fe_new_detached(const VdcConfig *config)
{
    TestFe *fe = g_new0(TestFe, 1);
    g_autoptr(GError) err = NULL;

    fe->config = *config;
    fe->unlimited = true;
    fe->wire = g_byte_array_new();
    fe->events = g_string_new(NULL);
    fe->held = g_byte_array_new();
    fe->peers = g_ptr_array_new_with_free_func((GDestroyNotify)hp_free);
    fe->dev = vdc_chardev_new(config, &test_fe_ops, fe, &err);
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(fe->dev);
    fe->hub = vdc_chardev_clipboard_hub(fe->dev);
    fe->router = vdc_chardev_input_router(fe->dev);
    return fe;
}

TestFe *fe_new(const VdcConfig *config, const uint32_t *caps,
               size_t n_caps)
{
    TestFe *fe = fe_new_detached(config);

    if (n_caps) {
        fe->caps = g_memdup2(caps, n_caps * sizeof(*caps));
        fe->n_caps = n_caps;
    }
    fe_new_agent(fe);
    return fe;
}

TestFe *fe_new1(const VdcConfig *config, uint32_t caps)
{
    return fe_new(config, &caps, 1);
}

void fe_free_dev(TestFe *fe)
{
    g_clear_pointer(&fe->peers, g_ptr_array_unref);
    fe->hub = NULL;
    fe->router = NULL;
    g_clear_pointer(&fe->dev, vdc_chardev_free);
}

void fe_free(TestFe *fe)
{
    if (!fe) {
        return;
    }
    fe_free_dev(fe);
    fe_attach(fe, NULL);
    g_free(fe->caps);
    if (fe->wire) {
        g_byte_array_unref(fe->wire);
    }
    g_string_free(fe->events, TRUE);
    g_byte_array_unref(fe->held);
    g_free(fe);
}

void fe_attach(TestFe *fe, GuestAgent *ga)
{
    if (fe->owns_ga) {
        guest_agent_free(fe->ga);
    }
    fe->ga = ga;
    fe->owns_ga = false;
}

GuestAgent *fe_new_agent(TestFe *fe)
{
    fe_attach(fe, guest_agent_new(fe->caps, fe->n_caps));
    fe->owns_ga = true;
    return fe->ga;
}

void fe_set_hook(TestFe *fe, TestFeHook hook, void *opaque)
{
    fe->hook = hook;
    fe->hook_opaque = opaque;
}

void fe_hook_pump(TestFe *fe, const TestFeCall *call, void *opaque)
{
    if (call->kind == FE_CALL_WRITE) {
        fe_pump(fe);
    }
}

static void fe_write_dev(TestFe *fe, const uint8_t *buf, size_t len)
{
    fe->max_push = MAX(fe->max_push, len);
    vdc_chardev_write(fe->dev, buf, len);
}

void fe_feed_held(TestFe *fe)
{
    size_t room;

    while (fe->honour_room && fe->held->len > 0 &&
           (room = vdc_chardev_input_room(fe->dev)) > 0) {
        size_t n = MIN(room, fe->held->len);
        /* Ours: the device's callbacks may push (and so append) meanwhile. */
        g_autofree uint8_t *piece = g_memdup2(fe->held->data, n);

        g_byte_array_remove_range(fe->held, 0, n);
        fe_write_dev(fe, piece, n);
    }
}

void fe_accept(TestFe *fe)
{
    vdc_chardev_accept_input(fe->dev);
    fe_feed_held(fe);
}

void fe_push(TestFe *fe, const uint8_t *buf, size_t len)
{
    if (!fe->honour_room) {
        fe_write_dev(fe, buf, len);
        return;
    }
    g_byte_array_append(fe->held, buf, len);
    fe_feed_held(fe);
}

void fe_pump(TestFe *fe)
{
    g_autoptr(GBytes) out = guest_agent_take_output(fe->ga);

    fe_push(fe, g_bytes_get_data(out, NULL), g_bytes_get_size(out));
}

void fe_open(TestFe *fe)
{
    vdc_chardev_set_guest_open(fe->dev, true);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
}

void fe_restart_agent(TestFe *fe, bool reopen)
{
    if (reopen) {
        vdc_chardev_set_guest_open(fe->dev, false);
    }
    fe_new_agent(fe);
    if (reopen) {
        vdc_chardev_set_guest_open(fe->dev, true);
    } else {
        guest_agent_send_caps(fe->ga, true);
    }
    /* its caps, then (a restart in place) its answer to ours */
    fe_pump(fe);
    fe_pump(fe);
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
}

VdcCounters fe_counters(const TestFe *fe)
{
    VdcCounters c;

    vdc_chardev_get_counters(fe->dev, &c);
    return c;
}

HostPeer *fe_peer_new_full(TestFe *fe, const char *name, bool can_request)
{
    HostPeer *hp = hp_new(fe->hub, name, can_request);

    g_ptr_array_add(fe->peers, hp);
    return hp;
}

HostPeer *fe_peer_new(TestFe *fe)
{
    return fe_peer_new_full(fe, "test-host", true);
}
