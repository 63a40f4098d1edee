// The page registry. To add a page: write static/js/pages/<name>.js exporting
// `title` and `render(container, context)`, then add one entry here.
//
//   path    "#/<path>"; a segment written ":name" is a parameter (context.params.name)
//   access  "anyone" | "guest" (signed-out only) | "signed-in"
//   roles   optional list of roles allowed in (implies "signed-in")
//   nav     optional label: the page appears in the main navigation, in this
//           order, for everyone who may open it
//   load    imports the page module on first visit
export const routes = [
  { path: "/", access: "anyone", nav: "Home", load: () => import("./pages/home.js") },
  { path: "/catalog", access: "anyone", nav: "Catalog", load: () => import("./pages/catalog.js") },
  { path: "/courses/:id", access: "anyone", load: () => import("./pages/course.js") },
  {
    path: "/courses/:id/roster",
    access: "signed-in",
    roles: ["instructor", "admin"],
    load: () => import("./pages/roster.js"),
  },
  {
    path: "/my-courses",
    access: "signed-in",
    roles: ["student"],
    nav: "My courses",
    load: () => import("./pages/my-courses.js"),
  },
  {
    path: "/payments",
    access: "signed-in",
    roles: ["student"],
    nav: "Payments",
    load: () => import("./pages/payments.js"),
  },
  { path: "/cart", access: "signed-in", roles: ["student"], load: () => import("./pages/cart.js") },
  {
    path: "/payments/:id/return",
    access: "signed-in",
    roles: ["student"],
    load: () => import("./pages/payment-return.js"),
  },
  {
    path: "/payments/:id",
    access: "signed-in",
    roles: ["student", "admin"],
    load: () => import("./pages/payment.js"),
  },
  {
    path: "/teaching",
    access: "signed-in",
    roles: ["instructor"],
    nav: "My teaching",
    load: () => import("./pages/teaching.js"),
  },
  {
    path: "/admin/courses",
    access: "signed-in",
    roles: ["admin"],
    nav: "Courses",
    load: () => import("./pages/admin-courses.js"),
  },
  {
    path: "/admin/payments",
    access: "signed-in",
    roles: ["admin"],
    nav: "Payments",
    load: () => import("./pages/admin-payments.js"),
  },
  {
    path: "/admin/courses/new",
    access: "signed-in",
    roles: ["admin"],
    load: () => import("./pages/course-editor.js"),
  },
  {
    path: "/admin/courses/:id/edit",
    access: "signed-in",
    roles: ["admin"],
    load: () => import("./pages/course-editor.js"),
  },
  { path: "/profile", access: "signed-in", nav: "Profile", load: () => import("./pages/profile.js") },
  {
    path: "/admin/users",
    access: "signed-in",
    roles: ["admin"],
    nav: "Users",
    load: () => import("./pages/admin-users.js"),
  },
  {
    path: "/admin/deliveries",
    access: "signed-in",
    roles: ["admin"],
    nav: "E-mail",
    load: () => import("./pages/admin-deliveries.js"),
  },
  { path: "/notifications", access: "signed-in", load: () => import("./pages/notifications.js") },
  { path: "/login", access: "guest", nav: "Sign in", load: () => import("./pages/login.js") },
  { path: "/register", access: "guest", nav: "Create account", load: () => import("./pages/register.js") },
  { path: "/forgot-password", access: "anyone", load: () => import("./pages/forgot-password.js") },
  { path: "/reset-password", access: "anyone", load: () => import("./pages/reset-password.js") },
  { path: "/verify-email", access: "anyone", load: () => import("./pages/verify-email.js") },
];

export const notFoundPage = () => import("./pages/not-found.js");
export const forbiddenPage = () => import("./pages/forbidden.js");

function compile(path) {
  const names = [];
  const pattern = path
    .split("/")
    .map((segment) => {
      if (segment.startsWith(":")) {
        names.push(segment.slice(1));
        return "([^/]+)";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { regex: new RegExp(`^${pattern}/?$`), names };
}

const compiled = routes.map((route) => ({ route, ...compile(route.path) }));

export function matchRoute(path) {
  for (const { route, regex, names } of compiled) {
    const found = regex.exec(path);
    if (found) {
      const params = {};
      names.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1]);
      });
      return { route, params };
    }
  }
  return null;
}

// "allowed" | "sign-in" (must sign in first) | "signed-in" (guest-only page) | "forbidden"
export function checkAccess(route, user) {
  if (route.access === "guest") return user ? "signed-in" : "allowed";
  if (route.access === "signed-in" || route.roles) {
    if (!user) return "sign-in";
    if (route.roles && !route.roles.includes(user.role)) return "forbidden";
  }
  return "allowed";
}
