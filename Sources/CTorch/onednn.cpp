// onednn.cpp — float32, bfloat16 and INT8 inference through oneDNN's convolutions, called directly (Debian's libdnnl
// 2.6, the one Debian's libtorch runs on). ATen's own path casts every convolution's weights and activations under
// autocast and keeps each activation (ReLU6) and residual sum a pass of its own; libtorch's quantized operators pad,
// add and requantize as passes of their own too. Here the weights are reordered once into the layout the kernels
// want, the activations stay in the network's type (float32, bfloat16 or uint8) from the first convolution to the
// last, and each ReLU, ReLU6 and residual sum is a post-op of its convolution.
//
// INT8: every value is uint8 with a scale and zero point (x ≈ (q − zero point) · scale), weights int8 with a scale
// per output channel. A convolution sums (q_in − zp_in) · w_int in int32 (oneDNN's source zero point), adds the bias
// in those units, scales by s_in · s_w / s_out (its output scales), then adds the residual as (q_res − zp_res) ·
// s_res / s_out (the sum post-op), clips, and adds zp_out, rounding once at the end. The first layers may compute in
// float32 instead (`Layer::float_compute`), reading the input unquantized, and what they hand on is quantized.
//
// A network is a list of layers over numbered values (0: the input). Primitives depend on the input's shape, so
// each shape gets a plan of its own on its first run: primitives, buffers, and a reorder wherever one layer's
// output layout is not the next one's input layout.
#include "ctorch.h"
#include "shim.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(QUADRAT_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>

using namespace qt;

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine &engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

/// An INT8 network's value: uint8 with a scale and zero point, or float32 (the input kept float, and what float32
/// layers make unquantized).
struct Quant {
    float scale = 1;
    int32_t zero_point = 0;
    bool is_float = false;
};

struct Layer {
    bool pool = false;
    bool float_compute = false;  // a float32 convolution in an INT8 network (reading float32, `out` its output)
    int input = 0, residual = -1, activation = 0;
    // Convolutions: float32 weights and bias (INT8 layers: int8 weights and, in `bias`, the bias in the accumulator's
    // units), contiguous.
    at::Tensor weight, bias;
    std::vector<float> output_scales;  // INT8: s_in · s_w / s_out per output channel
    Quant out;                         // INT8 networks: the value it makes
    memory::dims kernel, stride, pad_begin, pad_end;
    int64_t groups = 1;
    std::vector<memory> packs;  // the weights reordered for the plans so far, one per layout asked for
};

/// The primitives and buffers for one input shape and output. Buffers are reused: once the last layer reading a
/// value is planned, its buffer serves a later value, so a plan holds about the live activations, not all of them.
struct Plan {
    std::vector<int64_t> key;
    std::vector<std::pair<dnnl::primitive, std::unordered_map<int, memory>>> steps;
    memory input, output;        // the caller's float32 input and output, their handles set at each run
    std::vector<memory> values;  // each value's memory
    std::vector<std::pair<std::shared_ptr<char>, size_t>> buffers;
    std::vector<size_t> unused;  // indices into `buffers` free for the next value
    size_t scratch_size = 0;     // the most scratch memory a step asks for
    memory scratch;              // that much, handed to every step (they run one after the other)

    /// Memory of `desc` in a free buffer large enough, or a new one.
    memory fresh(const memory::desc &desc) {
        const size_t size = desc.get_size();
        size_t best = buffers.size();
        for (size_t i : unused) {
            if (buffers[i].second >= size && (best == buffers.size() || buffers[i].second < buffers[best].second)) {
                best = i;
            }
        }
        if (best == buffers.size()) {
            char *data = static_cast<char *>(std::aligned_alloc(64, (size + 63) / 64 * 64));
            if (!data) throw std::bad_alloc();
            buffers.push_back({std::shared_ptr<char>(data, std::free), size});
        } else {
            unused.erase(std::find(unused.begin(), unused.end(), best));
        }
        return memory(desc, engine(), buffers[best].first.get());
    }

