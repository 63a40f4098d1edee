import { momentElement } from "../courses.js";
import { h, messageRegions, pageHeading } from "../dom.js";
import { cardsView, filterBar, keepInAddress, pagedList } from "../list.js";
import { appPathOf, listNotifications, markAllRead, markRead, onUnreadChange } from "../notifications.js";

export const title = "Notifications";

const PAGE_SIZE = 20;

const showField = (query) => ({
  name: "show",
  label: "Show",
  kind: "select",
  value: query.show === "unread" ? "unread" : "all",
  options: [
    { value: "all", label: "All notifications" },
    { value: "unread", label: "Unread only" },
  ],
});

export function render(root, { query, signal, navigate }) {
  const page = { signal, navigate, messages: messageRegions() };
  page.markAll = h("button", { type: "button", class: "button", hidden: true }, "Mark all read");
  page.list = pagedList({
    signal,
    view: cardsView({ label: "Notifications", className: "notice-list", item: (notice) => noticeItem(page, notice) }),
    fetchPage: ({ show }, cursor, listSignal) =>
      listNotifications({ unreadOnly: show === "unread", cursor, limit: PAGE_SIZE, signal: listSignal }),
    noun: ["notification", "notifications"],
    emptyText: ({ show }) => (show === "unread" ? "You have no unread notifications." : "You have no notifications yet."),
    focusNew: (node) => node.querySelector(".notice-title"),
    onPage: (data) => {
      page.markAll.hidden = !data.unread;
    },
  });
  page.filters = filterBar({
    idPrefix: "notifications",
    label: "Filter notifications",
    className: "notices-toolbar",
    signal,
    fields: [showField(query)],
    extra: [page.markAll],
    onChange: (filters) => load(page, filters),
  });
  page.markAll.addEventListener("click", () => readAll(page, root));
  root.append(
    ...pageHeading(title, "Payments, reminders and seats that opened up. Unread ones are highlighted."),
    h(
      "section",
      { class: "card", "aria-label": "Your notifications" },
      page.filters.element,
      page.messages.alert,
      page.messages.status,
      page.list.element,
    ),
  );
  load(page, page.filters.values());
  // "Mark all read" is offered while something is unread, here or anywhere.
  return onUnreadChange((count) => {
    page.markAll.hidden = !count;
  });
}

function load(page, filters) {
  keepInAddress("/notifications", { show: filters.show === "unread" ? "unread" : "" });
  page.list.load(filters);
}

const unreadOnly = (page) => page.filters.values().show === "unread";

function setRead(element) {
  element.classList.remove("is-unread");
  for (const selector of [".notice-unread", "[data-action='read']"]) {
    const part = element.querySelector(selector);
    if (part) part.remove();
  }
}

// Following a notification's link marks it read first.
async function open(page, notice, element, path, event) {
  event.preventDefault();
  if (!notice.read) {
    try {
      await markRead(notice.id, { signal: page.signal });
      notice.read = true;
    } catch (error) {
      if (error.name === "AbortError") return;
      // Following the link matters more than the mark: go on.
    }
  }
  setRead(element);
  page.navigate(path);
}

async function readOne(page, notice, element) {
  page.messages.clear();
  try {
    await markRead(notice.id, { signal: page.signal });
    notice.read = true;
    setRead(element);
    element.querySelector(".notice-title").focus();
    page.messages.say(`Marked “${notice.title}” as read.`);
    if (unreadOnly(page)) page.list.remove(notice.id);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}

async function readAll(page, root) {
  page.messages.clear();
  page.markAll.disabled = true;
  try {
    await markAllRead({ signal: page.signal });
    for (const element of page.list.element.querySelectorAll(".notice.is-unread")) setRead(element);
    if (unreadOnly(page)) await page.list.reload();
    page.messages.say("All notifications are marked as read.");
    root.querySelector("h1").focus();
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  } finally {
    page.markAll.disabled = false;
  }
}

function noticeHeading(page, notice, element) {
  const heading = h("h2", { class: "notice-title list-row-title", id: `notice-${notice.id}`, tabindex: "-1" });
  const path = appPathOf(notice.link);
  if (!path) heading.append(notice.title);
  else heading.append(h("a", { href: `#${path}`, on: { click: (event) => open(page, notice, element, path, event) } }, notice.title));
  return heading;
}

function readButton(page, notice, element) {
  if (notice.read) return null;
  return h(
    "button",
    { type: "button", class: "button button-small", "data-action": "read", on: { click: () => readOne(page, notice, element) } },
    "Mark as read",
    h("span", { class: "visually-hidden" }, ` ${notice.title}`),
  );
}

function noticeItem(page, notice) {
  const element = h("li", {
    class: notice.read ? "list-row notice" : "list-row notice is-unread",
    dataset: { noticeId: notice.id, kind: notice.kind },
  });
  const top = h(
    "p",
    { class: "list-row-top notice-top" },
    notice.read ? null : h("span", { class: "badge notice-unread" }, "Unread"),
    h("span", { class: "muted" }, momentElement(notice.created_at)),
  );
  element.append(
    h(
      "article",
      { class: "list-row-body", "aria-labelledby": `notice-${notice.id}` },
      h(
        "div",
        { class: "list-row-main" },
        top,
        noticeHeading(page, notice, element),
        notice.body ? h("p", { class: "notice-text prewrap" }, notice.body) : null,
      ),
      readButton(page, notice, element),
    ),
  );
  return element;
}
