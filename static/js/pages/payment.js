// One payment: what it is for, where it stands and what can be done with it;
// for a paid (or refunded) one, a receipt that prints on its own.
import { api } from "../api.js";
import { coursePath, formatMoment, messageRegions } from "../courses.js";
import { confirmDialog, focusLateHeading, h, pageHeading } from "../dom.js";
import {
  dueElement,
  getPayment,
  isPayable,
  paymentAmount,
  paymentStatusBadge,
  payNow,
  refundConsequences,
  refundPayment,
} from "../payments.js";

export const title = "Payment";

const SELLER = "Student Portal";

export function render(root, { params, user, signal }) {
  const messages = messageRegions();
  const isAdmin = user.role === "admin";
  let payment = null;
  let student = isAdmin ? null : user;

  root.append(h("p", { class: "loading" }, "Loading the payment…"));

  function itemsTable(caption) {
    const refunded = payment.items.some((item) => item.refunded);
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "receipt-table" },
        h("caption", { class: "visually-hidden" }, caption),
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "Course"), h("th", { scope: "col", class: "cell-amount" }, "Amount")),
        ),
        h(
          "tbody",
          {},
          payment.items.map((item) =>
            h(
              "tr",
              {},
              h(
                "td",
                { "data-label": "Course" },
                h("a", { class: "print-plain", href: `#${coursePath(item.course_id)}` }, item.description),
                item.refunded ? h("span", { class: "tag receipt-refunded" }, "Refunded: no seat was left") : null,
              ),
              h("td", { "data-label": "Amount", class: "cell-amount" }, paymentAmount(payment, item.amount)),
            ),
          ),
        ),
        h(
          "tfoot",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "row" }, payment.status === "paid" || payment.status === "refunded" ? "Total paid" : "Total"),
            h("td", { class: "cell-amount", "data-testid": "payment-total" }, paymentAmount(payment)),
          ),
          refunded || payment.refunded_amount > 0
            ? h(
                "tr",
                {},
                h("th", { scope: "row" }, "Refunded"),
                h("td", { class: "cell-amount" }, `− ${paymentAmount(payment, payment.refunded_amount)}`),
              )
            : null,
        ),
      ),
    );
  }

  function stateBox() {
    const box = (tone, heading, ...text) =>
      h("div", { class: `state-box state-box-${tone}`, "data-testid": "payment-state" }, h("strong", {}, heading), h("span", {}, ...text));
    switch (payment.status) {
      case "pending":
        if (payment.processing) {
          return box("info", "Processing", "The bank payment is on its way. The seats stay held until it settles.");
        }
        if (!isPayable(payment)) return box("warning", "Past due", "The seats are released shortly.");
        return box(
          "warning",
          "Awaiting payment",
          dueElement(payment),
          isAdmin ? ". The seats are held until then." : ". Your seats are held until then; pay before that to keep them.",
        );
      case "paid":
        return box("success", "Paid", `Paid ${formatMoment(payment.paid_at)}.`);
      case "refunded":
        return box("info", "Refunded", `Refunded ${formatMoment(payment.refunded_at)}; the enrollments ended.`);
      case "failed":
        return box("danger", "Failed", "The payment did not go through, so the seats were released.");
      default:
        return box("danger", "Expired", "It was not paid in time, so the seats were released.");
    }
  }

  function actions() {
    const buttons = [];
    if (!isAdmin && isPayable(payment)) {
      buttons.push(h("button", { type: "button", class: "button button-primary", on: { click: pay } }, "Pay now"));
    }
    if (payment.status === "paid" || payment.status === "refunded") {
      buttons.push(h("button", { type: "button", class: "button", on: { click: () => window.print() } }, "Print receipt"));
    }
    if (isAdmin && payment.status === "paid") {
      buttons.push(h("button", { type: "button", class: "button button-danger-outline", on: { click: refund } }, "Refund"));
    }
    if (!isAdmin && (payment.status === "failed" || payment.status === "expired")) {
      buttons.push(h("a", { class: "button", href: "#/catalog" }, "Browse the catalog"));
    }
    return buttons.length ? h("div", { class: "form-actions no-print" }, buttons) : null;
  }

  function billedTo() {
    if (!student) return payment.student_id;
    return [student.full_name || student.username, student.email ? h("span", { class: "receipt-email" }, student.email) : null];
  }

  function fact(label, value, testId) {
    return value ? h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value)) : null;
  }

  function receipt() {
    return h(
      "section",
      { class: "card receipt", "aria-labelledby": "receipt-title", "data-testid": "receipt" },
      h(
        "div",
        { class: "receipt-head" },
        h("h2", { id: "receipt-title", tabindex: "-1" }, "Receipt"),
        h("p", { class: "receipt-seller" }, SELLER),
      ),
      h(
        "dl",
        { class: "details details-grid receipt-facts" },
        fact("Receipt number", h("span", { class: "receipt-number" }, payment.id), "receipt-number"),
        fact("Date paid", formatMoment(payment.paid_at)),
        fact("Billed to", billedTo()),
        fact("Status", paymentStatusBadge(payment)),
        payment.status === "refunded" ? fact("Refunded on", formatMoment(payment.refunded_at)) : null,
      ),
      itemsTable("What was paid for"),
      h("p", { class: "receipt-foot muted" }, "Amounts include any taxes. Keep this receipt for your records."),
    );
  }

  function overview() {
    return h(
      "section",
      { class: "card", "aria-labelledby": "payment-items-title" },
      h("h2", { id: "payment-items-title" }, "Courses"),
      itemsTable("Courses in this payment"),
      h(
        "dl",
        { class: "details details-grid" },
        fact("Started", formatMoment(payment.created_at)),
        isAdmin ? fact("Student", billedTo()) : null,
        fact("Reference", h("span", { class: "receipt-number" }, payment.id)),
      ),
    );
  }

  function show({ focus = null } = {}) {
    const receiptShown = payment.status === "paid" || payment.status === "refunded";
    document.title = `${receiptShown ? "Receipt" : "Payment"} ${paymentAmount(payment)} · Student Portal`;
    root.replaceChildren(
      h(
        "p",
        { class: "breadcrumb no-print" },
        h("a", { href: isAdmin ? "#/admin/payments" : "#/payments" }, isAdmin ? "All payments" : "Payments"),
      ),
      h(
        "header",
        { class: "payment-header" },
        h("h1", { class: "page-title", tabindex: "-1" }, `Payment of ${paymentAmount(payment)}`),
        h("p", { class: "payment-header-status" }, paymentStatusBadge(payment)),
      ),
      h("div", { class: "no-print" }, stateBox()),
      messages.alert,
      messages.status,
      actions(),
      receiptShown ? receipt() : overview(),
    );
    if (focus) {
      const target = root.querySelector(focus);
      if (target) target.focus();
    }
  }

  async function pay(event) {
    const button = event.currentTarget;
    messages.clear();
    button.disabled = true;
    try {
      messages.say("Taking you to the secure payment page…");
      await payNow(payment, { signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      messages.complain(error.message);
      if (error.status === 409 || error.status === 410) {
        payment = await getPayment(payment.id, { signal }).catch(() => payment);
        show();
        messages.complain(error.message);
      }
    }
  }

  async function refund() {
    const confirmed = await confirmDialog({
      title: `Refund ${paymentAmount(payment)}?`,
      message: refundConsequences(payment),
      confirmLabel: "Refund",
      danger: true,
    });
    if (!confirmed) return;
    try {
      payment = await refundPayment(payment, { signal });
      show({ focus: ".receipt h2" });
      messages.say(`Refunded ${paymentAmount(payment)}. The enrollments ended and the seats went to the waitlist.`);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  async function load() {
    payment = await getPayment(params.id, { signal });
    if (isAdmin) {
      student = await api
        .get(`/api/auth/users/${encodeURIComponent(payment.student_id)}`, { signal })
        .then((data) => data.user)
        .catch(() => null);
    }
  }

  load()
    .then(() => {
      show();
      focusLateHeading(root);
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      const missing = error.status === 404;
      root.replaceChildren(
        ...pageHeading(missing ? "Payment not found" : "Could not load the payment", missing ? "The link may be wrong." : error.message),
        h("p", {}, h("a", { href: isAdmin ? "#/admin/payments" : "#/payments" }, "See the payments")),
      );
      focusLateHeading(root);
    });
}
