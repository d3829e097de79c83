import Foundation
import Learn
import Torch
import Vision

/// The page around the report's sections, and its pictures: one self-contained HTML file (inline SVG charts,
/// base64 JPEG thumbnails, no script, no external asset), so it opens offline and can be mailed as is.
///
/// Thumbnails are stored at 256 px and shown at 120; clicking one (it takes focus) shows it large over the page,
/// clicking elsewhere closes it. On a phone the charts shrink to the screen's width (they carry a viewBox) and wide
/// tables scroll inside their box. Error grids can carry a Grad-CAM picture per photo, shown instead of the photo
/// when the section's "show heat maps" box is ticked. All of it is CSS.
enum ReportPage {
    static func page(title: String, sections: [String]) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 16px; color: #222; }
        h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
        table { border-collapse: collapse; margin: .5em 0; display: block; max-width: 100%; overflow-x: auto; }
        td:first-child, th { white-space: nowrap; } .tables > div { max-width: 100%; min-width: 0; }
        svg.chart { max-width: 100%; height: auto; } .second { font-size: 1.1em; margin-bottom: 0; }
        td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
        td.text, th.text { text-align: left; } tr.best td { background: #e8f4e0; font-weight: 600; }
        th { background: #f4f4f4; } .grid { display: flex; flex-wrap: wrap; gap: 6px; }
        .tables { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
        figure { margin: 0; width: 126px; font-size: .72em; text-align: center; cursor: zoom-in; outline: none; }
        figure img { width: 120px; height: 120px; object-fit: cover; border: 3px solid #ccc; display: block; }
        figure.ok img { border-color: #2ca02c; } figure.bad img { border-color: #d62728; }
        figure.whole img.photo { object-fit: contain; background: #111; }
        figure:focus img { position: fixed; z-index: 10; top: 50%; left: 50%; transform: translate(-50%, -50%);
          width: min(80vw, 80vh); height: min(80vw, 80vh); object-fit: contain; background: #111; cursor: zoom-out;
          box-shadow: 0 0 0 100vmax rgba(0, 0, 0, .65); }
        figure img.heat { display: none; }
        .heat-toggle:checked ~ .grid figure img.heat { display: block; }
        .heat-toggle:checked ~ .grid figure img.photo { display: none; }
        .chart text.title { font-weight: 600; font-size: 13px; } .chart text.tick { font-size: 10px; }
        .chart text.label { font-size: 11px; } .chart text.region { font-size: 10px; fill: #667; }
        .charts { display: flex; flex-wrap: wrap; gap: 16px; } .charts > * { max-width: 100%; }
        .big { font-size: 1.3em; margin-bottom: 0; } .note { color: #555; }
        @media (max-width: 600px) { body { margin: 1em auto; padding: 0 10px; } .big { font-size: 1.1em; } }
        </style></head><body>
        <h1>\(escape(title))</h1>
        \(sections.joined(separator: "\n"))
        <p style="color:#888">Made by Quadrat \(quadratVersion) on libtorch \(Torch.version).</p>
        </body></html>
        """
    }

    /// A thumbnail figure (base64 JPEG, from the presize cache when there is one); `heat` adds the heat-map
    /// picture that the section's toggle shows instead.
    static func figure(
        _ item: ImageItem, caption: String, cache: PresizeCache?, style: String, heat: RGBImage? = nil
    ) -> String {
        let photo = thumbnail(item.url, cache: cache).map {
            "<img class='photo' alt='\(escape(item.name))' src='data:image/jpeg;base64,\($0)'>"
        }
        // A heat map that cannot be encoded is left out; the photo still shows.
        let heatImage = heat.flatMap { try? ImageEncoder.jpeg($0, quality: 85) }.map {
            "<img class='heat' alt='heat map of \(escape(item.name))' src='data:image/jpeg;base64,\($0.base64EncodedString())'>"
        }
        return "<figure class='\(style)' tabindex='0'>" + (photo ?? "<div>(unreadable)</div>") + (heatImage ?? "")
            + "<figcaption>\(escape(caption))</figcaption></figure>"
    }

    /// A titled grid of figures, or "none" when there are none.
    static func grid(_ title: String, _ figures: [String]) -> String {
        "<h3>\(escape(title))</h3>"
            + (figures.isEmpty ? "<p>none</p>" : "<div class='grid'>" + figures.joined() + "</div>")
    }

    /// nil when the image cannot be read: the figure then says "(unreadable)" and the problems section why.
    static func thumbnail(_ url: URL, cache: PresizeCache?) -> String? {
        guard let image = try? cache?.image(for: url) ?? ImageDecoder(minimumSide: 256).decode(url),
            let small = try? RGBImage(
                tensor: Resize.shorterSide(image.tensor(), to: min(256, image.width, image.height))),
            let jpeg = try? ImageEncoder.jpeg(small, quality: 80)
        else { return nil }
        return jpeg.base64EncodedString()
    }

    /// A table: `header` then `rows`; numbers (and percentages) right-aligned, text left-aligned.
    static func table(_ header: [String], _ rows: [[String]], highlight: Int? = nil) -> String {
        func isNumber(_ text: String) -> Bool {
            Double(text.hasSuffix("%") ? String(text.dropLast()) : text) != nil || text == "–"
        }
        let numeric = header.indices.map { c in !rows.isEmpty && rows.allSatisfy { c < $0.count && isNumber($0[c]) } }
        func cell(_ tag: String, _ c: Int, _ text: String) -> String {
            "<\(tag)\(c < numeric.count && numeric[c] ? "" : " class='text'")>\(escape(text))</\(tag)>"
        }
        return "<table><tr>" + header.enumerated().map { cell("th", $0.offset, $0.element) }.joined() + "</tr>"
            + rows.enumerated().map { r, row in
                (r == highlight ? "<tr class='best'>" : "<tr>")
                    + row.enumerated().map { cell("td", $0.offset, $0.element) }.joined() + "</tr>"
            }.joined() + "</table>"
    }
}