    /// Gives `m`'s buffer back for later values (memory not from `fresh` is ignored).
    void release(const memory &m) {
        for (size_t i = 0; i < buffers.size(); i++) {
            if (buffers[i].first.get() == m.get_data_handle() &&
                std::find(unused.begin(), unused.end(), i) == unused.end()) {
                unused.push_back(i);
            }
        }
    }
};

memory::dims dims2(const int64_t *p) { return {p[0], p[1]}; }

/// Whether `pd` runs oneDNN's reference code (plain C++ loops, many times slower than its own kernels).
bool reference(const dnnl::primitive_desc_base &pd) {
    return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}

/// Whether oneDNN has a kernel of its own (not its slow reference code) for a small convolution in `type` (u8: INT8,
/// uint8 activations and int8 weights) on this CPU: bf16 needs AVX-512 in oneDNN 2.6, and a CPU without it must
/// keep ATen's path.
bool has_kernels(dt type) {
    try {
        memory::desc src({1, 16, 8, 8}, type, tag::any), weights({16, 16, 1, 1}, type == dt::u8 ? dt::s8 : type, tag::any);
        memory::desc dst({1, 16, 8, 8}, type, tag::any), bias({16}, dt::f32, tag::a);
        auto desc = dnnl::convolution_forward::desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, weights, bias, dst, {1, 1},
            {0, 0}, {0, 0});
        dnnl::convolution_forward::primitive_desc pd(desc, engine());
        return !reference(pd);
    } catch (const dnnl::error &) {
        return false;
    }
}

}  // namespace

struct qt_dnnl_s {
    dt kind = dt::f32;         // the activations' type: f32, bf16 or u8 (INT8)
    std::vector<Quant> quant;  // INT8: each value's scale and zero point (value 0: the input)
    std::vector<Layer> layers;
    // Plans not running now, the most recently used last; at most kPlans. A run takes one out and gives it back, so
    // that runs on several threads (serve's workers share one model) each have buffers of their own.
    std::vector<std::unique_ptr<Plan>> idle;
    std::mutex lock;  // guards `idle` and the layers' weight packs
    static constexpr size_t kPlans = 8;

    dt type() const { return kind; }
    bool int8() const { return kind == dt::u8; }
    dt weight_type() const { return int8() ? dt::s8 : kind; }

    /// Whether activations are kept in channel blocks (nChw16c with AVX-512, ``block_tag``) rather than in the layout
    /// each convolution picks (NHWC): in float32 and bfloat16 for networks with depthwise convolutions. oneDNN 2.6's blocked kernels ran
    /// EfficientNet-Lite0's float32 convolutions in 37 ms a batch of 8 at 256 px against 42 (AMD Zen 4, 2 threads;
    /// the high-resolution 1×1 and depthwise ones gained most); INT8 keeps NHWC, which its kernels pick, but for its
    /// float32 layers (``Layer::float_compute``): Lite0's stem and first depthwise convolution took 12 against 19 ms a
    /// batch of 32 in blocks, the quantizing reorder after them included.
    bool blocked() const {
        return !int8() && std::any_of(layers.begin(), layers.end(), [](const Layer &l) { return l.groups > 1; });
    }

    /// The position of `layer` in the network, for messages.
    size_t net_layer_index(const Layer &layer) const { return size_t(&layer - layers.data()); }

    /// The blocks of the vector registers: 16 floats with AVX-512, 8 without.
    static tag block_tag() {
        // The ISA values are bit sets, each including the ISAs it extends.
        static const int core = int(dnnl::cpu_isa::avx512_core);
        static const bool avx512 = (int(dnnl::get_effective_cpu_isa()) & core) == core;
        return avx512 ? tag::nChw16c : tag::nChw8c;
    }

