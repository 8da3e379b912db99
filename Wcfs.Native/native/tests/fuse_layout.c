/* fuse_layout.c - the FUSE shim links against a libfuse 3 the server supports. (The layouts shared
 * with C# are checked from both sides through tests/abi_layout.c and NativeAbiTests.) */
#include <stdio.h>
#include "wcfs_fuse.h"

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
