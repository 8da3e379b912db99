/* virtmem_huge_test.c - CTest driver for hugetlb RAM next to a base layer that places a VMA off a
 * 2 MiB boundary (ram.c R4, vm_vma.c no_huge), the path no C# base layer reaches (they all align).
 *
 * A hugetlb page can be mapped only at a 2 MiB boundary. When a base layer's mmap_setup_read puts a
 * VMA elsewhere, its handle must take ordinary slots from then on, and refuse that VMA while it
 * holds huge slots (they could not appear in it). Checked with real faults:
 *   - an aligned VMA's first write takes a huge slot; an off-boundary VMA is then refused (-EINVAL),
 *     and the refusal changes nothing (the next write still takes a huge slot);
 *   - after the huge slot is gone (discard) the off-boundary VMA maps; writes through either VMA now
 *     take ordinary slots, show in both VMAs and copy the base's bytes; writeout gives them back.
 * The machine's huge page pool (vm.nr_hugepages) is raised for the run, as root, and put back by the
 * parent whatever the child did (the checks run in a child, so a crash cannot leave it raised).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_check.h"
#include "wcfs_virtmem.h"

#define MIB2 (2ull << 20)
#define NBLK 4
#define POOL "/proc/sys/vm/nr_hugepages"

/* The base: blocks of a tmpfs file, read-only. Every VMA after the first is placed one 4 KiB page
 * past a 2 MiB boundary. */
struct base {
    int fd;
    int setups;
};

static int32_t base_setup(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t blklen, void **addr_out)
{
    (void)vma;
    struct base *b = ctx;
    uint64_t len = blklen * MIB2;
    uint8_t *r = mmap(NULL, len + 2 * MIB2, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -errno;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)r + MIB2 - 1) & ~(uintptr_t)(MIB2 - 1));
    uint8_t *a = b->setups++ == 0 ? aligned : aligned + 4096;
    if (a > r)
        munmap(r, (size_t)(a - r));
    munmap(a + len, (size_t)(r + len + 2 * MIB2 - (a + len)));
    if (mmap(a, len, PROT_READ, MAP_SHARED | MAP_FIXED, b->fd, (off_t)(blk * MIB2)) == MAP_FAILED) {
        int e = -errno;
        munmap(a, len);
        return e;
    }
    *addr_out = a;
    return 0;
}

static int32_t base_remap(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len)
{
    struct base *b = ctx;
    void *a = mmap((uint8_t *)vm_vma_blk_addr(vma, blk) + off, len, PROT_READ, MAP_SHARED | MAP_FIXED, b->fd,
                   (off_t)(blk * MIB2 + off));
    return a == MAP_FAILED ? -errno : 0;
}

static void base_munmap(void *ctx, vm_vma_t *vma)
{
    (void)ctx;
    munmap(vm_vma_blk_addr(vma, 0), vm_vma_len(vma)); /* the VMAs here all start at block 0 */
}

static const struct vm_base_ops base_ops = { base_setup, base_remap, base_munmap };

static void huge(vm_ram_t *ram, int32_t want_enabled, uint64_t want_pages)
{
    int32_t enabled;
    uint64_t pages;
    OK(vm_ram_huge_stats(ram, &enabled, &pages));
    if (enabled != want_enabled || pages != want_pages) {
        fprintf(stderr, "huge stats: enabled %d pages %llu, expected %d %llu\n", enabled,
                (unsigned long long)pages, want_enabled, (unsigned long long)want_pages);
        exit(1);
    }
}

static long maps_at(const void *addr)
{
    char want[32], line[512];
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)addr);
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    long n = 0;
    while (fgets(line, sizeof line, f))
        n += strncmp(line, want, strlen(want)) == 0;
    fclose(f);
    return n;
}

