// What the payment pages share: the API calls, status badges, amounts, due
// dates ("Pay by …"), receipt numbers and the hand-off to the payment
// provider's page.
import { api } from "./api.js";
import { formatMoment, formatMoney, momentElement } from "./courses.js";
import { h } from "./dom.js";

export const PAYMENT_STATUSES = [
  { value: "pending", label: "Awaiting payment" },
  { value: "paid", label: "Paid" },
  { value: "failed", label: "Failed" },
  { value: "expired", label: "Expired" },
  { value: "refunded", label: "Refunded" },
];

export const paymentApi = (id) => `/api/checkout/payments/${encodeURIComponent(id)}`;
export const paymentPath = (id) => `/payments/${encodeURIComponent(id)}`;

export async function getPayment(id, { signal } = {}) {
  const data = await api.get(paymentApi(id), { signal });
  return data.payment;
}

export function paymentStatusLabel(payment) {
  if (payment.status === "pending" && payment.processing) return "Processing";
  const found = PAYMENT_STATUSES.find((entry) => entry.value === payment.status);
  return found ? found.label : payment.status;
}

export function paymentStatusBadge(payment) {
  const tone = payment.status === "pending" && payment.processing ? "processing" : payment.status;
  return h(
    "span",
    { class: `badge badge-payment badge-payment-${tone}`, "data-testid": "payment-status" },
    h("span", { class: "visually-hidden" }, "Status: "),
    paymentStatusLabel(payment),
  );
}

// Payment amounts are never "Free": a payment is only made for a price.
export const paymentAmount = (payment, amount = payment.amount) =>
  formatMoney({ amount, currency: payment.currency }, { free: null });

// The courses a payment is for, as one line: "CS-101 Intro, MA-201 Algebra".
export const paymentCourses = (payment) => payment.items.map((item) => item.description).join(", ");

// "in 2 days", "in 3 hours", "in 25 minutes"; null once the moment has passed.
export function timeUntil(value, now = Date.now()) {
  const ms = new Date(value).getTime() - now;
  if (Number.isNaN(ms) || ms <= 0) return null;
  const minutes = Math.floor(ms / 60_000);
  const hours = Math.floor(minutes / 60);
  const plural = (count, unit) => `in ${count} ${unit}${count === 1 ? "" : "s"}`;
  // A week's hold read a minute later is still "in 7 days", not "in 6 days";
  // below a day and a half it counts down by the day, then by the hour.
  if (hours >= 36) return plural(Math.round(hours / 24), "day");
  if (hours >= 24) return plural(1, "day");
  if (hours >= 1) return plural(hours, "hour");
  if (minutes >= 1) return plural(minutes, "minute");
  return "in less than a minute";
}

// The one way a due date is written, wherever it shows (My courses, Payments,
// a payment, a course, the cart): "Pay by Dec 15, 2026, 18:18 (in 14 days)".
// A held seat's due time is its payment's, so the same payment reads the same.
function payByParts(dueAt) {
  const until = timeUntil(dueAt);
  return until ? ["Pay by ", `(${until})`] : ["Was due ", "(past due)"];
}

export function payByText(dueAt) {
  const [lead, hint] = payByParts(dueAt);
  return `${lead}${formatMoment(dueAt)} ${hint}`;
}

function payByChildren(dueAt) {
  const [lead, hint] = payByParts(dueAt);
  return [lead, momentElement(dueAt), " ", h("span", { class: "pay-by-hint" }, hint)];
}

// The hints count down while a page stays open ("in 28 minutes", then 27...).
const HINT_REFRESH_MS = 30_000;
let hintTimer = null;

function refreshPayBy() {
  for (const element of document.querySelectorAll(".pay-by[data-due]")) {
    element.replaceChildren(...payByChildren(element.dataset.due));
    element.classList.toggle("is-past", timeUntil(element.dataset.due) === null);
  }
}

export function payByElement(dueAt) {
  if (!hintTimer) hintTimer = setInterval(refreshPayBy, HINT_REFRESH_MS);
  const past = timeUntil(dueAt) === null;
  return h(
    "span",
    { class: past ? "pay-by is-past" : "pay-by", "data-testid": "pay-by", dataset: { due: dueAt } },
    payByChildren(dueAt),
  );
}

// The short number a person reads and quotes ("R-7F3A-9C2M"); the payment's
// id stays in addresses, out of sight.
export const receiptNumber = (payment) =>
  h("span", { class: "receipt-number", "data-testid": "receipt-number" }, payment.receipt_number);

// Whether the student can pay it now: pending, in time, and no bank payment under way.
export const isPayable = (payment) =>
  payment.status === "pending" && !payment.processing && timeUntil(payment.due_at) !== null;

// Opens a Checkout Session for a pending payment and goes to its page.
// Resolves only when the browser is leaving; throws an ApiError otherwise.
export async function payNow(payment, { signal } = {}) {
  const data = await api.post(`${paymentApi(payment.id)}/pay`, undefined, { signal });
  const url = data.checkout_url || (data.payment && data.payment.checkout_url);
  if (!url) throw new Error("The payment page is not available right now. Please try again in a moment.");
  window.location.assign(url);
}

// Pays for a seat held outside a checkout (reserved on the course page, or
// offered from the waitlist): opens its payment page. Resolves only when the
// browser is leaving.
export async function payForHold(enrollmentId, { signal } = {}) {
  const data = await api.post(`/api/checkout/holds/${encodeURIComponent(enrollmentId)}/pay`, undefined, { signal });
  if (!data.checkout_url) throw new Error("The payment page is not available right now. Please try again in a moment.");
  window.location.assign(data.checkout_url);
}

export async function refundPayment(payment, { signal } = {}) {
  const data = await api.post(`${paymentApi(payment.id)}/refund`, undefined, { signal });
  return data.payment;
}

// The words for a refund's consequences, shown before an administrator confirms.
export function refundConsequences(payment) {
  const count = payment.items.filter((item) => !item.refunded).length;
  const courses = count === 1 ? "enrollment" : `${count} enrollments`;
  return `The money goes back through the payment provider, the student's ${courses} (${paymentCourses(payment)}) end as refunded, and the seats go to the waitlist.`;
}

// Administrators see students by name; the payments and deliveries carry only
// ids. Names are looked up once per page and remembered.
export function studentNames({ signal }) {
  const cache = new Map();
  return (id) => {
    if (!cache.has(id)) {
      cache.set(
        id,
        api
          .get(`/api/auth/users/${encodeURIComponent(id)}`, { signal })
          .then((data) => data.user)
          .catch(() => null),
      );
    }
    return cache.get(id);
  };
}

// A person's name in a table cell: the id at once, the name when it arrives.
export function personCell(lookup, id) {
  const name = h("span", { class: "person-name" });
  const detail = h("span", { class: "person-id" }, id);
  lookup(id).then((user) => {
    if (!user) return;
    name.textContent = user.full_name || user.username;
    detail.textContent = user.username;
  });
  return h("span", { class: "person" }, name, detail);
}
