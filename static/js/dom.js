// Small DOM helpers. Every piece of text goes in through text nodes, never as
// HTML, so names and messages from the API cannot inject markup.

// h("a", { href: "#/", class: "link", on: { click: fn } }, "text", childNode)
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "value") element.value = value;
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element) {
  element.replaceChildren();
}

let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

// The page heading; it takes focus after navigation so screen readers start there.
export function pageHeading(text, lead) {
  const heading = h("h1", { class: "page-title", tabindex: "-1" }, text);
  return lead ? [heading, h("p", { class: "page-lead" }, lead)] : [heading];
}

// For pages that build their heading after loading: the shell, finding no
// heading yet, focused <main>; hand that focus on to the heading.
export function focusLateHeading(root) {
  if (document.activeElement && document.activeElement.id === "main") {
    const heading = root.querySelector("h1");
    if (heading) heading.focus();
  }
}

// One labelled form control with a hint and an error message linked through
// aria-describedby. spec: {name, label, type ("textarea" for several lines),
// autocomplete, hint, required, value, options: [{value, label}], min, max,
// step, rows, pattern, describedBy (the id of a hint shared by several
// fields), optionalLabel, check(value) -> hint unmet?}. Returns
// {name, wrapper, control, setError(message)}.
export function createField(formId, spec) {
  const id = spec.id || `${formId}-${spec.name}`;
  const control = fieldControl(id, spec);
  const hint = spec.hint ? h("p", { class: "field-hint", id: `${id}-hint` }, spec.hint) : null;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const label = h("label", { for: id }, spec.label);
  if (!spec.required && spec.optionalLabel !== false && !spec.options) {
    label.append(" ", h("span", { class: "optional" }, "(optional)"));
  }
  const wrapper = h("div", { class: "field" }, label, control, hint, error);
  const describe = (withError) => {
    const ids = [hint ? hint.id : null, spec.describedBy, withError ? error.id : null].filter(Boolean);
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  };
  describe(false);
  if (spec.check && hint) watchHint(control, hint, spec.check);
  return {
    name: spec.name,
    wrapper,
    control,
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      wrapper.classList.toggle("has-error", Boolean(message));
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
      describe(Boolean(message));
    },
  };
}

const CONTROL_ATTRIBUTES = [
  "autocomplete",
  "required",
  "inputmode",
  "spellcheck",
  "autocapitalize",
  "min",
  "max",
  "step",
  "placeholder",
  "pattern",
  "maxlength",
];

function fieldControl(id, spec) {
  const attributes = { id, name: spec.name };
  for (const key of CONTROL_ATTRIBUTES) attributes[key] = spec[key];
  if (spec.type === "textarea") return h("textarea", { ...attributes, rows: spec.rows || 5, value: spec.value });
  if (spec.options) {
    const options = spec.options.map((option) =>
      h("option", { value: option.value, selected: option.value === spec.value }, option.label),
    );
    return h("select", attributes, options);
  }
  return h("input", { ...attributes, type: spec.type || "text", value: spec.value });
}

// Client-side hints: the hint turns amber while the value does not fit.
function watchHint(control, hint, check) {
  const update = () => hint.classList.toggle("is-unmet", control.value !== "" && !check(control.value));
  control.addEventListener("input", update);
  control.addEventListener("blur", update);
}

// A form with fields, a submit button and two live regions: role="alert" for
// errors and role="status" for confirmations. onSubmit(values, form) may
// throw an ApiError; its field messages are shown next to the fields.
export function createForm({ id, fields, submitLabel, busyLabel, onSubmit, extraActions = [], className }) {
  const formId = id || uniqueId("form");
  const built = fields.map((spec) => createField(formId, spec));
  const alert = h("div", { class: "form-alert", role: "alert" });
  const status = h("div", { class: "form-status", role: "status" });
  const submit = h("button", { type: "submit", class: "button button-primary" }, submitLabel);
  const element = h(
    "form",
    { id: formId, class: className ? `form ${className}` : "form", novalidate: true },
    alert,
    built.map((entry) => entry.wrapper),
    h("div", { class: "form-actions" }, submit, extraActions),
    status,
  );
  const form = formApi({ element, built, alert, status });
  form.setBusy = (busy) => {
    submit.disabled = busy;
    element.setAttribute("aria-busy", busy ? "true" : "false");
    submit.textContent = busy ? busyLabel || submitLabel : submitLabel;
  };
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!submit.disabled) submitForm(form, onSubmit);
  });
  return form;
}

