import { api, getUser, queryString } from "../api.js";
import { confirmDialog, createForm, formatDate, h, messageRegions, pageHeading, uniqueId } from "../dom.js";
import { filterBar, pagedList, tableView } from "../list.js";
import { PASSWORD_MIN_LENGTH, USERNAME_PATTERN } from "./register.js";

export const title = "Users";

const PAGE_SIZE = 20;
const ROLES = [
  { value: "student", label: "Student" },
  { value: "instructor", label: "Instructor" },
  { value: "admin", label: "Administrator" },
];
const roleLabel = (role) => (ROLES.find((entry) => entry.value === role) || { label: role }).label;
const userApi = (user) => `/api/auth/users/${encodeURIComponent(user.id)}`;

export function render(root, { signal }) {
  const page = { signal, me: getUser(), messages: messageRegions(), fresh: new Set() };
  page.list = pagedList({
    signal,
    view: tableView({
      caption: "Users",
      className: "users-table",
      columns: ["User", "E-mail", "Role", "Status", "Joined", { label: "Actions" }],
      row: (user) => userRow(page, user),
    }),
    fetchPage: (filters, cursor, listSignal) =>
      api.get(`/api/auth/users${queryString({ ...filters, limit: PAGE_SIZE, cursor })}`, { signal: listSignal }),
    noun: ["user", "users"],
    emptyText: () => "No users match.",
  });
  page.filters = filterBar({
    idPrefix: "users",
    label: "Find users",
    signal,
    submitLabel: "Search",
    fields: [
      { name: "q", label: "Search", kind: "search", className: "field field-grow", placeholder: "Username, name or e-mail", attrs: { spellcheck: "false" } },
      { name: "role", label: "Role", kind: "select", options: [{ value: "", label: "All roles" }, ...ROLES] },
      {
        name: "status",
        label: "Status",
        kind: "select",
        options: [
          { value: "", label: "Any status" },
          { value: "active", label: "Active" },
          { value: "inactive", label: "Deactivated" },
        ],
      },
    ],
    onChange: (values) => page.list.load(values),
  });
  root.append(
    ...pageHeading("Users", "Create accounts, change roles, deactivate and reactivate."),
    createSection(page),
    listSection(page),
  );
  page.list.load(page.filters.values());
}

function listSection(page) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "users-list-title" },
    h("h2", { id: "users-list-title" }, "All users"),
    page.filters.element,
    page.messages.alert,
    page.messages.status,
    page.list.element,
  );
}

// The button's accessible name carries the username: "Deactivate ada".
const named = (text, user) => [text, h("span", { class: "visually-hidden" }, ` ${user.username}`)];

// A student who never got the e-mail cannot pay: an administrator who knows
// the address is theirs may confirm it for them.
function confirmEmailButton(page, user) {
  if (user.email_verified !== false) return null;
  const click = () => confirmEmail(page, user);
  return h("button", { type: "button", class: "button button-small", "data-action": "verify", on: { click } }, ...named("Confirm e-mail", user));
}

function rowActions(page, user) {
  if (page.me && page.me.id === user.id) return h("span", { class: "muted" }, "This is you");
  const toggleClass = user.is_active ? "button button-small button-danger-outline" : "button button-small";
  return h(
    "div",
    { class: "row-actions" },
    confirmEmailButton(page, user),
    h(
      "button",
      { type: "button", class: "button button-small", "data-action": "role", on: { click: () => changeRole(page, user) } },
      ...named("Change role", user),
    ),
    h(
      "button",
      { type: "button", class: toggleClass, "data-action": "active", on: { click: () => toggleActive(page, user) } },
      ...named(user.is_active ? "Deactivate" : "Reactivate", user),
    ),
  );
}

