"""Render nashlab's plain-text docstrings as reStructuredText (an ``autodoc-process-docstring`` hook).

nashlab's docstrings are written to be read in a terminal: unicode math (``π*_β``, ``|A_ij|``,
``‖x‖``), aligned ASCII tables, hanging indents and indented displays. Read as RST, ``*`` and
``|`` start emphasis and substitutions, an over-long table cell is a "malformed table" and a
hanging indent is an "unexpected indentation": each a warning, i.e. an error of the
``-W`` build. Rather than asking every docstring to be RST, this hook (run after napoleon)
makes the plain text safe, so that a new docstring cannot break the documentation build:

* ``*`` and ``|`` are escaped, except in ``literals``, roles (:math:`...`), and ``*emphasis*``
  / ``**strong**`` pairs that are well formed;
* a simple table (``=====  =====`` borders) is shown as preformatted text, exactly as aligned;
* an indented display after a blank line (a formula, a command line) is a literal block;
* a hanging-indent continuation line is joined to the line it continues;
* a bullet list gets the blank lines before and after it that RST needs;
* runs of ``name : description`` lines (an attribute list without a numpydoc header)
  become a bullet list.

RST that a docstring does contain (napoleon's fields, directives, ``::`` blocks, roles) is
left as it is.
"""

import re

_BORDER = re.compile(r"^\s*=+( +=+)+\s*$")
_BULLET = re.compile(r"^(\s*)([*\-•+]|\d+[.)]|\(\d+\)) +\S")
_NAME_DESC = re.compile(r"^([A-Za-z_][\w]*(?:, [A-Za-z_][\w]*)*) : (\S.*)$")
_PROTECT = re.compile(r"``.+?``|:[\w:+-]+:`[^`]*`|`[^`]+`_{0,2}")
# docutils' inline-markup recognition rules: what may stand before a start-string and after an end-string
_OPEN = r"(?:(?<=^)|(?<=[\s'\"(\[{<\-/:]))"
_CLOSE = r"(?=$|[\s'\")\]}>\-/:.,;!?\\])"
_STRONG = re.compile(_OPEN + r"\*\*(?=\S)[^*]*?(?<=\S)\*\*" + _CLOSE)
_EMPH = re.compile(_OPEN + r"\*(?=[^\s*])[^*]*?(?<=[^\s*])\*" + _CLOSE)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _escape_text(text: str) -> str:
    """Escape ``*`` and ``|`` outside well-formed pairs, and a word-final ``_`` (a reference)."""
    keep = [m.span() for m in _STRONG.finditer(text)]
    keep += [m.span() for m in _EMPH.finditer(text) if not any(a <= m.start() < b for a, b in keep)]
    out, pos = [], 0
    for a, b in sorted(keep) + [(len(text), len(text))]:
        chunk = text[pos:a]
        chunk = chunk.replace("*", "\\*").replace("|", "\\|")
        chunk = re.sub(r"(?<=\w)_(?=\s|$|[.,;:)\]])", r"\\_", chunk)
        out.append(chunk + text[a:b])
        pos = b
    return "".join(out)


