import { api } from "../api.js";
import {
  CURRENCIES,
  WEEKDAYS,
  archivedBadge,
  courseApi,
  coursePath,
  currencyName,
  fromMinorUnits,
  toMinorUnits,
} from "../courses.js";
import { confirmDialog, createField, focusLateHeading, h, pageHeading, uniqueId } from "../dom.js";

export const title = "Course editor";

const FORM_ID = "course-form";
const MAX_SESSIONS = 14;
const INSTRUCTOR_PAGES = 10;

// Where each of the API's dotted field names is shown.
const FIELD_FOR_API = {
  code: "code",
  title: "title",
  description: "description",
  instructor_id: "instructor_id",
  schedule: "starts_on",
  "schedule.starts_on": "starts_on",
  "schedule.ends_on": "ends_on",
  capacity: "capacity",
  price: "price",
  "price.amount": "price",
  "price.currency": "currency",
  payment_due_days: "payment_due_days",
  enrollment_opens_on: "enrollment_opens_on",
  enrollment_closes_on: "enrollment_closes_on",
};
const SESSION_ERROR = /^schedule\.sessions\.(\d+)\.(weekday|start_time|end_time|location)$/;
const LABELS = {
  code: "Code",
  title: "Title",
  description: "Description",
  instructor_id: "Instructor",
  starts_on: "Starts on",
  ends_on: "Ends on",
  capacity: "Seats",
  price: "Price",
  currency: "Currency",
  payment_due_days: "Days to pay",
  enrollment_opens_on: "Opens on",
  enrollment_closes_on: "Closes on",
};

