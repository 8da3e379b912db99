/* wcfs_virtmem.h - virtmem: the native data plane of BigFileH/VMA (VIRTMEM.md).
 *
 * Objects (all opaque, owned by the caller that created them, freed by the matching destroy call):
 *   vm_ram_t    dirty/loaded RAM pages: one memfd with a fixed page size and a page budget.
 *   vm_file_t   a BigFile backend: classic (native loader: zero-fill or pread) or overlay (base
 *               layer ops, see struct vm_base_ops).
 *   vm_fileh_t  a file handle: the page table (per page: state + generation) and its VMAs.
 *   vm_vma_t    one mapping of pages [pgoffset, pgoffset+pglen) of a handle.
 *
 * Calling context: every vm_* function below may be called from any thread except the mmap actor
 * thread itself (base ops and remap callbacks run ON that thread and must not call back in). They
 * are synchronous: they post a message to the mmap actor and wait for its reply (a futex wait; the
 * actor never waits on the caller, on managed code or on a faulting thread). Return value: 0 (or a
 * count where documented) or a negative errno-style code.
 *
 * Units: page numbers (pg) count pages of the RAM's page size from the start of the file; block
 * numbers (blk) count blocks of the file's blksize; offsets and lengths are in bytes.
 */
#ifndef WCFS_VIRTMEM_H
#define WCFS_VIRTMEM_H

#include <stdint.h>
#include "wcfs_native.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vm_ram vm_ram_t;
typedef struct vm_file vm_file_t;
typedef struct vm_fileh vm_fileh_t;
typedef struct vm_vma vm_vma_t;

/* Error codes beyond errno (negative). */
#define VM_ESTORE_RACE (-10001) /* a page was written between STORE and MARKSTORED (usage error) */
#define VM_EPHASE      (-10002) /* operation not allowed in the handle's writeout phase */

/* Modes of a vm_file_t. */
#define VM_MODE_CLASSIC 1
#define VM_MODE_OVERLAY 2

/* Page states (the page table of a handle, see mmap_actor.c for the transition table). */
#define VM_PAGE_EMPTY  0 /* classic: nothing loaded, PROT_NONE in every VMA */
#define VM_PAGE_LOADED 1 /* classic: RAM page, read-only in every VMA */
#define VM_PAGE_DIRTY  2 /* RAM page, read-write in every VMA (read-only while STORE..MARKSTORED) */
#define VM_PAGE_BASE   3 /* overlay: served by the base layer, no RAM */

/* Base layer of overlay mode. Called ON the mmap actor thread only; may block on syscalls, never
 * on managed code; must not call vm_* functions. 0 or -errno. */
struct vm_base_ops {
    /* Create the read-only base mapping of blocks [blk, blk+blklen) at a new address; store it in
     * *addr_out. The range is blklen*blksize bytes. */
    int32_t (*mmap_setup_read)(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t blklen, void **addr_out);
    /* Put the base back for bytes [off, off+len) of block blk inside vma (MAP_FIXED over what is
     * there). Called when a dirty page goes away (MARKSTORED, discard) and for a pin. */
    int32_t (*remmap_blk_read)(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len);
    /* Tear down the whole address range of vma. */
    void (*munmap)(void *ctx, vm_vma_t *vma);
};

/* A pin's remap: same contract as remmap_blk_read (mmap actor thread, bytes [off, off+len) of blk). */
typedef int32_t (*vm_remap_fn)(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len);

/* Installs the SIGSEGV handler (once, chained in front of the current one) and starts the mmap
 * actor thread. Idempotent; any thread. */
WCFS_API int32_t vm_init(void);

/* RAM: pagesize must be a multiple of the OS page size; max_pages is the budget (address space of
 * the RAM window is reserved for it; memory is taken per page when the page is allocated). */
