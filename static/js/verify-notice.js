// What an account with an unconfirmed e-mail address sees: it may browse and
// take free courses, but paying needs a confirmed address. The notice says so
// and sends the link again on request.
import { api, updateCurrentUser } from "./api.js";
import { h, uniqueId } from "./dom.js";
import { tooManyAttemptsMessage } from "./pages/login.js";

export function needsVerification(user) {
  return Boolean(user) && user.email_verified === false;
}

async function resend(button, status) {
  button.disabled = true;
  status.textContent = "Sending a new link…";
  try {
    const data = await api.post("/api/auth/me/verify-email");
    status.textContent = data.message;
  } catch (error) {
    if (error.code === "already_verified") {
      status.textContent = error.message;
      const fresh = await api.get("/api/auth/me").catch(() => null);
      if (fresh && fresh.user) updateCurrentUser(fresh.user);
      return;
    }
    status.textContent = error.status === 429 ? tooManyAttemptsMessage(error.retryAfter) : error.message;
  }
  button.disabled = false;
}

export function verifyNotice(user) {
  const headingId = uniqueId("verify-notice");
  const status = h("p", { class: "verify-notice-status", role: "status" });
  const button = h(
    "button",
    { type: "button", class: "button button-small", on: { click: () => resend(button, status) } },
    "Send the link again",
  );
  return h(
    "section",
    { class: "state-box state-box-warning", "aria-labelledby": headingId, "data-testid": "verify-notice", tabindex: "-1" },
    h("strong", { id: headingId }, "Confirm your e-mail address to pay for courses"),
    h(
      "span",
      {},
      `We e-mailed a link to ${user.email}: open it to confirm the address. Until then you can ` +
        "browse and take free courses. No e-mail? Check your spam folder, or send it again.",
    ),
    h("div", {}, button),
    status,
  );
}

// The notice at the top of every page for such an account (its own pages,
// the profile and the link's page, show it their own way).
export function renderVerifyBanner(slot, user, path) {
  const own = path === "/profile" || path === "/verify-email";
  slot.replaceChildren(...(needsVerification(user) && !own ? [verifyNotice(user)] : []));
}

// Takes the reader to the notice and its "Send the link again" (a refusal to
// pay points there); false when the page shows no notice.
export function focusVerifyNotice() {
  const notice = document.querySelector(".verify-banner [data-testid='verify-notice']");
  if (!notice) return false;
  notice.scrollIntoView({ block: "start" });
  (notice.querySelector("button:not([disabled])") || notice).focus();
  return true;
}
