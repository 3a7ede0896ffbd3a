/* The batch loops' sizes, 16..512: a fixed sequence (xorshift), the same in fastpath.c, remote.c
 * and the Rust twin (examples/fastpath.rs). */
#define BATCH 1000

static void fill_sizes(unsigned sizes[BATCH]) {
  unsigned long long x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < BATCH; i++) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sizes[i] = 16 + (unsigned)((x * 0x2545F4914F6CDD1DULL) >> 33) % 497;
  }
}
