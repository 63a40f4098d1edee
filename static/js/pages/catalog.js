import { api, queryString } from "../api.js";
import {
  COURSE_STATUSES,
  WEEKDAYS,
  courseCard,
  currencyDigits,
  messageRegions,
  rememberCatalogHash,
  toMinorUnits,
} from "../courses.js";
import { canAddToCart, cartAction } from "../cart.js";
import { h, pageHeading } from "../dom.js";

export const title = "Course catalog";

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;
const SORTS = [
  { value: "code", label: "Course code" },
  { value: "title", label: "Title (A–Z)" },
  { value: "starts_on", label: "Start date (soonest)" },
  { value: "-starts_on", label: "Start date (latest)" },
  { value: "price", label: "Price (lowest)" },
  { value: "-price", label: "Price (highest)" },
];
const DEFAULT_SORT = "code";
// Prices in the filter are typed in major units (dollars, euros); the API
// compares minor units.
const FILTER_CURRENCY = "usd";

// The filters as they appear in the page's address: "#/catalog?q=…&status=open".
function filtersFromQuery(query) {
  const pick = (value, allowed) => (allowed.includes(value) ? value : "");
  return {
    q: (query.q || "").slice(0, 200),
    status: pick(query.status, COURSE_STATUSES.map((s) => s.value)),
    weekday: pick(query.weekday, WEEKDAYS.map((d) => d.value)),
    price_min: query.price_min || "",
    price_max: query.price_max || "",
    sort: pick(query.sort, SORTS.map((s) => s.value)) || DEFAULT_SORT,
    instructor: query.instructor || "",
  };
}