    /// `from` as `desc`: itself, or a new memory filled by a reorder step added to `plan`.
    memory as(Plan &plan, const memory &from, const memory::desc &desc) {
        if (from.get_desc() == desc) return from;
        memory to = plan.fresh(desc);
        plan.steps.push_back({dnnl::reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}});
        return to;
    }

    /// The reorder of float32 `from` into uint8 `to` with `q` (quantize: `to` = round(from · (1 / scale)) + zero point,
    /// as libtorch's quantize_val computes it), or
    /// of uint8 `from` into float32 `to` (dequantize: `to` = (from − zero point) · scale). Both round to nearest even,
    /// as libtorch's quantize_per_tensor does.
    static dnnl::reorder quantizing(const memory &from, const memory &to, Quant q) {
        dnnl::primitive_attr attr;
        const bool quantize = to.get_desc().data_type() == dt::u8;
        attr.set_output_scales(0, {quantize ? 1.f / q.scale : q.scale});
        if (q.zero_point) attr.set_zero_points(quantize ? DNNL_ARG_DST : DNNL_ARG_SRC, 0, {q.zero_point});
        return dnnl::reorder(from, to, attr);
    }

    /// The weights of `layer` reordered once into `desc`.
    memory packed(Layer &layer, const memory::desc &desc) {
        for (const auto &pack : layer.packs) {
            if (pack.get_desc() == desc) return pack;
        }
        auto shape = layer.weight.sizes().vec();
        memory::dims dims = layer.groups == 1 ? memory::dims(shape.begin(), shape.end())
                                              : memory::dims{layer.groups, shape[0] / layer.groups, shape[1],
                                                             shape[2], shape[3]};
        memory user({dims, layer.weight.scalar_type() == at::kChar ? dt::s8 : dt::f32,
                     layer.groups == 1 ? tag::oihw : tag::goihw},
                    engine(), layer.weight.data_ptr());
        memory out(desc, engine());
        dnnl::stream s(engine());
        dnnl::reorder(user, out).execute(s, user, out);
        s.wait();
        layer.packs.push_back(out);
        return out;
    }

    /// Plans convolution `layer`, making the next value; returns the memories it alone reads (its reordered input).
    std::vector<memory> add_conv(Plan &plan, Layer &layer) {
        const memory x = plan.values.at(layer.input);  // a handle: the vector grows below
        auto in = x.get_desc().dims();
        auto w = layer.weight.sizes();
        memory::dim n = in[0], oc = w[0];
        memory::dims out = {n, oc, 0, 0};
        for (int i = 0; i < 2; i++) {
            out[2 + i] = (in[2 + i] + layer.pad_begin[i] + layer.pad_end[i] - w[2 + i]) / layer.stride[i] + 1;
        }
        memory::dims wdims = layer.groups == 1 ? memory::dims{oc, w[1], w[2], w[3]}
                                               : memory::dims{layer.groups, oc / layer.groups, w[1], w[2], w[3]};
        // The type it computes in: the network's, or float32 for a float32 layer of an INT8 network.
        const dt act_type = layer.float_compute ? dt::f32 : type();
        const dt weights_type = layer.float_compute ? dt::f32 : weight_type();
        std::unordered_map<int, memory> args;  // what the step reads and writes: zero points (INT8) first
        const dnnl::primitive_attr attr = attributes(layer, args);
        memory::desc bias_desc({oc}, dt::f32, tag::a);
        auto primitive_desc = [&](tag activations) {
            memory::desc src({in[0], in[1], in[2], in[3]}, act_type, in[1] >= 16 ? activations : tag::any);
            memory::desc any_w(wdims, weights_type, tag::any), dst(out, act_type, activations);
            auto desc = dnnl::convolution_forward::desc(
                dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, any_w, bias_desc, dst,
                layer.stride, layer.pad_begin, layer.pad_end);
            return dnnl::convolution_forward::primitive_desc(desc, attr, engine());
        };
        auto pd = primitive_desc(tag::any);
        if (int8() && reference(pd)) {
            // Reference code would be many times slower: QuantizedNetwork then keeps libtorch's quantized operators.
            throw std::runtime_error("oneDNN has only reference code for convolution " +
                                     std::to_string(net_layer_index(layer)) + " of this INT8 network on this CPU");
        }
        if (blocked() || layer.float_compute) {
            // Where the blocked layout has only oneDNN's reference code, or none, the layout oneDNN picks serves.
            try {
                auto in_blocks = primitive_desc(block_tag());
                if (!reference(in_blocks)) pd = in_blocks;
            } catch (const dnnl::error &) {
            }
        }
        memory src = as(plan, x, pd.src_desc());
        memory weights = packed(layer, pd.weights_desc());
        memory bias(bias_desc, engine());
        if (layer.bias.defined()) {
            std::memcpy(bias.get_data_handle(), layer.bias.data_ptr(), oc * sizeof(float));
        } else {
            std::memset(bias.get_data_handle(), 0, oc * sizeof(float));
        }
        // The sum post-op adds what the destination holds: the residual, in its own buffer or reordered to one.
        memory dst = layer.residual >= 0 ? as(plan, plan.values.at(layer.residual), pd.dst_desc())
                                         : plan.fresh(pd.dst_desc());
        args.insert({{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
        plan.scratch_size = std::max(plan.scratch_size, pd.scratchpad_desc().get_size());
        plan.steps.push_back({dnnl::convolution_forward(pd), args});
        std::vector<memory> temporaries;
        if (src.get_data_handle() != x.get_data_handle()) temporaries.push_back(src);
        // oneDNN 2.6 has no float32 convolution that writes uint8: a reorder quantizes what a float32 layer hands on.
        if (layer.float_compute && !layer.out.is_float) {
            memory q = plan.fresh(memory::desc(out, dt::u8, tag::nhwc));
            plan.steps.push_back({quantizing(dst, q, layer.out), {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, q}}});
            temporaries.push_back(dst);
            dst = q;
        }
        plan.values.push_back(dst);
        return temporaries;
    }

    /// The post-ops of `layer` (the residual sum, then its activation) and, for an INT8 layer, its output scales and
    /// zero points, whose values go into `args`. An INT8 layer's post-ops see the output in units of its scale.
    dnnl::primitive_attr attributes(const Layer &layer, std::unordered_map<int, memory> &args) {
        dnnl::primitive_attr attr;
        dnnl::post_ops ops;
        const bool int8_layer = int8() && !layer.float_compute;
        const float unit = int8_layer ? layer.out.scale : 1.f;
        if (layer.residual >= 0 && int8()) {
            const Quant &r = quant.at(layer.residual);
            ops.append_sum(r.scale / unit, r.zero_point);
        } else if (layer.residual >= 0) {
            ops.append_sum(1.f);
        }
        if (layer.activation == 1) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        if (layer.activation == 2) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f / unit);
        attr.set_post_ops(ops);
        // The plan hands each primitive its scratch memory (`Plan::scratch`): oneDNN's own would be allocated, and
        // its pages faulted in, at every run.
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (!int8_layer) return attr;
        attr.set_output_scales(1 << 1, layer.output_scales);
        // The source's zero point is given at run time (oneDNN's kernels take no other), the destination's when
        // planned (the faster kernels, as libtorch calls them: 0.28 against 0.54 ms for a 1×1 convolution at 128 px).
        if (const int32_t zp = quant.at(layer.input).zero_point) {
            attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
            memory m({{1}, dt::s32, tag::a}, engine());
            *static_cast<int32_t *>(m.get_data_handle()) = zp;
            args.insert({DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, m});
        }
        if (layer.out.zero_point) attr.set_zero_points(DNNL_ARG_DST, 0, {layer.out.zero_point});
        return attr;
    }

    void add_pool(Plan &plan, const Layer &layer) {
        const memory x = plan.values.at(layer.input);  // a handle: the vector grows below
        auto in = x.get_desc().dims();
        memory::dims out = {in[0], in[1], 0, 0};
        for (int i = 0; i < 2; i++) {
            out[2 + i] = (in[2 + i] + layer.pad_begin[i] + layer.pad_end[i] - layer.kernel[i]) / layer.stride[i] + 1;
        }
        auto desc = dnnl::pooling_forward::desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, x.get_desc(),
            memory::desc(out, x.get_desc().data_type(), tag::any), layer.stride, layer.kernel, layer.pad_begin,
            layer.pad_end);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::pooling_forward::primitive_desc pd(desc, attr, engine());
        plan.scratch_size = std::max(plan.scratch_size, pd.scratchpad_desc().get_size());
        memory dst = plan.fresh(pd.dst_desc());
        plan.steps.push_back({dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, dst}}});
        plan.values.push_back(dst);
    }

    /// A plan for an input of `shape` whose float32 data lies in `channels_last` order or NCHW, making `output`:
    /// an idle one, or a new one. Give it back with `give_back`.
    std::unique_ptr<Plan> take(const std::vector<int64_t> &shape, bool channels_last, int output) {
        std::vector<int64_t> key = shape;
        key.push_back(channels_last);
        key.push_back(output);
        std::lock_guard<std::mutex> guard(lock);
        for (size_t i = idle.size(); i-- > 0;) {
            if (idle[i]->key != key) continue;
            auto plan = std::move(idle[i]);
            idle.erase(idle.begin() + i);
            return plan;
        }
        return make(shape, channels_last, output, key);
    }

    void give_back(std::unique_ptr<Plan> plan) {
        std::lock_guard<std::mutex> guard(lock);
        idle.push_back(std::move(plan));
        if (idle.size() > kPlans) idle.erase(idle.begin());
    }

    std::unique_ptr<Plan> make(
        const std::vector<int64_t> &shape, bool channels_last, int output, const std::vector<int64_t> &key) {
        auto plan = std::make_unique<Plan>();
        plan->key = key;
        memory::dims dims(shape.begin(), shape.end());
        plan->input = memory({dims, dt::f32, channels_last ? tag::nhwc : tag::nchw}, engine(), nullptr);
        // The first convolution reads the input in the network's type (INT8: quantized as value 0 says, NHWC, which
        // its kernels read, unless value 0 stays float32), in the input's own layout otherwise; its own reorder then
        // makes what its kernel wants.
        if (int8() && !quant[0].is_float) {
            memory q = plan->fresh(memory::desc(dims, dt::u8, tag::nhwc));
            plan->steps.push_back({quantizing(plan->input, q, quant[0]), {{DNNL_ARG_FROM, plan->input}, {DNNL_ARG_TO, q}}});
            plan->values.push_back(q);
        } else {
            const dt input_type = int8() ? dt::f32 : type();  // an INT8 network's input kept float32
            plan->values.push_back(
                as(*plan, plan->input, memory::desc(dims, input_type, channels_last ? tag::nhwc : tag::nchw)));
        }
        // The last layer reading each value: its buffer is free after it (unless the value is the output).
        std::vector<int> last(layers.size() + 1, -1);
        for (size_t j = 0; j < layers.size(); j++) {
            last[layers[j].input] = int(j);
            if (layers[j].residual >= 0) last[layers[j].residual] = int(j);
        }
        for (size_t j = 0; j < layers.size() && plan->values.size() <= size_t(output); j++) {
            Layer &layer = layers[j];
            std::vector<memory> temporaries = layer.pool ? (add_pool(*plan, layer), std::vector<memory>{})
                                                         : add_conv(*plan, layer);
            for (const auto &m : temporaries) plan->release(m);
            const void *made = plan->values.back().get_data_handle();
            for (int v : {layer.input, layer.residual}) {
                // A residual summed in place lives on as the new value.
                if (v >= 0 && v != output && last[v] == int(j) && plan->values[v].get_data_handle() != made) {
                    plan->release(plan->values[v]);
                }
            }
        }
        // The output, float32 NCHW (dequantized in INT8), into memory whose handle `run` sets.
        const memory &value = plan->values.at(output);
        plan->output = memory({value.get_desc().dims(), dt::f32, tag::nchw}, engine(), nullptr);
        plan->steps.push_back(
            {int8() && !quant.at(output).is_float ? quantizing(value, plan->output, quant.at(output))
                                                   : dnnl::reorder(value, plan->output),
             {{DNNL_ARG_FROM, value}, {DNNL_ARG_TO, plan->output}}});
        // Reorders keep oneDNN's own scratch memory and ignore this argument.
        plan->scratch = memory({{memory::dim(std::max<size_t>(plan->scratch_size, 1))}, dt::u8, tag::a}, engine());
        for (auto &step : plan->steps) step.second.insert({DNNL_ARG_SCRATCHPAD, plan->scratch});
        return plan;
    }
};

