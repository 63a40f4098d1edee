// The course page's enrollment panel: what the visitor can do now, in words
// that match the button. The rules for how long a seat is held are the
// server's (functions/catalog/seats.py hold_due_at): a price with days to pay
// holds the seat that many days (never past the course's start); a pay-now
// course, or one that has started, holds it for 30 minutes while paying.
import {
  confirmDrop,
  confirmLeaveWaitlist,
  coursePath,
  dropWords,
  enrollmentActions,
  formatDay,
  formatMoney,
  seatsElement,
  todayUtc,
} from "./courses.js";
import { canAddToCart, cartAction, inCart, removeFromCart } from "./cart.js";
import { clashesOf, clashWarning } from "./clashes.js";
import { h } from "./dom.js";
import { cannotPayYet, payProblem, unverified } from "./pay-problems.js";
import { payByElement, payByText, payForHold, paymentPath, timeUntil } from "./payments.js";

// How long the course page's "Pay now" holds a seat (seats.py PAY_NOW_HOLD).
const PAY_NOW_HOLD_MINUTES = 30;
const DAY_MS = 86_400_000;
const LIVE = ["active", "pending_payment", "waitlisted", "completed"];

// "free", "pay-now", or "pay-later" with the moment the hold runs out.
export function holdRule(course, now = Date.now()) {
  if (course.price.amount === 0) return { kind: "free" };
  const startsAt = Date.parse(`${course.schedule.starts_on}T00:00:00Z`);
  if (course.payment_due_days === 0 || now >= startsAt) return { kind: "pay-now" };
  const due = now + course.payment_due_days * DAY_MS;
  return { kind: "pay-later", untilStart: due >= startsAt };
}

export function paymentTerms(course) {
  const rule = holdRule(course);
  if (rule.kind === "free") return "Free: you are enrolled as soon as you enroll.";
  if (rule.kind === "pay-now") {
    return `Pay now to take your seat. It is held for ${PAY_NOW_HOLD_MINUTES} minutes while you pay; unpaid, it goes back to the course.`;
  }
  if (rule.untilStart) {
    return `Reserve a seat now and pay before the course starts on ${formatDay(course.schedule.starts_on)}; it is held for you until then.`;
  }
  const days = course.payment_due_days === 1 ? "1 day" : `${course.payment_due_days} days`;
  return `Reserve a seat now and pay within ${days}; it is held for you until then.`;
}

function closedReason(course) {
  if (course.archived) return "This course is archived and no longer takes enrollments.";
  if (todayUtc() < course.enrollment_opens_on) return `Enrollment opens on ${formatDay(course.enrollment_opens_on)}.`;
  return `Enrollment closed on ${formatDay(course.enrollment_closes_on)}.`;
}

function waitlistText(course) {
  const waiting = course.waitlist_length || 0;
  const line =
    waiting === 0 ? "Nobody is on the waitlist yet." : `${waiting} ${waiting === 1 ? "person is" : "people are"} on the waitlist.`;
  return `This course is full. ${line}`;
}

// panel: {course, user, signal, messages, refresh(), redraw({focusState}), guard}
export function panelContent(panel) {
  const { course, user } = panel;
  const parts = [
    h("p", { class: "enroll-price", "data-testid": "course-price" }, formatMoney(course.price)),
    h("p", { class: "enroll-seats" }, seatsElement(course)),
  ];
  if (!user) return [...parts, ...guestContent(course)];
  if (user.role !== "student") {
    parts.push(h("p", { class: "muted" }, "Only student accounts enroll in courses."));
    if (course.status === "closed") parts.push(h("p", {}, closedReason(course)));
    return parts;
  }
  const mine = course.my_enrollment;
  const clashes = courseClashes(course, mine);
  if (clashes) parts.push(clashes);
  if (mine && LIVE.includes(mine.status)) return [...parts, ...mineContent(panel, mine)];
  return [...parts, ...openContent(panel)];
}

