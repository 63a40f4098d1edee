// The paged list every list page uses: filters in, a table or cards out,
// "Load more" with the API's cursor, a summary line, and loading, empty and
// error states. A newer load cancels an older one, and leaving the page (the
// router aborts the page's signal) cancels whatever is in flight.
import { queryString } from "./api.js";
import { h } from "./dom.js";
import { errorNotice, showLoadingLater } from "./loading.js";

// Typing in a search box waits this long before asking the server.
export const SEARCH_DELAY_MS = 300;

// --- views: how items are drawn ------------------------------------------------------

// A table: columns are header labels; an {label, hidden: true} column keeps
// its header for screen readers only (an actions column, say).
export function tableView({ caption, className = "", columns, row }) {
  const body = h("tbody", {});
  const header = columns.map((column) =>
    typeof column === "string"
      ? h("th", { scope: "col" }, column)
      : h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, column.label)),
  );
  const table = h(
    "table",
    { class: `data-table ${className}`.trim() },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, header)),
    body,
  );
  return { element: h("div", { class: "table-wrap" }, table), shown: table, body, build: row };
}

// Cards or rows in a list: item(item) returns an <li>.
export function cardsView({ label, className = "list-rows", item }) {
  const list = h("ul", { class: className, "aria-label": label });
  return { element: list, shown: list, body: list, build: item };
}

// --- the list ------------------------------------------------------------------------------

const defaultKey = (item) => item.id;
const firstControl = (node) => node.querySelector("a[href], button:not([disabled])");

// options: signal, fetchPage(filters, cursor, signal) -> {items, next_cursor},
// view, noun ["course", "courses"], summary(count) ("You teach 3 courses",
// instead of "Showing 3 courses"), emptyText(filters), emptyContent (a node
// shown when nothing matches), loadMoreLabel, loadingLabel, keyOf(item),
// focusNew(node) (what takes focus after "Load more"), onPage(data, {reset}).
export function pagedList(options) {
  const list = createState(options);
  const { parts } = list;
  parts.more.addEventListener("click", () => run(list, { reset: false }));
  return {
    element: parts.element,
    // With rethrow, a failure is the caller's to show (a page that cannot
    // stand without its list's first page).
    load: (filters, { rethrow = false } = {}) => {
      list.filters = filters;
      return run(list, { reset: true, rethrow });
    },
    reload: () => run(list, { reset: true }),
    items: () => list.items.slice(),
    count: () => list.items.length,
    hasMore: () => Boolean(list.cursor),
    update: (item, focusSelector) => update(list, item, focusSelector),
    remove: (key) => remove(list, key),
    prepend: (item, { className } = {}) => prepend(list, item, className),
  };
}

function createState(options) {
  const summary = h("p", { class: "list-summary", "aria-live": "polite", tabindex: "-1" });
  const status = h("div", { class: "list-status" });
  const more = h("button", { type: "button", class: "button", hidden: true }, options.loadMoreLabel || "Load more");
  const element = h(
    "div",
    { class: "paged-list" },
    summary,
    status,
    options.view.element,
    options.emptyContent || null,
    h("div", { class: "list-more" }, more),
  );
  options.view.shown.hidden = true;
  if (options.emptyContent) options.emptyContent.hidden = true;
  return {
    options,
    keyOf: options.keyOf || defaultKey,
    parts: { element, summary, status, more },
    filters: {},
    items: [],
    nodes: new Map(),
    cursor: null,
    loaded: false,
    controller: null,
  };
}

