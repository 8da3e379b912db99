/* client_layout.c - CTest: the layout of struct wcl_event that C# mirrors (ClientNative.Event).
 * The same numbers are asserted on the C# side (ClientLayoutTests), so neither side can drift. */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>

#include "wcfs_client.h"

static_assert(WCL_FRAME_MAX == 256, "frame limit (PROTOCOL.md §4)");
static_assert(offsetof(struct wcl_event, kind) == 0, "kind");
static_assert(offsetof(struct wcl_event, rc) == 4, "rc");
static_assert(offsetof(struct wcl_event, stream) == 8, "stream");
static_assert(offsetof(struct wcl_event, oid) == 16, "oid");
static_assert(offsetof(struct wcl_event, blk) == 24, "blk");
static_assert(offsetof(struct wcl_event, rev) == 32, "rev");
static_assert(offsetof(struct wcl_event, nanos) == 40, "nanos");
static_assert(offsetof(struct wcl_event, is_head) == 48, "is_head");
static_assert(offsetof(struct wcl_event, text_len) == 52, "text_len");
static_assert(offsetof(struct wcl_event, text) == 56, "text");
static_assert(sizeof(struct wcl_event) == 312, "size");
static_assert(WCL_EV_REPLY == 1 && WCL_EV_PIN == 2 && WCL_EV_DOWN == 3 && WCL_EV_LAST_WORDS == 4, "event kinds");

int main(void)
{
    printf("client_layout: struct wcl_event is %zu bytes\n", sizeof(struct wcl_event));
    return 0;
}
