// SpeedData strip charts: live signals from the stripchart gateway (proto/WS.md) drawn with
// uPlot. A page loads this one script from the gateway (`<script src=".../static/stripchart.js">`)
// and places, with the original SpeedData attributes:
//   <canvas class="stripchart" data-signals="example.sine_wave,example.ramp" data-window="30"
//           data-height="300" data-ymin data-ymax data-colors data-theme="auto|dark|light">
//   <span data-value="example.counter"></span>     (or "example.*": every signal of a channel)
// Elements added later are picked up too (and dropped when removed). The script opens one
// WebSocket to the gateway it was loaded from, reconnects with a capped back-off, plots the
// data's own time (device time where declared, else rx_time), scrolls with
// requestAnimationFrame and marks signals whose data stopped coming as stale.
// `window.SpeedData` is its API (the dashboard uses it).
(function () {
  "use strict";
  if (window.SpeedData) return; // loaded twice: the first one serves

  const SCRIPT = document.currentScript;
  const BASE = new URL(".", SCRIPT ? SCRIPT.src : location.href).href; // .../static/
  const WS_URL = (() => {
    const url = new URL("/ws", BASE);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  })();

  const DEFAULT_WINDOW_S = 30;
  const DEFAULT_HEIGHT = 300;
  const BACKOFF_MIN_MS = 250;
  const BACKOFF_MAX_MS = 5000;
  const STALE_MIN_MS = 2000; // a signal is stale after this long without data, at least ...
  const STALE_GAPS = 5; // ... or this many of its usual gaps between arrivals
  const VALUE_REFRESH_MS = 100; // value spans are written at most this often
  const PALETTES = {
    dark: {
      background: "#000000",
      text: "#d0d0d0",
      grid: "rgba(255,255,255,0.12)",
      series: ["#ffff00", "#00ffff", "#ff00ff", "#00ff00", "#ffa500", "#ff6666"],
    },
    light: {
      background: "#ffffff",
      text: "#303030",
      grid: "rgba(0,0,0,0.10)",
      series: ["#0000ff", "#ff0000", "#008000", "#ff8c00", "#800080", "#008080"],
    },
  };

  // ------------------------------------------------------------------ helpers

  const nowMs = () => performance.now();
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  /** The theme in force for a `data-theme` of auto|dark|light: auto follows the page's chosen
   * theme (html[data-theme]) or else the system's. */
  function resolveTheme(wanted) {
    if (wanted === "dark" || wanted === "light") return wanted;
    const page = document.documentElement.dataset.theme;
    if (page === "dark" || page === "light") return page;
    return systemDark.matches ? "dark" : "light";
  }

  function splitList(text) {
    return String(text || "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  function numberAttr(el, name, fallback) {
    const raw = el.getAttribute(name);
    if (raw === null || raw.trim() === "") return fallback;
    const n = Number(raw);
    return Number.isFinite(n) ? n : fallback;
  }

  /** "example.a.b" -> ["example", "a.b"] (channel names have no dot). */
  function splitKey(key) {
    const dot = key.indexOf(".");
    return dot < 0 ? [key, ""] : [key.slice(0, dot), key.slice(dot + 1)];
  }

  function formatValue(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return "–";
      if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
      const a = Math.abs(v);
      return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
    }
    return String(v);
  }

  /** A data time (ms since the epoch) as the local time of day with milliseconds. */
  function clockTime(ms) {
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function loadOnce(tag, attrs) {
    const key = attrs.src || attrs.href;
    let el = document.querySelector(`${tag}[data-sd-asset="${CSS.escape(key)}"]`);
    if (el) return el._sdLoaded;
    el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    el.dataset.sdAsset = key;
    el._sdLoaded = new Promise((resolve, reject) => {
      el.addEventListener("load", resolve);
      el.addEventListener("error", () => reject(new Error(`cannot load ${key}`)));
    });
    document.head.append(el);
    return el._sdLoaded;
  }

  let uplotReady = null;
  /** uPlot and the charts' styles, from the gateway (loaded the first time a chart needs them). */
  function needUplot() {
    if (!uplotReady) {
      const css = [];
      if (!document.querySelector('link[href$="uplot/uPlot.min.css"]'))
        css.push(loadOnce("link", { rel: "stylesheet", href: BASE + "uplot/uPlot.min.css" }));
      if (!document.querySelector('link[href$="stripchart.css"]'))
        css.push(loadOnce("link", { rel: "stylesheet", href: BASE + "stripchart.css" }));
      const js = window.uPlot ? Promise.resolve() : loadOnce("script", { src: BASE + "uplot/uPlot.iife.min.js" });
      uplotReady = Promise.all([js, ...css]);
    }
    return uplotReady;
  }

  // ------------------------------------------------------------------ the connection

  /** Parses one binary frame (proto/WS.md "Binary frames") into views on its buffer. */
  function parseFrame(buf) {
    const dv = new DataView(buf);
    if (buf.byteLength < 16 || dv.getUint32(0, false) !== 0x53445731) return null; // "SDW1"
    const frame = { kind: dv.getUint8(4), flags: dv.getUint8(5), id: dv.getUint32(8, true), blocks: [] };
    const count = dv.getUint16(6, true);
    let off = 16;
    for (let b = 0; b < count; b++) {
      const index = dv.getUint16(off, true);
      const k = dv.getUint16(off + 2, true);
      const n = dv.getUint32(off + 4, true);
      const flags = dv.getUint32(off + 8, true);
      const t = new BigInt64Array(buf, off + 16, n);
      const values = [];
      for (let s = 0; s < k; s++) values.push(new Float64Array(buf, off + 16 + 8 * n * (1 + s), n));
      off += 16 + 8 * n * (k + 1);
      let last = null;
      if (flags & 2) {
        last = { t: Number(new BigInt64Array(buf, off, 1)[0]) / 1e9, values: new Float64Array(buf, off + 8, k) };
        off += 8 * (k + 1);
      }
      frame.blocks.push({ index, n, t, values, last, reduced: (flags & 1) !== 0 });
    }
    return frame;
  }

  /** One WebSocket to the gateway, shared by everything on the page; it reconnects by itself
   * and subscribes again (history included) after a reconnect. */
  class Connection {
    constructor(url) {
      this.url = url;
      this.ws = null;
      this.state = "connecting"; // connecting | live | offline
      this.channels = new Map(); // name -> advertise message
      this.status = {}; // name -> latest status entry
      this.subs = new Map(); // id -> subscription
      this.nextId = 1;
      this.backoff = BACKOFF_MIN_MS;
      this.retryAt = 0;
      this.listeners = { channels: [], status: [], state: [] };
      this.connects = 0;
      this.fresh = null; // after a hello: the channels advertised since
    }

    on(event, fn) {
      this.listeners[event].push(fn);
    }

    emit(event, arg) {
      for (const fn of this.listeners[event]) {
        try {
          fn(arg);
        } catch (e) {
          setTimeout(() => {
            throw e;
          });
        }
      }
    }

    setState(state) {
      if (this.state === state) return;
      this.state = state;
      this.emit("state", state);
    }

    open() {
      if (this.ws) return;
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (e) {
        this.retry();
        return;
      }
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onmessage = (event) => this.receive(event.data);
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.setState("offline");
        for (const sub of this.subs.values()) sub.sent = false;
        this.retry();
      };
      ws.onerror = () => {}; // onclose follows and retries
    }

    retry() {
      const delay = this.backoff * (0.75 + Math.random() * 0.5);
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      this.retryAt = Date.now() + delay;
      setTimeout(() => this.open(), delay);
    }

    send(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
    }

    /** A subscription: `spec` {signals, window, width, history}; `handler` gets subscribed(msg),
     * latest(msg), text(msg), frame(frame), dropped(msg) and reconnected(). */
    subscribe(spec, handler) {
      const sub = { id: this.nextId++, spec, handler, layout: null, sent: false };
      this.subs.set(sub.id, sub);
      this.sendSubscribe(sub);
      return sub;
    }

    update(sub, spec) {
      sub.spec = spec;
      this.sendSubscribe(sub);
    }

    sendSubscribe(sub) {
      if (this.state !== "live") return; // sent on hello
      const spec = sub.spec;
      if (!spec.signals.length) {
        if (sub.sent) this.send({ type: "unsubscribe", id: sub.id });
        sub.sent = false;
        sub.layout = null;
        return;
      }
      sub.sent = true;
      sub.awaiting = true;
      const message = { type: "subscribe", id: sub.id, signals: spec.signals, window: spec.window, width: spec.width };
      if (spec.history === false) message.history = false;
      this.send(message);
    }

    unsubscribe(sub) {
      if (!this.subs.delete(sub.id)) return;
      if (sub.sent) this.send({ type: "unsubscribe", id: sub.id });
    }

    receive(data) {
      if (typeof data !== "string") {
        const frame = parseFrame(data);
        const sub = frame && this.subs.get(frame.id);
        if (sub && sub.layout) sub.handler.frame(frame, sub);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        return;
      }
      const sub = typeof msg.id === "number" ? this.subs.get(msg.id) : undefined;
      switch (msg.type) {
        case "hello":
          this.backoff = BACKOFF_MIN_MS;
          this.connects += 1;
          // the channels heard before stay until the gateway's first status says which are
          // gone (it advertises every channel right after hello): charts survive a restart
          this.fresh = new Set();
          this.setState("live");
          for (const s of this.subs.values()) {
            s.handler.reconnected?.(s);
            this.sendSubscribe(s);
          }
          this.emit("channels", this.channels);
          break;
        case "advertise":
          if (this.fresh) this.fresh.add(msg.channel);
          this.channels.set(msg.channel, msg);
          this.emit("channels", this.channels);
          break;
        case "unadvertise":
          this.channels.delete(msg.channel);
          this.emit("channels", this.channels);
          break;
        case "status":
          this.status = msg.channels || {};
          if (this.fresh) {
            const gone = [...this.channels.keys()].filter((name) => !this.fresh.has(name));
            this.fresh = null;
            for (const name of gone) this.channels.delete(name);
            if (gone.length) this.emit("channels", this.channels);
          }
          this.emit("status", this.status);
          break;
        case "subscribed":
          if (sub) {
            const solicited = sub.awaiting;
            sub.awaiting = false;
            sub.layout = msg;
            sub.handler.subscribed(msg, sub, solicited);
          }
          break;
        case "latest":
        case "text":
          if (sub) sub.handler.values?.(msg.values || {}, sub);
          break;
        case "dropped":
          if (sub) sub.handler.dropped?.(msg, sub);
          break;
        case "error":
          console.warn(`stripchart gateway: ${msg.error}: ${msg.detail}`);
          break;
        default:
          break;
      }
    }

    /** Every signal the gateway advertises for a channel (numeric only when asked). */
    signalsOf(channel, numericOnly) {
      const ad = this.channels.get(channel);
      if (!ad) return [];
      return (ad.signals || []).filter((s) => !numericOnly || s.numeric).map((s) => `${channel}.${s.name}`);
    }

    signalInfo(key) {
      const [channel, name] = splitKey(key);
      const ad = this.channels.get(channel);
      return ad && (ad.signals || []).find((s) => s.name === name);
    }
  }

  const connection = new Connection(WS_URL);

  // ------------------------------------------------------------------ chart data

  /** One channel's rows in a chart: growable columns with a moving start (old rows trimmed
   * from the front) and one spare slot after the end for the exact newest (`last`) row. */
  class Columns {
    constructor(k) {
      this.k = k;
      this.cap = 1024;
      this.t = new Float64Array(this.cap);
      this.v = Array.from({ length: k }, () => new Float64Array(this.cap));
      this.start = 0;
      this.end = 0;
      this.lastT = NaN;
      this.lastV = null;
      this.reduced = null; // the min/max reduction of these rows (reducedView), when used
      this.bucket = 0; // of a reduction: its bucket (s) ...
      this.doneT = -Infinity; // ... and the start of its open bucket
    }

    get length() {
      return this.end - this.start;
    }

    reserve(n) {
      if (this.end + n + 1 <= this.cap) return;
      const live = this.length;
      const cap = live + n + 1 <= this.cap / 2 ? this.cap : Math.max(this.cap * 2, 2 * (live + n + 1));
      const move = (old) => {
        const fresh = cap === this.cap ? old : new Float64Array(cap);
        fresh.set(old.subarray(this.start, this.end), 0);
        return fresh;
      };
      this.t = move(this.t);
      this.v = this.v.map(move);
      this.cap = cap;
      this.end = live;
      this.start = 0;
    }

    clear() {
      this.start = this.end = 0;
      this.lastT = NaN;
      this.lastV = null;
      this.reduced = null;
    }

    tail() {
      return this.end > this.start ? this.t[this.end - 1] : -Infinity;
    }

    /** Appends n rows: times in s (Float64Array), and for each column its values or null. */
    push(times, columns, n) {
      this.reserve(n);
      this.t.set(times, this.end);
      for (let c = 0; c < this.k; c++) {
        if (columns[c]) this.v[c].set(columns[c], this.end);
        else this.v[c].fill(NaN, this.end, this.end + n);
      }
      this.end += n;
    }

    /** The first row index in [start, end) whose time is >= t. */
    lowerBound(t) {
      let lo = this.start;
      let hi = this.end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.t[mid] < t) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }

    /** Drops rows older than `minT`, keeping one before it (the line enters from the left). */
    trim(minT) {
      this.start = Math.max(this.start, this.lowerBound(minT) - 1);
      if (this.reduced) this.reduced.trim(minT);
    }

    /** Copies rows [i, j) of `src` after this one's end without keeping them (the view's
     * temporary tail); returns the new end. */
    stage(src, i, j, end) {
      this.t.set(src.t.subarray(i, j), end);
      for (let c = 0; c < this.k; c++) this.v[c].set(src.v[c].subarray(i, j), end);
      return end + (j - i);
    }

    /** [t, ...columns] views for uPlot, with the newest exact row appended when it is newer. */
    view() {
      return this.viewOf(this, this.end);
    }

    viewOf(src, end) {
      if (src.lastV && src.lastT > src.tail()) {
        this.reserve(end - this.end + 1);
        this.t[end] = src.lastT;
        for (let c = 0; c < this.k; c++) this.v[c][end] = src.lastV[c];
        end += 1;
      }
      return [this.t.subarray(this.start, end), ...this.v.map((col) => col.subarray(this.start, end))];
    }

    /** The rows reduced to min/max per time bucket of `bucket` s (aligned to multiples of it,
     * as the gateway reduces: a bucket of more than 2 rows becomes its minimum at its first
     * row's time and its maximum at its last's), kept incrementally: buckets are reduced once,
     * when complete; the open bucket's rows are shown as they are. For a chart whose rows far
     * outnumber its pixel columns (an unreduced subscription), so each frame draws ~2 rows a
     * pixel whatever the rows in view. */
    reducedView(bucket) {
      let r = this.reduced;
      if (!r || r.bucket !== bucket) {
        r = this.reduced = new Columns(this.k);
        r.bucket = bucket;
      }
      const end = this.end;
      if (end === this.start) return r.viewOf(this, r.end);
      const open = Math.floor(this.t[end - 1] / bucket) * bucket; // the newest bucket's start
      let i = this.lowerBound(r.doneT);
      while (i < end && this.t[i] < open) {
        const b = Math.floor(this.t[i] / bucket);
        let j = i + 1;
        while (j < end && Math.floor(this.t[j] / bucket) === b) j++;
        r.reserve(2);
        if (j - i <= 2) r.end = r.stage(this, i, j, r.end);
        else r.extremes(this, i, j);
        i = j;
      }
      r.doneT = Math.max(r.doneT, open);
      r.reserve(end - i + 1);
      return r.viewOf(this, r.stage(this, i, end, r.end));
    }

    /** Appends the bucket of rows [i, j) of `src` as two rows: minima, then maxima. */
    extremes(src, i, j) {
      const at = this.end;
      this.t[at] = src.t[i];
      this.t[at + 1] = src.t[j - 1];
      for (let c = 0; c < this.k; c++) {
        const col = src.v[c];
        let lo = Infinity;
        let hi = -Infinity;
        for (let x = i; x < j; x++) {
          const v = col[x];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        this.v[c][at] = lo === Infinity ? NaN : lo;
        this.v[c][at + 1] = hi === -Infinity ? NaN : hi;
      }
      this.end += 2;
    }
  }

  /** Rows of several channels merged on one time axis (uPlot wants one x array): each series
   * has values at its own channel's times and gaps (null) elsewhere. */
  function mergeViews(views) {
    let total = 0;
    for (const v of views) total += v.data[0].length;
    const x = new Float64Array(total);
    const ys = [];
    for (const v of views) for (let c = 1; c < v.data.length; c++) ys.push(new Array(total).fill(null));
    const pos = views.map(() => 0);
    for (let i = 0; i < total; i++) {
      let best = -1;
      for (let j = 0; j < views.length; j++) {
        const t = views[j].data[0];
        if (pos[j] < t.length && (best < 0 || t[pos[j]] < views[best].data[0][pos[best]])) best = j;
      }
      const src = views[best].data;
      x[i] = src[0][pos[best]];
      let column = 0;
      for (let j = 0; j < best; j++) column += views[j].data.length - 1;
      for (let c = 1; c < src.length; c++) ys[column + c - 1][i] = src[c][pos[best]];
      pos[best] += 1;
    }
    return [x, ...ys];
  }

  // ------------------------------------------------------------------ charts

  /** Where the line breaks (uPlot's gaps, in canvas pixels): between a series' rows much
   * further apart than its rows around them (at least 2 s: the data stopped, say while a relay
   * restarted), so no straight line pretends there was data. Missing values (null: another
   * channel's rows in a chart of several) do not break it. */
  function timeGaps(u, seriesIdx, idx0, idx1) {
    const x = u.data[0];
    const y = u.data[seriesIdx];
    let rows = 0;
    for (let i = idx0; i <= idx1; i++) if (y[i] != null) rows++;
    const gaps = [];
    if (rows < 3) return gaps;
    const limit = Math.max(2, (20 * (x[idx1] - x[idx0])) / rows);
    let prev = -1;
    for (let i = idx0; i <= idx1; i++) {
      if (y[i] == null) continue;
      if (prev >= 0 && x[i] - x[prev] > limit) {
        gaps.push([Math.round(u.valToPos(x[prev], "x", true)) + 1, Math.round(u.valToPos(x[i], "x", true))]);
      }
      prev = i;
    }
    return gaps;
  }

  /** The y axis's width: its longest tick label (about 7 px a character) and the ticks. */
  function yAxisSize(u, values) {
    const longest = (values || []).reduce((n, v) => Math.max(n, String(v).length), 0);
    return Math.max(40, 7 * longest + 18);
  }

  const charts = new Set();

  /** A strip chart in `host` (an element it fills): `options` {signals, window, height, ymin,
   * ymax, colors, theme, title, width}; signals are `channel.signal` or `channel.*`. */
  class Chart {
    constructor(host, options) {
      this.host = host;
      this.options = Object.assign({ window: DEFAULT_WINDOW_S, height: DEFAULT_HEIGHT, theme: "auto", colors: [] }, options);
      this.series = []; // [{key, channel, name}] in the order drawn
      this.columns = new Map(); // channel -> {cols: Columns, keys: [key...]}
      this.arrival = new Map(); // channel -> {at, gap}
      this.skew = null; // performance.now()/1000 minus the data's time at the right edge
      this.uplot = null;
      this.dirty = true;
      this.resetPending = true;
      this.droppedRows = 0;
      this.lastEdge = 0;
      host.classList.add("sd-chart");
      host.dataset.state = "connecting";
      this.head = document.createElement("div");
      this.head.className = "sd-chart-head";
      this.titleEl = document.createElement("span");
      this.titleEl.className = "sd-chart-title";
      this.stateEl = document.createElement("span");
      this.stateEl.className = "sd-chart-state";
      this.head.append(this.titleEl, this.stateEl);
      this.plotEl = document.createElement("div");
      this.plotEl.className = "sd-chart-plot";
      host.replaceChildren(this.head, this.plotEl);
      this.titleEl.textContent = this.options.title || this.options.signals.join(", ");
      this.explicitSeries();
      charts.add(this);
      this.sub = connection.subscribe(this.spec(), this);
      this.resize = new ResizeObserver(() => this.fit());
      this.resize.observe(this.plotEl);
      needUplot().then(
        () => this.build(),
        (e) => this.fail(e),
      );
      startLoop();
    }

    spec() {
      return { signals: this.options.signals, window: this.options.window, width: this.pixelWidth(), history: true };
    }

    pixelWidth() {
      if (this.options.width !== undefined) return this.options.width;
      return Math.max(100, Math.min(16384, Math.round(this.plotEl.clientWidth || this.host.clientWidth || 800)));
    }

    /** Series known before the gateway answers: the explicitly named signals. */
    explicitSeries() {
      const keys = this.options.signals.filter((k) => !k.endsWith(".*"));
      if (keys.length === this.options.signals.length) this.setSeries(keys);
    }

    setSeries(keys) {
      const same = keys.length === this.series.length && keys.every((k, i) => this.series[i].key === k);
      if (same) return false;
      this.series = keys.map((key) => {
        const [channel, name] = splitKey(key);
        return { key, channel, name };
      });
      this.columns.clear();
      for (const s of this.series) {
        if (!this.columns.has(s.channel)) this.columns.set(s.channel, { keys: [] });
        this.columns.get(s.channel).keys.push(s.key);
      }
      for (const entry of this.columns.values()) entry.cols = new Columns(entry.keys.length);
      this.dirty = true;
      if (window.uPlot) this.build();
      return true;
    }

    // --- the connection's callbacks

    subscribed(msg, sub, solicited) {
      let keys = [];
      const explicit = this.options.signals.filter((k) => !k.endsWith(".*"));
      if (explicit.length === this.options.signals.length) keys = explicit;
      else for (const block of msg.blocks || []) for (const s of block.signals) keys.push(`${block.channel}.${s}`);
      const changed = this.setSeries(keys);
      sub.maps = (msg.blocks || []).map((block) => {
        const entry = this.columns.get(block.channel);
        return { entry, channel: block.channel, index: block.signals.map((s) => (entry ? entry.keys.indexOf(`${block.channel}.${s}`) : -1)) };
      });
      if (solicited) this.resetPending = true;
      else if (changed) connection.update(sub, this.spec()); // history again for the new layout
      this.missing = msg.missing || [];
      this.updateState();
    }

    reconnected() {
      this.resetPending = true;
    }

    frame(frame, sub) {
      if (this.resetPending && frame.kind === 2) {
        for (const entry of this.columns.values()) entry.cols.clear();
        this.resetPending = false;
        this.skew = null;
      }
      const now = nowMs();
      for (const block of frame.blocks) {
        const map = sub.maps && sub.maps[block.index];
        if (!map || !map.entry) continue;
        const cols = map.entry.cols;
        const n = block.n;
        const times = new Float64Array(n);
        for (let i = 0; i < n; i++) times[i] = Number(block.t[i]) / 1e9;
        const columns = new Array(cols.k).fill(null);
        map.index.forEach((c, s) => {
          if (c >= 0) columns[c] = block.values[s];
        });
        if (n > 0) {
          if (times[0] < cols.tail() - this.options.window) cols.clear(); // the clock stepped back
          cols.push(times, columns, n);
        }
        let newest = n > 0 ? times[n - 1] : -Infinity;
        if (block.last) {
          cols.lastT = block.last.t;
          cols.lastV = new Float64Array(cols.k).fill(NaN);
          map.index.forEach((c, s) => {
            if (c >= 0) cols.lastV[c] = block.last.values[s];
          });
          newest = Math.max(newest, block.last.t);
        }
        if (Number.isFinite(newest)) this.heard(map.channel, newest, now, frame.kind === 1);
      }
      this.dirty = true;
    }

    dropped(msg) {
      this.droppedRows = msg.total;
    }

    /** Data of `channel` up to time `newest` (s) arrived now: the right edge follows it. */
    heard(channel, newest, now, live) {
      const skew = now / 1000 - newest;
      if (this.skew === null || skew < this.skew || skew - this.skew > this.options.window) this.skew = skew;
      else this.skew += (skew - this.skew) * 0.02; // latency grew: follow it slowly
      if (!live) return;
      const seen = this.arrival.get(channel);
      const gap = seen ? Math.min(now - seen.at, 60000) : 0;
      this.arrival.set(channel, { at: now, gap: seen ? seen.gap + (gap - seen.gap) * 0.2 : gap });
    }

    // --- drawing

    colors() {
      const palette = PALETTES[resolveTheme(this.options.theme)];
      return this.series.map((_, i) => this.options.colors[i] || palette.series[i % palette.series.length]);
    }

    build() {
      if (!window.uPlot || this.destroyed) return;
      if (this.uplot) this.uplot.destroy();
      const theme = resolveTheme(this.options.theme);
      const palette = PALETTES[theme];
      const colors = this.colors();
      const { ymin, ymax } = this.options;
      const y = { auto: ymin === undefined || ymax === undefined };
      if (ymin !== undefined || ymax !== undefined) {
        y.range = (u, lo, hi) => {
          const a = ymin !== undefined ? ymin : lo;
          const b = ymax !== undefined ? ymax : hi;
          return a < b ? [a, b] : [a - 1, a + 1];
        };
      }
      const axis = { stroke: palette.text, grid: { stroke: palette.grid, width: 1 }, ticks: { stroke: palette.grid, width: 1 } };
      const opts = {
        width: Math.max(100, this.plotEl.clientWidth || 600),
        height: this.options.height,
        pxAlign: false,
        scales: { x: { time: true, auto: false }, y },
        axes: [Object.assign({}, axis), Object.assign({ size: yAxisSize }, axis)],
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        legend: { live: false },
        series: [{}].concat(
          this.series.map((s, i) => ({ label: s.key, stroke: colors[i], width: 1, gaps: timeGaps, points: { show: false } })),
        ),
      };
      this.host.dataset.theme = theme;
      this.host.style.setProperty("--sd-bg", palette.background);
      this.host.style.setProperty("--sd-fg", palette.text);
      this.uplot = new window.uPlot(opts, this.emptyData(), this.plotEl);
      this.legendItems = this.uplot.root.querySelectorAll(".u-legend .u-series");
      this.dirty = true;
      this.rebuilt = true;
    }

    emptyData() {
      return [new Float64Array(0), ...this.series.map(() => new Float64Array(0))];
    }

    fail(error) {
      this.host.dataset.state = "error";
      this.stateEl.textContent = `${error.message}: run make deps (it installs uPlot)`;
    }

    fit() {
      if (!this.uplot) return;
      const width = Math.max(100, this.plotEl.clientWidth);
      if (Math.abs(width - this.uplot.width) >= 1) this.uplot.setSize({ width, height: this.options.height });
      const asked = this.sub.spec.width;
      if (this.options.width === undefined && asked && Math.abs(width - asked) / asked > 0.25) {
        connection.update(this.sub, this.spec());
      }
    }

    data() {
      const views = [];
      const pixels = Math.max(1, this.uplot.bbox.width / devicePixelRatio);
      const bucket = this.options.window / pixels;
      for (const entry of this.columns.values()) {
        const cols = entry.cols;
        views.push({ data: cols.length > 4 * pixels ? cols.reducedView(bucket) : cols.view() });
      }
      if (views.length === 0) return this.emptyData();
      if (views.length === 1) return views[0].data;
      return mergeViews(views);
    }

    /** The data time at the right edge now (s), or null before any data. */
    edge(now) {
      return this.skew === null ? null : now / 1000 - this.skew;
    }

    /** The visible range [start, end] in seconds of data time, or null. */
    range() {
      const end = this.edge(nowMs());
      return end === null ? null : [end - this.options.window, end];
    }

    points() {
      let n = 0;
      for (const entry of this.columns.values()) n += entry.cols.length;
      return n;
    }

    /** Scrolls to the data's clock now; true when it drew. */
    tick(now) {
      if (!this.uplot) return false;
      const end = this.edge(now);
      if (end === null) {
        if (this.dirty) {
          this.uplot.setData(this.emptyData(), false);
          this.dirty = false;
        }
        return false;
      }
      const start = end - this.options.window;
      const pixel = this.options.window / Math.max(1, this.uplot.bbox.width / devicePixelRatio);
      // drawn when the view moved by half a pixel (new rows land at the right edge, which
      // moves with them), or at once when the series changed
      if (!this.rebuilt && Math.abs(end - this.lastEdge) < pixel / 2) return false;
      this.rebuilt = false;
      for (const entry of this.columns.values()) entry.cols.trim(start);
      const u = this.uplot;
      u.batch(() => {
        if (this.dirty) u.setData(this.data(), false);
        u.setScale("x", { min: start, max: end });
      });
      this.lastEdge = end;
      this.dirty = false;
      return true;
    }

    /** Stale marks: per series in the legend, and the chart's state line. */
    updateState() {
      if (this.destroyed) return;
      const now = nowMs();
      const stale = [];
      for (const s of this.series) {
        const seen = this.arrival.get(s.channel);
        const limit = seen ? Math.max(STALE_MIN_MS, STALE_GAPS * seen.gap) : 0;
        const isStale = !seen || now - seen.at > limit;
        if (isStale) stale.push(s);
        const item = this.legendItems && this.legendItems[this.series.indexOf(s) + 1];
        if (item) item.classList.toggle("sd-stale", isStale);
      }
      let state;
      let text;
      if (connection.state !== "live") {
        state = "offline";
        const wait = Math.max(0, Math.round((connection.retryAt - Date.now()) / 1000));
        text = `gateway unreachable: reconnecting${wait ? ` in ${wait} s` : ""}`;
      } else if (this.series.length === 0) {
        state = "waiting";
        text = this.missing && this.missing.length ? `no such signal: ${this.missing.join(", ")}` : "waiting for signals";
      } else if (stale.length) {
        state = "stale";
        const ages = stale.map((s) => {
          const seen = this.arrival.get(s.channel);
          return seen ? `${s.key} ${Math.round((now - seen.at) / 1000)} s` : `${s.key} no data yet`;
        });
        text = `stale: ${ages.join(", ")}`;
      } else {
        state = "live";
        text = this.droppedRows ? `live (${this.droppedRows} rows dropped)` : "live";
      }
      this.host.dataset.state = state;
      this.host.dataset.points = String(this.points());
      if (this.stateEl.textContent !== text) this.stateEl.textContent = text;
    }

    setWindow(seconds) {
      this.options.window = seconds;
      this.lastEdge = 0;
      connection.update(this.sub, this.spec());
    }

    retheme() {
      if (this.uplot) {
        const data = this.data();
        this.build();
        this.uplot.setData(data, false);
        this.lastEdge = 0;
      }
    }

    destroy() {
      this.destroyed = true;
      charts.delete(this);
      connection.unsubscribe(this.sub);
      this.resize.disconnect();
      if (this.uplot) this.uplot.destroy();
      this.uplot = null;
    }
  }

  // the one animation loop: every chart scrolls with the data's clock
  const frameStats = { intervals: [], work: [], last: 0, max: 2000 };
  let looping = false;

  function record(list, value) {
    list.push(value);
    if (list.length > frameStats.max) list.splice(0, list.length - frameStats.max);
  }

  function loop(stamp) {
    if (charts.size === 0) {
      looping = false;
      return;
    }
    const begin = nowMs();
    let drawn = false;
    for (const chart of charts) {
      try {
        drawn = chart.tick(begin) || drawn;
      } catch (e) {
        console.error(e);
      }
    }
    if (drawn) record(frameStats.work, nowMs() - begin);
    if (frameStats.last) record(frameStats.intervals, stamp - frameStats.last);
    frameStats.last = stamp;
    requestAnimationFrame(loop);
  }

  function startLoop() {
    if (looping) return;
    looping = true;
    frameStats.last = 0;
    requestAnimationFrame(loop);
  }

  setInterval(() => {
    for (const chart of charts) chart.updateState();
  }, 500);

  connection.on("state", () => {
    for (const chart of charts) chart.updateState();
  });

  function retheme() {
    for (const chart of charts) chart.retheme();
  }
  systemDark.addEventListener("change", retheme);
  new MutationObserver(retheme).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });

  // ------------------------------------------------------------------ value spans

  /** Every `[data-value]` element of the page on one subscription (live data, no history). */
  const values = {
    elements: new Set(),
    latest: new Map(), // key -> {t, v, at}
    sub: null,
    scheduled: false,
    dirty: false,

    wanted() {
      const keys = new Set();
      for (const el of this.elements) {
        const key = el.dataset.value.trim();
        if (key.endsWith(".*")) for (const k of connection.signalsOf(key.slice(0, -2), false)) keys.add(k);
        else if (key) keys.add(key);
      }
      return [...keys].sort();
    },

    resubscribe() {
      const signals = this.wanted();
      const spec = { signals, window: 1, width: 0, history: false };
      if (!this.sub) this.sub = connection.subscribe(spec, this);
      else if (signals.join() !== this.sub.spec.signals.join()) connection.update(this.sub, spec);
      this.render();
    },

    schedule() {
      if (this.scheduled) return;
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.resubscribe();
      }, 0);
    },

    subscribed(msg, sub) {
      sub.maps = (msg.blocks || []).map((b) => b.signals.map((s) => `${b.channel}.${s}`));
    },

    values(map) {
      const at = nowMs();
      for (const [key, entry] of Object.entries(map)) this.latest.set(key, { t: entry.t, v: entry.v, at });
      this.dirty = true;
    },

    frame(frame, sub) {
      const at = nowMs();
      for (const block of frame.blocks) {
        const keys = sub.maps && sub.maps[block.index];
        if (!keys) continue;
        let t;
        let row;
        if (block.last) {
          t = block.last.t * 1000;
          row = block.last.values;
        } else if (block.n > 0) {
          t = Number(block.t[block.n - 1]) / 1e6;
          row = block.values.map((col) => col[block.n - 1]);
        } else continue;
        keys.forEach((key, s) => this.latest.set(key, { t, v: row[s], at }));
      }
      this.dirty = true;
    },

    render() {
      const now = nowMs();
      for (const el of this.elements) {
        const key = el.dataset.value.trim();
        if (key.endsWith(".*")) this.renderChannel(el, key.slice(0, -2), now);
        else this.renderOne(el, key, now);
      }
      this.dirty = false;
    },

    staleness(entry, now) {
      if (!entry) return "no value yet";
      const age = (now - entry.at) / 1000;
      return connection.state !== "live" || age > STALE_MIN_MS / 1000 ? `no new value for ${Math.round(age)} s` : "";
    },

    renderOne(el, key, now) {
      const entry = this.latest.get(key);
      const [channel, name] = splitKey(key);
      const isClock = name === (connection.channels.get(channel) || {}).time_field;
      const text = !entry ? "–" : isClock ? clockTime(entry.t) : formatValue(entry.v);
      if (el.textContent !== text) el.textContent = text;
      const stale = this.staleness(entry, now);
      el.classList.toggle("sd-stale", Boolean(stale));
      const info = connection.signalInfo(key);
      const title = [key, info && info.units ? `(${info.units})` : "", stale].filter(Boolean).join(" ");
      if (el.title !== title) el.title = title;
    },

    renderChannel(el, channel, now) {
      const keys = connection.signalsOf(channel, false);
      if (el.childElementCount !== keys.length || keys.some((k, i) => el.children[i].dataset.key !== k)) {
        el.replaceChildren(
          ...keys.map((key) => {
            const item = document.createElement("span");
            item.className = "sd-item";
            item.dataset.key = key;
            const name = document.createElement("span");
            name.className = "sd-name";
            name.textContent = splitKey(key)[1];
            const value = document.createElement("span");
            value.className = "sd-v";
            item.append(name, " ", value);
            const info = connection.signalInfo(key);
            if (info && info.units) item.title = info.units;
            if (info && info.units) {
              const units = document.createElement("span");
              units.className = "sd-units";
              units.textContent = info.units;
              item.append(" ", units);
            }
            return item;
          }),
        );
      }
      let stale = false;
      const clock = (connection.channels.get(channel) || {}).time_field;
      for (const item of el.children) {
        const entry = this.latest.get(item.dataset.key);
        const v = item.querySelector(".sd-v");
        const isClock = clock && item.dataset.key === `${channel}.${clock}`;
        const text = !entry ? "–" : isClock ? clockTime(entry.t) : formatValue(entry.v);
        if (v.textContent !== text) v.textContent = text;
        const s = this.staleness(entry, now);
        item.classList.toggle("sd-stale", Boolean(s));
        stale = stale || Boolean(s);
      }
      el.classList.toggle("sd-stale", stale);
    },
  };

  setInterval(() => {
    if (values.elements.size) values.render();
  }, VALUE_REFRESH_MS);
  connection.on("channels", () => {
    if (values.elements.size) values.schedule();
  });

  // ------------------------------------------------------------------ the page's elements

  /** A `<canvas class="stripchart">` becomes a chart in a div put after it (the canvas stays,
   * hidden, with its attributes). */
  function chartFromCanvas(canvas) {
    if (canvas._sdChart) return;
    const host = document.createElement("div");
    const width = canvas.getAttribute("width");
    if (width && canvas.style.width === "") host.style.maxWidth = `${Number(width)}px`;
    canvas.after(host);
    canvas.hidden = true;
    const options = {
      signals: splitList(canvas.dataset.signals),
      window: numberAttr(canvas, "data-window", DEFAULT_WINDOW_S),
      height: numberAttr(canvas, "data-height", DEFAULT_HEIGHT),
      ymin: numberAttr(canvas, "data-ymin", undefined),
      ymax: numberAttr(canvas, "data-ymax", undefined),
      colors: splitList(canvas.dataset.colors),
      theme: (canvas.dataset.theme || "auto").trim().toLowerCase(),
      title: canvas.getAttribute("title") || undefined,
    };
    if (options.window <= 0) options.window = DEFAULT_WINDOW_S;
    if (options.height <= 0) options.height = DEFAULT_HEIGHT;
    canvas._sdChart = new Chart(host, options);
    canvas._sdHost = host;
  }

  function adopt(root) {
    if (root.nodeType !== 1) return;
    const canvases = root.matches("canvas.stripchart") ? [root] : root.querySelectorAll("canvas.stripchart");
    for (const canvas of canvases) chartFromCanvas(canvas);
    const spans = root.matches("[data-value]") ? [root] : root.querySelectorAll("[data-value]");
    for (const el of spans) {
      values.elements.add(el);
      values.schedule();
    }
  }

  function release(root) {
    if (root.nodeType !== 1) return;
    const canvases = root.matches("canvas.stripchart") ? [root] : root.querySelectorAll("canvas.stripchart");
    for (const canvas of canvases) {
      if (canvas._sdChart && !canvas.isConnected) {
        canvas._sdChart.destroy();
        canvas._sdHost.remove();
        canvas._sdChart = null;
      }
    }
    for (const el of [...values.elements]) {
      if (!el.isConnected) {
        values.elements.delete(el);
        values.schedule();
      }
    }
  }

  function start() {
    connection.open();
    adopt(document.body);
    new MutationObserver((records) => {
      for (const r of records) {
        r.removedNodes.forEach(release);
        r.addedNodes.forEach(adopt);
      }
    }).observe(document.body, { childList: true, subtree: true });
  }

  window.SpeedData = {
    version: 1,
    connection,
    charts,
    values,
    palettes: PALETTES,
    Chart,
    resolveTheme,
    formatValue,
    needUplot,
    frameStats,
    /** p50/p99/max of the charts' work per animation frame that drew and of the intervals
     * between animation frames (ms). */
    stats() {
      const summary = (list) => {
        const s = [...list].sort((a, b) => a - b);
        const at = (q) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null);
        return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : null };
      };
      return { work: summary(frameStats.work), intervals: summary(frameStats.intervals) };
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
