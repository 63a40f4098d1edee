import { api } from "../api.js";
import {
  archivedBadge,
  catalogHref,
  courseApi,
  coursePath,
  enrollmentActions,
  formatDateRange,
  formatDay,
  formatMoment,
  formatMoney,
  messageRegions,
  scheduleSummary,
  seatsElement,
  sortedSessions,
  statusBadge,
  todayUtc,
  weekdayLabel,
} from "../courses.js";
import { canAddToCart, cartAction, inCart, removeFromCart } from "../cart.js";
import { confirmDialog, focusLateHeading, h, pageHeading } from "../dom.js";

export const title = "Course";

function paymentTerms(course) {
  if (course.price.amount === 0) return "Free: you are enrolled as soon as you enroll.";
  if (course.payment_due_days > 0) {
    const days = course.payment_due_days === 1 ? "1 day" : `${course.payment_due_days} days`;
    return `Reserving holds your seat for ${days} while you pay.`;
  }
  return "Payment is due when you reserve your seat.";
}

function closedReason(course) {
  if (course.archived) return "This course is archived and no longer takes enrollments.";
  const today = todayUtc();
  if (today < course.enrollment_opens_on) return `Enrollment opens on ${formatDay(course.enrollment_opens_on)}.`;
  return `Enrollment closed on ${formatDay(course.enrollment_closes_on)}.`;
}

function scheduleTable(course) {
  const sessions = sortedSessions(course.schedule.sessions);
  if (!sessions.length) return h("p", { class: "muted" }, "The weekly sessions are not announced yet.");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data-table schedule-table" },
      h("caption", { class: "visually-hidden" }, "Weekly sessions"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Day", "Time", "Location"].map((label) => h("th", { scope: "col" }, label)),
        ),
      ),
      h(
        "tbody",
        {},
        sessions.map((session) =>
          h(
            "tr",
            {},
            h("td", { "data-label": "Day" }, weekdayLabel(session.weekday)),
            h("td", { "data-label": "Time" }, `${session.start_time}–${session.end_time}`),
            h("td", { "data-label": "Location" }, session.location || "To be announced"),
          ),
        ),
      ),
    ),
  );
}

function factList(rows) {
  return h(
    "dl",
    { class: "details details-grid" },
    rows
      .filter(Boolean)
      .map(([label, value, testId]) =>
        h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value)),
      ),
  );
}

