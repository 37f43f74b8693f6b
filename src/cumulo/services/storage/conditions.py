"""Conditional writes (``If-Match`` / ``If-None-Match`` on PutObject, CopyObject and
CompleteMultipartUpload): the condition is checked against the key's current version inside the
transaction that writes the new one, after the key's lock, so two writers cannot both pass it."""

from __future__ import annotations

from dataclasses import dataclass

from cumulo.services.storage.errors import S3Error


def etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-Match``-style list (``"a", "b"`` or ``*``) names ``etag``."""
    return any(t.strip().strip('"') in (etag, "*") for t in header.split(","))


def precondition_failed() -> S3Error:
    return S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)


@dataclass(frozen=True, slots=True)
class Guard:
    """What the current version of a key must be for a write to go ahead."""

    if_match: str | None = None
    if_none_match: str | None = None

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> Guard | None:
        match, none_match = headers.get("if-match"), headers.get("if-none-match")
        if match is None and none_match is None:
            return None
        return cls(match, none_match)

    def verify(self, current_etag: str | None) -> None:
        """``current_etag``: the ETag of the key's current version, None when there is none (or it
        is a delete marker). Raises 412 PreconditionFailed when the condition does not hold."""
        if self.if_match is not None and (current_etag is None or not etag_matches(self.if_match, current_etag)):
            raise precondition_failed()
        if self.if_none_match is not None and current_etag is not None \
                and etag_matches(self.if_none_match, current_etag):
            raise precondition_failed()
