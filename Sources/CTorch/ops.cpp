// ops.cpp — tensor operations of the shim: element-wise, reductions, shape,
// neural-network ops and the in-place updates the optimizers use.
#include "ctorch.h"
#include "shim.hpp"

#include <ATen/ATen.h>

using namespace qt;

namespace {

at::Tensor binary(int op, const at::Tensor &a, const at::Tensor &b) {
    switch (op) {
        case QT_ADD: return a + b;
        case QT_SUB: return a - b;
        case QT_MUL: return a * b;
        case QT_DIV: return a / b;
        case QT_POW: return at::pow(a, b);
        case QT_MAXIMUM: return at::maximum(a, b);
        case QT_MINIMUM: return at::minimum(a, b);
        case QT_EQ: return at::eq(a, b);
        case QT_NE: return at::ne(a, b);
        case QT_LT: return at::lt(a, b);
        case QT_LE: return at::le(a, b);
        case QT_GT: return at::gt(a, b);
        case QT_GE: return at::ge(a, b);
        case QT_ATAN2: return at::atan2(a, b);
        default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
    }
}

at::Tensor binary_scalar(int op, const at::Tensor &a, const at::Scalar &s) {
    switch (op) {
        case QT_ADD: return a + s;
        case QT_SUB: return a - s;
        case QT_MUL: return a * s;
        case QT_DIV: return a / s;
        case QT_POW: return at::pow(a, s);
        case QT_MAXIMUM: return at::clamp_min(a, s);
        case QT_MINIMUM: return at::clamp_max(a, s);
        case QT_EQ: return at::eq(a, s);
        case QT_NE: return at::ne(a, s);
        case QT_LT: return at::lt(a, s);
        case QT_LE: return at::le(a, s);
        case QT_GT: return at::gt(a, s);
        case QT_GE: return at::ge(a, s);
        default: throw std::invalid_argument("unknown scalar op " + std::to_string(op));
    }
}

at::Tensor unary(int op, const at::Tensor &a) {
    switch (op) {
        case QT_NEG: return at::neg(a);
        case QT_EXP: return at::exp(a);
        case QT_LOG: return at::log(a);
        case QT_SQRT: return at::sqrt(a);
        case QT_ABS: return at::abs(a);
        case QT_RELU: return at::relu(a);
        // libtorch 1.13 has no bfloat16 backward for hardtanh; clamp computes the same values.
        case QT_RELU6: return a.scalar_type() == at::kBFloat16 ? at::clamp(a, 0.0, 6.0) : at::hardtanh(a, 0.0, 6.0);
        case QT_SIGMOID: return at::sigmoid(a);
        case QT_TANH: return at::tanh(a);
        case QT_SIN: return at::sin(a);
        case QT_COS: return at::cos(a);
        case QT_FLOOR: return at::floor(a);
        case QT_ROUND: return at::round(a);
        case QT_LOGICAL_NOT: return at::logical_not(a);
        case QT_ISNAN: return at::isnan(a);
        case QT_SIGN: return at::sign(a);
        default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
}

std::vector<int64_t> dims_or_all(const at::Tensor &t, const int64_t *dims, int n) {
    if (n > 0) return std::vector<int64_t>(dims, dims + n);
    std::vector<int64_t> all(t.dim());
    for (int64_t i = 0; i < t.dim(); i++) all[i] = i;
    return all;
}

std::vector<at::Tensor> tensors(const qt_tensor *ts, int n) {
    std::vector<at::Tensor> v;
    v.reserve(n);
    for (int i = 0; i < n; i++) v.push_back(unwrap(ts[i]));
    return v;
}

}  // namespace

// ---- element-wise ---------------------------------------------------------------

qt_tensor qt_binary(int op, qt_tensor a, qt_tensor b) { QT_GUARD(nullptr, return wrap(binary(op, unwrap(a), unwrap(b)));) }
qt_tensor qt_binary_scalar(int op, qt_tensor a, double s) {
    QT_GUARD(nullptr, {
        // An integral scalar keeps an integer tensor integral (2 + int64 stays int64).
        const at::Tensor &t = unwrap(a);
        bool integral = !at::isFloatingType(t.scalar_type()) && s == (double)(int64_t)s;
        return wrap(binary_scalar(op, t, integral ? at::Scalar((int64_t)s) : at::Scalar(s)));
    })
}
qt_tensor qt_unary(int op, qt_tensor a) { QT_GUARD(nullptr, return wrap(unary(op, unwrap(a)));) }
qt_tensor qt_clamp(qt_tensor t, double lo, double hi) { QT_GUARD(nullptr, return wrap(at::clamp(unwrap(t), lo, hi));) }
qt_tensor qt_where(qt_tensor c, qt_tensor a, qt_tensor b) {
    QT_GUARD(nullptr, return wrap(at::where(unwrap(c), unwrap(a), unwrap(b)));)
}

// ---- reductions -----------------------------------------------------------------

qt_tensor qt_reduce(int op, qt_tensor h, const int64_t *dims, int n, int keepdim) {
    QT_GUARD(nullptr, {
        const at::Tensor &t = unwrap(h);
        auto d = dims_or_all(t, dims, n);
        bool keep = keepdim != 0;
        switch (op) {
            case QT_SUM: return wrap(at::sum(t, d, keep));
            case QT_MEAN: return wrap(at::mean(t, d, keep));
            case QT_AMAX: return wrap(at::amax(t, d, keep));
            case QT_AMIN: return wrap(at::amin(t, d, keep));
            case QT_VAR: return wrap(at::var(t, d, true, keep));
            case QT_STD: return wrap(at::std(t, d, true, keep));
            case QT_PROD:
                if (n == 0) return wrap(keep ? at::prod(t).reshape(std::vector<int64_t>(t.dim(), 1)) : at::prod(t));
                if (n == 1) return wrap(at::prod(t, dims[0], keep));
                throw std::invalid_argument("prod reduces over one dimension or all of them");
            default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
        }
    })
}

qt_tensor qt_argmax(qt_tensor t, int64_t dim, int keepdim) { QT_GUARD(nullptr, return wrap(at::argmax(unwrap(t), dim, keepdim != 0));) }

int qt_topk(qt_tensor t, int64_t k, int64_t dim, qt_tensor *values, qt_tensor *indices) {
    QT_GUARD(-1, {
        auto r = at::topk(unwrap(t), k, dim);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
        return 0;
    })
}

qt_tensor qt_sort(qt_tensor t, int64_t dim, int descending, qt_tensor *indices) {
    QT_GUARD(nullptr, {
        auto r = at::sort(unwrap(t), dim, descending != 0);
        *indices = wrap(std::get<1>(r));
        return wrap(std::get<0>(r));
    })
}

// ---- shape ----------------------------------------------------------------------

qt_tensor qt_reshape(qt_tensor t, const int64_t *s, int n) { QT_GUARD(nullptr, return wrap(unwrap(t).reshape(at::IntArrayRef(s, n)));) }
qt_tensor qt_permute(qt_tensor t, const int64_t *d, int n) { QT_GUARD(nullptr, return wrap(unwrap(t).permute(at::IntArrayRef(d, n)));) }
qt_tensor qt_transpose(qt_tensor t, int64_t a, int64_t b) { QT_GUARD(nullptr, return wrap(unwrap(t).transpose(a, b));) }
qt_tensor qt_narrow(qt_tensor t, int64_t dim, int64_t start, int64_t len) {
    QT_GUARD(nullptr, return wrap(unwrap(t).narrow(dim, start, len));)
}
qt_tensor qt_select(qt_tensor t, int64_t dim, int64_t i) { QT_GUARD(nullptr, return wrap(unwrap(t).select(dim, i));) }
qt_tensor qt_index_select(qt_tensor t, int64_t dim, qt_tensor i) {
    QT_GUARD(nullptr, return wrap(at::index_select(unwrap(t), dim, unwrap(i)));)
}
qt_tensor qt_cat(const qt_tensor *ts, int n, int64_t dim) { QT_GUARD(nullptr, return wrap(at::cat(tensors(ts, n), dim));) }
qt_tensor qt_stack(const qt_tensor *ts, int n, int64_t dim) { QT_GUARD(nullptr, return wrap(at::stack(tensors(ts, n), dim));) }
qt_tensor qt_unsqueeze(qt_tensor t, int64_t dim) { QT_GUARD(nullptr, return wrap(unwrap(t).unsqueeze(dim));) }
qt_tensor qt_squeeze(qt_tensor t, int64_t dim) { QT_GUARD(nullptr, return wrap(unwrap(t).squeeze(dim));) }
qt_tensor qt_expand(qt_tensor t, const int64_t *s, int n) { QT_GUARD(nullptr, return wrap(unwrap(t).expand(at::IntArrayRef(s, n)));) }
qt_tensor qt_flip(qt_tensor t, const int64_t *d, int n) { QT_GUARD(nullptr, return wrap(at::flip(unwrap(t), at::IntArrayRef(d, n)));) }
qt_tensor qt_as_strided(qt_tensor t, const int64_t *s, const int64_t *st, int n, int64_t offset) {
    QT_GUARD(nullptr, return wrap(unwrap(t).as_strided(at::IntArrayRef(s, n), at::IntArrayRef(st, n), offset));)
}
qt_tensor qt_matmul(qt_tensor a, qt_tensor b) { QT_GUARD(nullptr, return wrap(at::matmul(unwrap(a), unwrap(b)));) }
qt_tensor qt_cholesky(qt_tensor a) { QT_GUARD(nullptr, return wrap(at::linalg_cholesky(unwrap(a)));) }
qt_tensor qt_solve_triangular(qt_tensor a, qt_tensor b, int upper) {
    QT_GUARD(nullptr, return wrap(at::linalg_solve_triangular(unwrap(a), unwrap(b), upper != 0));)
}

// ---- neural-network ops ---------------------------------------------------------

qt_tensor qt_linear(qt_tensor x, qt_tensor w, qt_tensor b) { QT_GUARD(nullptr, return wrap(at::linear(unwrap(x), unwrap(w), optional(b)));) }

qt_tensor qt_conv2d(qt_tensor x, qt_tensor w, qt_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups) {
    QT_GUARD(nullptr, return wrap(at::conv2d(unwrap(x), unwrap(w), optional(b), pair(stride), pair(padding), pair(dilation), groups));)
}

qt_tensor qt_batch_norm(qt_tensor x, qt_tensor w, qt_tensor b, qt_tensor mean, qt_tensor var, int training, double momentum,
                        double eps) {
    QT_GUARD(nullptr, return wrap(at::batch_norm(unwrap(x), optional(w), optional(b), optional(mean), optional(var),
                                                 training != 0, momentum, eps, false));)
}

qt_tensor qt_max_pool2d(qt_tensor x, const int64_t *k, const int64_t *s, const int64_t *p, int ceil_mode) {
    QT_GUARD(nullptr, return wrap(at::max_pool2d(unwrap(x), pair(k), pair(s), pair(p), {1, 1}, ceil_mode != 0));)
}

qt_tensor qt_avg_pool2d(qt_tensor x, const int64_t *k, const int64_t *s, const int64_t *p, int ceil_mode, int include_pad) {
    QT_GUARD(nullptr, return wrap(at::avg_pool2d(unwrap(x), pair(k), pair(s), pair(p), ceil_mode != 0, include_pad != 0));)
}

qt_tensor qt_adaptive_avg_pool2d(qt_tensor x, const int64_t *o) { QT_GUARD(nullptr, return wrap(at::adaptive_avg_pool2d(unwrap(x), pair(o)));) }
qt_tensor qt_adaptive_max_pool2d(qt_tensor x, const int64_t *o) {
    QT_GUARD(nullptr, return wrap(std::get<0>(at::adaptive_max_pool2d(unwrap(x), pair(o))));)
}
qt_tensor qt_dropout(qt_tensor x, double p, int training) { QT_GUARD(nullptr, return wrap(at::dropout(unwrap(x), p, training != 0));) }
qt_tensor qt_softmax(qt_tensor x, int64_t dim) { QT_GUARD(nullptr, return wrap(at::softmax(unwrap(x), dim));) }
qt_tensor qt_log_softmax(qt_tensor x, int64_t dim) { QT_GUARD(nullptr, return wrap(at::log_softmax(unwrap(x), dim));) }

qt_tensor qt_cross_entropy(qt_tensor logits, qt_tensor target, qt_tensor weight, int reduction, double smoothing) {
    QT_GUARD(nullptr, return wrap(at::cross_entropy_loss(unwrap(logits), unwrap(target), optional(weight), reduction, -100, smoothing));)
}

qt_tensor qt_nll_loss(qt_tensor logp, qt_tensor target, qt_tensor weight, int reduction) {
    QT_GUARD(nullptr, return wrap(at::nll_loss(unwrap(logp), unwrap(target), optional(weight), reduction, -100));)
}

qt_tensor qt_bce_with_logits(qt_tensor logits, qt_tensor target, qt_tensor pos_weight, int reduction) {
    QT_GUARD(nullptr, return wrap(at::binary_cross_entropy_with_logits(
        unwrap(logits), unwrap(target), c10::nullopt, optional(pos_weight), reduction));)
}

qt_tensor qt_pad(qt_tensor x, const int64_t *pads, int n, double value) {
    QT_GUARD(nullptr, return wrap(at::constant_pad_nd(unwrap(x), at::IntArrayRef(pads, n), value));)
}

qt_tensor qt_interpolate_bilinear(qt_tensor x, const int64_t *o, int align_corners, int antialias) {
    QT_GUARD(nullptr, {
        if (antialias) return wrap(at::_upsample_bilinear2d_aa(unwrap(x), pair(o), align_corners != 0, c10::nullopt, c10::nullopt));
        return wrap(at::upsample_bilinear2d(unwrap(x), pair(o), align_corners != 0, c10::nullopt, c10::nullopt));
    })
}

qt_tensor qt_affine_grid(qt_tensor theta, const int64_t *size, int align_corners) {
    QT_GUARD(nullptr, return wrap(at::affine_grid_generator(unwrap(theta), at::IntArrayRef(size, 4), align_corners != 0));)
}

qt_tensor qt_grid_sample(qt_tensor x, qt_tensor grid, int mode, int padding, int align_corners) {
    QT_GUARD(nullptr, return wrap(at::grid_sampler(unwrap(x), unwrap(grid), mode, padding, align_corners != 0));)
}

// ---- in place -------------------------------------------------------------------

int qt_copy_(qt_tensor dst, qt_tensor src) { QT_GUARD(-1, { unwrap(dst).copy_(unwrap(src)); return 0; }) }
int qt_set_data(qt_tensor t, qt_tensor src) { QT_GUARD(-1, { unwrap(t).set_data(unwrap(src)); return 0; }) }
int qt_add_(qt_tensor t, qt_tensor o, double alpha) {
    QT_GUARD(-1, {
        const at::Tensor &self = unwrap(t);
        bool integral = !at::isFloatingType(self.scalar_type()) && alpha == (double)(int64_t)alpha;
        self.add_(unwrap(o), integral ? at::Scalar((int64_t)alpha) : at::Scalar(alpha));
        return 0;
    })
}
int qt_mul_scalar_(qt_tensor t, double s) { QT_GUARD(-1, { unwrap(t).mul_(s); return 0; }) }
int qt_clamp_(qt_tensor t, double lower, double upper) { QT_GUARD(-1, { unwrap(t).clamp_(lower, upper); return 0; }) }
int qt_relu_(qt_tensor t) { QT_GUARD(-1, { unwrap(t).relu_(); return 0; }) }
int qt_addcmul_(qt_tensor t, qt_tensor a, qt_tensor b, double v) { QT_GUARD(-1, { unwrap(t).addcmul_(unwrap(a), unwrap(b), v); return 0; }) }
int qt_addcdiv_(qt_tensor t, qt_tensor a, qt_tensor b, double v) { QT_GUARD(-1, { unwrap(t).addcdiv_(unwrap(a), unwrap(b), v); return 0; }) }
