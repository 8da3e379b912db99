/* abi_layout.c - the one definition of every layout and constant C# mirrors, computed from the real
 * headers: it prints one line per item, "size TYPE N", "offset TYPE FIELD N" or "const TYPE NAME N",
 * where TYPE/FIELD/NAME are the C# names (full type name, '+' for a nested type). The C# test
 * Wcfs.Actors.Tests/NativeAbiTests.cs runs this program and checks every line against the C#
 * declarations (Marshal/Unsafe sizes, field offsets, constant and enum values); no number is written
 * by hand on either side. CTest runs it too (it must build and run). A new mirrored struct or
 * constant gets its line here. */
#include <stddef.h>
#include <stdio.h>

#include "wcfs_client.h"
#include "wcfs_fuse.h"
#include "wcfs_virtmem.h"

#define NS "Wcfs.Native.Interop."
#define SIZE(cs, ctype) printf("size " cs " %zu\n", sizeof(ctype))
#define OFFSET(cs, field, ctype, cfield) printf("offset " cs " " field " %zu\n", offsetof(ctype, cfield))
#define CONST(cs, name, value) printf("const " cs " " name " %lld\n", (long long)(value))

int main(void)
{
    SIZE("System.IntPtr", void *); /* nint handles and pointers in every import */

    /* include/wcfs_fuse.h <-> Interop/FuseNative.cs */
    SIZE(NS "WfuseAttr", wfuse_attr);
    OFFSET(NS "WfuseAttr", "Ino", wfuse_attr, ino);
    OFFSET(NS "WfuseAttr", "Size", wfuse_attr, size);
    OFFSET(NS "WfuseAttr", "Mode", wfuse_attr, mode);
    OFFSET(NS "WfuseAttr", "Nlink", wfuse_attr, nlink);
    OFFSET(NS "WfuseAttr", "Blksize", wfuse_attr, blksize);
    OFFSET(NS "WfuseAttr", "Uid", wfuse_attr, uid);
    OFFSET(NS "WfuseAttr", "Gid", wfuse_attr, gid);
    OFFSET(NS "WfuseAttr", "Reserved", wfuse_attr, reserved);
    OFFSET(NS "WfuseAttr", "MtimeSec", wfuse_attr, mtime_sec);
    OFFSET(NS "WfuseAttr", "MtimeNsec", wfuse_attr, mtime_nsec);
    SIZE(NS "WfuseOps", wfuse_ops);
    OFFSET(NS "WfuseOps", "Lookup", wfuse_ops, lookup);
    OFFSET(NS "WfuseOps", "Getattr", wfuse_ops, getattr);
    OFFSET(NS "WfuseOps", "Open", wfuse_ops, open);
    OFFSET(NS "WfuseOps", "Read", wfuse_ops, read);
    OFFSET(NS "WfuseOps", "Write", wfuse_ops, write);
    OFFSET(NS "WfuseOps", "Release", wfuse_ops, release);
    OFFSET(NS "WfuseOps", "Opendir", wfuse_ops, opendir);
    OFFSET(NS "WfuseOps", "Readdir", wfuse_ops, readdir);
    OFFSET(NS "WfuseOps", "Interrupt", wfuse_ops, interrupt);
    CONST(NS "FuseOpenFlags", "KeepCache", WFUSE_OPEN_KEEP_CACHE);
    CONST(NS "FuseOpenFlags", "DirectIo", WFUSE_OPEN_DIRECT_IO);
    CONST(NS "FuseOpenFlags", "NonSeekable", WFUSE_OPEN_NONSEEKABLE);
    CONST(NS "FuseOpenFlags", "Stream", WFUSE_OPEN_STREAM);

    /* include/wcfs_virtmem.h <-> Interop/VirtmemNative.cs, Wcfs.Actors/Virtmem/BigFile.cs */
    CONST(NS "VirtmemNative", "StoreRace", VM_ESTORE_RACE);
    CONST(NS "VirtmemNative", "WrongPhase", VM_EPHASE);
    CONST(NS "VirtmemNative", "PageEmpty", VM_PAGE_EMPTY);
    CONST(NS "VirtmemNative", "PageLoaded", VM_PAGE_LOADED);
    CONST(NS "VirtmemNative", "PageDirty", VM_PAGE_DIRTY);
    CONST(NS "VirtmemNative", "PageBase", VM_PAGE_BASE);
    CONST("Wcfs.Actors.Virtmem.VirtmemMode", "Classic", VM_MODE_CLASSIC);
    CONST("Wcfs.Actors.Virtmem.VirtmemMode", "Overlay", VM_MODE_OVERLAY);

    /* include/wcfs_client.h <-> Interop/ClientNative.cs */
    CONST(NS "ClientNative", "FrameMax", WCL_FRAME_MAX);
    CONST(NS "ClientNative", "EventReply", WCL_EV_REPLY);
    CONST(NS "ClientNative", "EventPin", WCL_EV_PIN);
    CONST(NS "ClientNative", "EventDown", WCL_EV_DOWN);
    CONST(NS "ClientNative", "EventLastWords", WCL_EV_LAST_WORDS);
    CONST(NS "ClientNative", "AutostartInputMax", WCL_AUTOSTART_INPUT_MAX);
    SIZE(NS "ClientNative+Event", struct wcl_event);
    OFFSET(NS "ClientNative+Event", "Kind", struct wcl_event, kind);
    OFFSET(NS "ClientNative+Event", "Rc", struct wcl_event, rc);
    OFFSET(NS "ClientNative+Event", "Stream", struct wcl_event, stream);
    OFFSET(NS "ClientNative+Event", "Oid", struct wcl_event, oid);
    OFFSET(NS "ClientNative+Event", "Blk", struct wcl_event, blk);
    OFFSET(NS "ClientNative+Event", "Rev", struct wcl_event, rev);
    OFFSET(NS "ClientNative+Event", "Nanos", struct wcl_event, nanos);
    OFFSET(NS "ClientNative+Event", "IsHead", struct wcl_event, is_head);
    OFFSET(NS "ClientNative+Event", "TextLength", struct wcl_event, text_len);
    OFFSET(NS "ClientNative+Event", "Text", struct wcl_event, text);
    return ferror(stdout) ? 1 : 0;
}
