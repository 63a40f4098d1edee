import { api } from "../api.js";
import {
  archivedBadge,
  coursePath,
  enrollmentActions,
  enrollmentStatusBadge,
  formatDateRange,
  formatMoment,
  formatMoney,
  messageRegions,
  scheduleSummary,
  todayUtc,
} from "../courses.js";
import { confirmDialog, h, pageHeading } from "../dom.js";
import { paymentPath } from "../payments.js";

export const title = "My courses";

const PAGE_SIZE = 100;
const MAX_PAGES = 10;

const GROUPS = [
  {
    key: "active",
    title: "Enrolled",
    statuses: ["active"],
  },
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
  {
    key: "past",
    title: "Past",
    statuses: ["dropped", "expired", "refunded", "completed"],
  },
];

export function render(root, { signal }) {
  const messages = messageRegions();
  const content = h("div", { class: "my-courses" }, h("p", { class: "loading" }, "Loading your courses…"));
  let enrollments = [];
  let paymentFor = new Map(); // enrollment id -> the pending payment holding its seat

  function stateLine(enrollment) {
    switch (enrollment.status) {
      case "active":
        return h("p", { class: "enrollment-state" }, "Enrolled");
      case "pending_payment":
        if (!enrollment.due_at) {
          return h("p", { class: "enrollment-state" }, "Seat held while your bank payment is processing");
        }
        return h(
          "p",
          { class: "enrollment-state enrollment-state-warning" },
          "Seat held. Pay by ",
          h("strong", { "data-testid": "due-at" }, formatMoment(enrollment.due_at)),
        );
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

  function actionsFor(enrollment) {
    const course = enrollment.course;
    const payment = enrollment.status === "pending_payment" ? paymentFor.get(enrollment.id) : null;
    let payLink = null;
    if (payment) {
      payLink = h(
        "a",
        { class: "button button-small button-primary", href: `#${paymentPath(payment.id)}` },
        payment.processing ? "Payment" : "Pay",
        h("span", { class: "visually-hidden" }, ` for ${course.code}`),
      );
    } else if (enrollment.status === "pending_payment" && enrollment.due_at) {
      // A seat held outside a checkout (a reservation, a waitlist promotion).
      payLink = h(
        "button",
        { type: "button", class: "button button-small button-primary", on: { click: () => payHold(enrollment) } },
        "Pay",
        h("span", { class: "visually-hidden" }, ` for ${course.code}`),
      );
    }
    const withPay = (other) => (payLink ? [payLink, other] : other);
    if (enrollment.status === "waitlisted") {
      return h(
        "button",
        { type: "button", class: "button button-small button-danger-outline", on: { click: () => leaveWaitlist(enrollment) } },
        "Leave waitlist",
        h("span", { class: "visually-hidden" }, ` for ${course.code}`),
      );
    }
    if ((enrollment.status === "active" || enrollment.status === "pending_payment") && todayUtc() < course.schedule.starts_on) {
      return withPay(
        h(
          "button",
          { type: "button", class: "button button-small button-danger-outline", on: { click: () => drop(enrollment) } },
          "Drop",
          h("span", { class: "visually-hidden" }, ` ${course.code}`),
        ),
      );
    }
    return payLink;
  }

  function item(enrollment) {
    const course = enrollment.course;
    const titleId = `enrollment-${enrollment.id}`;
    return h(
      "li",
      { class: "enrollment-item", dataset: { enrollmentId: enrollment.id, code: course.code, status: enrollment.status } },
      h(
        "article",
        { "aria-labelledby": titleId, class: "enrollment-body" },
        h(
          "div",
          { class: "enrollment-main" },
          h("span", { class: "course-code" }, course.code),
          // Archived courses have no page for students any more.
          h(
            "h3",
            { class: "enrollment-title", id: titleId },
            course.archived ? course.title : h("a", { href: `#${coursePath(course)}` }, course.title),
            course.archived ? [" ", archivedBadge()] : null,
          ),
          h(
            "p",
            { class: "enrollment-meta" },
            h("span", {}, scheduleSummary(course.schedule.sessions)),
            h("span", {}, formatDateRange(course.schedule.starts_on, course.schedule.ends_on)),
            h("span", {}, formatMoney(course.price)),
          ),
        ),
        h("div", { class: "enrollment-side" }, stateLine(enrollment), actionsFor(enrollment)),
      ),
    );
  }

  function show({ focus } = {}) {
    const sections = [];
    for (const group of GROUPS) {
      const items = enrollments.filter((e) => group.statuses.includes(e.status) && e.course);
      if (!items.length) continue;
      const headingId = `my-courses-${group.key}`;
      sections.push(
        h(
          "section",
          { class: "card enrollment-group", "aria-labelledby": headingId, dataset: { group: group.key } },
          h("h2", { id: headingId }, group.title, " ", h("span", { class: "count" }, `(${items.length})`)),
          group.lead ? h("p", { class: "muted" }, group.lead) : null,
          h("ul", { class: "enrollment-list" }, items.map(item)),
        ),
      );
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
    content.replaceChildren(...sections);
    if (focus) {
      const item = content.querySelector(`[data-enrollment-id="${CSS.escape(focus)}"]`);
      const target = (item && (item.querySelector("a") || item.querySelector("button"))) || root.querySelector("h1");
      target.focus();
    }
  }

  async function load() {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      const data = await api.get(`/api/catalog/enrollments?${query}`, { signal });
      items.push(...(data.items || []));
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    enrollments = items;
    paymentFor = new Map();
    if (items.some((enrollment) => enrollment.status === "pending_payment")) {
      try {
        const data = await api.get("/api/checkout/payments?status=pending&limit=100", { signal });
        for (const payment of data.items || []) {
          for (const line of payment.items) paymentFor.set(line.enrollment_id, payment);
        }
      } catch (error) {
        if (error.name === "AbortError") throw error;
        // Without payments the seats still show; only the "Pay" links are missing.
      }
    }
  }

  async function payHold(enrollment) {
    messages.clear();
    try {
      const data = await api.post(`/api/checkout/holds/${encodeURIComponent(enrollment.id)}/pay`);
      if (data.checkout_url) window.location.assign(data.checkout_url);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  async function act(enrollment, run, message) {
    messages.clear();
    try {
      await run();
      await load();
      show({ focus: enrollment.id });
      messages.say(message);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  async function drop(enrollment) {
    const { code } = enrollment.course;
    const confirmed = await confirmDialog({
      title: `Drop ${code}?`,
      message:
        enrollment.status === "pending_payment"
          ? "Your held seat goes back to the course, or to the first person on the waitlist."
          : "You lose your seat; it goes to the first person on the waitlist.",
      confirmLabel: "Drop course",
      danger: true,
    });
    if (!confirmed) return;
    await act(enrollment, () => enrollmentActions.drop(enrollment.id, signal), `You dropped ${code}.`);
  }

  async function leaveWaitlist(enrollment) {
    const { code } = enrollment.course;
    const confirmed = await confirmDialog({
      title: `Leave the waitlist for ${code}?`,
      message: `You will lose your place (#${enrollment.position}). Joining again puts you at the end.`,
      confirmLabel: "Leave waitlist",
      danger: true,
    });
    if (!confirmed) return;
    await act(enrollment, () => enrollmentActions.leaveWaitlist(enrollment.course_id, signal), `You left the waitlist for ${code}.`);
  }

  root.append(
    ...pageHeading(title, "Your enrollments, seats held for payment and waitlist places."),
    messages.alert,
    messages.status,
    content,
  );
  load()
    .then(() => show())
    .catch((error) => {
      if (error.name === "AbortError") return;
      content.replaceChildren();
      messages.complain(error.message);
    });
}
