// The page a password reset link opens: choose a new password. The link's
// token stays in the address, so a reload keeps the page working.
import { api, getUser, logout } from "../api.js";
import { createForm, h, pageHeading } from "../dom.js";
import { PASSWORD_MIN_LENGTH } from "./register.js";

export const title = "Choose a new password";

function deadLink(message) {
  return h(
    "div",
    { class: "state-box state-box-danger", tabindex: "-1", "data-testid": "reset-link-invalid" },
    h("strong", {}, "This link does not work"),
    h("span", {}, message),
    h("span", {}, h("a", { href: "#/forgot-password" }, "Ask for a new link")),
  );
}

export function render(root, { query, navigate, flash, signal }) {
  const token = typeof query.token === "string" ? query.token : "";
  const card = h("section", { class: "card card-narrow" }, ...pageHeading(title));
  root.append(card);
  if (!token) {
    card.append(deadLink("The address is missing its code. Open the link from the e-mail again."));
    return;
  }

  const form = createForm({
    id: "reset-form",
    submitLabel: "Save the new password",
    busyLabel: "Saving…",
    fields: [
      {
        name: "new_password",
        label: "New password",
        type: "password",
        autocomplete: "new-password",
        required: true,
        hint: `At least ${PASSWORD_MIN_LENGTH} characters. A passphrase of a few words works well.`,
        check: (value) => value.length >= PASSWORD_MIN_LENGTH,
      },
      { name: "confirm_password", label: "Repeat the new password", type: "password", autocomplete: "new-password", required: true },
    ],
    async onSubmit(values, view) {
      if (values.new_password !== values.confirm_password) {
        view.showFieldErrors({ confirm_password: "The two passwords do not match." });
        return;
      }
      try {
        await api.post("/api/auth/password-reset/confirm", { token, new_password: values.new_password }, { signal, auth: false });
      } catch (error) {
        if (error.code === "invalid_link") {
          form.element.replaceWith(deadLink(error.message));
          card.querySelector("[data-testid=reset-link-invalid]").focus();
          return;
        }
        throw error;
      }
      // Every session of the account has ended, this browser's too.
      if (getUser()) await logout();
      flash("Your password has been changed, and every session was signed out. Sign in with the new password.");
      navigate("/login", { replace: true });
    },
  });
  card.append(h("p", { class: "page-lead" }, "Choose a new password for your account. Every device signed in to it will be signed out."), form.element);
}
