"""Identity use cases: accounts, logins, API keys, one-time tokens, roles.

Callable without HTTP (the CLI's ``admin create-user`` and the tests use it directly).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, cast

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, CumuloError, Forbidden, QuotaExceeded, Unauthorized, not_found
from cumulo.core.ids import is_uuid, sha256_hex, token
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.query import Query
from cumulo.drivers.mail import Mail
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.identity import scopes as key_scopes
from cumulo.services.identity.keycache import KeyCache
from cumulo.services.identity.models import ApiKey, LoginFailure, OneTimeToken, User
from cumulo.services.identity.passwords import hash_password, verify_password
from cumulo.services.identity.schemas import KeyCreatedOut, KeyOut, UserOut
from cumulo.services.quotas import service as quotas

log = logging.getLogger("cumulo.identity")

KEY_PREFIX = "cml_"
LAST_USED_EVERY = 30.0  # seconds between writes of api_keys.last_used for a busy key
FORGOT_MESSAGE = "If the email exists, a reset token has been sent."
REGISTER_MESSAGE = "registration received: check your mailbox"  # the same for a taken address (owner mailed)


class AccountLocked(CumuloError):
    code, status, default_message = "ACCOUNT_LOCKED", 401, "account temporarily locked after too many failed logins"


class EmailNotVerified(CumuloError):
    code, status, default_message = "EMAIL_NOT_VERIFIED", 403, "verify your email address before logging in"


class KeyExpired(CumuloError):
    code, status, default_message = "KEY_EXPIRED", 401, "this API key has expired: log in again or make a new key"


class InvalidToken(CumuloError):
    code, status, default_message = "INVALID_TOKEN", 400, "the token is invalid, expired or already used"


def _cache(platform: Platform) -> KeyCache:
    settings = platform.settings
    ttl = 0.0 if settings.api_processes > 1 else settings.key_cache_seconds
    return platform.get_or_create("identity.keycache", lambda: KeyCache(ttl=ttl, touch_every=LAST_USED_EVERY))


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role,
                   email_verified=user.email_verified, created_at=aware(user.created_at))


def key_out(key: ApiKey) -> KeyOut:
    return KeyOut(id=key.id, user_id=key.user_id, name=key.name, prefix=key.prefix,
                  created_at=aware(key.created_at), last_used=aware(key.last_used), expires_at=aware(key.expires_at),
                  scopes=list(key_scopes.split(key.scopes)), login=bool(key.login))


def _normal_email(email: str) -> str:
    return email.strip().lower()


# --- accounts ------------------------------------------------------------------------------

async def create_user(session: AsyncSession, *, email: str, password: str, name: str,
                      role: str | None = None, verified: bool = False) -> User:
    """Create an account; the very first account is an administrator."""
    email = _normal_email(email)
    if await session.scalar(select(User.id).where(User.email == email)):
        await hash_password(password)  # as long as a real creation: the time says nothing either
        raise Conflict("an account with this email already exists")
    if role is None:
        role = "admin" if not await session.scalar(select(func.count()).select_from(User)) else "user"
    user = User(email=email, name=name, password_hash=await hash_password(password), role=role,
                email_verified=verified)
    session.add(user)
    await flush_or_conflict(session, "an account with this email already exists")
    events.record(session, user_id=user.id, action="user.registered", resource_type="user",
                  resource_id=user.id, role=role)
    return user


async def register(platform: Platform, session: AsyncSession, *, email: str, password: str,
                   name: str) -> User | None:
    """Create the account and mail a verification link. The caller learns nothing about whether the
    address already had an account: for an existing one the answer is the same (the password is
    hashed all the same, so the time is too), nothing changes, and the owner gets a mail instead.
    Returns the new user, or None when the address was taken."""
    try:
        user = await create_user(session, email=email, password=password, name=name)
    except Conflict:
        await session.rollback()
        await _warn_owner(platform, session, _normal_email(email))
        return None
    raw = await _issue_token(session, user.id, "verify", platform.settings.verify_token_ttl_seconds)
    await session.commit()
    link = f"{platform.settings.base_url}/auth/verify/{raw}"
    await _mail(platform, Mail(to=user.email, subject="Verify your Cumulo account",
                               body=f"Hello {user.name},\n\nConfirm your email address by opening:\n{link}\n"))
    return user


async def _warn_owner(platform: Platform, session: AsyncSession, email: str) -> None:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:  # pragma: no cover - deleted meanwhile
        return
    events.record(session, user_id=user.id, action="user.register_attempted", resource_type="user",
                  resource_id=user.id)
    await session.commit()
    await _mail(platform, Mail(
        to=user.email, subject="Someone tried to register with your address",
        body=(f"Hello {user.name},\n\nSomeone tried to create a Cumulo account with this address, which "
              f"already has one. Nothing was changed. If it was you, log in instead, or reset your password "
              f"with `cumulo forgot-password` (POST /auth/forgot-password). If it was not, ignore this mail.\n")))


async def verify_email(session: AsyncSession, raw_token: str) -> None:
    row = await _consume_token(session, raw_token, "verify")
    await session.execute(update(User).where(User.id == row.user_id).values(email_verified=True, updated_at=utcnow()))
    events.record(session, user_id=row.user_id, action="user.email_verified", resource_type="user",
                  resource_id=row.user_id)
    await session.commit()


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.created_at))).all())


async def set_role(platform: Platform, session: AsyncSession, actor: Principal, user_id: str, role: str) -> User:
    if not is_uuid(user_id):
        raise not_found("user", user_id)
    user = await get_user(session, user_id)
    user.role = role
    events.record(session, user_id=user.id, actor_id=actor.user_id, action="user.role_changed",
                  resource_type="user", resource_id=user.id, role=role)
    await session.commit()
    _cache(platform).evict_user(user.id)
    return user


# --- login and lockout -----------------------------------------------------------------------

async def login(platform: Platform, session: AsyncSession, *, email: str, password: str, source: str = "",
                expires_in_seconds: int | None = None) -> tuple[User, str]:
    """A new login key. Failures are counted per (email, ``source`` address): after
    ``lockout_threshold`` of them that address is refused for ``lockout_minutes``, while the owner's
    own address (and every other) still logs in."""
    settings = platform.settings
    email = _normal_email(email)
    source = (source or "unknown")[:64]
    now = utcnow()
    failure = await session.get(LoginFailure, (email, source))
    if failure and failure.locked_until and aware(failure.locked_until) > now:
        minutes = max(1, int((aware(failure.locked_until) - now).total_seconds() // 60) + 1)
        raise AccountLocked(f"too many failed logins from your address; try again in {minutes} min")
    user = await session.scalar(select(User).where(User.email == email))
    if not await verify_password(user.password_hash if user else None, password):
        await _count_failure(session, email, source, failure, settings.lockout_threshold, settings.lockout_minutes)
        raise Unauthorized("invalid email or password")
    assert user is not None
    if settings.require_email_verification and not user.email_verified:
        raise EmailNotVerified()
    if failure:
        await session.delete(failure)
    ttl = expires_in_seconds if expires_in_seconds is not None else settings.login_key_ttl_seconds
    await _make_room_for_login_key(platform, session, user.id)
    raw, _key = await _new_key(session, user.id, f"login {now:%Y-%m-%d %H:%M}", login=True,
                               expires_at=now + dt.timedelta(seconds=ttl) if ttl else None)
    events.record(session, user_id=user.id, action="user.login", resource_type="user", resource_id=user.id)
    await session.commit()
    return user, raw


async def _count_failure(session: AsyncSession, email: str, source: str, failure: LoginFailure | None,
                         threshold: int, minutes: int) -> None:
    now = utcnow()
    stale = now - dt.timedelta(minutes=2 * minutes)
    await session.execute(delete(LoginFailure).where(  # old counters of others: at most a window's worth stay
        LoginFailure.updated_at < stale, LoginFailure.locked_until.is_(None) | (LoginFailure.locked_until < now),
        (LoginFailure.email != email) | (LoginFailure.source != source)),
        execution_options={"synchronize_session": False})
    if failure is not None and aware(failure.updated_at) < stale:
        failure.count = 0  # failures long ago: start again
    if failure is None:
        failure = LoginFailure(email=email, source=source, count=0)
        session.add(failure)
    failure.count += 1
    failure.updated_at = now
    if failure.count >= threshold:
        failure.locked_until = now + dt.timedelta(minutes=minutes)
        failure.count = 0
    try:
        await session.commit()
    except IntegrityError:  # a concurrent failure inserted the row first: count on it
        await session.rollback()
        await session.execute(update(LoginFailure).where(LoginFailure.email == email, LoginFailure.source == source)
                              .values(count=LoginFailure.count + 1, updated_at=utcnow()))
        await session.commit()


async def _drop_expired(platform: Platform, session: AsyncSession, user_id: str) -> None:
    """Delete the user's expired keys (they are refused anyway), in the caller's transaction."""
    now = utcnow()
    expired = [k for k in (await session.scalars(select(ApiKey).where(ApiKey.user_id == user_id,
                                                                      ApiKey.expires_at.is_not(None)))).all()
               if k.expires_at is not None and aware(k.expires_at) <= now]
    for key in expired:
        await session.delete(key)
        _cache(platform).evict(key.key_hash)
    if expired:
        await session.flush()


async def _make_room_for_login_key(platform: Platform, session: AsyncSession, user_id: str) -> None:
    """A login at the key quota does not fail while there is a login key to replace: the user's
    expired keys go first, then the oldest login keys."""
    await locks.hold(session, f"quota:{user_id}")
    await _drop_expired(platform, session, user_id)
    keys = list((await session.scalars(select(ApiKey).where(ApiKey.user_id == user_id)
                                       .order_by(ApiKey.created_at))).all())
    drop: list[ApiKey] = []
    count, limit = len(keys), platform.settings.quota_api_keys
    for key in keys:
        if count + 1 <= limit:
            break
        if key.login:
            drop.append(key)
            count -= 1
    if count + 1 > limit:
        raise QuotaExceeded(f"api_keys quota exceeded: {count} keys > limit {limit} (CUMULO_QUOTA_API_KEYS); "
                            "revoke a key first")
    cache = _cache(platform)
    for key in drop:
        await session.delete(key)
        cache.evict(key.key_hash)


# --- password reset --------------------------------------------------------------------------

async def forgot_password(platform: Platform, session: AsyncSession, email: str) -> None:
    user = await session.scalar(select(User).where(User.email == _normal_email(email)))
    if user is None:
        return
    raw = await _issue_token(session, user.id, "reset", platform.settings.reset_token_ttl_seconds)
    events.record(session, user_id=user.id, action="user.password_reset_requested", resource_type="user",
                  resource_id=user.id)
    await session.commit()
    minutes = platform.settings.reset_token_ttl_seconds // 60
    await _mail(platform, Mail(
        to=user.email, subject="Reset your Cumulo password",
        body=(f"Hello {user.name},\n\nSomeone asked to reset your password. Your reset token, valid for "
              f"{minutes} minutes and usable once:\n\n{raw}\n\nUse it with POST /auth/reset-password or "
              f"`cumulo reset-password`. If this was not you, ignore this mail.\n")))


async def reset_password(platform: Platform, session: AsyncSession, raw_token: str, new_password: str) -> None:
    row = await _consume_token(session, raw_token, "reset")
    user = await get_user(session, row.user_id)
    user.password_hash = await hash_password(new_password)
    user.updated_at = utcnow()
    await session.execute(delete(LoginFailure).where(LoginFailure.email == user.email))
    events.record(session, user_id=user.id, action="user.password_reset", resource_type="user", resource_id=user.id)
    await session.commit()


async def _issue_token(session: AsyncSession, user_id: str, purpose: str, ttl_seconds: int) -> str:
    raw = token(32)
    session.add(OneTimeToken(user_id=user_id, purpose=purpose, token_hash=sha256_hex(raw),
                             expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds)))
    return raw


async def _consume_token(session: AsyncSession, raw_token: str, purpose: str) -> OneTimeToken:
    """Mark a one-time token used, atomically: two concurrent uses cannot both succeed."""
    now = utcnow()
    row = await session.scalar(select(OneTimeToken).where(OneTimeToken.token_hash == sha256_hex(raw_token),
                                                          OneTimeToken.purpose == purpose))
    if row is None or row.used_at is not None or aware(row.expires_at) <= now:
        raise InvalidToken()
    # an UPDATE's result is a CursorResult (it has the rowcount); execute() is typed as giving any Result
    result = cast("CursorResult[Any]", await session.execute(
        update(OneTimeToken).where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None)).values(used_at=now)))
    if result.rowcount != 1:
        raise InvalidToken()
    return row


async def _mail(platform: Platform, mail: Mail) -> None:
    try:
        await platform.mailer.send(mail)
    except CumuloError as exc:  # the account change stands; the user can ask again
        log.warning("could not send '%s' to %s: %s", mail.subject, mail.to, exc.message)


# --- API keys -------------------------------------------------------------------------------

async def _new_key(session: AsyncSession, user_id: str, name: str, *, expires_at: dt.datetime | None = None,
                   scopes: str | None = None, login: bool = False) -> tuple[str, ApiKey]:
    raw = KEY_PREFIX + token(30)
    key = ApiKey(user_id=user_id, name=name, prefix=raw[:12], key_hash=sha256_hex(raw), expires_at=expires_at,
                 scopes=scopes, login=login)
    session.add(key)
    await session.flush()
    return raw, key


def _created(raw: str, key: ApiKey) -> KeyCreatedOut:
    return KeyCreatedOut(**key_out(key).model_dump(), key=raw)


def _unscoped(user: Principal, what: str) -> None:
    if user.scoped:
        raise Forbidden(f"a scoped API key cannot {what}; use an unscoped key")


async def create_key(platform: Platform, session: AsyncSession, user: Principal, name: str, *,
                     expires_in_seconds: int | None = None, scopes: list[str] | None = None) -> KeyCreatedOut:
    """A named key, optionally expiring and limited (``scopes``, see ``identity.scopes``)."""
    _unscoped(user, "make keys")
    stored = key_scopes.parse(scopes)
    await locks.hold(session, f"quota:{user.user_id}")
    await _drop_expired(platform, session, user.user_id)  # expired keys do not hold the quota
    await quotas.check(session, platform, user.user_id, "api_keys")
    expires_at = utcnow() + dt.timedelta(seconds=expires_in_seconds) if expires_in_seconds else None
    raw, key = await _new_key(session, user.user_id, name, expires_at=expires_at, scopes=stored)
    events.record(session, user_id=user.user_id, action="apikey.created", resource_type="apikey",
                  resource_id=key.id, name=name, scopes=stored, expires_at=expires_at.isoformat() if expires_at else None)
    await session.commit()
    return _created(raw, key)


_KEY_COLUMNS = (ApiKey.id, ApiKey.user_id, ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.last_used,
                ApiKey.expires_at, ApiKey.scopes, ApiKey.login)
_KEYS_OF = Query(select(*_KEY_COLUMNS).where(ApiKey.user_id == bindparam("user_id")).order_by(ApiKey.created_at))
_PRINCIPAL_OF = Query(select(ApiKey.id, User.id, User.email, User.name, User.role, ApiKey.expires_at, ApiKey.scopes)
                      .join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == bindparam("key_hash")))


async def list_keys(platform: Platform, user: Principal) -> list[KeyOut]:
    """A hot path (benchmarked): the database's read lane, plain rows, no session."""
    rows = await platform.db.read(_KEYS_OF, user_id=user.user_id)
    return [KeyOut(id=r[0], user_id=r[1], name=r[2], prefix=r[3], created_at=aware(r[4]), last_used=aware(r[5]),
                   expires_at=aware(r[6]), scopes=list(key_scopes.split(r[7])), login=bool(r[8]))
            for r in rows]


