// What the catalog pages share: formatting of money, dates and schedules,
// the course and enrollment badges, the course card and enrollment actions.
import { api } from "./api.js";
import { confirmDialog, h } from "./dom.js";

export const WEEKDAYS = [
  { value: "monday", short: "Mon", label: "Monday" },
  { value: "tuesday", short: "Tue", label: "Tuesday" },
  { value: "wednesday", short: "Wed", label: "Wednesday" },
  { value: "thursday", short: "Thu", label: "Thursday" },
  { value: "friday", short: "Fri", label: "Friday" },
  { value: "saturday", short: "Sat", label: "Saturday" },
  { value: "sunday", short: "Sun", label: "Sunday" },
];
const weekdayIndex = (value) => WEEKDAYS.findIndex((day) => day.value === value);
export const weekdayLabel = (value) => (WEEKDAYS[weekdayIndex(value)] || { label: value }).label;
const weekdayShort = (value) => (WEEKDAYS[weekdayIndex(value)] || { short: value }).short;

// The currencies the API accepts.
export const CURRENCIES = ["usd", "eur", "gbp", "chf", "cad", "aud", "sek", "nok", "dkk", "inr"];

export const COURSE_STATUSES = [
  { value: "open", label: "Open" },
  { value: "full", label: "Full" },
  { value: "closed", label: "Closed" },
];

export const ENROLLMENT_LABELS = {
  active: "Enrolled",
  pending_payment: "Seat held",
  waitlisted: "Waitlisted",
  expired: "Hold expired",
  dropped: "Dropped",
  refunded: "Refunded",
  completed: "Completed",
};

// Enrollments that still count: the student holds a seat or a waitlist place.
export const LIVE_STATUSES = ["active", "pending_payment", "waitlisted"];

// Fewer seats than this (or a fifth of the course) are "few": highlighted.
const FEW_SEATS = 5;

// --- money ----------------------------------------------------------------

// How many minor units a currency has: 2 for usd, 0 for jpy.
export function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function currencyName(currency) {
  const code = currency.toUpperCase();
  try {
    const name = new Intl.DisplayNames(undefined, { type: "currency" }).of(code);
    return name && name !== code ? `${code} – ${name}` : code;
  } catch {
    return code;
  }
}

