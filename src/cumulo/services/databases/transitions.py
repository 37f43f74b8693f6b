"""The exact moments of a server's (database or cache) changes of state, and an audit event for each.

``track_changes(model, stamp, key, *attributes, action=..., usage=...)``:

- sets ``<stamp>`` to now whenever one of ``attributes`` is set to a different value (on the object,
  before its commit): the exact moment of a transition, which ``updated_at`` is not (any later write to
  the row moves it); ``<key>`` keeps the values the stamp is for, so a reader can tell a row changed
  behind the ORM (a bulk UPDATE) and fall back to ``updated_at`` (``hooks``). A new row's moment is
  its insert (as ``created_at``), not its making.
- records, in the same flush (so in the same transaction), one ``<resource_type>.<action>`` audit
  event per row whose tracked values changed (or that was inserted), carrying ``usage`` (``{meter,
  active, spec, at}``: what the billing meter bills it by, from that moment). The billing meter follows
  these events in commit order (``cumulo.runtime.outbox``), so a stop and a start between two of its
  passes are both billed at their moments, not sampled.

The flush hook runs inside the session's flush (the ORM's own greenlet on ``AsyncSession``), where
reading an attribute may load it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from cumulo.core.clock import iso, utcnow
from cumulo.core.ids import new_id
from cumulo.services.events import service as events

CHANGED = "_cumulo_changed"  # in an object's __dict__: the stamps whose values changed since its last flush
# a tracked row -> (billed now, the spec its price depends on)
Usage = Callable[[Callable[[str], Any]], tuple[bool, dict[str, float]]]


@dataclass(frozen=True)
class Tracker:
    stamp: str
    key: str
    attributes: tuple[str, ...]
    resource_type: str
    action: str
    meter: str
    usage: Usage


_TRACKED: dict[type, list[Tracker]] = {}


def state_key(values: Any) -> str:
    """What a stamp was taken for: the tracked values, as the meter compares them with the row's."""
    return "|".join("" if v is None else str(float(v) if isinstance(v, int | float) else v) for v in values)


def track_changes(model: Any, stamp: str, key: str, *attributes: str, resource_type: str, action: str,
                  meter: str, usage: Usage) -> None:
    def changed(target: Any, value: Any, old: Any, _initiator: Any, name: str) -> Any:
        if value != old:
            current = {a: target.__dict__.get(a) for a in attributes}  # never a load: no I/O in here
            current[name] = value
            setattr(target, stamp, utcnow())
            setattr(target, key, state_key(current[a] for a in attributes))
            target.__dict__.setdefault(CHANGED, set()).add(stamp)
        return value

    for attribute in attributes:
        event.listen(getattr(model, attribute), "set",
                     lambda t, v, o, i, _name=attribute: changed(t, v, o, i, _name), retval=True)
    _TRACKED.setdefault(model, []).append(Tracker(stamp, key, attributes, resource_type, action, meter, usage))


def _reader(obj: Any, new: bool) -> Callable[[str], Any]:
    """An attribute's value; for a new row, the column's default where none was given (as the insert)."""
    columns = inspect(type(obj)).columns

    def value(name: str) -> Any:
        found = getattr(obj, name)
        if found is None and new and name in columns:
            default = columns[name].default
            if default is not None and getattr(default, "is_scalar", False):
                return getattr(default, "arg", None)
        return found
    return value


@event.listens_for(Session, "before_flush")
def _record_transitions(session: Session, _context: Any, _instances: Any) -> None:
    if not _TRACKED:
        return
    for obj, new in [*((o, True) for o in session.new), *((o, False) for o in session.dirty)]:
        trackers = _TRACKED.get(type(obj))
        if not trackers:
            continue
        pending = obj.__dict__.pop(CHANGED, set())
        if new and getattr(obj, "id", None) is None:
            obj.id = new_id()  # as the insert would: the event names the row
        read = _reader(obj, new)
        for t in trackers:
            if new:
                setattr(obj, t.stamp, utcnow())
                setattr(obj, t.key, state_key(read(a) for a in t.attributes))
            elif t.stamp not in pending:
                continue
            at: dt.datetime = getattr(obj, t.stamp) or utcnow()
            active, spec = t.usage(read)
            fields = {a: read(a) for a in t.attributes}
            events.record(session, user_id=read("user_id"), action=f"{t.resource_type}.{t.action}",  # type: ignore[arg-type]
                          resource_type=t.resource_type, resource_id=read("id"), name=read("name"), **fields,
                          usage={"meter": t.meter, "active": active, "spec": spec, "at": iso(at)})