function formApi({ element, built, alert, status }) {
  const byName = new Map(built.map((entry) => [entry.name, entry]));
  const show = (region, message) => {
    region.textContent = message;
    region.classList.add("is-visible");
  };
  const form = {
    element,
    field: (name) => byName.get(name),
    values: () => Object.fromEntries(built.map((entry) => [entry.name, fieldValue(entry.control)])),
    clearMessages() {
      for (const region of [alert, status]) {
        region.replaceChildren();
        region.classList.remove("is-visible");
      }
      for (const entry of built) entry.setError("");
    },
    showError: (message) => show(alert, message),
    showStatus: (message) => show(status, message),
    showFieldErrors: (fieldErrors, message) => showFieldErrors(form, byName, fieldErrors, message),
    reset() {
      element.reset();
      for (const entry of built) entry.setError("");
    },
  };
  return form;
}

const fieldValue = (control) => (control.type === "password" ? control.value : control.value.trim());

// Field messages from the API go next to their fields; messages for fields
// the form does not show go into the form-level alert.
function showFieldErrors(form, byName, fieldErrors, message) {
  const stray = [];
  let first = null;
  for (const [name, text] of Object.entries(fieldErrors || {})) {
    const entry = byName.get(name);
    if (entry) {
      entry.setError(String(text));
      first = first || entry;
    } else {
      stray.push(String(text));
    }
  }
  const summary = [message, ...stray].filter(Boolean).join(" ");
  if (summary) form.showError(summary);
  if (first) first.control.focus();
}

async function submitForm(form, onSubmit) {
  form.clearMessages();
  form.setBusy(true);
  try {
    await onSubmit(form.values(), form);
  } catch (error) {
    if (error && error.name === "AbortError") return;
    if (error && error.fields && Object.keys(error.fields).length) {
      form.showFieldErrors(error.fields, fieldSummary(error));
    } else {
      form.showError((error && error.message) || "Something went wrong. Please try again.");
    }
  } finally {
    form.setBusy(false);
  }
}

function fieldSummary(error) {
  return error.code === "invalid" ? "Please correct the highlighted fields." : error.message;
}

// A modal confirmation built on <dialog>. Resolves with true when confirmed;
// with a `body` callback the dialog can hold extra controls.
export function confirmDialog({ title, message, confirmLabel = "Confirm", cancelLabel = "Cancel", danger = false, body }) {
  return new Promise((resolve) => {
    const titleId = uniqueId("dialog-title");
    const messageId = uniqueId("dialog-message");
    const cancel = h("button", { type: "button", class: "button", value: "cancel" }, cancelLabel);
    const confirm = h(
      "button",
      { type: "submit", class: danger ? "button button-danger" : "button button-primary", value: "confirm" },
      confirmLabel,
    );
    const extra = body ? body() : null;
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form" },
      h("h2", { id: titleId, class: "dialog-title" }, title),
      h("p", { id: messageId }, message),
      extra,
      h("div", { class: "form-actions" }, confirm, cancel),
    );
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId, "aria-describedby": messageId }, form);
    cancel.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
    const firstControl = extra ? extra.querySelector("select, input") : null;
    (firstControl || cancel).focus();
  });
}

// An SVG element, built like h(): svg("path", { d: "M0 0h4" }). For icons
// drawn with currentColor, so they follow the text colour in both schemes.
const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, props = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    element.setAttribute(key === "class" ? "class" : key, String(value));
  }
  for (const child of children.flat()) {
    if (child) element.append(child);
  }
  return element;
}

// A decorative 24×24 stroked icon from path data; hidden from assistive technology.
export function icon(paths, className = "icon") {
  return svg(
    "svg",
    {
      class: className,
      viewBox: "0 0 24 24",
      width: 24,
      height: 24,
      fill: "none",
      stroke: "currentColor",
      "stroke-width": 2,
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
      "aria-hidden": "true",
      focusable: "false",
    },
    paths.map((d) => svg("path", { d })),
  );
}

// A page-level pair of live regions: say() confirms, complain() reports errors.
// A message is text, or a list of text and nodes (a link to the next step).
export function messageRegions() {
  const alert = h("div", { class: "form-alert", role: "alert" });
  const status = h("div", { class: "form-status", role: "status" });
  const set = (region, other, message) => {
    other.classList.remove("is-visible");
    other.replaceChildren();
    region.replaceChildren();
    append(region, [message].flat().filter((part) => part !== ""));
    region.classList.toggle("is-visible", region.childNodes.length > 0);
  };
  return {
    alert,
    status,
    say: (message) => set(status, alert, message),
    complain: (message) => set(alert, status, message),
    clear: () => {
      set(status, alert, "");
      set(alert, status, "");
    },
  };
}
