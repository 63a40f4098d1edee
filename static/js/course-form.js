// The course editor's form: its fields and weekly sessions, reading and
// filling them, checking them before the API does, and showing problems next
// to the fields they are about.
import { CURRENCIES, WEEKDAYS, currencyName, fromMinorUnits } from "./courses.js";
import { createField, h, uniqueId } from "./dom.js";

export const FORM_ID = "course-form";
const MAX_SESSIONS = 14;
const TIME_HINT_ID = "course-sessions-hint";

function section(label, id, ...children) {
  return h(
    "section",
    { class: "card editor-section", "aria-labelledby": id },
    h("h2", { id }, label),
    h("div", { class: "editor-fields" }, children),
  );
}

// form: {fields: Map, sessions: [], editing}; add(spec) makes a field.
function adder(form) {
  return (spec) => {
    const entry = createField(FORM_ID, { optionalLabel: !spec.required, ...spec });
    form.fields.set(spec.name, entry);
    return entry.wrapper;
  };
}

function instructorOptions(instructors, course) {
  const options = [{ value: "", label: instructors.length ? "Choose an instructor" : "No instructors yet" }];
  for (const person of instructors) {
    options.push({ value: person.id, label: `${person.full_name || person.username} (${person.username})` });
  }
  if (course && !instructors.some((person) => person.id === course.instructor.id)) {
    options.push({ value: course.instructor.id, label: `${course.instructor.full_name} (inactive)` });
  }
  return options;
}

function courseSection(add, instructors, course) {
  return section(
    "Course",
    "course-section-course",
    add({
      name: "code",
      label: "Code",
      required: true,
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      hint: "2 to 20 characters: A–Z, 0–9 and hyphens, e.g. CS-101.",
    }),
    add({ name: "title", label: "Title", required: true, autocomplete: "off" }),
    h("div", { class: "field-wide" }, add({ name: "description", label: "Description", type: "textarea", rows: 5, hint: "Plain text; line breaks are kept." })),
    add({
      name: "instructor_id",
      label: "Instructor",
      required: true,
      options: instructorOptions(instructors, course),
      hint: instructors.length ? null : "Create an instructor account on the Users page first.",
    }),
  );
}

function timeField(make, name, label, value) {
  return make({
    name,
    label,
    required: true,
    value: value || "",
    inputmode: "numeric",
    autocomplete: "off",
    placeholder: "18:00",
    maxlength: 5,
    pattern: "([01]?[0-9]|2[0-3])[:.][0-5][0-9]",
    describedBy: TIME_HINT_ID,
  });
}

function renumber(form) {
  form.sessions.forEach((row, index) => {
    row.legend.textContent = `Session ${index + 1}`;
    row.removeLabel.textContent = ` session ${index + 1}`;
  });
  form.noSessions.hidden = form.sessions.length > 0;
  form.addSessionButton.disabled = form.sessions.length >= MAX_SESSIONS;
}

function sessionFields(session) {
  const rowId = uniqueId("session");
  const make = (spec) => createField(FORM_ID, { ...spec, id: `${rowId}-${spec.name}` });
  const days = WEEKDAYS.map((day) => ({ value: day.value, label: day.label }));
  return {
    weekday: make({ name: "weekday", label: "Day", required: true, options: days, value: session.weekday || "monday" }),
    start_time: timeField(make, "start_time", "Starts", session.start_time),
    end_time: timeField(make, "end_time", "Ends", session.end_time),
    location: make({ name: "location", label: "Location", autocomplete: "off", value: session.location || "" }),
  };
}

export function addSession(form, session = {}, { focus = false } = {}) {
  const fields = sessionFields(session);
  const legend = h("legend", { class: "session-legend" });
  const removeLabel = h("span", { class: "visually-hidden" });
  const remove = h("button", { type: "button", class: "button button-small button-danger-outline session-remove" }, "Remove", removeLabel);
  const element = h(
    "li",
    { class: "session-row" },
    h("fieldset", { class: "session-fieldset" }, legend, Object.values(fields).map((field) => field.wrapper), h("div", { class: "session-remove-cell" }, remove)),
  );
  const row = { element, legend, removeLabel, fields };
  remove.addEventListener("click", () => {
    const index = form.sessions.indexOf(row);
    form.sessions.splice(index, 1);
    element.remove();
    renumber(form);
    const next = form.sessions[index] || form.sessions[index - 1];
    (next ? next.fields.weekday.control : form.addSessionButton).focus();
  });
  form.sessions.push(row);
  form.sessionList.append(element);
  renumber(form);
  if (focus) fields.weekday.control.focus();
}

