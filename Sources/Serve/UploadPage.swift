/// The page at `/`: pick or drop photos, see each with its class probabilities as bars. Self-contained (no
/// external assets), so it works offline. `?token=…` is passed on to the API; `?example=NAME` predicts a photo of
/// the server's `--examples` folder at once (how the headless browser check drives it); `?explain=1` ticks the
/// heat-map box.
enum UploadPage {
    static func html(modelName: String, classes: [String]) -> String {
        let classList = classes.map(escape).joined(separator: ", ")
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Quadrat — \(escape(modelName))</title>
            <style>
            \(style)
            </style></head>
            <body>
            <header><h1>Quadrat — \(escape(modelName))</h1><p>classes: \(classList)</p></header>
            <main>
            <div id="drop" tabindex="0">Drop photos here, or click to choose (JPEG or PNG)
              <input id="files" type="file" accept="image/jpeg,image/png" multiple hidden></div>
            <label class="options"><input id="explain" type="checkbox"> show where the evidence is (Grad-CAM heat map:
              what the model sees, and the same with bright yellow where the evidence for its answer is strongest)</label>
            <div id="results"></div>
            </main>
            <script>
            \(script)
            </script>
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The page's style sheet.
    static let style = """
        body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }
        header { background: #1d3557; color: #fff; padding: 14px 24px; }
        header h1 { font-size: 19px; margin: 0; } header p { margin: 4px 0 0; opacity: .8; font-size: 13px; }
        main { max-width: 980px; margin: 0 auto; padding: 20px 24px; }
        #drop { border: 2px dashed #8aa1bd; border-radius: 10px; padding: 28px; text-align: center; background: #fff;
                cursor: pointer; }
        #drop.over { background: #e8f0fb; border-color: #1d3557; }
        #results { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 16px;
                   margin-top: 20px; }
        .card { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.12); overflow: hidden; }
        .card img { width: 100%; height: 200px; object-fit: contain; background: #222; display: block; }
        .card .body { padding: 10px 14px 14px; }
        .name { font-size: 12px; color: #5b6675; word-break: break-all; }
        .top { font-size: 17px; font-weight: 600; margin: 4px 0 8px; }
        .bar { display: grid; grid-template-columns: 90px 1fr 52px; align-items: center; gap: 8px;
               font-size: 13px; margin: 3px 0; }
        .bar .track { background: #e4e8ee; border-radius: 4px; height: 12px; overflow: hidden; }
        .bar .fill { background: #457b9d; height: 100%; }
        .bar.best .fill { background: #e63946; }
        .bar .value { text-align: right; font-variant-numeric: tabular-nums; }
        .error { color: #b00020; font-size: 14px; }
        .meta { font-size: 12px; color: #5b6675; margin-top: 6px; }
        .options { margin-top: 10px; font-size: 14px; color: #3d4856; }
        .card img.heat { width: 100%; height: auto; background: none; margin-top: 8px; border-radius: 4px; }
        """

    /// The page's script: upload, the bars, the heat maps, `?example=`.
    static let script = """
        const query = new URLSearchParams(location.search);
        const headers = query.get('token') ? { 'Authorization': 'Bearer ' + query.get('token') } : {};
        const drop = document.getElementById('drop'), input = document.getElementById('files');
        const results = document.getElementById('results'), explain = document.getElementById('explain');
        explain.checked = query.get('explain') === '1';
        drop.onclick = () => input.click();
        input.onchange = () => [...input.files].forEach(f => predict(f, f.name));
        drop.ondragover = e => { e.preventDefault(); drop.classList.add('over'); };
        drop.ondragleave = () => drop.classList.remove('over');
        drop.ondrop = e => { e.preventDefault(); drop.classList.remove('over');
          [...e.dataTransfer.files].forEach(f => predict(f, f.name)); };
        function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls;
          if (text !== undefined) e.textContent = text; return e; }
        async function predict(blob, name) {
          const card = el('div', 'card'), img = el('img'), body = el('div', 'body');
          img.src = URL.createObjectURL(blob); img.alt = name;
          body.append(el('div', 'name', name), el('div', 'meta', 'predicting…'));
          card.append(img, body); results.prepend(card);
          try {
            const url = 'v1/predict' + (explain.checked ? '?explain=1' : '');
            const r = await fetch(url, { method: 'POST', body: blob, headers });
            const answer = await r.json();
            body.lastChild.remove();
            if (!r.ok) { body.append(el('div', 'error', answer.error || r.statusText)); return; }
            body.append(el('div', 'top', answer.top.name + ' · ' + (100 * answer.top.probability).toFixed(1) + ' %'));
            answer.classes.forEach((c, i) => {
              const p = answer.probabilities[i], row = el('div', 'bar' + (c === answer.top.class ? ' best' : ''));
              const track = el('div', 'track'), fill = el('div', 'fill');
              fill.style.width = (100 * p).toFixed(1) + '%'; track.append(fill);
              row.append(el('span', '', answer.class_names[i]), track, el('span', 'value', p.toFixed(3))); body.append(row);
            });
            if (answer.explanation) {
              const heat = el('img', 'heat'); heat.src = answer.explanation.overlay;
              heat.alt = 'heat map for ' + answer.explanation.class; body.append(heat);
            }
            body.append(el('div', 'meta', 'batch of ' + answer.timing.batch_size + ', ' +
              answer.timing.total_ms.toFixed(0) + ' ms'));
          } catch (e) { body.lastChild.remove(); body.append(el('div', 'error', String(e))); }
        }
        if (query.get('example')) {
          fetch('examples/' + encodeURIComponent(query.get('example')), { headers })
            .then(r => r.blob()).then(b => predict(b, query.get('example')));
        }
        """
}
