// The course editor's checks: the body the API expects or the problems found
// before asking it, and the API's problems shown next to their fields. An
// empty optional field is never marked wrong: when the API objects to what it
// stands for (enrollment closing when the course starts, say), the message
// goes to the field that decides that value.
import { toMinorUnits } from "./courses.js";

// Times are typed on the 24-hour clock, as the rest of the portal shows them.
const TIME_PATTERN = /^([01]?\d|2[0-3])[:.]([0-5]\d)$/;
// Where each of the API's dotted field names is shown.
const FIELD_FOR_API = {
  schedule: "starts_on",
  "schedule.starts_on": "starts_on",
  "schedule.ends_on": "ends_on",
  "price.amount": "price",
  "price.currency": "currency",
};
const SESSION_ERROR = /^schedule\.sessions\.(\d+)\.(weekday|start_time|end_time|location)$/;
// What an empty optional field stands for, and the field that then decides it.
const EMPTY_MEANS = {
  enrollment_opens_on: { words: "With “Opens on” empty, enrollment opens today, which" },
  enrollment_closes_on: { words: "With “Closes on” empty, enrollment closes when the course starts, which", blame: "starts_on" },
};
const SUMMARY = "Please correct the highlighted fields.";

// "9:00" -> "09:00"; null when the text is not a time.
export function normalizeTime(text) {
  const match = TIME_PATTERN.exec(String(text).trim());
  return match ? `${match[1].padStart(2, "0")}:${match[2]}` : null;
}

const value = (form, name) => form.fields.get(name).control.value.trim();

function wholeNumber(form, name, min, problems) {
  const text = value(form, name);
  if (/^\d+$/.test(text) && Number(text) >= min) return Number(text);
  problems[name] = min > 0 ? `Enter a whole number of at least ${min}.` : "Enter a whole number, 0 or more.";
  return null;
}

function requiredDate(form, name, problems) {
  const text = value(form, name);
  if (!text) problems[name] = "Enter a date.";
  return text || null;
}

function sessionTime(row, index, name, sessionProblems) {
  const text = row.fields[name].control.value.trim();
  const time = normalizeTime(text);
  if (!text) sessionProblems.push([index, name, "Enter a time."]);
  else if (!time) sessionProblems.push([index, name, "Enter a time as hours and minutes on the 24-hour clock, like 18:00."]);
  return time || text;
}

function collectSessions(form, sessionProblems) {
  return form.sessions.map((row, index) => ({
    weekday: row.fields.weekday.control.value,
    start_time: sessionTime(row, index, "start_time", sessionProblems),
    end_time: sessionTime(row, index, "end_time", sessionProblems),
    location: row.fields.location.control.value.trim(),
  }));
}

// {body, problems, sessionProblems}: the body the API expects, or what to fix first.
export function collectCourse(form) {
  const problems = {};
  const sessionProblems = [];
  if (!value(form, "code")) problems.code = "Enter a code.";
  if (!value(form, "title")) problems.title = "Enter a title.";
  if (!value(form, "instructor_id")) problems.instructor_id = "Choose an instructor.";
  const currency = value(form, "currency");
  const amount = toMinorUnits(value(form, "price"), currency);
  if (amount === null) problems.price = "Enter a price like 129.00, or 0 for a free course.";
  const body = {
    code: value(form, "code").toUpperCase(),
    title: value(form, "title"),
    description: value(form, "description"),
    instructor_id: value(form, "instructor_id"),
    schedule: {
      starts_on: requiredDate(form, "starts_on", problems),
      ends_on: requiredDate(form, "ends_on", problems),
      sessions: collectSessions(form, sessionProblems),
    },
    capacity: wholeNumber(form, "capacity", 1, problems),
    price: { amount, currency },
    payment_due_days: wholeNumber(form, "payment_due_days", 0, problems),
  };
  for (const name of ["enrollment_opens_on", "enrollment_closes_on"]) {
    if (value(form, name)) body[name] = value(form, name);
  }
  return { body, problems, sessionProblems };
}

export function clearProblems(form) {
  for (const entry of form.fields.values()) entry.setError("");
  for (const row of form.sessions) for (const entry of Object.values(row.fields)) entry.setError("");
  form.sessionsError.hidden = true;
  form.sessionsError.textContent = "";
}

// Where the API's message about apiName goes: a field entry, or null (the alert).
function targetOf(form, apiName, message) {
  const name = FIELD_FOR_API[apiName] || apiName;
  const session = SESSION_ERROR.exec(apiName);
  if (session) {
    const row = form.sessions[Number(session[1])];
    return row ? { entry: row.fields[session[2]], message } : null;
  }
  const entry = form.fields.get(name);
  if (!entry) return null;
  const empty = EMPTY_MEANS[name];
  if (!empty || entry.control.value.trim()) return { entry, message };
  const words = `${empty.words} ${message}.`;
  return empty.blame ? { entry: form.fields.get(empty.blame), message: words } : { entry: null, message: words };
}

// Shows problems (the API's or our own) next to their fields; what has no
// field goes into the alert after the summary. Returns the control to focus.
export function showProblems(form, problems, sessionProblems, summary = SUMMARY) {
  const stray = [];
  let first = null;
  const mark = (entry, message) => {
    entry.setError(message);
    first = first || entry.control;
  };
  for (const [apiName, message] of Object.entries(problems)) {
    const target = targetOf(form, apiName, message);
    if (target && target.entry) mark(target.entry, target.message);
    else if (apiName === "schedule.sessions") {
      form.sessionsError.textContent = message;
      form.sessionsError.hidden = false;
      first = first || form.addSessionButton;
    } else stray.push(target ? target.message : `${apiName.replaceAll(".", " ").replaceAll("_", " ")}: ${message}`);
  }
  for (const [index, name, message] of sessionProblems) mark(form.sessions[index].fields[name], message);
  return { text: [summary, ...stray].filter(Boolean).join(" "), first };
}
