import { api } from "../api.js";
import {
  archivedBadge,
  confirmDrop,
  confirmLeaveWaitlist,
  coursePath,
  dropWords,
  enrollmentActions,
  enrollmentStatusBadge,
  formatDateRange,
  formatMoney,
  scheduleSummary,
  todayUtc,
} from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { loadInto } from "../loading.js";
import { payProblem } from "../pay-problems.js";
import { payByElement, payForHold, paymentPath, payNow, timeUntil } from "../payments.js";

export const title = "My courses";

const PAGE_SIZE = 100;
const MAX_PAGES = 10;

const GROUPS = [
  { key: "active", title: "Enrolled", statuses: ["active"] },
  {
    key: "held",
    title: "Seats held, awaiting payment",
    lead: "Pay by the date shown to keep your seat; after that it goes to the next student.",
    statuses: ["pending_payment"],
  },
  {
    key: "waitlisted",
    title: "On the waitlist",
    lead: "You get a seat when one frees up and everyone ahead of you has theirs.",
    statuses: ["waitlisted"],
  },
  { key: "past", title: "Past", statuses: ["dropped", "expired", "refunded", "completed"] },
];

export function render(root, { signal }) {
  const page = { signal, messages: messageRegions(), enrollments: [], payments: new Map() };
  page.content = h("div", { class: "my-courses" });
  root.append(
    ...pageHeading(title, "Your enrollments, seats held for payment and waitlist places."),
    page.messages.alert,
    page.messages.status,
    page.content,
  );
  loadInto(page.content, {
    signal,
    label: "Loading your courses…",
    title: "Could not load your courses.",
    load: () => load(page),
    show: () => show(page),
  });
}

