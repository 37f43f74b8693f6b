"""Billing calls: plans, subscription, balance, ledger, usage, invoices, credits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Billing:
    def __init__(self, client: Transport):
        self.c = client

    def plans(self) -> list[dict[str, Any]]:
        return self.c.get("/billing/plans")

    def prices(self) -> list[dict[str, Any]]:
        return self.c.get("/billing/prices")

    def subscription(self) -> dict[str, Any]:
        return self.c.get("/billing/subscription")

    def subscribe(self, plan: str | None = None, **fields: Any) -> dict[str, Any]:
        """Change plan and/or ``budget=`` (credits per month; 0 or None: none)."""
        body = {"plan": plan, **fields} if plan is not None else dict(fields)
        return self.c.put("/billing/subscription", body)

    def balance(self) -> dict[str, Any]:
        return self.c.get("/billing/balance")

    def transactions(self, limit: int = 100, month: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"limit": limit, "month": month, "kind": kind}.items() if v is not None}
        return self.c.get("/billing/transactions", params=params)

    def usage(self, start: str | None = None, end: str | None = None, group_by: str = "resource") -> dict[str, Any]:
        params = {k: v for k, v in {"from": start, "to": end, "group_by": group_by}.items() if v is not None}
        return self.c.get("/billing/usage", params=params)

    def redeem(self, voucher: str) -> dict[str, Any]:
        return self.c.post("/billing/credits", {"voucher": voucher})

    def invoices(self) -> list[dict[str, Any]]:
        return self.c.get("/billing/invoices")

    def invoice(self, ref: str) -> dict[str, Any]:
        return self.c.get(f"/billing/invoices/{ref}")

    def invoice_pdf(self, ref: str) -> bytes:
        return self.c.get(f"/billing/invoices/{ref}/pdf", raw=True).content

    # --- administrators ---------------------------------------------------------------------------
    def grant(self, user_id: str, amount: float, reason: str = "", wallet: str = "paid") -> dict[str, Any]:
        return self.c.post("/admin/billing/credits", {"user_id": user_id, "amount": amount,
                                                      "reason": reason, "wallet": wallet})

    def edit_plan(self, plan_id: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/admin/billing/plans/{plan_id}", fields)

    def edit_price(self, key: str, amount: float) -> dict[str, Any]:
        return self.c.put(f"/admin/billing/prices/{key}", {"amount": amount})

    def create_voucher(self, credits: float, **fields: Any) -> dict[str, Any]:
        return self.c.post("/admin/billing/vouchers", {"credits": credits, **fields})
