// Timetable clashes: a warning, never a block. The server lists each clash as
// {course_id, other_course: {id, code, title}, other_is, weekday, start_time,
// end_time, first_date, last_date}, the times and dates being the overlap.
// A pair of courses both in the cart comes once; the cart warns next to both.
import { coursePath, formatDateRange, formatDay, scheduleSummary } from "./courses.js";
import { h, icon } from "./dom.js";

const WHERE = {
  cart: "in your cart",
  pending_payment: "you hold a seat in it",
  active: "you are enrolled in it",
  waitlisted: "you are on its waitlist",
};

const WARNING_ICON = ["M12 3 2 21h20L12 3z", "M12 10v5", "M12 18h.01"];

// The clashes of one course, one entry per other course: {other, otherIs, overlaps}.
// cartCourses lets a cart course see the pairs listed from its partner's side.
export function clashesOf(courseId, clashes, cartCourses = []) {
  const byOther = new Map();
  const add = (other, otherIs, overlap) => {
    if (!byOther.has(other.id)) byOther.set(other.id, { other, otherIs, overlaps: [] });
    byOther.get(other.id).overlaps.push(overlap);
  };
  for (const clash of clashes || []) {
    if (clash.course_id === courseId) {
      add(clash.other_course, clash.other_is, clash);
    } else if (clash.other_is === "cart" && clash.other_course.id === courseId) {
      const partner = cartCourses.find((course) => course.id === clash.course_id);
      if (partner) add({ id: partner.id, code: partner.code, title: partner.title }, "cart", clash);
    }
  }
  return [...byOther.values()];
}

// "Tue, Thu 13:00–14:30, Jan 5, 2027 – Mar 16, 2027": when the two meet at once.
function when(overlaps) {
  const first = overlaps.map((o) => o.first_date).sort()[0];
  const last = overlaps.map((o) => o.last_date).sort().at(-1);
  const dates = first === last ? formatDay(first) : formatDateRange(first, last);
  return `${scheduleSummary(overlaps)}, ${dates}`;
}

function clashLine({ other, otherIs, overlaps }) {
  return h(
    "p",
    { class: "clash-line", dataset: { otherCourse: other.code } },
    h("strong", {}, "Timetable clash"),
    " with ",
    h("a", { href: `#${coursePath(other.id)}` }, `${other.code} ${other.title}`),
    ` (${WHERE[otherIs] || otherIs}): ${when(overlaps)}.`,
  );
}

// The warning for one course, or null when it clashes with nothing. Words,
// not colour alone, say what it is: "Timetable clash with CS-101 …".
export function clashWarning(entries, { note } = {}) {
  if (!entries.length) return null;
  return h(
    "div",
    { class: "clash-warning", "data-testid": "clash-warning" },
    icon(WARNING_ICON, "icon clash-icon"),
    h("div", { class: "clash-text" }, entries.map(clashLine), note ? h("p", { class: "clash-note" }, note) : null),
  );
}
