"""The web app stays in pieces that fit in a head: no JavaScript or CSS file
over 400 lines and no JavaScript function over 50 lines.

Functions are found with a small scanner rather than a real parser: it skips
comments, strings, template literals and regular expressions, then measures
every `function`, method and arrow function (with a block or an expression
body) from its first line to its last, nested functions included, as ESLint's
max-lines-per-function does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50

OPENERS = {"(": ")", "[": "]", "{": "}"}
# After these a "/" starts a regular expression, not a division.
REGEX_PRECEDERS = set("(,=:[!&|?{};+-*%<>~^") | {""}
KEYWORDS_BEFORE_PAREN = {"if", "for", "while", "switch", "catch", "function", "return", "with"}


@dataclass(frozen=True)
class Token:
    text: str
    line: int


def _skip_string(source: str, index: int, line: int) -> tuple[int, int]:
    quote = source[index]
    index += 1
    while source[index] != quote:
        if source[index] == "\\":
            index += 1
        elif source[index] == "\n":
            line += 1
        index += 1
    return index + 1, line


def _skip_template(source: str, index: int, line: int, tokens: list[Token]) -> tuple[int, int]:
    """A template literal; the code inside ${...} is tokenized like any other."""
    index += 1
    while source[index] != "`":
        if source[index] == "\\":
            index += 2
            continue
        if source.startswith("${", index):
            index, line = _tokenize(source, index + 2, line, tokens, until="}")
            continue
        if source[index] == "\n":
            line += 1
        index += 1
    return index + 1, line


def _skip_regex(source: str, index: int) -> int:
    index += 1
    in_class = False
    while True:
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            break
        index += 1
    index += 1
    while index < len(source) and source[index].isalpha():
        index += 1
    return index


def _tokenize(
    source: str, index: int, line: int, tokens: list[Token], until: str | None = None
) -> tuple[int, int]:
    depth = 0
    while index < len(source):
        char = source[index]
        if until and char == until and depth == 0:
            return index + 1, line
        if char == "\n":
            line += 1
            index += 1
        elif source.startswith("//", index):
            index = source.find("\n", index)
            index = len(source) if index == -1 else index
        elif source.startswith("/*", index):
            end = source.index("*/", index) + 2
            line += source.count("\n", index, end)
            index = end
        elif char in "'\"":
            index, line = _skip_string(source, index, line)
            tokens.append(Token("str", line))
        elif char == "`":
            index, line = _skip_template(source, index, line, tokens)
            tokens.append(Token("str", line))
        elif char == "/" and (tokens[-1].text if tokens else "") in REGEX_PRECEDERS | {"return"}:
            index = _skip_regex(source, index)
            tokens.append(Token("regex", line))
        elif source.startswith("=>", index):
            tokens.append(Token("=>", line))
            index += 2
        elif char.isalnum() or char in "_$":
            match = re.compile(r"[\w$]+").match(source, index)
            assert match is not None
            tokens.append(Token(match.group(), line))
            index = match.end()
        elif char.isspace():
            index += 1
        else:
            if until and char in OPENERS:
                depth += 1
            elif until and char in OPENERS.values():
                depth -= 1
            tokens.append(Token(char, line))
            index += 1
    return index, line


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    _tokenize(source, 0, 1, tokens)
    return tokens


def _matching(tokens: list[Token], start: int) -> int:
    """The index of the bracket that closes the one at start."""
    closer = OPENERS[tokens[start].text]
    opener = tokens[start].text
    depth = 0
    for index in range(start, len(tokens)):
        if tokens[index].text == opener:
            depth += 1
        elif tokens[index].text == closer:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unclosed {opener} on line {tokens[start].line}")


def _expression_end(tokens: list[Token], start: int) -> int:
    """Where an arrow function's expression body ends: at a , ; ) ] or } of its own level."""
    depth = 0
    for index in range(start, len(tokens)):
        text = tokens[index].text
        if text in OPENERS:
            depth += 1
        elif text in OPENERS.values():
            if depth == 0:
                return index - 1
            depth -= 1
        elif text in {",", ";"} and depth == 0:
            return index - 1
    return len(tokens) - 1


@dataclass(frozen=True)
class Function:
    name: str
    first_line: int
    last_line: int

    @property
    def lines(self) -> int:
        return self.last_line - self.first_line + 1


