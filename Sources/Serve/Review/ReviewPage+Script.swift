extension ReviewPage {
    /// The page's script: loads the state, renders one photo or the grid, turns key presses into decisions (saved
    /// one request each; a 409 puts the photo's labels now on screen), and follows a training run's events.
    /// `window.review` counts saved, pending and refused decisions, for the browser tests.
    static let script = #"""
        const token = new URLSearchParams(location.search).get('token');
        const who = new URLSearchParams(location.search).get('who') || undefined;
        const headers = token ? {'Authorization': 'Bearer ' + token} : {};
        const q = s => document.querySelector(s);
        const review = window.review = {saved: 0, pending: 0, conflicts: 0, ready: false};
        let S, queue = 'all', pos = 0, mode = 'single', heat = false, sel = new Set(), toggles = null;
        const undo = [];
        const burstOf = {};
        const url = p => p + (token ? (p.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : '');
        async function api(path, body) {
          const r = await fetch(url(path), body === undefined ? {headers} :
            {method: 'POST', headers: {...headers, 'Content-Type': 'application/json'}, body: JSON.stringify(body)});
          const answer = await r.json().catch(() => ({}));
          if (!r.ok) {
            const e = new Error(answer.error || r.statusText);
            e.status = r.status; e.answer = answer; throw e;
          }
          return answer;
        }
        function toast(text) { const t = q('#toast'); t.textContent = text; t.hidden = false;
          clearTimeout(toast.timer); toast.timer = setTimeout(() => t.hidden = true, 3500); }
        const items = () => S.queues[queue] || [];
        const members = i => burstOf[i] !== undefined ? S.bursts[burstOf[i]] : [i];
        // Class names and file names come from the user's data: escaped wherever they go into HTML.
        const esc = t => String(t).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
          "'": '&#39;'})[c]);
        const labelText = l => l === null || l === undefined ? 'unlabelled'
          : l.length ? l.map(k => esc(S.classes[k])).join(', ') : 'none';
        function modelAnswer(i) {
          const p = S.photos[i].p; if (!p) return null;
          if (S.multi_label) return p.map((v, k) => v > 0.5 ? k : -1).filter(k => k >= 0);
          return [p.indexOf(Math.max(...p))];
        }
        const commands = new Set(['g', 'h', 'u', 'z', 'f']);
        // Labels named by single digits (0/1 data) are set by their own digit; others by position, from 1.
        const digitNames = () => S.classes.every(c => /^[0-9]$/.test(c));
        function keyOf(k) {
          if (digitNames()) return S.classes[k];
          return k < 9 ? String(k + 1) : null;
        }
        function letterOf(k) {
          const first = S.classes[k][0].toLowerCase();
          if (commands.has(first) || /[0-9]/.test(first)) return null;
          return S.classes.filter(c => c[0].toLowerCase() === first).length === 1 ? first : null;
        }
        async function load(first) {
          S = await api('/api/state');
          for (const k in burstOf) delete burstOf[k];
          S.bursts.forEach((b, n) => b.forEach(i => burstOf[i] = n));
          if (first) {
            const has = name => S.queues[name] && S.queues[name].length;
            queue = has('suspects') ? 'suspects' : has('pool') ? 'pool' : 'all';
            if (S.resume && S.queues[S.resume.queue]) {
              queue = S.resume.queue; const at = items().indexOf(S.resume.photo); pos = at >= 0 ? at + 1 : 0;
            } else { pos = Math.max(0, items().findIndex(i => S.photos[i].r === 0)); }
          }
          if (first) {
            // ?queue=pool&view=grid&heat=1 open the page there (a bookmark, a screenshot).
            const asked = new URLSearchParams(location.search);
            if (S.queues[asked.get('queue')]) { queue = asked.get('queue'); pos = 0; }
            if (asked.get('view') === 'grid') mode = 'grid';
            heat = asked.get('heat') === '1';
          }
          pos = Math.min(pos, Math.max(0, items().length - 1));
          render(); review.ready = true;
        }
        function renderQueues() {
          const nav = q('#queues'); nav.innerHTML = '';
          Object.keys(S.queues).sort((a, b) => order(a) - order(b)).forEach((name, n) => {
            const b = document.createElement('button'); b.textContent = `${name} ${S.queues[name].length}`;
            b.title = `Alt+${n + 1}`; if (name === queue) b.className = 'on';
            b.onclick = () => { queue = name; pos = 0; sel.clear(); toggles = null; render(); }; nav.appendChild(b);
          });
          q('#saved').textContent = `${S.decisions} decisions saved`
            + (review.pending ? ` · ${review.pending} saving…` : '');
        }
        const order = name => ['suspects', 'mistakes', 'uncertain', 'pool', 'unknown', 'all'].indexOf(name);
        function render() {
          renderQueues(); q('#single').hidden = mode !== 'single'; q('#grid').hidden = mode !== 'grid';
          q('#view').textContent = mode === 'single' ? 'grid' : 'one photo';
          if (mode === 'grid') return renderGrid();
          const list = items(); const i = list[pos];
          q('#where').textContent = list.length ? `${queue}: ${pos + 1} of ${list.length}` : `${queue}: empty`;
          if (i === undefined) {
            q('#photo').removeAttribute('src'); q('#name').textContent = ''; q('#labels').innerHTML = ''; return;
          }
          const photo = S.photos[i];
          q('#photo').src = url('/photo/' + i); q('#heat').hidden = !heat;
          if (heat) {
            q('#heat').src = url('/heatmap/' + i);
            q('#heat').onerror = () => {
              toast('heat maps need review --run RUN'); heat = false; q('#heat').hidden = true;
            };
          }
          q('#name').textContent = photo.k;
          const m = members(i);
          const said = modelAnswer(i);
          q('#status').innerHTML = `<span class="${photo.r ? 'saved' : ''}">${photo.r ? '✓ reviewed: ' : 'label: '}`
            + `<b>${labelText(toggles ?? photo.l)}</b></span>`
            + (said ? ` <span class="muted">· model: ${labelText(said)}</span>` : '')
            + (photo.c ? ' <span class="changed">changed on disk since reviewed</span>' : '')
            + (m.length > 1 ? ` <span class="muted">burst of ${m.length}: one decision for all</span>` : '');
          q('#burst').innerHTML = m.length > 1 ? m.map(j => `<img src="${url('/photo/' + j)}" alt="">`).join('') : '';
          renderLabels(q('#labels'), i);
          for (const j of list.slice(pos + 1, pos + 4)) new Image().src = url('/photo/' + j);
        }
        function renderLabels(box, i) {
          const p = i === undefined ? null : S.photos[i].p;
          const now = i === undefined ? [] : (toggles ?? S.photos[i].l ?? []);
          const best = i === undefined ? [] : modelAnswer(i) || [];
          box.innerHTML = '';
          S.classes.forEach((c, k) => {
            const d = document.createElement('div');
            d.className = 'label' + (now.includes(k) ? ' now' : '') + (best.includes(k) ? ' model' : '');
            const keys = [keyOf(k), letterOf(k)].filter(x => x).join(' ');
            const pct = p ? Math.round(p[k] * 100) + '%' : '';
            d.innerHTML = `<span class="key">${esc(keys) || '·'}</span><span>${esc(c)}</span><span class="barbox">`
              + `<div class="bar" style="width:${p ? p[k] * 100 : 0}%"></div></span><span class="pct">${pct}</span>`;
            d.onclick = () => label(k); box.appendChild(d);
          });
        }
        // A tile's caption: its labels, or for an unlabelled photo the model's guess and how sure it is.
        function tileText(i) {
          const photo = S.photos[i], guess = modelAnswer(i);
          if (photo.l || !guess) return labelText(photo.l);
          const sure = S.multi_label ? '' : ` (${Math.round(Math.max(...photo.p) * 100)} %)`;
          return `model: ${labelText(guess)}${sure}`;
        }
        function renderGrid() {
          const list = items(), start = Math.max(0, Math.min(pos - 12, list.length - 48));
          const tiles = q('#tiles'); tiles.innerHTML = '';
          q('#where').textContent = '';
          list.slice(start, start + 48).forEach((i, n) => {
            const t = document.createElement('div');
            t.className = 'tile' + (sel.has(i) ? ' sel' : '') + (start + n === pos ? ' cur' : '');
            t.innerHTML = `<img src="${url('/photo/' + i)}" alt="" loading="lazy">`
              + `<span>${S.photos[i].r ? '✓ ' : ''}${tileText(i)}</span>`;
            t.onclick = e => { if (e.shiftKey) { const a = Math.min(pos, start + n), b = Math.max(pos, start + n);
              list.slice(a, b + 1).forEach(j => sel.add(j)); } else { sel.has(i) ? sel.delete(i) : sel.add(i); }
              pos = start + n; toggles = null; render(); };
            tiles.appendChild(t);
          });
          const box = q('#gridlabels'); renderLabels(box, undefined);
          box.insertAdjacentHTML(
            'afterbegin', `<p class="muted">${sel.size} selected: a label key labels them all · Esc clears</p>`);
        }
        // Decisions go out one at a time, in order: each reads the revisions the ones before it left, so a photo
        // decided again before the first answer came back is not refused as changed elsewhere.
        let chain = Promise.resolve();
        function decide(photos, labels, isUndo) {
          const previous = photos.map(i => S.photos[i].l);
          photos.forEach(i => { S.photos[i].l = labels.map(c => S.classes.indexOf(c)); });
          const entry = {photos, previous};
          if (!isUndo) undo.push(entry);
          review.pending++; render();
          chain = chain.then(() => send(photos, labels, entry, isUndo));
          return chain;
        }
        async function send(photos, labels, entry, isUndo) {
          const revisions = photos.map(i => S.photos[i].r);
          try {
            const saved = await api('/api/decide', {photos, labels, revisions, queue, who, undo: isUndo || undefined});
            photos.forEach((i, n) => S.photos[i].r = saved.revisions[n]);
            review.saved++; S.decisions += photos.length;
            if (saved.csv_error) toast('saved in the journal; the CSV could not be written: ' + saved.csv_error);
          } catch (e) {
            photos.forEach((i, n) => S.photos[i].l = entry.previous[n]);
            const at = undo.indexOf(entry); if (at >= 0 && !isUndo) undo.splice(at, 1);
            if (e.status === 409) { review.conflicts++; const a = e.answer; S.photos[a.photo].r = a.revision;
              S.photos[a.photo].l = a.labels.map(c => S.classes.indexOf(c)); toast(a.error); }
            else toast('not saved: ' + e.message);
          } finally { review.pending--; render(); }
        }
        function current() { return items()[pos]; }
        function advance() { if (pos < items().length - 1) pos++; toggles = null; }
        function label(k) {
          if (mode === 'grid') {
            if (!sel.size) return toast('select photos first (click, shift-click)');
            const photos = [...new Set([...sel].flatMap(members))]; sel.clear();
            if (!S.multi_label) return decide(photos, [S.classes[k]]);
            // Multi-label: each photo keeps its own labels and gains this one.
            photos.forEach(i => decide([i], [...new Set([...(S.photos[i].l || []), k])].sort((a, b) => a - b)
              .map(j => S.classes[j])));
            return;
          }
          const i = current(); if (i === undefined) return;
          if (S.multi_label) { const t = new Set(toggles ?? S.photos[i].l ?? []); t.has(k) ? t.delete(k) : t.add(k);
            toggles = [...t].sort((a, b) => a - b); return render(); }
          const photos = members(i); advance(); decide(photos, [S.classes[k]]);
        }
        function accept() {
          const i = current(); if (i === undefined) return; const m = modelAnswer(i);
          if (!m) return toast('no model answer for this photo');
          const photos = members(i); advance(); decide(photos, m.map(k => S.classes[k]));
        }
        function save() { const i = current(); if (i === undefined || toggles === null) return;
          const t = toggles, photos = members(i); advance(); decide(photos, t.map(k => S.classes[k])); }
        function undoLast() {
          const last = undo.pop(); if (!last) return toast('nothing to undo');
          last.photos.forEach((i, n) => decide([i], (last.previous[n] || []).map(k => S.classes[k]), true));
          const at = items().indexOf(last.photos[0]); if (at >= 0) pos = at;
        }
        async function updateModel() {
          toast('updating the model…');
          try {
            const r = await api('/api/update', {}); await load(false);
            toast(`model updated in ${r.seconds} s; queues re-ranked`);
          }
          catch (e) { toast('update failed: ' + e.message); }
        }
        document.addEventListener('keydown', e => {
          if (!S || e.ctrlKey || e.metaKey) return;
          if (!q('#full').hidden) { q('#full').hidden = true; return; }
          // Alt+digit by the key's position (macOS gives Alt+1 another character).
          const altDigit = e.code && e.code.startsWith('Digit') ? e.code.slice(5) : e.key;
          if (e.altKey && /^[1-9]$/.test(altDigit)) {
            const names = Object.keys(S.queues).sort((a, b) => order(a) - order(b));
            const n = names[+altDigit - 1]; if (n) { queue = n; pos = 0; sel.clear(); toggles = null; render(); }
            e.preventDefault(); return;
          }
          const k = e.key;
          const byDigit = S.classes.findIndex((c, j) => keyOf(j) === k);
          if (/^[0-9]$/.test(k) && byDigit >= 0) { label(byDigit); e.preventDefault(); return; }
          const byLetter = S.classes.findIndex((c, j) => letterOf(j) === k.toLowerCase());
          if (k.length === 1 && byLetter >= 0) { label(byLetter); return; }
          switch (k) {
            case ' ': accept(); break;
            case 'Enter': save(); break;
            case 'ArrowRight': advance(); render(); break;
            case 'ArrowLeft': if (pos > 0) pos--; toggles = null; render(); break;
            case 'z': undoLast(); break;
            case 'g': mode = mode === 'single' ? 'grid' : 'single'; render(); break;
            case 'h': heat = !heat; render(); break;
            case 'f': showFull(); break;
            case 'u': updateModel(); break;
            case 'Escape': sel.clear(); toggles = null; render(); break;
            default: return;
          }
          e.preventDefault();
        });
        function showFull() {
          const i = current(); if (i === undefined) return;
          q('#fullimg').src = url(`/photo/${i}/full`); q('#full').hidden = false;
        }
        q('#photo').onclick = showFull; q('#full').onclick = () => q('#full').hidden = true;
        q('#view').onclick = () => { mode = mode === 'single' ? 'grid' : 'single'; render(); };
        q('#update').onclick = updateModel;
        q('#train').onclick = async () => {
          try { await api('/api/train', {}); }
          catch (e) { if (e.status !== 409) return toast('cannot train: ' + e.message); }
          follow();
        };
        function follow() {
          q('#training').hidden = false; const log = q('#log'), losses = [];
          const stream = new EventSource(url('/api/train/events'));
          q('#trainstatus').innerHTML = '<button id="cancel">cancel (checkpoint, resumable)</button>';
          q('#cancel').onclick = () => api('/api/train/cancel', {});
          stream.onmessage = e => {
            // Progress bars (ETA lines) replace each other on one line; everything else goes to the log.
            if (/ ETA \d/.test(e.data)) { q('#progress').textContent = e.data; return; }
            log.textContent += e.data + '\n'; log.scrollTop = log.scrollHeight;
            // An epoch row: its phase, the epoch, train loss, valid loss, …
            const m = e.data.match(/^\s*(?:[a-z-]+\s+)?(\d+)\s+([0-9.]+)\s+([0-9.]+)/);
            if (m) { losses.push([+m[2], +m[3]]); chart(losses); }
          };
          stream.addEventListener('end', async e => { stream.close(); const s = await api('/api/train');
            const link = s.report ? ` · <a href="${url(s.report)}" target="_blank">report</a>` : '';
            q('#trainstatus').innerHTML = `run ${s.phase}` + link;
          });
        }
        function chart(points) {
          const c = q('#chart'), g = c.getContext('2d'); g.clearRect(0, 0, c.width, c.height);
          const max = Math.max(...points.flat(), 1e-9);
          [['#58a', 0], ['#c60', 1]].forEach(([color, k]) => { g.strokeStyle = color; g.beginPath();
            points.forEach((p, n) => {
              const x = 10 + n * (c.width - 20) / Math.max(1, points.length - 1);
              const y = c.height - 10 - p[k] / max * (c.height - 20);
              n ? g.lineTo(x, y) : g.moveTo(x, y); }); g.stroke(); });
        }
        api('/api/train').then(s => { if (s.phase === 'running') follow(); }).catch(() => {});
        load(true).catch(e => toast('cannot load the review: ' + e.message));
        """#
}
