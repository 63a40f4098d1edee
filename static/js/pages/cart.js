import { api, getUser } from "../api.js";
import { cartEmptied, loadCart, removeFromCart } from "../cart.js";
import { clashesOf, clashWarning } from "../clashes.js";
import { coursePath, formatDateRange, formatMoney, scheduleSummary, statusBadge } from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { loadInto } from "../loading.js";
import { payProblem, providerDownWithPayment } from "../pay-problems.js";
import { getPayment, payByText, paymentPath } from "../payments.js";
import { needsVerification } from "../verify-notice.js";

export const title = "Your cart";

// Totals per currency: the server refuses to check out paid courses priced in
// several. Free courses add nothing, whatever their currency.
function totals(items) {
  const byCurrency = new Map();
  for (const course of items) {
    const { amount, currency } = course.price;
    if (amount > 0) byCurrency.set(currency, (byCurrency.get(currency) || 0) + amount);
  }
  if (!byCurrency.size) return [{ amount: 0, currency: items.length ? items[0].price.currency : "usd" }];
  return [...byCurrency].map(([currency, amount]) => ({ amount, currency }));
}

export function render(root, { signal }) {
  // fullIds: courses the last checkout found without a seat.
  const page = { signal, messages: messageRegions(), items: [], clashes: [], fullIds: new Set() };
  page.content = h("div", { class: "cart" });
  root.append(
    ...pageHeading(title, "Courses you are about to enroll in. A seat is held for you only when you check out."),
    page.messages.alert,
    page.messages.status,
    page.content,
  );
  loadInto(page.content, {
    signal,
    label: "Loading your cart…",
    title: "Could not load your cart.",
    load: (loadSignal) => loadCart({ signal: loadSignal }),
    show: (cart) => {
      keep(page, cart);
      show(page);
    },
  });
}

function keep(page, cart) {
  page.items = cart.items;
  page.clashes = cart.clashes || [];
}

function problemText(course) {
  return course.status === "closed"
    ? "This course no longer takes enrollments. Remove it to check out."
    : "No seat is left in this course. Remove it to check out.";
}

function itemRow(page, course) {
  const titleId = `cart-item-${course.id}`;
  const problem = page.fullIds.has(course.id) || course.status !== "open";
  const remove = (event) => removeCourse(page, course, event.currentTarget);
  return h(
    "li",
    { class: problem ? "list-row cart-item has-problem" : "list-row cart-item", dataset: { courseId: course.id, code: course.code } },
    h(
      "article",
      { class: "list-row-body", "aria-labelledby": titleId },
      h(
        "div",
        { class: "list-row-main" },
        h("p", { class: "list-row-top" }, h("span", { class: "course-code" }, course.code), statusBadge(course)),
        h("h3", { class: "list-row-title", id: titleId }, h("a", { href: `#${coursePath(course)}` }, course.title)),
        h(
          "p",
          { class: "list-row-meta" },
          h("span", {}, scheduleSummary(course.schedule.sessions)),
          h("span", {}, formatDateRange(course.schedule.starts_on, course.schedule.ends_on)),
        ),
        problem ? h("p", { class: "cart-item-problem", "data-testid": "cart-problem" }, problemText(course)) : null,
        clashWarning(clashesOf(course.id, page.clashes, page.items)),
      ),
      h(
        "div",
        { class: "list-row-side" },
        h("p", { class: "cart-item-price", "data-testid": "cart-price" }, formatMoney(course.price)),
        h(
          "button",
          { type: "button", class: "button button-small button-danger-outline", on: { click: remove } },
          "Remove",
          h("span", { class: "visually-hidden" }, ` ${course.code}`),
        ),
      ),
    ),
  );
}

function summaryBox(page) {
  const sums = totals(page.items);
  const paid = sums.some((sum) => sum.amount > 0);
  const mixed = sums.length > 1
    ? h("p", { class: "cart-note cart-note-warning" }, "Courses priced in different currencies are paid separately: remove the ones in one currency, check out, then add them again.")
    : null;
  return h(
    "section",
    { class: "card cart-summary", "aria-labelledby": "cart-summary-title" },
    h("h2", { id: "cart-summary-title" }, "Summary"),
    h(
      "dl",
      { class: "cart-totals" },
      h("div", {}, h("dt", {}, "Courses"), h("dd", {}, String(page.items.length))),
      h("div", { class: "cart-total" }, h("dt", {}, "Total"), h("dd", { "data-testid": "cart-total" }, sums.map((sum) => formatMoney(sum)).join(" + "))),
    ),
    mixed,
    clashNote(page),
    paid && needsVerification(getUser())
      ? h(
          "p",
          { class: "cart-note cart-note-warning", "data-testid": "cart-verify-note" },
          "Paying needs a confirmed e-mail address: open the link we e-mailed you (the notice above sends it again), then check out.",
        )
      : null,
    h(
      "p",
      { class: "cart-note" },
      paid
        ? "Checking out holds a seat in every course at once and takes you to a secure payment page. Free courses are enrolled right away."
        : "These courses are free: checking out enrolls you right away.",
    ),
    h("button", { type: "button", class: "button button-primary button-block", on: { click: (event) => checkout(page, event) } }, "Checkout"),
  );
}

