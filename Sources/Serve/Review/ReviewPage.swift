import Foundation

/// The review page: one HTML file with its script, keyboard first.
///
/// Keys: digits (or a label's first letter, when no other label and no command shares it) set a label (toggle it,
/// for multi-label data, then Enter saves); space accepts the model's answer; ← → move; `z` undoes the page's last
/// decision; `g` switches between one photo and the grid (click or shift-click to select, then a label key applies
/// it to every selected photo); `h` shows the heat map; `f` or a click shows the photo at full size; `u` updates
/// the model; `1`…`6` with Alt switch queues. Photos of one burst are shown and decided together.
enum ReviewPage {
    static func html(title: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>review · \(escape(title))</title>
        <style>\(style)</style></head>
        <body>
        <header>
          <strong>quadrat review</strong> <span class="muted">\(escape(title))</span>
          <nav id="queues"></nav>
          <span id="saved" class="muted"></span>
          <button id="update" title="retrain the head on the corrected labels (u)">update model</button>
          <button id="train" title="a full training run in the background">train</button>
          <button id="view" title="one photo or the grid (g)">grid</button>
        </header>
        <main>
          <section id="single">
            <div id="stage"><img id="photo" alt=""><img id="heat" alt="" hidden></div>
            <aside>
              <div id="where" class="muted"></div>
              <h2 id="name"></h2>
              <div id="status"></div>
              <div id="burst"></div>
              <div id="labels"></div>
              <p class="muted small" id="help">digits or first letters: label · space: accept the model ·
                ← →: move · z: undo · g: grid · h: heat map · f: full size · u: update model</p>
            </aside>
          </section>
          <section id="grid" hidden><div id="tiles"></div><div id="gridlabels"></div></section>
          <section id="training" hidden><h2>training</h2><div id="trainstatus"></div>
            <div id="progress" class="muted small"></div>
            <p class="muted small">loss per epoch: <b style="color:#58a">train</b>, <b style="color:#c60">valid</b></p>
            <canvas id="chart" width="600"
            height="160"></canvas><pre id="log"></pre></section>
        </main>
        <div id="full" hidden><img id="fullimg" alt=""></div>
        <div id="toast" hidden></div>
        <script>\(script)</script>
        </body></html>
        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let style = """
        *{box-sizing:border-box}[hidden]{display:none!important}
        body{margin:0;font:15px system-ui,sans-serif;color:#222;background:#fafafa}
        header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;padding:.5em 1em;background:#fff;
        border-bottom:1px solid #ddd;position:sticky;top:0;z-index:2}
        nav{display:flex;flex-wrap:wrap;gap:.3em}nav button.on{background:#234;color:#fff}
        button{font:inherit;padding:.3em .7em;border:1px solid #bbb;border-radius:4px;background:#fff;cursor:pointer}
        .muted{color:#777}.small{font-size:.85em}main{padding:1em}
        #single{display:flex;gap:1.5em;flex-wrap:wrap}#stage{position:relative;flex:1 1 420px;max-width:720px}
        #stage img{width:100%;border-radius:4px;background:#eee;cursor:zoom-in;display:block}
        #heat{position:absolute;left:0;top:0}aside{flex:1 1 260px;max-width:420px}
        h2{margin:.2em 0;font-size:1.15em;word-break:break-all}
        .label{display:flex;align-items:center;gap:.5em;margin:.25em 0;padding:.3em;border-radius:4px;
        border:1px solid #ddd;background:#fff;cursor:pointer}
        .label.now{border-color:#234;box-shadow:0 0 0 2px #234 inset}
        .label.model .bar{background:#c60}.key{font-family:monospace;background:#eee;border-radius:3px;
        padding:0 .35em}.bar{height:.5em;background:#58a;border-radius:2px}
        .barbox{flex:1;background:#eee;border-radius:2px}
        .pct{width:3.3em;text-align:right;font-variant-numeric:tabular-nums}
        #status .saved{color:#080}#status .changed{color:#b00}#status .pending{color:#c60}
        #burst{display:flex;gap:.3em;flex-wrap:wrap;margin:.4em 0}#burst img{width:64px;border-radius:3px}
        #tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:.4em}
        .tile{position:relative;border:3px solid transparent;border-radius:5px;cursor:pointer}
        .tile img{width:100%;display:block;border-radius:3px}.tile.sel{border-color:#c60}
        .tile.cur{outline:2px solid #234}
        .tile span{position:absolute;left:2px;bottom:2px;background:#000a;color:#fff;font-size:.75em;padding:0 .3em;
        border-radius:2px}#gridlabels{margin-top:.6em}
        #full{position:fixed;inset:0;background:#000d;display:flex;align-items:center;justify-content:center;z-index:5}
        #full img{max-width:98vw;max-height:98vh}#toast{position:fixed;bottom:1em;left:50%;transform:translateX(-50%);
        background:#333;color:#fff;padding:.5em 1em;border-radius:4px;z-index:6}
        #log{max-height:40vh;overflow:auto;background:#111;color:#ddd;padding:.6em;font-size:.8em}
        @media (max-width:600px){header{padding:.4em}main{padding:.5em}#help{display:none}}
        """
}