namespace {

/// A new network of activations in `type`, where oneDNN has kernels of its own for it on this CPU.
qt_dnnl new_network(dt type) {
    static const bool f32 = has_kernels(dt::f32), bf16 = has_kernels(dt::bf16), u8 = has_kernels(dt::u8);
    if (!(type == dt::bf16 ? bf16 : type == dt::u8 ? u8 : f32)) {
        throw std::runtime_error(std::string("oneDNN has no ") +
                                 (type == dt::bf16 ? "bfloat16" : type == dt::u8 ? "INT8" : "float32") +
                                 " convolution kernels for this CPU");
    }
    auto net = new qt_dnnl_s();
    net->kind = type;
    return net;
}

/// A convolution layer of `net` with what all precisions share, its weights and bias still to be set.
Layer conv_layer(
    qt_dnnl net, int input, qt_tensor weight, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end, int64_t groups, int residual, int activation) {
    const int values = int(net->layers.size()) + 1;
    if (input < 0 || input >= values || residual >= values) throw std::invalid_argument("oneDNN: no such value");
    // The sum is written into the residual's buffer: it must be neither the convolution's input nor the caller's.
    if (residual == input || residual == 0) throw std::invalid_argument("oneDNN: that residual cannot be summed");
    const at::Tensor &w = unwrap(weight);
    if (w.dim() != 4) throw std::invalid_argument("oneDNN: a convolution's weight must be 4-d");
    if (groups < 1 || w.size(0) % groups != 0) {
        throw std::invalid_argument("oneDNN: a convolution's groups must divide its output channels");
    }
    if (stride[0] < 1 || stride[1] < 1 || std::min({pad_begin[0], pad_begin[1], pad_end[0], pad_end[1]}) < 0) {
        throw std::invalid_argument("oneDNN: strides must be at least 1 and paddings at least 0");
    }
    if (activation < 0 || activation > 2) throw std::invalid_argument("oneDNN: no such activation");
    Layer layer;
    layer.input = input;
    layer.residual = residual;
    layer.activation = activation;
    layer.stride = dims2(stride);
    layer.pad_begin = dims2(pad_begin);
    layer.pad_end = dims2(pad_end);
    layer.groups = groups;
    return layer;
}

/// `t` as a float32 CPU tensor of its own: the plans pack it later, and the caller's tensor may change meanwhile.
at::Tensor own_copy(qt_tensor t) { return unwrap(t).to(at::kFloat).contiguous().cpu().clone(); }

/// The bias of a convolution with `channels` outputs, as its own copy (undefined for none).
at::Tensor own_bias(qt_tensor bias, int64_t channels) {
    if (!bias) return at::Tensor();
    at::Tensor b = own_copy(bias);
    if (b.numel() != channels) throw std::invalid_argument("oneDNN: one bias per output channel");
    return b;
}

/// An INT8 network's value made with `scale` and `zero_point`: uint8, or float32 where `float_allowed` and `scale` is
/// 0. Throws for a scale that is not finite and positive (as a float), or a zero point outside 0…255.
Quant value_quant(double scale, int64_t zero_point, bool float_allowed) {
    if (float_allowed && scale == 0) return Quant{1, 0, true};
    if (!std::isfinite(scale) || !(float(scale) > 0) || zero_point < 0 || zero_point > 255) {
        throw std::invalid_argument(std::string("oneDNN INT8: a value needs a finite positive scale") +
                                    (float_allowed ? " (or 0: float32)" : "") + " and a zero point in 0…255");
    }
    return Quant{float(scale), int32_t(zero_point)};
}

}  // namespace

