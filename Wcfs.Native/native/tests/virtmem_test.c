/* virtmem_test.c - CTest driver for the native virtmem layer (real faults, real mmap, tmpfs files).
 *
 * Cases: classic zero/pread loading and dirtying; overlay copy-on-first-write over a plain-file
 * base; the pin leaves dirty pages and applies after discard; writeout STORE order and MARKSTORED;
 * a write between STORE and MARKSTORED is reported; threads writing while a pinner remaps the same
 * block never lose a write and never install a stale copy; a fault outside our VMAs still reaches
 * the previous handler (a child dies of SIGSEGV); out of RAM ends a child with the message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_check.h"
#include "wcfs_virtmem.h"

#define PS 4096u

static int tmpfile_with(uint64_t size, uint8_t fill)
{
    char path[] = "/dev/shm/wcfs-vmtest-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    uint8_t *buf = malloc(size);
    memset(buf, fill, size);
    CHECK(pwrite(fd, buf, size, 0) == (ssize_t)size);
    free(buf);
    return fd;
}

static void test_classic(void)
{
    vm_ram_t *ram;
    vm_file_t *f;
    vm_fileh_t *fh;
    vm_vma_t *v1, *v2;
    uint8_t *a, *b;
    int fd = tmpfile_with(8 * PS, 'x');
    OK(vm_ram_create(PS, 64, &ram));
    OK(vm_file_create_pread(2 * PS, fd, &f));
    OK(vm_fileh_open(f, ram, &fh));
    OK(vm_mmap(fh, 0, 8, &v1, (void **)&a));
    OK(vm_mmap(fh, 2, 4, &v2, (void **)&b));
    CHECK(a[0] == 'x' && a[5 * PS] == 'x');       /* read faults load via pread */
    CHECK(vm_fileh_dirty_count(fh) == 0);
    b[PS + 7] = 'w';                                 /* page 3 through the second VMA */
    CHECK(a[3 * PS + 7] == 'w');                     /* seen through the first */
    CHECK(vm_fileh_is_page_dirty(fh, 3) == 1 && vm_fileh_is_page_dirty(fh, 0) == 0);
    a[6 * PS] = 'z';
    uint64_t pgs[8];
    void *rp[8];
    CHECK(vm_writeout_store(fh, pgs, rp, 8) == 2);
    CHECK(pgs[0] == 3 && pgs[1] == 6 && ((uint8_t *)rp[0])[7] == 'w');
    OK(vm_writeout_markstored(fh));
    CHECK(vm_fileh_dirty_count(fh) == 0 && a[3 * PS + 7] == 'w'); /* stored pages stay loaded */
    a[PS] = 'q';
    OK(vm_unmap(v2));
    OK(vm_discard(fh));
    CHECK(a[PS] == 'x');
    OK(vm_unmap(v1));
    CHECK(vm_fileh_close(fh) == 0);
    OK(vm_file_destroy(f));
    OK(vm_ram_destroy(ram));
    close(fd);
}

/* A pinner's own remap (vm_remap_fn): maps the range of block blk from the fd in ctx. */
static int32_t remap_from_fd(void *ctx, vm_vma_t *vma, uint64_t blk, uint64_t off, uint64_t len)
{
    void *a = mmap((uint8_t *)vm_vma_blk_addr(vma, blk) + off, len, PROT_READ, MAP_SHARED | MAP_FIXED, *(int *)ctx,
                   (off_t)(blk * PS + off));
    return a == MAP_FAILED ? -errno : 0;
}

