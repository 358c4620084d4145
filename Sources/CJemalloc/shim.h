#ifndef LUNAR_CJEMALLOC_SHIM_H
#define LUNAR_CJEMALLOC_SHIM_H
// jemalloc replaces the C library's malloc for the whole process (as in Redis): less fragmentation
// for millions of small keys, faster small allocations, and exact allocation statistics for INFO.
#include <jemalloc/jemalloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>

/// Bytes currently allocated by the process (jemalloc's stats.allocated), after refreshing the stats epoch.
static inline size_t cjemalloc_allocated(void) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0) return 0;
    return allocated;
}

/// The calling thread's running totals of bytes allocated and freed (jemalloc's thread.allocatedp
/// and thread.deallocatedp): plain counters the thread updates on every malloc and free, which
/// another thread may read at any time for an up-to-date estimate without refreshing the stats.
static inline bool cjemalloc_thread_counters(uint64_t **allocated, uint64_t **deallocated) {
    size_t sz = sizeof(uint64_t *);
    if (mallctl("thread.allocatedp", allocated, &sz, NULL, 0) != 0) return false;
    sz = sizeof(uint64_t *);
    return mallctl("thread.deallocatedp", deallocated, &sz, NULL, 0) == 0;
}
/// A relaxed atomic read of a counter another thread writes.
static inline uint64_t cjemalloc_read_counter(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/// Bytes in pages jemalloc holds active (stats.resident), a proxy for RSS attributable to the heap.
static inline size_t cjemalloc_resident(void) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t v = 0;
    sz = sizeof(v);
    if (mallctl("stats.resident", &v, &sz, NULL, 0) != 0) return 0;
    return v;
}
/// Returns freed pages to the system after 1 s instead of jemalloc's default 10 s, so RSS follows
/// the data set closely after bulk deletes or the growth of large tables.
static inline void cjemalloc_tune(void) {
    ssize_t dirty = 1000;
    // Pages past their dirty decay go straight back to the kernel (MADV_DONTNEED): with a muzzy
    // stage (MADV_FREE) they would still count in RSS until memory pressure or that stage's end.
    ssize_t muzzy = 0;
    // The defaults of arenas created from now on...
    mallctl("arenas.dirty_decay_ms", NULL, NULL, &dirty, sizeof(dirty));
    mallctl("arenas.muzzy_decay_ms", NULL, NULL, &muzzy, sizeof(muzzy));
    // ...and each arena that exists already (arena.<i> takes one arena at a time: the "all arenas"
    // index is refused for these settings). Arenas not created yet answer an error, ignored.
    unsigned narenas = 0;
    size_t sz = sizeof(narenas);
    if (mallctl("arenas.narenas", &narenas, &sz, NULL, 0) == 0) {
        for (unsigned i = 0; i < narenas; i++) {
            char name[64];
            snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
            mallctl(name, NULL, NULL, &dirty, sizeof(dirty));
            snprintf(name, sizeof(name), "arena.%u.muzzy_decay_ms", i);
            mallctl(name, NULL, NULL, &muzzy, sizeof(muzzy));
        }
    }
    // Without a background thread jemalloc purges only while allocating, so an idle server would
    // keep freed pages resident indefinitely.
    bool on = true;
    mallctl("background_thread", NULL, NULL, &on, sizeof(on));
}
/// The CPU's time-stamp counter (x86-64), or 0 where there is none. Read in user space without a
/// system call; see Clock.swift for when Lunar trusts it.
static inline uint64_t lunar_cpu_ticks(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}
/// Asks the CPU to start loading the cache line at `p` (a hint: never faults, whatever `p` is).
static inline void lunar_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