// Loads the first page (reset) or the next one.
async function run(list, { reset, rethrow = false, refocus = false }) {
  if (list.controller) list.controller.abort();
  const controller = new AbortController();
  list.controller = controller;
  const stopFollowing = follow(list.options.signal, controller);
  const { parts, options } = list;
  parts.status.replaceChildren();
  const stopLoading = showLoadingLater(parts.status, options.loadingLabel || "Loading…");
  setBusy(list, true, reset);
  try {
    const data = await options.fetchPage(list.filters, reset ? null : list.cursor, controller.signal);
    stopLoading();
    const nodes = addPage(list, data, reset);
    if (options.onPage) options.onPage(data, { reset });
    if (!reset) focusFirst(list, nodes);
    // "Retry" is gone once the load worked: the summary takes its focus.
    if (refocus) parts.summary.focus();
  } catch (error) {
    stopLoading();
    if (error && error.name === "AbortError") return;
    if (rethrow) throw error;
    const retry = () => run(list, { reset, refocus: true });
    parts.status.replaceChildren(errorNotice(error, retry, { title: "Could not load the list." }));
  } finally {
    stopFollowing();
    if (list.controller === controller) {
      list.controller = null;
      setBusy(list, false, reset);
    }
  }
}

// The page's signal aborts the list's own request too.
function follow(signal, controller) {
  if (!signal) return () => {};
  const abort = () => controller.abort();
  signal.addEventListener("abort", abort);
  return () => signal.removeEventListener("abort", abort);
}

function setBusy(list, busy, reset) {
  const { element, more } = list.parts;
  if (busy) element.setAttribute("aria-busy", "true");
  else element.removeAttribute("aria-busy");
  more.disabled = busy;
  if (!reset) more.textContent = busy ? "Loading…" : list.options.loadMoreLabel || "Load more";
}

function addPage(list, data, reset) {
  if (reset) {
    list.items = [];
    list.nodes.clear();
    list.options.view.body.replaceChildren();
  }
  const fresh = (data.items || []).filter((item) => !list.nodes.has(list.keyOf(item)));
  const nodes = fresh.map((item) => draw(list, item));
  list.items.push(...fresh);
  list.options.view.body.append(...nodes);
  list.cursor = data.next_cursor || null;
  list.loaded = true;
  refresh(list);
  return nodes;
}

function draw(list, item, className) {
  const node = list.options.view.build(item);
  if (className) node.classList.add(className);
  list.nodes.set(list.keyOf(item), node);
  return node;
}

// The summary line, the empty state and the "Load more" button.
function refresh(list) {
  const { options, parts } = list;
  const count = list.items.length;
  const [one, many] = options.noun || ["item", "items"];
  const more = list.cursor ? "; there are more" : "";
  if (count === 0) parts.summary.textContent = options.emptyText ? options.emptyText(list.filters) : `No ${many}.`;
  else if (options.summary) parts.summary.textContent = `${options.summary(count)}${more}.`;
  else parts.summary.textContent = `Showing ${count} ${count === 1 ? one : many}${more}.`;
  options.view.shown.hidden = count === 0;
  if (options.emptyContent) options.emptyContent.hidden = count !== 0;
  parts.more.hidden = !list.cursor;
}

// After "Load more", keyboard users continue at the first new item.
function focusFirst(list, nodes) {
  if (!nodes.length) return;
  const pick = list.options.focusNew || firstControl;
  const target = pick(nodes[0]);
  if (target) target.focus();
}

function update(list, item, focusSelector) {
  const key = list.keyOf(item);
  const old = list.nodes.get(key);
  if (!old) return null;
  const index = list.items.findIndex((entry) => list.keyOf(entry) === key);
  list.items[index] = item;
  const keep = [...old.classList].filter((name) => name.startsWith("is-"));
  const node = draw(list, item);
  node.classList.add(...keep);
  old.replaceWith(node);
  const target = focusSelector ? node.querySelector(focusSelector) : null;
  if (target) target.focus();
  return node;
}

// Removes an item; returns its neighbour (for focus), if any.
function remove(list, key) {
  const node = list.nodes.get(key);
  if (!node) return null;
  const neighbour = node.nextElementSibling || node.previousElementSibling;
  node.remove();
  list.nodes.delete(key);
  list.items = list.items.filter((item) => list.keyOf(item) !== key);
  refresh(list);
  return neighbour;
}

