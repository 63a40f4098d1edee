// E-mail deliveries for administrators. By default the page shows what needs
// attention: e-mail that failed, and e-mail still waiting in the queue (late
// when it should have gone out minutes ago: the scheduler may be down).
import { api, queryString } from "../api.js";
import { momentElement } from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { filterBar, keepInAddress, oneOf, pagedList, tableView } from "../list.js";
import { personCell, studentNames } from "../payments.js";

export const title = "E-mail deliveries";

const PAGE_SIZE = 25;
// The scheduler sends queued e-mail every few seconds: a message due this
// long ago is stuck.
const LATE_AFTER_MS = 5 * 60_000;
const ATTENTION = "attention";
const VIEWS = [
  { value: ATTENTION, label: "Needs attention" },
  { value: "failed", label: "Failed", empty: "No failed e-mail: every message went out or is on its way." },
  { value: "pending", label: "Waiting to be sent", empty: "Nothing is waiting to be sent." },
  { value: "sending", label: "Being sent", empty: "Nothing is being sent right now." },
  { value: "sent", label: "Sent", empty: "No e-mail has been sent yet." },
  { value: "skipped", label: "Skipped (account deactivated)", empty: "No e-mail was skipped." },
];
const QUEUE = { value: "queue", label: "Waiting in the queue", statuses: ["pending", "sending"], empty: "Nothing is waiting to be sent." };
const KINDS = {
  "auth.welcome": "Welcome",
  "checkout.payment_confirmed": "Payment confirmation",
  "checkout.payment_due_soon": "Payment due soon",
  "checkout.payment_overdue": "Payment overdue",
  "checkout.checkout_unfinished": "Unfinished checkout",
  "checkout.payment_failed": "Payment failed",
  "checkout.refund_issued": "Refund issued",
  "catalog.waitlist_promoted": "Seat from the waitlist",
};
const kindLabel = (kind) => KINDS[kind] || kind;
const viewOf = (value) => VIEWS.find((view) => view.value === value);

export function render(root, { query, signal }) {
  const page = { signal, messages: messageRegions(), lookup: studentNames({ signal }), lists: h("div", {}) };
  const view = oneOf(query.status, VIEWS.map((v) => v.value), ATTENTION);
  page.filters = filterBar({
    idPrefix: "deliveries",
    label: "Filter deliveries",
    signal,
    fields: [{ name: "status", label: "Show", kind: "select", className: "field field-narrow", value: view, options: VIEWS }],
    onChange: ({ status }) => show(page, status),
  });
  root.append(
    ...pageHeading(title, "E-mail that failed or is stuck in the queue. Fix the cause (the mail server, an address, the scheduler), then send it again."),
    h("div", { class: "card" }, page.filters.element, page.messages.alert, page.messages.status),
    page.lists,
  );
  show(page, view);
}

// Draws the chosen view's lists; the previous view's requests are cancelled.
function show(page, view) {
  keepInAddress("/admin/deliveries", { status: view === ATTENTION ? "" : view });
  if (page.viewController) page.viewController.abort();
  const controller = new AbortController();
  page.signal.addEventListener("abort", () => controller.abort(), { once: true });
  page.viewController = controller;
  const sections = view === ATTENTION ? [viewOf("failed"), QUEUE] : [viewOf(view)];
  page.lists.replaceChildren(...sections.map((spec) => listSection(page, spec, controller.signal)));
}

// Pages through several statuses one after the other (pending, then sending):
// the cursor says which status it is in and where.
async function fetchStatuses(statuses, cursor, signal) {
  const [at, inner] = cursor ? [Number(cursor.split(":")[0]), cursor.slice(cursor.indexOf(":") + 1)] : [0, null];
  const items = [];
  for (let index = at, from = inner; index < statuses.length; index += 1, from = null) {
    const query = queryString({ status: statuses[index], limit: PAGE_SIZE, cursor: from });
    const data = await api.get(`/api/messages/deliveries${query}`, { signal });
    items.push(...(data.items || []));
    if (data.next_cursor) return { items, next_cursor: `${index}:${data.next_cursor}` };
  }
  return { items, next_cursor: null };
}

