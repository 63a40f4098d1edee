// Where the payment provider sends the student after paying. Coming back
// proves nothing: only the provider's signed event, applied on the server,
// makes a payment paid. So this page shows the payment as the server has it,
// asking again until it is settled or the wait is too long.
import { api } from "../api.js";
import { coursePath, enrollmentStatusBadge } from "../courses.js";
import { h, pageHeading } from "../dom.js";
import { refreshUnread } from "../notifications.js";
import { getPayment, paymentAmount, paymentPath } from "../payments.js";

export const title = "Confirming your payment";

const POLL_MS = 1500;
const GIVE_UP_MS = 120_000;
const ENROLLMENT_PAGES = 5;

export function render(root, { params, signal }) {
  const paymentId = params.id;
  const state = h("p", { class: "payment-state is-waiting", role: "status", "data-testid": "payment-state" });
  const details = h("div", { class: "payment-return-details" });
  const started = Date.now();
  let timer = null;
  let shown = null;

  const card = h("div", { class: "card payment-state-card" }, state);
  const HEADINGS = {
    paid: "Payment confirmed",
    refunded: "Payment refunded",
    failed: "Payment not completed",
    expired: "Payment not completed",
    missing: "Payment not found",
  };

  const setState = (key, tone, text) => {
    if (shown === key) return; // announced once per change, not once per poll
    shown = key;
    state.className = `payment-state payment-state-${tone}`;
    state.textContent = text;
    card.className = `card payment-state-card is-${tone}`;
    const heading = root.querySelector("h1");
    if (heading) heading.textContent = HEADINGS[key] || title;
  };

  const links = (...extra) =>
    h(
      "p",
      { class: "form-actions payment-return-links" },
      ...extra,
      h("a", { class: "button", href: `#${paymentPath(paymentId)}` }, "View the payment"),
    );

  async function enrollmentStatuses(payment) {
    const wanted = new Set(payment.items.map((item) => item.enrollment_id));
    const found = new Map();
    let cursor = null;
    for (let page = 0; page < ENROLLMENT_PAGES && found.size < wanted.size; page += 1) {
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

  async function showPaid(payment) {
    const kept = payment.items.filter((item) => !item.refunded);
    const count = payment.status === "refunded" ? 0 : kept.length;
    if (payment.status === "refunded" && kept.length) {
      setState("refunded", "info", "This payment was refunded, and its enrollments ended.");
    } else {
      setState(
        "paid",
        "success",
        count
          ? `Payment received. You are enrolled in ${count === 1 ? "1 course" : `${count} courses`}.`
          : "Payment received, but the seats were gone; the whole amount is on its way back to you.",
      );
    }
    let statuses = new Map();
    try {
      statuses = await enrollmentStatuses(payment);
    } catch (error) {
      if (error.name === "AbortError") return;
    }
    details.replaceChildren(
      h(
        "section",
        { class: "card", "aria-labelledby": "return-courses-title" },
        h("h2", { id: "return-courses-title" }, count ? "Your courses" : "Refunded"),
        h(
          "ul",
          { class: "payment-courses", "data-testid": "confirmed-courses" },
          payment.items.map((item) => {
            const status = item.refunded ? "refunded" : statuses.get(item.enrollment_id) || "active";
            return h(
              "li",
              { dataset: { courseId: item.course_id } },
              h("a", { href: `#${coursePath(item.course_id)}` }, item.description),
              " ",
              enrollmentStatusBadge(status),
              item.refunded ? h("span", { class: "muted" }, " No seat was left; this course is refunded.") : null,
            );
          }),
        ),
        h(
          "p",
          {},
          "Paid: ",
          h("strong", {}, paymentAmount(payment)),
          count ? ". A confirmation with your receipt is on its way by e-mail." : ".",
        ),
        links(h("a", { class: "button button-primary", href: "#/my-courses" }, "Go to My courses")),
      ),
    );
    // The confirmation is also a new notification: the bell should say so now.
    refreshUnread().catch(() => {});
  }

  function showEnded(payment) {
    const failed = payment.status === "failed";
    setState(
      payment.status,
      "danger",
      failed
        ? "Your payment did not go through, so the seats were released."
        : "This payment ran out of time before it was completed, so the seats were released.",
    );
    details.replaceChildren(
      h(
        "section",
        { class: "card" },
        h("p", {}, "You can enroll again from the catalog while seats are left."),
        links(h("a", { class: "button button-primary", href: "#/catalog" }, "Browse the catalog")),
      ),
    );
  }

  function showStillWaiting(payment) {
    const processing = payment && payment.processing;
    setState(
      "gave-up",
      "info",
      processing
        ? "Your bank payment is still processing. Your seats stay held; we will e-mail you when it settles."
        : "Your payment is still processing. We will e-mail you as soon as it is confirmed; your seats stay held meanwhile.",
    );
    details.replaceChildren(h("section", { class: "card" }, links(h("a", { class: "button", href: "#/payments" }, "All payments"))));
  }

  async function poll() {
    let payment = null;
    try {
      payment = await getPayment(paymentId, { signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 404) {
        setState("missing", "danger", "This payment was not found. It may belong to another account.");
        details.replaceChildren(h("p", {}, h("a", { href: "#/payments" }, "See your payments")));
        return;
      }
      // A hiccup: ask again, unless the wait is over.
    }
    if (payment) {
      if (payment.status === "paid" || payment.status === "refunded") return showPaid(payment);
      if (payment.status === "failed" || payment.status === "expired") return showEnded(payment);
      if (payment.processing) {
        setState(
          "processing",
          "waiting",
          "Your bank payment is processing. Your seats stay held until it settles; this can take a while.",
        );
      }
    }
    if (Date.now() - started >= GIVE_UP_MS) return showStillWaiting(payment);
    timer = setTimeout(poll, POLL_MS);
  }

  setState("waiting", "waiting", "Processing your payment…");
  root.append(
    ...pageHeading(title, "Your payment provider sent you back here. Your enrollment is confirmed once the payment is."),
    card,
    details,
  );
  poll();

  return () => clearTimeout(timer);
}
