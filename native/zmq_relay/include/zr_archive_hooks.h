/* The archive's hooks (file opened, file closed, write error): rare events, printed as logfmt
 * lines and passed on to the outputs (bus events). */
#ifndef ZR_ARCHIVE_HOOKS_H
#define ZR_ARCHIVE_HOOKS_H

#include "zr_archive.h"
#include "zr_relay.h"

/* The hooks to give zr_archive_create, with r as their context. */
zr_archive_hooks zr_archive_hooks_of(zr_relay *r);

#endif
