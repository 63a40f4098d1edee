// The administrator's course editor: a new course, or changes to one. Leaving
// with unsaved changes asks first (in the app and when closing the tab).
import { api } from "../api.js";
import { archiveCourse, archivedBadge, courseApi, coursePath } from "../courses.js";
import { FORM_ID, addSession, buildCourseForm, fillForm, snapshot } from "../course-form.js";
import { clearProblems, collectCourse, showProblems } from "../course-form-check.js";
import { h, pageHeading } from "../dom.js";
import { loadPage, whenMissing } from "../loading.js";

export const title = "Course editor";

const INSTRUCTOR_PAGES = 10;

async function loadInstructors(signal) {
  const people = [];
  let cursor = null;
  for (let count = 0; count < INSTRUCTOR_PAGES; count += 1) {
    const query = new URLSearchParams({ role: "instructor", status: "active", limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const data = await api.get(`/api/auth/users?${query}`, { signal });
    people.push(...(data.items || []));
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return people.sort((a, b) => (a.full_name || a.username).localeCompare(b.full_name || b.username));
}

export function render(root, { params, signal, navigate, flash, guardLeave }) {
  const editing = Boolean(params.id);
  const page = { root, signal, navigate, flash, editing, course: null, saved: null, savedSnapshot: null };
  guardLeave(() => unsaved(page));
  loadPage(root, {
    signal,
    label: editing ? "Loading the course…" : "Loading…",
    title: "Could not load the editor",
    load: () => Promise.all([editing ? api.get(courseApi(params.id), { signal }) : null, loadInstructors(signal)]),
    show: ([data, instructors]) => build(page, data ? data.course : null, instructors),
    failed: whenMissing({
      title: "Course not found",
      lead: "It may have been deleted, or the link is wrong.",
      href: "#/admin/courses",
      link: "Back to the courses",
    }),
  });
}

// What leaving now would lose, in words, or null.
function unsaved(page) {
  if (!page.form || page.savedSnapshot === null || snapshot(page.form) === page.savedSnapshot) return null;
  return page.course ? `Your changes to ${page.course.code}` : "The new course";
}

function markSaved(page) {
  page.saved = collectCourse(page.form).body;
  page.savedSnapshot = snapshot(page.form);
}

function actionButtons(page) {
  const { course, editing } = page;
  const actions = [page.submit, h("a", { class: "button", href: "#/admin/courses" }, editing ? "Back to courses" : "Cancel")];
  if (!editing) return actions;
  actions.push(
    h("a", { class: "button", href: `#${coursePath(course)}` }, "Course page"),
    h("a", { class: "button", href: `#${coursePath(course)}/roster` }, "Roster"),
  );
  if (!course.archived) {
    page.archiveButton = h("button", { type: "button", class: "button button-danger-outline editor-archive" }, "Archive course");
    page.archiveButton.addEventListener("click", () => archive(page));
    actions.push(page.archiveButton);
  }
  return actions;
}

function build(page, course, instructors) {
  page.course = course;
  page.form = buildCourseForm({ instructors, course, editing: page.editing });
  page.alert = h("div", { class: "form-alert", role: "alert" });
  page.status = h("div", { class: "form-status", role: "status" });
  page.submitLabel = page.editing ? "Save changes" : "Create course";
  page.submit = h("button", { type: "submit", class: "button button-primary" }, page.submitLabel);
  const element = h(
    "form",
    { id: FORM_ID, class: "course-form", novalidate: true },
    page.alert,
    page.form.sections,
    h("div", { class: "card editor-actions" }, h("div", { class: "form-actions" }, actionButtons(page)), page.status),
  );
  page.form.element = element;
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!page.submit.disabled) submit(page);
  });
  page.headingSlot = h("div", { class: "editor-heading" });
  showHeading(page);
  page.root.replaceChildren(h("p", { class: "breadcrumb" }, h("a", { href: "#/admin/courses" }, "Courses")), page.headingSlot, element);
  if (course) fillForm(page.form, course);
  else {
    page.form.fields.get("payment_due_days").control.value = "7";
    addSession(page.form);
  }
  markSaved(page);
  if (!course) page.saved = null; // a new course sends everything
}

