import { api } from "../api.js";
import {
  archiveCourse,
  archivedBadge,
  catalogHref,
  courseApi,
  coursePath,
  formatDateRange,
  scheduleSummary,
  sortedSessions,
  statusBadge,
  weekdayLabel,
} from "../courses.js";
import { panelContent } from "../enroll-panel.js";
import { h, messageRegions } from "../dom.js";
import { loadPage, whenMissing } from "../loading.js";

export const title = "Course";

export function render(root, { params, user, signal, navigate, flash }) {
  const page = { user, signal, navigate, flash, messages: messageRegions(), course: null };
  page.refresh = async () => {
    const data = await api.get(courseApi(params.id), { signal });
    page.course = data.course;
    return page.course;
  };
  page.panelBody = h("div", { class: "enroll-panel-body" });
  page.badgeSlot = h("span", { class: "badges" });
  page.factsSlot = h("div", {});
  page.redraw = (options) => redraw(page, options);
  loadPage(root, {
    signal,
    label: "Loading the course…",
    title: "Could not load the course",
    load: () => page.refresh(),
    show: () => renderPage(root, page),
    failed: whenMissing({
      title: "Course not found",
      lead: "It may have been archived, or the link is wrong.",
      href: "#/catalog",
      link: "Browse the catalog",
    }),
  });
}

// What changes after an action: the status badge, the facts and the panel.
function redraw(page, { focusState = false } = {}) {
  const { course } = page;
  page.badgeSlot.replaceChildren(course.archived ? archivedBadge() : statusBadge(course));
  page.factsSlot.replaceChildren(facts(course));
  page.panelBody.replaceChildren(...panelContent(page).filter(Boolean));
  if (focusState) {
    const target =
      page.panelBody.querySelector(".state-box") || page.panelBody.querySelector("button, a") || page.panel.querySelector("h2");
    if (target) target.focus();
  }
}

function renderPage(root, page) {
  const { course } = page;
  document.title = `${course.code} ${course.title} · Student Portal`;
  page.panel = h(
    "section",
    { class: "card enroll-panel", "aria-labelledby": "enroll-panel-title" },
    h("h2", { id: "enroll-panel-title" }, "Enrollment"),
    page.panelBody,
    page.messages.alert,
    page.messages.status,
  );
  root.replaceChildren(
    h("p", { class: "breadcrumb" }, h("a", { href: catalogHref() }, "Course catalog")),
    courseHeader(page),
    h(
      "div",
      { class: "course-layout" },
      h("div", { class: "course-main" }, ...mainSections(page)),
      h("div", { class: "course-side" }, page.panel, staffSection(page)),
    ),
  );
  redraw(page);
}

function courseHeader(page) {
  const { course } = page;
  return h(
    "header",
    { class: "course-header" },
    h("p", { class: "course-header-top" }, h("span", { class: "course-code" }, course.code), page.badgeSlot),
    h("h1", { class: "page-title", tabindex: "-1" }, course.title),
    h(
      "p",
      { class: "page-lead" },
      "Taught by ",
      h("a", { href: `#/catalog?instructor=${encodeURIComponent(course.instructor.id)}` }, course.instructor.full_name),
    ),
  );
}

function mainSections(page) {
  const { course } = page;
  const description = course.description
    ? h("p", { class: "prewrap", "data-testid": "course-description" }, course.description)
    : h("p", { class: "muted" }, "No description yet.");
  const section = (id, heading, content) =>
    h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, heading), content);
  return [
    section("course-about-title", "About this course", description),
    section("course-schedule-title", "Weekly schedule", scheduleTable(course)),
    section("course-facts-title", "Details", page.factsSlot),
  ];
}

function scheduleTable(course) {
  const sessions = sortedSessions(course.schedule.sessions);
  if (!sessions.length) return h("p", { class: "muted" }, "The weekly sessions are not announced yet.");
  const row = (session) =>
    h(
      "tr",
      {},
      h("td", { "data-label": "Day" }, weekdayLabel(session.weekday)),
      h("td", { "data-label": "Time" }, `${session.start_time}–${session.end_time}`),
      h("td", { "data-label": "Location" }, session.location || "To be announced"),
    );
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "data-table schedule-table" },
      h("caption", { class: "visually-hidden" }, "Weekly sessions"),
      h("thead", {}, h("tr", {}, ["Day", "Time", "Location"].map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, sessions.map(row)),
    ),
  );
}

function facts(course) {
  const rows = [
    ["Instructor", course.instructor.full_name, "course-instructor"],
    ["Dates", formatDateRange(course.schedule.starts_on, course.schedule.ends_on), "course-dates"],
    ["Meets", scheduleSummary(course.schedule.sessions), "course-meets"],
    ["Enrollment window", formatDateRange(course.enrollment_opens_on, course.enrollment_closes_on), "course-window"],
    ["Seats", `${course.seats_left} of ${course.capacity} left`, "course-seats"],
    course.waitlist_length ? ["Waitlist", `${course.waitlist_length} waiting`, "course-waitlist"] : null,
  ];
  return h(
    "dl",
    { class: "details details-grid" },
    rows
      .filter(Boolean)
      .map(([label, value, testId]) => h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value))),
  );
}

function staffSection(page) {
  const { course, user } = page;
  const isAdmin = user && user.role === "admin";
  const teaches = user && user.role === "instructor" && user.id === course.instructor.id;
  if (!isAdmin && !teaches) return null;
  const links = [h("a", { class: "button", href: `#${coursePath(course)}/roster` }, "Roster")];
  if (isAdmin) {
    links.unshift(h("a", { class: "button", href: `#/admin/courses/${encodeURIComponent(course.id)}/edit` }, "Edit"));
    if (!course.archived) {
      links.push(h("button", { type: "button", class: "button button-danger-outline", on: { click: () => archive(page) } }, "Archive"));
    }
  }
  return h(
    "section",
    { class: "card", "aria-labelledby": "course-manage-title" },
    h("h2", { id: "course-manage-title" }, isAdmin ? "Manage" : "Teaching"),
    h("div", { class: "form-actions" }, links),
  );
}

async function archive(page) {
  try {
    const archived = await archiveCourse(page.course, { signal: page.signal });
    if (!archived) return;
    page.flash(`${archived.code} is archived; it no longer appears in the catalog.`);
    page.navigate("/admin/courses");
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}
