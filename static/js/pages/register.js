import { login, register } from "../api.js";
import { createForm, h, pageHeading } from "../dom.js";

export const title = "Create account";

export const USERNAME_PATTERN = /^[a-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN_LENGTH = 10;

export function render(root, { navigate, flash }) {
  const form = createForm({
    id: "register-form",
    submitLabel: "Create account",
    busyLabel: "Creating account…",
    fields: [
      {
        name: "username",
        label: "Username",
        autocomplete: "username",
        required: true,
        autocapitalize: "none",
        spellcheck: "false",
        hint: "3 to 32 characters: lowercase letters a–z, digits 0–9, and _ . -",
        check: (value) => USERNAME_PATTERN.test(value),
      },
      { name: "full_name", label: "Full name", autocomplete: "name", required: true },
      {
        name: "email",
        label: "E-mail",
        type: "email",
        autocomplete: "email",
        required: true,
        spellcheck: "false",
      },
      {
        name: "password",
        label: "Password",
        type: "password",
        autocomplete: "new-password",
        required: true,
        hint: `At least ${PASSWORD_MIN_LENGTH} characters. A passphrase of a few words works well.`,
        check: (value) => value.length >= PASSWORD_MIN_LENGTH,
      },
    ],
    // The hints above guide the user; the API has the last word and its
    // per-field messages are shown next to the fields.
    onSubmit: (values) => signUp(values, { navigate, flash }),
  });

  root.append(
    h(
      "section",
      { class: "card card-narrow" },
      ...pageHeading(title, "Register as a student to enroll in courses."),
      form.element,
      h("p", { class: "card-footer" }, "Already have an account? ", h("a", { href: "#/login" }, "Sign in")),
    ),
  );
}

async function signUp(values, { navigate, flash }) {
  await register(values);
  try {
    await login(values.username, values.password);
  } catch {
    // The account exists now; signing in is a separate step that can be retried.
    flash("Your account was created. Please sign in.");
    navigate("/login");
    return;
  }
  flash(`Your account is ready. Welcome, ${values.full_name || values.username}!`);
  navigate("/");
}
