// The gateway's dashboard: the channels the gateway advertises with their status and rates, a
// latest-values table, strip charts (every numeric signal, one chart per channel, unless the
// visitor picks signals), the chart window, "export this view" from the pivot, and "tag this
// range" with the list of tags (the pivot's, through this server's /api/v1/tags). Built on
// window.SpeedData (stripchart.js); whatever comes from the gateway reaches the DOM as text.
(function () {
  "use strict";
  const SD = window.SpeedData;
  const conn = SD.connection;
  const PIVOT = document.body.dataset.pivot;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== undefined && child !== null) node.append(child);
    return node;
  }

  // the theme and its toggle: /static/common/theme.js

  // ---------------------------------------------------------------- connection

  const connectionEl = $("connection");
  function showConnection(state) {
    connectionEl.dataset.state = state;
    connectionEl.textContent =
      state === "live" ? "live" : state === "offline" ? "gateway unreachable: reconnecting…" : "connecting…";
  }
  conn.on("state", showConnection);
  showConnection(conn.state);

  // ---------------------------------------------------------------- channels and values

  const channelRows = new Map(); // name -> {tr, cells}
  const valueRows = new Map(); // key -> tr
  const picked = new Set(); // keys the visitor chose to chart

  function channelRow(name) {
    let row = channelRows.get(name);
    if (!row) {
      const cells = {};
      const tr = el("tr", { "data-channel": name });
      for (const key of ["name", "status", "rate", "age", "clock"]) {
        cells[key] = el("td", { class: key === "rate" || key === "age" ? "num" : undefined });
        tr.append(cells[key]);
      }
      row = { tr, cells };
      channelRows.set(name, row);
    }
    return row;
  }

  function showChannels() {
    const names = [...conn.channels.keys()].sort();
    for (const name of [...channelRows.keys()]) if (!conn.channels.has(name)) channelRows.delete(name);
    $("channels").tBodies[0].replaceChildren(...names.map((n) => channelRow(n).tr));
    $("no-channels").hidden = names.length > 0;
    for (const name of names) fillChannel(name);
    showValues(names);
    arrangeCharts();
  }

  function fillChannel(name) {
    const ad = conn.channels.get(name);
    const st = conn.status[name] || {};
    const { cells } = channelRow(name);
    cells.name.textContent = name;
    const status = String(st.status || (ad && ad.status) || "unknown");
    const badge = el("span", { class: `status status-${status.replace(/[^a-z]/g, "")}` }, status);
    if (st.state && st.state !== "running") badge.title = `relay ${st.state}`;
    cells.status.replaceChildren(badge);
    const rate = typeof st.record_rate === "number" ? st.record_rate : st.rate;
    cells.rate.textContent = typeof rate === "number" ? `${rate.toFixed(1)}/s` : "–";
    cells.age.textContent = typeof st.age_s === "number" ? `${st.age_s.toFixed(1)} s ago` : "–";
    cells.clock.textContent = ad ? (ad.clock === "device" ? `device (${ad.time_field})` : "rx_time") : "";
  }

  function showValues(names) {
    const rows = [];
    const keys = new Set();
    for (const name of names) {
      const ad = conn.channels.get(name);
      for (const signal of ad.signals || []) {
        const key = `${name}.${signal.name}`;
        keys.add(key);
        let tr = valueRows.get(key);
        if (!tr) {
          const box = el("input", { type: "checkbox", "aria-label": `chart ${key}` });
          box.addEventListener("change", () => {
            if (box.checked) picked.add(key);
            else picked.delete(key);
            arrangeCharts();
          });
          tr = el(
            "tr",
            { "data-key": key },
            el("td", {}, name),
            el("td", {}, el("code", {}, signal.name)),
            el("td", { class: "num" }, el("span", { "data-value": key })),
            el("td", { class: "units" }),
            el("td", {}, box),
          );
          valueRows.set(key, tr);
        }
        tr.cells[3].textContent = signal.units || "";
        const box = tr.cells[4].firstChild;
        box.disabled = !signal.numeric;
        box.checked = picked.has(key);
        if (!signal.numeric) box.title = "not a number: shown as a value only";
        rows.push(tr);
      }
    }
    for (const key of [...valueRows.keys()]) if (!keys.has(key)) valueRows.delete(key);
    for (const key of [...picked]) if (!keys.has(key)) picked.delete(key);
    $("values").tBodies[0].replaceChildren(...rows);
  }

  conn.on("channels", showChannels);
  conn.on("status", () => {
    for (const name of conn.channels.keys()) fillChannel(name);
  });

  // ---------------------------------------------------------------- charts

  const chartsEl = $("charts");
  const charts = new Map(); // identity (signals joined) -> {host, chart}

  function windowSeconds() {
    return Number($("window").value) || 30;
  }

  /** The charts wanted now: one per channel, of its picked signals or else of all of them. */
  function wantedCharts() {
    const out = [];
    if (picked.size) {
      const byChannel = new Map();
      for (const key of [...picked].sort()) {
        const channel = key.slice(0, key.indexOf("."));
        if (!byChannel.has(channel)) byChannel.set(channel, []);
        byChannel.get(channel).push(key);
      }
      for (const [channel, signals] of byChannel) out.push({ title: channel, signals });
    } else {
      for (const name of [...conn.channels.keys()].sort()) {
        const ad = conn.channels.get(name);
        // every numeric signal but the device clock (it is the x axis)
        const numeric = (ad.signals || []).filter((s) => s.numeric && s.name !== ad.time_field);
        if (numeric.length) out.push({ title: name, signals: numeric.map((s) => `${name}.${s.name}`) });
      }
    }
    return out;
  }

  function arrangeCharts() {
    const wanted = wantedCharts();
    const ids = wanted.map((w) => w.signals.join(","));
    for (const [id, entry] of [...charts]) {
      if (!ids.includes(id)) {
        entry.chart.destroy();
        entry.host.remove();
        charts.delete(id);
      }
    }
    const hosts = wanted.map((w, i) => {
      let entry = charts.get(ids[i]);
      if (!entry) {
        const host = el("div", { class: "chart", "data-signals": ids[i] });
        chartsEl.append(host);
        entry = { host, chart: new SD.Chart(host, { signals: w.signals, window: windowSeconds(), title: w.title }) };
        charts.set(ids[i], entry);
      }
      return entry.host;
    });
    hosts.forEach((host) => chartsEl.append(host)); // in order
    $("chart-mode").textContent = picked.size
      ? `the picked signals (${picked.size})`
      : "every numeric signal, one chart per channel";
    $("clear-picks").hidden = picked.size === 0;
  }

  $("clear-picks").addEventListener("click", () => {
    picked.clear();
    for (const tr of valueRows.values()) tr.cells[4].firstChild.checked = false;
    arrangeCharts();
  });

  $("window").addEventListener("change", () => {
    for (const entry of charts.values()) entry.chart.setWindow(windowSeconds());
  });

  // ---------------------------------------------------------------- export this view

  const exportLink = $("export");
  const exportNote = $("export-note");

  /** What the charts show now: [view, ""] or [null, why]. */
  function currentView() {
    let start = Infinity;
    let end = -Infinity;
    const channels = new Set();
    const signals = [];
    for (const { chart } of charts.values()) {
      const range = chart.range();
      if (range) {
        start = Math.min(start, range[0]);
        end = Math.max(end, range[1]);
      }
      for (const s of chart.series) {
        channels.add(s.channel);
        signals.push(s.key);
      }
    }
    if (!channels.size || !Number.isFinite(start)) return [null, "nothing is charted yet"];
    const view = {
      start: new Date(Math.floor(start * 1000)).toISOString(),
      end: new Date(Math.ceil(end * 1000)).toISOString(),
      channels: [...channels].sort(),
      signals,
    };
    return [view, ""];
  }

  /** The pivot's export URL for what the charts show now, or null (with the reason shown). */
  function exportUrl() {
    if (!PIVOT) return [null, "no pivot is configured (settings: pivot)"];
    const [view, why] = currentView();
    if (!view) return [null, why];
    const query = new URLSearchParams({
      start: view.start,
      end: view.end,
      channels: view.channels.join(","),
      signals: view.signals.join(","),
      format: $("export-format").value,
      time: "device",
    });
    return [`${PIVOT}/api/v1/pivot/export?${query}`, ""];
  }

  exportLink.addEventListener("click", (event) => {
    const [url, why] = exportUrl();
    exportNote.hidden = !why;
    exportNote.textContent = why;
    if (!url) {
      event.preventDefault();
      return;
    }
    exportLink.href = url; // the browser follows the link as it is now: the pivot's download
  });

  // ---------------------------------------------------------------- tag this range

  // Through this server (/api/v1/tags is passed to the pivot): the page talks to its own origin.
  const TAGS = "/api/v1/tags";
  const tagNote = $("tag-note");

  function say(text) {
    tagNote.hidden = !text;
    tagNote.textContent = text;
  }

  async function tagThisRange() {
    const name = $("tag-name").value.trim();
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(name)) {
      say("a tag name is a lowercase letter, then letters, digits, _ or - (up to 63)");
      return;
    }
    const [view, why] = currentView();
    if (!view) {
      say(why);
      return;
    }
    const body = { name, ...view, format: $("export-format").value, time: "device" };
    try {
      const answer = await fetch(TAGS, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const tag = await answer.json();
      if (!answer.ok) {
        say(`not tagged: ${tag.detail || tag.error || answer.status}`);
        return;
      }
      say(`tag ${tag.name}: ${tag.state} (${tag.start} to ${tag.end})`);
      $("tag-name").value = "";
    } catch (error) {
      say(`not tagged: ${error}`);
    }
    refreshTags();
  }

  $("tag").addEventListener("click", tagThisRange);

  const sizeText = (n) =>
    typeof n !== "number" ? "–" : n < 1048576 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

  function tagRow(tag) {
    const records = tag.records ? Object.values(tag.records).reduce((a, b) => a + b, 0) : null;
    const state = el("span", { class: `state-${String(tag.state).replace(/[^a-z]/g, "")}` }, tag.state);
    if (tag.reason) state.title = tag.reason;
    const file =
      tag.state === "done" && PIVOT && tag.download
        ? el("a", { href: `${PIVOT}${tag.download}` }, tag.file)
        : tag.state === "failed" ? String(tag.reason || "") : "";
    return el(
      "tr",
      { "data-tag": tag.name, "data-state": tag.state },
      el("td", {}, el("code", {}, tag.name)),
      el("td", {}, state),
      el("td", {}, `${tag.start} – ${tag.end}`),
      el("td", {}, (tag.channels || []).join(", ")),
      el("td", { class: "num" }, records === null ? "–" : String(records)),
      el("td", { class: "num" }, sizeText(tag.size)),
      el("td", {}, file),
    );
  }

  let tagsTimer = null;
  async function refreshTags() {
    clearTimeout(tagsTimer);
    let pending = false;
    try {
      const answer = await fetch(TAGS, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const tags = (await answer.json()).tags || [];
        $("tags").tBodies[0].replaceChildren(...tags.map(tagRow));
        $("no-tags").hidden = tags.length > 0;
        $("no-tags").textContent = "No tags yet.";
        pending = tags.some((t) => t.state === "pending");
      } else {
        $("no-tags").hidden = false;
        $("no-tags").textContent = "The pivot does not answer: tags unknown.";
      }
    } catch (error) {
      $("no-tags").hidden = false;
      $("no-tags").textContent = "The pivot does not answer: tags unknown.";
    }
    tagsTimer = setTimeout(refreshTags, pending ? 1000 : 10000);
  }

  showChannels();
  refreshTags();
})();