static void test_overlay_and_pin(void)
{
    vm_ram_t *ram;
    vm_file_t *f;
    vm_fileh_t *fh;
    vm_vma_t *v;
    uint8_t *a;
    uint64_t used, bytes;
    int head = tmpfile_with(4 * PS, 'h'), rev = tmpfile_with(4 * PS, 'r');
    OK(vm_ram_create(PS, 16, &ram));
    OK(vm_file_create_filebase(PS, head, &f));
    OK(vm_fileh_open(f, ram, &fh));
    OK(vm_mmap(fh, 0, 4, &v, (void **)&a));
    CHECK(a[0] == 'h' && a[3 * PS] == 'h');
    OK(vm_ram_stats(ram, &used, &bytes));
    CHECK(used == 0 && bytes == 0);                  /* reads use no RAM */
    a[PS] = 'd';
    CHECK(a[PS + 1] == 'h' && a[PS] == 'd');          /* first write copied the base */
    OK(vm_ram_stats(ram, &used, &bytes));
    CHECK(used == 1 && bytes == PS);
    OK(vm_filebase_set_block_fd(f, 1, rev));
    OK(vm_filebase_set_block_fd(f, 2, rev));
    uint8_t stayed[1];
    CHECK(vm_pin(fh, 1, NULL, NULL, stayed) == 1 && stayed[0] == 1); /* dirty page stays */
    CHECK(vm_pin(fh, 2, NULL, NULL, stayed) == 0 && stayed[0] == 0);
    CHECK(a[PS] == 'd' && a[2 * PS] == 'r');
    OK(vm_discard(fh));
    CHECK(a[PS] == 'r' && a[PS + 1] == 'r');          /* the pin applies once the page is gone */
    OK(vm_ram_stats(ram, &used, &bytes));
    CHECK(used == 0 && bytes == 0);
    a[3 * PS] = 's';
    uint64_t pg;
    void *rp;
    CHECK(vm_writeout_store(fh, &pg, &rp, 1) == 1 && pg == 3);
    CHECK(vm_writeout_markstored(fh) == 0 && a[3 * PS] == 'h' && vm_fileh_dirty_count(fh) == 0);
    uint32_t st0, gen0, gen1;
    OK(vm_fileh_page_info(fh, 0, &st0, &gen0));
    CHECK(vm_pin(fh, 0, remap_from_fd, &rev, stayed) == 0 && a[0] == 'r'); /* the caller's remap */
    OK(vm_fileh_page_info(fh, 0, &st0, &gen1));
    CHECK(st0 == VM_PAGE_BASE && gen1 == gen0 + 1);                        /* generation bumped */
    a[0] = '1';
    CHECK(a[1] == 'r');                                                    /* copy of the pinned base */
    CHECK(vm_writeout_store(fh, &pg, &rp, 1) == 1);
    a[0] = '2';                                      /* a write between STORE and MARKSTORED */
    CHECK(vm_writeout_markstored(fh) == VM_ESTORE_RACE && a[0] == '2' && vm_fileh_dirty_count(fh) == 1);
    OK(vm_discard(fh));
    OK(vm_unmap(v));
    OK(vm_fileh_close(fh));
    OK(vm_file_destroy(f));
    OK(vm_ram_destroy(ram));
    close(head);
    close(rev);
}

struct race {
    uint8_t *a;
    vm_fileh_t *fh;
    vm_file_t *f;
    int fds[2];
    volatile int stop;
    uint64_t pins; /* written by the pinner, read after the join */
};

static uint64_t faults_served(void)
{
    uint64_t msgs, served, retries;
    OK(vm_stats(&msgs, &served, &retries));
    return served;
}

/* Pins again only after a write fault was served since its last pin (as the C# stress test does):
 * pins race the faults but cannot starve them. A copy whose generation changed is redone, so an
 * unbounded pin rate could redo it forever on a loaded machine; a real pinner's rate is bounded by
 * commits (README "Known limitations"). */
static void *pinner(void *arg)
{
    struct race *r = arg;
    uint64_t last = faults_served();
    for (int i = 0; !r->stop;) {
        uint64_t served = faults_served();
        if (served == last) {
            sched_yield();
            continue;
        }
        last = served;
        OK(vm_filebase_set_block_fd(r->f, 0, r->fds[i & 1]));
        CHECK(vm_pin(r->fh, 0, NULL, NULL, NULL) >= 0);
        r->pins++;
        i++;
    }
    return NULL;
}

/* A pin racing write faults: every write survives, and the untouched bytes of a dirty page come
 * from one base (never a torn or stale copy). */
static void test_pin_races_write_faults(void)
{
    vm_ram_t *ram;
    struct race r = { 0 };
    vm_vma_t *v;
    r.fds[0] = tmpfile_with(PS, 'A');
    r.fds[1] = tmpfile_with(PS, 'B');
    OK(vm_ram_create(PS, 4, &ram));
    OK(vm_file_create_filebase(PS, r.fds[0], &r.f));
    OK(vm_fileh_open(r.f, ram, &r.fh));
    OK(vm_mmap(r.fh, 0, 1, &v, (void **)&r.a));
    uint64_t served0 = faults_served();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, pinner, &r) == 0);
    for (int i = 0; i < 3000; i++) {
        r.a[i % 100] = 'w';
        CHECK(r.a[i % 100] == 'w');
        uint8_t base = r.a[200];
        CHECK(base == 'A' || base == 'B');
        for (unsigned k = 100; k < PS; k++)
            CHECK(r.a[k] == base);
        OK(vm_discard(r.fh));
    }
    r.stop = 1;
    CHECK(pthread_join(t, NULL) == 0);
    uint64_t msgs, served, retries;
    OK(vm_stats(&msgs, &served, &retries));
    printf("pin race: %llu pins, %llu faults served, %llu retries\n", (unsigned long long)r.pins,
           (unsigned long long)(served - served0), (unsigned long long)retries);
    CHECK(served - served0 >= 3000); /* every round's first write took a fault: the writes raced something */
    CHECK(r.pins > 0);               /* the pinner ran during the faults: there was a race */
    OK(vm_unmap(v));
    OK(vm_fileh_close(r.fh));
    OK(vm_file_destroy(r.f));
    OK(vm_ram_destroy(ram));
}

static char g_child_err[512];
static const char *g_child_case = ""; /* the body child_status runs, for its timeout message */