WCFS_API int32_t vm_ram_create(uint64_t pagesize, uint64_t max_pages, vm_ram_t **out);
/* vm_ram_create with flags. VM_RAM_HUGE_TRY: when pagesize is a multiple of 2 MiB and the kernel
 * offers 2 MiB huge pages (free ones, or vm.nr_overcommit_hugepages), pages take a hugetlb page
 * while there is one, else ordinary memory (ram.c R4). */
#define VM_RAM_HUGE_TRY 1u
WCFS_API int32_t vm_ram_create_flags(uint64_t pagesize, uint64_t max_pages, uint32_t flags, vm_ram_t **out);
/* enabled: the RAM has a hugetlb pool; huge_pages: pages allocated from it now. */
WCFS_API int32_t vm_ram_huge_stats(vm_ram_t *ram, int32_t *enabled, uint64_t *huge_pages);
/* -EBUSY while a handle uses it. */
WCFS_API int32_t vm_ram_destroy(vm_ram_t *ram);
/* used_pages: pages allocated; allocated_bytes: memory the memfd really holds (st_blocks*512). */
WCFS_API int32_t vm_ram_stats(vm_ram_t *ram, uint64_t *used_pages, uint64_t *allocated_bytes);

/* Classic backends: zero-fill, or pread from fd (the fd stays owned by the caller). */
WCFS_API int32_t vm_file_create_zero(uint64_t blksize, vm_file_t **out);
WCFS_API int32_t vm_file_create_pread(uint64_t blksize, int32_t fd, vm_file_t **out);
/* Overlay backend with caller-provided base ops (ops and ctx must outlive the file). */
WCFS_API int32_t vm_file_create_overlay(uint64_t blksize, const struct vm_base_ops *ops, void *ctx, vm_file_t **out);
/* Overlay over a plain file: fd mapped read-only MAP_SHARED (fd stays owned by the caller). */
WCFS_API int32_t vm_file_create_filebase(uint64_t blksize, int32_t fd, vm_file_t **out);
/* Plain-file base only: from now on block blk of the base comes from fd (-1: back to the default
 * fd). Takes effect at the next remap of blk (vm_pin, MARKSTORED, discard, a new mmap). */
WCFS_API int32_t vm_filebase_set_block_fd(vm_file_t *file, uint64_t blk, int32_t fd);
/* -EBUSY while a handle uses it. */
WCFS_API int32_t vm_file_destroy(vm_file_t *file);

/* Handles. The page size is the RAM's; it must divide the file's blksize. */
WCFS_API int32_t vm_fileh_open(vm_file_t *file, vm_ram_t *ram, vm_fileh_t **out);
/* Drops every page (dirty ones too) and frees the page table. -EBUSY while VMAs are mapped. */
WCFS_API int32_t vm_fileh_close(vm_fileh_t *fh);
/* Number of dirty pages. */
WCFS_API int64_t vm_fileh_dirty_count(vm_fileh_t *fh);
/* 1 if page pg is dirty, 0 if not. */
WCFS_API int32_t vm_fileh_is_page_dirty(vm_fileh_t *fh, uint64_t pg);
/* Current state (VM_PAGE_*) and generation of page pg; -ENOENT if no VMA ever covered it. */
WCFS_API int32_t vm_fileh_page_info(vm_fileh_t *fh, uint64_t pg, uint32_t *state, uint32_t *gen);

/* Maps pages [pgoffset, pgoffset+pglen). Overlay mode: both must be multiples of the pages per
 * block. Existing loaded/dirty pages of the handle appear at once. Nothing half-mapped on error:
 * -ENOMEM for address space or vm.max_map_count, -EINVAL for bad ranges. */
WCFS_API int32_t vm_mmap(vm_fileh_t *fh, uint64_t pgoffset, uint64_t pglen, vm_vma_t **out, void **addr_out);
/* Unmaps and frees vma (dirty pages stay in the handle). A later access to the range ends the
 * process with a message. Each vma is unmapped exactly once (the C# SafeHandle guarantees it). */