extern "C" {

int qt_dnnl_available(void) { return 1; }

qt_dnnl qt_dnnl_new(int bf16) { QT_GUARD(nullptr, return new_network(bf16 ? dt::bf16 : dt::f32);) }

qt_dnnl qt_dnnl_new_int8(double scale, int64_t zero_point) {
    QT_GUARD(nullptr, {
        const Quant input = value_quant(scale, zero_point, true);
        qt_dnnl net = new_network(dt::u8);
        net->quant.push_back(input);
        return net;
    })
}

int qt_dnnl_conv(
    qt_dnnl net, int input, qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end, int64_t groups, int residual, int activation) {
    QT_GUARD(-1, {
        if (net->int8()) throw std::invalid_argument("oneDNN: an INT8 network takes qt_dnnl_conv_int8");
        Layer layer = conv_layer(net, input, weight, stride, pad_begin, pad_end, groups, residual, activation);
        layer.weight = own_copy(weight);
        layer.bias = own_bias(bias, layer.weight.size(0));
        net->layers.push_back(std::move(layer));
        return int(net->layers.size());
    })
}

int qt_dnnl_conv_int8(
    qt_dnnl net, int input, qt_tensor integers, qt_tensor weight_scales, qt_tensor bias, const int64_t *stride,
    const int64_t *pad_begin, const int64_t *pad_end, int64_t groups, int residual, int activation, double scale,
    int64_t zero_point) {
    QT_GUARD(-1, {
        if (!net->int8()) throw std::invalid_argument("oneDNN: qt_dnnl_conv_int8 takes an INT8 network");
        const Quant out = value_quant(scale, zero_point, false);
        Layer layer = conv_layer(net, input, integers, stride, pad_begin, pad_end, groups, residual, activation);
        for (int v : {input, residual}) {
            if (v >= 0 && net->quant.at(v).is_float) {
                throw std::invalid_argument("oneDNN INT8: value " + std::to_string(v) +
                                            " is float32; an INT8 convolution reads uint8 values");
            }
        }
        const at::Tensor w = own_copy(integers);
        const int64_t oc = w.size(0);
        const at::Tensor ws = own_copy(weight_scales);
        if (ws.numel() != oc) throw std::invalid_argument("oneDNN INT8: one weight scale per output channel");
        if (w.abs().max().item<float>() > 127) throw std::invalid_argument("oneDNN INT8: weights beyond ±127");
        layer.weight = w.round().to(at::kChar);
        const float s_in = net->quant.at(input).scale;
        layer.out = out;
        // oneDNN adds the bias to the int32 sums, before the output scales: in units of s_in · s_w.
        const at::Tensor b = bias ? own_bias(bias, oc) : at::zeros({oc}, at::kFloat);
        layer.bias = (b / (ws * s_in)).contiguous();
        const at::Tensor o = (ws * (s_in / float(scale))).contiguous();
        layer.output_scales.assign(o.data_ptr<float>(), o.data_ptr<float>() + oc);
        net->layers.push_back(std::move(layer));
        net->quant.push_back(out);
        return int(net->layers.size());
    })
}

int qt_dnnl_conv_float_int8(
    qt_dnnl net, int input, qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end, int64_t groups, int activation, double scale, int64_t zero_point) {
    QT_GUARD(-1, {
        if (!net->int8()) throw std::invalid_argument("oneDNN: qt_dnnl_conv_float_int8 takes an INT8 network");
        const Quant out = value_quant(scale, zero_point, true);
        Layer layer = conv_layer(net, input, weight, stride, pad_begin, pad_end, groups, -1, activation);
        if (!net->quant.at(input).is_float) {
            throw std::invalid_argument("oneDNN INT8: value " + std::to_string(input) +
                                        " is uint8; a float32 convolution reads float32 values");
        }
        layer.float_compute = true;
        layer.weight = own_copy(weight);
        layer.bias = own_bias(bias, layer.weight.size(0));
        layer.out = out;
        net->layers.push_back(std::move(layer));
        net->quant.push_back(net->layers.back().out);
        return int(net->layers.size());
    })
}

int qt_dnnl_max_pool(
    qt_dnnl net, int input, const int64_t *kernel, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end) {
    QT_GUARD(-1, {
        const int values = int(net->layers.size()) + 1;
        if (input < 0 || input >= values) throw std::invalid_argument("oneDNN: no such value");
        if (std::min({kernel[0], kernel[1], stride[0], stride[1]}) < 1 ||
            std::min({pad_begin[0], pad_begin[1], pad_end[0], pad_end[1]}) < 0) {
            throw std::invalid_argument("oneDNN: a max pool's kernel and strides must be at least 1, paddings 0");
        }
        Layer layer;
        layer.pool = true;
        layer.input = input;
        layer.kernel = dims2(kernel);
        layer.stride = dims2(stride);
        layer.pad_begin = dims2(pad_begin);
        layer.pad_end = dims2(pad_end);
        net->layers.push_back(std::move(layer));
        // A max pool keeps its input's grid.
        if (net->int8()) net->quant.push_back(net->quant.at(input));
        return values;
    })
}

qt_tensor qt_dnnl_run(qt_dnnl net, qt_tensor x, int output) {
    QT_GUARD(nullptr, {
        const at::Tensor &t = unwrap(x);
        if (!t.is_cpu() || t.dim() != 4 || t.scalar_type() != at::kFloat) {
            throw std::invalid_argument("oneDNN: the input must be a float32 N×C×H×W tensor on the CPU");
        }
        if (output < 0 || output > int(net->layers.size())) throw std::invalid_argument("oneDNN: no such value");
        const bool channels_last = t.is_contiguous(at::MemoryFormat::ChannelsLast) && !t.is_contiguous();
        at::Tensor input = channels_last ? t : t.contiguous();
        std::unique_ptr<Plan> plan = net->take(input.sizes().vec(), channels_last, output);
        plan->input.set_data_handle(input.data_ptr());
        auto dims = plan->output.get_desc().dims();
        at::Tensor result = at::empty({dims[0], dims[1], dims[2], dims[3]}, at::kFloat);
        plan->output.set_data_handle(result.data_ptr());
        dnnl::stream s(engine());
        for (auto &[primitive, args] : plan->steps) primitive.execute(s, args);
        s.wait();
        net->give_back(std::move(plan));
        return wrap(result);
    })
}

void qt_dnnl_free(qt_dnnl net) { delete net; }

}  // extern "C"

