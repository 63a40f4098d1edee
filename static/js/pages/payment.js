// One payment: what it is for, where it stands and what can be done with it;
// for a paid (or refunded) one, a receipt that prints on its own.
import { api } from "../api.js";
import { coursePath, momentElement } from "../courses.js";
import { confirmDialog, h, messageRegions } from "../dom.js";
import { loadPage, whenMissing } from "../loading.js";
import { payProblem } from "../pay-problems.js";
import {
  getPayment,
  isPayable,
  payByElement,
  paymentAmount,
  paymentStatusBadge,
  payNow,
  receiptNumber,
  refundConsequences,
  refundPayment,
} from "../payments.js";

export const title = "Payment";

const SELLER = "Student Portal";

const isReceipt = (payment) => payment.status === "paid" || payment.status === "refunded";

export function render(root, { params, user, signal }) {
  const isAdmin = user.role === "admin";
  const page = { root, signal, isAdmin, messages: messageRegions(), payment: null, student: isAdmin ? null : user };
  const back = isAdmin ? "#/admin/payments" : "#/payments";
  loadPage(root, {
    signal,
    label: "Loading the payment…",
    title: "Could not load the payment",
    load: () => load(page, params.id),
    show: () => show(page),
    failed: whenMissing({ title: "Payment not found", lead: "The link may be wrong.", href: back, link: "See the payments" }),
  });
}

async function load(page, id) {
  page.payment = await getPayment(id, { signal: page.signal });
  if (page.isAdmin) {
    page.student = await api
      .get(`/api/auth/users/${encodeURIComponent(page.payment.student_id)}`, { signal: page.signal })
      .then((data) => data.user)
      .catch(() => null);
  }
}

function itemRow(payment, item) {
  return h(
    "tr",
    {},
    h(
      "td",
      { "data-label": "Course" },
      h("a", { class: "print-plain", href: `#${coursePath(item.course_id)}` }, item.description),
      item.refunded ? h("span", { class: "tag receipt-refunded" }, "Refunded: no seat was left") : null,
    ),
    h("td", { "data-label": "Amount", class: "cell-amount" }, paymentAmount(payment, item.amount)),
  );
}

function itemsFoot(payment) {
  const refunded = payment.items.some((item) => item.refunded) || payment.refunded_amount > 0;
  return h(
    "tfoot",
    {},
    h(
      "tr",
      {},
      h("th", { scope: "row" }, isReceipt(payment) ? "Total paid" : "Total"),
      h("td", { class: "cell-amount", "data-testid": "payment-total" }, paymentAmount(payment)),
    ),
    refunded
      ? h("tr", {}, h("th", { scope: "row" }, "Refunded"), h("td", { class: "cell-amount" }, `− ${paymentAmount(payment, payment.refunded_amount)}`))
      : null,
  );
}

function itemsTable(payment, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "receipt-table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Course"), h("th", { scope: "col", class: "cell-amount" }, "Amount"))),
      h("tbody", {}, payment.items.map((item) => itemRow(payment, item))),
      itemsFoot(payment),
    ),
  );
}

function stateBox(page) {
  const { payment, isAdmin } = page;
  const seats = payment.items.length === 1 ? "seat is" : "seats are";
  const box = (tone, heading, ...text) =>
    h("div", { class: `state-box state-box-${tone}`, "data-testid": "payment-state" }, h("strong", {}, heading), h("span", {}, ...text));
  switch (payment.status) {
    case "pending":
      if (payment.processing) return box("info", "Processing", `The bank payment is on its way. The ${seats} held until it settles.`);
      if (!isPayable(payment)) return box("warning", "Past due", payByElement(payment.due_at), `. The ${seats} released shortly.`);
      return box(
        "warning",
        "Awaiting payment",
        payByElement(payment.due_at),
        isAdmin ? `. The ${seats} held until then.` : `. Your ${seats} held until then; pay before that to keep ${seats === "seat is" ? "it" : "them"}.`,
      );
    case "paid":
      return box("success", "Paid", "Paid ", momentElement(payment.paid_at), ".");
    case "refunded":
      return box("info", "Refunded", "Refunded ", momentElement(payment.refunded_at), "; the enrollments ended.");
    case "failed":
      return box("danger", "Failed", "The payment did not go through, so the seats were released.");
    default:
      return box("danger", "Expired", "It was not paid in time, so the seats were released.");
  }
}

