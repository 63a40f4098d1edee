import { api, queryString } from "../api.js";
import {
  COURSE_STATUSES,
  archivedBadge,
  courseApi,
  coursePath,
  formatDay,
  formatMoney,
  messageRegions,
  statusBadge,
} from "../courses.js";
import { confirmDialog, h, pageHeading } from "../dom.js";

export const title = "Courses";

const PAGE_SIZE = 25;
const SEARCH_DELAY_MS = 300;

export function render(root, { query, signal }) {
  const state = {
    filters: {
      q: query.q || "",
      status: COURSE_STATUSES.some((s) => s.value === query.status) ? query.status : "",
      archived: query.archived === "1" ? "1" : "",
    },
    nextCursor: null,
    loading: null,
    count: 0,
  };
  const messages = messageRegions();

  const search = h("input", {
    id: "courses-q",
    name: "q",
    type: "search",
    autocomplete: "off",
    placeholder: "Code, title or instructor",
    value: state.filters.q,
  });
  const status = h(
    "select",
    { id: "courses-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    COURSE_STATUSES.map((s) => h("option", { value: s.value, selected: s.value === state.filters.status }, s.label)),
  );
  const archived = h("input", { id: "courses-archived", type: "checkbox", checked: state.filters.archived === "1" });
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find courses" },
    h("div", { class: "field field-grow" }, h("label", { for: "courses-q" }, "Search"), search),
    h("div", { class: "field" }, h("label", { for: "courses-status" }, "Status"), status),
    h(
      "div",
      { class: "field field-check" },
      archived,
      h("label", { for: "courses-archived" }, "Show archived courses"),
    ),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, "Search")),
  );

  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "data-table courses-table" },
    h("caption", { class: "visually-hidden" }, "Courses"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Course", "Instructor", "Starts", "Seats taken", "Price", "Status"].map((label) => h("th", { scope: "col" }, label)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    tbody,
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");

  function row(course) {
    const taken = course.capacity - course.seats_left;
    const named = (text) => [text, h("span", { class: "visually-hidden" }, ` ${course.code}`)];
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
      h("td", { "data-label": "Seats taken", class: "cell-number" }, `${taken} / ${course.capacity}`),
      h("td", { "data-label": "Price" }, formatMoney(course.price)),
      h("td", { "data-label": "Status" }, course.archived ? archivedBadge() : statusBadge(course)),
      h(
        "td",
        { class: "cell-actions" },
        h(
          "div",
          { class: "row-actions" },
          h("a", { class: "button button-small", href: `#/admin/courses/${encodeURIComponent(course.id)}/edit` }, ...named("Edit")),
          h("a", { class: "button button-small", href: `#${coursePath(course)}/roster` }, ...named("Roster")),
          course.archived
            ? null
            : h(
                "button",
                { type: "button", class: "button button-small button-danger-outline", on: { click: () => archive(course) } },
                ...named("Archive"),
              ),
        ),
      ),
    );
  }

  function updateSummary() {
    const count = state.count;
    if (!count) summary.textContent = "No courses match.";
    else summary.textContent = `Showing ${count} ${count === 1 ? "course" : "courses"}${state.nextCursor ? "; there are more" : ""}.`;
    table.hidden = count === 0;
    loadMore.hidden = !state.nextCursor;
  }

  function syncAddress() {
    const target = `#/admin/courses${queryString(state.filters)}`;
    if (window.location.hash !== target) history.replaceState(history.state, "", target);
  }

  async function load({ reset }) {
    if (state.loading) state.loading.abort();
    const controller = new AbortController();
    state.loading = controller;
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    loadMore.disabled = true;
    listSection.setAttribute("aria-busy", "true");
    try {
      const { q, status: s, archived: a } = state.filters;
      const data = await api.get(
        `/api/catalog/courses${queryString({
          q,
          status: s,
          include_archived: a,
          sort: "code",
          limit: PAGE_SIZE,
          cursor: reset ? null : state.nextCursor,
        })}`,
        { signal: controller.signal },
      );
      if (reset) {
        tbody.replaceChildren();
        state.count = 0;
      }
      const rows = (data.items || []).map(row);
      tbody.append(...rows);
      state.count += rows.length;
      state.nextCursor = data.next_cursor || null;
      updateSummary();
      if (!reset && rows.length) rows[0].querySelector("a").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      signal.removeEventListener("abort", abort);
      if (state.loading === controller) {
        state.loading = null;
        loadMore.disabled = false;
        listSection.removeAttribute("aria-busy");
      }
    }
  }

  function applyFilters() {
    const filters = { q: search.value.trim(), status: status.value, archived: archived.checked ? "1" : "" };
    if (JSON.stringify(filters) === JSON.stringify(state.filters)) return;
    state.filters = filters;
    syncAddress();
    load({ reset: true });
  }

  async function archive(course) {
    const confirmed = await confirmDialog({
      title: `Archive ${course.code}?`,
      message: "It leaves the catalog and takes no more enrollments. Its enrollments and history are kept.",
      confirmLabel: "Archive course",
      danger: true,
    });
    if (!confirmed) return;
    try {
      const data = await api.post(`${courseApi(course.id)}/archive`, undefined, { signal });
      const old = tbody.querySelector(`tr[data-course-id="${CSS.escape(course.id)}"]`);
      if (state.filters.archived) {
        const fresh = row(data.course);
        old.replaceWith(fresh);
        fresh.querySelector("a").focus();
      } else {
        const next = old.nextElementSibling || old.previousElementSibling;
        old.remove();
        state.count -= 1;
        updateSummary();
        (next ? next.querySelector("a") : search).focus();
      }
      messages.say(`${course.code} is archived; it no longer appears in the catalog.`);
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilters, SEARCH_DELAY_MS);
  });
  status.addEventListener("change", applyFilters);
  archived.addEventListener("change", applyFilters);
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    applyFilters();
  });
  loadMore.addEventListener("click", () => load({ reset: false }));

  const listSection = h(
    "section",
    { class: "card", "aria-labelledby": "courses-list-title" },
    h(
      "div",
      { class: "section-head" },
      h("h2", { id: "courses-list-title" }, "All courses"),
      h("a", { class: "button button-primary", href: "#/admin/courses/new" }, "New course"),
    ),
    filterForm,
    messages.alert,
    messages.status,
    summary,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-more" }, loadMore),
  );

  root.append(...pageHeading(title, "Create courses, change seats, prices and dates, and archive old ones."), listSection);
  syncAddress();
  load({ reset: true });

  return () => clearTimeout(searchTimer);
}
