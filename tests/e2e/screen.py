"""What the screen shows, as opposed to what the DOM holds: the text an input
draws (a time input draws "06:00 PM" for the value "18:00") and the lines a
piece of text is laid out on."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page

# "Mar 4, 2026, 18:00" or "Mar 4, 2026, 6:00 PM": a moment as the pages write it.
MOMENT_PATTERN = r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}(?:[\s\u202f][AP]M)?"

_MOMENT_LINES = """(element, source) => {
  const pattern = new RegExp(source, "g");
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let text = "";
  while (walker.nextNode()) {
    nodes.push([walker.currentNode, text.length]);
    text += walker.currentNode.data;
  }
  // The text node holding a character offset: a start belongs to the node it
  // starts, an end to the node it ends (not to a neighbour touching it).
  const locate = (offset, end) => {
    for (const [node, start] of nodes) {
      const stop = start + node.data.length;
      const inside = end ? offset > start && offset <= stop : offset >= start && offset < stop;
      if (inside) return [node, offset - start];
    }
    return [nodes[0][0], 0];
  };
  return [...text.matchAll(pattern)].map((match) => {
    const range = document.createRange();
    range.setStart(...locate(match.index, false));
    range.setEnd(...locate(match.index + match[0].length, true));
    const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
    return { text: match[0], lines: tops.size };
  });
}"""


def moments_with_lines(element: Locator) -> list[dict[str, Any]]:
    """Every moment written in the element, with the number of lines it takes."""
    found: list[dict[str, Any]] = element.evaluate(_MOMENT_LINES, MOMENT_PATTERN)
    return found


def _hidden(node: dict[str, Any]) -> bool:
    """A shadow part that is not drawn (the placeholder while there is a value)."""
    attributes = node.get("attributes") or []
    pairs = dict(zip(attributes[::2], attributes[1::2], strict=True))
    return "display: none" in pairs.get("style", "")


def _texts(node: dict[str, Any], out: list[str]) -> list[str]:
    if _hidden(node):
        return out
    if node.get("nodeType") == 3:
        out.append(node.get("nodeValue", ""))
    for key in ("shadowRoots", "children"):
        for child in node.get(key) or []:
            _texts(child, out)
    return out


def drawn_text(page: Page, control: Locator) -> str:
    """The text a form control draws, read from its user-agent shadow tree
    through the DevTools protocol (the DOM only has its value)."""
    element_id = control.get_attribute("id")
    assert element_id, "the control needs an id"
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]
        node = cdp.send(
            "DOM.querySelector", {"nodeId": root["nodeId"], "selector": f"#{element_id}"}
        )
        described = cdp.send(
            "DOM.describeNode", {"nodeId": node["nodeId"], "depth": -1, "pierce": True}
        )
    finally:
        cdp.detach()
    return "".join(_texts(described["node"], []))
