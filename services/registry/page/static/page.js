// The registry's page: the channel table (read again every few seconds), registration,
// removal with a confirm, the schema viewer with its versions (the theme: theme.js).
// Everything it shows from the registry goes into the DOM as text (textContent, text nodes,
// attribute values), never as HTML. Requests go with fetch to this same origin: the login
// cookie is SameSite=Strict and the server checks the Origin of changes.

const body = document.body;
const API = body.dataset.api;
const CAN_WRITE = body.dataset.canWrite === "true";
const REFRESH_MS = Number(body.dataset.refreshMs) || 3000;
const STATUSES = ["starting", "active", "failed", "stopped"];

// ---------------------------------------------------------------- helpers

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** A call of the REST API: its JSON, or ApiError with the error's `detail`. */
async function api(method, path, payload) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (payload instanceof FormData) {
    init.body = payload; // the browser sets multipart/form-data with its boundary
  } else if (payload !== undefined) {
    init.body = JSON.stringify(payload);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, "unreachable", "the registry does not answer");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const detail =
      data && typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`;
    throw new ApiError(response.status, data && data.error ? String(data.error) : "error", detail);
  }
  return data;
}

const channelPath = (name) => `/channels/${encodeURIComponent(name)}`;

const message = document.getElementById("message");

/** Shows a result (or an error's detail) above the table, or in `where`. */
function say(text, isError = false, where = message) {
  where.replaceChildren(text);
  where.classList.toggle("error", isError);
  where.setAttribute("role", isError ? "alert" : "status");
  where.hidden = false;
}

function sayError(error, where = message) {
  let text = error instanceof ApiError ? error.detail : String(error);
  if (error instanceof ApiError && error.status === 401) {
    text += " (open the login link that sdctl up prints)";
  }
  say(text, true, where);
}

function number(value, digits = 0) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function sum(map) {
  if (!map || typeof map !== "object") return undefined;
  return Object.values(map).reduce((total, n) => total + (typeof n === "number" ? n : 0), 0);
}

function time(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleString();
}

// The theme and its toggle: /static/common/theme.js.

// ---------------------------------------------------------------- channel table

const tbody = document.querySelector("#channels tbody");
const empty = document.getElementById("empty");
const updated = document.getElementById("updated");
const rows = new Map(); // name -> {tr, cells}

function schemaLabel(channel) {
  const schema = channel.schema || {};
  const name = typeof schema.name === "string" ? schema.name : "record";
  return `${name} v${channel.schema_version}`;
}

function makeRow(name) {
  const cells = {};
  const tr = el("tr", { "data-channel": name });
  for (const key of ["name", "port", "schema", "status", "rate", "records", "drops", "rejects"]) {
    cells[key] = el("td", { class: ["port", "rate", "records", "drops", "rejects"].includes(key) ? "num" : undefined });
    tr.append(cells[key]);
  }
  const actions = el("td", { class: "actions" });
  actions.append(
    el("button", { type: "button", class: "ghost", onclick: () => showSchema(name) }, "Schema"),
  );
  if (CAN_WRITE) {
    actions.append(
      el("button", { type: "button", class: "ghost danger", onclick: () => confirmRemove(name) }, "Remove"),
    );
  }
  if (body.dataset.stripchart) {
    // filled by the gateway's script (stripchart.js): every signal's newest value, live
    tr.append(el("td", { class: "latest" }, el("span", { "data-value": `${name}.*` })));
  }
  tr.append(actions);
  return { tr, cells };
}

function fillRow(row, channel) {
  const counters = channel.counters || {};
  const { cells } = row;
  cells.name.textContent = channel.name;
  cells.port.textContent = String(channel.port);
  cells.schema.textContent = schemaLabel(channel);
  cells.schema.title = channel.schema_path || `fingerprint ${channel.fingerprint}`;
  const status = STATUSES.includes(channel.status) ? channel.status : "unknown";
  const badge = el("span", { class: `status status-${status}` }, String(channel.status));
  const why = status === "failed" && channel.last_error ? el("div", { class: "why" }, channel.last_error) : null;
  cells.status.replaceChildren(badge, ...(why ? [why] : []));
  cells.status.title = channel.last_error || (channel.last_heartbeat ? `last heartbeat ${time(channel.last_heartbeat)}` : "no heartbeat yet");
  cells.rate.textContent = typeof counters.record_rate === "number" ? `${number(counters.record_rate, 1)}/s` : "–";
  cells.records.textContent = number(counters.records);
  cells.drops.textContent = number(counters.kernel_drops);
  cells.rejects.textContent = number(sum(counters.rejected));
  const reasons = Object.entries(counters.rejected || {}).filter(([, n]) => n > 0);
  cells.rejects.title = reasons.map(([reason, n]) => `${reason}: ${n}`).join(", ");
}

function showChannels(channels) {
  const names = channels.map((c) => c.name);
  const sameOrder = names.length === rows.size && names.every((n, i) => tbody.rows[i] && tbody.rows[i].dataset.channel === n);
  if (!sameOrder) {
    for (const name of [...rows.keys()]) if (!names.includes(name)) rows.delete(name);
    for (const name of names) if (!rows.has(name)) rows.set(name, makeRow(name));
    tbody.replaceChildren(...names.map((n) => rows.get(n).tr));
  }
  for (const channel of channels) fillRow(rows.get(channel.name), channel);
  empty.hidden = channels.length > 0;
}

let refreshing = false;

async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    const data = await api("GET", "/channels");
    showChannels(data.channels);
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    updated.classList.remove("error");
  } catch (error) {
    updated.textContent = `not updated: ${error instanceof ApiError ? error.detail : error}`;
    updated.classList.add("error");
  } finally {
    refreshing = false;
  }
}

// ---------------------------------------------------------------- schema viewer

const viewer = document.getElementById("schema-view");
const viewerTitle = document.getElementById("schema-title");
const versionBox = document.getElementById("schema-versions");
const meta = document.getElementById("schema-meta");
const schemaDoc = document.getElementById("schema-doc");
const fieldRows = document.querySelector("#schema-fields tbody");
const schemaJson = document.getElementById("schema-json");

/** An Avro type as one line of text. */
function typeText(type) {
  if (typeof type === "string") return type;
  if (Array.isArray(type)) return type.map(typeText).join(" | ");
  if (!type || typeof type !== "object") return String(type);
  let text;
  switch (type.type) {
    case "record":
    case "error":
      text = `record ${type.name ?? ""}`.trim();
      break;
    case "enum":
      text = `enum ${type.name ?? ""} {${(type.symbols || []).join(", ")}}`;
      break;
    case "array":
      text = `array<${typeText(type.items)}>`;
      break;
    case "map":
      text = `map<${typeText(type.values)}>`;
      break;
    case "fixed":
      text = `fixed ${type.name ?? ""}(${type.size})`;
      break;
    default:
      text = typeText(type.type);
  }
  return type.logicalType ? `${text} (${type.logicalType})` : text;
}

function showVersion(name, version) {
  const schema = version.schema || {};
  for (const button of versionBox.children) {
    button.setAttribute("aria-pressed", String(button.dataset.version === String(version.version)));
  }
  meta.replaceChildren(
    el("dt", {}, "Record"),
    el("dd", {}, [schema.namespace, schema.name].filter(Boolean).join(".") || "–"),
    el("dt", {}, "Version"),
    el("dd", {}, String(version.version)),
    el("dt", {}, "Fingerprint"),
    el("dd", {}, el("code", {}, String(version.fingerprint))),
    el("dt", {}, "Registered"),
    el("dd", {}, time(version.created_at)),
  );
  schemaDoc.textContent = typeof schema.doc === "string" ? schema.doc : "";
  schemaDoc.hidden = !schemaDoc.textContent;
  const fields = Array.isArray(schema.fields) ? schema.fields : [];
  fieldRows.replaceChildren(
    ...fields.map((field) =>
      el(
        "tr",
        {},
        el("td", {}, el("code", {}, String(field.name))),
        el("td", {}, typeof field.logicalType === "string" ? `${typeText(field.type)} (${field.logicalType})` : typeText(field.type)),
        el("td", {}, "default" in field ? JSON.stringify(field.default) : ""),
        el("td", { class: "doc" }, typeof field.doc === "string" ? field.doc : ""),
      ),
    ),
  );
  schemaJson.textContent = JSON.stringify(schema, null, 2);
  viewerTitle.textContent = `Schema of ${name}`;
}

async function showSchema(name) {
  let data;
  try {
    data = await api("GET", `${channelPath(name)}/schemas`);
  } catch (error) {
    sayError(error);
    return;
  }
  const versions = data.versions || [];
  versionBox.replaceChildren(
    ...versions.map((version) =>
      el(
        "button",
        {
          type: "button",
          class: "version",
          "data-version": version.version,
          "aria-pressed": "false",
          title: `fingerprint ${version.fingerprint}`,
          onclick: () => showVersion(name, version),
        },
        `v${version.version}`,
      ),
    ),
  );
  viewer.dataset.channel = name;
  viewer.hidden = false;
  if (versions.length > 0) showVersion(name, versions[versions.length - 1]);
  viewer.scrollIntoView({ block: "nearest" });
}

document.getElementById("schema-close").addEventListener("click", () => {
  viewer.hidden = true;
});

// ---------------------------------------------------------------- remove

const dialog = document.getElementById("confirm-remove");

function confirmRemove(name) {
  document.getElementById("confirm-name").textContent = name;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "remove") return;
    try {
      const done = await api("DELETE", channelPath(name));
      say(done.message);
      if (viewer.dataset.channel === name) viewer.hidden = true;
    } catch (error) {
      sayError(error);
    }
    await refresh();
  };
  dialog.showModal();
}

// ---------------------------------------------------------------- register

const form = document.getElementById("register");
const formMessage = document.getElementById("register-message");

function schemaSourceChanged() {
  const source = form.elements.namedItem("schema-source").value;
  document.getElementById("schema-file-row").hidden = source !== "file";
  document.getElementById("schema-path-row").hidden = source !== "path";
}

async function firstFreePort() {
  const data = await api("GET", "/ports/available");
  if (!data.available || data.available.length === 0) {
    throw new ApiError(409, "no_free_port", "no free port left in the channel range");
  }
  return String(data.available[0]);
}

async function register(event) {
  event.preventDefault();
  const f = (key) => form.elements.namedItem(key);
  const submit = document.getElementById("register-submit");
  const fields = new FormData();
  fields.append("name", f("name").value.trim());
  try {
    submit.disabled = true;
    fields.append("port", f("port").value.trim() || (await firstFreePort()));
    if (f("schema-source").value === "file") {
      const file = f("schema-file").files[0];
      if (!file) throw new ApiError(400, "malformed", "choose a schema file (.avsc)");
      fields.append("schema", file, file.name);
    } else {
      const path = f("schema-path").value.trim();
      if (!path) throw new ApiError(400, "malformed", "give the schema's path under config/");
      fields.append("schema", path);
    }
    const config = {};
    if (f("decimation").value.trim()) config.decimation = Number(f("decimation").value);
    if (f("algorithm").value) config.algorithm = f("algorithm").value;
    if (Object.keys(config).length > 0) fields.append("config", JSON.stringify(config));
    if (f("time_field").value.trim()) fields.append("time_field", f("time_field").value.trim());
    if (f("time_unit").value) fields.append("time_unit", f("time_unit").value);
    const done = await api("POST", "/channels", fields);
    say(done.message, false, formMessage);
    form.reset();
    schemaSourceChanged();
    await refresh();
  } catch (error) {
    sayError(error, formMessage);
  } finally {
    submit.disabled = false;
  }
}

if (form) {
  form.addEventListener("submit", register);
  for (const radio of form.elements.namedItem("schema-source")) radio.addEventListener("change", schemaSourceChanged);
  schemaSourceChanged();
}

// ---------------------------------------------------------------- start

refresh();
setInterval(() => {
  if (!document.hidden) refresh();
}, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refresh();
});
