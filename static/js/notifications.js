// The signed-in user's notifications: the unread count behind the header's
// bell, marking read, and which links lead into this app.
import { api } from "./api.js";
import { matchRoute } from "./routes.js";

const BASE = "/api/messages/notifications";

let unread = null; // null: not known yet (or signed out)
const listeners = new Set();

// Calls listener(count) whenever the unread count changes.
export function onUnreadChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const unreadCount = () => unread;

export function setUnread(count) {
  if (count === unread) return;
  unread = count;
  for (const listener of listeners) listener(unread);
}

export async function refreshUnread({ signal } = {}) {
  const data = await api.get(`${BASE}/unread`, { signal });
  setUnread(data.unread);
  return data.unread;
}

export async function listNotifications({ unreadOnly = false, cursor = null, limit = 20, signal } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (unreadOnly) query.set("unread", "1");
  if (cursor) query.set("cursor", cursor);
  const data = await api.get(`${BASE}?${query}`, { signal });
  setUnread(data.unread);
  return data;
}

export async function markRead(id, { signal } = {}) {
  const data = await api.post(`${BASE}/${encodeURIComponent(id)}/read`, undefined, { signal });
  setUnread(data.unread);
  return data.unread;
}

export async function markAllRead({ signal } = {}) {
  const data = await api.post(`${BASE}/read`, undefined, { signal });
  setUnread(data.unread);
  return data.unread;
}

export function forgetUnread() {
  setUnread(null);
}

// The in-app path ("/payments/abc") a notification's link leads to, or null
// when it leads elsewhere. Links are absolute (they are written for e-mail,
// under SITE_URL); one whose address is a page of this app opens here, even
// when SITE_URL names this site by another host name.
export function appPathOf(link) {
  if (!link) return null;
  let url;
  try {
    url = new URL(link, window.location.href);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.pathname !== "/" && url.pathname !== "/index.html") return null;
  if (!url.hash.startsWith("#/")) return null;
  const path = url.hash.slice(1);
  return matchRoute(path.split("?")[0]) ? path : null;
}
