import { api, queryString } from "../api.js";
import { courseCard, coursePath } from "../courses.js";
import { h, pageHeading } from "../dom.js";
import { cardsView, pagedList } from "../list.js";

export const title = "My teaching";

const PAGE_SIZE = 50;

function card(course) {
  const named = (text) => [text, h("span", { class: "visually-hidden" }, ` of ${course.code}`)];
  return courseCard(course, {
    showMine: false,
    actions: [
      h("a", { class: "button button-small button-primary", href: `#${coursePath(course)}/roster` }, ...named("Roster")),
      h("a", { class: "button button-small", href: `#${coursePath(course)}` }, ...named("Course page")),
    ],
  });
}

export function render(root, { user, signal }) {
  const list = pagedList({
    signal,
    view: cardsView({ label: "Courses you teach", className: "course-grid", item: card }),
    fetchPage: (filters, cursor, listSignal) =>
      api.get(`/api/catalog/courses${queryString({ instructor: user.id, sort: "starts_on", limit: PAGE_SIZE, cursor })}`, {
        signal: listSignal,
      }),
    noun: ["course", "courses"],
    summary: (count) => `You teach ${count} ${count === 1 ? "course" : "courses"}`,
    emptyText: () => "You do not teach any course in the catalog yet.",
    loadMoreLabel: "Load more courses",
    loadingLabel: "Loading your courses…",
    focusNew: (node) => node.querySelector("a"),
  });
  root.append(...pageHeading(title, "The courses you teach, soonest first, with their rosters."), list.element);
  list.load({});
}