// {amount: 12900, currency: "usd"} -> "$129.00"; 0 -> "Free".
export function formatMoney(price, { free = "Free" } = {}) {
  if (!price) return "";
  if (price.amount === 0 && free) return free;
  const digits = currencyDigits(price.currency);
  const value = price.amount / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: price.currency.toUpperCase() }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${price.currency.toUpperCase()}`;
  }
}

// "129.5" in usd -> 12950 minor units; null when the text is not an amount.
export function toMinorUnits(text, currency) {
  const digits = currencyDigits(currency);
  const cleaned = String(text).trim().replace(",", ".");
  const pattern = digits > 0 ? new RegExp(`^\\d+(\\.\\d{0,${digits}})?$`) : /^\d+$/;
  if (!pattern.test(cleaned)) return null;
  const [whole, fraction = ""] = cleaned.split(".");
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, "0") || 0);
}

// 12950 in usd -> "129.50", for an input's value.
export function fromMinorUnits(amount, currency) {
  const digits = currencyDigits(currency);
  return (amount / 10 ** digits).toFixed(digits);
}

// --- dates and schedules ------------------------------------------------------

// A calendar date ("2026-03-02"), shown the same in every time zone.
export function formatDay(value, options = { year: "numeric", month: "short", day: "numeric" }) {
  if (!value) return "";
  const [year, month, day] = String(value).split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleDateString(undefined, { ...options, timeZone: "UTC" });
}

export function formatDateRange(start, end) {
  return `${formatDay(start)} – ${formatDay(end)}`;
}

// One time format everywhere: the 24-hour clock ("18:00"), as in the course
// schedules, whatever the browser's locale would pick.
const MOMENT_FORMAT = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

// A moment (an ISO timestamp), in the viewer's time zone: "Mar 4, 2026, 18:00".
export function formatMoment(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, MOMENT_FORMAT);
}

// The same as an element that never wraps inside a narrow table cell.
export function momentElement(value) {
  return h("time", { class: "moment", datetime: value }, formatMoment(value));
}

// Today's date in UTC ("2026-03-02"): the server decides by UTC dates.
export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

export function sortedSessions(sessions) {
  return [...(sessions || [])].sort(
    (a, b) => weekdayIndex(a.weekday) - weekdayIndex(b.weekday) || a.start_time.localeCompare(b.start_time),
  );
}

// "Mon, Wed 09:00–10:30"; sessions at different times: "Mon 09:00–10:30 · Fri 10:00–13:00".
export function scheduleSummary(sessions) {
  const groups = [];
  for (const session of sortedSessions(sessions)) {
    const time = `${session.start_time}–${session.end_time}`;
    const group = groups.find((entry) => entry.time === time);
    if (group) group.days.push(weekdayShort(session.weekday));
    else groups.push({ time, days: [weekdayShort(session.weekday)] });
  }
  if (!groups.length) return "Schedule to be announced";
  return groups.map((group) => `${group.days.join(", ")} ${group.time}`).join(" · ");
}

// --- seats and badges -----------------------------------------------------------

export function seatsInfo(course) {
  const left = course.seats_left;
  const few = left > 0 && (left < FEW_SEATS || left <= course.capacity / 5);
  let text;
  if (left === 0) text = "No seats left";
  else if (left === 1) text = "1 seat left";
  else text = `${left} seats left`;
  return { text, few, left };
}

export function seatsElement(course) {
  const seats = seatsInfo(course);
  const classes = ["seats"];
  if (seats.few) classes.push("seats-few");
  if (seats.left === 0) classes.push("seats-none");
  return h(
    "span",
    { class: classes.join(" ") },
    seats.text,
    seats.left > 0 ? h("span", { class: "seats-of" }, ` of ${course.capacity}`) : null,
  );
}

const statusLabel = (status) => (COURSE_STATUSES.find((entry) => entry.value === status) || { label: status }).label;

export function statusBadge(course) {
  return h(
    "span",
    { class: `badge badge-${course.status}`, "data-testid": "course-status" },
    h("span", { class: "visually-hidden" }, "Enrollment: "),
    statusLabel(course.status),
  );
}

export function archivedBadge() {
  return h("span", { class: "badge badge-archived" }, "Archived");
}

// The student's own state in a course, or null when there is nothing to show.
export function enrollmentLabel(enrollment) {
  if (!enrollment) return null;
  if (enrollment.status === "waitlisted") {
    return enrollment.position ? `Waitlisted #${enrollment.position}` : "Waitlisted";
  }
  if (enrollment.status === "active" || enrollment.status === "pending_payment" || enrollment.status === "completed") {
    return ENROLLMENT_LABELS[enrollment.status];
  }
  return null;
}

export function enrollmentBadge(enrollment) {
  const label = enrollmentLabel(enrollment);
  if (!label) return null;
  return h(
    "span",
    { class: `badge badge-mine badge-mine-${enrollment.status}`, "data-testid": "my-enrollment" },
    h("span", { class: "visually-hidden" }, "You: "),
    label,
  );
}

export function enrollmentStatusBadge(status) {
  return h("span", { class: `badge badge-enrollment badge-enrollment-${status}` }, ENROLLMENT_LABELS[status] || status);
}

// The catalog's address as the visitor last left it (search, filters, sort),
// so that "back to the catalog" returns to the same list.
let lastCatalogHash = "#/catalog";
export function rememberCatalogHash(hash) {
  lastCatalogHash = hash;
}
export const catalogHref = () => lastCatalogHash;

export const coursePath = (course) => `/courses/${encodeURIComponent(course.id || course)}`;