function actions(page) {
  const { payment, isAdmin } = page;
  const buttons = [];
  if (!isAdmin && isPayable(payment)) {
    buttons.push(h("button", { type: "button", class: "button button-primary", on: { click: (event) => pay(page, event) } }, "Pay now"));
  }
  if (isReceipt(payment)) {
    buttons.push(h("button", { type: "button", class: "button", on: { click: () => window.print() } }, "Print receipt"));
  }
  if (isAdmin && payment.status === "paid") {
    buttons.push(h("button", { type: "button", class: "button button-danger-outline", on: { click: () => refund(page) } }, "Refund"));
  }
  if (!isAdmin && (payment.status === "failed" || payment.status === "expired")) {
    buttons.push(h("a", { class: "button", href: "#/catalog" }, "Browse the catalog"));
  }
  return buttons.length ? h("div", { class: "form-actions no-print" }, buttons) : null;
}

function billedTo(page) {
  const { student, payment } = page;
  if (!student) return payment.student_id;
  return [student.full_name || student.username, student.email ? h("span", { class: "receipt-email" }, student.email) : null];
}

function fact(label, value, testId) {
  return value ? h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value)) : null;
}

function receipt(page) {
  const { payment } = page;
  return h(
    "section",
    { class: "card receipt", "aria-labelledby": "receipt-title", "data-testid": "receipt" },
    h("div", { class: "receipt-head" }, h("h2", { id: "receipt-title", tabindex: "-1" }, "Receipt"), h("p", { class: "receipt-seller" }, SELLER)),
    h(
      "dl",
      { class: "details details-grid receipt-facts" },
      fact("Receipt number", receiptNumber(payment)),
      fact("Date paid", payment.paid_at && momentElement(payment.paid_at)),
      fact("Billed to", billedTo(page)),
      fact("Status", paymentStatusBadge(payment)),
      payment.status === "refunded" ? fact("Refunded on", momentElement(payment.refunded_at)) : null,
    ),
    itemsTable(payment, "What was paid for"),
    h("p", { class: "receipt-foot muted" }, "Amounts include any taxes. Keep this receipt for your records."),
  );
}

function overview(page) {
  const { payment, isAdmin } = page;
  return h(
    "section",
    { class: "card", "aria-labelledby": "payment-items-title" },
    h("h2", { id: "payment-items-title" }, "Courses"),
    itemsTable(payment, "Courses in this payment"),
    h(
      "dl",
      { class: "details details-grid" },
      fact("Started", momentElement(payment.created_at)),
      isAdmin ? fact("Student", billedTo(page)) : null,
      fact("Receipt number", receiptNumber(payment)),
    ),
  );
}

function show(page, { focus = null } = {}) {
  const { payment, isAdmin, root } = page;
  document.title = `${isReceipt(payment) ? "Receipt" : "Payment"} ${paymentAmount(payment)} · Student Portal`;
  const back = isAdmin ? ["#/admin/payments", "All payments"] : ["#/payments", "Payments"];
  root.replaceChildren(
    h("p", { class: "breadcrumb no-print" }, h("a", { href: back[0] }, back[1])),
    h(
      "header",
      { class: "payment-header" },
      h("h1", { class: "page-title", tabindex: "-1" }, `Payment of ${paymentAmount(payment)}`),
      h("p", { class: "payment-header-status" }, paymentStatusBadge(payment)),
    ),
    h("div", { class: "no-print" }, stateBox(page)),
    page.messages.alert,
    page.messages.status,
    actions(page),
    isReceipt(payment) ? receipt(page) : overview(page),
  );
  const target = focus ? root.querySelector(focus) : null;
  if (target) target.focus();
}

async function pay(page, event) {
  const button = event.currentTarget;
  page.messages.clear();
  button.disabled = true;
  try {
    page.messages.say("Taking you to the secure payment page…");
    await payNow(page.payment, { signal: page.signal });
  } catch (error) {
    if (error.name === "AbortError") return;
    button.disabled = false;
    page.messages.complain(payProblem(error));
    if (error.status === 409 || error.status === 410) {
      page.payment = await getPayment(page.payment.id, { signal: page.signal }).catch(() => page.payment);
      show(page);
      page.messages.complain(error.message);
    }
  }
}

async function refund(page) {
  const confirmed = await confirmDialog({
    title: `Refund ${paymentAmount(page.payment)}?`,
    message: refundConsequences(page.payment),
    confirmLabel: "Refund",
    danger: true,
  });
  if (!confirmed) return;
  try {
    page.payment = await refundPayment(page.payment, { signal: page.signal });
    show(page, { focus: ".receipt h2" });
    page.messages.say(`Refunded ${paymentAmount(page.payment)}. The enrollments ended and the seats went to the waitlist.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}
