"""Report plugin: statistics over the first n squares (stdlib modules loaded only here)."""
import statistics
from fractions import Fraction


def compute(n: int) -> dict:
    squares = [i * i for i in range(1, n + 1)]
    return {
        "sum": sum(squares),
        "mean": str(Fraction(sum(squares), n)),
        "median": statistics.median(squares),
    }
