// The app shell: session restore, hash routing, navigation and the mobile menu.
import { getUser, logout, onUserChange, refreshSession } from "./api.js";
import { confirmDialog, h } from "./dom.js";
import { refreshCounts, renderHeaderTools, startHeaderTools } from "./header-tools.js";
import { showLoadingLater } from "./loading.js";
import { checkAccess, forbiddenPage, matchRoute, notFoundPage, routes } from "./routes.js";
import { renderVerifyBanner } from "./verify-notice.js";

const SITE_NAME = "Student Portal";

const header = document.querySelector(".site-header");
const navToggle = document.getElementById("nav-toggle");
const navLinks = document.getElementById("nav-links");
const navUser = document.getElementById("nav-user");
const headerTools = document.getElementById("header-tools");
const headerLive = document.getElementById("header-live");
const main = document.getElementById("main");
const flashRegion = document.getElementById("flash");
const pageRoot = document.getElementById("page");
const verifyBanner = h("div", { class: "verify-banner" });
flashRegion.after(verifyBanner);

let renderCount = 0;
let currentPage = null; // { path, hash, route, controller, cleanup, guard }
let pendingFlash = null;
let signingOut = false;
let leaveConfirmed = false; // the user already agreed to leave the current page
let stopPageSpinner = () => {}; // the latest page module's spinner, until it loads

export function parseHash(hash = window.location.hash) {
  const raw = hash.startsWith("#/") ? hash.slice(1) : "/";
  const [pathPart, queryPart = ""] = raw.split("?");
  return { path: pathPart || "/", query: Object.fromEntries(new URLSearchParams(queryPart)) };
}

// Goes to "#<path>". replace=true does not add a history entry (redirects).
export function navigate(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (window.location.hash === target) {
    renderRoute();
  } else if (replace) {
    window.location.replace(target);
  } else {
    window.location.hash = target;
  }
}

// A message shown once, at the top of the next page (e.g. "You have signed out").
export function flash(message) {
  pendingFlash = message;
}

function showFlash() {
  flashRegion.replaceChildren();
  flashRegion.classList.toggle("is-visible", Boolean(pendingFlash));
  if (pendingFlash) {
    flashRegion.append(h("p", {}, pendingFlash));
    pendingFlash = null;
  }
}