// Meeting at the same time as a course the student has (or has in the cart):
// said before they act, never stopping them.
function courseClashes(course, mine) {
  const taken = mine && LIVE.includes(mine.status);
  const note = taken ? null : "This is a warning only: you can still enroll.";
  return clashWarning(clashesOf(course.id, course.clashes), { note });
}

function guestContent(course) {
  const signIn = `#/login?next=${encodeURIComponent(coursePath(course))}`;
  let text = h("p", { class: "muted" }, paymentTerms(course));
  let label = "Sign in to enroll";
  if (course.status === "closed") text = h("p", {}, closedReason(course));
  if (course.status === "full") {
    text = h("p", {}, waitlistText(course), " You get a seat when one frees up and everyone ahead of you has theirs.");
    label = "Sign in to join the waitlist";
  }
  return [
    text,
    h("a", { class: "button button-primary button-block", href: signIn }, label),
    h("p", { class: "enroll-note" }, "New here? ", h("a", { href: "#/register" }, "Create a student account")),
  ];
}

const stateBox = (tone, heading, ...text) =>
  h(
    "div",
    { class: `state-box state-box-${tone}`, tabindex: "-1", "data-testid": "enrollment-state" },
    h("strong", {}, heading),
    h("span", {}, ...text),
  );

function mineState(mine) {
  switch (mine.status) {
    case "active":
      return stateBox("success", "Enrolled", "You are enrolled in this course.");
    case "pending_payment":
      if (!mine.due_at) return stateBox("info", "Seat held", "Your seat is held while your bank payment is processing.");
      if (timeUntil(mine.due_at) === null) {
        return stateBox("warning", "Payment overdue", payByElement(mine.due_at), ". The seat goes back to the course shortly.");
      }
      return stateBox("warning", "Seat held", "Your seat is held. ", payByElement(mine.due_at), " to keep it.");
    case "waitlisted":
      return stateBox("info", mine.position ? `Waitlisted #${mine.position}` : "Waitlisted", "You get a seat when one frees up and everyone ahead of you has theirs.");
    default:
      return stateBox("success", "Completed", "You completed this course.");
  }
}

function mineContent(panel, mine) {
  const parts = [mineState(mine)];
  const started = todayUtc() >= panel.course.schedule.starts_on;
  if (mine.status === "pending_payment" && mine.due_at && timeUntil(mine.due_at) !== null) {
    parts.push(actionButton("Pay now", () => payHeldSeat(panel)));
  }
  if (mine.status === "pending_payment" && mine.payment_id) {
    const href = `#${paymentPath(mine.payment_id)}`;
    parts.push(h("p", { class: "enroll-note" }, h("a", { href, "data-testid": "held-payment-link" }, "Payment details")));
  }
  if (mine.status === "waitlisted") {
    parts.push(actionButton("Leave waitlist", () => leaveWaitlist(panel), "button button-danger-outline"));
  } else if ((mine.status === "active" || mine.status === "pending_payment") && !started) {
    parts.push(actionButton("Drop course", () => dropCourse(panel), "button button-danger-outline"));
  } else if (mine.status !== "completed") {
    parts.push(h("p", { class: "muted" }, "The course has started; ask an administrator to drop you."));
  }
  return parts;
}

function openContent(panel) {
  const { course } = panel;
  if (course.status === "full") {
    return [h("p", {}, waitlistText(course)), actionButton("Join waitlist", () => joinWaitlist(panel))];
  }
  if (course.status !== "open") return [h("p", {}, closedReason(course))];
  const kind = holdRule(course).kind;
  const main =
    kind === "pay-now"
      ? actionButton("Pay now", () => payNow(panel))
      : actionButton(kind === "free" ? "Enroll" : "Reserve seat", () => enroll(panel));
  const parts = [h("p", { class: "muted", "data-testid": "payment-terms" }, paymentTerms(course)), main];
  if (canAddToCart(course, panel.user)) parts.push(...cartChoice(panel));
  return parts;
}

