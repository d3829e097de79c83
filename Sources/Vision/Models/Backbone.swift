import NN
import Torch

/// A backbone body: the feature extractor of a classifier, made of stages that the model table
/// splits into two layer groups.
public protocol Backbone: Module {
    /// The last feature map (N × ``featureWidth`` × h × w).
    func features(_ x: Tensor) throws -> Tensor
    /// Channels of the last feature map, read off the network.
    var featureWidth: Int { get }
    /// The body's two layer groups (early, late) for freezing and discriminative learning rates:
    /// the late group starts at stage `lateStage` (``ModelMeta/lateStage``).
    func bodyGroups(lateStage: Int) -> [[Module]]
    /// ``features(_:)`` up to the end of the early group of ``bodyGroups(lateStage:)``, as steps applied in turn (the
    /// stem, then each block or stage). While its BatchNorm layers use their running statistics, each step treats the
    /// photos of a batch one by one and draws its random numbers (stochastic depth) one per photo with `Tensor.rand`,
    /// so it may run over slices of the batch (``Classifier/earlySliceSize``); a step that mixed photos or drew
    /// otherwise (`bernoulli`) would break that.
    func earlySteps(lateStage: Int) -> [(Tensor) throws -> Tensor]
    /// ``features(_:)`` from the output of ``earlyFeatures(_:lateStage:)`` on: the late group.
    func lateFeatures(_ y: Tensor, lateStage: Int) throws -> Tensor
    /// Folds BatchNorm into the convolutions (eval-only copies), storing the folded weights as `dtype` in `format`.
    func foldBatchNorms(dtype: DType, format: MemoryFormat) throws
    /// ``features(_:)`` in eval mode as nodes of `graph` (BatchNorm folded), for a square input of `side` pixels.
    func exportFeatures(_ input: String, side: Int, into graph: inout InferenceGraph) throws -> String
}

extension Backbone {
    /// ``features(_:)`` up to the end of the early group of ``bodyGroups(lateStage:)``: ``earlySteps(lateStage:)``.
    public func earlyFeatures(_ x: Tensor, lateStage: Int) throws -> Tensor {
        try earlySteps(lateStage: lateStage).reduce(x) { try $1($0) }
    }

    /// ``features(_:)`` with the early group run over slices of `slice` photos
    /// (``Classifier/inSlices(_:of:through:)``); the late group gets the whole batch.
    public func features(_ x: Tensor, earlySlices slice: Int, lateStage: Int) throws -> Tensor {
        let early = try Classifier.inSlices(x, of: slice, through: earlySteps(lateStage: lateStage))
        return try lateFeatures(early, lateStage: lateStage)
    }

    /// Turns this network into a fast eval-only copy: BatchNorm folded into the convolutions,
    /// weights channels-last, remaining parameters (the classifier) in `dtype`.
    /// Feed it channels-last input of the same dtype, inside `Torch.inferenceMode`.
    public func prepareForInference(dtype: DType = .float32) throws {
        eval()
        try foldBatchNorms(dtype: dtype, format: .channelsLast)
        try convert(to: .channelsLast)
        if dtype != .float32 { try convert(to: dtype) }
    }
}

extension EfficientNetLite: Backbone {
    public var featureWidth: Int { head.conv.weight.shape[0] }

    /// Early: stem and the stages before `lateStage`; late: the rest and the 1×1 head convolution.
    public func bodyGroups(lateStage: Int) -> [[Module]] {
        let split = lateStart(lateStage)
        return [
            [stem.conv, stem.bn] + blocks[..<split].map { $0 as Module },
            blocks[split...].map { $0 as Module } + [head.conv, head.bn],
        ]
    }
}

extension ResNet: Backbone {
    /// Early: stem and `layer1…layer<lateStage>`; late: the remaining layers.
    public func bodyGroups(lateStage: Int) -> [[Module]] {
        let split = lateStart(lateStage)
        return [[stem.conv, stem.bn] + layers[..<split].map { $0 as Module }, layers[split...].map { $0 as Module }]
    }
}