#define CHILD_TIMEOUT_MS 30000 /* a child case takes well under a second; a hung one fails the test */

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void child_timed_out(pid_t pid, const char *what)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0); /* SIGKILL: returns */
    fprintf(stderr, "%s:%d: child case %s did not %s within %d ms (killed)\n", __FILE__, __LINE__, g_child_case,
            what, CHILD_TIMEOUT_MS);
    exit(1);
}

/* Runs body in a child; returns its wait status, its stderr in g_child_err (the first 511 bytes).
 * Bounded: a child that does not close its stderr and exit within CHILD_TIMEOUT_MS is killed and
 * the test fails naming it. */
#define child_status(body) (g_child_case = #body, run_child(body))

static int run_child(void (*body)(void))
{
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rlimit no = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no);
        dup2(pfd[1], 2);
        body();
        _exit(0);
    }
    close(pfd[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t n, got = 0;
    for (;;) {
        long left = CHILD_TIMEOUT_MS - ms_since(&t0);
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        CHECK(ready >= 0);
        if (ready == 0)
            child_timed_out(pid, "close its stderr");
        char scratch[256]; /* beyond the first 511 bytes: read and dropped, so the child never blocks */
        size_t room = sizeof g_child_err - 1 - (size_t)got;
        n = room ? read(pfd[0], g_child_err + got, room) : read(pfd[0], scratch, sizeof scratch);
        if (n <= 0)
            break;
        if (room)
            got += n;
    }
    g_child_err[got] = 0;
    close(pfd[0]);
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0) {
        if (ms_since(&t0) > CHILD_TIMEOUT_MS)
            child_timed_out(pid, "exit");
        usleep(1000); /* why: waitpid has no timeout; its stderr is closed, so the exit is imminent */
    }
    CHECK(r == pid);
    return st;
}

static void outside_fault(void)
{
    OK(vm_init());
    volatile uint8_t *p = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
}

static void out_of_ram(void)
{
    vm_ram_t *ram;
    vm_file_t *f;
    vm_fileh_t *fh;
    vm_vma_t *v;
    uint8_t *a;
    OK(vm_ram_create(PS, 2, &ram));
    OK(vm_file_create_zero(PS, &f));
    OK(vm_fileh_open(f, ram, &fh));
    OK(vm_mmap(fh, 0, 4, &v, (void **)&a));
    for (int i = 0; i < 4; i++)
        a[i * PS] = 1;
}

static void unmapped_write(void)
{
    vm_ram_t *ram;
    vm_file_t *f;
    vm_fileh_t *fh;
    vm_vma_t *v;
    uint8_t *a;
    OK(vm_ram_create(PS, 2, &ram));
    OK(vm_file_create_zero(PS, &f));
    OK(vm_fileh_open(f, ram, &fh));
    OK(vm_mmap(fh, 0, 4, &v, (void **)&a));
    OK(vm_unmap(v));
    a[0] = 1;
}

static long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Dirty every other page until vm.max_map_count is nearly reached; then a mmap that needs more maps
 * fails with -ENOMEM leaving nothing behind, and the next write faults end the process with the
 * vm.max_map_count message. */
static void map_count_exhausted(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long limit = 0;
    CHECK(f && fscanf(f, "%ld", &limit) == 1);
    fclose(f);
    uint64_t npages = (uint64_t)limit + 1000;
    vm_ram_t *ram;
    vm_file_t *file;
    vm_fileh_t *fh;
    vm_vma_t *v1, *v2;
    uint8_t *a, *b;
    OK(vm_ram_create(PS, npages, &ram));
    OK(vm_file_create_zero(PS, &file));
    OK(vm_fileh_open(file, ram, &fh));
    OK(vm_mmap(fh, 0, 2 * npages, &v1, (void **)&a));
    uint64_t pg = 0;
    long n;
    while ((n = count_maps()) < limit - 2000) /* each isolated dirty page costs 2 more maps */
        for (long k = 0; k < (limit - 2000 - n) / 2 + 1; k++, pg += 2)
            a[pg * PS] = 1;
    long before = count_maps();
    CHECK(vm_mmap(fh, 0, 2 * npages, &v2, (void **)&b) == -ENOMEM);
    CHECK(count_maps() == before);
    fprintf(stderr, "mmap over the limit: -ENOMEM, nothing half-mapped\n");
    for (;; pg += 2)
        a[pg * PS] = 1;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    /* children first: a fork after vm_init would have no mmap actor thread */
    int st = child_status(outside_fault);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    st = child_status(out_of_ram);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(g_child_err, "wcfs: virtmem: out of RAM for dirty pages"));
    st = child_status(unmapped_write);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(g_child_err, "access to an unmapped VMA at 0x"));
    st = child_status(map_count_exhausted);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(g_child_err, "nothing half-mapped") &&
          strstr(g_child_err, "vm.max_map_count reached at 0x"))) {
        fprintf(stderr, "map_count_exhausted child: status %d, stderr:\n%s\n", st, g_child_err);
        exit(1);
    }
    test_classic();
    test_overlay_and_pin();
    test_pin_races_write_faults();
    printf("virtmem_test: ok\n");
    return 0;
}