function showHeading(page) {
  const { course, headingSlot } = page;
  const text = course ? `Edit ${course.code}` : "New course";
  document.title = `${text} · Student Portal`;
  const focused = document.activeElement && headingSlot.contains(document.activeElement);
  headingSlot.replaceChildren(...pageHeading(text, course ? course.title : "Describe the course, its weekly sessions, seats and price."));
  if (course && course.archived) {
    headingSlot.append(
      h("p", { class: "state-box state-box-info" }, archivedBadge(), " This course is archived: it is not in the catalog and takes no enrollments."),
    );
  }
  if (focused) headingSlot.querySelector("h1").focus();
}

function say(region, message) {
  region.textContent = message || "";
  region.classList.toggle("is-visible", Boolean(message));
}

function complain(page, problems, sessionProblems, summary) {
  const { text, first } = showProblems(page.form, problems, sessionProblems, summary);
  say(page.alert, text);
  if (first) first.focus();
  else page.alert.scrollIntoView({ block: "nearest" });
}

// Only what changed since the last save goes to the API.
function changedPart(saved, body) {
  if (!saved) return body;
  return Object.fromEntries(Object.entries(body).filter(([key, part]) => JSON.stringify(part) !== JSON.stringify(saved[key])));
}

function setBusy(page, busy) {
  page.submit.disabled = busy;
  page.submit.textContent = busy ? (page.editing ? "Saving…" : "Creating…") : page.submitLabel;
  if (busy) page.form.element.setAttribute("aria-busy", "true");
  else page.form.element.removeAttribute("aria-busy");
}

async function submit(page) {
  say(page.alert, "");
  say(page.status, "");
  clearProblems(page.form);
  const { body, problems, sessionProblems } = collectCourse(page.form);
  if (Object.keys(problems).length || sessionProblems.length) return complain(page, problems, sessionProblems);
  const changes = changedPart(page.saved, body);
  if (!Object.keys(changes).length) return say(page.status, "Nothing changed.");
  setBusy(page, true);
  try {
    await (page.editing ? saveChanges(page, changes) : create(page, body));
  } catch (error) {
    if (error.name === "AbortError") return;
    if (error.fields && Object.keys(error.fields).length) {
      complain(page, error.fields, [], error.code === "invalid" ? undefined : error.message);
    } else {
      say(page.alert, error.message);
      page.alert.scrollIntoView({ block: "nearest" });
    }
  } finally {
    setBusy(page, false);
  }
}

async function saveChanges(page, changes) {
  const data = await api.patch(courseApi(page.course.id), changes, { signal: page.signal });
  page.course = data.course;
  fillForm(page.form, page.course);
  markSaved(page);
  showHeading(page);
  say(page.status, `Saved ${page.course.code}.`);
}

async function create(page, body) {
  const data = await api.post("/api/catalog/courses", body, { signal: page.signal });
  markSaved(page); // nothing left unsaved: the new course is stored
  page.flash(`Created ${data.course.code}. It is in the catalog now.`);
  page.navigate(`/admin/courses/${encodeURIComponent(data.course.id)}/edit`);
}

async function archive(page) {
  page.archiveButton.disabled = true;
  try {
    const archived = await archiveCourse(page.course, { signal: page.signal });
    if (!archived) return;
    // Archived on purpose: leaving now loses nothing worth asking about.
    page.form = null;
    page.flash(`${archived.code} is archived; it no longer appears in the catalog.`);
    page.navigate("/admin/courses");
  } catch (error) {
    if (error.name !== "AbortError") say(page.alert, error.message);
  } finally {
    if (page.archiveButton.isConnected) page.archiveButton.disabled = false;
  }
}
