import { api } from "../api.js";
import { cartEmptied, loadCart, removeFromCart } from "../cart.js";
import {
  coursePath,
  formatDateRange,
  formatMoney,
  messageRegions,
  scheduleSummary,
  statusBadge,
} from "../courses.js";
import { h, pageHeading } from "../dom.js";

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
  const messages = messageRegions();
  const content = h("div", { class: "cart" }, h("p", { class: "loading" }, "Loading your cart…"));
  let items = [];
  let fullIds = new Set(); // courses the last checkout found without a seat

  function itemRow(course) {
    const titleId = `cart-item-${course.id}`;
    const problem = fullIds.has(course.id) || course.status !== "open";
    return h(
      "li",
      { class: problem ? "cart-item has-problem" : "cart-item", dataset: { courseId: course.id, code: course.code } },
      h(
        "article",
        { class: "cart-item-body", "aria-labelledby": titleId },
        h(
          "div",
          { class: "cart-item-main" },
          h("p", { class: "cart-item-top" }, h("span", { class: "course-code" }, course.code), statusBadge(course)),
          h("h3", { class: "cart-item-title", id: titleId }, h("a", { href: `#${coursePath(course)}` }, course.title)),
          h(
            "p",
            { class: "enrollment-meta" },
            h("span", {}, scheduleSummary(course.schedule.sessions)),
            h("span", {}, formatDateRange(course.schedule.starts_on, course.schedule.ends_on)),
          ),
          problem
            ? h(
                "p",
                { class: "cart-item-problem", "data-testid": "cart-problem" },
                course.status === "closed"
                  ? "This course no longer takes enrollments. Remove it to check out."
                  : "No seat is left in this course. Remove it to check out.",
              )
            : null,
        ),
        h(
          "div",
          { class: "cart-item-side" },
          h("p", { class: "cart-item-price", "data-testid": "cart-price" }, formatMoney(course.price)),
          h(
            "button",
            {
              type: "button",
              class: "button button-small button-danger-outline",
              on: { click: (event) => remove(course, event.currentTarget) },
            },
            "Remove",
            h("span", { class: "visually-hidden" }, ` ${course.code}`),
          ),
        ),
      ),
    );
  }

  function summaryBox() {
    const sums = totals(items);
    const mixed = sums.length > 1;
    const paid = sums.some((sum) => sum.amount > 0);
    const checkoutButton = h(
      "button",
      { type: "button", class: "button button-primary button-block", on: { click: checkout } },
      "Checkout",
    );
    return h(
      "section",
      { class: "card cart-summary", "aria-labelledby": "cart-summary-title" },
      h("h2", { id: "cart-summary-title" }, "Summary"),
      h(
        "dl",
        { class: "cart-totals" },
        h("div", {}, h("dt", {}, "Courses"), h("dd", {}, String(items.length))),
        h(
          "div",
          { class: "cart-total" },
          h("dt", {}, "Total"),
          h(
            "dd",
            { "data-testid": "cart-total" },
            sums.map((sum) => formatMoney(sum)).join(" + "),
          ),
        ),
      ),
      mixed
        ? h("p", { class: "cart-note cart-note-warning" }, "Courses priced in different currencies are paid separately: remove the ones in one currency, check out, then add them again.")
        : null,
      h(
        "p",
        { class: "cart-note" },
        paid
          ? "Checking out holds a seat in every course at once and takes you to a secure payment page. Free courses are enrolled right away."
          : "These courses are free: checking out enrolls you right away.",
      ),
      checkoutButton,
    );
  }

  function show({ focus } = {}) {
    if (!items.length) {
      content.replaceChildren(
        h(
          "div",
          { class: "card empty-state", "data-testid": "cart-empty" },
          h("p", {}, "Your cart is empty."),
          h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog"),
        ),
      );
    } else {
      content.replaceChildren(
        h(
          "div",
          { class: "cart-layout" },
          h(
            "section",
            { class: "card", "aria-labelledby": "cart-items-title" },
            h("h2", { id: "cart-items-title" }, "Courses ", h("span", { class: "count" }, `(${items.length})`)),
            h("ul", { class: "cart-list", "aria-labelledby": "cart-items-title" }, items.map(itemRow)),
          ),
          summaryBox(),
        ),
      );
    }
    if (focus) focus();
  }

  async function remove(course, button) {
    messages.clear();
    button.disabled = true;
    const index = items.findIndex((item) => item.id === course.id);
    try {
      const cart = await removeFromCart(course.id, { signal });
      items = cart.items;
      fullIds.delete(course.id);
      show({
        focus: () => {
          // Keyboard users continue with the next course, or the summary.
          const rows = content.querySelectorAll(".cart-item button");
          const next = rows[Math.min(index, rows.length - 1)];
          (next || content.querySelector("a, button") || root.querySelector("h1")).focus();
        },
      });
      messages.say(`${course.code} is no longer in your cart.`);
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      messages.complain(error.message);
    }
  }

  function showEnrolled(result) {
    const count = result.enrollment_ids.length;
    content.replaceChildren(
      h(
        "section",
        { class: "card", "aria-labelledby": "cart-done-title" },
        h(
          "div",
          { class: "state-box state-box-success", tabindex: "-1", "data-testid": "checkout-done" },
          h("strong", { id: "cart-done-title" }, "You are enrolled"),
          h("span", {}, `Your ${count === 1 ? "course is" : `${count} courses are`} free, so you are enrolled right away.`),
        ),
        h("a", { class: "button button-primary", href: "#/my-courses" }, "Go to My courses"),
      ),
    );
    content.querySelector(".state-box").focus();
  }

  async function checkout(event) {
    const button = event.currentTarget;
    messages.clear();
    button.disabled = true;
    button.textContent = "Starting checkout…";
    let leaving = false;
    try {
      const result = await api.post("/api/checkout", undefined, { signal });
      cartEmptied();
      items = [];
      if (result.checkout_url) {
        leaving = true;
        messages.say("Taking you to the secure payment page…");
        window.location.assign(result.checkout_url);
        return;
      }
      showEnrolled(result);
      messages.say("Checkout complete: you are enrolled.");
    } catch (error) {
      if (error.name === "AbortError") return;
      messages.complain(error.message);
      if (error.code === "course_full" && error.fields && error.fields.course_ids) {
        fullIds = new Set(String(error.fields.course_ids).split(","));
      }
      // The courses may have changed meanwhile (full, closed): show them as they are.
      try {
        items = (await loadCart({ signal })).items;
        show();
      } catch {
        // Keep what is shown; the message already says what went wrong.
      }
    } finally {
      if (!leaving && button.isConnected) {
        button.disabled = false;
        button.textContent = "Checkout";
      }
    }
  }

  root.append(
    ...pageHeading(title, "Courses you are about to enroll in. A seat is held for you only when you check out."),
    messages.alert,
    messages.status,
    content,
  );
  loadCart({ signal })
    .then((cart) => {
      items = cart.items;
      show();
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      content.replaceChildren();
      messages.complain(error.message);
    });
}