export function render(root, { params, user, signal, navigate, flash }) {
  const courseId = params.id;
  const messages = messageRegions();
  let course = null;

  root.append(h("p", { class: "loading" }, "Loading the course…"));

  // --- the enrollment panel: what the visitor can do now ------------------------------
  const panelTitleId = "enroll-panel-title";
  const panelBody = h("div", { class: "enroll-panel-body" });
  const panel = h(
    "section",
    { class: "card enroll-panel", "aria-labelledby": panelTitleId },
    h("h2", { id: panelTitleId }, "Enrollment"),
    panelBody,
    messages.alert,
    messages.status,
  );

  const stateBox = (tone, ...content) =>
    h("div", { class: `state-box state-box-${tone}`, tabindex: "-1", "data-testid": "enrollment-state" }, ...content);

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

  function panelContent() {
    const mine = course.my_enrollment;
    const live = mine && ["active", "pending_payment", "waitlisted", "completed"].includes(mine.status);
    const started = todayUtc() >= course.schedule.starts_on;
    const parts = [
      h("p", { class: "enroll-price", "data-testid": "course-price" }, formatMoney(course.price)),
      h("p", { class: "enroll-seats" }, seatsElement(course)),
    ];

    if (!user) {
      parts.push(
        course.status === "closed" ? h("p", {}, closedReason(course)) : h("p", { class: "muted" }, paymentTerms(course)),
        h(
          "a",
          { class: "button button-primary button-block", href: `#/login?next=${encodeURIComponent(coursePath(course))}` },
          "Sign in to enroll",
        ),
        h("p", { class: "enroll-note" }, "New here? ", h("a", { href: "#/register" }, "Create a student account")),
      );
      return parts;
    }
    if (user.role !== "student") {
      parts.push(h("p", { class: "muted" }, "Only student accounts enroll in courses."));
      if (course.status === "closed") parts.push(h("p", {}, closedReason(course)));
      return parts;
    }

    if (live && mine.status === "active") {
      parts.push(stateBox("success", h("strong", {}, "Enrolled"), h("span", {}, "You are enrolled in this course.")));
    } else if (live && mine.status === "pending_payment") {
      parts.push(
        stateBox(
          "warning",
          h("strong", {}, "Seat held"),
          h(
            "span",
            {},
            "Your seat is held. Pay by ",
            h("strong", { "data-testid": "due-at" }, formatMoment(mine.due_at)),
            " to keep it.",
          ),
        ),
      );
    } else if (live && mine.status === "waitlisted") {
      parts.push(
        stateBox(
          "info",
          h("strong", {}, mine.position ? `Waitlisted #${mine.position}` : "Waitlisted"),
          h("span", {}, "You get a seat when one frees up and everyone ahead of you has theirs."),
        ),
      );
    } else if (live && mine.status === "completed") {
      parts.push(stateBox("success", h("strong", {}, "Completed"), h("span", {}, "You completed this course.")));
    }

    if (live) {
      if (mine.status === "waitlisted") {
        parts.push(actionButton("Leave waitlist", leaveWaitlist, "button button-danger-outline"));
      } else if ((mine.status === "active" || mine.status === "pending_payment") && !started) {
        parts.push(actionButton("Drop course", dropCourse, "button button-danger-outline"));
      } else if (mine.status !== "completed") {
        parts.push(h("p", { class: "muted" }, "The course has started; ask an administrator to drop you."));
      }
      return parts;
    }

    if (course.status === "open") {
      const paid = course.price.amount > 0;
      parts.push(
        h("p", { class: "muted" }, paymentTerms(course)),
        actionButton(paid ? "Reserve seat" : "Enroll", enroll),
      );
      if (canAddToCart(course, user)) {
        parts.push(
          h("p", { class: "enroll-or" }, "or"),
          cartAction(course, {
            signal,
            block: true,
            say: (message) => messages.say(message),
            complain: cartProblem,
          }),
          h("p", { class: "enroll-note" }, "Collect several courses in your cart and pay for them together."),
        );
      }
    } else if (course.status === "full") {
      const waiting = course.waitlist_length || 0;
      parts.push(
        h(
          "p",
          {},
          "This course is full. ",
          waiting === 0 ? "Nobody is on the waitlist yet." : `${waiting} ${waiting === 1 ? "person is" : "people are"} on the waitlist.`,
        ),
        actionButton("Join waitlist", joinWaitlist),
      );
    } else {
      parts.push(h("p", {}, closedReason(course)));
    }
    return parts;
  }

  // What changes after an action: the status badge, the facts and the panel.
  const badgeSlot = h("span", { class: "badges" });
  const factsSlot = h("div", {});
  function renderPanel({ focusState = false } = {}) {
    badgeSlot.replaceChildren(course.archived ? archivedBadge() : statusBadge(course));
    factsSlot.replaceChildren(facts());
    panelBody.replaceChildren(...panelContent());
    if (focusState) {
      const target = panelBody.querySelector(".state-box") || panelBody.querySelector("button, a") || panel.querySelector("h2");
      if (target) target.focus();
    }
  }

  // Runs an action, then shows the course as it is now.
  async function act(run, successMessage) {
    messages.clear();
    try {
      const result = await run();
      await refresh();
      messages.say(successMessage(result));
      renderPanel({ focusState: true });
    } catch (error) {
      if (error.name === "AbortError") return;
      messages.complain(error.message);
      // The course changed meanwhile (full, closed, already enrolled): show it as it is.
      if (error.status === 409 || error.status === 404) {
        await refresh().catch(() => {});
        renderPanel();
      }
    }
  }

  // Adding failed because the course changed (full, closed, enrolled elsewhere): show it as it is.
  async function cartProblem(error) {
    messages.complain(error.message);
    if (error.status === 409 || error.status === 404) {
      await refresh().catch(() => {});
      renderPanel();
    }
  }

  function enroll() {
    return act(
      async () => {
        const result = await enrollmentActions.enroll(course.id, signal);
        // Enrolled directly: the cart must not offer it a second time.
        if (inCart(course.id)) await removeFromCart(course.id, { signal }).catch(() => {});
        return result;
      },
      ({ enrollment }) =>
        enrollment.status === "active"
          ? `You are enrolled in ${course.code}.`
          : `Your seat in ${course.code} is held until ${formatMoment(enrollment.due_at)}.`,
    );
  }

  function joinWaitlist() {
    return act(
      () => enrollmentActions.joinWaitlist(course.id, signal),
      ({ enrollment }) => `You joined the waitlist for ${course.code} at position ${enrollment.position}.`,
    );
  }

  async function leaveWaitlist() {
    const position = course.my_enrollment.position;
    const confirmed = await confirmDialog({
      title: `Leave the waitlist for ${course.code}?`,
      message: `You will lose your place${position ? ` (#${position})` : ""}. Joining again puts you at the end.`,
      confirmLabel: "Leave waitlist",
      danger: true,
    });
    if (!confirmed) return;
    await act(() => enrollmentActions.leaveWaitlist(course.id, signal), () => `You left the waitlist for ${course.code}.`);
  }

  async function dropCourse() {
    const held = course.my_enrollment.status === "pending_payment";
    const confirmed = await confirmDialog({
      title: `Drop ${course.code}?`,
      message: held
        ? "Your held seat goes back to the course, or to the first person on the waitlist."
        : "You lose your seat; it goes to the first person on the waitlist.",
      confirmLabel: "Drop course",
      danger: true,
    });
    if (!confirmed) return;
    await act(() => enrollmentActions.drop(course.my_enrollment.id, signal), () => `You dropped ${course.code}.`);
  }

  // --- staff tools -----------------------------------------------------------------------
  function staffSection() {
    const isAdmin = user && user.role === "admin";
    const teaches = user && user.role === "instructor" && user.id === course.instructor.id;
    if (!isAdmin && !teaches) return null;
    const rosterLink = h("a", { class: "button", href: `#${coursePath(course)}/roster` }, "Roster");
    const links = [rosterLink];
    if (isAdmin) {
      links.unshift(h("a", { class: "button", href: `#/admin/courses/${encodeURIComponent(course.id)}/edit` }, "Edit"));
      if (!course.archived) {
        links.push(
          h(
            "button",
            { type: "button", class: "button button-danger-outline", on: { click: archive } },
            "Archive",
          ),
        );
      }
    }
    return h(
      "section",
      { class: "card", "aria-labelledby": "course-manage-title" },
      h("h2", { id: "course-manage-title" }, isAdmin ? "Manage" : "Teaching"),
      h("div", { class: "form-actions" }, links),
    );
  }

  async function archive() {
    const confirmed = await confirmDialog({
      title: `Archive ${course.code}?`,
      message: "It leaves the catalog and takes no more enrollments. Its enrollments and history are kept.",
      confirmLabel: "Archive course",
      danger: true,
    });
    if (!confirmed) return;
    try {
      await api.post(`${courseApi(course.id)}/archive`, undefined, { signal });
      flash(`${course.code} is archived; it no longer appears in the catalog.`);
      navigate("/admin/courses");
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  // --- the page ---------------------------------------------------------------------------
  async function refresh() {
    const data = await api.get(courseApi(courseId), { signal });
    course = data.course;
    return course;
  }

  function facts() {
    return factList([
      ["Instructor", course.instructor.full_name, "course-instructor"],
      ["Dates", formatDateRange(course.schedule.starts_on, course.schedule.ends_on), "course-dates"],
      ["Meets", scheduleSummary(course.schedule.sessions), "course-meets"],
      ["Enrollment window", formatDateRange(course.enrollment_opens_on, course.enrollment_closes_on), "course-window"],
      ["Seats", `${course.seats_left} of ${course.capacity} left`, "course-seats"],
      course.waitlist_length ? ["Waitlist", `${course.waitlist_length} waiting`, "course-waitlist"] : null,
    ]);
  }

  function renderPage() {
    document.title = `${course.code} ${course.title} · Student Portal`;
    const description = course.description
      ? h("p", { class: "prewrap", "data-testid": "course-description" }, course.description)
      : h("p", { class: "muted" }, "No description yet.");
    const header = h(
      "header",
      { class: "course-header" },
      h(
        "p",
        { class: "course-header-top" },
        h("span", { class: "course-code" }, course.code),
        badgeSlot,
      ),
      h("h1", { class: "page-title", tabindex: "-1" }, course.title),
      h(
        "p",
        { class: "page-lead" },
        "Taught by ",
        h("a", { href: `#/catalog?instructor=${encodeURIComponent(course.instructor.id)}` }, course.instructor.full_name),
      ),
    );
    root.replaceChildren(
      h("p", { class: "breadcrumb" }, h("a", { href: catalogHref() }, "Course catalog")),
      header,
      h(
        "div",
        { class: "course-layout" },
        h(
          "div",
          { class: "course-main" },
          h(
            "section",
            { class: "card", "aria-labelledby": "course-about-title" },
            h("h2", { id: "course-about-title" }, "About this course"),
            description,
          ),
          h(
            "section",
            { class: "card", "aria-labelledby": "course-schedule-title" },
            h("h2", { id: "course-schedule-title" }, "Weekly schedule"),
            scheduleTable(course),
          ),
          h(
            "section",
            { class: "card", "aria-labelledby": "course-facts-title" },
            h("h2", { id: "course-facts-title" }, "Details"),
            factsSlot,
          ),
        ),
        h("div", { class: "course-side" }, panel, staffSection()),
      ),
    );
    renderPanel();
  }

  refresh()
    .then(() => {
      renderPage();
      focusLateHeading(root);
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      const missing = error.status === 404;
      root.replaceChildren(
        ...pageHeading(
          missing ? "Course not found" : "Could not load the course",
          missing ? "It may have been archived, or the link is wrong." : error.message,
        ),
        h("p", {}, h("a", { href: "#/catalog" }, "Browse the catalog")),
      );
      focusLateHeading(root);
    });
}
