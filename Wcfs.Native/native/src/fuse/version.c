/* version.c - which libfuse the shim talks to. */
#include <fuse_lowlevel.h>
#include "wcfs_fuse.h"

int32_t wfuse_lib_version(void) { return fuse_version(); }
