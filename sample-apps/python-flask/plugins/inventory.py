"""Inventory plugin: never linked from the index page, only named in requests."""
import decimal
import hashlib


def compute(n: int) -> dict:
    decimal.getcontext().prec = 10
    total = sum(decimal.Decimal("19.99") for _ in range(n))
    return {"items": n, "total": str(total), "sku": hashlib.sha1(str(n).encode()).hexdigest()[:12]}
