/* abi.c - version handshake between the native library and its C# surface. */
#include "wcfs_native.h"

int32_t wcfs_abi_version(void) { return WCFS_ABI_VERSION; }
