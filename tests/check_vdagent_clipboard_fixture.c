/*
 * check_vdagent_clipboard_fixture.c: the fixture of the vdagent-clipboard
 * suites (see check_vdagent_clipboard.h).
 *
 * vdagent-internal.h is included for the device's own VdcClipboardPeer
 * (dev->cbpeer: to tell its ownership apart from nobody's).
 */
#include <check.h>
#include <string.h>

#include "tests/check_vdagent_clipboard.h"
#include "tests/test-util.h"
#include "vdagent/vdagent-internal.h"

G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD ==
                (int)SEL_CLIPBOARD);
G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_PRIMARY ==
                (int)SEL_PRIMARY);
G_STATIC_ASSERT((int)VD_AGENT_CLIPBOARD_SELECTION_SECONDARY ==
                (int)SEL_SECONDARY);

const CapsSet caps_sets[4] = {
    { "selection+serial", CAPS_FULL, true, true },
    { "selection", CAPS_SEL, true, false },
    { "neither", CAPS_PLAIN, false, false },
    /* the Windows agent: cb_new() gives it its model's rules */
    { "windows", WINDOWS_AGENT_CAPS, false, false },
};

const SelCase g2h_cases[8] = {
    { 0, SEL_CLIPBOARD }, { 0, SEL_PRIMARY }, { 0, SEL_SECONDARY },
    { 1, SEL_CLIPBOARD }, { 1, SEL_PRIMARY }, { 1, SEL_SECONDARY },
    { 2, SEL_CLIPBOARD }, { 3, SEL_CLIPBOARD },
};

/* ---- the frontend ------------------------------------------------------- */

VdcConfig cb_config(void)
{
    return fe_config(false, true, false);
}

TestFe *cb_new(uint32_t caps)
{
    VdcConfig config = cb_config();
    TestFe *fe = fe_new1(&config, caps);

    if (caps == WINDOWS_AGENT_CAPS) {
        guest_agent_set_model(fe->ga, GUEST_AGENT_WINDOWS);
    }
    return fe;
}

void cb_open(TestFe *fe)
{
    fe_open(fe);
    ck_assert(vdc_chardev_guest_has_cap(fe->dev,
                                        VD_AGENT_CAP_CLIPBOARD_BY_DEMAND) ==
              !!(fe->caps[0] & CAP(CLIPBOARD_BY_DEMAND)));
    guest_agent_clear_received(fe->ga);
}

TestFe *cb_connect(uint32_t caps)
{
    TestFe *fe = cb_new(caps);

    cb_open(fe);
    return fe;
}

uint64_t drops(const TestFe *fe, VdcDrop reason)
{
    return fe_counters(fe).drops[reason];
}

uint64_t msgs_in(const TestFe *fe, uint32_t type)
{
    return fe_counters(fe).msgs_in[type];
}

VdcClipboardPeer *dev_peer(TestFe *fe)
{
    return &fe->dev->cbpeer;
}

VdcClipboardPeer *owner_of(TestFe *fe, unsigned sel)
{
    VdcClipboardInfo *info = vdc_clipboard_hub_info(fe->hub, sel);

    return info ? info->owner : NULL;
}

bool cb_has_sel(const TestFe *fe)
{
    return fe->caps[0] & CAP(CLIPBOARD_SELECTION);
}

bool cb_has_serial(const TestFe *fe)
{
    return fe->caps[0] & CAP(CLIPBOARD_GRAB_SERIAL);
}

bool cb_real_layout(const TestFe *fe)
{
    return cb_has_sel(fe) && cb_has_serial(fe);
}

/* ---- expected message bodies (our own encoding) ------------------------- */

GByteArray *body(bool prefix, unsigned sel)
{
    GByteArray *b = g_byte_array_new();

    if (prefix) {
        uint8_t p[4] = { (uint8_t)sel, 0, 0, 0 };

        g_byte_array_append(b, p, 4);
    }
    return b;
}

GByteArray *body32(GByteArray *b, uint32_t v)
{
    return test_append_le32(b, v);
}

GByteArray *body_bytes(GByteArray *b, const void *data, size_t len)
{
    return test_append_bytes(b, data, len);
}

void ck_msg(const GuestAgentMsg *m, uint32_t type, GByteArray *expect)
{
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->type, type);
    ck_assert_uint_eq(m->size, expect->len);
    if (expect->len) {
        ck_assert_mem_eq(m->data, expect->data, expect->len);
    }
    g_byte_array_unref(expect);
}