def escape_inline(line: str) -> str:
    bullet = _BULLET.match(line)
    if bullet:  # the list marker itself is markup
        head = bullet.end() - 1
        return line[:head] + escape_inline(line[head:])
    field = re.match(r"^\s*:[^:`]+: ", line)
    if field:  # napoleon's fields (:param x:, :returns:)
        return line[:field.end()] + escape_inline(line[field.end():])
    out, pos = [], 0
    for m in _PROTECT.finditer(line):
        out.append(_escape_text(line[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_escape_text(line[pos:]))
    return "".join(out)


def _tables_to_literal(lines):
    out, i = [], 0
    while i < len(lines):
        if _BORDER.match(lines[i]):
            j, last = i + 1, i
            while j < len(lines):
                if _BORDER.match(lines[j]):
                    last = j
                    if j + 1 >= len(lines) or not lines[j + 1].strip():
                        break
                j += 1
            if last > i:
                base = _indent(lines[i])
                if out and out[-1].strip():
                    out.append("")
                out += [" " * base + "::", ""]
                out += ["    " + line for line in lines[i:last + 1]]
                out.append("")
                i = last + 1
                continue
        out.append(lines[i])
        i += 1
    return out


def _is_field(line: str) -> bool:
    return bool(re.match(r"^\s*:[^:`]+:( |$)", line)) and not line.rstrip().endswith("::")


def _is_rst_opener(line: str) -> bool:
    s = line.strip()
    return s.endswith("::") or s.startswith(".. ") or bool(re.match(r"^:[^:]+:", s))


def _attribute_lists(lines):
    """Runs of >= 2 top-level ``name : description`` lines (with hanging continuations) become
    bullet items ``* **name** : description``."""
    out, i = [], 0
    while i < len(lines):
        m = _NAME_DESC.match(lines[i])
        if m and (i + 1 < len(lines)):
            run, j = [], i
            while j < len(lines) and _NAME_DESC.match(lines[j]):
                name, desc = _NAME_DESC.match(lines[j]).groups()
                j += 1
                while j < len(lines) and lines[j].strip() and _indent(lines[j]) > 0:
                    desc += " " + lines[j].strip()
                    j += 1
                run.append((name, desc))
            if len(run) >= 2:
                if out and out[-1].strip():
                    out.append("")
                out += [f"* **{name}** : {desc}" for name, desc in run]
                if j < len(lines) and lines[j].strip():
                    out.append("")
                i = j
                continue
        out.append(lines[i])
        i += 1
    return out


def rstify(lines):
    """The hook's work on one docstring (a list of lines); returns the new list."""
    lines = _attribute_lists(_tables_to_literal(list(lines)))
    out = []
    owned = None  # indentation below which an RST-owned block (literal, directive, field) ends
    list_text = None  # text indentation of the current bullet item
    field = None  # indentation of the current field list (napoleon's :param x:)
    for line in lines:
        if not line.strip():
            out.append(line)
            continue
        d = _indent(line)
        if owned is not None:
            if d > owned:
                out.append(line)
                continue
            owned = None
        prev_i = next((k for k in range(len(out) - 1, -1, -1) if out[k].strip()), None)
        prev = out[prev_i] if prev_i is not None else None
        blank_before = prev_i is not None and prev_i < len(out) - 1
        dp = _indent(prev) if prev is not None else 0
        bullet = _BULLET.match(line)
        if field is not None and d <= field and not _is_field(line):
            if not blank_before:
                out.append("")
            field = None
        if _is_field(line):
            field = d
        if prev is not None and d > dp:
            if _is_field(prev) or (list_text is not None and d == list_text):
                out.append(escape_inline(line))
                continue
            if _is_rst_opener(prev):
                owned = dp
                out.append(line)
                continue
            if blank_before:  # an indented display: preformatted
                out[prev_i + 1:] = ["", " " * dp + "::", ""]
                owned = dp
                out.append(line)
                continue
            if not bullet:  # a hanging indent: continue the previous line
                out[prev_i] = prev.rstrip() + " " + escape_inline(line.strip())
                continue
        if bullet:
            if prev is not None and not blank_before and not _BULLET.match(prev) and list_text is None:
                out.append("")
            list_text = _indent(line) + len(bullet.group(2)) + 1
        elif list_text is not None and d < list_text:
            if not blank_before:
                out.append("")
            list_text = None
        if _is_rst_opener(line) and not _is_field(line):
            owned = d
            out.append(line if line.strip().startswith(".. ") else escape_inline(line))
            continue
        out.append(escape_inline(line))
    return out


_PARAM = re.compile(r"^\*{0,2}\w+(, \*{0,2}\w+)*( : |\s*$)")


_ENTRY = re.compile(r"^(\*{0,2}\w+(?:, \*{0,2}\w+)*) : (.+)$")


def _is_type(text: str) -> bool:
    """Whether the text after ``name :`` reads as a numpydoc type ("array_like, shape (n,)",
    "float, optional") rather than as the description itself (nashlab's one-line style)."""
    text = text.strip()
    return len(text) <= 50 and not text.endswith(".") and ": " not in text and "; " not in text


def close_parameter_sections(lines):
    """Before napoleon, in ``Parameters`` / ``Attributes`` sections: an entry written
    ``name : description`` (nashlab's one-line style) becomes ``name`` with the description
    indented below it, so that napoleon does not show the description as the type; a prose
    paragraph after the entries (e.g. "Returns a ``Trajectory`` whose ...") would be read as
    more entries: it gets its own ``Notes`` heading."""
    out, section = [], False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"\s*-{3,}\s*", nxt):
            section = line.strip() in ("Parameters", "Other Parameters", "Keyword Arguments", "Attributes")
        elif section and line.strip() and _indent(line) == 0 and not re.fullmatch(r"-{3,}", line.strip()):
            entry = _ENTRY.match(line)
            if entry and not _is_type(entry.group(2)):
                out += [entry.group(1), "    " + entry.group(2)]
                continue
            if i > 0 and not lines[i - 1].strip() and not _PARAM.match(line):
                out += ["Notes", "-----"]
                section = False
        out.append(line)
    return out


def process_docstring_early(app, what, name, obj, options, lines):
    lines[:] = close_parameter_sections(lines)


def process_docstring(app, what, name, obj, options, lines):
    lines[:] = rstify(lines)


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring_early, priority=100)
    app.connect("autodoc-process-docstring", process_docstring, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
