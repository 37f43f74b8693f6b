"""VPCs, their subnets, and which instance holds which address."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Vpc(IdMixin, TimestampMixin, Base):
    __tablename__ = "vpcs"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_vpcs_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    cidr_block: Mapped[str] = mapped_column(String(18), unique=True)
    network_name: Mapped[str] = mapped_column(String(80))
    # the user id for a user's default VPC (at most one each: unique), None for the VPCs users create
    default_for: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True, index=True)

    @property
    def is_default(self) -> bool:
        return self.default_for is not None


class Subnet(IdMixin, TimestampMixin, Base):
    __tablename__ = "subnets"
    __table_args__ = (UniqueConstraint("vpc_id", "name", name="uq_subnets_vpc_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    vpc_id: Mapped[str] = mapped_column(String(36), ForeignKey("vpcs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    cidr_block: Mapped[str] = mapped_column(String(18))
    availability_zone: Mapped[str] = mapped_column(String(64))


class Attachment(TimestampMixin, Base):
    """An instance placed in a VPC (and, with a subnet, the address it was given)."""

    __tablename__ = "network_attachments"
    __table_args__ = (UniqueConstraint("subnet_id", "ipv4_address", name="uq_network_attachments_address"),)

    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    vpc_id: Mapped[str] = mapped_column(String(36), ForeignKey("vpcs.id"), index=True)
    subnet_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("subnets.id"), nullable=True, index=True)
    ipv4_address: Mapped[str | None] = mapped_column(String(15), nullable=True)
