// "Forgot password?": asks for a reset link. The answer is the same whether
// or not an account uses the address, so the page says it the same way.
import { api } from "../api.js";
import { createForm, h, pageHeading } from "../dom.js";
import { tooManyAttemptsMessage } from "./login.js";

export const title = "Reset your password";

function sent(message, email) {
  return h(
    "div",
    { class: "state-box state-box-success", tabindex: "-1", "data-testid": "reset-requested" },
    h("strong", {}, "Check your e-mail"),
    h("span", {}, message),
    h("span", {}, `You asked for: ${email}. No e-mail after a few minutes? Check your spam folder, or ask again.`),
  );
}

export function render(root, { query, signal }) {
  const result = h("div", {});
  const form = createForm({
    id: "forgot-form",
    submitLabel: "E-mail me a link",
    busyLabel: "Sending…",
    fields: [
      {
        name: "email",
        label: "E-mail",
        type: "email",
        autocomplete: "email",
        required: true,
        spellcheck: "false",
        value: typeof query.email === "string" ? query.email : "",
        hint: "The address of your account. We e-mail it a link to choose a new password.",
      },
    ],
    async onSubmit(values, view) {
      if (!values.email) {
        view.showFieldErrors({ email: "Enter your e-mail address." });
        return;
      }
      try {
        const data = await api.post("/api/auth/password-reset", { email: values.email }, { signal, auth: false });
        result.replaceChildren(sent(data.message, values.email));
        result.firstChild.focus();
      } catch (error) {
        if (error.status === 429) {
          view.showError(tooManyAttemptsMessage(error.retryAfter));
          return;
        }
        throw error;
      }
    },
  });

  root.append(
    h(
      "section",
      { class: "card card-narrow" },
      ...pageHeading(title, "Forgot your password? We can e-mail you a link to choose a new one."),
      result,
      form.element,
      h("p", { class: "card-footer" }, "Remembered it? ", h("a", { href: "#/login" }, "Sign in")),
    ),
  );
}
