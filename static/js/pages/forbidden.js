import { h, pageHeading } from "../dom.js";

export const title = "Not allowed";

export function render(root) {
  root.append(
    ...pageHeading(title, "Your account does not have access to this page."),
    h("p", {}, h("a", { href: "#/" }, "Go to the home page")),
  );
}
