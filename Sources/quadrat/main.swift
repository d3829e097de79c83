import Foundation
import Torch
let sd = try Checkpoint.load(URL(fileURLWithPath: CommandLine.arguments[1]))
print(sd.count)
let w = sd["_conv_stem.weight"]!
print(w.shape, w.strides, try w.flattened().narrowed(dim: 0, 0..<5).floats())