async function allEnrollments(signal) {
  const items = [];
  let cursor = null;
  for (let count = 0; count < MAX_PAGES; count += 1) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    const data = await api.get(`/api/catalog/enrollments?${query}`, { signal });
    items.push(...(data.items || []));
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// The pending payments by id: their receipt numbers, and whether a bank
// payment is under way (then there is nothing to pay now).
async function pendingPayments(signal) {
  const found = new Map();
  try {
    const data = await api.get("/api/checkout/payments?status=pending&limit=100", { signal });
    for (const payment of data.items || []) found.set(payment.id, payment);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    // A held seat names its payment itself: "Pay now" works without these.
  }
  return found;
}

async function load(page) {
  page.enrollments = await allEnrollments(page.signal);
  const held = page.enrollments.some((enrollment) => enrollment.status === "pending_payment");
  page.payments = held ? await pendingPayments(page.signal) : new Map();
}

const heldPayment = (page, enrollment) => page.payments.get(enrollment.payment_id) || null;
const processing = (page, enrollment) => !enrollment.due_at || Boolean((heldPayment(page, enrollment) || {}).processing);

function stateLine(page, enrollment) {
  switch (enrollment.status) {
    case "active":
      return h("p", { class: "enrollment-state" }, "Enrolled");
    case "pending_payment":
      if (processing(page, enrollment)) return h("p", { class: "enrollment-state" }, "Seat held while your bank payment is processing");
      return h("p", { class: "enrollment-state enrollment-state-warning" }, "Seat held. ", payByElement(enrollment.due_at));
    case "waitlisted":
      return h(
        "p",
        { class: "enrollment-state" },
        "Waitlist position ",
        h("strong", { "data-testid": "waitlist-position" }, `#${enrollment.position ?? "?"}`),
      );
    default:
      return h("p", { class: "enrollment-state" }, enrollmentStatusBadge(enrollment.status));
  }
}

const forCourse = (text, course, joiner = " for ") => [text, h("span", { class: "visually-hidden" }, `${joiner}${course.code}`)];

// "Pay now" straight to the payment provider, as on Payments. A seat held
// before every hold had a payment gets one on the way (pay for the hold).
function payControl(page, enrollment) {
  if (enrollment.status !== "pending_payment" || processing(page, enrollment)) return null;
  if (timeUntil(enrollment.due_at) === null) return null; // past due: the seat is being released
  const click = (event) => pay(page, enrollment, event.currentTarget);
  return h("button", { type: "button", class: "button button-small button-primary", on: { click } }, ...forCourse("Pay now", enrollment.course));
}

// The held seat's payment: its receipt number, and the other courses it also pays for.
function paymentLink(page, enrollment) {
  if (enrollment.status !== "pending_payment" || !enrollment.payment_id) return null;
  const payment = heldPayment(page, enrollment);
  const others = payment ? payment.items.filter((line) => line.enrollment_id !== enrollment.id) : [];
  return h(
    "p",
    { class: "held-payment" },
    h(
      "a",
      { href: `#${paymentPath(enrollment.payment_id)}`, "data-testid": "held-payment-link" },
      payment ? ["Payment ", h("span", { class: "receipt-number" }, payment.receipt_number)] : "Its payment",
      h("span", { class: "visually-hidden" }, ` for ${enrollment.course.code}`),
    ),
    others.length ? h("span", { class: "muted" }, ` (together with ${others.map((line) => line.description).join(", ")})`) : null,
  );
}

function actionsFor(page, enrollment) {
  const { course } = enrollment;
  const danger = "button button-small button-danger-outline";
  if (enrollment.status === "waitlisted") {
    const click = () => leaveWaitlist(page, enrollment);
    return h("button", { type: "button", class: danger, on: { click } }, ...forCourse("Leave waitlist", course));
  }
  const pay = payControl(page, enrollment);
  const seated = enrollment.status === "active" || enrollment.status === "pending_payment";
  if (!seated || todayUtc() >= course.schedule.starts_on) return pay;
  const drop = h("button", { type: "button", class: danger, on: { click: () => dropCourse(page, enrollment) } }, ...forCourse("Drop", course, " "));
  return [pay, drop];
}

function item(page, enrollment) {
  const { course } = enrollment;
  const titleId = `enrollment-${enrollment.id}`;
  return h(
    "li",
    { class: "list-row enrollment-item", dataset: { enrollmentId: enrollment.id, code: course.code, status: enrollment.status } },
    h(
      "article",
      { "aria-labelledby": titleId, class: "list-row-body" },
      h(
        "div",
        { class: "list-row-main" },
        h("span", { class: "course-code" }, course.code),
        // Archived courses have no page for students any more.
        h(
          "h3",
          { class: "list-row-title", id: titleId },
          course.archived ? course.title : h("a", { href: `#${coursePath(course)}` }, course.title),
          course.archived ? [" ", archivedBadge()] : null,
        ),
        h(
          "p",
          { class: "list-row-meta" },
          h("span", {}, scheduleSummary(course.schedule.sessions)),
          h("span", {}, formatDateRange(course.schedule.starts_on, course.schedule.ends_on)),
          h("span", {}, formatMoney(course.price)),
        ),
        paymentLink(page, enrollment),
      ),
      h("div", { class: "list-row-side" }, stateLine(page, enrollment), actionsFor(page, enrollment)),
    ),
  );
}

function groupSection(page, group, items) {
  const headingId = `my-courses-${group.key}`;
  return h(
    "section",
    { class: "card enrollment-group", "aria-labelledby": headingId, dataset: { group: group.key } },
    h("h2", { id: headingId }, group.title, " ", h("span", { class: "count" }, `(${items.length})`)),
    group.lead ? h("p", { class: "muted" }, group.lead) : null,
    h("ul", { class: "list-rows" }, items.map((enrollment) => item(page, enrollment))),
  );
}

function show(page, { focus } = {}) {
  const sections = [];
  for (const group of GROUPS) {
    const items = page.enrollments.filter((e) => group.statuses.includes(e.status) && e.course);
    if (items.length) sections.push(groupSection(page, group, items));
  }
  if (!sections.some((section) => section.dataset.group !== "past")) {
    sections.unshift(
      h(
        "div",
        { class: "card empty-state" },
        h("p", {}, "You are not enrolled in any course right now."),
        h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
      ),
    );
  }
  page.content.replaceChildren(...sections);
  if (focus) {
    const row = page.content.querySelector(`[data-enrollment-id="${CSS.escape(focus)}"]`);
    const target = (row && (row.querySelector("a") || row.querySelector("button"))) || document.querySelector("h1");
    target.focus();
  }
}

async function pay(page, enrollment, button) {
  page.messages.clear();
  button.disabled = true;
  try {
    page.messages.say("Taking you to the secure payment page…");
    if (enrollment.payment_id) await payNow({ id: enrollment.payment_id }, { signal: page.signal });
    else await payForHold(enrollment.id, { signal: page.signal });
  } catch (error) {
    if (error.name === "AbortError") return;
    button.disabled = false;
    page.messages.complain(payProblem(error));
    // Paid, expired or dropped meanwhile: show the courses as they are now.
    if (error.status === 409 || error.status === 410) await refresh(page, payProblem(error));
  }
}

async function refresh(page, message) {
  try {
    await load(page);
    show(page);
    page.messages.complain(message);
  } catch {
    // Keep what is shown; the message already says what went wrong.
  }
}

async function act(page, enrollment, run, message) {
  page.messages.clear();
  try {
    await run();
    await load(page);
    show(page, { focus: enrollment.id });
    page.messages.say(message);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}

async function dropCourse(page, enrollment) {
  const { code } = enrollment.course;
  if (!(await confirmDrop(code, dropWords(enrollment, enrollment.course)))) return;
  await act(page, enrollment, () => enrollmentActions.drop(enrollment.id, page.signal), `You dropped ${code}.`);
}

async function leaveWaitlist(page, enrollment) {
  const { code } = enrollment.course;
  if (!(await confirmLeaveWaitlist(code, enrollment.position))) return;
  await act(page, enrollment, () => enrollmentActions.leaveWaitlist(enrollment.course_id, page.signal), `You left the waitlist for ${code}.`);
}
