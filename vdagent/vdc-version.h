/*
 * vdc-version.h: the library's version, at compile time and at run
 * time.
 *
 * MAJOR is the ABI generation: it is the number in the shared library's
 * SONAME (libvdagent-chardev.so.MAJOR) and changes with every change an
 * already built embedding would notice (README, "ABI").  MINOR grows with
 * additions (new functions, new enum values that do not resize a public
 * struct), MICRO with fixes.  The Makefile's VERSION_MAJOR/MINOR/MICRO are
 * the one source of these numbers; make check fails when this header
 * says otherwise (tests/check-symbols.sh).
 */
#ifndef VDC_VERSION_H
#define VDC_VERSION_H

#include <stdint.h>

#define VDC_CHARDEV_VERSION_MAJOR 2
#define VDC_CHARDEV_VERSION_MINOR 0
#define VDC_CHARDEV_VERSION_MICRO 0

/* One comparable number: 0xMMmmuu (major, minor, micro; each 0..255). */
#define VDC_CHARDEV_VERSION_ENCODE(major, minor, micro) \
    ((uint32_t)(((major) << 16) | ((minor) << 8) | (micro)))

/* The version the embedding was compiled against. */
#define VDC_CHARDEV_VERSION                                     \
    VDC_CHARDEV_VERSION_ENCODE(VDC_CHARDEV_VERSION_MAJOR,   \
                               VDC_CHARDEV_VERSION_MINOR,   \
                               VDC_CHARDEV_VERSION_MICRO)

/*
 * The version of the library running, as VDC_CHARDEV_VERSION_ENCODE()
 * makes it.  Its major equals VDC_CHARDEV_VERSION_MAJOR whenever the
 * dynamic linker picked the library by its SONAME; its minor may be
 * higher than the headers' (a newer library), never lower.
 */
uint32_t vdc_chardev_version(void);

#endif /* VDC_VERSION_H */
