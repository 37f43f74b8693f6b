"""``cumulo billing ...``: plans, subscription, balance, usage (with a chart), ledger, invoices; administrators:
credits, vouchers, prices and plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cumulo.cli import output

BAR_WIDTH = 40


def chart(days: list[dict[str, Any]]) -> list[str]:
    """A small horizontal bar chart of daily usage, one line per day."""
    amounts = [float(d["amount"]) for d in days]
    top = max(amounts, default=0.0) or 1.0
    return [f"{d['day']}  {'#' * max(1 if a else 0, round(a / top * BAR_WIDTH)):<{BAR_WIDTH}}  {a:10.4f}"
            for d, a in zip(days, amounts, strict=True)]


def register(app: typer.Typer) -> None:
    billing = typer.Typer(help="Billing: plans, credits, usage and invoices", no_args_is_help=True)
    app.add_typer(billing, name="billing")

    @billing.command("plans")
    @output.handle_errors
    def plans() -> None:
        """The plans, their monthly credits and limits."""
        with output.client(auth=False) as c:
            output.show(c.billing.plans(), ["id", "name", "price", "monthly_credits", "overage", "limits"])

    @billing.command("prices")
    @output.handle_errors
    def prices() -> None:
        """The price table (credits per unit)."""
        with output.client(auth=False) as c:
            output.show(c.billing.prices(), ["key", "amount", "unit", "description"])

    @billing.command("subscribe")
    @output.handle_errors
    def subscribe(plan: str | None = typer.Argument(None, help="the plan id (see `cumulo billing plans`)"),
                  budget: float | None = typer.Option(None, "--budget", help="monthly budget in credits (0: none)")) -> None:
        """Choose a plan and/or set a monthly budget."""
        fields = {"budget": budget} if budget is not None else {}
        with output.client() as c:
            output.show(c.billing.subscribe(plan, **fields))

    @billing.command("subscription")
    @output.handle_errors
    def subscription() -> None:
        """Your plan, its period and your monthly budget."""
        with output.client() as c:
            output.show(c.billing.subscription())

    @billing.command("balance")
    @output.handle_errors
    def balance() -> None:
        """The ongoing balance: granted and paid credits, what this month used."""
        with output.client() as c:
            output.show(c.billing.balance())

    @billing.command("usage")
    @output.handle_errors
    def usage(by: str = typer.Option("resource", "--by", help="resource, service or day"),
              start: str | None = typer.Option(None, "--from", help="ISO date-time (default: the month's start)"),
              end: str | None = typer.Option(None, "--to", help="ISO date-time (default: now)"),
              chart_: bool = typer.Option(True, "--chart/--no-chart", help="a chart of daily usage")) -> None:
        """Usage and its cost, grouped; adds up to the ledger's charges."""
        with output.client() as c:
            data = c.billing.usage(start, end, by)
            daily = c.billing.usage(start, end, "day")["items"] if chart_ else []
        output.show(data["items"], title=f"usage by {by}: {data['total']:g} credits")
        if daily:
            output.console.print("\n".join(chart(daily)), markup=False, highlight=False)

    @billing.command("transactions")
    @output.handle_errors
    def transactions(limit: int = typer.Option(50, "--limit"), month: str | None = typer.Option(None, "--month"),
                     kind: str | None = typer.Option(None, "--kind")) -> None:
        """The ledger: grants, charges, expiries, vouchers, adjustments."""
        with output.client() as c:
            output.show(c.billing.transactions(limit, month, kind),
                        ["created_at", "kind", "amount", "service", "description"])

    @billing.command("invoices")
    @output.handle_errors
    def invoices() -> None:
        """Monthly invoices."""
        with output.client() as c:
            output.show(c.billing.invoices(), ["id", "month", "plan", "total", "credits", "issued_at"])

    @billing.command("invoice")
    @output.handle_errors
    def invoice(ref: str = typer.Argument(..., help="invoice id or month (YYYY-MM)"),
                pdf: Path | None = typer.Option(None, "--pdf", help="write the PDF to this file")) -> None:
        """One invoice as JSON, or as a PDF file."""
        with output.client() as c:
            if pdf is not None:
                pdf.write_bytes(c.billing.invoice_pdf(ref))
                output.console.print(f"written {pdf}")
                return
            output.show(c.billing.invoice(ref))

    @billing.command("redeem")
    @output.handle_errors
    def redeem(code: str) -> None:
        """Redeem a voucher code."""
        with output.client() as c:
            output.show(c.billing.redeem(code))

    # --- administrators ---------------------------------------------------------------------
    @billing.command("grant")
    @output.handle_errors
    def grant(user_id: str, amount: float = typer.Argument(..., help="credits (negative: an adjustment)"),
              reason: str = typer.Option("", "--reason", help="shown in the user's ledger"),
              wallet: str = typer.Option("paid", "--wallet", help="paid (kept) or granted (expires with the month)"),
              ) -> None:
        """Credit a user's account (administrators only)."""
        with output.client() as c:
            output.show(c.billing.grant(user_id, amount, reason, wallet))

    @billing.command("voucher")
    @output.handle_errors
    def voucher(credits: float, code: str | None = typer.Option(None, "--code", help="default: a random code"),
                max_redemptions: int = typer.Option(1, "--max-redemptions"),
                expires: str | None = typer.Option(None, "--expires", help="ISO date-time")) -> None:
        """Make a voucher code users redeem for credits (administrators only)."""
        fields = {k: v for k, v in {"code": code, "expires_at": expires}.items() if v is not None}
        with output.client() as c:
            output.show(c.billing.create_voucher(credits, max_redemptions=max_redemptions, **fields))

    @billing.command("set-price")
    @output.handle_errors
    def set_price(key: str = typer.Argument(..., help="a key of `cumulo billing prices`"),
                  amount: float = typer.Argument(..., help="credits per unit")) -> None:
        """Change a price (administrators only); usage from now on is charged at it."""
        with output.client() as c:
            output.show(c.billing.edit_price(key, amount))

    @billing.command("set-plan")
    @output.handle_errors
    def set_plan(plan_id: str, name: str | None = typer.Option(None, "--name"),
                 price: float | None = typer.Option(None, "--price", help="per month"),
                 monthly_credits: float | None = typer.Option(None, "--monthly-credits"),
                 overage: bool | None = typer.Option(None, "--overage/--no-overage",
                                                     help="may usage go past the credits"),
                 limit: list[str] = typer.Option([], "--limit", help="NAME=NUMBER (repeatable), e.g. instances=5"),
                 feature: list[str] = typer.Option([], "--feature", help="NAME=true|false (repeatable)")) -> None:
        """Create a plan or change one (administrators only); fields not given stay as they are."""
        fields: dict[str, Any] = {k: v for k, v in {"name": name, "price": price, "monthly_credits": monthly_credits,
                                                    "overage": overage}.items() if v is not None}
        try:
            if limit:
                fields["limits"] = {k: float(v) for k, v in (_pair(item) for item in limit)}
            if feature:
                fields["features"] = {k: v.lower() in ("1", "true", "yes", "on") for k, v in (_pair(i) for i in feature)}
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        with output.client() as c:
            output.show(c.billing.edit_plan(plan_id, **fields))


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key or not value:
        raise ValueError(f"expected NAME=VALUE, got {item!r}")
    return key, value
