import { api, queryString } from "../api.js";
import { momentElement } from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { cardsView, pagedList } from "../list.js";
import {
  dueElement,
  isPayable,
  paymentAmount,
  paymentCourses,
  paymentPath,
  paymentStatusBadge,
  payNow,
} from "../payments.js";

export const title = "Payments";

const PAGE_SIZE = 20;

export function render(root, { signal }) {
  const page = { signal, messages: messageRegions() };
  const empty = h(
    "div",
    { class: "empty-state" },
    h("p", {}, "You have no payments yet. Courses you check out from your cart appear here."),
    h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
  );
  page.list = pagedList({
    signal,
    view: cardsView({ label: "Your payments", className: "list-rows payment-list", item: (payment) => paymentItem(page, payment) }),
    fetchPage: (filters, cursor, listSignal) =>
      api.get(`/api/checkout/payments${queryString({ limit: PAGE_SIZE, cursor })}`, { signal: listSignal }),
    noun: ["payment", "payments"],
    emptyText: () => "",
    emptyContent: empty,
    loadMoreLabel: "Load more payments",
    loadingLabel: "Loading your payments…",
  });
  root.append(
    ...pageHeading(title, "What you have paid and what is still due. Receipts are kept here."),
    page.messages.alert,
    page.messages.status,
    h(
      "section",
      { class: "card payments-card", "aria-labelledby": "payments-list-title" },
      h("h2", { id: "payments-list-title", class: "visually-hidden" }, "Your payments"),
      page.list.element,
    ),
  );
  page.list.load({});
}

function note(payment) {
  const line = (...content) => h("p", { class: "payment-note" }, ...content);
  switch (payment.status) {
    case "pending":
      if (payment.processing) return line("Your bank payment is processing. Your seats stay held until it settles.");
      return h("p", { class: "payment-note payment-note-warning" }, dueElement(payment), ". Your seats are held until then.");
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
        h("p", { class: "list-row-top" }, paymentStatusBadge(payment), h("span", { class: "muted" }, "Started ", momentElement(payment.created_at))),
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
    page.messages.complain(error.message);
    if (error.status === 409 || error.status === 410) page.list.reload();
  }
}
