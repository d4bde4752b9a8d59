/* LD_PRELOAD helper for test_cache.HitPathAllocations: counts malloc/calloc/realloc calls and
 * prints the count to stderr ("MALLOCS N") on SIGUSR2 (frontcache itself uses SIGUSR1), so a
 * test can assert that serving cache hits allocates nothing. Test-only; never linked into
 * frontcache. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

static unsigned long count;
static void *(*real_malloc)(size_t);
static void *(*real_realloc)(void *, size_t);

void *malloc(size_t n) {
    if (!real_malloc)
        real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_malloc(n);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc)
        real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return real_realloc(p, n);
}

static void report(int sig) {
    (void)sig;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "MALLOCS %lu\n", __atomic_load_n(&count, __ATOMIC_RELAXED));
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
}

__attribute__((constructor)) static void init(void) { signal(SIGUSR2, report); }
