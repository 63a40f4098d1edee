import { api, queryString } from "../api.js";
import { courseCard, coursePath, messageRegions } from "../courses.js";
import { h, pageHeading } from "../dom.js";

export const title = "My teaching";

const PAGE_SIZE = 50;

export function render(root, { user, signal }) {
  const messages = messageRegions();
  const state = { nextCursor: null, count: 0 };
  const summary = h("p", { class: "list-summary", "aria-live": "polite" }, "Loading your courses…");
  const list = h("ul", { class: "course-grid", "aria-label": "Courses you teach" });
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more courses");

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

  async function load({ reset }) {
    loadMore.disabled = true;
    try {
      const data = await api.get(
        `/api/catalog/courses${queryString({
          instructor: user.id,
          sort: "starts_on",
          limit: PAGE_SIZE,
          cursor: reset ? null : state.nextCursor,
        })}`,
        { signal },
      );
      const cards = (data.items || []).map(card);
      list.append(...cards);
      state.count += cards.length;
      state.nextCursor = data.next_cursor || null;
      summary.textContent = state.count
        ? `You teach ${state.count} ${state.count === 1 ? "course" : "courses"}${state.nextCursor ? "; there are more" : ""}.`
        : "You do not teach any course in the catalog yet.";
      loadMore.hidden = !state.nextCursor;
      if (!reset && cards.length) cards[0].querySelector("a").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      loadMore.disabled = false;
    }
  }

  loadMore.addEventListener("click", () => load({ reset: false }));
  root.append(
    ...pageHeading(title, "The courses you teach, soonest first, with their rosters."),
    messages.alert,
    summary,
    list,
    h("div", { class: "list-more" }, loadMore),
  );
  load({ reset: true });
}
