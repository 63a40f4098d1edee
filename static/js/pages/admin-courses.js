import { api, queryString } from "../api.js";
import {
  COURSE_STATUSES,
  archiveCourse,
  archivedBadge,
  coursePath,
  formatDay,
  formatMoney,
  statusBadge,
} from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { filterBar, keepInAddress, oneOf, pagedList, tableView } from "../list.js";

export const title = "Courses";

const PAGE_SIZE = 25;
const STATUS_VALUES = COURSE_STATUSES.map((s) => s.value);

function filtersFromQuery(query) {
  return {
    q: (query.q || "").slice(0, 200),
    status: oneOf(query.status, STATUS_VALUES),
    archived: query.archived === "1" ? "1" : "",
  };
}

function fetchCourses({ q, status, archived }, cursor, signal) {
  const query = queryString({ q, status, include_archived: archived, sort: "code", limit: PAGE_SIZE, cursor });
  return api.get(`/api/catalog/courses${query}`, { signal });
}

export function render(root, { query, signal }) {
  const page = { signal, messages: messageRegions() };
  const initial = filtersFromQuery(query);
  page.list = pagedList({
    signal,
    view: tableView({
      caption: "Courses",
      className: "courses-table",
      columns: ["Course", "Instructor", "Starts", "Seats taken", "Price", "Status", { label: "Actions" }],
      row: (course) => courseRow(page, course),
    }),
    fetchPage: fetchCourses,
    noun: ["course", "courses"],
    emptyText: () => "No courses match.",
    focusNew: (node) => node.querySelector("a"),
  });
  page.filters = filterBar({
    idPrefix: "courses",
    label: "Find courses",
    signal,
    submitLabel: "Search",
    fields: [
      { name: "q", label: "Search", kind: "search", className: "field field-grow", placeholder: "Code, title or instructor", value: initial.q },
      { name: "status", label: "Status", kind: "select", value: initial.status, options: [{ value: "", label: "Any status" }, ...COURSE_STATUSES] },
      { name: "archived", label: "Show archived courses", kind: "check", value: initial.archived },
    ],
    onChange: (filters) => show(page, filters),
  });
  root.append(
    ...pageHeading(title, "Create courses, change seats, prices and dates, and archive old ones."),
    listSection(page),
  );
  show(page, initial);
}

function show(page, filters) {
  page.filters.archivedShown = Boolean(filters.archived);
  keepInAddress("/admin/courses", filters);
  page.list.load(filters);
}

function listSection(page) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "courses-list-title" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "courses-list-title" }, "All courses"),
      h("a", { class: "button button-primary", href: "#/admin/courses/new" }, "New course"),
    ),
    page.filters.element,
    page.messages.alert,
    page.messages.status,
    page.list.element,
  );
}

function courseActions(page, course) {
  const named = (text) => [text, h("span", { class: "visually-hidden" }, ` ${course.code}`)];
  const archiveButton = course.archived
    ? null
    : h(
        "button",
        { type: "button", class: "button button-small button-danger-outline", on: { click: () => archive(page, course) } },
        ...named("Archive"),
      );
  return h(
    "div",
    { class: "row-actions" },
    h("a", { class: "button button-small", href: `#/admin/courses/${encodeURIComponent(course.id)}/edit` }, ...named("Edit")),
    h("a", { class: "button button-small", href: `#${coursePath(course)}/roster` }, ...named("Roster")),
    archiveButton,
  );
}

function courseRow(page, course) {
  return h(
    "tr",
    { dataset: { courseId: course.id, code: course.code } },
    h(
      "td",
      { "data-label": "Course" },
      h(
        "div",
        {},
        h("span", { class: "course-code" }, course.code),
        h("a", { class: "cell-title", href: `#${coursePath(course)}` }, course.title),
      ),
    ),
    h("td", { "data-label": "Instructor" }, course.instructor.full_name),
    h("td", { "data-label": "Starts" }, formatDay(course.schedule.starts_on)),
    h("td", { "data-label": "Seats taken", class: "cell-number" }, `${course.capacity - course.seats_left} / ${course.capacity}`),
    h("td", { "data-label": "Price" }, formatMoney(course.price)),
    h("td", { "data-label": "Status" }, course.archived ? archivedBadge() : statusBadge(course)),
    h("td", { class: "cell-actions" }, courseActions(page, course)),
  );
}

async function archive(page, course) {
  try {
    const archived = await archiveCourse(course, { signal: page.signal });
    if (!archived) return;
    if (page.filters.archivedShown) {
      page.list.update(archived, "a");
    } else {
      const next = page.list.remove(course.id);
      (next ? next.querySelector("a") : page.filters.control("q")).focus();
    }
    page.messages.say(`${course.code} is archived; it no longer appears in the catalog.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}
