// quantized.cpp — INT8 inference through libtorch's quantized operators: per-tensor uint8 activations,
// per-channel int8 weights prepacked once for the engine (oneDNN on x86 in Debian's libtorch), the
// quantized convolution (with a fused ReLU) and the quantized add. The `quantized::` operators have no
// C++ functions of their own; they are called through the dispatcher, boxed.
#include "ctorch.h"
#include "shim.hpp"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

using namespace qt;

struct qt_qconv_s {
    c10::IValue packed;  // a Conv2dPackedParamsBase, kept as the dispatcher hands it over
};

namespace {

/// Calls `quantized::NAME.OVERLOAD` with `args` and returns its one output.
c10::IValue call(const char *name, const char *overload, std::vector<c10::IValue> args) {
    static thread_local std::unordered_map<std::string, c10::OperatorHandle> handles;
    const std::string key = std::string(name) + "." + overload;
    auto found = handles.find(key);
    if (found == handles.end()) {
        found = handles.emplace(key, c10::Dispatcher::singleton().findSchemaOrThrow(name, overload)).first;
    }
    found->second.callBoxed(&args);
    return args.at(0);
}

/// The tensor behind `h`, which must be on the CPU: libtorch's quantized operators are the CPU's, and qt_qpad
/// writes through a host pointer.
const at::Tensor &on_cpu(qt_tensor h) {
    const at::Tensor &t = qt::unwrap(h);
    if (!t.is_cpu()) throw std::invalid_argument("INT8 runs on the CPU, and this tensor is on " + t.device().str());
    return t;
}

}  // namespace

extern "C" {

int qt_set_quantized_engine(const char *name) {
    QT_GUARD(-1, {
        const std::string n(name);
        const at::QEngine engine = n == "onednn" ? at::QEngine::ONEDNN
                                   : n == "fbgemm" ? at::QEngine::FBGEMM
                                   : n == "qnnpack" ? at::QEngine::QNNPACK
                                                    : throw std::invalid_argument("unknown quantized engine " + n);
        at::globalContext().setQEngine(engine);
        return 0;
    })
}

const char *qt_quantized_engine(void) {
    static thread_local std::string name;
    name = c10::toString(at::globalContext().qEngine());
    return name.c_str();
}

// A libtorch without FBGEMM (Debian's) quantizes and dequantizes element by element (quantize_val with
// std::nearbyint, dequantize_val): 7 % of a served INT8 request. These two do the same arithmetic, in the same
// precision, with ATen's vectorised operators.
qt_tensor qt_quantize_per_tensor(qt_tensor x, double scale, int64_t zero_point) {
    QT_GUARD(nullptr, {
        const at::Tensor &v = on_cpu(x);
        if (v.scalar_type() != at::kFloat) return wrap(at::quantize_per_tensor(v, scale, zero_point, at::kQUInt8));
        // quantize_val: zero_point + nearbyint(value * (1.0f / float(scale))), clamped to 0…255.
        const float inverse = 1.0f / static_cast<float>(scale);
        at::Tensor levels = at::clamp(at::round(v * inverse) + static_cast<double>(zero_point), 0, 255);
        return wrap(at::_make_per_tensor_quantized_tensor(levels.to(at::kByte), scale, zero_point));
    })
}

qt_tensor qt_quantize_per_channel(qt_tensor x, qt_tensor scales, int64_t axis) {
    QT_GUARD(nullptr, {
        const at::Tensor &s = unwrap(scales);
        const at::Tensor zeros = at::zeros({s.size(0)}, at::kLong);
        return wrap(at::quantize_per_channel(on_cpu(x), s.to(at::kDouble), zeros, axis, at::kQInt8));
    })
}

qt_tensor qt_dequantize(qt_tensor q) {
    QT_GUARD(nullptr, {
        const at::Tensor &t = unwrap(q);
        if (t.qscheme() != at::kPerTensorAffine || t.scalar_type() != at::kQUInt8) return wrap(t.dequantize());
        // dequantize_val: (float(level) - zero_point) * scale, in double, then float.
        at::Tensor levels = t.int_repr().to(at::kDouble);
        return wrap(((levels - static_cast<double>(t.q_zero_point())) * t.q_scale()).to(at::kFloat));
    })
}

qt_tensor qt_int_repr(qt_tensor q) { QT_GUARD(nullptr, return wrap(unwrap(q).int_repr());) }

qt_qconv qt_qconv_prepack(
    qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *padding, const int64_t *dilation,
    int64_t groups) {
    QT_GUARD(nullptr, {
        c10::IValue b = bias ? c10::IValue(unwrap(bias)) : c10::IValue();
        c10::IValue packed = call(
            "quantized::conv2d_prepack", "",
            {on_cpu(weight), b, c10::IValue(pair(stride)), c10::IValue(pair(padding)),
             c10::IValue(pair(dilation)), groups});
        return new qt_qconv_s{std::move(packed)};
    })
}

qt_tensor qt_qconv_run(qt_qconv conv, qt_tensor x, double scale, int64_t zero_point, int relu) {
    QT_GUARD(nullptr, {
        if (!conv) throw std::invalid_argument("NULL quantized convolution");
        const char *name = relu ? "quantized::conv2d_relu" : "quantized::conv2d";
        return wrap(call(name, "new", {on_cpu(x), conv->packed, scale, zero_point}).toTensor());
    })
}

void qt_qconv_free(qt_qconv conv) { delete conv; }

qt_tensor qt_qpad(qt_tensor q, int64_t left, int64_t right, int64_t top, int64_t bottom) {
    QT_GUARD(nullptr, {
        // libtorch's quantized constant_pad_nd runs element by element (145 ms for 8×96×128×128 on a 2-core Zen 5):
        // pad the stored bytes instead, in the input's memory format, with the zero point.
        const at::Tensor &x = on_cpu(q);
        if (x.dim() != 4 || x.scalar_type() != at::kQUInt8) {
            throw std::invalid_argument("qt_qpad takes a 4-d quint8 tensor");
        }
        const auto format = x.suggest_memory_format();
        const auto [n, c, h, w] = std::array<int64_t, 4>{x.size(0), x.size(1), x.size(2), x.size(3)};
        at::Tensor out = at::_empty_affine_quantized(
            {n, c, h + top + bottom, w + left + right}, x.options(), x.q_scale(), x.q_zero_point(), format);
        auto bytes = [](const at::Tensor &t) {
            return at::from_blob(t.data_ptr(), t.sizes(), t.strides(), at::TensorOptions().dtype(at::kByte));
        };
        at::Tensor o = bytes(out);
        o.fill_(x.q_zero_point());
        o.narrow(2, top, h).narrow(3, left, w).copy_(bytes(x));
        return wrap(out);
    })
}

qt_tensor qt_qadd(qt_tensor a, qt_tensor b, double scale, int64_t zero_point, int relu) {
    QT_GUARD(nullptr, {
        const char *name = relu ? "quantized::add_relu" : "quantized::add";
        return wrap(call(name, "", {on_cpu(a), on_cpu(b), scale, zero_point}).toTensor());
    })
}

}  // extern "C"
