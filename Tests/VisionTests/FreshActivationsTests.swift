import TestSupport
import Testing
import Torch
import Vision

/// Without a gradient, the backbones apply their activations and residual sums in place on each layer's fresh output
/// (Sources/Vision/Models/FreshActivations.swift).
@Suite("In-place inference")
struct FreshActivationsTests {
    /// The logits equal those computed with autograd on (out of place), and the input is left as it was.
    @Test func inPlaceInferenceEqualsAutogradAndKeepsItsInput() throws {
        let x = try patternInput(batch: 2, size: 96)
        let before = try x.clone()
        for model in [try ResNet(.resnet18) as Backbone, try EfficientNetLite(.lite0, dropConnect: 0, dropout: 0)] {
            model.eval()
            let inPlace = try Torch.withoutGrad { try model(x) }
            let recorded = try model(x).detached()
            let scale = try recorded.abs().max().item()
            #expect(try maxAbsDifference(inPlace, recorded) <= 1e-6 * scale, "\(type(of: model))")
            #expect(try maxAbsDifference(x, before) == 0, "\(type(of: model)) changed its input")
        }
    }
}
