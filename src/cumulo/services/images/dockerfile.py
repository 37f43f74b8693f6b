"""User Dockerfiles, checked and rewritten before the engine sees them.

The engine resolves ``FROM`` and ``COPY --from`` against every image it holds (id prefixes of
2 characters, other users' tags) and falls back to a registry pull; ``ADD <url>`` makes dockerd
fetch the URL from the host. So Docker never receives the user's text: ``rewrite`` parses it,
refuses what a user build may not do, and writes a Dockerfile of its own with one instruction per
line (no continuation, no comment) in which every image reference is the full id ``resolve``
chose. What Docker parses is then exactly the list of instructions checked here, whatever the
differences between this parser and Docker's on the original text.

Refused (400): remote ``ADD`` (URLs, git), variables in ``ADD`` and in image references, ``FROM``
flags (``--platform``), ``RUN`` flags (``--mount``, ``--network``, ``--security``: BuildKit only),
heredocs, the ``# syntax=`` directive (a frontend image), unknown instructions and flags, stage names
that are also one of the caller's images. ``check_triggers`` applies the same rules to the ``ONBUILD``
triggers a base image carries, which run in the child's build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cumulo.core.errors import InvalidInput

INSTRUCTIONS = {"from", "run", "cmd", "label", "maintainer", "expose", "env", "add", "copy", "entrypoint",
                "volume", "user", "workdir", "arg", "onbuild", "stopsignal", "healthcheck", "shell"}
COPY_FLAGS = {"copy": {"from", "chown", "chmod"}, "add": {"chown", "chmod"}}
STAGE = re.compile(r"^[a-z][a-z0-9_.-]*$")  # Docker's rule for stage names (lowercased)
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
FLAG_VALUE = re.compile(r"^[A-Za-z0-9._:${}/+-]+$")
FULL_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
HEREDOC = re.compile(r"<<-?\s*[\"']?[A-Za-z_]")
REMOTE = re.compile(r"://|^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:", re.MULTILINE)
WHITESPACE = re.compile(r"[ \t]+")
BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000]")

#: ``resolve(ref, line)`` answers the full image id to build from, or raises (404/400).
Resolver = Callable[[str, int], str]


@dataclass
class Instruction:
    line: int  # first physical line, 1-based
    cmd: str  # lowercase keyword
    flags: list[str]  # builder flags as Docker reads them, e.g. "--from=build"
    rest: str  # the arguments after the flags
    text: str  # the whole logical line


@dataclass
class Plan:
    """What a build may run: the Dockerfile for the engine and the images it names."""

    dockerfile: str
    bases: list[str] = field(default_factory=list)  # image ids built FROM (their ONBUILD triggers run)
    images: set[str] = field(default_factory=set)  # every image id named (FROM and COPY --from)
    resolved: dict[str, str] = field(default_factory=dict)  # reference as written -> image id
    keep: list[str] = field(default_factory=list)  # the caller's own images among them (held while building)


def _fail(line: int, message: str) -> InvalidInput:
    return InvalidInput(f"Dockerfile line {line}: {message}" if line else f"Dockerfile: {message}")


def split_flags(args: str) -> tuple[list[str], str]:
    """Docker's builder-flag scan: leading ``--words`` (quotes and backslashes handled as Docker
    does) and the rest of the line."""
    words: list[str] = []
    word: list[str] = []
    quote, in_word, in_quote, blank_ok = "", False, False, False
    pos = 0
    while pos <= len(args):
        end = pos == len(args)
        ch = "" if end else args[pos]
        if not in_word and not in_quote:
            if end:
                break
            if ch.isspace():
                pos += 1
                continue
            if not args.startswith("--", pos):
                return words, args[pos:].strip()
            in_word = True
        if end:
            if "".join(word) != "--" and (blank_ok or word):
                words.append("".join(word))
            break
        if in_quote:
            if ch == quote or (ch == "\\" and pos + 1 == len(args)):
                in_quote, in_word = False, True
            else:
                if ch == "\\":
                    pos += 1
                    ch = args[pos]
                word.append(ch)
        elif ch.isspace():
            text = "".join(word)
            if text == "--":
                return words, args[pos:].strip()
            if blank_ok or word:
                words.append(text)
            word, in_word, blank_ok = [], False, False
        elif ch in "'\"":
            quote, in_quote, in_word, blank_ok = ch, True, False, True
        elif ch == "\\":
            if pos + 1 < len(args):
                pos += 1
                word.append(args[pos])
        else:
            word.append(ch)
        pos += 1
    return words, ""


def _instruction(line: int, text: str) -> Instruction:
    parts = WHITESPACE.split(text.strip(), maxsplit=1)
    cmd = parts[0].lower()
    if cmd not in INSTRUCTIONS:
        raise _fail(line, f"unknown instruction {parts[0][:40]!r}")
    flags, rest = split_flags(parts[1]) if len(parts) == 2 else ([], "")
    return Instruction(line, cmd, flags, rest, text.strip())


def parse(text: str) -> tuple[str, list[Instruction]]:
    """The escape character and the instructions of ``text`` (comments and continuations joined)."""
    text = text.removeprefix("\ufeff")
    bad = BAD_CHARS.search(text.replace("\r\n", "\n"))
    if bad:
        line = text[:bad.start()].count("\n") + 1
        raise _fail(line, f"control or unusual whitespace character U+{ord(bad.group()):04X} is not allowed")
    lines = [raw.removesuffix("\r") for raw in text.split("\n")]
    escape, seen, number = "\\", set(), 0
    for number, raw in enumerate(lines):  # parser directives: only at the very top
        match = DIRECTIVE.match(raw.lstrip())
        key = match.group(1).lower() if match else ""
        if match is None or key not in ("escape", "syntax", "check"):
            break
        if key in seen:
            raise _fail(number + 1, f"only one {key} directive can be used")
        seen.add(key)
        if key == "syntax":
            raise _fail(number + 1, "the '# syntax=' directive names a frontend image; user images build with "
                        "the classic builder: remove the line")
        if key == "escape":
            escape = match.group(2)
            if escape not in ("\\", "`"):
                raise _fail(number + 1, "escape must be \\ or `")
    else:
        number = len(lines)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    found: list[Instruction] = []
    start, pending = 0, ""
    for index in range(number, len(lines)):
        raw = lines[index]
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and (not stripped or stripped.startswith("#")):
            continue  # blank lines and comments inside a continued instruction are skipped, as Docker does
        if not pending:
            start = index + 1
            raw = raw.lstrip()
        if continuation.search(raw):
            pending += continuation.sub("", raw)
            continue
        found.append(_instruction(start, pending + raw))
        pending = ""
    if pending:
        raise _fail(start, "the last instruction ends with a line continuation")
    return escape, found


def _flag_map(ins: Instruction, allowed: set[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for word in ins.flags:
        name, eq, value = word[2:].partition("=")
        name = name.lower()
        if name not in allowed:
            raise _fail(ins.line, f"{ins.cmd.upper()} --{name[:40]} is not supported in user builds"
                        + (f" (allowed: {', '.join('--' + f for f in sorted(allowed))})" if allowed else ""))
        if name in values:
            raise _fail(ins.line, f"--{name} given twice")
        if not eq or not value:
            raise _fail(ins.line, f"--{name} needs a value (--{name}=VALUE)")
        values[name] = value
    return values


def _check_add_sources(ins: Instruction, escape: str) -> None:
    candidates = [ins.rest]
    if ins.rest.startswith("["):
        try:
            decoded = json.loads(ins.rest)
        except (ValueError, RecursionError):
            raise _fail(ins.line, "ADD [...] must be a JSON array of strings") from None
        if not isinstance(decoded, list) or not all(isinstance(s, str) for s in decoded):
            raise _fail(ins.line, "ADD [...] must be a JSON array of strings")
        candidates += decoded
    for text in candidates:
        if "$" in text:
            raise _fail(ins.line, "ADD takes no variables in user builds (a variable could name a URL); "
                        "use COPY for files of the build context")
        plain = text.replace('"', "").replace("'", "").replace(escape, "")
        if REMOTE.search(plain) or any(REMOTE.search(w) for w in plain.split()):
            raise _fail(ins.line, "ADD of a URL or git repository is refused: user builds have no network; "
                        "put the file in the build context (files) and COPY it")


class _Rewriter:
    def __init__(self, escape: str, resolve: Resolver, taken: Callable[[str], bool]):
        self.escape, self.resolve, self.taken = escape, resolve, taken
        self.stages: list[str] = []  # names of the stages before the current one ("" when unnamed)
        self.count = 0  # stages begun so far
        self.current = ""  # name of the current stage
        self.plan = Plan("")

    def image(self, ref: str, line: int) -> str:
        if "$" in ref:
            raise _fail(line, f"image reference {ref[:80]!r}: variables are not allowed; write the image's name")
        image_id = self.resolve(ref, line)
        self.plan.images.add(image_id)
        self.plan.resolved[ref] = image_id
        return image_id

    def from_(self, ins: Instruction) -> str:
        if ins.flags:
            raise _fail(ins.line, "FROM flags (such as --platform) are not supported in user builds")
        args = ins.rest.split()
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise _fail(ins.line, "FROM takes an image and optionally 'AS name'")
        ref, name = args[0], args[2].lower() if len(args) == 3 else ""
        if self.count:
            self.stages.append(self.current)
        self.count += 1
        if ref.lower() in self.stages:
            source = ref.lower()
        elif ref == "scratch":
            source = ref
        else:
            source = self.image(ref, ins.line)
            self.plan.bases.append(source)
        if name:
            if not STAGE.match(name):
                raise _fail(ins.line, f"stage name {name[:64]!r}: use a letter then letters, digits, '_', '.', '-'")
            if name in self.stages:
                raise _fail(ins.line, f"stage name {name!r} is used twice")
            if name == "scratch" or self.taken(name):
                raise _fail(ins.line, f"stage name {name!r} is also the name of an image; rename the stage")
        self.current = name
        return f"FROM {source} AS {name}" if name else f"FROM {source}"

    def copy(self, ins: Instruction, trigger: bool) -> str:
        values = _flag_map(ins, COPY_FLAGS[ins.cmd])
        if not ins.rest:
            raise _fail(ins.line, f"{ins.cmd.upper()} needs a source and a destination")
        if ins.rest.startswith("-"):
            raise _fail(ins.line, f"{ins.cmd.upper()}: a source may not start with '-'")
        if ins.cmd == "add":
            _check_add_sources(ins, self.escape)
        for name in ("chown", "chmod"):
            if name in values and not FLAG_VALUE.match(values[name]):
                raise _fail(ins.line, f"--{name}={values[name][:40]!r}: use letters, digits and ._:-/ only")
        if "from" in values:
            source = values["from"]
            if not trigger and source.lower() in self.stages:
                values["from"] = source.lower()
            elif source.isdigit() and len(source) <= 4:
                if not trigger and int(source) >= self.count - 1:
                    raise _fail(ins.line, f"--from={source}: there is no earlier stage {source}")
            else:
                values["from"] = self.image(source, ins.line)
        flags = "".join(f" --{k}={v}" for k, v in values.items())
        return f"{ins.cmd.upper()}{flags} {ins.rest}"

    def one(self, ins: Instruction, trigger: bool = False) -> str:
        """The line the engine gets for ``ins`` (``trigger``: inside ONBUILD, where stages are the child's)."""
        out = self._line(ins, trigger)
        if out.endswith(self.escape) or (trigger and out[-1:] in "\\`"):
            raise _fail(ins.line, "an instruction may not end with the escape character")
        return out

    def _line(self, ins: Instruction, trigger: bool) -> str:
        if ins.cmd == "from":
            return self.from_(ins)
        if not self.count and ins.cmd != "arg" and not trigger:
            raise _fail(ins.line, f"{ins.cmd.upper()} before the first FROM")
        if ins.cmd in ("run", "copy", "add") and HEREDOC.search(ins.rest):
            raise _fail(ins.line, "heredocs (<<EOF) need BuildKit; user images build with the classic builder")
        if ins.cmd in ("copy", "add"):
            return self.copy(ins, trigger)
        if ins.cmd == "run" and ins.flags:
            raise _fail(ins.line, "RUN flags (--mount, --network, --security) need BuildKit; user images "
                        "build with the classic builder and no network")
        if ins.cmd == "onbuild":
            if not ins.rest:
                raise _fail(ins.line, "ONBUILD needs an instruction")
            inner = _instruction(ins.line, ins.rest)
            if inner.cmd in ("onbuild", "from", "maintainer"):
                raise _fail(ins.line, f"ONBUILD {inner.cmd.upper()} is not allowed")
            return "ONBUILD " + self.one(inner, trigger=True)
        return ins.text

    def run(self, instructions: list[Instruction]) -> Plan:
        out = [] if self.escape == "\\" else [f"# escape={self.escape}"]
        for ins in instructions:
            out.append(self.one(ins))
        if not self.count:
            raise _fail(0, "no FROM instruction")
        self.plan.dockerfile = "\n".join(out) + "\n"
        return self.plan


def rewrite(text: str, resolve: Resolver, taken: Callable[[str], bool] = lambda name: False) -> Plan:
    """Check a user's Dockerfile and write the one the engine builds; ``taken(name)`` says whether a
    stage name is also the name of one of the caller's images."""
    escape, instructions = parse(text)
    return _Rewriter(escape, resolve, taken).run(instructions)


def check_triggers(image: str, triggers: list[str], allowed: Callable[[str], bool]) -> None:
    """Refuse a base image whose ``ONBUILD`` triggers could name an image the caller may not use,
    fetch a URL or use BuildKit flags; ``allowed(image_id)`` says whether an id is the caller's to use.
    Triggers written by ``rewrite`` always pass (their images are full ids)."""
    def resolve(ref: str, line: int) -> str:
        if FULL_ID.match(ref) and allowed(ref):
            return ref
        raise InvalidInput(f"it names image {ref[:80]!r}, which you may not use")

    rewriter = _Rewriter("\\", resolve, lambda name: False)
    rewriter.count = 1
    for trigger in triggers:
        if "\n" in trigger or "\r" in trigger or trigger.rstrip().endswith("\\") or BAD_CHARS.search(trigger):
            raise InvalidInput(f"image {image} has an ONBUILD trigger that user builds do not accept")
        try:
            inner = _instruction(0, trigger)
            if inner.cmd in ("onbuild", "from", "maintainer"):
                raise _fail(0, f"ONBUILD {inner.cmd.upper()}")
            rewriter.one(inner, trigger=True)
        except InvalidInput as exc:
            raise InvalidInput(f"image {image} has an ONBUILD trigger user builds do not accept: "
                               f"{exc.message.removeprefix('Dockerfile: ')}") from None