async def _own_key(session: AsyncSession, user: Principal, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id) if is_uuid(key_id) else None
    if key is None or key.user_id != user.user_id:
        raise not_found("API key", key_id)
    return key


async def revoke_key(platform: Platform, session: AsyncSession, user: Principal, key_id: str) -> None:
    if key_id != user.key_id:
        _unscoped(user, "revoke other keys")
    key = await _own_key(session, user, key_id)
    await session.delete(key)
    events.record(session, user_id=user.user_id, action="apikey.revoked", resource_type="apikey", resource_id=key.id)
    await session.commit()
    _cache(platform).evict(key.key_hash)


async def logout(platform: Platform, session: AsyncSession, user: Principal) -> None:
    """Revoke the key that made the call (``POST /auth/logout``)."""
    await revoke_key(platform, session, user, user.key_id)


async def rotate_key(platform: Platform, session: AsyncSession, user: Principal, key_id: str) -> KeyCreatedOut:
    """A new secret for the key; its name, scopes and expiry stay."""
    _unscoped(user, "rotate keys")
    old = await _own_key(session, user, key_id)
    raw, new = await _new_key(session, user.user_id, old.name, expires_at=old.expires_at, scopes=old.scopes,
                              login=old.login)
    await session.delete(old)
    events.record(session, user_id=user.user_id, action="apikey.rotated", resource_type="apikey",
                  resource_id=new.id, previous_id=old.id)
    await session.commit()
    _cache(platform).evict(old.key_hash)
    return _created(raw, new)


async def authenticate(platform: Platform, raw_key: str) -> Principal:
    """The principal behind an API key, or ``Unauthorized`` (``KeyExpired`` past its expiry). Keeps
    ``last_used`` current."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        raise Unauthorized("invalid API key")
    key_hash = sha256_hex(raw_key)
    cache = _cache(platform)
    principal = cache.get(key_hash)
    if principal is None:
        rows = await platform.db.read(_PRINCIPAL_OF, key_hash=key_hash)
        if not rows:
            raise Unauthorized("invalid API key")
        row = rows[0]
        expires = aware(row[5])
        principal = Principal(key_id=row[0], user_id=row[1], email=row[2], name=row[3], role=row[4],
                              scopes=key_scopes.split(row[6]), expires_at=expires.timestamp() if expires else None)
        cache.put(key_hash, principal)
    if principal.expires_at is not None and principal.expires_at <= time.time():
        raise KeyExpired()
    if cache.due_for_touch(principal.key_id):
        async with platform.db.session() as session:
            await _touch(session, principal.key_id)
    return principal


async def _touch(session: AsyncSession, key_id: str) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used=utcnow()))
    await session.commit()
