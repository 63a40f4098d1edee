// The student's cart. The server keeps it; this module keeps the last copy it
// saw, so that the header's count, the course pages and the cart page agree.
import { api } from "./api.js";
import { LIVE_STATUSES } from "./courses.js";
import { h } from "./dom.js";

let current = null; // {items: [course], total: {amount, currency}}, or null before the first load
const listeners = new Set();

// Calls listener(cart) whenever the cart changes (null: unknown, e.g. signed out).
export function onCartChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setCart(cart) {
  current = cart;
  for (const listener of listeners) listener(current);
}

export const getCart = () => current;
export const cartCount = () => (current ? current.items.length : 0);
export const inCart = (courseId) => Boolean(current && current.items.some((course) => course.id === courseId));

export async function loadCart({ signal } = {}) {
  const cart = await api.get("/api/checkout/cart", { signal });
  setCart(cart);
  return cart;
}

export async function addToCart(courseId, { signal } = {}) {
  try {
    const cart = await api.post("/api/checkout/cart/items", { course_id: courseId }, { signal });
    setCart(cart);
    return cart;
  } catch (error) {
    // Added meanwhile (another tab): the cart holds it, which is what was asked.
    if (error.code === "already_in_cart") return loadCart({ signal });
    throw error;
  }
}

export async function removeFromCart(courseId, { signal } = {}) {
  try {
    const cart = await api.delete(`/api/checkout/cart/items/${encodeURIComponent(courseId)}`, { signal });
    setCart(cart);
    return cart;
  } catch (error) {
    if (error.code === "not_in_cart") return loadCart({ signal });
    throw error;
  }
}

// The server empties the cart when a checkout starts.
export function cartEmptied() {
  setCart({ items: [], total: { amount: 0, currency: null } });
}

export function forgetCart() {
  setCart(null);
}

// Whether a student may put this course in the cart now: it takes enrollments
// and they hold no seat or waitlist place in it.
export function canAddToCart(course, user) {
  if (!user || user.role !== "student" || course.archived || course.status !== "open") return false;
  const mine = course.my_enrollment;
  return !(mine && (LIVE_STATUSES.includes(mine.status) || mine.status === "completed"));
}

// The "Add to cart" button, or, once the course is in the cart, a link to the
// cart. options: {signal, say(message), complain(error), named (add the course
// code to the accessible name, for lists), block (full width)}.
export function cartAction(course, { signal, say, complain, named = false, block = false }) {
  const slot = h("div", { class: "cart-action" });
  const suffix = () => (named ? h("span", { class: "visually-hidden" }, ` ${course.code}`) : null);
  const width = block ? " button-block" : "";

  let shownInCart = null;
  function show({ focus = false } = {}) {
    shownInCart = inCart(course.id);
    let control;
    if (shownInCart) {
      control = h(
        "a",
        { class: `button button-small button-in-cart${width}`, href: "#/cart", "data-testid": "in-cart" },
        "In your cart",
        suffix(),
      );
    } else {
      control = h(
        "button",
        { type: "button", class: `button button-small${width}`, on: { click: add } },
        "Add to cart",
        suffix(),
      );
    }
    slot.replaceChildren(control);
    if (focus) control.focus();
  }

  async function add(event) {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await addToCart(course.id, { signal });
      show({ focus: true });
      say(`${course.code} is in your cart.`);
    } catch (error) {
      if (error.name === "AbortError") return;
      button.disabled = false;
      complain(error);
    }
  }

  show();
  // The cart may arrive, or change in the header's refresh, after this was drawn.
  const stop = onCartChange(() => {
    if (inCart(course.id) !== shownInCart) show();
  });
  if (signal) signal.addEventListener("abort", stop, { once: true });
  return slot;
}
