"""The Dockerfile rewriter on its own (fast; the builds themselves are in tests/security/test_images.py):
what is refused, what the engine receives, and that no input raises anything but a clear 4xx."""

from __future__ import annotations

import random

import pytest

from cumulo.core.errors import CumuloError, InvalidInput, NotFound
from cumulo.services.images.dockerfile import check_triggers, rewrite, split_flags

MINE = "sha256:" + "a" * 64
CATALOGUE = "sha256:" + "b" * 64


def resolve(ref: str, line: int) -> str:
    if ref in ("app", "app:v1"):
        return MINE
    if ref == "cumulo/busybox":
        return CATALOGUE
    raise NotFound(f"line {line}: image '{ref}' not found")


def engine_text(text: str) -> str:
    return rewrite(text, resolve, lambda name: name == "app").dockerfile


def test_every_image_reference_becomes_a_full_id_and_stages_stay() -> None:
    out = engine_text("FROM cumulo/busybox AS Build\nRUN make \\\n  # a comment\n  all\n"
                      "FROM app:v1\nCOPY --from=build /a /b\nCOPY --from=0 /a /c\nCOPY --from=app --chown=1:1 /x /y\n"
                      "ONBUILD COPY --from=app /x /z\n")
    assert out == (f"FROM {CATALOGUE} AS build\nRUN make   all\nFROM {MINE}\nCOPY --from=build /a /b\n"
                   f"COPY --from=0 /a /c\nCOPY --from={MINE} --chown=1:1 /x /y\nONBUILD COPY --from={MINE} /x /z\n")


@pytest.mark.parametrize("text", [
    "FROM 92e\n", "FROM cumulo-user/someone/secret\n", "FROM cumulo/busybox\nCOPY --from=92e /a /b\n",
    "FROM cumulo/busybox\nCOPY --fr\\\nom=92e /a /b\n", "FROM cumulo/busybox\nCOPY --fr\\om=92e /a /b\n",
    "FROM cumulo/busybox\nCOPY --from='92e' /a /b\n", "FROM cumulo/busybox\nONBUILD COPY --from=92e /a /b\n",
    "FROM cumulo/busybox AS later\nCOPY --from=later /a /b\n",  # its own stage: not an earlier one
])
def test_unknown_images_are_404(text: str) -> None:
    with pytest.raises(NotFound):
        engine_text(text)


@pytest.mark.parametrize("text", [
    "FROM cumulo/busybox\nADD http://127.0.0.1:9/x /x\n", "FROM cumulo/busybox\nADD HTTPS://example.com/x /x\n",
    'FROM cumulo/busybox\nADD ["http:\\u002f\\u002f127.0.0.1/", "/y"]\n', "FROM cumulo/busybox\nADD h\\ttp://x /y\n",
    "FROM cumulo/busybox\nADD git@github.com:a/b.git /y\n", "FROM cumulo/busybox\nADD $URL /y\n",
    "FROM cumulo/busybox\nADD --checksum=sha256:00 http://x /y\n", "FROM cumulo/busybox\nONBUILD ADD http://x /y\n",
    "ARG B=x\nFROM $B\n", "FROM --platform=linux/arm64 cumulo/busybox\n",
    "FROM cumulo/busybox\nRUN --mount=type=bind,from=x,target=/x ls\n", "FROM cumulo/busybox\nRUN --network=host true\n",
    "# syntax=docker/dockerfile:1\nFROM cumulo/busybox\n", "FROM cumulo/busybox AS app\n",
    "FROM cumulo/busybox\nCOPY --from=1 /a /b\n", "FROM cumulo/busybox\nRUN a\rFROM 92e\n",
    "FROM cumulo/busybox\nCOPY -- --from=92e /x\n", "FROM cumulo/busybox\nRUN echo \\", "RUN true\n", "",
    "FROM cumulo/busybox\nONBUILD FROM x\n", "FROM cumulo/busybox\nFROBNICATE\n", "FROM a b\n",
    "FROM cumulo/busybox\nRUN cat <<EOF\n", "FROM cumulo/busybox\nCOPY --from /a /b\n",
])
def test_refused_with_400(text: str) -> None:
    with pytest.raises(InvalidInput):
        engine_text(text)


def test_escape_directive_is_kept() -> None:
    assert engine_text("# escape=`\nFROM cumulo/busybox\nRUN echo a `\n b\n") == (
        f"# escape=`\nFROM {CATALOGUE}\nRUN echo a  b\n")


def test_flags_are_read_as_docker_reads_them() -> None:
    assert split_flags('--from=x --chown="a b" /src /dst') == (["--from=x", "--chown=a b"], "/src /dst")
    assert split_flags("--fr\\om=x -- --from=y /a") == (["--from=x"], "--from=y /a")
    assert split_flags("'--from=x' a") == ([], "'--from=x' a")


def test_base_image_triggers() -> None:
    allowed = {MINE}.__contains__
    check_triggers("base", [f"COPY --from={MINE} /a /b", "COPY --from=0 a b", "RUN true"], allowed)
    for trigger in ("COPY --from=92e /a /b", f"COPY --from={CATALOGUE} /a /b", "ADD http://x /y", "RUN x \\",
                    "RUN --mount=type=cache,target=/x true", "# comment"):
        with pytest.raises(InvalidInput):
            check_triggers("base", [trigger], allowed)


def test_random_input_is_never_a_500() -> None:
    rng = random.Random(7)
    pieces = ["FROM ", "COPY ", "ADD ", "RUN ", "ONBUILD ", "ARG ", "--from=", "--chown=", "AS ", "app", "x", "0",
              "cumulo/busybox", " ", "\\", "\n", "`", "'", '"', "[", "]", "$", "#", "# escape=`\n", "http://", ":", "\t"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        try:
            engine_text(text)
        except CumuloError:
            pass
