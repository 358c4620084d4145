#ifndef LUNAR_CJEMALLOC_SHIM_H
#define LUNAR_CJEMALLOC_SHIM_H
// jemalloc replaces the C library's malloc for the whole process (as in Redis): less fragmentation
// for millions of small keys, faster small allocations, and exact allocation statistics for INFO.
#include <jemalloc/jemalloc.h>
#include <stddef.h>
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
    ssize_t ms = 1000;
    mallctl("arenas.dirty_decay_ms", NULL, NULL, &ms, sizeof(ms));
    mallctl("arena.4096.dirty_decay_ms", NULL, NULL, &ms, sizeof(ms));
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
