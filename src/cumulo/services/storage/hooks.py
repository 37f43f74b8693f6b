"""What object storage gives the services below it through ``cumulo.ports``: its S3 requests for the
billing meter (``cumulo.ports.usage``: per bucket, by price class, of the minutes that ended in the
meter's window; counted by ``requests``). Its GiB-months are the ``storage_bytes`` quota's usage,
which billing samples hourly."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.services.storage import requests


async def consumed(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[ports.Consumed]:
    return [ports.Consumed(resource_id=bid, user_id=user_id, name=name,
                           quantities={"put_requests": float(put), "get_requests": float(get)})
            for bid, user_id, name, put, get in await requests.ended_in(session, start, end)]


ports.usage.add("bucket", ports.Meterable(service="storage", consumed=consumed))
