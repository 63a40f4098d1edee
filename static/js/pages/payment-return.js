// Where the payment provider sends the student after paying. Coming back
// proves nothing: only the provider's signed event, applied on the server,
// makes a payment paid. So this page shows the payment as the server has it,
// asking again until it is settled or the wait is too long.
import { api } from "../api.js";
import { coursePath, enrollmentStatusBadge } from "../courses.js";
import { h, pageHeading } from "../dom.js";
import { errorNotice } from "../loading.js";
import { refreshUnread } from "../notifications.js";
import { getPayment, paymentAmount, paymentPath } from "../payments.js";

export const title = "Confirming your payment";

const POLL_MS = 1500;
const GIVE_UP_MS = 120_000;
const ENROLLMENT_PAGES = 5;
const HEADINGS = {
  paid: "Payment confirmed",
  refunded: "Payment refunded",
  failed: "Payment not completed",
  expired: "Payment not completed",
  missing: "Payment not found",
};

export function render(root, { params, signal }) {
  const page = { root, signal, paymentId: params.id, started: Date.now(), timer: null, shown: null };
  page.state = h("p", { class: "payment-state is-waiting", role: "status", "data-testid": "payment-state" });
  page.card = h("div", { class: "card payment-state-card" }, page.state);
  page.details = h("div", { class: "payment-return-details" });
  setState(page, "waiting", "waiting", "Processing your payment…");
  root.append(
    ...pageHeading(title, "Your payment provider sent you back here. Your enrollment is confirmed once the payment is."),
    page.card,
    page.details,
  );
  poll(page);
  return () => clearTimeout(page.timer);
}

function setState(page, key, tone, text) {
  if (page.shown === key) return; // announced once per change, not once per poll
  page.shown = key;
  page.state.className = `payment-state payment-state-${tone}`;
  page.state.textContent = text;
  page.card.className = `card payment-state-card is-${tone}`;
  const heading = page.root.querySelector("h1");
  if (heading) heading.textContent = HEADINGS[key] || title;
}

function links(page, ...extra) {
  return h(
    "p",
    { class: "form-actions payment-return-links" },
    ...extra,
    h("a", { class: "button", href: `#${paymentPath(page.paymentId)}` }, "View the payment"),
  );
}

async function enrollmentStatuses(payment, signal) {
  const wanted = new Set(payment.items.map((item) => item.enrollment_id));
  const found = new Map();
  let cursor = null;
  for (let count = 0; count < ENROLLMENT_PAGES && found.size < wanted.size; count += 1) {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const data = await api.get(`/api/catalog/enrollments?${query}`, { signal });
    for (const enrollment of data.items || []) {
      if (wanted.has(enrollment.id)) found.set(enrollment.id, enrollment.status);
    }
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return found;
}

function paidState(page, payment) {
  const kept = payment.items.filter((item) => !item.refunded);
  if (payment.status === "refunded" && kept.length) {
    setState(page, "refunded", "info", "This payment was refunded, and its enrollments ended.");
    return 0;
  }
  const count = payment.status === "refunded" ? 0 : kept.length;
  setState(
    page,
    "paid",
    "success",
    count
      ? `Payment received. You are enrolled in ${count === 1 ? "1 course" : `${count} courses`}.`
      : "Payment received, but the seats were gone; the whole amount is on its way back to you.",
  );
  return count;
}

function courseLine(item, statuses) {
  const status = item.refunded ? "refunded" : statuses.get(item.enrollment_id) || "active";
  return h(
    "li",
    { dataset: { courseId: item.course_id } },
    h("a", { href: `#${coursePath(item.course_id)}` }, item.description),
    " ",
    enrollmentStatusBadge(status),
    item.refunded ? h("span", { class: "muted" }, " No seat was left; this course is refunded.") : null,
  );
}

async function showPaid(page, payment) {
  const count = paidState(page, payment);
  let statuses = new Map();
  try {
    statuses = await enrollmentStatuses(payment, page.signal);
  } catch (error) {
    if (error.name === "AbortError") return;
  }
  page.details.replaceChildren(
    h(
      "section",
      { class: "card", "aria-labelledby": "return-courses-title" },
      h("h2", { id: "return-courses-title" }, count ? "Your courses" : "Refunded"),
      h("ul", { class: "payment-courses", "data-testid": "confirmed-courses" }, payment.items.map((item) => courseLine(item, statuses))),
      h("p", {}, "Paid: ", h("strong", {}, paymentAmount(payment)), count ? ". A confirmation with your receipt is on its way by e-mail." : "."),
      links(page, h("a", { class: "button button-primary", href: "#/my-courses" }, "Go to My courses")),
    ),
  );
  // The confirmation is also a new notification: the bell should say so now.
  refreshUnread().catch(() => {});
}

function showEnded(page, payment) {
  const failed = payment.status === "failed";
  setState(
    page,
    payment.status,
    "danger",
    failed
      ? "Your payment did not go through, so the seats were released."
      : "This payment ran out of time before it was completed, so the seats were released.",
  );
  page.details.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("p", {}, "You can enroll again from the catalog while seats are left."),
      links(page, h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog")),
    ),
  );
}

// Never reached the portal in all that time: say so, and offer to ask again.
function showUnreachable(page) {
  setState(page, "unreachable", "danger", "We could not reach the portal to confirm your payment.");
  const retry = () => {
    page.started = Date.now();
    page.lastError = null;
    setState(page, "waiting", "waiting", "Processing your payment…");
    page.details.replaceChildren();
    poll(page);
  };
  page.details.replaceChildren(errorNotice(page.lastError, retry, { title: null }));
}

function showStillWaiting(page, payment) {
  if (!payment && page.lastError) return showUnreachable(page);
  setState(
    page,
    "gave-up",
    "info",
    payment && payment.processing
      ? "Your bank payment is still processing. Your seats stay held; we will e-mail you when it settles."
      : "Your payment is still processing. We will e-mail you as soon as it is confirmed; your seats stay held meanwhile.",
  );
  page.details.replaceChildren(h("section", { class: "card" }, links(page, h("a", { class: "button", href: "#/payments" }, "All payments"))));
}

// One look at the payment; null after a hiccup (asked again at the next poll).
async function fetchPayment(page) {
  try {
    return await getPayment(page.paymentId, { signal: page.signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    if (error.status !== 404) {
      page.lastError = error;
      return null;
    }
    setState(page, "missing", "danger", "This payment was not found. It may belong to another account.");
    page.details.replaceChildren(h("p", {}, h("a", { href: "#/payments" }, "See your payments")));
    throw error;
  }
}

async function poll(page) {
  let payment = null;
  try {
    payment = await fetchPayment(page);
  } catch {
    return; // left the page, or no such payment
  }
  if (payment) {
    page.lastError = null;
    if (payment.status === "paid" || payment.status === "refunded") return showPaid(page, payment);
    if (payment.status === "failed" || payment.status === "expired") return showEnded(page, payment);
    if (payment.processing) {
      setState(page, "processing", "waiting", "Your bank payment is processing. Your seats stay held until it settles; this can take a while.");
    }
  }
  if (Date.now() - page.started >= GIVE_UP_MS) return showStillWaiting(page, payment);
  page.timer = setTimeout(() => poll(page), POLL_MS);
}