// The clashes are warnings: the summary says so once, by the button.
function clashNote(page) {
  const count = page.items.filter((course) => clashesOf(course.id, page.clashes, page.items).length).length;
  if (!count) return null;
  const which = count === 1 ? "1 course here meets" : `${count} courses here meet`;
  return h(
    "p",
    { class: "cart-note cart-note-warning", "data-testid": "cart-clash-note" },
    `Timetable clash: ${which} at the same time as another course of yours. You can still check out.`,
  );
}

function show(page) {
  if (!page.items.length) {
    page.content.replaceChildren(
      h(
        "div",
        { class: "card empty-state", "data-testid": "cart-empty" },
        h("p", {}, "Your cart is empty."),
        h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
      ),
    );
    return;
  }
  const count = page.items.length;
  page.content.replaceChildren(
    h(
      "div",
      { class: "cart-layout" },
      h(
        "section",
        { class: "card", "aria-labelledby": "cart-items-title" },
        h("h2", { id: "cart-items-title" }, "Courses ", h("span", { class: "count" }, `(${count})`)),
        h("ul", { class: "list-rows", "aria-labelledby": "cart-items-title" }, page.items.map((course) => itemRow(page, course))),
      ),
      summaryBox(page),
    ),
  );
}

async function removeCourse(page, course, button) {
  page.messages.clear();
  button.disabled = true;
  const index = page.items.findIndex((item) => item.id === course.id);
  try {
    const cart = await removeFromCart(course.id, { signal: page.signal });
    keep(page, cart);
    page.fullIds.delete(course.id);
    show(page);
    // Keyboard users continue with the next course, or the summary.
    const rows = page.content.querySelectorAll(".cart-item button");
    const next = rows[Math.min(index, rows.length - 1)];
    (next || page.content.querySelector("a, button") || document.querySelector("h1")).focus();
    page.messages.say(`${course.code} is no longer in your cart.`);
  } catch (error) {
    if (error.name === "AbortError") return;
    button.disabled = false;
    page.messages.complain(error.message);
  }
}

// What became of a checkout that left nothing in the cart: a box saying so
// (it takes focus) and the way on.
function showOutcome(page, { tone, testId, heading, text, link }) {
  page.content.replaceChildren(
    h(
      "section",
      { class: "card", "aria-labelledby": "cart-outcome-title" },
      h(
        "div",
        { class: `state-box state-box-${tone}`, tabindex: "-1", "data-testid": testId },
        h("strong", { id: "cart-outcome-title" }, heading),
        h("span", {}, text),
      ),
      h("a", { class: "button button-primary", href: link[0] }, link[1]),
    ),
  );
  page.content.querySelector(".state-box").focus();
}

function showEnrolled(page, result) {
  const count = result.enrollment_ids.length;
  showOutcome(page, {
    tone: "success",
    testId: "checkout-done",
    heading: "You are enrolled",
    text: `Your ${count === 1 ? "course is" : `${count} courses are`} free, so you are enrolled right away.`,
    link: ["#/my-courses", "Go to My courses"],
  });
}

// The courses may have changed meanwhile (full, closed): show them as they are.
async function checkoutFailed(page, error) {
  const heldId = error.code === "payment_provider_unavailable" && error.fields && error.fields.payment_id;
  if (heldId) return showHeld(page, heldId);
  page.messages.complain(payProblem(error));
  if (error.code === "course_full" && error.fields && error.fields.course_ids) {
    page.fullIds = new Set(String(error.fields.course_ids).split(","));
  }
  try {
    keep(page, await loadCart({ signal: page.signal }));
    show(page);
  } catch {
    // Keep what is shown; the message already says what went wrong.
  }
}

// "Your seats are held. Pay by Dec 8, 2026, 18:18 (in 7 days)."
function heldWords(payment) {
  if (!payment) return "Your seats are held.";
  const seats = payment.items.length === 1 ? "Your seat is held." : "Your seats are held.";
  return `${seats} ${payByText(payment.due_at)}.`;
}

// The seats are held and their payment written, but the provider's page did
// not open: the cart is empty now, and the payment is where to pay.
async function showHeld(page, paymentId) {
  cartEmptied();
  page.items = [];
  const payment = await getPayment(paymentId, { signal: page.signal }).catch(() => null);
  showOutcome(page, {
    tone: "warning",
    testId: "checkout-held",
    heading: "Your seats are held, but paying has to wait",
    text: providerDownWithPayment(paymentId, { dueAt: payment && payment.due_at }),
    link: [`#${paymentPath(paymentId)}`, "Go to the payment"],
  });
}

async function checkout(page, event) {
  const button = event.currentTarget;
  page.messages.clear();
  button.disabled = true;
  button.textContent = "Starting checkout…";
  let leaving = false;
  try {
    const result = await api.post("/api/checkout", undefined, { signal: page.signal });
    cartEmptied();
    page.items = [];
    if (result.checkout_url) {
      leaving = true;
      page.messages.say(`${heldWords(result.payment)} Taking you to the secure payment page…`);
      window.location.assign(result.checkout_url);
      return;
    }
    showEnrolled(page, result);
    page.messages.say("Checkout complete: you are enrolled.");
  } catch (error) {
    if (error.name !== "AbortError") await checkoutFailed(page, error);
  } finally {
    if (!leaving && button.isConnected) {
      button.disabled = false;
      button.textContent = "Checkout";
    }
  }
}
