import { h, pageHeading } from "../dom.js";

export const title = "Page not found";

export function render(root) {
  root.append(
    ...pageHeading(title, "There is no page at this address."),
    h("p", {}, h("a", { href: "#/" }, "Go to the home page")),
  );
}