function cartChoice(panel) {
  return [
    h("p", { class: "enroll-or" }, "or"),
    cartAction(panel.course, {
      signal: panel.signal,
      block: true,
      say: (message) => panel.messages.say(message),
      complain: (error) => problem(panel, error),
    }),
    h("p", { class: "enroll-note" }, "Collect several courses in your cart and pay for them together."),
  ];
}

function actionButton(label, handler, className = "button button-primary") {
  const button = h("button", { type: "button", class: `${className} button-block` }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await handler();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// The course changed meanwhile (full, closed, enrolled elsewhere): show it as it is.
async function problem(panel, error, message = error.message) {
  panel.messages.complain(message);
  if (error.status === 409 || error.status === 404 || error.status === 410) {
    await panel.refresh().catch(() => {});
    panel.redraw();
  }
}

// Runs an action, then shows the course as it is now.
async function act(panel, run, successMessage) {
  panel.messages.clear();
  try {
    const result = await run();
    await panel.refresh();
    panel.messages.say(successMessage(result));
    panel.redraw({ focusState: true });
  } catch (error) {
    if (error.name !== "AbortError") await problem(panel, error);
  }
}

function enroll(panel) {
  const { course } = panel;
  return act(
    panel,
    async () => {
      const result = await enrollmentActions.enroll(course.id, panel.signal);
      // Enrolled directly: the cart must not offer it a second time.
      if (inCart(course.id)) await removeFromCart(course.id, { signal: panel.signal }).catch(() => {});
      return result;
    },
    ({ enrollment }) =>
      enrollment.status === "active"
        ? `You are enrolled in ${course.code}.`
        : `Your seat in ${course.code} is held. ${payByText(enrollment.due_at)}.`,
  );
}

// Pay-now courses: hold the seat, then straight to the payment page.
async function payNow(panel) {
  panel.messages.clear();
  if (await cannotPayYet()) {
    panel.messages.complain(unverified());
    return;
  }
  try {
    const { enrollment } = await enrollmentActions.enroll(panel.course.id, panel.signal);
    if (inCart(panel.course.id)) await removeFromCart(panel.course.id, { signal: panel.signal }).catch(() => {});
    panel.messages.say(`Your seat is held. ${payByText(enrollment.due_at)}. Taking you to the secure payment page…`);
    await payForHold(enrollment.id, { signal: panel.signal });
  } catch (error) {
    if (error.name === "AbortError") return;
    // The seat may be held even though the payment page did not open.
    await panel.refresh().catch(() => {});
    panel.redraw();
    panel.messages.complain(payProblem(error));
  }
}

async function payHeldSeat(panel) {
  panel.messages.clear();
  try {
    panel.messages.say("Taking you to the secure payment page…");
    await payForHold(panel.course.my_enrollment.id, { signal: panel.signal });
  } catch (error) {
    if (error.name !== "AbortError") await problem(panel, error, payProblem(error));
  }
}

function joinWaitlist(panel) {
  return act(
    panel,
    () => enrollmentActions.joinWaitlist(panel.course.id, panel.signal),
    ({ enrollment }) => `You joined the waitlist for ${panel.course.code} at position ${enrollment.position}.`,
  );
}

async function leaveWaitlist(panel) {
  const { code, my_enrollment: mine } = panel.course;
  if (!(await confirmLeaveWaitlist(code, mine.position))) return;
  await act(panel, () => enrollmentActions.leaveWaitlist(panel.course.id, panel.signal), () => `You left the waitlist for ${code}.`);
}

async function dropCourse(panel) {
  const { code, my_enrollment: mine } = panel.course;
  if (!(await confirmDrop(code, dropWords(mine, panel.course)))) return;
  await act(panel, () => enrollmentActions.drop(mine.id, panel.signal), () => `You dropped ${code}.`);
}