GByteArray *grab_body(const TestFe *fe, unsigned sel, uint32_t serial)
{
    GByteArray *b = body(cb_has_sel(fe), sel);

    return cb_has_serial(fe) ? body32(b, serial) : b;
}

/* ---- what the agent received -------------------------------------------- */

const GuestAgentMsg *ga_nth(const TestFe *fe, uint32_t type, size_t n)
{
    return guest_agent_find(fe->ga, type, n);
}

const GuestAgentMsg *ga_last(const TestFe *fe)
{
    size_t n = guest_agent_n_received(fe->ga);

    ck_assert_uint_gt(n, 0);
    return guest_agent_received(fe->ga, n - 1);
}

size_t ga_count(const TestFe *fe, uint32_t type)
{
    return guest_agent_count_type(fe->ga, type);
}

void ck_last_grab(TestFe *fe, unsigned sel, uint32_t serial)
{
    size_t n = ga_count(fe, VD_AGENT_CLIPBOARD_GRAB);

    ck_assert_uint_gt(n, 0);
    ck_msg(ga_nth(fe, VD_AGENT_CLIPBOARD_GRAB, n - 1), VD_AGENT_CLIPBOARD_GRAB,
           body32(body32(body(true, sel), serial),
                  VD_AGENT_CLIPBOARD_UTF8_TEXT));
}

void ck_agent_ok(const TestFe *fe)
{
    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    if (cb_real_layout(fe)) {
        ck_assert_msg(guest_agent_ignored(fe->ga) == 0, "agent ignored: %s",
                      guest_agent_last_ignored(fe->ga));
    }
}

/* ---- what the agent sends, in the guest's layout ------------------------ */

void ga_raw_grab(TestFe *fe, unsigned sel, uint32_t serial,
                 const uint32_t *types, size_t n)
{
    g_autoptr(GByteArray) b = body32(body(true, sel), serial);
    size_t i;

    ck_assert(cb_has_sel(fe) && cb_has_serial(fe));
    for (i = 0; i < n; i++) {
        body32(b, types[i]);
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_GRAB, b->data, b->len);
    fe_pump(fe);
}

void ga_send_grab(TestFe *fe, unsigned sel, const uint32_t *types,
                  size_t n)
{
    g_autoptr(GByteArray) b = NULL;
    size_t i;

    if (cb_real_layout(fe)) {
        guest_agent_send_grab(fe->ga, sel, types, n);
        return;
    }
    b = body(cb_has_sel(fe), sel);
    for (i = 0; i < n; i++) {
        body32(b, types[i]);
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_GRAB, b->data, b->len);
}

void ga_send_request(TestFe *fe, unsigned sel, uint32_t vdtype)
{
    g_autoptr(GByteArray) b = NULL;

    if (cb_has_sel(fe)) {
        guest_agent_send_request(fe->ga, sel, vdtype);
        return;
    }
    b = body32(body(false, sel), vdtype);
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_REQUEST, b->data,
                             b->len);
}

void ga_send_clipboard(TestFe *fe, unsigned sel, uint32_t vdtype,
                       const void *data, size_t len)
{
    g_autoptr(GByteArray) b = NULL;

    if (cb_has_sel(fe)) {
        guest_agent_send_clipboard(fe->ga, sel, vdtype, data, len);
        return;
    }
    b = body_bytes(body32(body(false, sel), vdtype), data, len);
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD, b->data, b->len);
}

void ga_send_release(TestFe *fe, unsigned sel)
{
    if (cb_has_sel(fe)) {
        guest_agent_send_release(fe->ga, sel);
        return;
    }
    guest_agent_send_message(fe->ga, VD_AGENT_CLIPBOARD_RELEASE, NULL, 0);
}

void ga_grab1(TestFe *fe, unsigned sel, uint32_t vdtype)
{
    ga_send_grab(fe, sel, &vdtype, 1);
    fe_pump(fe);
}

void cb_offer_and_request(TestFe *fe, HostPeer *hp, VdcClipboardType type,
                          uint32_t vdtype, GBytes *data)
{
    hp_grab(hp, SEL_CLIPBOARD, 1u << type);
    hp->answer[SEL_CLIPBOARD][type] = g_bytes_ref(data);
    guest_agent_clear_received(fe->ga);
    ga_send_request(fe, SEL_CLIPBOARD, vdtype);
    fe_pump(fe);
}

/* ---- data and the main loop --------------------------------------------- */

GBytes *binary_payload(size_t len, unsigned seed)
{
    uint8_t *p = g_malloc(len);
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
    }
    return g_bytes_new_take(p, len);
}

void iterate_ms(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(200);
        }
    }
}
