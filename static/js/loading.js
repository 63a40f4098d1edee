// Loading and failure, the same on every page: a spinner that appears only
// when a load takes longer than a moment (so fast loads do not flicker), and
// an error with a "Retry" button that runs the same load again.
import { focusLateHeading, h, pageHeading } from "./dom.js";

// Below this a load feels instant and shows nothing; above it, a spinner.
export const LOADING_DELAY_MS = 200;

export function loadingIndicator(label = "Loading…") {
  return h(
    "div",
    { class: "loading-state", role: "status", "data-testid": "loading" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", {}, label),
  );
}

// Puts the indicator into slot (replacing what is there) once the delay has
// passed; the returned function cancels it, or removes it once shown.
export function showLoadingLater(slot, label, { replace = true, delay = LOADING_DELAY_MS } = {}) {
  const indicator = loadingIndicator(label);
  const timer = setTimeout(() => {
    if (replace) slot.replaceChildren(indicator);
    else slot.append(indicator);
  }, delay);
  return () => {
    clearTimeout(timer);
    indicator.remove();
  };
}

// Whether trying again may help: the network, a busy or failing server.
export function isRetryable(error) {
  return Boolean(error) && (error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500);
}

// An error box; with a retry function and a retryable error, a "Retry" button.
export function errorNotice(error, retry, { title = "Could not load this." } = {}) {
  const button = retry && isRetryable(error) ? retryButton(retry) : null;
  return h(
    "div",
    { class: "load-error", role: "alert", "data-testid": "load-error" },
    h("p", {}, title ? [h("strong", {}, title), " "] : null, (error && error.message) || "Something went wrong."),
    button,
  );
}

function retryButton(retry) {
  const button = h("button", { type: "button", class: "button button-small" }, "Retry");
  button.addEventListener("click", () => {
    button.disabled = true;
    retry();
  });
  return button;
}

// A whole page that needs data before it can show anything. load(signal)
// resolves with the data; show(data) draws the page into root. A failure
// shows failed(error) (a 404's own words, say) or a heading, the message and
// "Retry" for failures worth retrying.
export function loadPage(root, options) {
  const title = options.title || "Could not load the page";
  return startLoading(root, options, (error, retry) => [...pageHeading(title), errorNotice(error, retry, { title: null })]);
}

// The same for one part of a page below its heading: a failure shows the
// message and "Retry" in place of the part.
export function loadInto(slot, options) {
  return startLoading(slot, options, (error, retry) => [errorNotice(error, retry, { title: options.title })]);
}

// A failed(error) for loadPage: a page of its own for "not found" (and the
// given other statuses, such as 403), with a way back; null for the rest.
export function whenMissing({ title, lead, href, link, statuses = [404] }) {
  return (error) => {
    if (!statuses.includes(error.status)) return null;
    const heading = typeof title === "function" ? title(error) : title;
    const words = typeof lead === "function" ? lead(error) : lead;
    return [...pageHeading(heading, words), h("p", {}, h("a", { href }, link))];
  };
}

function startLoading(slot, { signal, label, load, show, failed }, failure) {
  // After "Retry" the button is gone: focus goes to the new heading, or the slot.
  const attempt = async ({ refocus = false } = {}) => {
    const stop = showLoadingLater(slot, label);
    try {
      const data = await load(signal);
      stop();
      show(data);
    } catch (error) {
      stop();
      if (error && error.name === "AbortError") return;
      const custom = failed ? failed(error) : null;
      slot.replaceChildren(...(custom || failure(error, () => attempt({ refocus: true }))));
    }
    settleFocus(slot, refocus);
  };
  slot.replaceChildren();
  return attempt();
}

function settleFocus(slot, refocus) {
  if (!refocus) {
    focusLateHeading(slot);
    return;
  }
  const target = slot.querySelector("h1") || slot.querySelector("a[href], button:not([disabled])");
  if (target) target.focus();
}