WCFS_API int32_t vm_unmap(vm_vma_t *vma);
/* Makes every access to vma end the process with a clear message (the mapping was closed). */
WCFS_API int32_t vm_vma_efault(vm_vma_t *vma);
/* For base-layer implementations (any thread): the address of byte 0 of block blk in vma, its
 * length in bytes. */
WCFS_API void *vm_vma_blk_addr(vm_vma_t *vma, uint64_t blk);
WCFS_API uint64_t vm_vma_len(vm_vma_t *vma);

/* Writeout, two phases (VIRTMEM.md §3). STORE: every dirty page is made read-only (a write from
 * now until MARKSTORED/cancel is recorded as a usage error) and the dirty pages are listed in
 * ascending order: pgs[i] the page number, ram[i] the address of its RAM copy (valid until
 * MARKSTORED, cancel or discard). Returns the number of dirty pages; if it exceeds cap nothing is
 * written to the arrays (call again with a larger cap; the call is idempotent). */
WCFS_API int64_t vm_writeout_store(vm_fileh_t *fh, uint64_t *pgs, void **ram, uint64_t cap);
/* MARKSTORED: dirty pages become clean (classic: loaded read-only; overlay: base re-mapped, RAM
 * freed). VM_ESTORE_RACE if a page was written since STORE: nothing is marked, pages stay dirty. */
WCFS_API int32_t vm_writeout_markstored(vm_fileh_t *fh);
/* Leaves the STORE phase without marking anything (a failed storeblk). */
WCFS_API int32_t vm_writeout_cancel(vm_fileh_t *fh);
/* Drops every dirty page (classic: back to empty; overlay: base re-mapped). RAM freed. */
WCFS_API int32_t vm_discard(vm_fileh_t *fh);

/* "Check dirty, then remap" (the pin, VIRTMEM.md §4.2), atomically on the mmap actor: for each page
 * of block blk in each VMA of fh: dirty pages stay, the others are remapped by remap(ctx, ...) (or,
 * if remap is NULL, by the file's remmap_blk_read) and their generation is bumped. stayed (may be
 * NULL, else blksize/pagesize bytes) gets 1 for each page that stayed dirty. Returns the number of
 * pages that stayed. Overlay mode only. Any native thread (the pinner); never waits on managed code. */
WCFS_API int32_t vm_pin(vm_fileh_t *fh, uint64_t blk, vm_remap_fn remap, void *ctx, uint8_t *stayed);

/* Test/diagnostics: number of mmap actor messages processed and of write faults served. */
WCFS_API int32_t vm_stats(uint64_t *messages, uint64_t *faults_served, uint64_t *fault_retries);
/* Metrics: page faults served by the fault handler since the process started, by access. A read
 * fault is a classic-mode loadblk (overlay reads come from the base mapping: the kernel serves
 * them, not this handler); a write fault made a page dirty. Two atomic loads: any thread, never
 * blocks, never waits on the mmap actor. */
WCFS_API int32_t vm_fault_stats(uint64_t *read_faults, uint64_t *write_faults);

/* Overlay write faults served without copying the base, because the base layer had noted that
 * page's base as the zero mapping (a WCFS Mapping past the file's size). One atomic load. */
WCFS_API int32_t vm_zero_base_faults(uint64_t *faults);

/* Asks for short time slices for the calling thread (sched_setattr(2): SCHED_OTHER at its nice,
 * a 100 µs slice; Linux >= 6.12 EEVDF: a thread that wakes with a short slice gets an early
 * deadline and preempts a busy thread sooner; no privilege needed, older kernels ignore it). The
 * threads on the pin path call it at start (mmap actor, pinner, the server's link threads): under
 * CPU-bound readers their wake-ups otherwise wait for a reader's whole slice. 0, or -errno. */
WCFS_API int32_t vm_request_short_slice(void);

#ifdef __cplusplus
}
#endif
#endif
