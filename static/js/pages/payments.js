// A student's payments: first everything they owe (every seat they hold has a
// pending payment: from a checkout, a reservation on a course page or a
// waitlist promotion), each with "Pay now"; then what they paid before.
import { api, queryString } from "../api.js";
import { momentElement } from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { cardsView, pagedList } from "../list.js";
import { payProblem } from "../pay-problems.js";
import {
  isPayable,
  payByElement,
  paymentAmount,
  paymentCourses,
  paymentPath,
  paymentStatusBadge,
  payNow,
  receiptNumber,
} from "../payments.js";

export const title = "Payments";

const DUE_PAGE_SIZE = 100;
const HISTORY_PAGE_SIZE = 20;
// Pages of pending payments the history skips over before it shows what it has.
const HISTORY_SKIP_PAGES = 10;

export function render(root, { signal }) {
  const page = { signal, messages: messageRegions(), loaded: new Set() };
  page.empty = h(
    "div",
    { class: "card empty-state", "data-testid": "payments-empty", hidden: true },
    h("p", {}, "You owe nothing and have no payments yet. Seats you reserve or check out appear here until they are paid."),
    h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
  );
  page.due = dueSection(page);
  page.history = historySection(page);
  root.append(
    ...pageHeading(title, "What you owe, with the date to pay it by, and what you have paid. Receipts are kept here."),
    page.messages.alert,
    page.messages.status,
    page.due.section,
    page.history.section,
    page.empty,
  );
  reload(page);
}

function reload(page) {
  page.loaded.clear();
  page.due.list.load({});
  page.history.list.load({});
}

// A section holding one list; it is hidden once its list has loaded empty,
// and the page's empty state shows only when both have.
function listSection({ key, heading, lead, list }) {
  const headingId = `payments-${key}-title`;
  const section = h(
    "section",
    { class: "card payments-card", "aria-labelledby": headingId, dataset: { list: key } },
    h("h2", { id: headingId }, heading),
    lead ? h("p", { class: "muted" }, lead) : null,
    list.element,
  );
  return { section, list };
}

function listed(page, key, { reset }) {
  if (!reset) return;
  page.loaded.add(key);
  const part = page[key];
  const none = (list) => list.count() === 0 && !list.hasMore();
  part.section.hidden = none(part.list);
  page.empty.hidden = !(page.loaded.size === 2 && none(page.due.list) && none(page.history.list));
}

function dueSection(page) {
  const list = pagedList({
    signal: page.signal,
    view: cardsView({ label: "Payments to make", className: "list-rows payment-list", item: (payment) => paymentItem(page, payment) }),
    fetchPage: (filters, cursor, signal) => fetchDue(cursor, signal),
    noun: ["payment to make", "payments to make"],
    summary: (count) => (count === 1 ? "1 payment to make" : `${count} payments to make`),
    emptyText: () => "Nothing to pay.",
    loadMoreLabel: "Load more payments to make",
    loadingLabel: "Loading what you owe…",
    onPage: (data, options) => listed(page, "due", options),
  });
  return listSection({
    key: "due",
    heading: "To pay",
    lead: "Pay each by its date to keep your seats; after that they go to the next student.",
    list,
  });
}

function historySection(page) {
  const list = pagedList({
    signal: page.signal,
    view: cardsView({ label: "Past payments", className: "list-rows payment-list", item: (payment) => paymentItem(page, payment) }),
    fetchPage: (filters, cursor, signal) => fetchHistory(cursor, signal),
    noun: ["payment", "payments"],
    emptyText: () => "No past payments.",
    loadMoreLabel: "Load more payments",
    loadingLabel: "Loading your payments…",
    onPage: (data, options) => listed(page, "history", options),
  });
  return listSection({ key: "history", heading: "Paid and past", list });
}

