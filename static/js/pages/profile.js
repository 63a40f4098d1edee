import { api, updateCurrentUser } from "../api.js";
import { createForm, formatDate, h, pageHeading } from "../dom.js";
import { PASSWORD_MIN_LENGTH } from "./register.js";

export const title = "Your profile";

const roleNames = { student: "Student", instructor: "Instructor", admin: "Administrator" };

function detailsList(user) {
  const rows = [
    ["Username", user.username, "profile-username"],
    ["Full name", user.full_name, "profile-full-name"],
    ["E-mail", user.email, "profile-email"],
    ["Role", roleNames[user.role] || user.role, "profile-role"],
    ["Member since", formatDate(user.created_at), "profile-created"],
  ];
  return h(
    "dl",
    { class: "details" },
    rows.map(([label, value, testId]) =>
      h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value || "—")),
    ),
  );
}

export function render(root, { user, signal }) {
  const detailsSlot = h("div", {}, detailsList(user));
  const showUser = (fresh) => {
    detailsSlot.replaceChildren(detailsList(fresh));
    updateCurrentUser(fresh);
  };

  root.append(
    ...pageHeading(title, "Your account details and sign-in settings."),
    h(
      "div",
      { class: "grid-2" },
      h(
        "section",
        { class: "card", "aria-labelledby": "profile-account" },
        h("h2", { id: "profile-account" }, "Account"),
        detailsSlot,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "profile-edit" },
        h("h2", { id: "profile-edit" }, "Edit your details"),
        detailsForm(user, { signal, showUser }).element,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "profile-password" },
        h("h2", { id: "profile-password" }, "Change password"),
        passwordForm({ signal }).element,
      ),
    ),
  );

  // The session's copy of the user may be a little old: show the server's.
  api
    .get("/api/auth/me", { signal })
    .then((data) => {
      if (data && data.user) showUser(data.user);
    })
    .catch(() => {
      // The cached details stay on screen; a lost session is handled by the shell.
    });
}

function detailsForm(user, { signal, showUser }) {
  return createForm({
    id: "profile-form",
    submitLabel: "Save changes",
    busyLabel: "Saving…",
    fields: [
      { name: "full_name", label: "Full name", autocomplete: "name", required: true, value: user.full_name },
      {
        name: "email",
        label: "E-mail",
        type: "email",
        autocomplete: "email",
        required: true,
        spellcheck: "false",
        value: user.email,
      },
    ],
    async onSubmit(values, view) {
      const data = await api.patch("/api/auth/me", values, { signal });
      showUser(data.user);
      view.showStatus("Your details have been saved.");
    },
  });
}

function passwordForm({ signal }) {
  return createForm({
    id: "password-form",
    submitLabel: "Change password",
    busyLabel: "Changing password…",
    fields: [
      {
        name: "current_password",
        label: "Current password",
        type: "password",
        autocomplete: "current-password",
        required: true,
      },
      {
        name: "new_password",
        label: "New password",
        type: "password",
        autocomplete: "new-password",
        required: true,
        hint: `At least ${PASSWORD_MIN_LENGTH} characters.`,
        check: (value) => value.length >= PASSWORD_MIN_LENGTH,
      },
      {
        name: "confirm_password",
        label: "Repeat the new password",
        type: "password",
        autocomplete: "new-password",
        required: true,
      },
    ],
    onSubmit: (values, view) => changePassword(values, view, { signal }),
  });
}

async function changePassword(values, view, { signal }) {
  if (values.new_password !== values.confirm_password) {
    view.showFieldErrors({ confirm_password: "The two new passwords do not match." });
    return;
  }
  await api.post(
    "/api/auth/me/password",
    { current_password: values.current_password, new_password: values.new_password },
    { signal },
  );
  view.reset();
  view.showStatus("Your password has been changed.");
}
