// The app shell: session restore, hash routing, navigation and the mobile menu.
import { getUser, logout, onUserChange, refreshSession } from "./api.js";
import { h } from "./dom.js";
import { refreshCounts, renderHeaderTools, startHeaderTools } from "./header-tools.js";
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
let currentPage = null; // { path, route, controller, cleanup }
let pendingFlash = null;
let signingOut = false;

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

async function renderRoute() {
  const ticket = ++renderCount;
  const { path, query } = parseHash();
  const user = getUser();
  const match = matchRoute(path);

  let load;
  let title;
  let params = {};
  if (!match) {
    load = notFoundPage;
  } else {
    const access = checkAccess(match.route, user);
    if (access === "sign-in") {
      flash("Please sign in to continue.");
      navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
      return;
    }
    if (access === "signed-in") {
      navigate(safeNext(query.next), { replace: true });
      return;
    }
    load = access === "forbidden" ? forbiddenPage : match.route.load;
    params = match.params;
  }

  if (currentPage) {
    currentPage.controller.abort();
    if (typeof currentPage.cleanup === "function") currentPage.cleanup();
    currentPage = null;
  }
  closeMenu();
  main.setAttribute("aria-busy", "true");

  let module;
  try {
    module = await load();
  } catch {
    module = null;
  }
  if (ticket !== renderCount) return; // a newer navigation won

  const controller = new AbortController();
  pageRoot.replaceChildren();
  showFlash();
  const context = { params, query, user, navigate, flash, signal: controller.signal, safeNext };
  let cleanup = null;
  if (module) {
    title = module.title;
    cleanup = module.render(pageRoot, context);
  } else {
    title = "Could not load the page";
    pageRoot.append(
      h("h1", { class: "page-title", tabindex: "-1" }, title),
      h("p", {}, "Check your connection and reload the page."),
    );
  }
  currentPage = { path, route: match ? match.route : null, controller, cleanup };
  main.removeAttribute("aria-busy");
  document.title = title ? `${title} · ${SITE_NAME}` : SITE_NAME;
  renderNav();
  refreshCounts();

  // Move focus to the new page's heading so keyboard and screen-reader users
  // start reading there; on the first load the browser keeps its default.
  if (ticket > 1) {
    const heading = pageRoot.querySelector("h1");
    if (heading) heading.focus({ preventScroll: false });
    else main.focus();
  }
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

  window.addEventListener("hashchange", renderRoute);

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
