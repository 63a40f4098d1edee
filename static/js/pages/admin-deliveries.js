import { api, queryString } from "../api.js";
import { formatMoment, messageRegions } from "../courses.js";
import { h, pageHeading } from "../dom.js";
import { personCell, studentNames } from "../payments.js";

export const title = "E-mail deliveries";

const PAGE_SIZE = 25;
const STATUSES = [
  { value: "failed", label: "Failed" },
  { value: "pending", label: "Waiting to be sent" },
  { value: "sending", label: "Being sent" },
  { value: "sent", label: "Sent" },
  { value: "skipped", label: "Skipped (account deactivated)" },
];
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

export function render(root, { query, signal }) {
  const state = {
    status: STATUSES.some((s) => s.value === query.status) ? query.status : "failed",
    nextCursor: null,
    loading: null,
    count: 0,
  };
  const messages = messageRegions();
  const lookup = studentNames({ signal });

  const status = h(
    "select",
    { id: "deliveries-status", name: "status" },
    STATUSES.map((s) => h("option", { value: s.value, selected: s.value === state.status }, s.label)),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter deliveries" },
    h("div", { class: "field field-narrow" }, h("label", { for: "deliveries-status" }, "Status"), status),
  );

  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "data-table deliveries-table" },
    h("caption", { class: "visually-hidden" }, "E-mail deliveries"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Message", "Recipient", "Attempts", "Last error", "When"].map((label) => h("th", { scope: "col" }, label)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    tbody,
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");

  function when(delivery) {
    const lines = [h("span", {}, `Queued ${formatMoment(delivery.created_at)}`)];
    if (delivery.sent_at) lines.push(h("span", {}, `Sent ${formatMoment(delivery.sent_at)}`));
    else if (delivery.status === "pending") lines.push(h("span", {}, `Next try ${formatMoment(delivery.next_attempt_at)}`));
    return h("div", { class: "cell-lines" }, lines);
  }

  function row(delivery) {
    return h(
      "tr",
      { dataset: { deliveryId: delivery.id, kind: delivery.kind } },
      h("td", { "data-label": "Message" }, h("span", { class: "cell-title" }, kindLabel(delivery.kind))),
      h("td", { "data-label": "Recipient" }, personCell(lookup, delivery.recipient_id)),
      h("td", { "data-label": "Attempts", class: "cell-number" }, String(delivery.attempts)),
      h(
        "td",
        { "data-label": "Last error", class: "cell-error" },
        delivery.last_error ? h("code", { class: "error-text" }, delivery.last_error) : h("span", { class: "muted" }, "None"),
      ),
      h("td", { "data-label": "When" }, when(delivery)),
      h(
        "td",
        { class: "cell-actions" },
        h(
          "div",
          { class: "row-actions" },
          delivery.status === "failed"
            ? h(
                "button",
                { type: "button", class: "button button-small", on: { click: (event) => retry(delivery, event.currentTarget) } },
                "Retry",
                h("span", { class: "visually-hidden" }, ` ${kindLabel(delivery.kind)} e-mail`),
              )
            : null,
        ),
      ),
    );
  }

  function updateSummary() {
    const count = state.count;
    const label = STATUSES.find((s) => s.value === state.status).label.toLowerCase();
    if (!count) summary.textContent = state.status === "failed" ? "No failed deliveries: every e-mail went out or is on its way." : `No deliveries are ${label}.`;
    else summary.textContent = `Showing ${count} ${count === 1 ? "delivery" : "deliveries"}${state.nextCursor ? "; there are more" : ""}.`;
    table.hidden = count === 0;
    loadMore.hidden = !state.nextCursor;
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
        `/api/messages/deliveries${queryString({ status: state.status, limit: PAGE_SIZE, cursor: reset ? null : state.nextCursor })}`,
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
      if (!reset && rows.length) {
        const first = rows[0].querySelector("button");
        if (first) first.focus();
      }
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

  async function retry(delivery, button) {
    messages.clear();
    button.disabled = true;
    try {
      await api.post(`/api/messages/deliveries/${encodeURIComponent(delivery.id)}/retry`, undefined, { signal });
      const queued = h("span", { class: "status status-active", tabindex: "-1", "data-testid": "retried" }, "Queued again");
      button.replaceWith(queued);
      queued.focus();
      const user = await lookup(delivery.recipient_id);
      const who = user ? user.full_name || user.username : "the recipient";
      messages.say(`The ${kindLabel(delivery.kind).toLowerCase()} e-mail to ${who} is queued to be sent again.`);
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      messages.complain(error.message);
    }
  }

  status.addEventListener("change", () => {
    state.status = status.value;
    const target = `#/admin/deliveries${state.status === "failed" ? "" : queryString({ status: state.status })}`;
    if (window.location.hash !== target) history.replaceState(history.state, "", target);
    load({ reset: true });
  });
  filterForm.addEventListener("submit", (event) => event.preventDefault());
  loadMore.addEventListener("click", () => load({ reset: false }));

  const listSection = h(
    "section",
    { class: "card", "aria-labelledby": "deliveries-list-title" },
    h("h2", { id: "deliveries-list-title" }, "Deliveries"),
    filterForm,
    messages.alert,
    messages.status,
    summary,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-more" }, loadMore),
  );

  root.append(
    ...pageHeading(
      title,
      "E-mail that could not be sent after several tries. Fix the cause (the mail server, an address), then send it again.",
    ),
    listSection,
  );
  load({ reset: true });
}