#else  // built without oneDNN's headers (a downloaded libtorch carries its own oneDNN, hidden)

struct qt_dnnl_s {};

extern "C" {
int qt_dnnl_available(void) { return 0; }
qt_dnnl qt_dnnl_new(int) {
    qt::set_error("this build of Quadrat has no oneDNN (it needs Debian's libdnnl-dev and Debian's libtorch)");
    return nullptr;
}
int qt_dnnl_conv(qt_dnnl, int, qt_tensor, qt_tensor, const int64_t *, const int64_t *, const int64_t *, int64_t, int,
                 int) {
    return -1;
}
int qt_dnnl_max_pool(qt_dnnl, int, const int64_t *, const int64_t *, const int64_t *, const int64_t *) { return -1; }
qt_dnnl qt_dnnl_new_int8(double, int64_t) { return qt_dnnl_new(0); }
int qt_dnnl_conv_int8(qt_dnnl, int, qt_tensor, qt_tensor, qt_tensor, const int64_t *, const int64_t *, const int64_t *,
                      int64_t, int, int, double, int64_t) {
    return -1;
}
int qt_dnnl_conv_float_int8(qt_dnnl, int, qt_tensor, qt_tensor, const int64_t *, const int64_t *, const int64_t *,
                            int64_t, int, double, int64_t) {
    return -1;
}
qt_tensor qt_dnnl_run(qt_dnnl, qt_tensor, int) { return nullptr; }
void qt_dnnl_free(qt_dnnl) {}
}

#endif
