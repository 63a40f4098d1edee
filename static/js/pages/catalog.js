import { api, queryString } from "../api.js";
import {
  COURSE_STATUSES,
  WEEKDAYS,
  courseCard,
  currencyDigits,
  rememberCatalogHash,
  toMinorUnits,
} from "../courses.js";
import { canAddToCart, cartAction } from "../cart.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { cardsView, filterBar, keepInAddress, oneOf, pagedList } from "../list.js";

export const title = "Course catalog";

const PAGE_SIZE = 20;
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
const PRICE_NAMES = ["price_min", "price_max"];

// The filters as they appear in the page's address: "#/catalog?q=…&status=open".
function filtersFromQuery(query) {
  return {
    q: (query.q || "").slice(0, 200),
    sort: oneOf(query.sort, SORTS.map((s) => s.value), DEFAULT_SORT),
    status: oneOf(query.status, COURSE_STATUSES.map((s) => s.value)),
    weekday: oneOf(query.weekday, WEEKDAYS.map((d) => d.value)),
    price_min: query.price_min || "",
    price_max: query.price_max || "",
    instructor: query.instructor || "",
  };
}

const hasFilters = ({ q, status, weekday, price_min: low, price_max: high, instructor }) =>
  Boolean(q || status || weekday || low || high || instructor);

function fetchCourses(filters, cursor, signal) {
  const query = queryString({
    q: filters.q,
    status: filters.status,
    weekday: filters.weekday,
    instructor: filters.instructor,
    min_price: filters.price_min === "" ? "" : toMinorUnits(filters.price_min, FILTER_CURRENCY),
    max_price: filters.price_max === "" ? "" : toMinorUnits(filters.price_max, FILTER_CURRENCY),
    sort: filters.sort,
    limit: PAGE_SIZE,
    cursor,
  });
  return api.get(`/api/catalog/courses${query}`, { signal });
}

export function render(root, { query, signal, user }) {
  const page = { signal, user, messages: messageRegions(), filters: filtersFromQuery(query), instructorName: "" };
  page.priceError = h("p", { class: "field-error", id: "catalog-price-error", hidden: true });
  page.clearButton = h("button", { type: "button", class: "button button-small", on: { click: () => clearFilters(page) } }, "Clear filters");
  page.chip = h("p", { class: "filter-chip", hidden: true });
  page.list = catalogList(page);
  page.bar = catalogFilters(page);
  root.append(
    ...pageHeading(title, "Find a course by subject, instructor, day or price."),
    h("div", { class: "card catalog-search" }, page.bar.element, page.chip),
    page.messages.alert,
    page.messages.status,
    h("section", { class: "catalog-results", "aria-label": "Results" }, page.list.element),
  );
  show(page);
}

function catalogList(page) {
  const empty = h(
    "div",
    { class: "empty-state" },
    h("button", { type: "button", class: "button", on: { click: () => clearFilters(page) } }, "Clear filters"),
  );
  return pagedList({
    signal: page.signal,
    view: cardsView({ label: "Courses", className: "course-grid", item: (course) => courseCard(course, { actions: cardActions(page, course) }) }),
    fetchPage: fetchCourses,
    noun: ["course", "courses"],
    emptyText: (filters) => (hasFilters(filters) ? "No course matches these filters." : "No courses in the catalog yet."),
    emptyContent: empty,
    loadMoreLabel: "Load more courses",
    loadingLabel: "Loading courses…",
    focusNew: (node) => node.querySelector("a"),
    onPage: (data) => {
      const items = data.items || [];
      if (page.filters.instructor && items.length && !page.instructorName) page.instructorName = items[0].instructor.full_name;
      showInstructorChip(page);
      page.clearButton.hidden = !hasFilters(page.filters);
      empty.hidden = page.list.count() !== 0 || !hasFilters(page.filters);
    },
  });
}

