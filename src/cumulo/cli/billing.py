"""``cumulo billing ...``: plans, subscription, balance, usage (with a chart), ledger, invoices."""

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