async function loadInstructors(signal) {
  const people = [];
  let cursor = null;
  for (let page = 0; page < INSTRUCTOR_PAGES; page += 1) {
    const query = new URLSearchParams({ role: "instructor", status: "active", limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const data = await api.get(`/api/auth/users?${query}`, { signal });
    people.push(...(data.items || []));
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return people.sort((a, b) => (a.full_name || a.username).localeCompare(b.full_name || b.username));
}

export function render(root, { params, signal, navigate, flash }) {
  const editing = Boolean(params.id);
  root.append(h("p", { class: "loading" }, editing ? "Loading the course…" : "Loading…"));

  Promise.all([editing ? api.get(courseApi(params.id), { signal }) : null, loadInstructors(signal)])
    .then(([data, instructors]) => {
      build(data ? data.course : null, instructors);
      focusLateHeading(root);
    })
    .catch((error) => {
      if (error.name === "AbortError") return;
      root.replaceChildren(
        ...pageHeading(
          error.status === 404 ? "Course not found" : "Could not load the editor",
          error.status === 404 ? "It may have been deleted, or the link is wrong." : error.message,
        ),
        h("p", {}, h("a", { href: "#/admin/courses" }, "Back to the courses")),
      );
      focusLateHeading(root);
    });

  function build(course, instructors) {
    const fields = new Map();
    const add = (spec) => {
      const entry = createField(FORM_ID, { optionalLabel: !spec.required, ...spec });
      fields.set(spec.name, entry);
      return entry.wrapper;
    };

    // --- fields -----------------------------------------------------------------------
    const instructorOptions = [{ value: "", label: instructors.length ? "Choose an instructor" : "No instructors yet" }];
    for (const person of instructors) {
      instructorOptions.push({ value: person.id, label: `${person.full_name || person.username} (${person.username})` });
    }
    if (course && !instructors.some((person) => person.id === course.instructor.id)) {
      instructorOptions.push({ value: course.instructor.id, label: `${course.instructor.full_name} (inactive)` });
    }

    const courseSection = section(
      "Course",
      "course-section-course",
      add({
        name: "code",
        label: LABELS.code,
        required: true,
        autocomplete: "off",
        autocapitalize: "characters",
        spellcheck: "false",
        hint: "2 to 20 characters: A–Z, 0–9 and hyphens, e.g. CS-101.",
      }),
      add({ name: "title", label: LABELS.title, required: true, autocomplete: "off" }),
      h(
        "div",
        { class: "field-wide" },
        add({ name: "description", label: LABELS.description, type: "textarea", rows: 5, hint: "Plain text; line breaks are kept." }),
      ),
      add({
        name: "instructor_id",
        label: LABELS.instructor_id,
        required: true,
        options: instructorOptions,
        hint: instructors.length ? null : "Create an instructor account on the Users page first.",
      }),
    );

    // Weekly sessions: rows to add and remove.
    const sessionRows = [];
    const sessionList = h("ol", { class: "session-list" });
    const sessionsError = h("p", { class: "field-error", id: "course-sessions-error", hidden: true });
    const noSessions = h("p", { class: "muted session-empty" }, "No weekly sessions yet.");
    const addSessionButton = h("button", { type: "button", class: "button button-small" }, "Add session");

    function renumber() {
      sessionRows.forEach((row, index) => {
        row.legend.textContent = `Session ${index + 1}`;
        row.removeLabel.textContent = ` session ${index + 1}`;
      });
      noSessions.hidden = sessionRows.length > 0;
      addSessionButton.disabled = sessionRows.length >= MAX_SESSIONS;
    }

    function addSession(session = {}, { focus = false } = {}) {
      const rowId = uniqueId("session");
      const make = (spec) => createField(FORM_ID, { ...spec, id: `${rowId}-${spec.name}` });
      const weekday = make({
        name: "weekday",
        label: "Day",
        required: true,
        options: WEEKDAYS.map((day) => ({ value: day.value, label: day.label })),
        value: session.weekday || "monday",
      });
      const start = make({ name: "start_time", label: "Starts", type: "time", required: true, value: session.start_time || "" });
      const end = make({ name: "end_time", label: "Ends", type: "time", required: true, value: session.end_time || "" });
      const location = make({
        name: "location",
        label: "Location",
        autocomplete: "off",
        value: session.location || "",
      });
      const legend = h("legend", { class: "session-legend" });
      const removeLabel = h("span", { class: "visually-hidden" });
      const remove = h(
        "button",
        { type: "button", class: "button button-small button-danger-outline session-remove" },
        "Remove",
        removeLabel,
      );
      const element = h(
        "li",
        { class: "session-row" },
        h(
          "fieldset",
          { class: "session-fieldset" },
          legend,
          weekday.wrapper,
          start.wrapper,
          end.wrapper,
          location.wrapper,
          h("div", { class: "session-remove-cell" }, remove),
        ),
      );
      const row = { element, legend, removeLabel, fields: { weekday, start_time: start, end_time: end, location } };
      remove.addEventListener("click", () => {
        const index = sessionRows.indexOf(row);
        sessionRows.splice(index, 1);
        element.remove();
        renumber();
        const next = sessionRows[index] || sessionRows[index - 1];
        (next ? next.fields.weekday.control : addSessionButton).focus();
      });
      sessionRows.push(row);
      sessionList.append(element);
      renumber();
      if (focus) weekday.control.focus();
    }

    addSessionButton.addEventListener("click", () => addSession({}, { focus: true }));

    const scheduleSection = section(
      "Schedule",
      "course-section-schedule",
      add({ name: "starts_on", label: LABELS.starts_on, type: "date", required: true }),
      add({ name: "ends_on", label: LABELS.ends_on, type: "date", required: true }),
      h(
        "div",
        {
          class: "field-wide sessions",
          role: "group",
          "aria-labelledby": "course-sessions-title",
          "aria-describedby": "course-sessions-error",
        },
        h("h3", { id: "course-sessions-title", class: "sessions-title" }, "Weekly sessions"),
        noSessions,
        sessionList,
        sessionsError,
        addSessionButton,
      ),
    );

    const priceSection = section(
      "Seats and price",
      "course-section-price",
      add({ name: "capacity", label: LABELS.capacity, type: "number", required: true, min: 1, step: 1, inputmode: "numeric" }),
      add({
        name: "price",
        label: LABELS.price,
        required: true,
        inputmode: "decimal",
        autocomplete: "off",
        hint: "For example 129.00; 0 makes the course free.",
      }),
      add({
        name: "currency",
        label: LABELS.currency,
        required: true,
        options: CURRENCIES.map((code) => ({ value: code, label: currencyName(code) })),
        value: "usd",
      }),
      add({
        name: "payment_due_days",
        label: LABELS.payment_due_days,
        type: "number",
        required: true,
        min: 0,
        step: 1,
        inputmode: "numeric",
        hint: "How long a reserved seat is held for payment; 0: pay at once.",
      }),
    );

    const windowSection = section(
      "Enrollment window",
      "course-section-window",
      add({
        name: "enrollment_opens_on",
        label: LABELS.enrollment_opens_on,
        type: "date",
        hint: editing ? null : "Empty: from today.",
      }),
      add({
        name: "enrollment_closes_on",
        label: LABELS.enrollment_closes_on,
        type: "date",
        hint: editing ? null : "Empty: until the course starts.",
      }),
    );

    // --- form ---------------------------------------------------------------------------
    const alert = h("div", { class: "form-alert", role: "alert" });
    const status = h("div", { class: "form-status", role: "status" });
    const submitLabel = editing ? "Save changes" : "Create course";
    const submit = h("button", { type: "submit", class: "button button-primary" }, submitLabel);
    const actions = [submit, h("a", { class: "button", href: "#/admin/courses" }, editing ? "Back to courses" : "Cancel")];
    let archiveButton = null;
    if (editing) {
      actions.push(
        h("a", { class: "button", href: `#${coursePath(course)}` }, "Course page"),
        h("a", { class: "button", href: `#${coursePath(course)}/roster` }, "Roster"),
      );
      if (!course.archived) {
        archiveButton = h("button", { type: "button", class: "button button-danger-outline editor-archive" }, "Archive course");
        archiveButton.addEventListener("click", archive);
        actions.push(archiveButton);
      }
    }
    const form = h(
      "form",
      { id: FORM_ID, class: "course-form", novalidate: true },
      alert,
      courseSection,
      scheduleSection,
      h("div", { class: "grid-2" }, priceSection, windowSection),
      h("div", { class: "card editor-actions" }, h("div", { class: "form-actions" }, actions), status),
    );

    // --- values -------------------------------------------------------------------------
    const value = (name) => fields.get(name).control.value.trim();
    function fill(source) {
      const set = (name, text) => {
        fields.get(name).control.value = text ?? "";
      };
      set("code", source.code);
      set("title", source.title);
      fields.get("description").control.value = source.description || "";
      set("instructor_id", source.instructor.id);
      set("starts_on", source.schedule.starts_on);
      set("ends_on", source.schedule.ends_on);
      set("capacity", String(source.capacity));
      set("price", fromMinorUnits(source.price.amount, source.price.currency));
      set("currency", source.price.currency);
      set("payment_due_days", String(source.payment_due_days));
      set("enrollment_opens_on", source.enrollment_opens_on);
      set("enrollment_closes_on", source.enrollment_closes_on);
      sessionRows.splice(0).forEach((row) => row.element.remove());
      for (const session of source.schedule.sessions) addSession(session);
      renumber();
    }

    // The body the API expects, or the problems found before asking it.
    function collect() {
      const problems = {};
      const whole = (name, { min }) => {
        const text = value(name);
        if (!/^\d+$/.test(text) || Number(text) < min) {
          problems[name] = min > 0 ? `Enter a whole number of at least ${min}.` : "Enter a whole number, 0 or more.";
          return null;
        }
        return Number(text);
      };
      const date = (name, required) => {
        const text = value(name);
        if (!text) {
          if (required) problems[name] = "Enter a date.";
          return null;
        }
        return text;
      };
      if (!value("code")) problems.code = "Enter a code.";
      if (!value("title")) problems.title = "Enter a title.";
      if (!value("instructor_id")) problems.instructor_id = "Choose an instructor.";
      const currency = value("currency");
      const amount = toMinorUnits(value("price"), currency);
      if (amount === null) problems.price = "Enter a price like 129.00, or 0 for a free course.";
      const sessionProblems = [];
      const sessions = sessionRows.map((row, index) => {
        const start = row.fields.start_time.control.value;
        const end = row.fields.end_time.control.value;
        if (!start) sessionProblems.push([index, "start_time", "Enter a time."]);
        if (!end) sessionProblems.push([index, "end_time", "Enter a time."]);
        return {
          weekday: row.fields.weekday.control.value,
          start_time: start,
          end_time: end,
          location: row.fields.location.control.value.trim(),
        };
      });
      const body = {
        code: value("code").toUpperCase(),
        title: value("title"),
        description: fields.get("description").control.value.trim(),
        instructor_id: value("instructor_id"),
        schedule: { starts_on: date("starts_on", true), ends_on: date("ends_on", true), sessions },
        capacity: whole("capacity", { min: 1 }),
        price: { amount, currency },
        payment_due_days: whole("payment_due_days", { min: 0 }),
      };
      const opens = date("enrollment_opens_on", false);
      const closes = date("enrollment_closes_on", false);
      if (opens) body.enrollment_opens_on = opens;
      if (closes) body.enrollment_closes_on = closes;
      return { body, problems, sessionProblems };
    }

    let saved = null; // the body as last saved, to send only what changed

    // --- messages -------------------------------------------------------------------------
    function clearMessages() {
      alert.replaceChildren();
      alert.classList.remove("is-visible");
      status.replaceChildren();
      status.classList.remove("is-visible");
      for (const entry of fields.values()) entry.setError("");
      for (const row of sessionRows) for (const entry of Object.values(row.fields)) entry.setError("");
      sessionsError.hidden = true;
      sessionsError.textContent = "";
    }

    function showProblems(problems, sessionProblems, summary) {
      const stray = [];
      let first = null;
      const mark = (entry, message) => {
        entry.setError(message);
        first = first || entry.control;
      };
      for (const [apiName, message] of Object.entries(problems)) {
        const name = FIELD_FOR_API[apiName] || apiName;
        const session = SESSION_ERROR.exec(apiName);
        if (fields.has(name)) mark(fields.get(name), message);
        else if (session && sessionRows[Number(session[1])]) mark(sessionRows[Number(session[1])].fields[session[2]], message);
        else if (apiName === "schedule.sessions") {
          sessionsError.textContent = message;
          sessionsError.hidden = false;
          first = first || addSessionButton;
        } else stray.push(`${apiName.replaceAll(".", " ").replaceAll("_", " ")}: ${message}`);
      }
      for (const [index, name, message] of sessionProblems) mark(sessionRows[index].fields[name], message);
      alert.textContent = [summary, ...stray].filter(Boolean).join(" ");
      alert.classList.add("is-visible");
      if (first) first.focus();
      else alert.scrollIntoView({ block: "nearest" });
    }

    function changedPart(body) {
      if (!saved) return body;
      const changes = {};
      for (const [key, part] of Object.entries(body)) {
        if (JSON.stringify(part) !== JSON.stringify(saved[key])) changes[key] = part;
      }
      return changes;
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      clearMessages();
      const { body, problems, sessionProblems } = collect();
      if (Object.keys(problems).length || sessionProblems.length) {
        showProblems(problems, sessionProblems, "Please correct the highlighted fields.");
        return;
      }
      const changes = changedPart(body);
      if (!Object.keys(changes).length) {
        status.textContent = "Nothing changed.";
        status.classList.add("is-visible");
        return;
      }
      submit.disabled = true;
      submit.textContent = editing ? "Saving…" : "Creating…";
      form.setAttribute("aria-busy", "true");
      try {
        if (editing) {
          const data = await api.patch(courseApi(course.id), changes, { signal });
          course = data.course;
          fill(course);
          saved = collect().body;
          showHeading(course);
          status.textContent = `Saved ${course.code}.`;
          status.classList.add("is-visible");
        } else {
          const data = await api.post("/api/catalog/courses", body, { signal });
          flash(`Created ${data.course.code}. It is in the catalog now.`);
          navigate(`/admin/courses/${encodeURIComponent(data.course.id)}/edit`);
        }
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.fields && Object.keys(error.fields).length) {
          showProblems(error.fields, [], error.code === "invalid" ? "Please correct the highlighted fields." : error.message);
        } else {
          alert.textContent = error.message;
          alert.classList.add("is-visible");
          alert.scrollIntoView({ block: "nearest" });
        }
      } finally {
        submit.disabled = false;
        submit.textContent = submitLabel;
        form.removeAttribute("aria-busy");
      }
    });

    async function archive() {
      const confirmed = await confirmDialog({
        title: `Archive ${course.code}?`,
        message: "It leaves the catalog and takes no more enrollments. Its enrollments and history are kept.",
        confirmLabel: "Archive course",
        danger: true,
      });
      if (!confirmed) return;
      archiveButton.disabled = true;
      try {
        await api.post(`${courseApi(course.id)}/archive`, undefined, { signal });
        flash(`${course.code} is archived; it no longer appears in the catalog.`);
        navigate("/admin/courses");
      } catch (error) {
        if (error.name === "AbortError") return;
        alert.textContent = error.message;
        alert.classList.add("is-visible");
        archiveButton.disabled = false;
      }
    }

    // --- page -----------------------------------------------------------------------------
    const headingSlot = h("div", { class: "editor-heading" });
    function showHeading(current) {
      const headingText = current ? `Edit ${current.code}` : "New course";
      document.title = `${headingText} · Student Portal`;
      const focused = document.activeElement && headingSlot.contains(document.activeElement);
      headingSlot.replaceChildren(
        ...pageHeading(
          headingText,
          current ? current.title : "Describe the course, its weekly sessions, seats and price.",
        ),
      );
      if (current && current.archived) {
        headingSlot.append(
          h(
            "p",
            { class: "state-box state-box-info" },
            archivedBadge(),
            " This course is archived: it is not in the catalog and takes no enrollments.",
          ),
        );
      }
      if (focused) headingSlot.querySelector("h1").focus();
    }

    showHeading(course);
    root.replaceChildren(h("p", { class: "breadcrumb" }, h("a", { href: "#/admin/courses" }, "Courses")), headingSlot, form);
    if (course) {
      fill(course);
      saved = collect().body;
    } else {
      fields.get("payment_due_days").control.value = "7";
      addSession();
    }
  }
}

function section(label, id, ...children) {
  return h(
    "section",
    { class: "card editor-section", "aria-labelledby": id },
    h("h2", { id }, label),
    h("div", { class: "editor-fields" }, children),
  );
}