function userRow(page, user) {
  const status = user.is_active ? ["status status-active", "Active"] : ["status status-inactive", "Deactivated"];
  return h(
    "tr",
    { dataset: { userId: user.id, username: user.username } },
    h(
      "td",
      { "data-label": "User" },
      h(
        "div",
        {},
        h("span", { class: "user-username" }, user.username),
        page.fresh.has(user.id) ? h("span", { class: "tag tag-new" }, "New") : null,
        h("span", { class: "user-fullname" }, user.full_name),
      ),
    ),
    h(
      "td",
      { "data-label": "E-mail", class: "cell-email" },
      // One child: on a phone the cell is a label and one value.
      h(
        "span",
        {},
        user.email,
        user.email_verified === false ? [" ", h("span", { class: "tag", "data-testid": "email-unconfirmed" }, "Not confirmed")] : null,
      ),
    ),
    h("td", { "data-label": "Role" }, h("span", { class: "role-badge", dataset: { role: user.role } }, roleLabel(user.role))),
    h("td", { "data-label": "Status" }, h("span", { class: status[0] }, status[1])),
    h("td", { "data-label": "Joined" }, formatDate(user.created_at)),
    h("td", { class: "cell-actions" }, rowActions(page, user)),
  );
}

async function changeRole(page, user) {
  const selectId = uniqueId("role-select");
  let select;
  const confirmed = await confirmDialog({
    title: `Change ${user.username}'s role`,
    message: `Choose the new role for ${user.full_name || user.username} (now: ${roleLabel(user.role)}).`,
    confirmLabel: "Change role",
    body: () => {
      const options = ROLES.map((role) => h("option", { value: role.value, selected: role.value === user.role }, role.label));
      select = h("select", { id: selectId }, options);
      return h("div", { class: "field" }, h("label", { for: selectId }, "New role"), select);
    },
  });
  if (!confirmed || select.value === user.role) return;
  try {
    const data = await api.patch(userApi(user), { role: select.value }, { signal: page.signal });
    page.list.update(data.user, '[data-action="role"]');
    page.messages.say(`${data.user.username} is now ${roleLabel(data.user.role).toLowerCase()}.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}

async function confirmEmail(page, user) {
  const confirmed = await confirmDialog({
    title: `Confirm ${user.email}?`,
    message: `Only when you know the address is ${user.full_name || user.username}'s (they wrote to you from it, say). Receipts and reminders go there, and it lets them pay.`,
    confirmLabel: "Confirm e-mail",
  });
  if (!confirmed) return;
  try {
    const data = await api.post(`${userApi(user)}/verify-email`, undefined, { signal: page.signal });
    page.list.update(data.user, '[data-action="role"]');
    page.messages.say(`${data.user.email} is confirmed; ${data.user.username} can pay for courses now.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}

async function toggleActive(page, user) {
  const deactivate = user.is_active;
  const who = user.full_name || user.username;
  const confirmed = await confirmDialog({
    title: deactivate ? `Deactivate ${user.username}?` : `Reactivate ${user.username}?`,
    message: deactivate
      ? `${who} will be signed out and will not be able to sign in until reactivated.`
      : `${who} will be able to sign in again.`,
    confirmLabel: deactivate ? "Deactivate" : "Reactivate",
    danger: deactivate,
  });
  if (!confirmed) return;
  try {
    const data = await api.post(`${userApi(user)}/${deactivate ? "deactivate" : "reactivate"}`, undefined, { signal: page.signal });
    page.list.update(data.user, '[data-action="active"]');
    page.messages.say(`${data.user.username} has been ${deactivate ? "deactivated" : "reactivated"}.`);
  } catch (error) {
    if (error.name !== "AbortError") page.messages.complain(error.message);
  }
}

const CREATE_FIELDS = [
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
];

function createSection(page) {
  const form = createForm({
    id: "create-user-form",
    submitLabel: "Create user",
    busyLabel: "Creating…",
    className: "form-columns",
    fields: CREATE_FIELDS,
    async onSubmit(values, view) {
      const data = await api.post("/api/auth/users", values, { signal: page.signal });
      view.reset();
      view.showStatus(`Created ${roleLabel(data.user.role).toLowerCase()} ${data.user.username}.`);
      await page.list.reload();
      // The list's order may put the new account on a later page: keep it in view.
      if (!page.list.items().some((user) => user.id === data.user.id)) {
        page.fresh.add(data.user.id);
        page.list.prepend(data.user, { className: "is-new" });
      }
    },
  });
  return h(
    "details",
    { class: "card disclosure" },
    h("summary", {}, h("span", { class: "disclosure-title" }, "Create a user")),
    h("p", { class: "muted" }, "Accounts created here can sign in right away with the initial password."),
    form.element,
  );
}
