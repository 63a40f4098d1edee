import { api, queryString } from "../api.js";
import { formatMoment, messageRegions } from "../courses.js";
import { confirmDialog, h, pageHeading } from "../dom.js";
import {
  PAYMENT_STATUSES,
  dueElement,
  paymentAmount,
  paymentCourses,
  paymentPath,
  paymentStatusBadge,
  personCell,
  refundConsequences,
  refundPayment,
  studentNames,
} from "../payments.js";

export const title = "Payments";

const PAGE_SIZE = 25;

export function render(root, { query, signal }) {
  const state = {
    filters: {
      status: PAYMENT_STATUSES.some((s) => s.value === query.status) ? query.status : "",
      student_id: (query.student_id || "").slice(0, 64),
    },
    nextCursor: null,
    loading: null,
    count: 0,
  };
  const messages = messageRegions();
  const lookup = studentNames({ signal });

  // --- filters ------------------------------------------------------------------
  const status = h(
    "select",
    { id: "payments-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    PAYMENT_STATUSES.map((s) => h("option", { value: s.value, selected: s.value === state.filters.status }, s.label)),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter payments" },
    h("div", { class: "field field-narrow" }, h("label", { for: "payments-status" }, "Status"), status),
  );
  const studentChip = h("p", { class: "filter-chip", hidden: true });

  function showStudentChip() {
    studentChip.replaceChildren();
    studentChip.hidden = !state.filters.student_id;
    if (!state.filters.student_id) return;
    const name = h("strong", {}, state.filters.student_id);
    lookup(state.filters.student_id).then((user) => {
      if (user) name.textContent = user.full_name || user.username;
    });
    studentChip.append(
      h("span", {}, "Payments of ", name),
      h(
        "button",
        {
          type: "button",
          class: "button button-small",
          on: {
            click: () => {
              state.filters.student_id = "";
              apply();
              status.focus();
            },
          },
        },
        "Show all students",
      ),
    );
  }

  // --- the list -----------------------------------------------------------------
  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "data-table admin-payments-table" },
    h("caption", { class: "visually-hidden" }, "Payments"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Courses", "Student", "Amount", "Status", "Dates"].map((label) => h("th", { scope: "col" }, label)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    tbody,
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");

  function dates(payment) {
    const lines = [h("span", {}, `Started ${formatMoment(payment.created_at)}`)];
    if (payment.status === "pending") lines.push(dueElement(payment));
    if (payment.paid_at) lines.push(h("span", {}, `Paid ${formatMoment(payment.paid_at)}`));
    if (payment.refunded_at) lines.push(h("span", {}, `Refunded ${formatMoment(payment.refunded_at)}`));
    return h("div", { class: "cell-lines" }, lines);
  }

  function row(payment) {
    const courses = paymentCourses(payment);
    const named = (text) => [text, h("span", { class: "visually-hidden" }, ` ${courses}`)];
    const studentLink = h(
      "a",
      {
        href: `#/admin/payments${queryString({ status: state.filters.status, student_id: payment.student_id })}`,
        class: "person-link",
      },
      personCell(lookup, payment.student_id),
    );
    return h(
      "tr",
      { dataset: { paymentId: payment.id, status: payment.status } },
      h("td", { "data-label": "Courses" }, h("a", { class: "cell-title", href: `#${paymentPath(payment.id)}` }, courses)),
      h("td", { "data-label": "Student" }, studentLink),
      h("td", { "data-label": "Amount", class: "cell-number" }, paymentAmount(payment)),
      h("td", { "data-label": "Status" }, paymentStatusBadge(payment)),
      h("td", { "data-label": "Dates" }, dates(payment)),
      h(
        "td",
        { class: "cell-actions" },
        h(
          "div",
          { class: "row-actions" },
          payment.status === "paid"
            ? h(
                "button",
                {
                  type: "button",
                  class: "button button-small button-danger-outline",
                  "data-action": "refund",
                  on: { click: () => refund(payment) },
                },
                ...named("Refund"),
              )
            : null,
        ),
      ),
    );
  }

  function updateSummary() {
    const count = state.count;
    if (!count) summary.textContent = "No payments match.";
    else summary.textContent = `Showing ${count} ${count === 1 ? "payment" : "payments"}${state.nextCursor ? "; there are more" : ""}.`;
    table.hidden = count === 0;
    loadMore.hidden = !state.nextCursor;
  }

  function syncAddress() {
    const target = `#/admin/payments${queryString(state.filters)}`;
    if (window.location.hash !== target) history.replaceState(history.state, "", target);
  }

  async function load({ reset }) {
    if (state.loading) state.loading.abort();
    const controller = new AbortController();
    state.loading = controller;
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    loadMore.disabled = true;
    listSection.setAttribute("aria-busy", "true");
    try {
      const data = await api.get(
        `/api/checkout/payments${queryString({
          ...state.filters,
          limit: PAGE_SIZE,
          cursor: reset ? null : state.nextCursor,
        })}`,
        { signal: controller.signal },
      );
      if (reset) {
        tbody.replaceChildren();
        state.count = 0;
      }
      const rows = (data.items || []).map(row);
      tbody.append(...rows);
      state.count += rows.length;
      state.nextCursor = data.next_cursor || null;
      updateSummary();
      if (!reset && rows.length) rows[0].querySelector("a").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      signal.removeEventListener("abort", abort);
      if (state.loading === controller) {
        state.loading = null;
        loadMore.disabled = false;
        listSection.removeAttribute("aria-busy");
      }
    }
  }

  function apply() {
    state.filters.status = status.value;
    syncAddress();
    showStudentChip();
    load({ reset: true });
  }

  async function refund(payment) {
    const user = await lookup(payment.student_id);
    const who = user ? user.full_name || user.username : "the student";
    const confirmed = await confirmDialog({
      title: `Refund ${paymentAmount(payment)} to ${who}?`,
      message: refundConsequences(payment),
      confirmLabel: "Refund",
      danger: true,
    });
    if (!confirmed) return;
    messages.clear();
    try {
      const updated = await refundPayment(payment, { signal });
      const old = tbody.querySelector(`tr[data-payment-id="${CSS.escape(payment.id)}"]`);
      const fresh = row(updated);
      if (old) old.replaceWith(fresh);
      fresh.querySelector("a.cell-title").focus();
      messages.say(`Refunded ${paymentAmount(updated)} to ${who}. The enrollments ended and the seats went to the waitlist.`);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  status.addEventListener("change", apply);
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  loadMore.addEventListener("click", () => load({ reset: false }));

  const listSection = h(
    "section",
    { class: "card", "aria-labelledby": "payments-list-title" },
    h("h2", { id: "payments-list-title" }, "All payments"),
    filterForm,
    studentChip,
    messages.alert,
    messages.status,
    summary,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-more" }, loadMore),
  );

  root.append(
    ...pageHeading(title, "Every student's payments, newest first. Refund a paid payment to end its enrollments and free the seats."),
    h("p", { class: "page-links" }, h("a", { href: "#/admin/deliveries" }, "Failed e-mail deliveries")),
    listSection,
  );
  syncAddress();
  showStudentChip();
  load({ reset: true });
}
