import Foundation
import Learn
import Vision

/// `predict --events FILE`: one row per event (a burst of photos by one camera, ``Bursts``), the table camera-trap
/// users feed into occupancy and activity analyses: the photo count, the first and last capture time, the camera,
/// the highest probability of each class over the event, the class decided for the event and its photos.
///
/// The event's class, with an `emptyClass` (`--empty-class`): that class when every photo is decided so, else the
/// other class with the highest probability in any photo (an animal seen once in the burst was there). Without one:
/// for two classes, the model's decision on the highest probability of the second class; for more, the class with
/// the highest probability in any photo.
public enum EventTable {
    /// The CSV text for `items` with `probabilities` (calibrated, one row each), bursts `gap` seconds apart.
    public static func render(
        _ items: [ImageItem], probabilities: [[Double]], model: SavedModel, tta: Bool, gap: Double,
        emptyClass: Int? = nil
    ) -> (text: String, events: Int, untimed: Int) {
        let tags: [EXIF.Tags?] = items.map { EXIF.tags(ofFile: $0.url) }
        let events = Bursts.events(items, tags: tags, gap: gap)
        var text =
            CSVTable.row(
                ["event", "photos", "first_taken", "last_taken", "camera"] + model.classes.map { "max_\($0)" }
                    + ["decided", "images"]) + "\n"
        for (e, event) in events.enumerated() {
            let highest = model.classes.indices.map { c in event.members.map { probabilities[$0][c] }.max() ?? 0 }
            let decided = eventClass(
                highest, decisions: event.members.map { model.decide(probabilities[$0], tta: tta) },
                emptyClass: emptyClass, decideBinary: { model.decide($0, tta: tta) })
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

    /// The class of one event from each class's highest probability over it and each photo's decision.
    public static func eventClass(
        _ highest: [Double], decisions: [Int], emptyClass: Int?, decideBinary: ([Double]) -> Int
    ) -> Int {
        if let emptyClass {
            guard decisions.contains(where: { $0 != emptyClass }) else { return emptyClass }
            return highest.indices.filter { $0 != emptyClass }.max { highest[$0] < highest[$1] } ?? emptyClass
        }
        return highest.count == 2 ? decideBinary([1 - highest[1], highest[1]]) : Metrics.argmax(highest)
    }
}
