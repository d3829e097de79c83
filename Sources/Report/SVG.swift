import Foundation

/// Small SVG charts for the report: no plotting package on this machine fits (the Swift
/// packages at hand are for servers and parsing), so these stay minimal and dependency-free.
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

    /// A line chart; `logX` plots x on a log scale; `marks` draws labelled vertical lines.
    public static func lineChart(
        _ series: [Series], title: String, xLabel: String, yLabel: String, logX: Bool = false,
        marks: [(x: Double, label: String)] = [], width: Int = 560, height: Int = 300,
        yRange: ClosedRange<Double>? = nil
    ) -> String {
        let all = series.flatMap(\.points).filter { $0.y.isFinite && (!logX || $0.x > 0) }
        guard !all.isEmpty else { return "<p>(no data for \(escape(title)))</p>" }
        let tx: (Double) -> Double = logX ? { log10($0) } : { $0 }
        let xs = all.map { tx($0.x) }
        let (x0, x1) = (xs.min()!, max(xs.max()!, xs.min()! + 1e-9))
        var (y0, y1) = yRange.map { ($0.lowerBound, $0.upperBound) } ?? (all.map(\.y).min()!, all.map(\.y).max()!)
        if y1 - y0 < 1e-12 {
            y0 -= 0.5
            y1 += 0.5
        }
        let (left, right, top, bottom) = (56.0, 16.0, 28.0, 40.0)
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        func px(_ x: Double) -> Double { left + (tx(x) - x0) / (x1 - x0) * w }
        func py(_ y: Double) -> Double { top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * h }
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' class='chart'>"
        s += "<text x='\(Int(left))' y='16' class='title'>\(escape(title))</text>"
        s += "<rect x='\(left)' y='\(top)' width='\(w)' height='\(h)' fill='none' stroke='#999'/>"
        for k in 0...4 {
            let yv = y0 + Double(k) / 4 * (y1 - y0), y = py(yv)
            s +=
                "<line x1='\(left)' x2='\(left + w)' y1='\(y)' y2='\(y)' stroke='#eee'/><text x='\(left - 4)' y='\(y + 4)' text-anchor='end' class='tick'>\(tick(yv))</text>"
            let xv = x0 + Double(k) / 4 * (x1 - x0), x = left + Double(k) / 4 * w
            s +=
                "<text x='\(x)' y='\(top + h + 14)' text-anchor='middle' class='tick'>\(logX ? tick(pow(10, xv)) : tick(xv))</text>"
        }
        s +=
            "<text x='\(left + w / 2)' y='\(Double(height) - 6)' text-anchor='middle' class='label'>\(escape(xLabel))</text>"
        s +=
            "<text x='12' y='\(top + h / 2)' transform='rotate(-90 12 \(top + h / 2))' text-anchor='middle' class='label'>\(escape(yLabel))</text>"
        for (i, serie) in series.enumerated() {
            let pts = serie.points.filter { $0.y.isFinite && (!logX || $0.x > 0) }
            if serie.dots {
                for p in pts { s += "<circle cx='\(px(p.x))' cy='\(py(p.y))' r='3' fill='\(serie.color)'/>" }
            } else if !pts.isEmpty {
                s +=
                    "<polyline fill='none' stroke='\(serie.color)' stroke-width='1.5' points='"
                    + pts.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ") + "'/>"
            }
            s +=
                "<text x='\(left + w - 4)' y='\(top + 14 + Double(i) * 14)' text-anchor='end' fill='\(serie.color)' class='tick'>\(escape(serie.name))</text>"
        }
        for m in marks where !logX || m.x > 0 {
            let x = px(m.x)
            s +=
                "<line x1='\(x)' x2='\(x)' y1='\(top)' y2='\(top + h)' stroke='#d62728' stroke-dasharray='4 3'/><text x='\(x + 3)' y='\(top + 12)' class='tick' fill='#d62728'>\(escape(m.label))</text>"
        }
        return s + "</svg>"
    }

    /// A histogram of `values` in `bins` bins.
    public static func histogram(
        _ values: [Double], bins: Int = 20, title: String, xLabel: String, color: String = "#1f77b4", width: Int = 420,
        height: Int = 240
    ) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "<p>(no data)</p>" }
        let span = max(hi - lo, 1)
        var counts = [Int](repeating: 0, count: bins)
        for v in values { counts[min(bins - 1, Int((v - lo) / span * Double(bins)))] += 1 }
        let (left, top, bottom) = (40.0, 28.0, 40.0)
        let w = Double(width) - left - 10, h = Double(height) - top - bottom
        let peak = Double(counts.max() ?? 1)
        var s =
            "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' class='chart'><text x='\(Int(left))' y='16' class='title'>\(escape(title))</text>"
        for (i, c) in counts.enumerated() {
            let bh = Double(c) / peak * h, bw = w / Double(bins)
            s +=
                "<rect x='\(fmt(left + Double(i) * bw))' y='\(fmt(top + h - bh))' width='\(fmt(bw - 1))' height='\(fmt(bh))' fill='\(color)'><title>\(c)</title></rect>"
        }
        s +=
            "<text x='\(left)' y='\(top + h + 14)' class='tick'>\(tick(lo))</text><text x='\(left + w)' y='\(top + h + 14)' text-anchor='end' class='tick'>\(tick(hi))</text>"
        s += "<text x='\(left - 4)' y='\(top + 8)' text-anchor='end' class='tick'>\(Int(peak))</text>"
        s +=
            "<text x='\(left + w / 2)' y='\(Double(height) - 6)' text-anchor='middle' class='label'>\(escape(xLabel))</text></svg>"
        return s
    }

    static func tick(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        return a >= 1e4 || a < 1e-2
            ? String(format: "%.1e", v) : (a >= 100 ? String(format: "%.0f", v) : String(format: "%.3g", v))
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// HTML-escapes text.
public func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;").replacingOccurrences(
            of: "\"", with: "&quot;")
}