// Soonest due first within what one page brings.
async function fetchDue(cursor, signal) {
  const query = queryString({ status: "pending", limit: DUE_PAGE_SIZE, cursor });
  const data = await api.get(`/api/checkout/payments${query}`, { signal });
  const items = [...(data.items || [])].sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at));
  return { items, next_cursor: data.next_cursor };
}

// Every payment but the pending ones (listed above). A page of only pending
// ones is skipped, so the history never looks empty while it has more.
async function fetchHistory(cursor, signal) {
  let next = cursor;
  for (let count = 0; count < HISTORY_SKIP_PAGES; count += 1) {
    const query = queryString({ limit: HISTORY_PAGE_SIZE, cursor: next });
    const data = await api.get(`/api/checkout/payments${query}`, { signal });
    const items = (data.items || []).filter((payment) => payment.status !== "pending");
    next = data.next_cursor;
    if (items.length || !next) return { items, next_cursor: next };
  }
  return { items: [], next_cursor: next };
}

function note(payment) {
  const line = (...content) => h("p", { class: "payment-note" }, ...content);
  const seats = payment.items.length === 1 ? "Your seat is" : "Your seats are";
  switch (payment.status) {
    case "pending":
      if (payment.processing) return line(`Your bank payment is processing. ${seats} held until it settles.`);
      if (!isPayable(payment)) return line(payByElement(payment.due_at), ". The seats go back to their courses shortly.");
      return h("p", { class: "payment-note payment-note-warning" }, payByElement(payment.due_at), `. ${seats} held until then.`);
    case "paid":
      return line("Paid ", momentElement(payment.paid_at));
    case "refunded":
      return line("Refunded ", momentElement(payment.refunded_at));
    case "failed":
      return line("The payment did not go through; the seats were released.");
    default:
      return line("Not paid in time; the seats were released.");
  }
}

function paymentActions(page, payment) {
  const actions = [];
  if (isPayable(payment)) {
    actions.push(
      h(
        "button",
        { type: "button", class: "button button-primary button-small", on: { click: (event) => pay(page, payment, event.currentTarget) } },
        "Pay now",
        h("span", { class: "visually-hidden" }, ` ${paymentAmount(payment)}`),
      ),
    );
  }
  const receipt = payment.status === "paid" || payment.status === "refunded";
  actions.push(
    h(
      "a",
      { class: "button button-small", href: `#${paymentPath(payment.id)}` },
      receipt ? "Receipt" : "Details",
      h("span", { class: "visually-hidden" }, ` for ${paymentCourses(payment)}`),
    ),
  );
  return h("div", { class: "row-actions" }, actions);
}

function paymentItem(page, payment) {
  const titleId = `payment-${payment.id}`;
  return h(
    "li",
    { class: "list-row payment-item", dataset: { paymentId: payment.id, status: payment.status } },
    h(
      "article",
      { class: "list-row-body", "aria-labelledby": titleId },
      h(
        "div",
        { class: "list-row-main" },
        h(
          "p",
          { class: "list-row-top" },
          paymentStatusBadge(payment),
          h("span", { class: "muted" }, "Receipt ", receiptNumber(payment)),
          h("span", { class: "muted" }, "Started ", momentElement(payment.created_at)),
        ),
        h("h3", { class: "list-row-title", id: titleId }, h("a", { href: `#${paymentPath(payment.id)}` }, paymentCourses(payment))),
        note(payment),
      ),
      h(
        "div",
        { class: "list-row-side" },
        h("p", { class: "payment-amount", "data-testid": "payment-amount" }, paymentAmount(payment)),
        paymentActions(page, payment),
      ),
    ),
  );
}

async function pay(page, payment, button) {
  page.messages.clear();
  button.disabled = true;
  try {
    page.messages.say("Taking you to the secure payment page…");
    await payNow(payment, { signal: page.signal });
  } catch (error) {
    if (error.name === "AbortError") return;
    button.disabled = false;
    page.messages.complain(payProblem(error));
    if (error.status === 409 || error.status === 410) reload(page);
  }
}