function safeNext(next) {
  // Only in-app paths, so ?next= cannot send anyone to another site.
  return typeof next === "string" && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

// Which page module to show for the address, or a redirect already made.
function resolveRoute(path, query) {
  const match = matchRoute(path);
  if (!match) return { load: notFoundPage, match: null, params: {} };
  const access = checkAccess(match.route, getUser());
  if (access === "sign-in") {
    flash("Please sign in to continue.");
    navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
    return null;
  }
  if (access === "signed-in") {
    navigate(safeNext(query.next), { replace: true });
    return null;
  }
  return { load: access === "forbidden" ? forbiddenPage : match.route.load, match, params: match.params };
}

function leaveCurrentPage() {
  if (!currentPage) return;
  currentPage.controller.abort();
  if (typeof currentPage.cleanup === "function") currentPage.cleanup();
  currentPage = null;
}

async function importPage(load) {
  // Slow networks: the old page gives way to a spinner after a moment. An
  // earlier navigation's spinner, still waiting for its module, is cancelled:
  // it would otherwise cover this page once its moment has passed.
  stopPageSpinner();
  const stop = showLoadingLater(pageRoot, "Loading the page…");
  stopPageSpinner = stop;
  try {
    return await load();
  } catch {
    return null;
  } finally {
    stop();
  }
}

function showModuleFailure() {
  const retry = h("button", { type: "button", class: "button", on: { click: () => renderRoute() } }, "Retry");
  pageRoot.append(
    h("h1", { class: "page-title", tabindex: "-1" }, "Could not load the page"),
    h("div", { class: "load-error", role: "alert" }, h("p", {}, "Check your connection, then try again."), retry),
  );
  return "Could not load the page";
}

async function renderRoute() {
  const ticket = ++renderCount;
  const { path, query } = parseHash();
  const resolved = resolveRoute(path, query);
  if (!resolved) return;
  leaveCurrentPage();
  leaveConfirmed = false;
  closeMenu();
  main.setAttribute("aria-busy", "true");
  const module = await importPage(resolved.load);
  if (ticket !== renderCount) return; // a newer navigation won
  const page = { path, hash: window.location.hash, route: resolved.match ? resolved.match.route : null };
  page.controller = new AbortController();
  pageRoot.replaceChildren();
  showFlash();
  const title = module ? mountPage(module, page, resolved.params, query) : showModuleFailure();
  currentPage = page;
  main.removeAttribute("aria-busy");
  document.title = title ? `${title} · ${SITE_NAME}` : SITE_NAME;
  renderNav();
  refreshCounts();
  focusPage(ticket);
}

function mountPage(module, page, params, query) {
  const guardLeave = (check) => {
    page.guard = check;
  };
  const context = { params, query, user: getUser(), navigate, flash, signal: page.controller.signal, safeNext, guardLeave };
  page.cleanup = module.render(pageRoot, context);
  return module.title;
}

// Move focus to the new page's heading so keyboard and screen-reader users
// start reading there; on the first load the browser keeps its default.
function focusPage(ticket) {
  if (ticket <= 1) return;
  const heading = pageRoot.querySelector("h1");
  if (heading) heading.focus({ preventScroll: false });
  else main.focus();
}

// --- leaving a page with unsaved changes ---------------------------------------------

// What leaving the current page would lose ("Your changes to CS-101"), or null.
function unsavedWork() {
  if (!currentPage || leaveConfirmed || typeof currentPage.guard !== "function") return null;
  return currentPage.guard() || null;
}

// Resolves true when the page may be left: nothing unsaved, or the user agrees.
async function confirmLeave() {
  const lost = unsavedWork();
  if (!lost) return true;
  const leave = await confirmDialog({
    title: "Leave without saving?",
    message: `${lost} will be lost.`,
    confirmLabel: "Leave page",
    cancelLabel: "Stay on this page",
    danger: true,
  });
  if (leave) leaveConfirmed = true;
  return leave;
}

// In-app links ask before the address changes, so "Stay" leaves history alone.
async function guardLinks(event) {
  const link = event.target.closest && event.target.closest('a[href^="#/"]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  if (!unsavedWork()) return;
  event.preventDefault();
  if (await confirmLeave()) window.location.hash = link.getAttribute("href");
}

// Back, forward or a typed address: the address has changed already; on
// "Stay" it goes back to the page's own.
async function onHashChange() {
  if (currentPage && window.location.hash !== currentPage.hash && unsavedWork()) {
    const target = window.location.hash;
    history.replaceState(history.state, "", currentPage.hash);
    if (!(await confirmLeave())) return;
    history.replaceState(history.state, "", target);
  }
  renderRoute();
}

// Closing or reloading the tab: the browser asks in its own words.
function onBeforeUnload(event) {
  if (!unsavedWork()) return;
  event.preventDefault();
  event.returnValue = "";
}

function renderNav() {
  const user = getUser();
  const { path } = parseHash();
  navLinks.replaceChildren(
    ...routes
      .filter((route) => route.nav && checkAccess(route, user) === "allowed")
      .map((route) => {
        const link = h("a", { href: `#${route.path}`, class: "nav-link" }, route.nav);
        if (route.path === path) link.setAttribute("aria-current", "page");
        return h("li", {}, link);
      }),
  );
  renderHeaderTools(headerTools, headerLive, path);
  renderVerifyBanner(verifyBanner, user, path);

  navUser.replaceChildren();
  if (user) {
    navUser.append(
      h(
        "p",
        { class: "nav-user-name" },
        h("span", { class: "visually-hidden" }, "Signed in as "),
        h("span", { class: "nav-username", "data-testid": "current-username" }, user.username),
        h("span", { class: "role-badge", dataset: { role: user.role } }, user.role),
      ),
      h("button", { type: "button", class: "button button-small nav-signout", on: { click: signOut } }, "Sign out"),
    );
  }
}

async function signOut(event) {
  const button = event.currentTarget;
  if (!(await confirmLeave())) return;
  button.disabled = true;
  signingOut = true;
  try {
    await logout();
  } finally {
    signingOut = false;
  }
  flash("You have signed out.");
  navigate("/login");
}

function setMenu(open) {
  header.classList.toggle("is-menu-open", open);
  navToggle.setAttribute("aria-expanded", open ? "true" : "false");
}

function closeMenu() {
  setMenu(false);
}

function setUpShell() {
  startHeaderTools();
  navToggle.addEventListener("click", () => {
    setMenu(navToggle.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && navToggle.getAttribute("aria-expanded") === "true") {
      closeMenu();
      navToggle.focus();
    }
  });
  navLinks.addEventListener("click", (event) => {
    if (event.target.closest("a")) closeMenu();
  });

  // The skip link must not change the hash: that is the router's.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    const heading = pageRoot.querySelector("h1");
    (heading || main).focus();
  });

  window.addEventListener("hashchange", onHashChange);
  window.addEventListener("beforeunload", onBeforeUnload);
  document.addEventListener("click", guardLinks, true);

  onUserChange((user) => {
    renderNav();
    // Signed out behind the page's back (the session expired or was revoked):
    // leave pages that need a signed-in user.
    if (!user && !signingOut && currentPage && currentPage.route) {
      if (checkAccess(currentPage.route, null) === "sign-in") {
        flash("Your session has ended. Please sign in again.");
        navigate(`/login?next=${encodeURIComponent(currentPage.path)}`, { replace: true });
      }
    }
  });
}

async function start() {
  setUpShell();
  await refreshSession();
  renderNav();
  await renderRoute();
  document.documentElement.classList.add("is-ready");
}

start();
