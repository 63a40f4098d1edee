import { formatMoment, messageRegions } from "../courses.js";
import { h, pageHeading } from "../dom.js";
import { appPathOf, listNotifications, markAllRead, markRead, onUnreadChange } from "../notifications.js";

export const title = "Notifications";

const PAGE_SIZE = 20;

export function render(root, { query, signal, navigate }) {
  const messages = messageRegions();
  const state = { unreadOnly: query.show === "unread", nextCursor: null, count: 0, loading: null };

  const filter = h(
    "select",
    { id: "notifications-show", name: "show" },
    h("option", { value: "all", selected: !state.unreadOnly }, "All notifications"),
    h("option", { value: "unread", selected: state.unreadOnly }, "Unread only"),
  );
  const markAll = h("button", { type: "button", class: "button", hidden: true }, "Mark all read");
  const toolbar = h(
    "div",
    { class: "notices-toolbar" },
    h("div", { class: "field" }, h("label", { for: "notifications-show" }, "Show"), filter),
    markAll,
  );
  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const list = h("ul", { class: "notice-list", "aria-label": "Notifications" });
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");

  function setRead(element) {
    element.classList.remove("is-unread");
    const tag = element.querySelector(".notice-unread");
    if (tag) tag.remove();
    const button = element.querySelector("[data-action='read']");
    if (button) button.remove();
  }

  async function open(notice, element, path, event) {
    event.preventDefault();
    if (!notice.read) {
      try {
        await markRead(notice.id, { signal });
        notice.read = true;
      } catch (error) {
        if (error.name === "AbortError") return;
        // Following the link matters more than the mark: go on.
      }
    }
    setRead(element);
    navigate(path);
  }

  async function readOne(notice, element) {
    messages.clear();
    try {
      await markRead(notice.id, { signal });
      notice.read = true;
      setRead(element);
      element.querySelector(".notice-title").focus();
      messages.say(`Marked “${notice.title}” as read.`);
      if (state.unreadOnly) {
        element.remove();
        state.count -= 1;
        updateSummary();
      }
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    }
  }

  function item(notice) {
    const titleId = `notice-${notice.id}`;
    const path = appPathOf(notice.link);
    const element = h("li", { class: notice.read ? "notice" : "notice is-unread", dataset: { noticeId: notice.id, kind: notice.kind } });
    const heading = h("h2", { class: "notice-title", id: titleId, tabindex: "-1" });
    if (path) {
      heading.append(h("a", { href: `#${path}`, on: { click: (event) => open(notice, element, path, event) } }, notice.title));
    } else {
      heading.append(notice.title);
    }
    element.append(
      h(
        "article",
        { class: "notice-body", "aria-labelledby": titleId },
        h(
          "div",
          { class: "notice-main" },
          h(
            "p",
            { class: "notice-top" },
            notice.read ? null : h("span", { class: "badge notice-unread" }, "Unread"),
            h("time", { datetime: notice.created_at, class: "muted" }, formatMoment(notice.created_at)),
          ),
          heading,
          notice.body ? h("p", { class: "notice-text prewrap" }, notice.body) : null,
        ),
        notice.read
          ? null
          : h(
              "button",
              {
                type: "button",
                class: "button button-small",
                "data-action": "read",
                on: { click: () => readOne(notice, element) },
              },
              "Mark as read",
              h("span", { class: "visually-hidden" }, ` ${notice.title}`),
            ),
      ),
    );
    return element;
  }

  function updateSummary() {
    if (!state.count) {
      summary.textContent = state.unreadOnly ? "You have no unread notifications." : "You have no notifications yet.";
    } else {
      summary.textContent = `Showing ${state.count} ${state.count === 1 ? "notification" : "notifications"}${state.nextCursor ? "; there are more" : ""}.`;
    }
    list.hidden = state.count === 0;
    loadMore.hidden = !state.nextCursor;
  }

  async function load({ reset }) {
    if (state.loading) state.loading.abort();
    const controller = new AbortController();
    state.loading = controller;
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    loadMore.disabled = true;
    try {
      const data = await listNotifications({
        unreadOnly: state.unreadOnly,
        cursor: reset ? null : state.nextCursor,
        limit: PAGE_SIZE,
        signal: controller.signal,
      });
      if (reset) {
        list.replaceChildren();
        state.count = 0;
      }
      const items = (data.items || []).map(item);
      list.append(...items);
      state.count += items.length;
      state.nextCursor = data.next_cursor || null;
      markAll.hidden = !data.unread;
      updateSummary();
      if (!reset && items.length) items[0].querySelector(".notice-title").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      signal.removeEventListener("abort", abort);
      if (state.loading === controller) {
        state.loading = null;
        loadMore.disabled = false;
      }
    }
  }

  markAll.addEventListener("click", async () => {
    messages.clear();
    markAll.disabled = true;
    try {
      await markAllRead({ signal });
      for (const element of list.querySelectorAll(".notice.is-unread")) setRead(element);
      if (state.unreadOnly) await load({ reset: true });
      messages.say("All notifications are marked as read.");
      root.querySelector("h1").focus();
    } catch (error) {
      if (error.name !== "AbortError") messages.complain(error.message);
    } finally {
      markAll.disabled = false;
    }
  });
  filter.addEventListener("change", () => {
    state.unreadOnly = filter.value === "unread";
    const target = state.unreadOnly ? "#/notifications?show=unread" : "#/notifications";
    if (window.location.hash !== target) history.replaceState(history.state, "", target);
    load({ reset: true });
  });
  loadMore.addEventListener("click", () => load({ reset: false }));

  // "Mark all read" is offered while something is unread, here or anywhere.
  const stop = onUnreadChange((count) => {
    markAll.hidden = !count;
  });

  root.append(
    ...pageHeading(title, "Payments, reminders and seats that opened up. Unread ones are highlighted."),
    h(
      "section",
      { class: "card", "aria-label": "Your notifications" },
      toolbar,
      messages.alert,
      messages.status,
      summary,
      list,
      h("div", { class: "list-more" }, loadMore),
    ),
  );
  load({ reset: true });

  return stop;
}
