// ctorch_bench.h — reference loops in plain C++ over libtorch for `quadrat bench core`.
// Not part of the shim: only the benchmark links it.
#ifndef QUADRAT_CTORCH_BENCH_H
#define QUADRAT_CTORCH_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// kind: 0 matmul n×n (a = n); 1 conv3×3 (a = batch, b = channels, c = size, groups 1);
/// 2 depthwise 3×3 (groups = channels). memory_format: 0 contiguous, 1 channels-last.
/// Returns seconds per iteration, or -1 on any error.
double qtb_bench_cpp(int kind, int64_t a, int64_t b, int64_t c, int memory_format, int iterations);

#ifdef __cplusplus
}
#endif

#endif