def _body_after_params(tokens: list[Token], paren: int) -> int | None:
    """The `{` of a function body whose parameter list opens at paren."""
    close = _matching(tokens, paren)
    if close + 1 < len(tokens) and tokens[close + 1].text == "{":
        return close + 1
    return None


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_$][\w$]*", text) is not None


def _arrow_start(tokens: list[Token], arrow: int) -> int:
    """The first token of an arrow function: its parameter list or its one parameter."""
    if tokens[arrow - 1].text != ")":
        return arrow - 1
    depth = 0
    for index in range(arrow - 1, -1, -1):
        if tokens[index].text == ")":
            depth += 1
        elif tokens[index].text == "(":
            depth -= 1
            if depth == 0:
                return index
    return 0


def _name_of(tokens: list[Token], start: int) -> str:
    """What a reader calls the function that starts at start: `name = (...) =>`,
    `function name`, `name(...) {`, or the call it is passed to."""
    if tokens[start].text == "function":
        following = tokens[start + 1].text
        return following if _is_name(following) else "(anonymous)"
    back = start - 1
    while back >= 0 and tokens[back].text in {"async", "=", ":", "(", ","}:
        back -= 1
    if back >= 0 and _is_name(tokens[back].text):
        return tokens[back].text
    return "(anonymous)"


def functions_in(source: str) -> list[Function]:
    tokens = tokenize(source)
    found = []
    for index, token in enumerate(tokens):
        start, body, end = index, None, None
        if token.text == "function":
            paren = next(i for i in range(index, len(tokens)) if tokens[i].text == "(")
            body = _body_after_params(tokens, paren)
        elif token.text == "=>":
            start = _arrow_start(tokens, index)
            if index + 1 < len(tokens) and tokens[index + 1].text == "{":
                body = index + 1
            else:
                end = _expression_end(tokens, index + 1)
        elif (
            token.text == "("
            and index > 0
            and _is_name(tokens[index - 1].text)
            and tokens[index - 1].text not in KEYWORDS_BEFORE_PAREN
            and (index < 2 or tokens[index - 2].text in {"{", "}", ",", ";", "async", "get", "set"})
        ):
            start, body = index - 1, _body_after_params(tokens, index)
            if body is not None:
                start = index  # the name is the token before: _name_of looks there
        if body is not None:
            end = _matching(tokens, body)
        if end is not None:
            name = _name_of(tokens, start)
            found.append(Function(name, tokens[start].line, tokens[end].line))
    return found


def _files(pattern: str) -> list[Path]:
    return sorted(STATIC.rglob(pattern))


def _relative(path: Path) -> str:
    return str(path.relative_to(STATIC.parent))


@pytest.mark.parametrize("path", _files("*.js") + _files("*.css"), ids=_relative)
def test_no_file_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_FILE_LINES, f"{_relative(path)} has {lines} lines"


@pytest.mark.parametrize("path", _files("*.js"), ids=_relative)
def test_no_function_is_over_50_lines(path: Path) -> None:
    long = [
        f"{_relative(path)}:{fn.first_line} {fn.name} has {fn.lines} lines"
        for fn in functions_in(path.read_text(encoding="utf-8"))
        if fn.lines > MAX_FUNCTION_LINES
    ]
    assert long == [], "\n".join(long)


# --- the scanner itself -------------------------------------------------------------------


def test_the_scanner_measures_each_kind_of_function() -> None:
    source = """
function plain(a) {
  return a;
}
const arrow = (b) => {
  const text = "not a } brace";
  return `${b} and ${{ key: "}" }.key}`;
};
const short = (c) =>
  c + 1;
const object = {
  method(d) {
    return /[}]/.test(d); // a } in a comment
  },
};
"""
    found = {fn.name: fn.lines for fn in functions_in(source)}
    assert found == {"plain": 3, "arrow": 4, "short": 2, "method": 3}


def test_the_scanner_counts_nested_functions_in_their_parent() -> None:
    body = "\n".join(f"  const v{n} = {n};" for n in range(60))
    source = f"export function render(root) {{\n  root.on(() => {{\n{body}\n  }});\n}}\n"
    found = {fn.name: fn.lines for fn in functions_in(source)}
    assert found["render"] == 64
    assert found["on"] == 62