function catalogFilters(page) {
  const f = page.filters;
  const price = (name, label, placeholder) => ({
    name,
    label,
    kind: "text",
    value: f[name],
    placeholder,
    attrs: { inputmode: "decimal", "aria-describedby": "catalog-price-error" },
  });
  return filterBar({
    idPrefix: "catalog",
    label: "Find courses",
    className: "filters catalog-filters",
    signal: page.signal,
    fields: [
      { name: "q", label: "Search", kind: "search", className: "field field-search", value: f.q, placeholder: "Title, code or instructor" },
      { name: "sort", label: "Sort by", kind: "select", className: "field field-sort", value: f.sort, options: SORTS },
      { kind: "submit", label: "Search" },
      { name: "status", label: "Status", kind: "select", value: f.status, options: [{ value: "", label: "Any status" }, ...COURSE_STATUSES] },
      { name: "weekday", label: "Day", kind: "select", value: f.weekday, options: [{ value: "", label: "Any day" }, ...WEEKDAYS] },
      price("price_min", "Min price ($)", "0"),
      price("price_max", "Max price ($)", "Any"),
      { kind: "node", node: h("div", { class: "field field-clear" }, page.clearButton) },
      { kind: "node", node: page.priceError },
    ],
    onChange: (values) => applyFilters(page, values),
  });
}

// Students can put an open course in their cart straight from its card.
function cardActions(page, course) {
  if (!canAddToCart(course, page.user)) return null;
  return cartAction(course, {
    signal: page.signal,
    named: true,
    say: (message) => page.messages.say(message),
    complain: (error) => page.messages.complain(`${course.code}: ${error.message}`),
  });
}

// The address keeps the filters, so a reload or a shared link shows the same list.
function show(page) {
  const { sort, ...rest } = page.filters;
  rememberCatalogHash(keepInAddress("/catalog", { ...rest, sort: sort === DEFAULT_SORT ? "" : sort }));
  page.clearButton.hidden = !hasFilters(page.filters);
  showInstructorChip(page);
  page.messages.clear();
  page.list.load(page.filters);
}

const priceOk = (text) => text === "" || toMinorUnits(text, FILTER_CURRENCY) !== null;

function showPriceError(page, values) {
  const bad = PRICE_NAMES.filter((name) => !priceOk(values[name]));
  const digits = currencyDigits(FILTER_CURRENCY);
  page.priceError.textContent = bad.length ? `Enter a price as a number, like 50 or 49.${"9".repeat(digits)}.` : "";
  page.priceError.hidden = !bad.length;
  for (const name of PRICE_NAMES) {
    const input = page.bar.control(name);
    input.closest(".field").classList.toggle("has-error", bad.includes(name));
    if (bad.includes(name)) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  return bad.length === 0;
}

function applyFilters(page, values) {
  if (!showPriceError(page, values)) return;
  page.filters = { ...values, instructor: page.filters.instructor };
  show(page);
}

function clearFilters(page) {
  page.bar.set({ q: "", status: "", weekday: "", price_min: "", price_max: "", sort: DEFAULT_SORT });
  page.filters.instructor = "";
  page.instructorName = "";
  page.bar.emit({ force: true });
  page.bar.control("q").focus();
}

function showInstructorChip(page) {
  const { instructor } = page.filters;
  page.chip.hidden = !instructor;
  if (!instructor) return;
  // Built once, then only its name changes: the list reloads (a search, a
  // page of results) while the visitor may be clicking "Show all instructors",
  // and a button replaced between the press and the release loses the click.
  if (!page.chipName) {
    const showAll = () => {
      page.filters.instructor = "";
      page.instructorName = "";
      page.bar.emit({ force: true });
      page.bar.control("q").focus();
    };
    page.chipName = h("strong", {});
    page.chip.append(
      h("span", {}, "Taught by ", page.chipName),
      h("button", { type: "button", class: "button button-small", on: { click: showAll } }, "Show all instructors"),
    );
  }
  page.chipName.textContent = page.instructorName || "the chosen instructor";
}
