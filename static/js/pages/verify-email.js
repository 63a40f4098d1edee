// The page a verification link opens: it confirms the address at once and
// says how that went, with a way forward for each outcome.
import { api, getUser, updateCurrentUser } from "../api.js";
import { focusLateHeading, h, pageHeading } from "../dom.js";

export const title = "Confirm your e-mail address";

const LOADING_DELAY_MS = 200;

function outcome(tone, heading, ...lines) {
  return h(
    "div",
    { class: `state-box state-box-${tone}`, tabindex: "-1", "data-testid": "verify-state" },
    h("strong", {}, heading),
    ...lines.map((line) => h("span", {}, line)),
  );
}

function nextSteps(user) {
  if (user) return ["You can now pay for courses. ", h("a", { href: "#/catalog" }, "Browse the catalog")];
  return [h("a", { href: "#/login" }, "Sign in"), " to pay for courses."];
}

function failed(error, retry) {
  const user = getUser();
  if (error.code === "invalid_link" && user && user.email_verified) {
    return outcome("info", "Your e-mail address is already confirmed", "This link is no longer needed: there is nothing more to do.");
  }
  if (error.code === "invalid_link") {
    const help = user
      ? [h("a", { href: "#/profile" }, "Ask for a new link"), " on your profile page."]
      : [h("a", { href: "#/login?next=%2Fprofile" }, "Sign in"), " and ask for a new link on your profile page."];
    return outcome("danger", "This link does not work", error.message, help);
  }
  const button = h("button", { type: "button", class: "button button-small", on: { click: retry } }, "Retry");
  return outcome("danger", "Your address could not be confirmed", error.message, button);
}

export function render(root, { query, signal }) {
  const token = typeof query.token === "string" ? query.token : "";
  const slot = h("div", { "aria-live": "polite" });
  root.append(h("section", { class: "card card-narrow" }, ...pageHeading(title), slot));

  const show = (element) => {
    slot.replaceChildren(element);
    focusLateHeading(root);
  };
  if (!token) {
    show(failed({ code: "invalid_link", message: "The address is missing its code. Open the link from the e-mail again." }));
    return;
  }

  async function confirm() {
    // A spinner only when it takes a moment: a quick answer does not flicker.
    const loading = setTimeout(() => show(h("p", { class: "loading", "data-testid": "verify-loading" }, "Confirming your address…")), LOADING_DELAY_MS);
    try {
      await api.post("/api/auth/verify-email", { token }, { signal, auth: false });
    } catch (error) {
      if (error.name !== "AbortError") show(failed(error, confirm));
      return;
    } finally {
      clearTimeout(loading);
    }
    const user = getUser();
    if (user) {
      const fresh = await api.get("/api/auth/me", { signal }).catch(() => null);
      if (fresh && fresh.user) updateCurrentUser(fresh.user);
    }
    show(outcome("success", "Your e-mail address is confirmed", nextSteps(user)));
  }
  confirm();
}
