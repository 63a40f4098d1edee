import { api, updateCurrentUser } from "../api.js";
import { createForm, formatDate, h, pageHeading } from "../dom.js";
import { needsVerification, verifyNotice } from "../verify-notice.js";
import { PASSWORD_MIN_LENGTH } from "./register.js";

export const title = "Your profile";

const roleNames = { student: "Student", instructor: "Instructor", admin: "Administrator" };

function emailState(user) {
  if (user.email_verified === undefined) return null;
  return user.email_verified
    ? h("span", { class: "status status-active", "data-testid": "profile-email-state" }, "Confirmed")
    : h("span", { class: "status status-inactive", "data-testid": "profile-email-state" }, "Not confirmed yet");
}

function detailsList(user) {
  const rows = [
    ["Username", user.username, "profile-username"],
    ["Full name", user.full_name, "profile-full-name"],
    ["E-mail", user.email, "profile-email"],
    ["E-mail status", emailState(user), "profile-email-confirmed"],
    ["Role", roleNames[user.role] || user.role, "profile-role"],
    ["Member since", formatDate(user.created_at), "profile-created"],
  ];
  return h(
    "dl",
    { class: "details" },
    rows.map(([label, value, testId]) =>
      value === null
        ? null
        : h("div", { class: "details-row" }, h("dt", {}, label), h("dd", { "data-testid": testId }, value || "—")),
    ),
  );
}

function showNotice(slot, user) {
  slot.replaceChildren(...(needsVerification(user) ? [verifyNotice(user)] : []));
}

// A new address needs the current password (a password reset goes there);
// the name and the address's case do not.
function detailsChange(values, shown) {
  const moving = values.email.toLowerCase() !== shown.email.toLowerCase();
  const body = { full_name: values.full_name, email: values.email };
  if (moving) body.current_password = values.current_password;
  return { moving, body, missingPassword: moving && !values.current_password };
}

function savedMessage(moving, user) {
  if (!moving) return "Your details have been saved.";
  return `Your details have been saved. We e-mailed a link to ${user.email}: open it to confirm the new address.`;
}

export function render(root, { user, signal }) {
  const detailsSlot = h("div", {}, detailsList(user));
  const noticeSlot = h("div", {});
  let shown = user;
  const showUser = (fresh) => {
    shown = fresh;
    detailsSlot.replaceChildren(detailsList(fresh));
    showNotice(noticeSlot, fresh);
    updateCurrentUser(fresh);
  };
  showNotice(noticeSlot, user);

  root.append(
    ...pageHeading(title, "Your account details and sign-in settings."),
    noticeSlot,
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
        detailsForm(user, { signal, showUser, current: () => shown }).element,
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

function detailsForm(user, { signal, showUser, current }) {
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
      {
        name: "current_password",
        label: "Current password",
        type: "password",
        autocomplete: "current-password",
        optionalLabel: false,
        hint: "Needed only to change your e-mail address: a password reset link goes there.",
      },
    ],
    async onSubmit(values, view) {
      const change = detailsChange(values, current());
      if (change.missingPassword) {
        view.showFieldErrors({ current_password: "Enter your current password to change your e-mail address." });
        return;
      }
      const data = await api.patch("/api/auth/me", change.body, { signal });
      view.field("current_password").control.value = "";
      showUser(data.user);
      view.showStatus(savedMessage(change.moving, data.user));
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
