"""Billing: plans, credits, metering from the audit outbox, an append-only ledger, budgets, invoices."""
