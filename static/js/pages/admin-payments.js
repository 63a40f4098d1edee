import { api, queryString } from "../api.js";
import { momentElement } from "../courses.js";
import { confirmDialog, h, messageRegions, pageHeading } from "../dom.js";
import { filterBar, keepInAddress, oneOf, pagedList, tableView } from "../list.js";
import {
  PAYMENT_STATUSES,
  payByElement,
  paymentAmount,
  paymentCourses,
  paymentPath,
  paymentStatusBadge,
  personCell,
  receiptNumber,
  refundConsequences,
  refundPayment,
  studentNames,
} from "../payments.js";

export const title = "Payments";

const PAGE_SIZE = 25;

function fetchPayments(filters, cursor, signal) {
  return api.get(`/api/checkout/payments${queryString({ ...filters, limit: PAGE_SIZE, cursor })}`, { signal });
}

export function render(root, { query, signal }) {
  const page = { signal, messages: messageRegions(), lookup: studentNames({ signal }) };
  page.state = {
    status: oneOf(query.status, PAYMENT_STATUSES.map((s) => s.value)),
    student_id: (query.student_id || "").slice(0, 64),
  };
  page.list = pagedList({
    signal,
    view: tableView({
      caption: "Payments",
      className: "admin-payments-table",
      columns: ["Courses", "Student", "Amount", "Status", "Dates", { label: "Actions" }],
      row: (payment) => paymentRow(page, payment),
    }),
    fetchPage: fetchPayments,
    noun: ["payment", "payments"],
    emptyText: () => "No payments match.",
    focusNew: (node) => node.querySelector("a"),
  });
  page.filters = filterBar({
    idPrefix: "payments",
    label: "Filter payments",
    signal,
    fields: [
      {
        name: "status",
        label: "Status",
        kind: "select",
        className: "field field-narrow",
        value: page.state.status,
        options: [{ value: "", label: "Any status" }, ...PAYMENT_STATUSES],
      },
    ],
    onChange: ({ status }) => apply(page, { ...page.state, status }),
  });
  page.chip = h("p", { class: "filter-chip", hidden: true });
  root.append(
    ...pageHeading(title, "Every student's payments, newest first. Refund a paid payment to end its enrollments and free the seats."),
    h("p", { class: "page-links" }, h("a", { href: "#/admin/deliveries" }, "E-mail deliveries")),
    listSection(page),
  );
  apply(page, page.state);
}

function apply(page, filters) {
  page.state = filters;
  keepInAddress("/admin/payments", filters);
  showStudentChip(page);
  page.list.load(filters);
}

function listSection(page) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "payments-list-title" },
    h("h2", { id: "payments-list-title" }, "All payments"),
    page.filters.element,
    page.chip,
    page.messages.alert,
    page.messages.status,
    page.list.element,
  );
}

// "Payments of Ada Lovelace" while the list shows one student's payments.
function showStudentChip(page) {
  const studentId = page.state.student_id;
  page.chip.replaceChildren();
  page.chip.hidden = !studentId;
  if (!studentId) return;
  const name = h("strong", {}, studentId);
  page.lookup(studentId).then((user) => {
    if (user) name.textContent = user.full_name || user.username;
  });
  const showAll = () => {
    apply(page, { ...page.state, student_id: "" });
    page.filters.control("status").focus();
  };
  page.chip.append(
    h("span", {}, "Payments of ", name),
    h("button", { type: "button", class: "button button-small", on: { click: showAll } }, "Show all students"),
  );
}

function dates(payment) {
  const line = (label, value) => h("span", {}, `${label} `, momentElement(value));
  const lines = [line("Started", payment.created_at)];
  if (payment.status === "pending") lines.push(h("span", {}, payByElement(payment.due_at)));
  if (payment.paid_at) lines.push(line("Paid", payment.paid_at));
  if (payment.refunded_at) lines.push(line("Refunded", payment.refunded_at));
  return h("div", { class: "cell-lines" }, lines);
}

function refundButton(page, payment) {
  if (payment.status !== "paid") return null;
  return h(
    "button",
    {
      type: "button",
      class: "button button-small button-danger-outline",
      "data-action": "refund",
      on: { click: () => refund(page, payment) },
    },
    "Refund",
    h("span", { class: "visually-hidden" }, ` ${paymentCourses(payment)}`),
  );
}

function paymentRow(page, payment) {
  const studentHref = `#/admin/payments${queryString({ status: page.state.status, student_id: payment.student_id })}`;
  return h(
    "tr",
    { dataset: { paymentId: payment.id, status: payment.status } },
    h(
      "td",
      { "data-label": "Courses" },
      h("div", { class: "cell-lines" }, h("a", { class: "cell-title", href: `#${paymentPath(payment.id)}` }, paymentCourses(payment)), receiptNumber(payment)),
    ),
    h("td", { "data-label": "Student" }, h("a", { href: studentHref, class: "person-link" }, personCell(page.lookup, payment.student_id))),
    h("td", { "data-label": "Amount", class: "cell-number" }, paymentAmount(payment)),
    h("td", { "data-label": "Status" }, paymentStatusBadge(payment)),
    h("td", { "data-label": "Dates" }, dates(payment)),
    h("td", { class: "cell-actions" }, h("div", { class: "row-actions" }, refundButton(page, payment))),
  );
}

async function refund(page, payment) {
  const user = await page.lookup(payment.student_id);
  const who = user ? user.full_name || user.username : "the student";
  const confirmed = await confirmDialog({
    title: `Refund ${paymentAmount(payment)} to ${who}?`,
    message: refundConsequences(payment),
    confirmLabel: "Refund",
    danger: true,
  });
  if (!confirmed) return;
  page.messages.clear();
  try {
    const updated = await refundPayment(payment, { signal: page.signal });
    page.list.update(updated, "a.cell-title");
    page.messages.say(`Refunded ${paymentAmount(updated)} to ${who}. The enrollments ended and the seats went to the waitlist.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}