function prepend(list, item, className) {
  const key = list.keyOf(item);
  if (list.nodes.has(key)) return list.nodes.get(key);
  const node = draw(list, item, className);
  list.items.unshift(item);
  list.options.view.body.prepend(node);
  refresh(list);
  return node;
}

// --- filters -------------------------------------------------------------------------------

// A filter form. fields: [{name, label, kind: "search" | "text" | "select" |
// "check", options: [{value, label}], value, placeholder, className, attrs}];
// {kind: "submit", label} places the submit button, {kind: "node", node} any
// other element, among the fields.
// onChange(values) runs when a select or box changes, on submit, and a moment
// after typing stops; never twice for the same values unless forced.
export function filterBar({ idPrefix, label, className = "filters", fields, onChange, signal, submitLabel, extra = [] }) {
  const controls = new Map();
  const wrappers = fields.map((spec) => filterField(idPrefix, spec, controls));
  const submit = submitLabel
    ? h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, submitLabel))
    : null;
  const element = h("form", { class: className, role: "search", "aria-label": label }, wrappers, submit, extra);
  const bar = { element, control: (name) => controls.get(name), values: () => readValues(controls), last: null };
  let timer = null;
  bar.emit = ({ force = false } = {}) => {
    clearTimeout(timer);
    const values = bar.values();
    const text = JSON.stringify(values);
    if (!force && text === bar.last) return;
    bar.last = text;
    onChange(values);
  };
  bar.set = (values) => writeValues(controls, values);
  bar.last = JSON.stringify(bar.values());
  wireEvents(controls, element, bar.emit, (fn) => {
    clearTimeout(timer);
    timer = setTimeout(fn, SEARCH_DELAY_MS);
  });
  if (signal) signal.addEventListener("abort", () => clearTimeout(timer));
  return bar;
}

function filterField(idPrefix, spec, controls) {
  if (spec.kind === "submit") {
    return h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, spec.label));
  }
  if (spec.kind === "node") return spec.node;
  const id = `${idPrefix}-${spec.name}`;
  const base = { id, name: spec.name, ...(spec.attrs || {}) };
  let control;
  if (spec.kind === "select") {
    const options = spec.options.map((option) =>
      h("option", { value: option.value, selected: option.value === (spec.value || "") }, option.label),
    );
    control = h("select", base, options);
  } else if (spec.kind === "check") {
    control = h("input", { ...base, type: "checkbox", checked: Boolean(spec.value) });
  } else {
    const type = spec.kind === "search" ? "search" : "text";
    control = h("input", { ...base, type, autocomplete: "off", placeholder: spec.placeholder, value: spec.value || "" });
  }
  controls.set(spec.name, control);
  const labelNode = h("label", { for: id }, spec.label);
  if (spec.kind === "check") return h("div", { class: "field field-check" }, control, labelNode);
  return h("div", { class: spec.className || "field" }, labelNode, control);
}

function readValues(controls) {
  const values = {};
  for (const [name, control] of controls) {
    values[name] = control.type === "checkbox" ? (control.checked ? "1" : "") : control.value.trim();
  }
  return values;
}

function writeValues(controls, values) {
  for (const [name, control] of controls) {
    if (!(name in values)) continue;
    if (control.type === "checkbox") control.checked = Boolean(values[name]);
    else control.value = values[name];
  }
}

function wireEvents(controls, form, emit, later) {
  for (const control of controls.values()) {
    if (control.tagName === "SELECT" || control.type === "checkbox") control.addEventListener("change", () => emit());
    else control.addEventListener("input", () => later(() => emit()));
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    emit();
  });
}

// Keeps a page's filters in its address ("#/admin/courses?q=…"), so that a
// reload or a shared link shows the same list. Returns the address.
export function keepInAddress(path, params) {
  const target = `#${path}${queryString(params)}`;
  if (window.location.hash !== target) history.replaceState(history.state, "", target);
  return target;
}

// Picks value when it is one of the allowed values (from the address, say).
export function oneOf(value, allowed, fallback = "") {
  return allowed.includes(value) ? value : fallback;
}
