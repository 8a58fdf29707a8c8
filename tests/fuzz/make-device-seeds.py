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
sessions.  Files of the same name are overwritten; others (crash
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
 OP_HEADS, OP_NEW_AGENT) = range(21)

# enum Act
(ACT_PUMP, ACT_PUMP_PIECE, ACT_AGENT_CAPS, ACT_AGENT_REQUEST, ACT_AGENT_GRAB,
 ACT_ACCEPT, ACT_CLOSE, ACT_OPEN, ACT_CLOSE_OPEN, ACT_CLOSE_OPEN_CLOSE,
 ACT_STOP, ACT_RESUME, ACT_STOP_RESUME, ACT_BUDGET, ACT_UNLIMITED,
 ACT_NOTHING) = range(16)

CLIPBOARD, PRIMARY = 0, 1
TEXT_MASK = 1           # host grabs: bit 0 = ClipboardType TEXT
AGENT_TEXT_MASK = 2     # agent grabs: bit i = vd_types[i]; [1] is UTF8_TEXT
TEXT = 1 << 2           # request operands: vd_types index 1 in bits 2-4


def act(a, param=0):
    return bytes([OP_ACT, a | param << 4])


def arm(*acts):
    return bytes([OP_ARM, len(acts) - 1]) + bytes(acts)


def op(o, *operands):
    return bytes([o, *operands])


PUMP = act(ACT_PUMP)
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
