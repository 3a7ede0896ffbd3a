/* Medium-tier reuse after a thread exits (session 22, med22): fork_reuse_medium.c's program with
 * no fork. N threads each allocate MIB MiB of medium blocks (40-440 KiB) and exit while the
 * blocks are still live, so their spans are published at exit; the main thread then frees every
 * block and allocates the same sizes again, ROUNDS times, and reports its RSS growth. The blocks
 * the main thread frees are resident: a heap that adopts those spans must hand them out again,
 * not carve untouched blocks while the freed ones sit elsewhere. On hakmem every round's growth
 * stays under a quarter of the data (glibc: 0.4 MiB; hakmem before med22: 35 / 57 / 64 MiB, with
 * config::ADOPT_FREE_FIRST and config::CACHE_BEFORE_CARVE 1.1 MiB). HAKMEM_EXPECT_REUSE=0 (a
 * backout build: --cfg hakmem_no_adopt_free_first or hakmem_no_cache_before_carve) expects the
 * old growth instead: some round over a quarter. No small request before the last measurement
 * (RSS read with open/read, printed after the rounds). */
#include "common.h"
#include "medium_exit.h"

#define ROUNDS 3

int main(void) {
    int hk = expect_allocator();
    const char *e = getenv("HAKMEM_EXPECT_REUSE");
    /* 1 (default): bounded; 0: the old growth expected; "-": printed only (a build without the
     * adopt feature, whose published spans wait for a reclaim pass: 27 MiB). */
    int expect_reuse = !e ? 1 : e[0] == '1' ? 1 : e[0] == '0' ? 0 : -1;
    fill_from_exiting_threads();
    long r0 = statm_rss_kib();
    long worst = 0, growth[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int t = 0; t < N; t++) {
            check_sized(blocks[t], count[t], size_of, (round == 0 ? 0u : 7u) + 1000u * (uint32_t)t);
            for (size_t i = 0; i < count[t]; i++) free(blocks[t][i]);
        }
        for (int t = 0; t < N; t++) count[t] = fill_sized(blocks[t], (size_t)MIB << 20, MAXB, size_of, 7u + 1000u * (uint32_t)t);
        growth[round] = statm_rss_kib() - r0;
        if (growth[round] > worst) worst = growth[round];
    }
    for (int round = 0; round < ROUNDS; round++)
        printf("round %d: rss growth %ld KiB (the exited threads' data %d MiB)\n", round,
               growth[round], N * MIB);
    if (hk && expect_reuse == 1) CHECK(worst < (long)N * MIB * 1024 / 4);
    if (hk && expect_reuse == 0) CHECK(worst > (long)N * MIB * 1024 / 4);
    for (int t = 0; t < N; t++)
        for (size_t i = 0; i < count[t]; i++) free(blocks[t][i]);
    printf("OK exit_reuse_medium\n");
    return 0;
}
