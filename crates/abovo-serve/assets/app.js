// abovo serve: the explorer's pages, drawn from the JSON of /api/….
//
// Every element is built with createElement/textContent/setAttribute:
// no text from the data is ever parsed as markup. The URL holds the
// whole state of a view (page, kinds shown, node selected), so any view
// can be shared or reloaded.
'use strict';
(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const KINDS = ['binary', 'source-with-binaries', 'generated', 'source', 'unknown'];
  const DEFAULT_KINDS = ['binary', 'source-with-binaries'];
  const boot = JSON.parse(document.getElementById('abovo-boot').textContent);
  const view = document.getElementById('view');
  // The last render time of a trust graph, for the tests and benchmarks.
  window.abovoTimings = {};

  // ---- small helpers ----
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function s(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children.flat()) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  const diffUrl = (name) => '/diff/' + encodeURIComponent(name);
  const pkgUrl = (name, params) => '/package/' + encodeURIComponent(name) + (params ? '?' + params : '');
  function link(href, text, cls) { return el('a', { href, class: cls, 'data-nav': '' }, text); }
  function human(n) {
    if (n === null || n === undefined) return 'unknown';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = n, i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return i === 0 ? n + ' B' : v.toFixed(1) + ' ' + u[i];
  }
  const count = (n) => Number(n).toLocaleString('en');
  async function api(path) {
    const r = await fetch(path, { headers: { accept: 'application/json' } });
    let j;
    try { j = await r.json(); } catch (e) { throw new Error(path + ': ' + r.status); }
    if (!r.ok) throw new Error(j && j.error ? j.error : path + ': ' + r.status);
    return j;
  }
  function kindBadge(kind) { return el('span', { class: 'k k-' + kind }, kind); }
  function bytesText(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'string') return v;
    if (v.bytes !== undefined) return '(bytes, base64) ' + v.bytes;
    return JSON.stringify(v);
  }
  // Check boxes that choose values of a URL parameter (`?kinds=a,b`): a
  // change rewrites the URL, which redraws the view. `counts` (optional)
  // follow each label.
  function checkBoxes(legend, param, values, chosen, badge, counts) {
    const box = el('fieldset', { class: 'kinds' }, el('legend', {}, legend));
    for (const v of values) {
      const input = el('input', { type: 'checkbox', value: v, id: param + '-' + v });
      input.checked = chosen.includes(v);
      input.addEventListener('change', () => {
        const p = new URLSearchParams(location.search);
        p.set(param, [...box.querySelectorAll('input:checked')].map((i) => i.value).join(','));
        go(location.pathname + '?' + p.toString(), true);
      });
      box.append(el('label', { for: param + '-' + v }, input, ' ', badge(v), counts ? ' ' + count(counts[v] || 0) : ''));
    }
    return box;
  }
  function failure(e) { return el('p', { class: 'error' }, String(e.message || e)); }

  // ---- navigation ----
  function go(url, replace) {
    if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
    route();
  }
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[data-nav]');
    if (!a || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    go(a.getAttribute('href'));
  });
  window.addEventListener('popstate', route);

  function route() {
    const path = location.pathname;
    const params = new URLSearchParams(location.search);
    hideSuggestions();
    if (path === '/audit') return auditPage();
    if (path === '/diff') return diffPage(params);
    if (path.startsWith('/diff/')) {
      return packageDiffPage(decodeURIComponent(path.slice('/diff/'.length)), params);
    }
    if (path.startsWith('/package/')) {
      return packagePage(decodeURIComponent(path.slice('/package/'.length)), params);
    }
    return searchPage(params.get('q') || '');
  }

  // ---- search with suggestions ----
  const input = document.getElementById('search');
  const list = document.getElementById('suggestions');
  let searchSeq = 0, timer = null, active = -1;
  function hideSuggestions() { list.hidden = true; list.replaceChildren(); active = -1; }
  function suggestionItem(m) {
    const a = link(pkgUrl(m.spec), '', 'suggestion');
    a.append(el('span', { class: 'name' }, m.name), ' ', el('span', { class: 'version' }, m.version || ''));
    a.append(el('span', { class: 'drv' }, m.derivation));
    return el('li', { role: 'option' }, a);
  }
  async function suggest(q) {
    const seq = ++searchSeq;
    if (!q.trim()) return hideSuggestions();
    try {
      const r = await api('/api/search?q=' + encodeURIComponent(q));
      if (seq !== searchSeq) return;
      list.replaceChildren(...r.matches.slice(0, 12).map(suggestionItem));
      list.hidden = r.matches.length === 0;
      active = -1;
    } catch (e) { hideSuggestions(); }
  }
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => suggest(input.value), 80); });
  input.addEventListener('keydown', (ev) => {
    const items = [...list.querySelectorAll('a')];
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      if (!items.length) return;
      ev.preventDefault();
      active = (active + (ev.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items.forEach((a, i) => a.classList.toggle('active', i === active));
    } else if (ev.key === 'Escape') hideSuggestions();
  });
  document.getElementById('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const items = [...list.querySelectorAll('a')];
    const chosen = items[active >= 0 ? active : 0];
    if (chosen && !list.hidden) go(chosen.getAttribute('href'));
    else go('/?q=' + encodeURIComponent(input.value));
  });
  document.addEventListener('click', (ev) => { if (!ev.target.closest('#search-form')) hideSuggestions(); });

  async function searchPage(q) {
    document.title = q ? q + ' — abovo' : 'abovo';
    input.value = q;
    const intro = el('section', {},
      el('h1', {}, 'What must one trust to get a package?'),
      el('p', { class: 'sub' }, 'Search a package by name, version or .drv path; its page draws its trust base: every seed it rests on, ' +
        'how it is reached, and what each node runs. The ', link('/audit', 'audit'), ' counts which binaries the whole distribution rests on.'));
    view.replaceChildren(intro);
    if (!q) return;
    try {
      const r = await api('/api/search?q=' + encodeURIComponent(q));
      const ul = el('ul', { class: 'results' }, r.matches.map((m) =>
        el('li', {}, link(pkgUrl(m.spec), m.spec), ' ', el('span', { class: 'drv' }, m.derivation))));
      view.append(el('h2', {}, count(r.total) + ' matches for “' + q + '”'), ul);
    } catch (e) { view.append(failure(e)); }
  }

  // ---- the package page ----
  async function packagePage(name, params) {
    document.title = name + ' — abovo';
    const t0 = performance.now();
    const kinds = (params.get('kinds') || DEFAULT_KINDS.join(',')).split(',').filter((k) => KINDS.includes(k));
    const head = el('section', { class: 'pkg-head' }, el('h1', {}, name), el('p', { class: 'sub' }, 'Loading…'));
    view.replaceChildren(head);
    let report;
    try { report = await api('/api/seeds/' + encodeURIComponent(name)); } catch (e) {
      head.replaceChildren(el('h1', {}, name), failure(e));
      return;
    }
    const figures = el('dl', { class: 'figures' });
    const addFigure = (k, v) => figures.append(el('div', {}, el('dt', {}, k), el('dd', {}, v)));
    head.replaceChildren(
      el('h1', {}, report.target_label),
      el('p', { class: 'sub mono' }, report.target),
      figures);
    if (boot.against) head.append(el('p', {}, link(diffUrl(name), 'What changed since ' + boot.against, 'diff-link')));
    addFigure('derivations walked', count(report.derivations_walked));
    for (const t of report.totals || []) {
      if (t.kind === 'all') addFigure('seeds', count(t.seeds) + ' (' + human(t.known_bytes + t.measured_bytes) + ' known)');
    }
    // The kinds shown in the graph: checkboxes kept in the URL.
    const byKind = {};
    for (const sd of report.seeds) byKind[sd.kind] = (byKind[sd.kind] || 0) + 1;
    const filters = checkBoxes('Seeds drawn', 'kinds', KINDS, kinds, kindBadge, byKind);
    const graphArea = el('div', { id: 'graph', class: 'graph' });
    const details = el('section', { id: 'details', class: 'details' },
      el('p', { class: 'sub' }, 'Click a node for its derivation, builder, environment, size and evidence; click ± to collapse or expand a branch.'));
    const seedsSection = el('section', { id: 'seed-list' });
    const closureSection = el('section', { id: 'closure' }, el('h2', {}, 'Closure'), el('p', { class: 'sub' }, 'Loading…'));
    const dependentsSection = el('section', { id: 'dependents' }, el('h2', {}, 'Dependents'), el('p', { class: 'sub' }, 'Loading…'));
    view.append(filters, graphArea, details, seedsSection, closureSection, dependentsSection);
    const shown = report.seeds.filter((sd) => kinds.includes(sd.kind));
    const graph = new TrustGraph(graphArea, report, shown, (node) => selectNode(node, details, name));
    graph.render();
    window.abovoTimings.trustGraph = performance.now() - t0;
    graphArea.setAttribute('data-render-ms', window.abovoTimings.trustGraph.toFixed(1));
    seedList(seedsSection, shown, kinds);
    const selected = params.get('node');
    if (selected && graph.byId.has(selected)) selectNode(graph.byId.get(selected), details, name, true);
    api('/api/closure/' + encodeURIComponent(name)).then((c) => closureFigures(closureSection, c))
      .catch((e) => closureSection.replaceChildren(el('h2', {}, 'Closure'), failure(e)));
    api('/api/dependents/' + encodeURIComponent(name)).then((d) => dependentsList(dependentsSection, d))
      .catch((e) => dependentsSection.replaceChildren(el('h2', {}, 'Dependents'), failure(e)));
  }

  function seedList(section, seeds, kinds) {
    section.replaceChildren(el('h2', {}, 'Paths to each seed (' + count(seeds.length) + ', kinds: ' + kinds.join(', ') + ')'));
    const table = el('table', {}, el('tr', {}, el('th', {}, 'seed'), el('th', {}, 'kind'), el('th', {}, 'size'), el('th', {}, 'evidence'), el('th', {}, 'path from the target')));
    for (const sd of seeds.slice(0, 2000)) {
      const path = el('span', { class: 'path' });
      sd.path_from_target.forEach((p, i) => { if (i) path.append(' → '); path.append(el('span', { class: 'step' }, p.label)); });
      table.append(el('tr', {},
        el('td', { class: 'mono' }, sd.name),
        el('td', {}, kindBadge(sd.kind)),
        el('td', { class: 'num' }, human(sd.size)),
        el('td', {}, sd.evidence ? sd.evidence.type : ''),
        el('td', {}, path)));
    }
    section.append(el('div', { class: 'scroll' }, table));
    if (seeds.length > 2000) section.append(el('p', { class: 'sub' }, 'The first 2,000 are listed; the JSON has them all.'));
  }

  function closureFigures(section, c) {
    const dl = el('dl', { class: 'figures' });
    const add = (k, v) => dl.append(el('div', {}, el('dt', {}, k), el('dd', {}, v)));
    add('derivations', count(c.derivation_count));
    add('fixed-output derivations', count(c.fixed_output_count));
    if (c.source_count !== undefined) add('input sources', count(c.source_count));
    if (c.nodes !== undefined) add('nodes', count(c.nodes));
    for (const k of ['size', 'known_size', 'total_size']) if (c[k] !== undefined && c[k] !== null) add(k.replace('_', ' '), human(c[k]));
    section.replaceChildren(el('h2', {}, 'Closure'), dl);
  }

  function dependentsList(section, d) {
    section.replaceChildren(el('h2', {}, 'Dependents: ' + count(d.dependent_count)));
    if (!d.covering.length) { section.append(el('p', { class: 'sub' }, 'No dependents other than itself.')); return; }
    section.append(el('p', { class: 'sub' }, 'Building these ' + count(d.covering_count) + ' would rebuild all ' + count(d.dependent_count) + ':'));
    const ul = el('ul', { class: 'inline-list' });
    for (const p of d.covering.slice(0, 300)) {
      const spec = p.package || p.name || p.path;
      ul.append(el('li', {}, link(pkgUrl(spec), spec)));
    }
    section.append(ul);
  }

  // ---- the trust graph ----
  // A tree: the union of the shortest paths from the target to the seeds
  // shown, laid out in layers (one column per depth), each column as wide
  // as its longest label, so that no label is ever cut. Runs of three or
  // more single-child derivations fold into one node, expanded by a click.
  class TrustGraph {
    constructor(area, report, seeds, onSelect) {
      this.area = area;
      this.onSelect = onSelect;
      this.collapsed = new Set();
      this.unfolded = new Set();
      this.byId = new Map();
      const root = { id: report.target, label: report.target_label, children: [], seed: null, depth: 0 };
      this.byId.set(root.id, root);
      for (const sd of seeds) {
        let parent = root;
        const steps = sd.path_from_target;
        for (let i = 1; i < steps.length; i++) {
          const last = i === steps.length - 1;
          const id = steps[i].path;
          let node = this.byId.get(id);
          if (!node) {
            node = { id, label: last ? sd.name : steps[i].label, children: [], seed: null };
            this.byId.set(id, node);
            parent.children.push(node);
          }
          if (last) node.seed = sd;
          parent = node;
        }
      }
      this.root = root;
      this.scale = 1; this.tx = 0; this.ty = 0;
    }

    // The tree as drawn: collapsed nodes hide their children; chains fold.
    visible(node) {
      const v = { node, label: node.label, children: [], chain: null };
      if (this.collapsed.has(node.id)) return v;
      let kids = node.children;
      v.children = kids.map((k) => {
        const run = [];
        let n = k;
        while (!n.seed && n.children.length === 1 && !this.unfolded.has(k.id)) { run.push(n); n = n.children[0]; }
        if (run.length >= 3) {
          const folded = { node: run[0], label: run[0].label + ' … ' + run[run.length - 1].label + ' (' + run.length + ')', children: [this.visible(n)], chain: run };
          return folded;
        }
        return this.visible(k);
      });
      return v;
    }

    render() {
      const area = this.area;
      const tree = this.visible(this.root);
      const rows = [];
      const layers = [];
      const place = (v, depth) => {
        v.depth = depth;
        (layers[depth] = layers[depth] || []).push(v);
        if (!v.children.length) { v.row = rows.length; rows.push(v); return; }
        v.children.forEach((c) => place(c, depth + 1));
        v.row = (v.children[0].row + v.children[v.children.length - 1].row) / 2;
      };
      place(tree, 0);
      const svg = s('svg', { class: 'trust-graph', role: 'img', 'aria-label': 'trust graph of ' + this.root.label });
      const world = s('g', { class: 'world' });
      svg.append(world);
      area.replaceChildren(svg);
      // Measure every label as it will be drawn, then size the columns.
      const all = layers.flat();
      for (const v of all) {
        const kind = v.node.seed ? v.node.seed.kind : (v.chain ? 'chain' : 'derivation');
        const g = s('g', { class: 'node n-' + kind, 'data-id': v.node.id, tabindex: '0' });
        const rect = s('rect', { rx: '4', ry: '4' });
        const text = s('text', { class: v.node.seed ? 'label seed-label' : 'label' }, v.label);
        const title = s('title', {}, v.chain ? v.chain.map((n) => n.label).join(' → ') : v.node.id);
        g.append(title, rect, text);
        world.append(g);
        v.g = g; v.rect = rect; v.text = text;
      }
      // Measured after all are in place: one layout, not one per node.
      for (const v of all) v.w = v.text.getComputedTextLength() + 14;
      const ROW = 30, GAP = 46, PAD = 12, H = 20;
      const colW = layers.map((l) => Math.max(...l.map((v) => v.w + (v.children.length || v.node.children.length ? 16 : 0))));
      const colX = [];
      let x = PAD;
      colW.forEach((w, i) => { colX[i] = x; x += w + GAP; });
      const width = x - GAP + PAD;
      const height = rows.length * ROW + PAD * 2;
      const edges = s('g', { class: 'edges' });
      world.prepend(edges);
      for (const v of all) {
        v.x = colX[v.depth]; v.y = PAD + v.row * ROW + ROW / 2;
        v.rect.setAttribute('x', v.x); v.rect.setAttribute('y', v.y - H / 2);
        v.rect.setAttribute('width', v.w); v.rect.setAttribute('height', H);
        v.text.setAttribute('x', v.x + 7); v.text.setAttribute('y', v.y + 4);
        const hasKids = v.node.children.length > 0;
        if (hasKids && !v.chain) {
          const open = !this.collapsed.has(v.node.id);
          const t = s('g', { class: 'toggle', 'data-toggle': v.node.id },
            s('circle', { cx: v.x + v.w + 8, cy: v.y, r: 7 }),
            s('text', { x: v.x + v.w + 8, y: v.y + 4, 'text-anchor': 'middle' }, open ? '−' : '+'));
          if (!open) t.append(s('title', {}, 'expand: ' + count(v.node.children.length) + ' hidden'));
          v.g.append(t);
          t.addEventListener('click', (ev) => { ev.stopPropagation(); this.toggle(v.node.id); });
        }
        v.g.addEventListener('click', () => {
          if (v.chain) { this.unfolded.add(v.node.id); this.render(); return; }
          world.querySelectorAll('.node.selected').forEach((n) => n.classList.remove('selected'));
          v.g.classList.add('selected');
          this.onSelect(v.node);
        });
        for (const c of v.children) {
          const x1 = v.x + v.w + (v.node.children.length && !v.chain ? 16 : 0), x2 = c.x === undefined ? colX[c.depth] : c.x;
          const y2 = PAD + c.row * ROW + ROW / 2, mx = (x1 + x2) / 2;
          edges.append(s('path', { d: `M${x1},${v.y} C${mx},${v.y} ${mx},${y2} ${x2},${y2}` }));
        }
      }
      this.width = width; this.height = height;
      // The area is as tall as the tree (up to most of the window); a tree
      // wider than the area starts scaled to fit (down to half size).
      const areaW = area.clientWidth || 1000;
      const areaH = Math.min(height, Math.max(240, window.innerHeight * 0.7));
      svg.setAttribute('width', areaW);
      svg.setAttribute('height', areaH);
      svg.setAttribute('viewBox', `0 0 ${areaW} ${areaH}`);
      this.svg = svg; this.world = world;
      if (this.scale === 1 && this.tx === 0 && width > areaW) this.scale = Math.max(0.5, areaW / width);
      this.apply();
      this.interact();
    }

    toggle(id) {
      if (this.collapsed.has(id)) this.collapsed.delete(id); else this.collapsed.add(id);
      this.render();
    }

    apply() { this.world.setAttribute('transform', `translate(${this.tx},${this.ty}) scale(${this.scale})`); }

    interact() {
      const svg = this.svg;
      let drag = null;
      svg.addEventListener('pointerdown', (ev) => {
        if (ev.target.closest('.node')) return;
        drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty };
        svg.setPointerCapture(ev.pointerId);
        svg.classList.add('dragging');
      });
      svg.addEventListener('pointermove', (ev) => {
        if (!drag) return;
        this.tx = drag.tx + ev.clientX - drag.x; this.ty = drag.ty + ev.clientY - drag.y;
        this.apply();
      });
      const end = () => { drag = null; svg.classList.remove('dragging'); };
      svg.addEventListener('pointerup', end);
      svg.addEventListener('pointercancel', end);
      svg.addEventListener('wheel', (ev) => {
        ev.preventDefault();
        const r = svg.getBoundingClientRect();
        const px = ev.clientX - r.left, py = ev.clientY - r.top;
        const f = Math.exp(-ev.deltaY * 0.0015);
        const scale = Math.min(4, Math.max(0.2, this.scale * f));
        this.tx = px - (px - this.tx) * scale / this.scale;
        this.ty = py - (py - this.ty) * scale / this.scale;
        this.scale = scale;
        this.apply();
      }, { passive: false });
      // Keyboard: Enter on a focused node selects it.
      svg.addEventListener('keydown', (ev) => {
        const g = ev.target.closest && ev.target.closest('.node');
        if (g && ev.key === 'Enter') g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      });
    }
  }

  async function selectNode(node, section, pkg, fromUrl) {
    if (!fromUrl) {
      const p = new URLSearchParams(location.search);
      p.set('node', node.id);
      history.replaceState(null, '', location.pathname + '?' + p.toString());
    }
    const sd = node.seed;
    const dl = el('dl', { class: 'facts' });
    const add = (k, v, cls) => { if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, k), el('dd', { class: cls }, v)); };
    section.replaceChildren(el('h2', {}, node.label), dl);
    add('path', node.id, 'mono');
    if (sd) {
      add('kind', kindBadge(sd.kind));
      add('evidence', (sd.evidence ? sd.evidence.type + (sd.evidence.rule ? ' ' + sd.evidence.rule : '') : '') + ' — ' + (sd.why || ''));
      add('size', sd.size !== undefined && sd.size !== null ? human(sd.size) + ' (' + count(sd.size) + ' B, ' + sd.size_source + ')' : 'unknown');
      add('hash', sd.hash, 'mono');
      if (sd.known) add('known as', sd.known.name + ' — ' + (sd.known.description || ''));
      for (const m of (sd.known && sd.known.members) || []) add('member', m.path + ' — ' + m.what + (m.size ? ' — ' + human(m.size) : ''), 'mono');
      for (const u of (sd.urls || []).slice(0, 3)) add('url', u, 'mono');
    }
    const drv = sd ? sd.derivation : node.id;
    if (!drv || !drv.endsWith('.drv')) { add('builder', '(an input source: no builder)', 'builder'); return; }
    try {
      const r = await api('/api/derivation?path=' + encodeURIComponent(drv));
      add('derivation', r.derivation, 'mono');
      add('system', r.system);
      add('builder', r.builder, 'mono builder');
      if (Array.isArray(r.arguments)) add('arguments', r.arguments.map(bytesText).join(' '), 'mono pre');
      if (Array.isArray(r.environment)) {
        const env = el('table', { class: 'env' });
        for (const e of r.environment) env.append(el('tr', {}, el('td', { class: 'mono' }, bytesText(e.name)), el('td', { class: 'mono pre' }, bytesText(e.value))));
        add('environment', el('div', { class: 'scroll' }, env));
      }
      for (const it of r.items || []) {
        const content = it.summary && it.summary.content;
        const text = content && content.text;
        const what = (it.role || '') + ' ' + (it.path || '') + (it.summary && it.summary.size !== undefined ? ' (' + human(it.summary.size) + ')' : '');
        let shown = what + (it.summary ? '' : ' — not at hand');
        if (text !== undefined) shown = el('details', {}, el('summary', {}, what), el('pre', {}, bytesText(text)));
        else if (content && Array.isArray(content.entries)) {
          // A directory: its files (their text is not in the recipe's JSON).
          const files = content.entries.slice(0, 500).map((e) => e.kind + '  ' + e.path + (e.kind === 'regular' ? '  ' + human(e.size) : ''));
          if (content.entries.length > 500) files.push('… ' + count(content.entries.length - 500) + ' more');
          shown = el('details', {}, el('summary', {}, what + ' — ' + count(content.files || 0) + ' files'), el('pre', { class: 'tree' }, files.join('\n')));
        }
        add('reads', shown, 'mono');
      }
    } catch (e) { add('derivation', failure(e)); }
  }

  // ---- the audit dashboard ----
  function barChart(bars, unit, fmt) {
    // bars: [{label, value, href, colour}]
    const ROW = 24, LABEL = 16 + Math.max(...bars.map((b) => b.label.length)) * 7.2, W = 420;
    const max = Math.max(1, ...bars.map((b) => b.value));
    const svg = s('svg', { class: 'bars', width: LABEL + W + 140, height: bars.length * ROW + 8, role: 'img', 'aria-label': unit });
    bars.forEach((b, i) => {
      const y = 4 + i * ROW;
      const a = s('a', { href: b.href, class: 'bar-link', 'data-nav': '' });
      a.append(s('text', { x: LABEL - 8, y: y + 15, 'text-anchor': 'end' }, b.label),
        s('rect', { x: LABEL, y: y + 3, width: Math.max(1, W * b.value / max), height: ROW - 8, fill: b.colour }),
        s('text', { x: LABEL + W * b.value / max + 6, y: y + 15, class: 'value' }, fmt(b.value)),
        s('title', {}, b.title || b.label));
      svg.append(a);
    });
    return el('div', { class: 'scroll' }, svg);
  }
  const COLOURS = { binary: '#c0392b', 'source-with-binaries': '#d35400', generated: '#8e44ad', source: '#27ae60', unknown: '#7f8c8d' };

  async function auditPage() {
    document.title = 'audit — abovo';
    view.replaceChildren(el('h1', {}, 'Audit'), el('p', { class: 'sub' }, 'Loading the audit of every package…'));
    let a;
    try { a = await api('/api/audit'); } catch (e) { view.replaceChildren(el('h1', {}, 'Audit'), failure(e)); return; }
    const seeds = a.core.concat(a.others);
    const spec = (sd) => (sd.brought_in_by && sd.brought_in_by[0] && sd.brought_in_by[0].package) || (sd.example && sd.example.package) || sd.derivation;
    view.replaceChildren(
      el('h1', {}, 'Audit of ' + count(a.package_count) + ' packages'),
      el('p', { class: 'sub' }, a.graph + '. Each bar links to the package that brings the seed in.'),
      el('h2', {}, 'Packages resting on each binary seed'),
      barChart(seeds.map((sd) => ({ label: sd.label || sd.name, value: sd.packages, href: pkgUrl(spec(sd)), colour: COLOURS[sd.kind] || '#555', title: sd.label + ' — brought in by ' + spec(sd) })), 'packages per seed', count));
    const byKind = {};
    for (const sd of a.binary_seeds) {
      const k = byKind[sd.kind] = byKind[sd.kind] || { bytes: 0, unknown: 0, n: 0 };
      k.n++; if (sd.size !== undefined && sd.size !== null) k.bytes += sd.size; else k.unknown++;
    }
    view.append(el('h2', {}, 'Known bytes per trust class'),
      barChart(Object.entries(byKind).map(([k, v]) => ({ label: k + ' (' + v.n + ' seeds, ' + v.unknown + ' of unknown size)', value: v.bytes, href: '/audit', colour: COLOURS[k] || '#555' })), 'bytes per class', human));
    view.append(el('h2', {}, 'Largest binary trust bases'),
      barChart(a.largest.map((p) => ({ label: p.package, value: p.known_bytes, href: pkgUrl(p.package), colour: COLOURS.binary, title: p.binary_seeds + ' binary seeds, ' + p.unknown_sizes + ' of unknown size' })), 'largest', human));
    const counts = el('dl', { class: 'figures' });
    for (const [k, n] of Object.entries(a.seeds_by_kind)) counts.append(el('div', {}, el('dt', {}, k), el('dd', {}, count(n))));
    view.append(el('h2', {}, 'Seeds by kind'), counts);
  }

  // ---- the diff with an older revision (abovo serve --against) ----
  const CHANGES = ['added', 'removed', 'changed', 'unchanged'];
  function changeBadge(c) { return el('span', { class: 'c c-' + c }, c); }
  // Before → after, or the one side there is.
  function beforeAfter(o, n, fmt) {
    const f = (v) => (v === undefined ? '—' : fmt(v));
    return o === undefined || n === undefined || f(o) === f(n) ? f(n === undefined ? o : n) : f(o) + ' → ' + f(n);
  }
  // Bytes per trust class on each side: [{kind, old: {bytes, n, unknown}, new: …}].
  function bytesByClass(pairs) {
    const by = {};
    for (const [side, sd] of pairs) {
      if (!sd) continue;
      const k = by[sd.kind] = by[sd.kind] || { old: { bytes: 0, n: 0, unknown: 0 }, new: { bytes: 0, n: 0, unknown: 0 } };
      const t = k[side];
      t.n++;
      if (sd.size === undefined || sd.size === null) t.unknown++; else t.bytes += sd.size;
    }
    return KINDS.filter((k) => by[k]).map((k) => ({ kind: k, old: by[k].old, new: by[k].new }));
  }
  function classChart(classes, href) {
    const bars = [];
    for (const c of classes) {
      for (const side of ['old', 'new']) {
        const t = c[side];
        bars.push({ label: c.kind + (side === 'old' ? ' before' : ' after') + ' (' + count(t.n) + (t.n === 1 ? ' seed, ' : ' seeds, ') + count(t.unknown) + ' of unknown size)',
          value: t.bytes, href, colour: side === 'old' ? '#b8b8c0' : (COLOURS[c.kind] || '#555') });
      }
    }
    return bars.length ? barChart(bars, 'known bytes per trust class, before and after', human) : el('p', { class: 'sub' }, 'No seeds.');
  }
  // Check boxes of the changes listed, kept in the URL (`?changes=`).
  function changeFilter(params, counts, defaults) {
    const chosen = (params.get('changes') || defaults.join(',')).split(',').filter((c) => CHANGES.includes(c));
    return [checkBoxes('Listed', 'changes', CHANGES, chosen, changeBadge, counts), chosen];
  }
  const pathText = (steps) => steps.join(' → ');
  const specOf = (p) => p.name + (p.new_version ? '@' + p.new_version : '');
  const versions = (p) => beforeAfter(p.old_version, p.new_version, (v) => v);

  async function diffPage(params) {
    document.title = 'diff — abovo';
    view.replaceChildren(el('h1', {}, 'What changed'), el('p', { class: 'sub' }, 'Comparing the audits of both revisions…'));
    let d;
    try { d = await api('/api/diff'); } catch (e) { view.replaceChildren(el('h1', {}, 'What changed'), failure(e)); return; }
    const counts = {};
    for (const sd of d.seeds) counts[sd.change] = (counts[sd.change] || 0) + 1;
    view.replaceChildren(
      el('h1', {}, 'What changed in the binary trust base'),
      el('p', { class: 'sub' }, 'old: ' + d.old.graph + ' (' + count(d.old.package_count) + ' packages, ' + count(d.old.binary_seeds) + ' binary seeds)', el('br'),
        'new: ' + d.new.graph + ' (' + count(d.new.package_count) + ' packages, ' + count(d.new.binary_seeds) + ' binary seeds)', el('br'),
        count(d.matched) + ' packages in both (matched by name), ' + count(d.unchanged_packages) + ' of them on the same binary seeds; ' +
        count(d.only_old.length) + ' only in the old, ' + count(d.only_new.length) + ' only in the new.'));
    view.append(el('h2', {}, 'Known bytes per trust class, before and after'),
      classChart(bytesByClass(d.seeds.flatMap((sd) => [['old', sd.old], ['new', sd.new]])), '/diff'));
    // The packages under each seed, from the packages' changes.
    const under = new Map();
    const note = (id, p, how) => { if (!under.has(id)) under.set(id, []); under.get(id).push([p, how]); };
    for (const p of d.packages) {
      for (const g of p.gained) note(g.seed, p, 'gained');
      for (const l of p.lost) note(l.seed, p, 'lost');
      for (const c of p.changed) { note(c.old.seed, p, 'changed'); note(c.new.seed, p, 'changed'); }
    }
    const [filter, chosen] = changeFilter(params, counts, ['added', 'removed', 'changed']);
    const table = el('table', { id: 'diff-seeds' }, el('tr', {}, el('th', {}, 'change'), el('th', {}, 'seed'), el('th', {}, 'kind'),
      el('th', {}, 'size'), el('th', {}, 'packages on it'), el('th', {}, 'gained / lost / changed under'), el('th', {}, 'packages whose trust base it changed')));
    const listed = d.seeds.filter((sd) => chosen.includes(sd.change));
    for (const sd of listed.slice(0, 2000)) {
      const side = sd.new || sd.old;
      const name = sd.old && sd.new && sd.old.label !== sd.new.label ? sd.old.label + ' → ' + sd.new.label : side.label;
      const pkgs = el('span', { class: 'path' });
      const ps = under.get(sd.id) || [];
      ps.slice(0, 5).forEach(([p, how], i) => { if (i) pkgs.append(', '); pkgs.append(link(pkgUrl(specOf(p)), specOf(p), 'pkg'), ' (' + how + ')'); });
      if (ps.length > 5) pkgs.append(' … ' + count(ps.length - 5) + ' more');
      table.append(el('tr', { class: 'seed-row', 'data-change': sd.change },
        el('td', {}, changeBadge(sd.change)),
        el('td', { class: 'mono seed-name' }, name),
        el('td', {}, kindBadge(side.kind)),
        el('td', { class: 'num' }, beforeAfter(sd.old && sd.old.size, sd.new && sd.new.size, human)),
        el('td', { class: 'num' }, beforeAfter(sd.old ? sd.old.packages : undefined, sd.new ? sd.new.packages : undefined, count)),
        el('td', { class: 'num' }, count(sd.gained) + ' / ' + count(sd.lost) + ' / ' + count(sd.changed_under)),
        el('td', {}, pkgs)));
    }
    view.append(el('h2', { id: 'seeds' }, 'Binary seeds of either revision'), filter, el('div', { class: 'scroll' }, table));
    if (listed.length > 2000) view.append(el('p', { class: 'sub' }, 'The first 2,000 are listed; the JSON has them all.'));
    // The packages whose binary trust base changed: grew, shrank, or moved to other versions.
    const byId = new Map(d.seeds.map((sd) => [sd.id, sd]));
    const label = (id) => { const sd = byId.get(id); return sd ? (sd.new || sd.old).label : '#' + id; };
    const groups = [
      ['grew', 'Packages whose binary trust base grew (they rest on a binary seed they did not rest on)', (p) => p.gained.length > 0],
      ['shrank', 'Packages whose binary trust base shrank (and did not grow)', (p) => !p.gained.length && p.lost.length > 0],
      ['moved', 'Packages on the same roles, in other versions', (p) => !p.gained.length && !p.lost.length]];
    for (const [id, title, keep] of groups) {
      const ps = d.packages.filter(keep);
      view.append(el('h2', { id: 'packages-' + id }, title + ': ' + count(ps.length)));
      if (!ps.length) continue;
      const t = el('table', { class: 'diff-packages' }, el('tr', {}, el('th', {}, 'package'), el('th', {}, 'version'), el('th', {}, 'what changed under it'), el('th', {}, '')));
      for (const p of ps.slice(0, 500)) {
        const what = el('ul', { class: 'changes-list' });
        for (const g of p.gained) what.append(el('li', { title: pathText(g.path) }, changeBadge('added'), ' ', label(g.seed)));
        for (const l of p.lost) what.append(el('li', { title: pathText(l.path) }, changeBadge('removed'), ' ', label(l.seed)));
        for (const c of p.changed) what.append(el('li', { title: pathText(c.new.path) }, changeBadge('changed'), ' ', label(c.old.seed) + ' → ' + label(c.new.seed)));
        t.append(el('tr', {}, el('td', {}, link(pkgUrl(specOf(p)), p.name, 'pkg')), el('td', { class: 'mono' }, versions(p)), el('td', {}, what),
          el('td', {}, link(diffUrl(specOf(p)), 'its diff'))));
      }
      view.append(el('div', { class: 'scroll' }, t));
      if (ps.length > 500) view.append(el('p', { class: 'sub' }, 'The first 500 are listed; the JSON has them all.'));
    }
    for (const [title, names, linked] of [['Only in the new revision', d.only_new, true], ['Only in the old revision', d.only_old, false]]) {
      view.append(el('h2', {}, title + ': ' + count(names.length)));
      const ul = el('ul', { class: 'inline-list' });
      for (const n of names.slice(0, 300)) ul.append(el('li', { class: 'mono' }, linked ? link(pkgUrl(n), n) : n));
      if (names.length) view.append(ul);
      if (names.length > 300) view.append(el('p', { class: 'sub' }, 'The first 300 are listed; the JSON has them all.'));
    }
  }

  async function packageDiffPage(name, params) {
    document.title = name + ' diff — abovo';
    view.replaceChildren(el('h1', {}, name), el('p', { class: 'sub' }, 'Comparing its trust base in both revisions…'));
    let d;
    try { d = await api('/api/diff/' + encodeURIComponent(name)); } catch (e) { view.replaceChildren(el('h1', {}, name), failure(e)); return; }
    const figures = el('dl', { class: 'figures' });
    const add = (k, v) => figures.append(el('div', {}, el('dt', {}, k), el('dd', {}, v)));
    add('binary seeds', beforeAfter(d.old_binary.seeds, d.new_binary.seeds, count));
    add('their known bytes', beforeAfter(d.old_binary.known_bytes + d.old_binary.measured_bytes, d.new_binary.known_bytes + d.new_binary.measured_bytes, human));
    add('of unknown size', beforeAfter(d.old_binary.unknown_sizes, d.new_binary.unknown_sizes, count));
    add('seeds of every kind', beforeAfter(d.old.seeds, d.new.seeds, count));
    add('derivations walked', beforeAfter(d.old.derivations_walked, d.new.derivations_walked, count));
    view.replaceChildren(
      el('h1', {}, d.new.target_label + ' against ' + d.old.target_label),
      el('p', { class: 'sub' }, 'new: ', el('span', { class: 'mono' }, d.new.target), ' (' + d.new.graph + ')', el('br'),
        'old: ', el('span', { class: 'mono' }, d.old.target), ' (' + d.old.graph + ')'),
      el('p', {}, link(pkgUrl(name), 'Its trust graph now'), ' · ', link('/diff', 'the whole distribution\'s diff')),
      figures);
    const kinds = el('table', { id: 'diff-kinds' }, el('tr', {}, el('th', {}, 'kind'), ...CHANGES.map((c) => el('th', { class: 'num' }, c))));
    for (const k of d.by_kind) kinds.append(el('tr', {}, el('td', {}, kindBadge(k.kind)), ...CHANGES.map((c) => el('td', { class: 'num' }, count(k[c])))));
    view.append(el('h2', {}, 'Seeds by kind'), kinds);
    view.append(el('h2', {}, 'Known bytes per trust class, before and after'),
      classChart(bytesByClass(d.seeds.flatMap((sd) => [['old', sd.old], ['new', sd.new]])), diffUrl(name)));
    // Binary seeds by default, as the command's text; `?kinds=` adds others.
    const shownKinds = (params.get('kinds') || DEFAULT_KINDS.join(',')).split(',').filter((k) => KINDS.includes(k));
    const counts = {};
    const ofKinds = d.seeds.filter((sd) => shownKinds.includes((sd.new || sd.old).kind));
    for (const sd of ofKinds) counts[sd.change] = (counts[sd.change] || 0) + 1;
    const [filter, chosen] = changeFilter(params, counts, CHANGES);
    const kindBox = checkBoxes('Kinds', 'kinds', KINDS, shownKinds, kindBadge);
    const table = el('table', { id: 'diff-seeds' }, el('tr', {}, el('th', {}, 'change'), el('th', {}, 'seed'), el('th', {}, 'kind'),
      el('th', {}, 'size'), el('th', {}, 'evidence'), el('th', {}, 'path from the target')));
    const listed = ofKinds.filter((sd) => chosen.includes(sd.change));
    for (const sd of listed.slice(0, 2000)) {
      const side = sd.new || sd.old;
      const seedName = sd.old && sd.new && sd.old.name !== sd.new.name ? sd.old.name + ' → ' + sd.new.name : side.name;
      // A seed of the new revision links to the trust graph with it selected.
      const steps = side.path_from_target || [];
      const last = steps.length ? steps[steps.length - 1].path : null;
      const kindsParam = [...new Set(DEFAULT_KINDS.concat([side.kind]))].join(',');
      const nameCell = sd.new && last
        ? link(pkgUrl(name, 'kinds=' + encodeURIComponent(kindsParam) + '&node=' + encodeURIComponent(last)), seedName, 'seed-link')
        : el('span', { title: 'only in the old revision' }, seedName);
      const path = el('span', { class: 'path' }, (sd.new ? 'new: ' : 'old: ') + steps.map((p) => p.label).join(' → '));
      table.append(el('tr', { class: 'seed-row', 'data-change': sd.change },
        el('td', {}, changeBadge(sd.change)),
        el('td', { class: 'mono seed-name' }, nameCell),
        el('td', {}, kindBadge(side.kind)),
        el('td', { class: 'num' }, beforeAfter(sd.old && sd.old.size, sd.new && sd.new.size, human)),
        el('td', {}, side.evidence ? side.evidence.type : ''),
        el('td', {}, path)));
    }
    view.append(el('h2', { id: 'seeds' }, 'Seeds of either revision'), kindBox, filter, el('div', { class: 'scroll' }, table));
    if (listed.length > 2000) view.append(el('p', { class: 'sub' }, 'The first 2,000 are listed; the JSON has them all.'));
  }

  // ---- start ----
  document.getElementById('graph-description').textContent = boot.graph + (boot.against ? ' against ' + boot.against : '');
  if (boot.against) document.getElementById('nav-diff').hidden = false;
  route();
})();
