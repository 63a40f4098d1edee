import { h, pageHeading } from "../dom.js";

export const title = "Home";

// What each role can do, in the words of someone using the portal. Items
// with a link point at pages that exist; the rest are coming in later releases.
const abilities = {
  guest: [
    { text: "Create a student account to enroll in courses.", href: "#/register", link: "Create an account" },
    { text: "Already registered? Sign in with your username or e-mail.", href: "#/login", link: "Sign in" },
    { text: "Browse the course catalog, with schedules, seats and prices.", href: "#/catalog", link: "Browse the catalog" },
  ],
  student: [
    { text: "Keep your name, e-mail address and password up to date.", href: "#/profile", link: "Your profile" },
    { text: "Browse the catalog and enroll, reserve a seat or join a waitlist.", href: "#/catalog", link: "Browse the catalog" },
    { text: "See your enrollments, held seats and waitlist places.", href: "#/my-courses", link: "My courses" },
    { text: "Fill a cart with courses and pay for them together.", href: "#/cart", link: "Your cart" },
    { text: "See what you paid and what is due, pay held seats and print receipts.", href: "#/payments", link: "Payments" },
    { text: "Read payment confirmations, reminders and waitlist news.", href: "#/notifications", link: "Notifications" },
    { text: "Follow your progress, submit assignments and take quizzes." },
    { text: "Read announcements and message your instructors." },
  ],
  instructor: [
    { text: "Keep your name, e-mail address and password up to date.", href: "#/profile", link: "Your profile" },
    { text: "See the rosters of the courses you teach.", href: "#/teaching", link: "My teaching" },
    { text: "Publish materials, assignments and quizzes, and grade submissions." },
    { text: "Read course reports, message students and announce to a course." },
  ],
  admin: [
    { text: "Manage users: create accounts, change roles, deactivate and reactivate.", href: "#/admin/users", link: "Manage users" },
    { text: "Keep your own profile and password up to date.", href: "#/profile", link: "Your profile" },
    { text: "Run courses, seat limits, prices and due dates.", href: "#/admin/courses", link: "Manage courses" },
    { text: "Follow every payment and refund paid ones.", href: "#/admin/payments", link: "Payments" },
    { text: "See e-mail that could not be sent and send it again.", href: "#/admin/deliveries", link: "E-mail deliveries" },
    { text: "Read reports and announce to everyone." },
  ],
};

const roleNames = { student: "student", instructor: "instructor", admin: "administrator" };

export function render(root, { user }) {
  const items = abilities[user ? user.role : "guest"] || abilities.student;
  const heading = user ? `Welcome, ${user.full_name || user.username}` : "Welcome to the Student Portal";
  const lead = user
    ? `You are signed in as ${user.username}, with the ${roleNames[user.role] || user.role} role. Here is what you can do.`
    : "Find courses, pay for them and follow your progress, all in one place.";

  root.append(
    h(
      "section",
      { class: "hero", "aria-labelledby": "home-title" },
      ...pageHeading(heading, lead),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "home-abilities" },
      h("h2", { id: "home-abilities" }, user ? "What you can do" : "What the portal offers"),
      h(
        "ul",
        { class: "ability-list" },
        items.map((item) =>
          h(
            "li",
            { class: item.href ? "ability" : "ability ability-later" },
            h("span", { class: "ability-text" }, item.text),
            item.href
              ? h("a", { href: item.href, class: "button button-small" }, item.link)
              : h("span", { class: "tag" }, "Coming soon"),
          ),
        ),
      ),
    ),
  );
  root.querySelector("h1").id = "home-title";
}
