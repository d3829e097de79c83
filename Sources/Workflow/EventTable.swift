import Foundation
import Learn
import Vision

/// `predict --events FILE`: one row per event (a burst of photos by one camera, ``Bursts``), the table camera-trap
/// users feed into occupancy and activity analyses: the photo count, the first and last capture time, the camera,
/// the highest probability of each class over the event, the class decided for the event and its photos.
///
/// The event's class: for two classes, the model's decision on the highest probability of the second class (an
/// animal seen in any photo of the burst was there); for more, the class with the highest probability in any photo.
public enum EventTable {
    /// The CSV text for `items` with `probabilities` (calibrated, one row each), bursts `gap` seconds apart.
    public static func render(
        _ items: [ImageItem], probabilities: [[Double]], model: SavedModel, tta: Bool, gap: Double
    ) -> (text: String, events: Int, untimed: Int) {
        let tags = items.map { item in
            // An unreadable file was already left out of the predictions; here it only loses its capture time.
            (try? FileBytes.read(item.url)).map {
                ImageDecoder.format(of: $0) == .jpeg ? EXIF.tags(in: $0) : EXIF.Tags()
            }
        }
        let events = Bursts.events(items, tags: tags, gap: gap)
        var text =
            CSVTable.row(
                ["event", "photos", "first_taken", "last_taken", "camera"] + model.classes.map { "max_\($0)" }
                    + ["decided", "images"]) + "\n"
        for (e, event) in events.enumerated() {
            let highest = model.classes.indices.map { c in event.members.map { probabilities[$0][c] }.max() ?? 0 }
            let decided =
                highest.count == 2
                ? model.decide([1 - highest[1], highest[1]], tta: tta) : Metrics.argmax(highest)
            let camera = tags[event.members[0]]?.model ?? ""
            text +=
                CSVTable.row(
                    [
                        "\(e + 1)", "\(event.members.count)", event.first.map(Bursts.text) ?? "",
                        event.last.map(Bursts.text) ?? "", camera,
                    ]
                        + highest.map { ProbabilityText.text($0) }
                        + [model.classes[decided], event.members.map { items[$0].name }.joined(separator: " ")]) + "\n"
        }
        let untimed = tags.filter { $0?.takenSeconds == nil }.count
        return (text, events.count, untimed)
    }
}
