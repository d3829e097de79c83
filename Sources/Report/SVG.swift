import Foundation

/// Small SVG charts for the report: no plotting package on this machine fits (the Swift
/// packages at hand are for servers and parsing), so these stay minimal and dependency-free.
///
/// Axes are ticked at 1-2-5 steps (0.2, 0.4, 0.6 or 10, 20, 30…) and log axes at decades; the value range is
/// widened to whole ticks. Marks (labelled vertical lines) stagger their labels so that they never overlap, and
/// regions (phases of training) are shaded alternately and named at the top.
public enum SVG {
    /// One line (or set of dots) of a chart.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: String
        public var dots = false
        public init(_ name: String, _ points: [(x: Double, y: Double)], color: String, dots: Bool = false) {
            self.name = name
            self.points = points
            self.color = color
            self.dots = dots
        }
    }

    /// A stretch of the x axis with a name (a training phase).
    public struct Region {
        public var from: Double, to: Double
        public var label: String
        public init(from: Double, to: Double, label: String) { (self.from, self.to, self.label) = (from, to, label) }
    }

    /// The width that lets two charts sit side by side in the report's column and wrap below each other on
    /// narrow screens.
    public static let columnWidth = 530

    /// A line chart; `logX`/`logY` plot on log scales; `marks` draws labelled vertical lines; `regions` shades
    /// stretches of x and names them.
    public static func lineChart(
        _ series: [Series], title: String, xLabel: String, yLabel: String, logX: Bool = false, logY: Bool = false,
        marks: [(x: Double, label: String)] = [], regions: [Region] = [], width: Int = columnWidth,
        height: Int = 300, yRange: ClosedRange<Double>? = nil
    ) -> String {
        let all = series.flatMap(\.points).filter {
            $0.y.isFinite && $0.x.isFinite && (!logX || $0.x > 0) && (!logY || $0.y > 0)
        }
        guard let xMin = all.map(\.x).min(), let xMax = all.map(\.x).max(), let yMin = all.map(\.y).min(),
            let yMax = all.map(\.y).max()
        else { return "<p>(no data for \(escape(title)))</p>" }
        let xAxis = Axis(xMin, xMax, log: logX, widen: false)
        let yAxis =
            yRange.map { Axis($0.lowerBound, $0.upperBound, log: logY, widen: false) }
            ?? Axis(yMin, yMax, log: logY, widen: true)
        // The legend goes in a row under the x-axis title, where no line, mark or label can run into it.
        let named = series.filter { !$0.name.isEmpty }
        let legendRows = legendLayout(named.map(\.name), left: 62, width: Double(width)).last?.row ?? -1
        let (left, right, top, bottom) = (62.0, 16.0, 30.0, 42.0 + 16 + 12 * Double(legendRows))
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        func px(_ x: Double) -> Double { left + xAxis.fraction(x) * w }
        func py(_ y: Double) -> Double { top + (1 - min(max(yAxis.fraction(y), 0), 1)) * h }
        var s =
            "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' viewBox='0 0 \(width) \(height)' class='chart'>"
        s += "<text x='\(Int(left))' y='16' class='title'>\(escape(title))</text>"
        for (i, region) in regions.enumerated() {
            let a = px(max(region.from, xAxis.low)), b = px(min(region.to, xAxis.high))
            guard b > a else { continue }
            if i % 2 == 1 { s += "<rect x='\(fmt(a))' y='\(top)' width='\(fmt(b - a))' height='\(h)' fill='#f3f5f8'/>" }
            if i > 0 { s += "<line x1='\(fmt(a))' x2='\(fmt(a))' y1='\(top)' y2='\(top + h)' stroke='#b8c0cc'/>" }
            if b - a > 40 {
                s +=
                    "<text x='\(fmt((a + b) / 2))' y='\(top + h - 6)' text-anchor='middle' class='region'>\(escape(region.label))</text>"
            }
        }
        s += "<rect x='\(left)' y='\(top)' width='\(w)' height='\(h)' fill='none' stroke='#999'/>"
        for v in yAxis.ticks {
            let y = py(v)
            s +=
                "<line x1='\(left)' x2='\(left + w)' y1='\(fmt(y))' y2='\(fmt(y))' stroke='#e6e6e6'/><text x='\(left - 4)' y='\(fmt(y + 4))' text-anchor='end' class='tick'>\(yAxis.label(v))</text>"
        }
        for v in xAxis.ticks {
            let x = px(v)
            s +=
                "<line x1='\(fmt(x))' x2='\(fmt(x))' y1='\(top + h)' y2='\(top + h + 4)' stroke='#999'/><text x='\(fmt(x))' y='\(top + h + 16)' text-anchor='middle' class='tick'>\(xAxis.label(v))</text>"
        }
        s +=
            "<text x='\(left + w / 2)' y='\(fmt(top + h + 32))' text-anchor='middle' class='label'>\(escape(xLabel))</text>"
        s +=
            "<text x='14' y='\(top + h / 2)' transform='rotate(-90 14 \(top + h / 2))' text-anchor='middle' class='label'>\(escape(yLabel))</text>"
        for serie in series {
            let pts = serie.points.filter {
                $0.y.isFinite && $0.x.isFinite && (!logX || $0.x > 0) && (!logY || $0.y > 0)
            }
            if serie.dots {
                for p in pts { s += "<circle cx='\(fmt(px(p.x)))' cy='\(fmt(py(p.y)))' r='3' fill='\(serie.color)'/>" }
            } else if !pts.isEmpty {
                s +=
                    "<polyline fill='none' stroke='\(serie.color)' stroke-width='1.5' points='"
                    + pts.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ") + "'/>"
            }
        }
        // Legend: entries side by side under the x-axis title, wrapping to new rows.
        for (serie, place) in zip(named, legendLayout(named.map(\.name), left: left, width: Double(width))) {
            let y = top + h + 48 + 12 * Double(place.row)
            s +=
                "<line x1='\(fmt(place.x))' x2='\(fmt(place.x + 12))' y1='\(fmt(y - 4))' y2='\(fmt(y - 4))' stroke='\(serie.color)' stroke-width='3'/><text x='\(fmt(place.x + 16))' y='\(fmt(y))' class='tick' fill='#333'>\(escape(serie.name))</text>"
        }
        s += markLines(
            marks.filter { (!logX || $0.x > 0) && xAxis.contains($0.x) }.map { (px($0.x), $0.label) }, top: top,
            height: h, right: left + w)
        return s + "</svg>"
    }

    /// Dashed vertical lines at pixel positions with their labels. A label goes on the first row where it overlaps
    /// no earlier label; near the right edge it ends at its line instead of starting there, so it reaches left.
    static func markLines(_ marks: [(x: Double, label: String)], top: Double, height h: Double, right: Double) -> String
    {
        var s = ""
        var rowEnds: [Double] = []
        for m in marks.sorted(by: { $0.x < $1.x }) {
            let x = m.x, labelWidth = Double(m.label.count) * 6 + 6
            let anchorLeft = x + labelWidth > right
            let (start, end) = anchorLeft ? (x - labelWidth, x) : (x, x + labelWidth)
            let row = rowEnds.firstIndex { $0 < start } ?? rowEnds.count
            if row == rowEnds.count { rowEnds.append(-.infinity) }
            rowEnds[row] = end
            s +=
                "<line x1='\(fmt(x))' x2='\(fmt(x))' y1='\(top)' y2='\(top + h)' stroke='#d62728' stroke-dasharray='4 3'/><text x='\(fmt(anchorLeft ? x - 3 : x + 3))' y='\(fmt(top + 12 + Double(row) * 13))' text-anchor='\(anchorLeft ? "end" : "start")' class='tick' fill='#d62728'>\(escape(m.label))</text>"
        }
        return s
    }

    /// A histogram of `values` in `bins` bins, counts on the y axis.
    public static func histogram(
        _ values: [Double], bins: Int = 20, title: String, xLabel: String, yLabel: String = "images",
        color: String = "#1f77b4", width: Int = 420, height: Int = 240, marks: [(x: Double, label: String)] = []
    ) -> String {
        guard let low = values.min(), let high = values.max() else { return "<p>(no data for \(escape(title)))</p>" }
        // The marks lie on the axis too.
        let (lo, hi) = (min(low, marks.map(\.x).min() ?? low), max(high, marks.map(\.x).max() ?? high))
        if lo == hi {
            let value = String(format: "%g", lo)
            return "<p>\(escape(title)): all \(values.count) are \(value) \(escape(xLabel)).</p>"
        }
        let span = hi - lo
        var counts = [Int](repeating: 0, count: bins)
        for v in values { counts[min(bins - 1, Int((v - lo) / span * Double(bins)))] += 1 }
        let (left, top, bottom) = (52.0, 28.0, 42.0)
        let w = Double(width) - left - 12, h = Double(height) - top - bottom
        let yAxis = Axis(0, Double(counts.max() ?? 1), log: false, widen: true, integers: true)
        let xAxis = Axis(lo, lo + span, log: false, widen: false)
        var s =
            "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' viewBox='0 0 \(width) \(height)' class='chart'><text x='\(Int(left))' y='16' class='title'>\(escape(title))</text>"
        for v in yAxis.ticks {
            let y = top + (1 - yAxis.fraction(v)) * h
            s +=
                "<line x1='\(left)' x2='\(left + w)' y1='\(fmt(y))' y2='\(fmt(y))' stroke='#e6e6e6'/><text x='\(left - 4)' y='\(fmt(y + 4))' text-anchor='end' class='tick'>\(yAxis.label(v))</text>"
        }
        for (i, c) in counts.enumerated() {
            let bh = yAxis.fraction(Double(c)) * h, bw = w / Double(bins)
            s +=
                "<rect x='\(fmt(left + Double(i) * bw))' y='\(fmt(top + h - bh))' width='\(fmt(bw - 1))' height='\(fmt(bh))' fill='\(color)'><title>\(c)</title></rect>"
        }
        for v in xAxis.ticks {
            let x = left + xAxis.fraction(v) * w
            s += "<text x='\(fmt(x))' y='\(top + h + 14)' text-anchor='middle' class='tick'>\(xAxis.label(v))</text>"
        }
        s += markLines(marks.map { (left + xAxis.fraction($0.x) * w, $0.label) }, top: top, height: h, right: left + w)
        s +=
            "<text x='\(left + w / 2)' y='\(Double(height) - 6)' text-anchor='middle' class='label'>\(escape(xLabel))</text>"
        s +=
            "<text x='12' y='\(top + h / 2)' transform='rotate(-90 12 \(top + h / 2))' text-anchor='middle' class='label'>\(escape(yLabel))</text></svg>"
        return s
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Where each legend entry goes: its x and its row (0 first), entries side by side until `width` is used.
    static func legendLayout(_ names: [String], left: Double, width: Double) -> [(x: Double, row: Int)] {
        var x = left, row = 0
        return names.map { name in
            let entry = Double(name.count) * 5.6 + 30
            if x + entry > width && x > left {
                x = left
                row += 1
            }
            defer { x += entry }
            return (x, row)
        }
    }
}

