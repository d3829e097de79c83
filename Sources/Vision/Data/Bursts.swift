import Foundation

/// Photos taken in one go (a camera trap's burst, a drone's pass over one module): the same camera model in the same
/// folder, each taken within `gap` seconds of the one before, by EXIF DateTimeOriginal. A photo without a readable
/// capture time is an event of its own.
public enum Bursts {
    /// One event: its photos (indices, in time order) and the first and last capture times.
    public struct Event: Sendable, Equatable {
        public var members: [Int]
        public var first: Double?, last: Double?
    }

    /// The events of photos `items` with EXIF `tags` (nil: unreadable), in order of their first photo's index.
    public static func events(_ items: [ImageItem], tags: [EXIF.Tags?], gap: Double) -> [Event] {
        precondition(items.count == tags.count)
        var timed: [String: [(time: Double, index: Int)]] = [:]
        var events: [Event] = []
        for (i, item) in items.enumerated() {
            guard let time = tags[i]?.takenSeconds else {
                events.append(Event(members: [i], first: nil, last: nil))
                continue
            }
            let camera = "\(item.url.deletingLastPathComponent().path)|\(tags[i]?.model ?? "")"
            timed[camera, default: []].append((time, i))
        }
        for shots in timed.values {
            var current: [(time: Double, index: Int)] = []
            for shot in shots.sorted(by: { ($0.time, $0.index) < ($1.time, $1.index) }) {
                if let last = current.last, shot.time - last.time > gap {
                    events.append(event(current))
                    current = []
                }
                current.append(shot)
            }
            if !current.isEmpty { events.append(event(current)) }
        }
        return events.sorted { ($0.members.min() ?? 0) < ($1.members.min() ?? 0) }
    }

    static func event(_ shots: [(time: Double, index: Int)]) -> Event {
        Event(members: shots.map(\.index), first: shots.first?.time, last: shots.last?.time)
    }

    /// A capture time as EXIF writes it ("2026:05:01 12:00:03"), from seconds since 1970.
    public static func text(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        let days = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
        let (y, m, d) = civil(fromDays: days)
        let r = s - days * 86_400
        return String(format: "%04d:%02d:%02d %02d:%02d:%02d", y, m, d, r / 3600, r / 60 % 60, r % 60)
    }

    /// The date of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
