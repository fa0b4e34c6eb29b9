"""The operator's spend report: a month per person and per provider, as a
plain-text table (for a chat or a terminal) and as CSV."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field

from engine.spending import dollars, this_month
from engine.store import SpendRow, Store


@dataclass
class SpendReport:
    month: str
    rows: list[SpendRow] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return sum(r.amount_usd for r in self.rows)

    def by(self, attribute: str) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for row in self.rows:
            totals[getattr(row, attribute)] += row.amount_usd
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def table(self) -> str:
        """Fixed-width text: one line per person, then per provider, then the total."""
        lines = [f"Spend in {self.month} (UTC), {len(self.rows)} paid calls"]
        for title, attribute in (("person", "owner"), ("provider", "provider")):
            lines.append(f"{'by ' + title:<24}{'USD':>10}")
            lines += [f"  {name[:22]:<22}{dollars(usd):>10}" for name, usd in self.by(attribute).items()] or ["  -"]
        lines.append(f"{'total':<24}{dollars(self.total_usd):>10}")
        unconfirmed = sum(1 for r in self.rows if r.status == "reserved")
        if unconfirmed:
            lines.append(f"({unconfirmed} call(s) counted at their estimate: no reported cost)")
        return "\n".join(lines)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["month", "date_utc", "owner", "provider", "kind", "status", "estimate_usd", "actual_usd",
                         "credits", "counted_usd", "run_id", "key"])
        for r in self.rows:
            writer.writerow([r.month, _date(r.created_at), r.owner, r.provider, r.kind, r.status,
                             f"{r.estimate_usd:.6f}", "" if r.actual_usd is None else f"{r.actual_usd:.6f}",
                             "" if r.credits is None else f"{r.credits:g}", f"{r.amount_usd:.6f}", r.run_id, r.key])
        return out.getvalue()


def _date(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))


async def spend_report(store: Store, month: str | None = None) -> SpendReport:
    month = month or this_month()
    return SpendReport(month, await store.spend_rows(month=month))
