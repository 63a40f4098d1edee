// The API client. The access token lives only in this module's memory; the
// refresh token is an HttpOnly cookie the browser sends to /api/auth/refresh.
import { API_BASE } from "./config.js";

export class ApiError extends Error {
  constructor({ status, code, message, fields = {}, retryAfter = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

let accessToken = null;
let currentUser = null;
let refreshInFlight = null;
const listeners = new Set();

export function getUser() {
  return currentUser;
}

// Calls listener(user) whenever the signed-in user changes (null = signed out).
export function onUserChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setSession(token, user) {
  const changed = JSON.stringify(user) !== JSON.stringify(currentUser);
  accessToken = token;
  currentUser = user;
  if (changed) {
    for (const listener of listeners) listener(currentUser);
  }
}

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.round((date - Date.now()) / 1000));
}

async function toApiError(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // Not JSON (a proxy error page, for instance): fall back to the status.
  }
  const error = payload && typeof payload.error === "object" ? payload.error : {};
  return new ApiError({
    status: response.status,
    code: error.code || `http_${response.status}`,
    message: error.message || `The server answered ${response.status} ${response.statusText}`.trim(),
    fields: error.fields && typeof error.fields === "object" ? error.fields : {},
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
  });
}

async function send(method, path, { body, signal, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  try {
    return await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "include",
      // Revalidate every time: the portal answers a cheap 304 when the copy
      // is current (ETag), and nobody sees a list older than their last click.
      cache: "no-cache",
      signal,
    });
  } catch (cause) {
    if (cause && cause.name === "AbortError") throw cause;
    throw new ApiError({
      status: 0,
      code: "network_error",
      message: "Could not reach the portal. Check your connection and try again.",
    });
  }
}

async function readBody(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Exchanges the refresh cookie for a new access token. Concurrent callers
// share one request, so a burst of 401s leads to a single refresh.
export function refreshSession() {
  if (!refreshInFlight) {
    refreshInFlight = (async () => {
      try {
        const response = await send("POST", "/api/auth/refresh", { auth: false });
        if (response.status === 401 || response.status === 403) {
          setSession(null, null);
          return false;
        }
        if (!response.ok) return false; // a server hiccup is not a sign-out
        const data = await readBody(response);
        setSession(data.access_token, data.user);
        return true;
      } catch {
        // Offline or unreachable: keep whatever session we had.
        return false;
      } finally {
        refreshInFlight = null;
      }
    })();
  }
  return refreshInFlight;
}

// Sends a request; on a 401 it refreshes the session once and retries once.
async function sendWithRefresh(method, path, { body, signal, auth = true } = {}) {
  let response = await send(method, path, { body, signal, auth });
  if (response.status === 401 && auth) {
    const hadSession = accessToken !== null || currentUser !== null;
    if (await refreshSession()) {
      response = await send(method, path, { body, signal, auth });
    } else if (hadSession) {
      setSession(null, null);
    }
  }
  if (!response.ok) throw await toApiError(response);
  return response;
}

// One API call answering JSON (or nothing).
export async function request(method, path, options = {}) {
  return readBody(await sendWithRefresh(method, path, options));
}

function filenameOf(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/i.exec(disposition);
  return match ? match[1] : fallback;
}

// A file from the API (a CSV export, say), fetched with the access token:
// resolves with {blob, filename}.
export async function download(path, { signal, fallbackName = "download" } = {}) {
  const response = await sendWithRefresh("GET", path, { signal });
  return { blob: await response.blob(), filename: filenameOf(response, fallbackName) };
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options) => request("POST", path, { ...options, body }),
  patch: (path, body, options) => request("PATCH", path, { ...options, body }),
  delete: (path, options) => request("DELETE", path, options),
};

export async function login(loginName, password) {
  const data = await request("POST", "/api/auth/login", {
    body: { login: loginName, password },
    auth: false,
  });
  setSession(data.access_token, data.user);
  return data.user;
}

export async function register({ username, email, password, full_name }) {
  const data = await request("POST", "/api/auth/register", {
    body: { username, email, password, full_name },
    auth: false,
  });
  return data.user;
}

export async function logout() {
  try {
    await send("POST", "/api/auth/logout");
  } catch {
    // Unreachable server: the user is still signed out in this tab.
  }
  setSession(null, null);
}

// Replaces the cached user after the profile changed.
export function updateCurrentUser(user) {
  setSession(accessToken, user);
}

// Builds a query string from the non-empty values of params.
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
