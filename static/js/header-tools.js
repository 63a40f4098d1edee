// The header's notification bell (everyone signed in) and cart link (students),
// each with its count. Both refresh on every navigation; the unread count also
// every 30 seconds while the tab is visible, and whenever a page changes it.
import { getUser } from "./api.js";
import { cartCount, forgetCart, loadCart, onCartChange } from "./cart.js";
import { h, icon } from "./dom.js";
import { forgetUnread, onUnreadChange, refreshUnread, unreadCount } from "./notifications.js";

const REFRESH_MS = 30_000;
const BELL = ["M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9", "M10.3 21a1.94 1.94 0 0 0 3.4 0"];
const CART = [
  "M2 3h3l2.7 12.4a1 1 0 0 0 1 .8h9.5a1 1 0 0 0 1-.8L21 7H6",
  "M9 20.5a.5.5 0 1 0 0-1 .5.5 0 0 0 0 1z",
  "M18 20.5a.5.5 0 1 0 0-1 .5.5 0 0 0 0 1z",
];

let root = null;
let live = null;
let bell = null;
let cartLink = null;
let shownFor = null; // the user id the tools were drawn for
let timer = null;

const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

function countBadge(count) {
  return count > 0 ? h("span", { class: "tool-count", "aria-hidden": "true" }, count > 99 ? "99+" : String(count)) : null;
}

function drawBell() {
  if (!bell) return;
  const count = unreadCount() || 0;
  const label = count > 0 ? `Notifications, ${count} unread` : "Notifications";
  bell.setAttribute("aria-label", label);
  bell.setAttribute("title", label);
  bell.classList.toggle("has-count", count > 0);
  bell.replaceChildren(...[icon(BELL), countBadge(count)].filter(Boolean));
}

function drawCart() {
  if (!cartLink) return;
  const count = cartCount();
  const label = count > 0 ? `Cart, ${plural(count, "item", "items")}` : "Cart, empty";
  cartLink.setAttribute("aria-label", label);
  cartLink.setAttribute("title", label);
  cartLink.replaceChildren(...[icon(CART), countBadge(count)].filter(Boolean));
}

// Draws the tools for whoever is signed in; call after every navigation.
export function renderHeaderTools(container, liveRegion, currentPath) {
  root = container;
  live = liveRegion;
  const user = getUser();
  if (!user) {
    if (shownFor !== null) {
      root.replaceChildren();
      bell = null;
      cartLink = null;
      shownFor = null;
      live.textContent = "";
      forgetUnread();
      forgetCart();
    }
    return;
  }
  if (shownFor !== user.id || (user.role === "student") !== Boolean(cartLink)) {
    bell = h("a", { href: "#/notifications", class: "tool-link", "data-testid": "notification-bell" });
    cartLink = user.role === "student" ? h("a", { href: "#/cart", class: "tool-link", "data-testid": "cart-link" }) : null;
    root.replaceChildren(...[cartLink, bell].filter(Boolean));
    shownFor = user.id;
    drawBell();
    drawCart();
  }
  for (const link of [bell, cartLink]) {
    if (!link) continue;
    if (link.getAttribute("href") === `#${currentPath}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Asks the server for the counts again. Failures keep the last counts.
export async function refreshCounts() {
  const user = getUser();
  if (!user) return;
  const jobs = [refreshUnread()];
  if (user.role === "student") jobs.push(loadCart());
  await Promise.allSettled(jobs);
}

export function startHeaderTools() {
  let previous = unreadCount();
  onUnreadChange((count) => {
    drawBell();
    // Say so when something new arrives, not when the user reads them.
    if (live && previous !== null && count !== null && count > previous) {
      live.textContent = `${plural(count, "unread notification", "unread notifications")}.`;
    }
    previous = count;
  });
  onCartChange(drawCart);

  // Notifications arrive on their own; the cart changes only through this app.
  const tick = () => {
    if (document.visibilityState === "visible" && getUser()) refreshUnread().catch(() => {});
  };
  clearInterval(timer);
  timer = setInterval(tick, REFRESH_MS);
  document.addEventListener("visibilitychange", tick);
}
