import { api, getUser, queryString } from "../api.js";
import { confirmDialog, createForm, formatDate, h, pageHeading, uniqueId } from "../dom.js";
import { PASSWORD_MIN_LENGTH, USERNAME_PATTERN } from "./register.js";

export const title = "Users";

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 300;
const ROLES = [
  { value: "student", label: "Student" },
  { value: "instructor", label: "Instructor" },
  { value: "admin", label: "Administrator" },
];
const roleLabel = (role) => (ROLES.find((entry) => entry.value === role) || { label: role }).label;

export function render(root, { signal }) {
  const state = { items: [], ids: new Set(), nextCursor: null, loading: null, filters: { q: "", role: "", status: "" } };
  const me = getUser();

  // --- messages ---------------------------------------------------------
  const pageAlert = h("div", { class: "form-alert", role: "alert" });
  const pageStatus = h("div", { class: "form-status", role: "status" });
  const say = (message) => {
    pageAlert.classList.remove("is-visible");
    pageAlert.replaceChildren();
    pageStatus.textContent = message;
    pageStatus.classList.toggle("is-visible", Boolean(message));
  };
  const complain = (message) => {
    pageStatus.classList.remove("is-visible");
    pageStatus.replaceChildren();
    pageAlert.textContent = message;
    pageAlert.classList.toggle("is-visible", Boolean(message));
  };

  // --- filters ------------------------------------------------------------
  const searchInput = h("input", {
    id: "users-q",
    name: "q",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Username, name or e-mail",
  });
  const roleSelect = h(
    "select",
    { id: "users-role", name: "role" },
    h("option", { value: "" }, "All roles"),
    ROLES.map((role) => h("option", { value: role.value }, role.label)),
  );
  const statusSelect = h(
    "select",
    { id: "users-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    h("option", { value: "active" }, "Active"),
    h("option", { value: "inactive" }, "Deactivated"),
  );
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find users" },
    h("div", { class: "field field-grow" }, h("label", { for: "users-q" }, "Search"), searchInput),
    h("div", { class: "field" }, h("label", { for: "users-role" }, "Role"), roleSelect),
    h("div", { class: "field" }, h("label", { for: "users-status" }, "Status"), statusSelect),
    h("div", { class: "field field-button" }, h("button", { type: "submit", class: "button" }, "Search")),
  );

  // --- list ---------------------------------------------------------------
  const summary = h("p", { class: "list-summary", "aria-live": "polite" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "data-table users-table" },
    h("caption", { class: "visually-hidden" }, "Users"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["User", "E-mail", "Role", "Status", "Joined"].map((label) => h("th", { scope: "col" }, label)),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    tbody,
  );
  const loadMore = h("button", { type: "button", class: "button", hidden: true }, "Load more");

  function actionLabel(text, user) {
    return [text, h("span", { class: "visually-hidden" }, ` ${user.username}`)];
  }

  function buildRow(user, { isNew = false } = {}) {
    const self = me && me.id === user.id;
    const actions = self
      ? h("span", { class: "muted" }, "This is you")
      : h(
          "div",
          { class: "row-actions" },
          h(
            "button",
            {
              type: "button",
              class: "button button-small",
              "data-action": "role",
              on: { click: () => changeRole(user) },
            },
            ...actionLabel("Change role", user),
          ),
          h(
            "button",
            {
              type: "button",
              class: user.is_active ? "button button-small button-danger-outline" : "button button-small",
              "data-action": "active",
              on: { click: () => toggleActive(user) },
            },
            ...actionLabel(user.is_active ? "Deactivate" : "Reactivate", user),
          ),
        );
    return h(
      "tr",
      { dataset: { userId: user.id, username: user.username }, class: isNew ? "is-new" : null },
      h(
        "td",
        { "data-label": "User" },
        h(
          "div",
          {},
          h("span", { class: "user-username" }, user.username),
          isNew ? h("span", { class: "tag tag-new" }, "New") : null,
          h("span", { class: "user-fullname" }, user.full_name),
        ),
      ),
      h("td", { "data-label": "E-mail", class: "cell-email" }, h("span", {}, user.email)),
      h("td", { "data-label": "Role" }, h("span", { class: "role-badge", dataset: { role: user.role } }, roleLabel(user.role))),
      h(
        "td",
        { "data-label": "Status" },
        h("span", { class: user.is_active ? "status status-active" : "status status-inactive" }, user.is_active ? "Active" : "Deactivated"),
      ),
      h("td", { "data-label": "Joined" }, formatDate(user.created_at)),
      h("td", { class: "cell-actions" }, actions),
    );
  }

  function updateSummary() {
    const count = state.items.length;
    if (!count) summary.textContent = "No users match.";
    else summary.textContent = `Showing ${count} ${count === 1 ? "user" : "users"}${state.nextCursor ? "; there are more" : ""}.`;
    table.hidden = count === 0;
    loadMore.hidden = !state.nextCursor;
  }

  function addItems(items, { prepend = false, isNew = false } = {}) {
    const fresh = items.filter((user) => !state.ids.has(user.id));
    for (const user of fresh) state.ids.add(user.id);
    const rows = fresh.map((user) => buildRow(user, { isNew }));
    if (prepend) {
      state.items.unshift(...fresh);
      tbody.prepend(...rows);
    } else {
      state.items.push(...fresh);
      tbody.append(...rows);
    }
  }

  function replaceUser(user, focusAction) {
    const index = state.items.findIndex((item) => item.id === user.id);
    if (index === -1) return;
    state.items[index] = user;
    const oldRow = tbody.querySelector(`tr[data-user-id="${CSS.escape(user.id)}"]`);
    const newRow = buildRow(user, { isNew: oldRow && oldRow.classList.contains("is-new") });
    oldRow.replaceWith(newRow);
    const button = focusAction && newRow.querySelector(`[data-action="${focusAction}"]`);
    if (button) button.focus();
  }

  // Loads the first page (reset) or the next one. A newer load cancels an older one.
  async function load({ reset }) {
    if (state.loading) state.loading.abort();
    const controller = new AbortController();
    state.loading = controller;
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    loadMore.disabled = true;
    listSection.setAttribute("aria-busy", "true");
    try {
      const data = await api.get(
        `/api/auth/users${queryString({ ...state.filters, limit: PAGE_SIZE, cursor: reset ? null : state.nextCursor })}`,
        { signal: controller.signal },
      );
      if (reset) {
        state.items = [];
        state.ids.clear();
        tbody.replaceChildren();
      }
      addItems(data.items || []);
      state.nextCursor = data.next_cursor || null;
      updateSummary();
    } catch (error) {
      if (error.name !== "AbortError") complain(error.message);
    } finally {
      signal.removeEventListener("abort", abort);
      if (state.loading === controller) {
        state.loading = null;
        loadMore.disabled = false;
        listSection.removeAttribute("aria-busy");
      }
    }
  }

  function applyFilters() {
    const filters = { q: searchInput.value.trim(), role: roleSelect.value, status: statusSelect.value };
    if (JSON.stringify(filters) === JSON.stringify(state.filters)) return;
    state.filters = filters;
    load({ reset: true });
  }

  let searchTimer = null;
  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilters, SEARCH_DELAY_MS);
  });
  roleSelect.addEventListener("change", applyFilters);
  statusSelect.addEventListener("change", applyFilters);
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    applyFilters();
  });
  loadMore.addEventListener("click", () => load({ reset: false }));

  // --- actions ------------------------------------------------------------
  async function changeRole(user) {
    const selectId = uniqueId("role-select");
    let select;
    const confirmed = await confirmDialog({
      title: `Change ${user.username}'s role`,
      message: `Choose the new role for ${user.full_name || user.username} (now: ${roleLabel(user.role)}).`,
      confirmLabel: "Change role",
      body: () => {
        select = h(
          "select",
          { id: selectId },
          ROLES.map((role) => h("option", { value: role.value, selected: role.value === user.role }, role.label)),
        );
        return h("div", { class: "field" }, h("label", { for: selectId }, "New role"), select);
      },
    });
    if (!confirmed || select.value === user.role) return;
    try {
      const data = await api.patch(`/api/auth/users/${encodeURIComponent(user.id)}`, { role: select.value }, { signal });
      replaceUser(data.user, "role");
      say(`${data.user.username} is now ${roleLabel(data.user.role).toLowerCase()}.`);
    } catch (error) {
      if (error.name !== "AbortError") complain(error.message);
    }
  }

  async function toggleActive(user) {
    const deactivate = user.is_active;
    const confirmed = await confirmDialog({
      title: deactivate ? `Deactivate ${user.username}?` : `Reactivate ${user.username}?`,
      message: deactivate
        ? `${user.full_name || user.username} will be signed out and will not be able to sign in until reactivated.`
        : `${user.full_name || user.username} will be able to sign in again.`,
      confirmLabel: deactivate ? "Deactivate" : "Reactivate",
      danger: deactivate,
    });
    if (!confirmed) return;
    const verb = deactivate ? "deactivate" : "reactivate";
    try {
      const data = await api.post(`/api/auth/users/${encodeURIComponent(user.id)}/${verb}`, undefined, { signal });
      replaceUser(data.user, "active");
      say(`${data.user.username} has been ${deactivate ? "deactivated" : "reactivated"}.`);
    } catch (error) {
      if (error.name !== "AbortError") complain(error.message);
    }
  }

  // --- create -------------------------------------------------------------
  const createUserForm = createForm({
    id: "create-user-form",
    submitLabel: "Create user",
    busyLabel: "Creating…",
    className: "form-columns",
    fields: [
      {
        name: "username",
        label: "Username",
        autocomplete: "off",
        required: true,
        autocapitalize: "none",
        spellcheck: "false",
        hint: "3 to 32 characters: a–z, 0–9, _ . -",
        check: (value) => USERNAME_PATTERN.test(value),
      },
      { name: "full_name", label: "Full name", autocomplete: "off", required: true },
      { name: "email", label: "E-mail", type: "email", autocomplete: "off", required: true, spellcheck: "false" },
      {
        name: "password",
        label: "Initial password",
        type: "password",
        autocomplete: "new-password",
        required: true,
        hint: `At least ${PASSWORD_MIN_LENGTH} characters. Share it with the user privately.`,
        check: (value) => value.length >= PASSWORD_MIN_LENGTH,
      },
      { name: "role", label: "Role", required: true, options: ROLES, value: "student" },
    ],
    async onSubmit(values, view) {
      const data = await api.post("/api/auth/users", values, { signal });
      view.reset();
      view.showStatus(`Created ${roleLabel(data.user.role).toLowerCase()} ${data.user.username}.`);
      await load({ reset: true });
      // The list's order may put the new account on a later page: keep it in view.
      addItems([data.user], { prepend: true, isNew: true });
      updateSummary();
    },
  });

  const createSection = h(
    "details",
    { class: "card disclosure" },
    h("summary", {}, h("span", { class: "disclosure-title" }, "Create a user")),
    h("p", { class: "muted" }, "Accounts created here can sign in right away with the initial password."),
    createUserForm.element,
  );

  const listSection = h(
    "section",
    { class: "card", "aria-labelledby": "users-list-title" },
    h("h2", { id: "users-list-title" }, "All users"),
    filterForm,
    pageAlert,
    pageStatus,
    summary,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "list-more" }, loadMore),
  );

  root.append(...pageHeading("Users", "Create accounts, change roles, deactivate and reactivate."), createSection, listSection);
  load({ reset: true });

  return () => clearTimeout(searchTimer);
}