/// One chart axis: its range (widened to whole ticks when asked) and where its ticks go.
struct Axis {
    let log: Bool
    /// The range in data units.
    let low: Double, high: Double
    let ticks: [Double]
    /// Decimals the tick labels need (linear axes).
    let decimals: Int

    init(_ lo: Double, _ hi: Double, log: Bool, widen: Bool, integers: Bool = false) {
        self.log = log
        if log {
            let (a, b) = (Foundation.log10(lo), Swift.max(Foundation.log10(hi), Foundation.log10(lo) + 1e-9))
            let (first, last) = (a.rounded(.down), b.rounded(.up))
            let (l, h) = widen ? (pow(10, first), pow(10, last)) : (lo, Swift.max(hi, lo * (1 + 1e-9)))
            (low, high) = (l, h)
            var decades = stride(from: first, through: last, by: 1).map { pow(10, $0) }
            if last - first <= 2 {
                // Less than two decades: 2 and 5 as well, so the axis has enough labels.
                decades = decades.flatMap { [$0, 2 * $0, 5 * $0] }
            }
            ticks = decades.filter { $0 >= l * (1 - 1e-9) && $0 <= h * (1 + 1e-9) }
            decimals = 0
        } else {
            var (a, b) = (lo, hi)
            if b - a < 1e-12 {
                a -= 0.5
                b += 0.5
            }
            let step = Swift.max(Self.niceStep((b - a) / 5), integers ? 1 : 0)
            if widen {
                a = (a / step).rounded(.down) * step
                b = (b / step).rounded(.up) * step
            }
            (low, high) = (a, b)
            let start = (a / step).rounded(.up) * step
            ticks = stride(from: start, through: b + step * 1e-9, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
            decimals = Swift.max(0, Int(-Foundation.log10(step).rounded(.down)))
        }
    }

    /// 1, 2 or 5 × 10^k, the nearest to `raw` on a log scale (about five ticks for a fifth of the range).
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, Foundation.log10(raw).rounded(.down))
        let m = raw / magnitude
        return [1.0, 2, 5, 10].min { abs(Foundation.log($0 / m)) < abs(Foundation.log($1 / m)) }! * magnitude
    }

    /// Where `v` lies on the axis, 0 at `low` and 1 at `high`.
    func fraction(_ v: Double) -> Double {
        log
            ? (Foundation.log10(v) - Foundation.log10(low)) / (Foundation.log10(high) - Foundation.log10(low))
            : (v - low) / (high - low)
    }

    func contains(_ v: Double) -> Bool { v >= low && v <= high }

    /// A tick's label: plain decimals on linear axes; 0.001 to 1000 written out on log axes, 1e-5 beyond.
    func label(_ v: Double) -> String {
        if log {
            let e = Int(Foundation.log10(v).rounded(.down))
            let mantissa = v / pow(10, Double(e))
            if (-3...3).contains(e) { return String(format: "%.\(Swift.max(0, -e))f", v) }
            return mantissa.rounded() == 1 ? "1e\(e)" : String(format: "%.0fe%d", mantissa, e)
        }
        return String(format: "%.\(decimals)f", v)
    }
}

/// HTML-escapes text.
public func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;").replacingOccurrences(
            of: "\"", with: "&quot;")
}
