"""Auto-scaling group use cases: create, read, set desired capacity, delete, activities.

The reconciler (``scaling.converge``) evaluates the policies, heals and launches or retires
members; members are instances of the group's owner labelled ``cumulo.group``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput, NotFound
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.autoscaling.models import Activity, Group, Member
from cumulo.services.autoscaling.schemas import ActivityOut, GroupCreate, GroupOut, GroupUpdate, MemberOut
from cumulo.services.compute import service as compute
from cumulo.services.compute.schemas import InstanceCreate
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

KIND = "autoscaling"
LABEL = "cumulo.group"
MAX_ACTIVITIES = 200


async def get_group(session: AsyncSession, user: Principal | str, ref: str) -> Group:
    return await owned(session, Group, user if isinstance(user, str) else user.user_id, ref, "auto-scaling group")


async def list_groups(session: AsyncSession, user: Principal) -> list[Group]:
    return list((await session.scalars(select(Group).where(Group.user_id == user.user_id)
                                       .order_by(Group.created_at, Group.id))).all())


async def ids(platform: Platform) -> list[str]:
    async with platform.db.session() as session:
        return list((await session.scalars(select(Group.id))).all())


async def members_of(session: AsyncSession, group_id: str) -> list[Member]:
    return list((await session.scalars(select(Member).where(Member.group_id == group_id)
                                       .order_by(Member.launched_at, Member.id))).all())


def activity(session: AsyncSession, group: Group, status: str, cause: str, description: str, before: int,
             after: int) -> None:
    session.add(Activity(id=new_id(), group_id=group.id, status=status, cause=cause, description=description,
                         from_capacity=before, to_capacity=after, at=utcnow()))
    events.record(session, user_id=group.user_id, action=f"autoscaling.{'scaled' if status == 'Successful' else 'failed'}",
                  resource_type="autoscaling_group", resource_id=group.id, cause=cause, description=description,
                  from_capacity=before, to_capacity=after)


async def create(platform: Platform, session: AsyncSession, user: Principal, body: GroupCreate) -> Group:
    from cumulo.services.images import service as images

    template = body.launch_template
    try:
        InstanceCreate.model_validate({"name": "x", **template.model_dump(exclude_none=True)})
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        raise InvalidInput("launch_template: " + (errors()[0].get("msg", "") if callable(errors) else str(exc))
                           .replace("Value error, ", "")) from None
    await images.image_ref_for(platform, session, user, template.image)
    if template.env_secrets:
        from cumulo.services.secrets import service as secrets

        await secrets.resolve_env(session, user, template.env_secrets, platform=platform, audit=False)
    spec = template.model_dump(mode="json")
    if template.vpc_id:
        from cumulo.services.network import service as network

        spec["vpc_id"] = (await network.get_vpc(session, user, template.vpc_id)).id
    lb_id = None
    if body.load_balancer_id:
        from cumulo.services.lb import service as lb

        lb_id = (await lb.get_lb(session, user, body.load_balancer_id)).id
    await quotas.check(session, platform, user.user_id, "autoscaling_groups")
    taken = f"you already have an auto-scaling group named '{body.name}'"
    if await session.scalar(select(Group.id).where(Group.user_id == user.user_id, Group.name == body.name)):
        raise Conflict(taken)
    desired = body.min_size if body.desired_capacity is None else body.desired_capacity
    group = Group(id=new_id(), user_id=user.user_id, name=body.name, launch_template=spec, min_size=body.min_size,
                  max_size=body.max_size, desired_capacity=desired, load_balancer_id=lb_id,
                  target_port=body.target_port, policies=[p.model_dump() for p in body.policies],
                  cooldown_seconds=body.cooldown_seconds, warmup_seconds=body.warmup_seconds,
                  scale_in_stabilization_seconds=body.scale_in_stabilization_seconds,
                  scale_in_protection=body.scale_in_protection, status="ACTIVE", deleting=False, state={})
    session.add(group)
    await flush_or_conflict(session, taken)
    activity(session, group, "Successful", "the group was created", f"desired capacity {desired}", 0, desired)
    events.record(session, user_id=user.user_id, action="autoscaling.created", resource_type="autoscaling_group",
                  resource_id=group.id, name=group.name, min_size=group.min_size, max_size=group.max_size,
                  desired_capacity=desired)
    await session.commit()
    reconcile.wake(platform, KIND, group.id)
    return group


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: GroupUpdate) -> Group:
    group = await get_group(session, user, ref)
    if group.deleting:
        raise Conflict(f"auto-scaling group '{group.name}' is being deleted")
    low = group.min_size if body.min_size is None else body.min_size
    high = group.max_size if body.max_size is None else body.max_size
    desired = group.desired_capacity if body.desired_capacity is None else body.desired_capacity
    if low > high:
        raise InvalidInput(f"min_size ({low}) must not exceed max_size ({high})")
    if body.desired_capacity is None:
        desired = min(max(desired, low), high)
    if not low <= desired <= high:
        raise InvalidInput(f"desired_capacity must lie within min_size..max_size ({low}..{high}); {desired} asked")
    before = group.desired_capacity
    group.min_size, group.max_size, group.desired_capacity = low, high, desired
    group.updated_at = utcnow()
    if desired != before:
        activity(session, group, "Successful", "a user set the desired capacity" if body.desired_capacity is not None
                 else "a user changed the group's bounds", f"desired capacity {before} -> {desired}", before, desired)
        group.state = {**(group.state or {}), "recommendations": []}
    await session.commit()
    reconcile.wake(platform, KIND, group.id)
    return group


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    group = await get_group(session, user, ref)
    if not group.deleting:
        group.deleting, group.status = True, "DELETING"
        events.record(session, user_id=user.user_id, action="autoscaling.delete_requested",
                      resource_type="autoscaling_group", resource_id=group.id, name=group.name)
        await session.commit()
    reconcile.wake(platform, KIND, group.id)


async def activities(session: AsyncSession, user: Principal, ref: str, limit: int = 100) -> list[ActivityOut]:
    group = await get_group(session, user, ref)
    rows = (await session.scalars(select(Activity).where(Activity.group_id == group.id)
                                  .order_by(Activity.at.desc(), Activity.id).limit(limit))).all()
    return [ActivityOut(id=a.id, status=a.status, cause=a.cause, description=a.description,
                        from_capacity=a.from_capacity, to_capacity=a.to_capacity, time=aware(a.at))
            for a in rows]


async def render(session: AsyncSession, group: Group) -> GroupOut:
    members = []
    now = utcnow()
    for m in await members_of(session, group.id):
        try:
            inst = await compute.get_instance(session, group.user_id, m.instance_id)
            status, address = inst.status, inst.ipv4_address or inst.ip_address
        except NotFound:
            status, address = None, None
        warming = (now - aware(m.launched_at)).total_seconds() < group.warmup_seconds
        members.append(MemberOut(instance_id=m.instance_id, name=m.name, state=m.state, status=status,
                                 address=address, in_load_balancer=m.in_lb, warming_up=warming,
                                 launched_at=aware(m.launched_at)))
    return GroupOut(
        id=group.id, name=group.name, launch_template=group.launch_template, min_size=group.min_size,
        max_size=group.max_size, desired_capacity=group.desired_capacity,
        current_capacity=sum(1 for m in members if m.state == "in_service"), load_balancer_id=group.load_balancer_id,
        target_port=group.target_port, policies=group.policies, cooldown_seconds=group.cooldown_seconds,
        warmup_seconds=group.warmup_seconds, scale_in_stabilization_seconds=group.scale_in_stabilization_seconds,
        scale_in_protection=group.scale_in_protection, status=group.status,
        last_metrics=(group.state or {}).get("last", {}), members=members,
        created_at=aware(group.created_at), updated_at=aware(group.updated_at))
