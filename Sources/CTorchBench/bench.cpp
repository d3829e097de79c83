// bench.cpp — reference loops in plain C++ over libtorch, so `quadrat bench core`
// can compare the Swift API against the same work without Swift in the way.
#include "ctorch_bench.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <functional>

double qtb_bench_cpp(int kind, int64_t a, int64_t b, int64_t c, int format, int iterations) {
    try {
        at::NoGradGuard no_grad;
        auto mf = format == 1 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
        std::function<at::Tensor()> work;
        at::Tensor x, w;
        switch (kind) {
            case 0:
                x = at::randn({a, a});
                w = at::randn({a, a});
                work = [&] { return at::matmul(x, w); };
                break;
            case 1:
            case 2: {
                int64_t groups = kind == 2 ? b : 1;
                x = at::randn({a, b, c, c}).contiguous(mf);
                w = at::randn({b, b / groups, 3, 3}).contiguous(mf);
                work = [&, groups] { return at::conv2d(x, w, {}, {1, 1}, {1, 1}, {1, 1}, groups); };
                break;
            }
            default: return -1.0;
        }
        work();  // warm-up
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < iterations; i++) work();
        std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        return elapsed.count() / iterations;
    } catch (...) {
        return -1.0;
    }
}
