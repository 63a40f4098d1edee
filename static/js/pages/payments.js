import { api, queryString } from "../api.js";
import { formatMoment, messageRegions } from "../courses.js";
import { h, pageHeading } from "../dom.js";
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
  const messages = messageRegions();
  const state = { nextCursor: null, count: 0, loading: false };
  const list = h("ul", { class: "payment-list", "aria-label": "Your payments" });
  const empty = h(
    "div",
    { class: "card empty-state", hidden: true },
    h("p", {}, "You have no payments yet. Courses you check out from your cart appear here."),
    h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more payments");
  const section = h(
    "section",
    { class: "card payments-card", "aria-labelledby": "payments-list-title", hidden: true },
    h("h2", { id: "payments-list-title", class: "visually-hidden" }, "Your payments"),
    list,
    h("div", { class: "list-more" }, loadMore),
  );

  function note(payment) {
    if (payment.status === "pending" && payment.processing) {
      return h("p", { class: "payment-note" }, "Your bank payment is processing. Your seats stay held until it settles.");
    }
    if (payment.status === "pending") {
      return h("p", { class: "payment-note payment-note-warning" }, dueElement(payment), ". Your seats are held until then.");
    }
    if (payment.status === "paid") return h("p", { class: "payment-note" }, `Paid ${formatMoment(payment.paid_at)}`);
    if (payment.status === "refunded") return h("p", { class: "payment-note" }, `Refunded ${formatMoment(payment.refunded_at)}`);
    if (payment.status === "failed") return h("p", { class: "payment-note" }, "The payment did not go through; the seats were released.");
    return h("p", { class: "payment-note" }, "Not paid in time; the seats were released.");
  }

  function item(payment) {
    const titleId = `payment-${payment.id}`;
    const actions = [];
    if (isPayable(payment)) {
      actions.push(
        h(
          "button",
          {
            type: "button",
            class: "button button-primary button-small",
            on: { click: (event) => pay(payment, event.currentTarget) },
          },
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
    return h(
      "li",
      { class: "payment-item", dataset: { paymentId: payment.id, status: payment.status } },
      h(
        "article",
        { class: "payment-body", "aria-labelledby": titleId },
        h(
          "div",
          { class: "payment-main" },
          h(
            "p",
            { class: "payment-top" },
            paymentStatusBadge(payment),
            h("span", { class: "muted" }, `Started ${formatMoment(payment.created_at)}`),
          ),
          h("h3", { class: "payment-title", id: titleId }, h("a", { href: `#${paymentPath(payment.id)}` }, paymentCourses(payment))),
          note(payment),
        ),
        h(
          "div",
          { class: "payment-side" },
          h("p", { class: "payment-amount", "data-testid": "payment-amount" }, paymentAmount(payment)),
          h("div", { class: "row-actions" }, actions),
        ),
      ),
    );
  }

  async function pay(payment, button) {
    messages.clear();
    button.disabled = true;
    try {
      messages.say("Taking you to the secure payment page…");
      await payNow(payment, { signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      messages.complain(error.message);
      if (error.status === 409 || error.status === 410) load({ reset: true });
    }
  }

  async function load({ reset }) {
    if (state.loading) return;
    state.loading = true;
    loadMore.disabled = true;
    try {
      const data = await api.get(
        `/api/checkout/payments${queryString({ limit: PAGE_SIZE, cursor: reset ? null : state.nextCursor })}`,
        { signal },
      );
      if (reset) {
        list.replaceChildren();
        state.count = 0;
      }
      const items = (data.items || []).map(item);
      list.append(...items);
      state.count += items.length;
      state.nextCursor = data.next_cursor || null;
      section.hidden = state.count === 0;
      empty.hidden = state.count !== 0;
      loadMore.hidden = !state.nextCursor;
      if (!reset && items.length) items[0].querySelector("a").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      state.loading = false;
      loadMore.disabled = false;
    }
  }

  loadMore.addEventListener("click", () => load({ reset: false }));
  root.append(
    ...pageHeading(title, "What you have paid and what is still due. Receipts are kept here."),
    messages.alert,
    messages.status,
    section,
    empty,
  );
  load({ reset: true });
}