// One course in a list: code, status, title, instructor, schedule, price, seats.
// options.headingLevel (default 2) and options.actions (nodes for the footer).
export function courseCard(course, { headingLevel = 2, actions = null, showMine = true } = {}) {
  const titleId = `course-card-${course.id}`;
  const facts = [
    ["Schedule", scheduleSummary(course.schedule.sessions)],
    ["Dates", formatDateRange(course.schedule.starts_on, course.schedule.ends_on)],
    ["Price", h("span", { class: course.price.amount === 0 ? "price price-free" : "price" }, formatMoney(course.price))],
    ["Seats", seatsElement(course)],
  ];
  if (course.status === "full" && course.waitlist_length) {
    facts.push(["Waitlist", `${course.waitlist_length} waiting`]);
  }
  return h(
    "li",
    { class: "course-card", dataset: { courseId: course.id, code: course.code } },
    h(
      "article",
      { class: "course-card-body", "aria-labelledby": titleId },
      h(
        "div",
        { class: "course-card-top" },
        h("span", { class: "course-code" }, course.code),
        h(
          "span",
          { class: "badges" },
          course.archived ? archivedBadge() : statusBadge(course),
          showMine ? enrollmentBadge(course.my_enrollment) : null,
        ),
      ),
      h(
        `h${headingLevel}`,
        { class: "course-card-title", id: titleId },
        h("a", { href: `#${coursePath(course)}` }, course.title),
      ),
      h("p", { class: "course-card-instructor" }, course.instructor.full_name || "Instructor to be announced"),
      h(
        "dl",
        { class: "course-facts" },
        facts.map(([label, value]) => h("div", { class: "course-fact" }, h("dt", {}, label), h("dd", {}, value))),
      ),
      actions ? h("div", { class: "course-card-actions" }, actions) : null,
    ),
  );
}

// --- enrollment actions ----------------------------------------------------------

export const courseApi = (courseId) => `/api/catalog/courses/${encodeURIComponent(courseId)}`;

export const enrollmentActions = {
  enroll: (courseId, signal) => api.post(`${courseApi(courseId)}/enroll`, undefined, { signal }),
  joinWaitlist: (courseId, signal) => api.post(`${courseApi(courseId)}/waitlist`, undefined, { signal }),
  leaveWaitlist: (courseId, signal) => api.delete(`${courseApi(courseId)}/waitlist`, { signal }),
  drop: (enrollmentId, signal) =>
    api.post(`/api/catalog/enrollments/${encodeURIComponent(enrollmentId)}/drop`, undefined, { signal }),
};

// The questions asked before an enrollment action that cannot be undone.
// Dropping a paid seat gives no money back by itself: refunds are an
// administrator's (POST /api/checkout/payments/{id}/refund), so it says so.
export function dropWords(enrollment, course) {
  if (enrollment.status === "pending_payment") return "Your held seat goes back to the course, or to the first person on the waitlist.";
  const paid = enrollment.status === "active" && course.price.amount > 0;
  const seat = "You lose your seat; it goes to the first person on the waitlist.";
  return paid ? `${seat} Dropping does not refund what you paid: ask an administrator about a refund.` : seat;
}

export function confirmDrop(code, message) {
  return confirmDialog({
    title: `Drop ${code}?`,
    message,
    confirmLabel: "Drop course",
    danger: true,
  });
}

export function confirmLeaveWaitlist(code, position) {
  return confirmDialog({
    title: `Leave the waitlist for ${code}?`,
    message: `You will lose your place${position ? ` (#${position})` : ""}. Joining again puts you at the end.`,
    confirmLabel: "Leave waitlist",
    danger: true,
  });
}

// Archives a course after asking: the archived course, or null when cancelled.
export async function archiveCourse(course, { signal } = {}) {
  const confirmed = await confirmDialog({
    title: `Archive ${course.code}?`,
    message: "It leaves the catalog and takes no more enrollments. Its enrollments and history are kept.",
    confirmLabel: "Archive course",
    danger: true,
  });
  if (!confirmed) return null;
  const data = await api.post(`${courseApi(course.id)}/archive`, undefined, { signal });
  return data.course;
}
