import Foundation
import Torch

/// What training sees of a photo: for one seeded-random photo per class, the validation view (centre crop, squish or pad) and
/// `views` augmented views, made by the same steps as the training loader (random crop along the longer side,
/// then the batch augmentation). Shown by `explore` and the training report to choose a preset by eye.
public enum AugmentationPreview {
    /// One row per class: (class name, pictures), the validation view first. Photos that cannot be read are
    /// passed over for the next one of the class.
    public static func rows(
        _ dataset: ImageDataset, augmentation: Augmentation, size: Int, views: Int = 6, cache: PresizeCache? = nil,
        seed: UInt64 = 42, resize: ResizeMethod = .crop
    ) -> [(String, [RGBImage])] {
        dataset.classes.enumerated().compactMap { c, name in
            var random = SeededRandom(seed: seed &+ UInt64(c))
            for item in dataset.items.filter({ $0.label == c }).shuffled(using: &random) {
                // A photo that cannot be read is passed over; `check` and the report's problems list it.
                guard let image = try? cache?.image(for: item.url) ?? ImageDecoder(minimumSide: size).decode(item.url),
                    let pictures = try? pictures(
                        image, augmentation: augmentation, size: size, views: views, seed: seed, resize: resize)
                else { continue }
                return (name, pictures)
            }
            return nil
        }
    }

    /// The validation view of `image` and `views` augmented ones.
    public static func pictures(
        _ image: RGBImage, augmentation: Augmentation, size: Int, views: Int, seed: UInt64,
        resize: ResizeMethod = .crop
    ) throws -> [RGBImage] {
        let transform = ItemTransform(size: size, method: resize)
        var none: SeededRandom? = nil
        var crops = [transform.apply(image, random: &none)]
        var cropRandom: SeededRandom? = SeededRandom(seed: seed, stream: 0xC0)
        for _ in 0..<views { crops.append(transform.apply(image, random: &cropRandom)) }
        var batchRandom = SeededRandom(seed: seed, stream: 0xA6)
        let augmented = try augmentation.apply(
            Tensor(crops[1...].flatMap { $0 }, shape: [views, 3, size, size]), random: &batchRandom)
        return try [RGBImage(tensor: Tensor(crops[0], shape: [3, size, size]))]
            + (0..<views).map { try RGBImage(tensor: augmented.selecting(dim: 0, $0)) }
    }
}
