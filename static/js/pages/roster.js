import { api, download, queryString } from "../api.js";
import {
  archivedBadge,
  courseApi,
  coursePath,
  enrollmentStatusBadge,
  formatDateRange,
  formatMoment,
  messageRegions,
  scheduleSummary,
  statusBadge,
} from "../courses.js";
import { focusLateHeading, h, pageHeading } from "../dom.js";

export const title = "Roster";

const PAGE_SIZE = 50;

const stat = (value, label) =>
  h("li", {}, h("span", { class: "stat-value" }, value), h("span", { class: "stat-label" }, label));

export function render(root, { params, user, signal }) {
  const courseId = params.id;
  const messages = messageRegions();
  const state = { nextCursor: null, count: 0, loading: false };
  root.append(h("p", { class: "loading" }, "Loading the roster…"));

  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "data-table roster-table" },
    h("caption", { class: "visually-hidden" }, "Students in this course"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Username", "Name", "E-mail", "Status", "Waitlist", "Payment due"].map((label) => h("th", { scope: "col" }, label)),
      ),
    ),
    tbody,
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");
  const downloadButton = h("button", { type: "button", class: "button" }, "Download CSV");

  function row({ enrollment, student }) {
    return h(
      "tr",
      { dataset: { username: student.username, status: enrollment.status } },
      h("td", { "data-label": "Username" }, h("span", { class: "user-username" }, student.username)),
      h("td", { "data-label": "Name" }, student.full_name),
      h("td", { "data-label": "E-mail", class: "cell-email" }, h("a", { href: `mailto:${student.email}` }, student.email)),
      h("td", { "data-label": "Status" }, enrollmentStatusBadge(enrollment.status)),
      h("td", { "data-label": "Waitlist" }, enrollment.position ? `#${enrollment.position}` : "—"),
      h("td", { "data-label": "Payment due" }, enrollment.due_at ? formatMoment(enrollment.due_at) : "—"),
    );
  }

  function updateSummary() {
    const count = state.count;
    summary.textContent = count
      ? `Showing ${count} ${count === 1 ? "student" : "students"}${state.nextCursor ? "; there are more" : ""}.`
      : "Nobody has enrolled yet.";
    table.hidden = count === 0;
    loadMore.hidden = !state.nextCursor;
    downloadButton.disabled = count === 0;
  }

  async function loadPage({ reset }) {
    state.loading = true;
    loadMore.disabled = true;
    try {
      const data = await api.get(
        `${courseApi(courseId)}/roster${queryString({ limit: PAGE_SIZE, cursor: reset ? null : state.nextCursor })}`,
        { signal },
      );
      const rows = (data.items || []).map(row);
      if (reset) tbody.replaceChildren();
      tbody.append(...rows);
      state.count = reset ? rows.length : state.count + rows.length;
      state.nextCursor = data.next_cursor || null;
      updateSummary();
      return rows;
    } finally {
      state.loading = false;
      loadMore.disabled = false;
    }
  }

  loadMore.addEventListener("click", async () => {
    try {
      const rows = await loadPage({ reset: false });
      // Keyboard users continue at the first new row.
      if (rows.length) {
        rows[0].setAttribute("tabindex", "-1");
        rows[0].focus();
      }
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  });

  downloadButton.addEventListener("click", async () => {
    downloadButton.disabled = true;
    messages.clear();
    try {
      const file = await download(`${courseApi(courseId)}/roster.csv`, { signal, fallbackName: "roster.csv" });
      const url = URL.createObjectURL(file.blob);
      const link = h("a", { href: url, download: file.filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      // The browser has taken the file once the click's task is over.
      setTimeout(() => URL.revokeObjectURL(url), 0);
      messages.say(`Downloaded ${file.filename}.`);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      downloadButton.disabled = state.count === 0;
    }
  });

  function build(course) {
    document.title = `Roster: ${course.code} · Student Portal`;
    const taken = course.capacity - course.seats_left;
    const backLink = user.role === "admin" ? ["#/admin/courses", "Courses"] : ["#/teaching", "My teaching"];
    root.replaceChildren(
      h("p", { class: "breadcrumb" }, h("a", { href: backLink[0] }, backLink[1])),
      ...pageHeading(`Roster: ${course.code}`),
      h(
        "p",
        { class: "page-lead" },
        h("a", { href: `#${coursePath(course)}` }, course.title),
        " · ",
        scheduleSummary(course.schedule.sessions),
        " · ",
        formatDateRange(course.schedule.starts_on, course.schedule.ends_on),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "roster-title" },
        h(
          "div",
          { class: "section-head" },
          h("h2", { id: "roster-title" }, "Students"),
          downloadButton,
        ),
        h(
          "ul",
          { class: "stat-list" },
          stat(`${taken} / ${course.capacity}`, "seats taken"),
          stat(String(course.waitlist_length || 0), "on the waitlist"),
          h("li", {}, course.archived ? archivedBadge() : statusBadge(course)),
        ),
        messages.alert,
        messages.status,
        summary,
        h("div", { class: "table-wrap" }, table),
        h("div", { class: "list-more" }, loadMore),
      ),
    );
  }

  Promise.all([api.get(courseApi(courseId), { signal }), loadPage({ reset: true })])
    .then(([data]) => {
      build(data.course);
      focusLateHeading(root);
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      const forbidden = error.status === 403;
      root.replaceChildren(
        ...pageHeading(
          forbidden ? "Not your course" : error.status === 404 ? "Course not found" : "Could not load the roster",
          error.message,
        ),
        h("p", {}, h("a", { href: user.role === "admin" ? "#/admin/courses" : "#/teaching" }, "Back to your courses")),
      );
      focusLateHeading(root);
    });
}
