/*
 * vdagent-version.c: the version of the library running.
 */
#include "vdagent/vdc-version.h"

uint32_t vdc_chardev_version(void)
{
    return VDC_CHARDEV_VERSION;
}
