// What a student reads when paying is refused or cannot start, with the next
// step: confirm the e-mail address (the notice at the top of the page sends
// the link again), or pay later from the payment's own page.
import { api, getUser, updateCurrentUser } from "./api.js";
import { h } from "./dom.js";
import { payByElement, paymentPath } from "./payments.js";
import { focusVerifyNotice, needsVerification } from "./verify-notice.js";

// The server says the address is unconfirmed; the tab may not know yet (it
// was changed in another tab): ask, so the notice appears.
async function showNotice() {
  const data = await api.get("/api/auth/me").catch(() => null);
  if (data && data.user) updateCurrentUser(data.user);
}

export function unverified() {
  showNotice();
  const user = getUser();
  const where = user && user.email ? ` to ${user.email}` : "";
  return [
    `Paying needs a confirmed e-mail address. Open the link we e-mailed you${where}; no e-mail? `,
    "Send it again from the notice at the top of the page. ",
    h("button", { type: "button", class: "button button-small", on: { click: focusVerifyNotice } }, "Go to the notice"),
  ];
}

// Whether paying would be refused for the address (asked afresh: it may have
// been confirmed in another tab). A seat held only while paying is not taken
// when it could not be paid.
export async function cannotPayYet() {
  if (!needsVerification(getUser())) return false;
  await showNotice();
  return needsVerification(getUser());
}

// The seats were held and their payment written, but the provider did not
// open its page: they stay held until the payment falls due (dueAt, when known).
export function providerDownWithPayment(paymentId, { seats = "Your seats are", dueAt = null } = {}) {
  return [
    `The payment provider could not be reached, so its payment page did not open. ${seats} held all the same: `,
    h("a", { href: `#${paymentPath(paymentId)}`, "data-testid": "held-payment-link" }, "pay from the payment's page"),
    dueAt ? [" later. ", payByElement(dueAt), "."] : " later, before it falls due.",
  ];
}

// The message for an error from checkout, "Pay now" or paying for a held seat.
export function payProblem(error) {
  if (error.code === "email_not_verified") return unverified();
  const paymentId = error.fields && error.fields.payment_id;
  if (error.code === "payment_provider_unavailable" && paymentId) return providerDownWithPayment(paymentId);
  if (error.code === "payment_provider_unavailable") {
    return "The payment provider could not be reached. Nothing was charged; try again in a few minutes.";
  }
  return error.message;
}
