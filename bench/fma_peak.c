// BENCHMARKS.md, "How far those could go": one core's fused multiply-add peak.
//   gcc -O2 -o /tmp/fma_peak bench/fma_peak.c && /tmp/fma_peak
// 12 independent accumulator chains hide the FMA latency, so the loop runs at the
// core's FMA throughput: AVX2 (8 lanes) against AVX-512 (16 lanes), one thread.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 12

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// One body for both instruction sets; GFLOP/s of `n` rounds (an FMA is 2 flops a lane).
#define PEAK(NAME, TARGET, VEC, LANES, SET1, FMADD, STORE)                  \
  __attribute__((target(TARGET))) static double NAME(long n) {             \
    VEC a[CHAINS], x = SET1(0.999999f), y = SET1(1e-7f);                   \
    for (int i = 0; i < CHAINS; i++) a[i] = SET1((float)i);                \
    double t = now();                                                      \
    for (long k = 0; k < n; k++) {                                         \
      _Pragma("GCC unroll 12")                                             \
      for (int i = 0; i < CHAINS; i++) a[i] = FMADD(a[i], x, y);           \
    }                                                                      \
    t = now() - t;                                                         \
    /* Use the results, so the compiler keeps the loop. */                 \
    float s = 0, lane[LANES];                                              \
    for (int i = 0; i < CHAINS; i++) {                                     \
      STORE(lane, a[i]);                                                   \
      s += lane[0];                                                        \
    }                                                                      \
    if (s == 42) puts("");                                                 \
    return n * (double)CHAINS * LANES * 2 / t / 1e9;                       \
  }

PEAK(avx2, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps)
PEAK(avx512, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps)

int main(void) {
  long n = 200000000;
  for (int r = 0; r < 3; r++)
    printf("avx2 %.1f GFLOP/s  avx512 %.1f GFLOP/s\n", avx2(n), avx512(n));
  return 0;
}
