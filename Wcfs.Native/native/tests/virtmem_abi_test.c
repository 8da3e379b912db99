/* virtmem_abi_test.c - the constants C# copies from wcfs_virtmem.h (Wcfs.Native/Interop/VirtmemNative.cs,
 * VirtmemErrors.cs) are checked here at compile time: if one changes, this test stops compiling. */
#include <assert.h>
#include <stdio.h>

#include "wcfs_virtmem.h"

static_assert(VM_ESTORE_RACE == -10001, "VirtmemNative.StoreRace");
static_assert(VM_EPHASE == -10002, "VirtmemNative.WrongPhase");
static_assert(VM_PAGE_EMPTY == 0 && VM_PAGE_LOADED == 1 && VM_PAGE_DIRTY == 2 && VM_PAGE_BASE == 3, "VirtmemNative.Page*");
static_assert(VM_MODE_CLASSIC == 1 && VM_MODE_OVERLAY == 2, "Wcfs.Actors.Virtmem.VirtmemMode");
static_assert(sizeof(void *) == 8, "nint in VirtmemNative is 64-bit");

int main(void)
{
    printf("virtmem_abi_test: ok\n");
    return 0;
}
