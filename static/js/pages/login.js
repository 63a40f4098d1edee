import { login } from "../api.js";
import { createForm, h, pageHeading } from "../dom.js";

export const title = "Sign in";

export function tooManyAttemptsMessage(retryAfterSeconds) {
  const minutes = Math.max(1, Math.ceil((retryAfterSeconds ?? 60) / 60));
  return `Too many attempts, try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`;
}

// "Forgot password?": the reset page starts with the address when one was typed.
function forgotLink(loginControl) {
  const link = h("a", { href: "#/forgot-password" }, "Forgot password?");
  loginControl.addEventListener("input", () => {
    const typed = loginControl.value.trim();
    link.href = typed.includes("@") ? `#/forgot-password?email=${encodeURIComponent(typed)}` : "#/forgot-password";
  });
  return link;
}

export function render(root, context) {
  const form = createForm({
    id: "login-form",
    submitLabel: "Sign in",
    busyLabel: "Signing in…",
    fields: [
      {
        name: "login",
        label: "Username or e-mail",
        autocomplete: "username",
        required: true,
        autocapitalize: "none",
        spellcheck: "false",
      },
      { name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true },
    ],
    onSubmit: (values, view) => signIn(values, view, context),
  });

  root.append(
    h(
      "section",
      { class: "card card-narrow" },
      ...pageHeading(title, "Use your username or e-mail address."),
      form.element,
      h("p", { class: "card-footer" }, forgotLink(form.field("login").control)),
      h("p", { class: "card-footer" }, "New here? ", h("a", { href: "#/register" }, "Create a student account")),
    ),
  );
}

async function signIn(values, view, { query, navigate, safeNext }) {
  const missing = {};
  if (!values.login) missing.login = "Enter your username or e-mail address.";
  if (!values.password) missing.password = "Enter your password.";
  if (Object.keys(missing).length) {
    view.showFieldErrors(missing);
    return;
  }
  try {
    await login(values.login, values.password);
  } catch (error) {
    if (error.status === 429) {
      view.showError(tooManyAttemptsMessage(error.retryAfter));
      return;
    }
    if (error.status === 401 || error.status === 403) {
      view.showError(error.message);
      view.field("password").control.value = "";
      view.field("password").control.focus();
      return;
    }
    throw error;
  }
  navigate(safeNext(query.next));
}