static void run(void)
{
    char path[] = "/dev/shm/wcfs-vmhuge-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK(ftruncate(fd, NBLK * MIB2) == 0);
    uint8_t *init = mmap(NULL, NBLK * MIB2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(init != MAP_FAILED);
    for (uint64_t i = 0; i < NBLK * MIB2; i++)
        init[i] = (uint8_t)('a' + i / MIB2); /* block k reads 'a'+k */
    munmap(init, NBLK * MIB2);

    struct base b = { fd, 0 };
    vm_ram_t *ram;
    vm_file_t *f;
    vm_fileh_t *fh;
    vm_vma_t *v1, *v2;
    uint8_t *a1, *a2;
    uint64_t used, bytes;
    OK(vm_ram_create_flags(MIB2, 8, VM_RAM_HUGE_TRY, &ram));
    huge(ram, 1, 0);
    OK(vm_file_create_overlay(MIB2, &base_ops, &b, &f));
    OK(vm_fileh_open(f, ram, &fh));

    OK(vm_mmap(fh, 0, NBLK, &v1, (void **)&a1));
    CHECK((uintptr_t)a1 % MIB2 == 0);
    a1[5] = 'X';
    huge(ram, 1, 1); /* an aligned VMA's first write: a huge slot */
    CHECK(a1[5] == 'X' && a1[6] == 'a' && a1[MIB2] == 'b');

    /* an off-boundary VMA while a huge slot is held: refused, nothing left mapped */
    void *refused = NULL;
    CHECK(vm_mmap(fh, 0, NBLK, &v2, &refused) == -EINVAL);
    fprintf(stderr, "off-boundary VMA while a huge slot is held: -EINVAL\n");
    a1[2 * MIB2] = 'Q';
    huge(ram, 1, 2); /* the refused VMA changed nothing: the next write still takes a huge slot */

    OK(vm_discard(fh));
    huge(ram, 1, 0);
    CHECK(a1[5] == 'a' && a1[2 * MIB2] == 'c');
    OK(vm_mmap(fh, 0, NBLK, &v2, (void **)&a2));
    CHECK((uintptr_t)a2 % MIB2 == 4096 && maps_at(a2) == 1);

    /* from now on ordinary slots, in both VMAs */
    a1[MIB2 + 7] = 'Y';                          /* through the aligned VMA */
    a2[3 * MIB2 + 9] = 'Z';                      /* through the off-boundary one */
    huge(ram, 1, 0);
    OK(vm_ram_stats(ram, &used, &bytes));
    CHECK(used == 2);
    CHECK(a2[MIB2 + 7] == 'Y' && a1[3 * MIB2 + 9] == 'Z');          /* the same page in both */
    CHECK(a2[MIB2 + 8] == 'b' && a1[3 * MIB2 + 8] == 'd');          /* the rest copied from the base */
    CHECK(a1[0] == 'a' && a2[2 * MIB2] == 'c');                     /* untouched blocks: the base */

    uint64_t pgs[4];
    void *rp[4];
    CHECK(vm_writeout_store(fh, pgs, rp, 4) == 2 && pgs[0] == 1 && pgs[1] == 3);
    CHECK(((uint8_t *)rp[0])[7] == 'Y' && ((uint8_t *)rp[1])[9] == 'Z');
    OK(vm_writeout_markstored(fh));
    OK(vm_ram_stats(ram, &used, &bytes));
    CHECK(used == 0 && bytes == 0);
    CHECK(a1[MIB2 + 7] == 'b' && a2[3 * MIB2 + 9] == 'd'); /* the base again (the store was a no-op) */

    OK(vm_unmap(v2));
    OK(vm_unmap(v1));
    OK(vm_fileh_close(fh));
    OK(vm_file_destroy(f));
    OK(vm_ram_destroy(ram));
    close(fd);
}

static long read_pool(void)
{
    FILE *f = fopen(POOL, "r");
    long n = -1;
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        fclose(f);
    }
    return n;
}

static int write_pool(long n)
{
    FILE *f = fopen(POOL, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%ld\n", n) > 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    long before = read_pool();
    CHECK(before >= 0);
    /* +8: the pages this test uses, on top of whatever the machine's pool is (as HugePagesTests) */
    if (write_pool(before + 8) < 0) {
        fprintf(stderr, "virtmem_huge_test: cannot raise %s (%s): this test changes the huge page pool and needs root\n",
                POOL, strerror(errno));
        return 1;
    }
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        run();
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (write_pool(before) < 0)
        fprintf(stderr, "virtmem_huge_test: could not put %s back to %ld\n", POOL, before);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "virtmem_huge_test: the checks failed (status %d)\n", st);
        return 1;
    }
    printf("virtmem_huge_test: ok\n");
    return 0;
}