function listSection(page, spec, signal) {
  const headingId = `deliveries-${spec.value}-title`;
  const waiting = (spec.statuses || [spec.value]).some((status) => status === "pending" || status === "sending");
  const lateNote = waiting ? h("div", { class: "state-box state-box-warning", hidden: true, "data-testid": "late-note" }) : null;
  const list = pagedList({
    signal,
    view: tableView({
      caption: spec.label,
      className: "deliveries-table",
      columns: ["Message", "Recipient", "Attempts", "Last error", "When", { label: "Actions" }],
      row: (delivery) => deliveryRow(page, delivery),
    }),
    fetchPage: (filters, cursor, listSignal) => fetchStatuses(spec.statuses || [spec.value], cursor, listSignal),
    noun: ["message", "messages"],
    emptyText: () => spec.empty,
    focusNew: (node) => node.querySelector("button"),
    onPage: () => lateNote && showLate(lateNote, list.items()),
  });
  list.load({});
  return h(
    "section",
    { class: "card", "aria-labelledby": headingId, dataset: { view: spec.value } },
    h("h2", { id: headingId }, spec.label),
    lateNote,
    list.element,
  );
}

const isLate = (delivery) =>
  (delivery.status === "pending" || delivery.status === "sending") &&
  Date.now() - new Date(delivery.next_attempt_at).getTime() > LATE_AFTER_MS;

function showLate(note, items) {
  const late = items.filter(isLate).length;
  note.hidden = late === 0;
  note.replaceChildren();
  if (!late) return;
  note.append(
    h("strong", {}, `${late === 1 ? "1 message is" : `${late} messages are`} late`),
    h("span", {}, "They should have gone out minutes ago. Check that the scheduler (portal scheduler) is running."),
  );
}

function when(delivery) {
  const line = (label, value) => h("span", {}, `${label} `, momentElement(value));
  const lines = [line("Queued", delivery.created_at)];
  if (delivery.sent_at) lines.push(line("Sent", delivery.sent_at));
  else if (delivery.status === "pending" || delivery.status === "sending") lines.push(line("Due", delivery.next_attempt_at));
  if (isLate(delivery)) lines.push(h("span", {}, h("span", { class: "badge badge-late" }, "Late")));
  return h("div", { class: "cell-lines" }, lines);
}

function retryButton(page, delivery) {
  if (delivery.status !== "failed") return null;
  return h(
    "button",
    { type: "button", class: "button button-small", on: { click: (event) => retry(page, delivery, event.currentTarget) } },
    "Retry",
    h("span", { class: "visually-hidden" }, ` ${kindLabel(delivery.kind)} e-mail`),
  );
}

function deliveryRow(page, delivery) {
  // No error, no words: an empty cell (and no row at all on a phone).
  const error = delivery.last_error ? h("code", { class: "error-text" }, delivery.last_error) : null;
  return h(
    "tr",
    { dataset: { deliveryId: delivery.id, kind: delivery.kind, status: delivery.status } },
    h("td", { "data-label": "Message" }, h("span", { class: "cell-title" }, kindLabel(delivery.kind))),
    h("td", { "data-label": "Recipient" }, personCell(page.lookup, delivery.recipient_id)),
    h("td", { "data-label": "Attempts", class: "cell-number" }, String(delivery.attempts)),
    h("td", { "data-label": "Last error", class: "cell-error" }, error),
    h("td", { "data-label": "When" }, when(delivery)),
    h("td", { class: "cell-actions" }, h("div", { class: "row-actions" }, retryButton(page, delivery))),
  );
}

async function retry(page, delivery, button) {
  page.messages.clear();
  button.disabled = true;
  try {
    await api.post(`/api/messages/deliveries/${encodeURIComponent(delivery.id)}/retry`, undefined, { signal: page.signal });
    const queued = h("span", { class: "status status-active", tabindex: "-1", "data-testid": "retried" }, "Queued again");
    button.replaceWith(queued);
    queued.focus();
    const user = await page.lookup(delivery.recipient_id);
    const who = user ? user.full_name || user.username : "the recipient";
    page.messages.say(`The ${kindLabel(delivery.kind).toLowerCase()} e-mail to ${who} is queued to be sent again.`);
  } catch (error) {
    if (error.name === "AbortError") return;
    button.disabled = false;
    page.messages.complain(error.message);
  }
}
