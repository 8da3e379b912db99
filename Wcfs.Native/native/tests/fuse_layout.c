/* fuse_layout.c - the layouts shared between the FUSE shim and C# (Wcfs.Native/Interop/FuseNative.cs)
 * are checked here at compile time; the numbers below are the ones the C# structs declare. */
#include <stddef.h>
#include <stdio.h>
#include "wcfs_fuse.h"

/* WfuseAttr (C#, StructLayout Sequential) */
_Static_assert(sizeof(wfuse_attr) == 56, "WfuseAttr size");
_Static_assert(offsetof(wfuse_attr, ino) == 0, "WfuseAttr.Ino");
_Static_assert(offsetof(wfuse_attr, size) == 8, "WfuseAttr.Size");
_Static_assert(offsetof(wfuse_attr, mode) == 16, "WfuseAttr.Mode");
_Static_assert(offsetof(wfuse_attr, nlink) == 20, "WfuseAttr.Nlink");
_Static_assert(offsetof(wfuse_attr, blksize) == 24, "WfuseAttr.Blksize");
_Static_assert(offsetof(wfuse_attr, uid) == 28, "WfuseAttr.Uid");
_Static_assert(offsetof(wfuse_attr, gid) == 32, "WfuseAttr.Gid");
_Static_assert(offsetof(wfuse_attr, mtime_sec) == 40, "WfuseAttr.MtimeSec");
_Static_assert(offsetof(wfuse_attr, mtime_nsec) == 48, "WfuseAttr.MtimeNsec");

/* WfuseOps (C#): nine function pointers in this order */
_Static_assert(sizeof(wfuse_ops) == 72, "WfuseOps size");
_Static_assert(offsetof(wfuse_ops, lookup) == 0, "WfuseOps.Lookup");
_Static_assert(offsetof(wfuse_ops, getattr) == 8, "WfuseOps.Getattr");
_Static_assert(offsetof(wfuse_ops, open) == 16, "WfuseOps.Open");
_Static_assert(offsetof(wfuse_ops, read) == 24, "WfuseOps.Read");
_Static_assert(offsetof(wfuse_ops, write) == 32, "WfuseOps.Write");
_Static_assert(offsetof(wfuse_ops, release) == 40, "WfuseOps.Release");
_Static_assert(offsetof(wfuse_ops, opendir) == 48, "WfuseOps.Opendir");
_Static_assert(offsetof(wfuse_ops, readdir) == 56, "WfuseOps.Readdir");
_Static_assert(offsetof(wfuse_ops, interrupt) == 64, "WfuseOps.Interrupt");

/* FuseOpenFlags (C#) */
_Static_assert(WFUSE_OPEN_KEEP_CACHE == 1 && WFUSE_OPEN_DIRECT_IO == 2 && WFUSE_OPEN_NONSEEKABLE == 4 &&
               WFUSE_OPEN_STREAM == 8, "FuseOpenFlags");

int main(void)
{
    int v = wfuse_lib_version();
    if (v < 310 || v >= 400) {
        fprintf(stderr, "fuse_layout: unexpected libfuse version %d\n", v);
        return 1;
    }
    printf("fuse_layout: ok (libfuse %d)\n", v);
    return 0;
}
