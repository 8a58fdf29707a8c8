#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz/fuzz_device.c.

    python3 tests/fuzz/make-device-seeds.py [OUTDIR]
                                        (default tests/fuzz/corpus/device)

Each seed is a program for the stateful target: byte 0 sets up the run,
then operations (enum Op) with their operands, and actions (enum Act,
bits 0-3, parameter in bits 4-7) run now (OP_ACT) or armed for the
frontend's callbacks (OP_ARM).  The numbers below must follow the enums
of fuzz_device.c.  One seed per defect of issue 20 (the re-entry of A1-A4,
the states of B1 and B2, the parser state fuzz_device found), a few plain
sessions, and for issue 11 the migrations that continue, the request
timeouts, input events and syncs on several heads, grab serial races, a flood of requests without reading (the
frontend ignoring the input room) and one of requests answered empty (the
frontend honouring it).  Files of the same name are overwritten; others (crash
reproducers kept as regression seeds) are left alone.
"""
import os
import sys

# byte 0
SHARED_HUB, SHARED_ROUTER, NO_MONITORS, NO_MOUSE, OPEN = 1, 2, 4, 8, 16


def caps(i):
    """Byte 0 bits 5-7: agent_caps[i] (0: the Linux agent's word)."""
    return i << 5


# enum Op
(OP_ACT, OP_ARM, OP_AGENT_CAPS, OP_AGENT_GRAB, OP_AGENT_REQUEST,
 OP_AGENT_DATA, OP_AGENT_RELEASE, OP_AGENT_REPLY, OP_AGENT_MAX, OP_PUSH_RAW,
 OP_HOST_GRAB, OP_HOST2_GRAB, OP_HOST_RELEASE, OP_HOST_ANSWER,
 OP_HOST_REQUEST, OP_HOST_SYNC, OP_HOST_RESET_SERIAL, OP_POINTER, OP_BUTTON,
 OP_HEADS, OP_NEW_AGENT, OP_MIGRATE, OP_TIMEOUT, OP_INPUT) = range(24)

# enum Act
(ACT_PUMP, ACT_PUMP_PIECE, ACT_AGENT_CAPS, ACT_AGENT_REQUEST, ACT_AGENT_GRAB,
 ACT_ACCEPT, ACT_CLOSE, ACT_OPEN, ACT_CLOSE_OPEN, ACT_CLOSE_OPEN_CLOSE,
 ACT_STOP, ACT_RESUME, ACT_STOP_RESUME, ACT_BUDGET, ACT_UNLIMITED,
 ACT_NOTHING) = range(16)

CLIPBOARD, PRIMARY = 0, 1
TEXT_MASK = 1           # host grabs: bit 0 = VdcClipboardType TEXT
AGENT_TEXT_MASK = 2     # agent grabs: bit i = vd_types[i]; [1] is UTF8_TEXT
TEXT = 1 << 2           # request operands: vd_types index 1 in bits 2-4
RESTORE = 1             # OP_MIGRATE: the host peers restore their selections


def ev_abs(axis, value):
    """OP_INPUT event byte: an absolute X (0) or Y (1), value 0..63."""
    return axis | value << 2


def ev_btn(button, down):
    return 2 | button << 2 | (0x80 if down else 0)


EV_SYNC = 3


def events(*evs):
    """OP_INPUT: (head, event byte) pairs."""
    return bytes([OP_INPUT, len(evs) - 1]) + b''.join(bytes(e) for e in evs)


def act(a, param=0):
    return bytes([OP_ACT, a | param << 4])


def arm(*acts):
    return bytes([OP_ARM, len(acts) - 1]) + bytes(acts)


def op(o, *operands):
    return bytes([o, *operands])


PUMP = act(ACT_PUMP)

# ACT_NOTHING's parameters 1..8: file transfers (issue 14)
FX_EMPTY, FX_1000, FX_20000, FX_70000, FX_FAILING = 1, 2, 3, 4, 5
FX_CANCEL_OLDEST, FX_CANCEL_NEWEST, FX_STATUS = 6, 7, 8


def fx(param):
    """An action byte for OP_ARM, or act(ACT_NOTHING, param) run now."""
    return ACT_NOTHING | param << 4


SEEDS = {
    # a session: caps both ways, the host's clipboard offered
    'session': bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK),
    # A1: close, open, close from inside the write of MONITORS_CONFIG
    'a1-close-open-close-in-write':
        bytes([OPEN]) + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        arm(ACT_CLOSE_OPEN_CLOSE) + PUMP,
    # A2: close and reopen from inside the write of MAX_CLIPBOARD, then
    # the new session's agent answers
    'a2-reopen-in-write':
        bytes([OPEN]) + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        arm(ACT_NOTHING, ACT_CLOSE_OPEN) + PUMP + PUMP,
    # A3: close from inside the write of MAX_CLIPBOARD
    'a3-close-in-write':
        bytes([OPEN]) + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        arm(ACT_NOTHING, ACT_CLOSE) + PUMP,
    # A4: the caps answer queued without room; a stop from inside the
    # first write; then the resume
    'a4-stop-in-write':
        bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        act(ACT_BUDGET, 0) + op(OP_AGENT_CAPS, 1) + PUMP +
        arm(ACT_STOP) + act(ACT_UNLIMITED) + act(ACT_RESUME),
    'a4-stop-resume-in-write':
        bytes([OPEN]) + PUMP + act(ACT_BUDGET, 0) + op(OP_AGENT_CAPS, 1) +
        PUMP + arm(ACT_STOP_RESUME) + act(ACT_UNLIMITED),
    # B1: two heads, the pointer on the second; then one head
    'b1-heads':
        bytes([OPEN | SHARED_ROUTER]) + PUMP +
        op(OP_HEADS, 1, 0x80, 0x5f, 0x64, 0x4a) +
        op(OP_POINTER, 1, 1 | 64 << 1) + op(OP_POINTER, 1, 0 | 64 << 1) +
        op(OP_HEADS, 0, 0x80, 0x5f),
    # B2: paused, the guest requests the host's text, grabs it, asks again
    'b2-own-selection':
        bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        act(ACT_STOP) + op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP + act(ACT_RESUME),
    # the parser: a bad-protocol header filling its chunk, then part of
    # the next chunk header
    'parser-bad-protocol-chunk-end':
        bytes([OPEN]) + PUMP + op(OP_PUSH_RAW, 31) +
        bytes([1, 0, 0, 0, 20, 0, 0, 0]) + bytes(20) + bytes([1, 0, 0]),
    # the host's requests: kept and answered later, then from inside
    'host-requests':
        bytes([OPEN | SHARED_HUB]) + PUMP +
        op(OP_HOST_GRAB, PRIMARY, TEXT_MASK) +
        op(OP_AGENT_REQUEST, PRIMARY | TEXT) + PUMP +
        op(OP_HOST_ANSWER, 10) + op(OP_HOST_SYNC, 1) +
        op(OP_HOST_GRAB, PRIMARY, TEXT_MASK) +
        op(OP_AGENT_REQUEST, PRIMARY | TEXT) + PUMP,
    # guest to host: the guest grabs, the host asks, the guest answers
    'guest-to-host':
        bytes([OPEN]) + PUMP + op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) +
        PUMP + op(OP_HOST_REQUEST, CLIPBOARD | 0 << 2) +
        op(OP_AGENT_DATA, CLIPBOARD | TEXT, 12) + PUMP,
    # another peer resets the serials: CLOSED, the frontend reconnects
    'reset-serial-reconnect':
        bytes([OPEN]) + PUMP + arm(ACT_CLOSE_OPEN, ACT_PUMP) +
        op(OP_HOST_RESET_SERIAL),
    # the agent answers from inside write, as a synchronous frontend does
    'pump-in-write':
        bytes([OPEN]) + arm(ACT_PUMP, ACT_AGENT_CAPS, ACT_PUMP) + PUMP +
        op(OP_BUTTON, 0, 0 | 8) + op(OP_BUTTON, 0, 0),
    # issue 11: the guest's request outstanding at the host, the device
    # migrates (the host peers restore their selection), the host answers
    # the destination's request; the guest and host grab on
    'migrate-pending-request':
        bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP +
        op(OP_MIGRATE, RESTORE) + op(OP_HOST_ANSWER, 9) +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP,
    # the same without the host's selections on the destination
    'migrate-lost-selection':
        bytes([OPEN | SHARED_HUB]) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP + op(OP_MIGRATE, 0) +
        op(OP_TIMEOUT) + op(OP_HOST_ANSWER, 3),
    # migrating mid-reply: no room, the answer queued; half a guest
    # message in the reader; then room on the destination
    'migrate-mid-reply':
        bytes([OPEN]) + PUMP + op(OP_HOST_SYNC, 1) +
        op(OP_HOST_GRAB, PRIMARY, TEXT_MASK) + act(ACT_BUDGET, 3) +
        op(OP_AGENT_REQUEST, PRIMARY | TEXT) + act(ACT_PUMP_PIECE, 4) +
        op(OP_MIGRATE, RESTORE) + act(ACT_UNLIMITED) + PUMP +
        op(OP_MIGRATE, RESTORE) + op(OP_MIGRATE, 0),
    # migrating with the port closed, then the agent reconnects
    'migrate-closed':
        bytes([OPEN | SHARED_HUB | SHARED_ROUTER]) + PUMP +
        op(OP_HEADS, 1, 0x80, 0x5f, 0x64, 0x4a) + act(ACT_CLOSE) +
        op(OP_MIGRATE, RESTORE) + act(ACT_OPEN) + PUMP +
        op(OP_POINTER, 1, 1 | 64 << 1),
    # the host never answers: the request timer fires, the guest gets an
    # empty answer; the late answer is not a second one
    'timeout-request':
        bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP + op(OP_TIMEOUT) +
        op(OP_HOST_ANSWER, 7) + op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) +
        PUMP + op(OP_HOST_ANSWER, 7),
    # a timer firing while stopped, and one on the migrated hub
    'timeout-stopped-migrated':
        bytes([OPEN | SHARED_HUB]) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP + act(ACT_STOP) +
        op(OP_TIMEOUT) + act(ACT_RESUME) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP +
        op(OP_MIGRATE, RESTORE) + op(OP_TIMEOUT),
    # events on two heads, syncs between them, unsynced events migrated
    'input-heads-syncs':
        bytes([OPEN | SHARED_ROUTER]) + PUMP +
        op(OP_HEADS, 1, 0x80, 0x5f, 0x64, 0x4a) +
        events((0, ev_abs(0, 10)), (0, ev_abs(1, 20)), (0, EV_SYNC),
               (1, ev_abs(0, 30)), (1, ev_btn(0, True)), (1, EV_SYNC),
               (1, ev_btn(0, False)), (0, ev_abs(1, 5))) +
        op(OP_MIGRATE, 0) + events((1, EV_SYNC), (4, ev_abs(0, 1))),
    # grab serials: the agent's grabs on the way while the host grabs
    'grab-serial-race':
        bytes([OPEN]) + PUMP + op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) + PUMP +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) + PUMP +
        op(OP_MIGRATE, RESTORE) + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK),
    # grab serials settled: two guest grabs delivered, then the host's
    # grab must carry the agent's counter (and again after a migration)
    'grab-serial-settled':
        bytes([OPEN]) + PUMP + op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) +
        PUMP + op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_AGENT_GRAB, CLIPBOARD, AGENT_TEXT_MASK) + PUMP +
        op(OP_MIGRATE, RESTORE) + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK),
    # large host data (OP_HOST_ANSWER >= 128: KiB): 17 KiB in chunks
    # through a small room, migrated half written; then 20 KiB above a
    # guest MAX_CLIPBOARD of 100 bytes
    'host-answer-large':
        bytes([OPEN]) + PUMP + op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP +
        act(ACT_BUDGET, 15) + op(OP_HOST_ANSWER, 127 + 17) +
        op(OP_MIGRATE, RESTORE) + act(ACT_UNLIMITED) +
        op(OP_AGENT_MAX, 100) + PUMP +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP +
        op(OP_HOST_ANSWER, 127 + 20),
    # issue 11: the guest asks for 128 KiB of host text 17 times without
    # reading; one answer is queued, the others wait (they used to be
    # queued each, 2.2 MiB the save refused); migrated, then read
    # (a frontend that ignores the input room: act 0xff; honouring it,
    # the requests would wait in the channel behind the first answer)
    'request-flood-no-room':
        bytes([OPEN]) + act(ACT_NOTHING, 15) + PUMP +
        op(OP_HOST_GRAB, CLIPBOARD, TEXT_MASK) +
        op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP + act(ACT_BUDGET, 0) +
        op(OP_HOST_ANSWER, 255) +
        (op(OP_AGENT_REQUEST, CLIPBOARD | TEXT) + PUMP) * 16 +
        op(OP_MIGRATE, RESTORE) + act(ACT_UNLIMITED) + PUMP,
    # issue 11, hole (a): 2000 requests for a selection nobody owns, each
    # answered empty at once, without reading: the frontend honours the
    # input room, so the device stops taking them at 64 KiB of output and
    # the rest waits in the agent's output; migrated, then read
    'quiet-flood-room':
        bytes([OPEN]) + PUMP + act(ACT_BUDGET, 0) +
        op(OP_AGENT_REQUEST, PRIMARY | TEXT) * 2000 + PUMP * 3 +
        op(OP_MIGRATE, 0) + act(ACT_UNLIMITED) + PUMP * 4,
    # issue 14: files of 0, 1000 and 20000 bytes at once, to the end
    'file-xfer-plain':
        bytes([OPEN]) + PUMP + act(ACT_NOTHING, FX_EMPTY) +
        act(ACT_NOTHING, FX_1000) + act(ACT_NOTHING, FX_20000) +
        (PUMP + act(ACT_ACCEPT)) * 8,
    # a narrow frontend, a source failing half-way, a cancel, and a
    # migration with a transfer in flight (the destination cannot reopen
    # its source: CANCELLED to the agent, MIGRATION_LOST)
    'file-xfer-window-migrate':
        bytes([OPEN]) + PUMP + act(ACT_BUDGET, 15) +
        act(ACT_NOTHING, FX_70000) + act(ACT_NOTHING, FX_FAILING) +
        act(ACT_NOTHING, FX_20000) +
        (PUMP + act(ACT_BUDGET, 15) + act(ACT_ACCEPT)) * 6 +
        act(ACT_NOTHING, FX_CANCEL_NEWEST) + op(OP_MIGRATE, 0) +
        act(ACT_UNLIMITED) + (PUMP + act(ACT_ACCEPT)) * 6,
    # from inside the writes: starts, cancels, a close and reopen
    'file-xfer-reentry':
        bytes([OPEN]) + PUMP +
        arm(fx(FX_1000), fx(FX_70000), fx(FX_CANCEL_OLDEST), ACT_PUMP,
            fx(FX_STATUS), ACT_CLOSE_OPEN, fx(FX_20000), ACT_PUMP) +
        act(ACT_NOTHING, FX_1000) + (PUMP + act(ACT_ACCEPT)) * 8,
    # every status from the agent, for the newest transfer and for ids
    # not under way, with details of 0..9 bytes
    'file-xfer-statuses':
        bytes([OPEN]) + PUMP +
        (act(ACT_NOTHING, FX_70000) + act(ACT_NOTHING, FX_STATUS) + PUMP +
         act(ACT_ACCEPT)) * 12,
}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else 'tests/fuzz/corpus/device'
    os.makedirs(outdir, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(outdir, name), 'wb') as f:
            f.write(data)
    print(f'{len(SEEDS)} seeds in {outdir}')


if __name__ == '__main__':
    main()
