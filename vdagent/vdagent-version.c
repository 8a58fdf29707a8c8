/*
 * vdagent-version.c: the version of the library running.
 */
#include "vdagent/vdagent-version.h"

uint32_t vdagent_chardev_version(void)
{
    return VDAGENT_CHARDEV_VERSION;
}
