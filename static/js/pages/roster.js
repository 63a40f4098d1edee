import { api, download, queryString } from "../api.js";
import {
  archivedBadge,
  courseApi,
  coursePath,
  enrollmentStatusBadge,
  formatDateRange,
  momentElement,
  scheduleSummary,
  statusBadge,
} from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { pagedList, tableView } from "../list.js";
import { loadPage, whenMissing } from "../loading.js";

export const title = "Roster";

const PAGE_SIZE = 50;

const stat = (value, label) =>
  h("li", {}, h("span", { class: "stat-value" }, value), h("span", { class: "stat-label" }, label));

export function render(root, { params, user, signal }) {
  const page = { signal, user, courseId: params.id, messages: messageRegions() };
  page.downloadButton = h("button", { type: "button", class: "button", on: { click: () => downloadCsv(page) } }, "Download CSV");
  page.list = pagedList({
    signal,
    view: tableView({
      caption: "Students in this course",
      className: "roster-table",
      columns: ["Username", "Name", "E-mail", "Status", "Waitlist", "Payment due"],
      row: studentRow,
    }),
    fetchPage: (filters, cursor, listSignal) =>
      api.get(`${courseApi(page.courseId)}/roster${queryString({ limit: PAGE_SIZE, cursor })}`, { signal: listSignal }),
    keyOf: (entry) => entry.enrollment.id,
    noun: ["student", "students"],
    emptyText: () => "Nobody has enrolled yet.",
    loadingLabel: "Loading the students…",
    // Keyboard users continue at the first new row.
    focusNew: (row) => {
      row.setAttribute("tabindex", "-1");
      return row;
    },
    onPage: () => {
      page.downloadButton.disabled = page.list.count() === 0;
    },
  });
  loadPage(root, {
    signal,
    label: "Loading the roster…",
    title: "Could not load the roster",
    // The students load while the course does; only the course's instructor
    // and administrators may see them.
    load: (loadSignal) =>
      Promise.all([api.get(courseApi(page.courseId), { signal: loadSignal }), page.list.load({}, { rethrow: true })]),
    show: ([data]) => showRoster(root, page, data.course),
    failed: whenMissing({
      statuses: [403, 404],
      title: (error) => (error.status === 403 ? "Not your course" : "Course not found"),
      lead: (error) => error.message,
      href: user.role === "admin" ? "#/admin/courses" : "#/teaching",
      link: "Back to your courses",
    }),
  });
}

function studentRow({ enrollment, student }) {
  return h(
    "tr",
    { dataset: { username: student.username, status: enrollment.status } },
    h("td", { "data-label": "Username" }, h("span", { class: "user-username" }, student.username)),
    h("td", { "data-label": "Name" }, student.full_name),
    h("td", { "data-label": "E-mail", class: "cell-email" }, h("a", { href: `mailto:${student.email}` }, student.email)),
    h("td", { "data-label": "Status" }, enrollmentStatusBadge(enrollment.status)),
    h("td", { "data-label": "Waitlist" }, enrollment.position ? `#${enrollment.position}` : "—"),
    h("td", { "data-label": "Payment due" }, enrollment.due_at ? momentElement(enrollment.due_at) : "—"),
  );
}

function showRoster(root, page, course) {
  document.title = `Roster: ${course.code} · Student Portal`;
  const back = page.user.role === "admin" ? ["#/admin/courses", "Courses"] : ["#/teaching", "My teaching"];
  root.replaceChildren(
    h("p", { class: "breadcrumb" }, h("a", { href: back[0] }, back[1])),
    ...pageHeading(`Roster: ${course.code}`),
    h(
      "p",
      { class: "page-lead" },
      h("a", { href: `#${coursePath(course)}` }, course.title),
      ` · ${scheduleSummary(course.schedule.sessions)} · `,
      formatDateRange(course.schedule.starts_on, course.schedule.ends_on),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "roster-title" },
      h("div", { class: "section-head" }, h("h2", { id: "roster-title" }, "Students"), page.downloadButton),
      h(
        "ul",
        { class: "stat-list" },
        stat(`${course.capacity - course.seats_left} / ${course.capacity}`, "seats taken"),
        stat(String(course.waitlist_length || 0), "on the waitlist"),
        h("li", {}, course.archived ? archivedBadge() : statusBadge(course)),
      ),
      page.messages.alert,
      page.messages.status,
      page.list.element,
    ),
  );
}

async function downloadCsv(page) {
  const button = page.downloadButton;
  button.disabled = true;
  page.messages.clear();
  try {
    const file = await download(`${courseApi(page.courseId)}/roster.csv`, { signal: page.signal, fallbackName: "roster.csv" });
    const url = URL.createObjectURL(file.blob);
    const link = h("a", { href: url, download: file.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // The browser has taken the file once the click's task is over.
    setTimeout(() => URL.revokeObjectURL(url), 0);
    page.messages.say(`Downloaded ${file.filename}.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  } finally {
    button.disabled = page.list.count() === 0;
  }
}