export function render(root, { query, signal, user }) {
  const state = { filters: filtersFromQuery(query), nextCursor: null, loading: null, count: 0, instructorName: "" };
  const messages = messageRegions();

  // --- filters --------------------------------------------------------------
  const control = (tag, props, ...children) => h(tag, { ...props, id: `catalog-${props.name}` }, ...children);
  const search = control("input", {
    name: "q",
    type: "search",
    autocomplete: "off",
    placeholder: "Title, code or instructor",
    value: state.filters.q,
  });
  const status = control(
    "select",
    { name: "status" },
    h("option", { value: "" }, "Any status"),
    COURSE_STATUSES.map((s) => h("option", { value: s.value, selected: s.value === state.filters.status }, s.label)),
  );
  const weekday = control(
    "select",
    { name: "weekday" },
    h("option", { value: "" }, "Any day"),
    WEEKDAYS.map((d) => h("option", { value: d.value, selected: d.value === state.filters.weekday }, d.label)),
  );
  const priceInput = (name, placeholder) =>
    control("input", {
      name,
      type: "text",
      inputmode: "decimal",
      autocomplete: "off",
      placeholder,
      value: state.filters[name],
      "aria-describedby": "catalog-price-error",
    });
  const priceMin = priceInput("price_min", "0");
  const priceMax = priceInput("price_max", "Any");
  const priceError = h("p", { class: "field-error", id: "catalog-price-error", hidden: true });
  const sort = control(
    "select",
    { name: "sort" },
    SORTS.map((s) => h("option", { value: s.value, selected: s.value === state.filters.sort }, s.label)),
  );
  const instructorChip = h("p", { class: "filter-chip", hidden: true });
  const clearButton = h("button", { type: "button", class: "button button-small" }, "Clear filters");

  const field = (label, input, className = "field") =>
    h("div", { class: className }, h("label", { for: input.id }, label), input);
  const filterForm = h(
    "form",
    { class: "filters catalog-filters", role: "search", "aria-label": "Find courses" },
    field("Search", search, "field field-search"),
    field("Sort by", sort, "field field-sort"),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, "Search")),
    field("Status", status),
    field("Day", weekday),
    field("Min price ($)", priceMin),
    field("Max price ($)", priceMax),
    h("div", { class: "field field-clear" }, clearButton),
    priceError,
  );

  // --- results --------------------------------------------------------------
  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const list = h("ul", { class: "course-grid", "aria-label": "Courses" });
  const empty = h(
    "div",
    { class: "empty-state", hidden: true },
    h("button", { type: "button", class: "button", on: { click: clearFilters } }, "Clear filters"),
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more courses");
  const results = h(
    "section",
    { class: "catalog-results", "aria-label": "Results" },
    summary,
    list,
    empty,
    h("div", { class: "list-more" }, loadMore),
  );

  function showInstructorChip() {
    instructorChip.replaceChildren();
    instructorChip.hidden = !state.filters.instructor;
    if (!state.filters.instructor) return;
    instructorChip.append(
      h("span", {}, "Taught by ", h("strong", {}, state.instructorName || "the chosen instructor")),
      h(
        "button",
        {
          type: "button",
          class: "button button-small",
          on: {
            click: () => {
              state.filters.instructor = "";
              state.instructorName = "";
              applyFilters({ force: true });
              search.focus();
            },
          },
        },
        "Show all instructors",
      ),
    );
  }

  // Students can put an open course in their cart straight from its card.
  function cardActions(course) {
    if (!canAddToCart(course, user)) return null;
    return cartAction(course, {
      signal,
      named: true,
      say: (message) => messages.say(message),
      complain: (error) => messages.complain(`${course.code}: ${error.message}`),
    });
  }

  function hasFilters() {
    const { q, status: s, weekday: w, price_min: lo, price_max: hi, instructor } = state.filters;
    return Boolean(q || s || w || lo || hi || instructor);
  }

  function updateSummary() {
    const count = state.count;
    if (!count) summary.textContent = hasFilters() ? "No course matches these filters." : "No courses in the catalog yet.";
    else {
      const noun = count === 1 ? "course" : "courses";
      summary.textContent = `Showing ${count} ${noun}${state.nextCursor ? "; there are more" : ""}.`;
    }
    empty.hidden = count !== 0 || !hasFilters();
    loadMore.hidden = !state.nextCursor;
    clearButton.hidden = !hasFilters();
  }

  // The address keeps the filters, so a reload or a shared link shows the same list.
  function syncAddress() {
    const { sort: sortValue, ...rest } = state.filters;
    const target = `#/catalog${queryString({ ...rest, sort: sortValue === DEFAULT_SORT ? "" : sortValue })}`;
    if (window.location.hash !== target) history.replaceState(history.state, "", target);
    rememberCatalogHash(target);
  }

  function apiQuery(cursor) {
    const f = state.filters;
    return queryString({
      q: f.q,
      status: f.status,
      weekday: f.weekday,
      instructor: f.instructor,
      min_price: f.price_min === "" ? "" : toMinorUnits(f.price_min, FILTER_CURRENCY),
      max_price: f.price_max === "" ? "" : toMinorUnits(f.price_max, FILTER_CURRENCY),
      sort: f.sort,
      limit: PAGE_SIZE,
      cursor,
    });
  }

  async function load({ reset }) {
    if (state.loading) state.loading.abort();
    const controller = new AbortController();
    state.loading = controller;
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    loadMore.disabled = true;
    results.setAttribute("aria-busy", "true");
    try {
      const data = await api.get(`/api/catalog/courses${apiQuery(reset ? null : state.nextCursor)}`, {
        signal: controller.signal,
      });
      const items = data.items || [];
      if (reset) {
        list.replaceChildren();
        state.count = 0;
      }
      const cards = items.map((course) => courseCard(course, { actions: cardActions(course) }));
      list.append(...cards);
      state.count += items.length;
      state.nextCursor = data.next_cursor || null;
      if (state.filters.instructor && items.length && !state.instructorName) {
        state.instructorName = items[0].instructor.full_name;
      }
      showInstructorChip();
      updateSummary();
      messages.clear();
      // After "Load more", keyboard users continue at the first new course.
      if (!reset && cards.length) cards[0].querySelector("a").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      signal.removeEventListener("abort", abort);
      if (state.loading === controller) {
        state.loading = null;
        loadMore.disabled = false;
        results.removeAttribute("aria-busy");
      }
    }
  }

  function readPrice(input) {
    const text = input.value.trim();
    if (text === "") return { ok: true, value: "" };
    return toMinorUnits(text, FILTER_CURRENCY) === null ? { ok: false } : { ok: true, value: text };
  }

  function showPriceError(message) {
    priceError.textContent = message || "";
    priceError.hidden = !message;
    for (const input of [priceMin, priceMax]) {
      const bad = Boolean(message) && !readPrice(input).ok;
      input.closest(".field").classList.toggle("has-error", bad);
      if (bad) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function applyFilters({ force = false } = {}) {
    const low = readPrice(priceMin);
    const high = readPrice(priceMax);
    if (!low.ok || !high.ok) {
      const digits = currencyDigits(FILTER_CURRENCY);
      showPriceError(`Enter a price as a number, like 50 or 49.${"9".repeat(digits)}.`);
      return;
    }
    showPriceError("");
    const filters = {
      q: search.value.trim(),
      status: status.value,
      weekday: weekday.value,
      price_min: low.value,
      price_max: high.value,
      sort: sort.value,
      instructor: state.filters.instructor,
    };
    if (!force && JSON.stringify(filters) === JSON.stringify(state.filters)) return;
    state.filters = filters;
    syncAddress();
    load({ reset: true });
  }

  function clearFilters() {
    search.value = "";
    status.value = "";
    weekday.value = "";
    priceMin.value = "";
    priceMax.value = "";
    sort.value = DEFAULT_SORT;
    state.filters.instructor = "";
    state.instructorName = "";
    applyFilters({ force: true });
    search.focus();
  }

  let typingTimer = null;
  const later = () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => applyFilters(), SEARCH_DELAY_MS);
  };
  search.addEventListener("input", later);
  priceMin.addEventListener("input", later);
  priceMax.addEventListener("input", later);
  for (const select of [status, weekday, sort]) select.addEventListener("change", () => applyFilters());
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(typingTimer);
    applyFilters();
  });
  clearButton.addEventListener("click", clearFilters);
  loadMore.addEventListener("click", () => load({ reset: false }));

  root.append(
    ...pageHeading(title, "Find a course by subject, instructor, day or price."),
    h("div", { class: "card catalog-search" }, filterForm, instructorChip),
    messages.alert,
    messages.status,
    results,
  );
  syncAddress();
  load({ reset: true });

  return () => clearTimeout(typingTimer);
}
