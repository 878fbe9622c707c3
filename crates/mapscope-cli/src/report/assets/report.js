// mapscope report: census, map atlas, addressing paths, layouts.
// Everything the page shows comes from the JSON in #ms-meta and the per-map
// blobs (gzip, base64) that mapscope wrote; nothing is fetched.
"use strict";
(function () {
  const META = JSON.parse(document.getElementById("ms-meta").textContent);
  const MAPS = META.maps || [];
  const CENSUS = META.census || {};
  const STATE_COLOR = {
    full: "#2b6cb0", empty: "#e2e8f0", emptyRest: "#e2e8f0", deleted: "#e53e3e", emptyOne: "#f6a5a5",
    evacuatedX: "#dd8a00", evacuatedY: "#dd8a00", evacuatedEmpty: "#f6d08a", invalid: "#111111",
  };

  // ---------- small helpers ----------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "style") e.style.cssText = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function bytes(n) {
    if (n === null || n === undefined) return "?";
    if (n < 1024) return n + " B";
    const u = ["KiB", "MiB", "GiB", "TiB"];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return v.toFixed(v < 10 ? 2 : 1) + " " + u[i];
  }
  const hex2 = (b) => "0x" + b.toString(16).padStart(2, "0");
  function hex64(lo, hi) {
    return hi ? "0x" + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, "0") : "0x" + (lo >>> 0).toString(16);
  }
  // A hash in all its 16 digits.
  function hash64(lo, hi) {
    return "0x" + (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
  }
  function addHex(baseHex, off) {
    return "0x" + (BigInt(baseHex) + BigInt(off)).toString(16);
  }

  // Phase timings, for the browser test and the curious (mapscopeReport.timing).
  const TIMING = [];
  function timing(what) {
    let t = performance.now();
    return (phase) => { const now = performance.now(); TIMING.push(`${what} ${phase} ${(now - t).toFixed(0)} ms`); t = now; };
  }

  // ---------- blobs ----------
  const B64 = new Uint8Array(128);
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => { B64[c.charCodeAt(0)] = i; });
  function unbase64(s) {
    s = s.trim();
    let n = s.length;
    while (n > 0 && s.charCodeAt(n - 1) === 61) n--;
    const out = new Uint8Array((n * 3) >> 2);
    let o = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
      const v = (B64[s.charCodeAt(i)] << 18) | (B64[s.charCodeAt(i + 1)] << 12) | (B64[s.charCodeAt(i + 2)] << 6) | B64[s.charCodeAt(i + 3)];
      out[o++] = v >> 16; out[o++] = (v >> 8) & 255; out[o++] = v & 255;
    }
    if (n - i === 2) { const v = (B64[s.charCodeAt(i)] << 18) | (B64[s.charCodeAt(i + 1)] << 12); out[o++] = v >> 16; }
    if (n - i === 3) {
      const v = (B64[s.charCodeAt(i)] << 18) | (B64[s.charCodeAt(i + 1)] << 12) | (B64[s.charCodeAt(i + 2)] << 6);
      out[o++] = v >> 16; out[o++] = (v >> 8) & 255;
    }
    return out;
  }
  const loaded = new Map();
  function loadMap(m) {
    if (loaded.has(m.id)) return loaded.get(m.id);
    const p = (async () => {
      const T = timing("load " + m.id);
      const b64 = document.getElementById(m.blob.element).textContent;
      const packed = Uint8Array.fromBase64 ? Uint8Array.fromBase64(b64) : unbase64(b64);
      T("base64");
      const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
      const buf = await new Response(stream).arrayBuffer();
      T("inflate");
      const S = m.blob.sections;
      const u8 = (k) => new Uint8Array(buf, S[k][0], S[k][1]);
      const u32 = (k) => new Uint32Array(buf, S[k][0], S[k][1] / 4);
      const d = {
        tags: u8("tags"), addr: u32("addr"), place: u32("place"), hash: u32("hash"), hstat: u8("hstat"),
        kaddr: S.kaddr ? u32("kaddr") : null, eaddr: S.eaddr ? u32("eaddr") : null,
      };
      // Key and value texts, split on first use (2M strings for a 1M map).
      const textBytes = u8("text");
      let text = null;
      d.textAt = (i) => {
        if (!text) text = new TextDecoder().decode(textBytes).split("\0");
        return text[i];
      };
      d.n = m.containers;
      d.swiss = m.variant.kind === "swiss";
      // Entry k is the k-th full slot in walk order, as mapscope read them.
      d.entryAt = new Int32Array(d.n * 8).fill(-1);
      d.entCont = new Int32Array(m.entries);
      d.entSlot = new Uint8Array(m.entries);
      let k = 0;
      for (let c = 0; c < d.n; c++) for (let s = 0; s < 8; s++) {
        const t = d.tags[c * 8 + s];
        if (isFull(d.swiss, t) && k < m.entries) { d.entryAt[c * 8 + s] = k; d.entCont[k] = c; d.entSlot[k] = s; k++; }
      }
      T("index");
      return d;
    })();
    loaded.set(m.id, p);
    return p;
  }
  function isFull(swiss, t) { return swiss ? (t & 0x80) === 0 : t >= 5; }
  function tagState(swiss, t) {
    if (swiss) return t === 0x80 ? "empty" : t === 0xfe ? "deleted" : (t & 0x80) === 0 ? "full" : "invalid";
    return ["emptyRest", "emptyOne", "evacuatedX", "evacuatedY", "evacuatedEmpty"][t] || "full";
  }
  function addrOf(d, c) { return hex64(d.addr[c * 2], d.addr[c * 2 + 1]); }
  function placeOf(m, d, c) {
    const a = d.place[c * 2], b = d.place[c * 2 + 1];
    if (d.swiss) return { group: a, table: b === 0xffffffff ? null : b };
    return { bucket: a, depth: b & 0x7fffffff, old: (b >>> 31) === 1 };
  }
  function placeText(m, d, c) {
    const p = placeOf(m, d, c);
    if (d.swiss) return p.table === null ? "the small map's one group" : `table ${p.table} group ${p.group}`;
    return `${p.old ? "old " : ""}bucket ${p.bucket}${p.depth ? " overflow " + p.depth : ""}`;
  }

  // ---------- placement arithmetic (mirrors the runtime) ----------
  function placement(m, d, k) {
    const lo = d.hash[k * 2] >>> 0, hi = d.hash[k * 2 + 1] >>> 0;
    const v = m.variant;
    if (v.kind === "classic") {
      const B = v.B;
      const mask = (b) => b >= 32 ? [0xffffffff, (2 ** (b - 32) - 1) >>> 0] : [((2 ** b) - 1) >>> 0, 0];
      const bucketOf = (b) => { const [ml, mh] = mask(b); return ((lo & ml) >>> 0) + ((hi & mh) >>> 0) * 2 ** 32; };
      let top = hi >>> 24;
      if (top < 5) top += 5;
      const r = { lo, hi, bucket: bucketOf(B), tophash: top };
      if (v.growing) r.oldBucket = v.same_size_grow ? bucketOf(B) : bucketOf(B - 1);
      return r;
    }
    const h2 = lo & 0x7f;
    const h1lo = ((lo >>> 7) | (hi << 25)) >>> 0; // low 32 bits of h1; lengthMask ≤ 127
    let dir = 0;
    if (!v.small && v.dirLen > 1) {
      const sh = v.globalShift;
      dir = sh >= 64 ? 0 : sh >= 32 ? hi >>> (sh - 32) : ((hi * 2 ** (32 - sh)) + (lo >>> sh));
    }
    return { lo, hi, h2, h1lo, dir };
  }
  function probeSeq(start, mask, limit) {
    const out = [start & mask];
    let off = start & mask;
    for (let i = 1; i <= limit; i++) { off = (off + i) & mask; out.push(off); }
    return out;
  }

  // ---------- routing ----------
  const app = el("main", { id: "app" });
  const tip = el("div", { class: "tip", id: "tip" });
  const nav = {};
  function header() {
    const sel = el("select", { id: "mapsel", onchange: (e) => { location.hash = e.target.value; } },
      el("option", { value: "", text: `maps drawn (${MAPS.length})…` }),
      MAPS.map((m) => el("option", { value: "#map-" + m.id, text: `${m.name} — ${m.type} (${m.len})` })));
    nav.census = el("a", { href: "#census", text: "Census" });
    nav.layout = el("a", { href: "#layout", text: "Layout" });
    return el("header", { class: "top" }, el("b", { text: "mapscope report" }), nav.census, sel, nav.layout,
      el("span", { class: "src", title: `${META.exe} ${META.source}`, text: `${META.exe} · ${META.source} · ${META.go_version || "?"} · ${META.variant || "?"} map runtime · ${META.tool}` }));
  }
  function route() {
    const h = location.hash || "#census";
    for (const a of Object.values(nav)) a.classList.remove("on");
    const sel = document.getElementById("mapsel");
    if (sel) sel.value = h.startsWith("#map-") ? h : "";
    app.replaceChildren();
    window.scrollTo(0, 0);
    if (h.startsWith("#map-")) {
      const m = MAPS.find((x) => "#map-" + x.id === h);
      if (m) return mapView(m);
    }
    if (h === "#layout") { nav.layout.classList.add("on"); return layoutView(); }
    nav.census.classList.add("on");
    return censusView();
  }

  // ---------- census view ----------
  function censusView() {
    app.append(el("h2", { text: "Census: every live map" }));
    if (CENSUS.error) {
      app.append(el("p", { class: "errors", text: "The census failed: " + CENSUS.error }));
      return Promise.resolve();
    }
    const t = CENSUS.totals || {};
    app.append(el("p", { class: "sub", text:
      `${t.maps} maps, ${t.entries} entries; ${bytes(t.bytes)} allocated for maps, ${bytes(t.live_bytes)} holding live entries, ` +
      `${bytes(t.waste_bytes)} waste against maps built fresh; heap in use ${bytes(t.heap_bytes)}. ` +
      `Click a column to sort; owners in blue have a map view.` }));
    const rows = (CENSUS.maps || []).slice();
    // [census row, map view] pairs: the rows the page draws link to their view.
    (META.views || []).forEach(([i, v]) => { if (rows[i]) rows[i].view = v; });
    // Not Math.max(...rows): a spread of 100k+ arguments overflows the stack.
    const maxBytes = rows.reduce((m, r) => Math.max(m, r.bytes), 1);
    const cols = [
      ["owner", "owner", (r) => r.owner || "?"], ["type", "type", (r) => r.type || "?"],
      ["len", "len", (r) => r.len], ["bytes", "bytes", (r) => r.bytes], ["live", "live_bytes", (r) => r.live_bytes],
      ["waste", "waste_bytes", (r) => r.waste_bytes], ["load", "load_factor", (r) => r.load_factor],
      ["tombstones", "tombstones", (r) => r.tombstones], ["root", "root", (r) => r.root], ["address", "address", (r) => r.address],
    ];
    let sortKey = "bytes", asc = false;
    const tbody = el("tbody");
    const ths = cols.map(([label, key]) => el("th", { "data-key": key, text: label, onclick: () => {
      if (sortKey === key) asc = !asc; else { sortKey = key; asc = key === "owner" || key === "type" || key === "root"; }
      fill();
    } }));
    function bar(cls, v) {
      return el("div", { class: "bar " + cls }, el("span", { style: `width:${(100 * v / maxBytes).toFixed(2)}%` }), el("i", { text: bytes(v) }));
    }
    function fill() {
      const get = cols.find((c) => c[1] === sortKey)[2];
      rows.sort((a, b) => { const x = get(a), y = get(b); const c = x < y ? -1 : x > y ? 1 : 0; return asc ? c : -c; });
      ths.forEach((th) => { th.className = th.dataset.key === sortKey ? "sorted" + (asc ? " asc" : "") : ""; });
      // A fragment, not a spread: a census has 50k rows and more.
      const frag = document.createDocumentFragment();
      rows.forEach((r) => frag.append(el("tr", { "data-address": r.address, "data-len": r.len, "data-owner": r.owner },
        el("td", { class: "owner mono" }, r.view !== undefined ? el("a", { href: "#map-" + r.view, text: r.owner || r.address }) : (r.owner || "?")),
        el("td", { class: "type mono", text: r.type || ("? " + (r.type_candidates || []).join(" | ")) }),
        el("td", { class: "num", text: r.len }),
        el("td", {}, bar("bytes", r.bytes)), el("td", {}, bar("live", r.live_bytes)), el("td", {}, bar("waste", r.waste_bytes)),
        el("td", { class: "num", text: r.load_factor.toFixed(3) }), el("td", { class: "num", text: r.tombstones }),
        el("td", { text: r.root + (r.growing ? " · growing" : "") }), el("td", { class: "mono", text: r.address }))));
      tbody.replaceChildren(frag);
    }
    fill();
    const foot = el("tfoot", {}, el("tr", {}, el("td", { text: "total" }), el("td", { text: `${t.maps} maps` }),
      el("td", { class: "num", text: t.entries }), el("td", { class: "num", text: bytes(t.bytes) }),
      el("td", { class: "num", text: bytes(t.live_bytes) }), el("td", { class: "num", text: bytes(t.waste_bytes) }),
      el("td", { colspan: 4 })));
    app.append(el("table", { class: "census", id: "census" }, el("thead", {}, el("tr", {}, ths)), tbody, foot));
    const errs = (CENSUS.errors || []).concat(META.errors || []);
    if (errs.length) app.append(el("h3", { text: "Errors" }), el("ul", { class: "errors" }, errs.map((e) => el("li", { text: e }))));
    return Promise.resolve();
  }

  // ---------- map view ----------
  function headerRecord(m) {
    const h = m.header;
    if (!h) return el("p", { text: "header layout unknown" });
    return el("div", {}, el("h3", { text: `${h.struct} at ${h.address} (${h.size} bytes)` }),
      el("table", { class: "rec" }, el("tr", {}, ["offset", "size", "field", "type", "value"].map((x) => el("th", { text: x }))),
        h.fields.map((f) => el("tr", {}, el("td", { class: "num", text: f.offset }), el("td", { class: "num", text: f.size }),
          el("td", { class: "mono", text: f.name }), el("td", { class: "mono", text: f.type }),
          el("td", { class: "num mono", text: f.value === null ? "unreadable" : showValue(f) })))),
      h.error ? el("p", { class: "errors", text: h.error }) : null);
  }
  // Pointers, seeds and flags in hex; counts and sizes in decimal.
  function showValue(f) {
    const hexy = /Pointer|\*|seed|hash0|flags/.test(f.type + " " + f.name);
    return hexy ? f.value : BigInt(f.value).toString(10);
  }
  function statsTable(m) {
    const s = m.stats || {}, v = m.variant, rows = [];
    rows.push(["entries (header)", m.len], ["entries read", m.entries], ["slots", s.slots], ["load (entries / slots)", (s.load_factor || 0).toFixed(3)]);
    if (v.kind === "classic") {
      rows.push(["B / buckets", `${v.B} / ${v.bucket_count}`], ["overflow buckets", s.overflow_buckets], ["longest chain", s.longest_chain],
        ["emptyOne (deleted) slots", s.tombstones], ["growing", v.growing ? `yes${v.same_size_grow ? " (same size)" : ""}: ${v.old_bucket_count} old buckets, nevacuate ${v.nevacuate}` : "no"],
        ["evacuated marks", s.evacuated]);
    } else {
      rows.push(["directory", v.small ? "none (small map: one group)" : `${v.dirLen} slots, globalDepth ${v.globalDepth}`],
        ["tables", (v.tables || []).length], ["groups", s.groups], ["tombstones (deleted)", s.tombstones]);
    }
    const b = s.bytes || {};
    rows.push(["bytes allocated", bytes(b.total)], ["bytes holding live entries", bytes(b.live)], ["overhead", (b.overhead_percent || 0).toFixed(1) + " %"]);
    const hs = m.hash;
    rows.push(["hash", hs.available ? `${hs.hasher} (${hs.algorithm}, keys from ${hs.keys_from}), seed ${hs.seed}` : "not computable: " + hs.why]);
    return el("div", {}, el("h3", { text: "Statistics" }),
      el("table", { class: "rec stats" }, rows.map(([k, val]) => el("tr", {}, el("td", { text: k }), el("td", { class: "mono", text: String(val) })))));
  }

  function probeHistogram(m, d) {
    // Classic: entries by overflow depth; Swiss: groups probed to reach them.
    const counts = new Map();
    const v = m.variant;
    for (let k = 0; k < m.entries; k++) {
      const c = d.entCont[k];
      const p = placeOf(m, d, c);
      let n;
      if (!d.swiss) n = p.depth;
      else if (p.table === null) n = 1;
      else {
        if (d.hstat[k] !== 0) continue;
        const t = v.tables[p.table];
        const pl = placement(m, d, k);
        const mask = t.lengthMask;
        let off = pl.h1lo & mask; n = 1;
        for (let i = 1; off !== p.group && i <= mask + 1; i++) { off = (off + i) & mask; n++; }
      }
      counts.set(n, (counts.get(n) || 0) + 1);
    }
    const keys = [...counts.keys()].sort((a, b) => a - b);
    const max = Math.max(1, ...counts.values());
    const mean = keys.reduce((a, x) => a + x * counts.get(x), 0) / Math.max(1, m.entries);
    return el("div", {}, el("h3", { text: d.swiss ? "Groups probed to reach each entry" : "Entries by overflow depth (0 = the bucket itself)" }),
      el("div", { class: "hist" }, keys.map((x) => el("div", { style: `height:${(100 * counts.get(x) / max).toFixed(1)}%`, title: `${counts.get(x)} entries` },
        el("i", { text: counts.get(x) }), el("b", { text: x })))),
      el("p", { class: "hint", style: "margin-top:22px", text: `longest ${keys.length ? keys[keys.length - 1] : 0}, mean ${mean.toFixed(3)}` }));
  }

  function mapView(m) {
    app.append(el("h2", { class: "mono", text: `${m.name}` }),
      el("p", { class: "sub mono", text: `${m.type} · header at ${m.address} · ${m.variant.kind} · len ${m.len}` }));
    if (m.errors.length) app.append(el("ul", { class: "errors" }, m.errors.map((e) => el("li", { text: e }))));
    const loading = el("p", { class: "loading", text: "inflating the map's data…" });
    app.append(el("div", { class: "grid2" }, headerRecord(m), statsTable(m)), loading);
    return loadMap(m).then((d) => {
      loading.remove();
      const legend = d.swiss
        ? [["full", "full (ctrl = h2)"], ["empty", "empty (0x80)"], ["deleted", "deleted / tombstone (0xfe)"]]
        : [["full", "full (tophash ≥ 5)"], ["emptyRest", "emptyRest (0)"], ["emptyOne", "emptyOne (1)"], ["evacuatedX", "evacuatedX/Y (2, 3)"], ["evacuatedEmpty", "evacuatedEmpty (4)"]];
      const T = timing("view " + m.id);
      const atlas = new Atlas(m, d);
      T("layout");
      const pathBox = el("div", { id: "path", class: "path", style: "display:none" });
      atlas.onPick = (k) => showPath(m, d, atlas, k, pathBox);
      app.append(el("h3", { text: d.swiss ? "Atlas: directory → tables → groups, every slot one cell" : "Atlas: buckets → overflow chains (right of each bucket), every slot one cell" }),
        el("div", { class: "legend" }, legend.map(([s, label]) => el("span", { style: `--c:${STATE_COLOR[s]}`, text: label }))),
        el("p", { class: "hint", text: "Hover a cell for its tag byte, key, value and addresses; click a full cell to draw the lookup path of its key." }),
        pathBox, atlas.wrap);
      atlas.draw();
      T("draw");
      // The histogram walks every entry's probe: after the atlas is up.
      const hist = el("div", {}, el("p", { class: "loading", text: "counting probe lengths…" }));
      app.append(hist);
      setTimeout(() => { hist.replaceChildren(probeHistogram(m, d)); T("histogram"); }, 0);
      if (atlas.fullHeight > atlas.height) atlas.wrap.before(el("p", { class: "errors", text: `The atlas is cut at ${atlas.height} px of ${atlas.fullHeight}: cells below are not drawn.` }));
      window.mapscopeReport.current = { m, d, atlas };
    });
  }

  // The atlas: sections (directory, tables or bucket arrays) of lanes (a
  // bucket with its overflow chain, or one group), each container 8 cells.
  class Atlas {
    constructor(m, d) {
      this.m = m; this.d = d;
      const n = d.n;
      this.width = Math.max(600, Math.min(1800, (document.documentElement.clientWidth || 1200) - 60));
      // The largest cells that keep the canvas under 16k rows.
      for (let cs = n <= 600 ? 22 : n <= 4000 ? 12 : n <= 40000 ? 5 : 3; cs >= 1; cs--) {
        this.cs = cs;
        this.cellGap = cs >= 4 ? 1 : 0;
        this.contGap = cs >= 6 ? 4 : cs >= 4 ? 3 : 1;
        this.contW = 8 * cs + this.contGap;
        this.layout();
        if (this.fullHeight <= 16000) break;
      }
      this.wrap = el("div", { class: "atlas-wrap" });
      this.canvas = el("canvas", { class: "atlas", id: "atlas-" + m.id, width: this.width, height: this.height });
      this.overlay = el("canvas", { class: "overlay", width: this.width, height: this.height });
      this.wrap.append(this.canvas, this.overlay);
      this.overlay.addEventListener("mousemove", (e) => this.hover(e));
      this.overlay.addEventListener("mouseleave", () => { tip.style.display = "none"; });
      this.overlay.addEventListener("click", (e) => {
        const h = this.hit(e);
        if (h && h.entry >= 0) this.onPick(h.entry);
      });
    }
    layout() {
      const { m, d } = this;
      const labels = [];
      const sections = [];
      const laneFirst = [];
      // Lanes in walk order, grouped by section in one pass: a classic
      // chain is consecutive in the walk; a Swiss lane is one group.
      const bySection = new Map();
      for (let c = 0; c < d.n; c++) {
        const p = placeOf(m, d, c);
        const key = d.swiss ? (p.table === null ? -1 : p.table) : (p.old ? 1 : 0);
        let out = bySection.get(key);
        if (!out) { out = []; bySection.set(key, out); }
        if (d.swiss || p.depth === 0 || out.length === 0) out.push([c, 1]);
        else out[out.length - 1][1]++;
      }
      const lanesOf = (key) => bySection.get(key) || [];
      const manyLabels = () => (d.swiss ? (m.variant.tables || []).length : 2) <= 80;
      const labelled = manyLabels();
      const LH = labelled ? 18 : 2;
      let y = 4;
      const addSection = (label, lanes, laneLen) => {
        const laneW = laneLen * this.contW + (laneLen > 1 ? (this.cs >= 6 ? 6 : 2) : 0);
        const perRow = Math.max(1, Math.floor((this.width - 8) / laneW));
        const rowH = this.cs + (this.cs >= 6 ? 4 : 1);
        const sec = { label, y0: y + LH, laneW, perRow, rowH, first: laneFirst.length, count: lanes.length, laneLen, labelY: y };
        for (const l of lanes) laneFirst.push(l);
        y = sec.y0 + Math.ceil(lanes.length / perRow) * rowH + (labelled ? 4 : 1);
        sections.push(sec);
        labels.push(sec);
        return sec;
      };
      if (d.swiss) {
        const v = m.variant;
        if (v.small || !(v.tables || []).length) addSection("the small map's one group (no directory, no table)", lanesOf(-1), 1);
        else {
          // The directory: one cell per slot, coloured by the table it points to.
          const dcs = v.dirLen > 256 ? 4 : 10;
          const perRow = Math.max(1, Math.floor((this.width - 8) / (dcs + 1)));
          this.dir = { y0: y + 18, cs: dcs, perRow, labelY: y };
          y = this.dir.y0 + Math.ceil(v.dirLen / perRow) * (dcs + 1) + 6;
          v.tables.forEach((t, i) => addSection(`table ${i} at ${t.address}: capacity ${t.capacity}, used ${t.used}, growthLeft ${t.growthLeft}, localDepth ${t.localDepth}, directory slots ${t.dirFirst}..${t.dirFirst + t.dirSlots - 1}`,
            lanesOf(i), 1));
        }
      } else {
        const v = m.variant;
        const cur = lanesOf(0), old = lanesOf(1);
        const maxLen = (ls) => ls.reduce((a, l) => Math.max(a, l[1]), 1);
        addSection(`buckets: 2^B = ${v.bucket_count} at ${v.buckets}${maxLen(cur) > 1 ? ", overflow chains to the right" : ""}`, cur, maxLen(cur));
        if (old.length) addSection(`old buckets (growing): ${v.old_bucket_count} at ${v.oldbuckets}, nevacuate ${v.nevacuate}`, old, maxLen(old));
      }
      this.sections = sections;
      this.laneFirst = laneFirst;
      this.LH = LH;
      this.fullHeight = y + 4;
      this.height = Math.min(16000, y + 4);
      // Container c → its lane and position, for drawing paths.
      this.pos = new Int32Array(d.n * 2).fill(-1);
      for (const s of sections) for (let i = 0; i < s.count; i++) {
        const [c0, len] = laneFirst[s.first + i];
        const x = 4 + (i % s.perRow) * s.laneW, yy = s.y0 + Math.floor(i / s.perRow) * s.rowH;
        for (let j = 0; j < len; j++) { this.pos[(c0 + j) * 2] = x + j * this.contW; this.pos[(c0 + j) * 2 + 1] = yy; }
      }
    }
    draw() {
      const { m, d, cs } = this;
      const ctx = this.canvas.getContext("2d");
      const img = ctx.createImageData(this.width, this.height);
      const px = new Uint32Array(img.data.buffer);
      px.fill(0xffffffff);
      const rgba = (hexc) => { const v = parseInt(hexc.slice(1), 16); return (0xff << 24 | (v & 255) << 16 | ((v >> 8) & 255) << 8 | (v >> 16)) >>> 0; };
      const colorOf = {};
      for (const [k, v] of Object.entries(STATE_COLOR)) colorOf[k] = rgba(v);
      const missing = rgba("#805ad5");
      const counts = {};
      const W = this.width, H = this.height, dw = cs - this.cellGap;
      for (let c = 0; c < d.n; c++) {
        const x0 = this.pos[c * 2], y0 = this.pos[c * 2 + 1];
        for (let s = 0; s < 8; s++) {
          const t = d.tags[c * 8 + s];
          const st = tagState(d.swiss, t);
          if (x0 < 0 || y0 + dw > H) continue;
          counts[st] = (counts[st] || 0) + 1;
          let col = colorOf[st];
          if (st === "full" && d.entryAt[c * 8 + s] < 0) col = missing;
          const xs = x0 + s * cs;
          for (let yy = y0; yy < y0 + dw; yy++) px.fill(col, yy * W + xs, yy * W + Math.min(W, xs + dw));
        }
      }
      ctx.putImageData(img, 0, 0);
      ctx.fillStyle = "#2d3748";
      ctx.font = "12px system-ui, sans-serif";
      ctx.textBaseline = "top";
      if (this.LH > 10) for (const s of this.sections) ctx.fillText(s.label, 4, s.labelY + 2);
      if (this.dir) {
        const v = m.variant;
        ctx.fillText(`directory at ${v.dirPtr}: ${v.dirLen} slots (globalDepth ${v.globalDepth}), each pointing at a table; colour = table`, 4, this.dir.labelY + 2);
        v.tables.forEach((t, i) => {
          ctx.fillStyle = `hsl(${(i * 137.5) % 360},60%,55%)`;
          for (let j = t.dirFirst; j < t.dirFirst + t.dirSlots; j++) {
            const [x, y] = this.dirPos(j);
            ctx.fillRect(x, y, this.dir.cs, this.dir.cs);
          }
        });
      }
      if (cs >= 18) {
        // Tag bytes in the cells: h2 / tophash as hex.
        ctx.font = `${Math.floor(cs * 0.45)}px ui-monospace, monospace`;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        for (let c = 0; c < d.n; c++) for (let s = 0; s < 8; s++) {
          const t = d.tags[c * 8 + s];
          ctx.fillStyle = isFull(d.swiss, t) ? "#fff" : "#718096";
          ctx.fillText(t.toString(16).padStart(2, "0"), this.pos[c * 2] + s * cs + dw / 2, this.pos[c * 2 + 1] + dw / 2 + 1);
        }
        ctx.textAlign = "start";
      }
      this.counts = counts;
      this.canvas.dataset.full = counts.full || 0;
      this.canvas.dataset.cells = d.n * 8;
      this.canvas.dataset.drawn = "1";
    }
    dirPos(j) {
      const r = Math.floor(j / this.dir.perRow), c = j % this.dir.perRow;
      return [4 + c * (this.dir.cs + 1), this.dir.y0 + r * (this.dir.cs + 1)];
    }
    hit(e) {
      const r = this.overlay.getBoundingClientRect();
      const x = e.clientX - r.left, y = e.clientY - r.top;
      for (const s of this.sections) {
        if (y < s.y0 || y >= s.y0 + Math.ceil(s.count / s.perRow) * s.rowH) continue;
        const row = Math.floor((y - s.y0) / s.rowH), col = Math.floor((x - 4) / s.laneW);
        if (col < 0 || col >= s.perRow) return null;
        const i = row * s.perRow + col;
        if (i >= s.count) return null;
        const [c0, len] = this.laneFirst[s.first + i];
        const xi = x - 4 - col * s.laneW;
        const j = Math.floor(xi / this.contW);
        if (j >= len) return null;
        const slot = Math.floor((xi - j * this.contW) / this.cs);
        if (slot > 7) return null;
        const c = c0 + j;
        return { c, slot, entry: this.d.entryAt[c * 8 + slot] };
      }
      return null;
    }
    hover(e) {
      const h = this.hit(e);
      if (!h) { tip.style.display = "none"; return; }
      const { m, d } = this;
      const t = d.tags[h.c * 8 + h.slot];
      const base = addrOf(d, h.c);
      const lines = [`${placeText(m, d, h.c)} at ${base}, slot ${h.slot}`,
        `${d.swiss ? "ctrl" : "tophash"} byte ${hex2(t)}: ${tagState(d.swiss, t)}`,
        `key slot ${addHex(base, m.shape.key_off[h.slot])}, elem slot ${addHex(base, m.shape.elem_off[h.slot])}`];
      if (h.entry >= 0) {
        const k = h.entry;
        lines.push(`key   ${d.textAt(2 * k)}`, `value ${d.textAt(2 * k + 1)}`);
        if (d.kaddr) lines.push(`key at ${hex64(d.kaddr[2 * k], d.kaddr[2 * k + 1])} (indirect)`);
        if (d.eaddr) lines.push(`elem at ${hex64(d.eaddr[2 * k], d.eaddr[2 * k + 1])} (indirect)`);
        if (d.hstat[k] === 0) {
          const pl = placement(m, d, k);
          lines.push(`hash ${hash64(pl.lo, pl.hi)} → ` + (d.swiss ? `h2 ${hex2(pl.h2)}` : `tophash ${hex2(pl.tophash)}, bucket ${pl.bucket}`));
        }
        lines.push("click: draw the lookup path");
      }
      tip.textContent = lines.join("\n");
      tip.style.display = "block";
      const tw = tip.offsetWidth, th = tip.offsetHeight;
      tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tw - 4) + "px";
      tip.style.top = (e.clientY + 16 + th > window.innerHeight ? e.clientY - th - 8 : e.clientY + 16) + "px";
    }
    // Viewport coordinates of an entry's cell, scrolled into view.
    cellCenter(k) {
      const c = this.d.entCont[k], s = this.d.entSlot[k];
      const x = this.pos[c * 2] + s * this.cs + this.cs / 2, y = this.pos[c * 2 + 1] + this.cs / 2;
      this.wrap.scrollTop = Math.max(0, y - this.wrap.clientHeight / 2);
      this.wrap.scrollLeft = Math.max(0, x - this.wrap.clientWidth / 2);
      this.wrap.scrollIntoView({ block: "center" });
      const r = this.overlay.getBoundingClientRect();
      return { x: r.left + x, y: r.top + y };
    }
    // Draws the path: boxes around each container visited, a line through
    // them in order, a ring on the entry's slot.
    drawPath(stops, target) {
      const ctx = this.overlay.getContext("2d");
      ctx.clearRect(0, 0, this.width, this.height);
      const pts = [];
      ctx.lineWidth = 2;
      for (const st of stops) {
        let x, y, w, h;
        if (st.dir !== undefined) { [x, y] = this.dirPos(st.dir); w = h = this.dir.cs; }
        else { x = this.pos[st.c * 2]; y = this.pos[st.c * 2 + 1]; w = 8 * this.cs; h = this.cs; }
        if (x < 0) continue;
        ctx.strokeStyle = st.color || "#d53f8c";
        ctx.strokeRect(x - 2, y - 2, w + 4, h + 4);
        pts.push([x + w / 2, y + h / 2]);
      }
      ctx.strokeStyle = "#d53f8c";
      ctx.setLineDash([5, 3]);
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      ctx.setLineDash([]);
      if (target) {
        const x = this.pos[target.c * 2] + target.slot * this.cs + this.cs / 2, y = this.pos[target.c * 2 + 1] + this.cs / 2;
        ctx.lineWidth = 3;
        ctx.strokeStyle = "#d53f8c";
        ctx.beginPath();
        ctx.arc(x, y, Math.max(6, this.cs), 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
  }

  // ---------- the addressing path of one entry ----------
  function showPath(m, d, atlas, k, box) {
    const c = d.entCont[k], s = d.entSlot[k];
    const tag = d.tags[c * 8 + s];
    const p = placeOf(m, d, c);
    const v = m.variant;
    const steps = [], proof = [];
    const ok = (b, text) => proof.push(el("li", {}, el("span", { class: b ? "ok" : "bad", text: b ? "✓ " : "✗ " }), text));
    const stops = [];
    let verified = true;
    const key = d.textAt(2 * k), val = d.textAt(2 * k + 1);
    box.replaceChildren(el("b", { text: `Lookup path of key ${key}` }), el("span", { class: "hint", text: `  (value ${val})` }));
    if (d.hstat[k] !== 0) {
      box.append(el("p", { text: d.hstat[k] === 1
        ? "This key holds a NaN: the runtime hashes NaN with a fresh random number, so no lookup reaches it; it sits where its insertion put it."
        : "No hash: " + (m.hash.why || "this key could not be hashed") }));
      atlas.drawPath([{ c }], { c, slot: s });
      box.dataset.key = key; box.dataset.verified = "false";
      box.style.display = "block";
      return;
    }
    const pl = placement(m, d, k);
    steps.push(`hash = ${m.hash.hasher}(key, seed ${m.hash.seed}) = ${hash64(pl.lo, pl.hi)}   [${m.hash.algorithm} hash, recomputed by mapscope]`);
    stops.push({ header: true });
    if (v.kind === "classic") {
      steps.push(`hmap at ${m.address}: B = ${v.B}, buckets = ${v.buckets}`);
      steps.push(`bucket = hash & (2^${v.B} − 1) = ${pl.bucket};  tophash = hash >> 56 = ${hex2(pl.tophash)}${(pl.hi >>> 24) < 5 ? " (+5: below minTopHash)" : ""}`);
      let inOld = false;
      if (v.growing) {
        // Find the old bucket's first container to read its evacuation mark.
        let oc = -1;
        for (let i = 0; i < d.n; i++) { const q = placeOf(m, d, i); if (q.old && q.depth === 0 && q.bucket === pl.oldBucket) { oc = i; break; } }
        const mark = oc >= 0 ? d.tags[oc * 8] : 0;
        const evac = mark > 1 && mark < 5;
        inOld = !evac;
        steps.push(`growing: old bucket = ${pl.oldBucket} at ${oc >= 0 ? addrOf(d, oc) : "?"}, first tophash ${hex2(mark)} → ${evac ? "evacuated: look in the new array" : "not evacuated: the lookup searches the old bucket"}`);
        if (oc >= 0) stops.push({ c: oc, color: "#dd8a00" });
        ok(p.old === inOld, `the entry is in the ${p.old ? "old" : "new"} array; the evacuation state sends the lookup to the ${inOld ? "old" : "new"} one`);
        verified = verified && p.old === inOld;
      }
      const want = p.old ? pl.oldBucket : pl.bucket;
      // The chain: containers of the same bucket up to the entry's depth.
      let first = c;
      while (first > 0 && placeOf(m, d, first).depth > 0) first--;
      for (let i = first; i <= c; i++) {
        const q = placeOf(m, d, i);
        steps.push(`${q.depth ? "overflow " + q.depth : (q.old ? "old " : "") + "bucket " + q.bucket} at ${addrOf(d, i)}: tophash bytes [${Array.from(d.tags.subarray(i * 8, i * 8 + 8), hex2).join(" ")}]` +
          (i < c ? " — no match with the key, follow bmap.overflow" : ""));
        stops.push({ c: i });
      }
      steps.push(`slot ${s}: tophash ${hex2(tag)} = ${hex2(pl.tophash)}; key at ${addHex(addrOf(d, c), m.shape.key_off[s])}, elem at ${addHex(addrOf(d, c), m.shape.elem_off[s])}`);
      ok(tag === pl.tophash, `stored tophash ${hex2(tag)} equals the computed ${hex2(pl.tophash)}`);
      ok(p.bucket === want, `the key sits in ${p.old ? "old " : ""}bucket ${p.bucket}${p.depth ? " (overflow " + p.depth + ")" : ""}; the hash gives ${want}`);
      verified = verified && tag === pl.tophash && p.bucket === want;
    } else if (p.table === null) {
      steps.push(`maps.Map at ${m.address}: small map (dirLen 0), dirPtr ${v.dirPtr} is the one group`);
      steps.push(`h2 = hash & 0x7f = ${hex2(pl.h2)}: compared with the 8 control bytes [${Array.from(d.tags.subarray(c * 8, c * 8 + 8), hex2).join(" ")}] at ${addrOf(d, c)}`);
      stops.push({ c });
      steps.push(`slot ${s}: ctrl ${hex2(tag)} = h2; key at ${addHex(addrOf(d, c), m.shape.key_off[s])}, elem at ${addHex(addrOf(d, c), m.shape.elem_off[s])}`);
      ok(tag === pl.h2, `control byte ${hex2(tag)} equals h2 ${hex2(pl.h2)}`);
      verified = tag === pl.h2;
    } else {
      const t = v.tables[p.table];
      steps.push(`maps.Map at ${m.address}: dirLen ${v.dirLen}, globalShift ${v.globalShift}, dirPtr ${v.dirPtr}`);
      steps.push(`directory index = hash >> ${v.globalShift} = ${pl.dir} → dirPtr[${pl.dir}] at ${addHex(v.dirPtr, 8 * pl.dir)} = table ${p.table} at ${t.address} (its slots ${t.dirFirst}..${t.dirFirst + t.dirSlots - 1})`);
      stops.push({ dir: pl.dir });
      const inDir = pl.dir >= t.dirFirst && pl.dir < t.dirFirst + t.dirSlots;
      ok(inDir, `directory slot ${pl.dir} belongs to the entry's table`);
      const mask = t.lengthMask;
      const seq = probeSeq(pl.h1lo, mask, mask + 1);
      steps.push(`h1 = hash >> 7, h2 = hash & 0x7f = ${hex2(pl.h2)}; probe starts at group h1 & lengthMask(${mask}) = ${seq[0]}, then +1, +2, +3… (mod ${mask + 1})`);
      let reached = false, stoppedAt = -1;
      const tableFirst = (() => { for (let i = 0; i < d.n; i++) if (placeOf(m, d, i).table === p.table) return i; return -1; })();
      for (let i = 0; i < seq.length; i++) {
        const g = seq[i], gc = tableFirst + g;
        const ctrl = Array.from(d.tags.subarray(gc * 8, gc * 8 + 8));
        const matches = ctrl.map((b, j) => (b === pl.h2 ? j : -1)).filter((j) => j >= 0);
        const hasEmpty = ctrl.includes(0x80);
        stops.push({ c: gc });
        if (g === p.group) {
          steps.push(`group ${g} at ${addrOf(d, gc)}: ctrl [${ctrl.map(hex2).join(" ")}], h2 matches slot(s) ${matches.join(", ")} → key compared equal in slot ${s}`);
          reached = true;
          ok(true, `group ${g} is probe ${i + 1} of the key's sequence, before any group with an empty slot`);
          break;
        }
        steps.push(`group ${g} at ${addrOf(d, gc)}: ctrl [${ctrl.map(hex2).join(" ")}], h2 ${matches.length ? "matches slot(s) " + matches.join(", ") + " (other keys)" : "no match"}${hasEmpty ? " — has an empty slot: the lookup would stop here" : ", no empty slot: probe on"}`);
        if (hasEmpty) { stoppedAt = g; break; }
      }
      if (!reached) ok(false, stoppedAt >= 0 ? `the probe stops at group ${stoppedAt} before reaching group ${p.group}` : `group ${p.group} is not on the probe sequence`);
      steps.push(`slot ${s}: ctrl ${hex2(tag)}; key at ${addHex(addrOf(d, c), m.shape.key_off[s])}, elem at ${addHex(addrOf(d, c), m.shape.elem_off[s])}`);
      ok(tag === pl.h2, `control byte ${hex2(tag)} equals h2 ${hex2(pl.h2)}`);
      verified = inDir && reached && tag === pl.h2;
    }
    box.append(el("ol", {}, steps.map((x) => el("li", { text: x }))), el("b", { text: "Proof" }), el("ul", {}, proof),
      el("p", { class: verified ? "ok" : "bad", text: verified ? "verified: the recomputed hash leads to this slot" : "NOT verified: a lookup of this key would not reach this slot" }));
    box.dataset.key = key;
    box.dataset.verified = String(verified);
    box.style.display = "block";
    atlas.drawPath(stops.filter((x) => !x.header), { c, slot: s });
  }

  // ---------- layout view ----------
  const FIELD_HUES = [205, 140, 35, 280, 0, 175, 60, 320];
  function ruler(name, size, fields, holes, note) {
    const BYTE = size > 512 ? 8 : 12, ROW = 64, RH = 26;
    const rows = Math.min(64, Math.ceil(size / ROW));
    const box = el("div", { class: "ruler", style: `width:${ROW * BYTE}px;height:${rows * (RH + 6)}px` });
    const seg = (off, len, cls, label, title, hue) => {
      for (let o = off; o < off + len && o < rows * ROW;) {
        const row = Math.floor(o / ROW), end = Math.min(off + len, (row + 1) * ROW);
        box.append(el("div", { class: "f " + cls, title, text: label,
          style: `left:${(o % ROW) * BYTE}px;top:${row * (RH + 6)}px;width:${(end - o) * BYTE}px;height:${RH}px;` + (hue === null ? "" : `background:hsl(${hue},65%,80%)`) }));
        o = end;
      }
    };
    fields.forEach((f, i) => seg(f.offset, f.size, "", f.name, `${f.name} ${f.type || ""}: offset ${f.offset}, ${f.size} bytes`, FIELD_HUES[i % FIELD_HUES.length]));
    holes.forEach((h) => seg(h.offset, h.size, "hole", "pad", `padding: ${h.size} bytes at offset ${h.offset}`, null));
    for (let r = 0; r < rows; r++) box.append(el("div", { class: "row", style: `top:${r * (RH + 6) + 6}px`, text: `+${r * ROW} L${r}` }));
    for (let r = 1; r < rows; r++) box.append(el("div", { class: "cl", style: `top:${r * (RH + 6) - 4}px` }));
    for (let b = 0; b < ROW; b += 8) box.append(el("div", { class: "byte", style: `left:${b * BYTE}px`, text: b }));
    return el("div", {}, el("h3", { class: "mono", text: `${name} — ${size} bytes` }),
      note ? el("p", { class: "hint", text: note }) : null, box,
      size > rows * ROW ? el("p", { class: "hint", text: `… ${size - rows * ROW} more bytes not drawn` }) : null);
  }
  function layoutView() {
    app.append(el("h2", { text: "Layouts: one row per 64-byte cache line" }),
      el("p", { class: "sub", text: "Each structure as a byte ruler: fields coloured, padding hatched, red dashes where a cache line ends (counted from the structure's start). Hover a field for its type and offset." }));
    for (const l of META.layouts || []) {
      app.append(ruler(l.name + (l.map ? `  (${l.map})` : ""), l.size, l.fields, l.holes, `source: ${l.source}`));
    }
    // Slot by slot, from the map's shape: what a lookup touches.
    const seen = new Set();
    for (const m of MAPS) {
      if (seen.has(m.type)) continue;
      seen.add(m.type);
      const sh = m.shape, fields = [];
      fields.push({ name: m.variant.kind === "swiss" ? "ctrl" : "tophash", offset: 0, size: 8, type: "[8]uint8" });
      for (let i = 0; i < 8; i++) {
        const ks = sh.indirect_key ? 8 : sh.key_size, es = sh.indirect_elem ? 8 : sh.elem_size;
        if (ks) fields.push({ name: `k${i}`, offset: sh.key_off[i], size: ks, type: sh.indirect_key ? "*key" : "key" });
        if (es) fields.push({ name: `e${i}`, offset: sh.elem_off[i], size: es, type: sh.indirect_elem ? "*elem" : "elem" });
      }
      if (m.variant.kind === "classic") fields.push({ name: "overflow", offset: sh.container_size - 8, size: 8, type: "*bmap" });
      fields.sort((a, b) => a.offset - b.offset);
      const holes = [];
      let at = 0;
      for (const f of fields) { if (f.offset > at) holes.push({ offset: at, size: f.offset - at }); at = Math.max(at, f.offset + f.size); }
      if (sh.container_size > at) holes.push({ offset: at, size: sh.container_size - at });
      app.append(ruler(`${m.variant.kind === "swiss" ? "group" : "bucket"} of ${m.type}, slot by slot`, sh.container_size, fields, holes,
        `keys k0..k7 and elems e0..e7 where this build puts them${sh.indirect_key || sh.indirect_elem ? "; indirect slots hold pointers" : ""}`));
    }
    return Promise.resolve();
  }

  // ---------- boot ----------
  window.mapscopeReport = {
    meta: META, ready: false, current: null, timing: TIMING,
    open: (id) => { location.hash = "#map-" + id; },
    cellCenter: (k) => window.mapscopeReport.current.atlas.cellCenter(k),
  };
  const top = header();
  document.body.append(top, app, tip);
  document.documentElement.style.setProperty("--hdr", top.offsetHeight + "px");
  function go() {
    const t0 = performance.now();
    window.mapscopeReport.ready = false;
    document.body.dataset.ready = "";
    route().then(() => {
      window.mapscopeReport.ready = true;
      window.mapscopeReport.renderMs = performance.now() - t0;
      window.mapscopeReport.readyAt = performance.now();
      document.body.dataset.ready = location.hash || "#census";
    }, (e) => { console.error(e); document.body.dataset.ready = "error"; });
  }
  window.addEventListener("hashchange", go);
  go();
})();