function scheduleSection(form, add) {
  form.sessionList = h("ol", { class: "session-list" });
  form.sessionsError = h("p", { class: "field-error", id: "course-sessions-error", hidden: true });
  form.noSessions = h("p", { class: "muted session-empty" }, "No weekly sessions yet.");
  form.addSessionButton = h("button", { type: "button", class: "button button-small" }, "Add session");
  form.addSessionButton.addEventListener("click", () => addSession(form, {}, { focus: true }));
  return section(
    "Schedule",
    "course-section-schedule",
    add({ name: "starts_on", label: "Starts on", type: "date", required: true }),
    add({ name: "ends_on", label: "Ends on", type: "date", required: true }),
    h(
      "div",
      { class: "field-wide sessions", role: "group", "aria-labelledby": "course-sessions-title", "aria-describedby": "course-sessions-error" },
      h("h3", { id: "course-sessions-title", class: "sessions-title" }, "Weekly sessions"),
      h("p", { class: "field-hint", id: TIME_HINT_ID }, "Times on the 24-hour clock, like 18:00."),
      form.noSessions,
      form.sessionList,
      form.sessionsError,
      form.addSessionButton,
    ),
  );
}

function priceSection(add) {
  const currencies = CURRENCIES.map((code) => ({ value: code, label: currencyName(code) }));
  const number = { type: "number", required: true, step: 1, inputmode: "numeric" };
  return section(
    "Seats and price",
    "course-section-price",
    add({ name: "capacity", label: "Seats", min: 1, ...number }),
    add({ name: "price", label: "Price", required: true, inputmode: "decimal", autocomplete: "off", hint: "For example 129.00; 0 makes the course free." }),
    add({ name: "currency", label: "Currency", required: true, options: currencies, value: "usd" }),
    add({ name: "payment_due_days", label: "Days to pay", min: 0, ...number, hint: "How long a reserved seat is held for payment; 0: pay at once." }),
  );
}

function windowSection(add, editing) {
  return section(
    "Enrollment window",
    "course-section-window",
    add({ name: "enrollment_opens_on", label: "Opens on", type: "date", hint: editing ? null : "Empty: from today." }),
    add({ name: "enrollment_closes_on", label: "Closes on", type: "date", hint: editing ? null : "Empty: until the course starts." }),
  );
}

// The form's parts: {element (the sections), fields, sessions, ...}.
export function buildCourseForm({ instructors, course, editing }) {
  const form = { fields: new Map(), sessions: [], editing };
  const add = adder(form);
  form.sections = [
    courseSection(add, instructors, course),
    scheduleSection(form, add),
    h("div", { class: "grid-2" }, priceSection(add), windowSection(add, editing)),
  ];
  return form;
}

export function fillForm(form, source) {
  const set = (name, text) => {
    form.fields.get(name).control.value = text ?? "";
  };
  set("code", source.code);
  set("title", source.title);
  set("description", source.description || "");
  set("instructor_id", source.instructor.id);
  set("starts_on", source.schedule.starts_on);
  set("ends_on", source.schedule.ends_on);
  set("capacity", String(source.capacity));
  set("price", fromMinorUnits(source.price.amount, source.price.currency));
  set("currency", source.price.currency);
  set("payment_due_days", String(source.payment_due_days));
  set("enrollment_opens_on", source.enrollment_opens_on);
  set("enrollment_closes_on", source.enrollment_closes_on);
  form.sessions.splice(0).forEach((row) => row.element.remove());
  for (const session of source.schedule.sessions) addSession(form, session);
  renumber(form);
}

// Everything typed, as text: compared to tell whether anything changed.
export function snapshot(form) {
  const fields = [...form.fields].map(([name, entry]) => [name, entry.control.value]);
  const sessions = form.sessions.map((row) => Object.values(row.fields).map((entry) => entry.control.value));
  return JSON.stringify([fields, sessions]);
}
