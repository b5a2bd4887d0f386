"""Row-by-row reference costing: plain Python, Decimal, the issue 3 rules read literally. The
test oracle for the set-based engine (hypothesis compares them to the cent) and the baseline
the benchmark times. One pass over the movements in time order (occurred_at, inbound before
outbound, movement_id); each pool keeps a queue of open layer slices and a queue of open
shortfalls. Given `days`, it also reports every day's valuation and stock ageing the way a
row-by-row system does: at the end of each day, from the open layers as they stand, each
slice valued from its definition (`ReferenceResult.report`). Cross-pool links (a TRANSFER_IN
and its TRANSFER_OUT, a RETURN and its ISSUE) must be strictly later in time than what they
point to; a RETURN takes its issue's cost only from an ISSUE of the same company and SKU.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

INBOUND = {"RECEIPT", "RETURN", "TRANSFER_IN", "ADJUST_GAIN"}


def r_half_up(x: Decimal) -> int:
    """round_half_up to a whole number (of cents)."""
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Origin:
    value: int
    qty: int
    receipt_date: object
    landed: list = field(default_factory=list)  # landed cost shares S, in posting order
    sku: str = ""


def part(total: int, a: int, b: int, whole: int) -> int:
    """Cumulative rounding: the slice [a, b) of `whole` units worth `total` cents."""
    return r_half_up(Decimal(total * b) / whole) - r_half_up(Decimal(total * a) / whole)


@dataclass
class Pool:
    layers: deque = field(default_factory=deque)  # [origin_id, a, b]
    shorts: deque = field(default_factory=deque)  # [out_id, out_type, sa, sb, s, P]
    last: str | None = None
    last_in: tuple | None = None  # (occurred_at, movement_id) of the last inbound movement


@dataclass
class ReferenceResult:
    cost: dict = field(default_factory=dict)  # out_id -> (consumed, provisional_qty, P)
    true_up: dict = field(default_factory=lambda: defaultdict(int))  # (out_id, day) -> cents
    origins: dict = field(default_factory=dict)
    pools: dict = field(default_factory=lambda: defaultdict(Pool))
    transit: dict = field(default_factory=dict)  # transfer id -> (company, sku, slices)
    expensed: dict = field(default_factory=dict)  # (landed_cost_id, receipt id) -> cents

    def slice_cost(self, origin_id: str, a: int, b: int) -> int:
        o = self.origins[origin_id]
        return part(o.value, a, b, o.qty) + sum(part(s, a, b, o.qty) for s in o.landed)

    def report(self, day: date, age_buckets: tuple[int, ...]) -> tuple[dict, dict]:
        """The end-of-`day` valuation {pool: (qty, value)} (open layers minus unserved
        provisional cost) and ageing {(pool, bucket_no): (qty, value)} (open layers only,
        bucket_no = how many of the inclusive upper bounds `age_buckets` the age exceeds)."""
        valuation: dict = {}
        ageing: dict = defaultdict(lambda: (0, 0))

        def add(key: tuple, slices: list) -> None:
            q, v = valuation.get(key, (0, 0))
            for origin_id, a, b in slices:
                value = self.slice_cost(origin_id, a, b)
                q, v = q + b - a, v + value
                age = (day - self.origins[origin_id].receipt_date).days
                bucket = (key, bisect_left(age_buckets, age))
                ageing[bucket] = (ageing[bucket][0] + b - a, ageing[bucket][1] + value)
            valuation[key] = (q, v)

        for key, pool in self.pools.items():
            add(key, pool.layers)
            q, v = valuation[key]
            q -= sum(sb - sa for _, _, sa, sb, _, _ in pool.shorts)
            v -= sum(part(p, sa, sb, s) for _, _, sa, sb, s, p in pool.shorts)
            valuation[key] = (q, v)
        for company, sku, slices in self.transit.values():
            add((company, f"IN_TRANSIT:{company}", sku), slices)
        return (
            {k: v for k, v in valuation.items() if v != (0, 0)},
            {k: v for k, v in ageing.items() if v[0]},
        )


def allocate(
    landed: list[dict], movements: list[dict], fx: dict, functional: dict, skus: dict
) -> list:
    """(effective_at, landed_cost_id, receipt movement_id, share cents) per receipt line."""
    out = []
    # receipt lines by purchase document, read once (a scan of every movement per landed
    # cost made this reference quadratic, and the benchmark ratio flattering)
    documents: dict[tuple, list[dict]] = defaultdict(list)
    for m in movements:
        if m["movement_type"] == "RECEIPT":
            documents[(m["company"], m["reference"])].append(m)
    for lc in sorted(landed, key=lambda x: x["landed_cost_id"]):
        lines = sorted(
            documents.get((lc["company"], lc["receipt_reference"]), []),
            key=lambda m: m["movement_id"],
        )
        to = functional[lc["company"]]
        rate = (
            Decimal(1) if lc["currency"] == to else fx[(lc["posted_at"].date(), lc["currency"], to)]
        )
        amount = r_half_up(lc["amount"] * rate * 100)

        def weight(m: dict, basis: str = lc["basis"]) -> int:
            w, length, width, height = skus[m["sku"]]
            if basis == "QUANTITY":
                return m["quantity"]
            if basis == "VALUE":
                return value_of(m, fx, functional)
            if basis == "WEIGHT":
                return m["quantity"] * int(w * 1000)
            return m["quantity"] * int(length * 10) * int(width * 10) * int(height * 10)

        weights = [weight(m) for m in lines]
        total, cum = sum(weights), 0
        if not total:
            continue
        for m, w in zip(lines, weights, strict=True):
            share = part(amount, cum, cum + w, total)
            cum += w
            out.append(
                (
                    max(lc["posted_at"], m["occurred_at"]),
                    lc["landed_cost_id"],
                    m["movement_id"],
                    share,
                )
            )
    return out


def value_of(m: dict, fx: dict, functional: dict) -> int:
    """round_half_up(quantity x unit cost x fx of the document date) in cents."""
    cur, to = m["currency"], functional[m["company"]]
    rate = Decimal(1) if cur == to else fx[(m["occurred_at"].date(), cur, to)]
    return r_half_up(Decimal(m["quantity"]) * m["unit_cost"] * rate * 100)


def run_reference(
    movements: list[dict],
    fx: dict,
    functional: dict,
    landed: list[dict] = (),
    skus: dict | None = None,
    *,
    days: tuple[date, date] | None = None,
    on_day: Callable[[date, ReferenceResult], None] | None = None,
    result: ReferenceResult | None = None,
) -> ReferenceResult:
    """`movements`: dicts with the contract columns; `fx[(date, currency, to)] = Decimal`;
    `landed`: landed_costs rows; `skus[sku] = (weight_kg, length, width, height)`.
    `days` = (first, last) with `on_day`: called at the end of every day of that range
    with the state as it stands then (`res.report(day, buckets)` reads it). `result`: the
    object to fill (a subclass may, say, memoise slice values); a new one by default."""
    if (days is None) != (on_day is None):
        raise ValueError("days and on_day go together: give both or neither")
    res = result if result is not None else ReferenceResult()
    reported, last = (days[0] - timedelta(days=1), days[1]) if days else (date.max, date.min)

    def report_until(day: date) -> None:
        """Report every day not yet reported before `day` (days with no movement too)."""
        nonlocal reported
        while reported + timedelta(days=1) < day and reported < last:
            reported += timedelta(days=1)
            on_day(reported, res)

    events = [
        ((m["occurred_at"], 0, m["movement_type"] not in INBOUND, m["movement_id"]), m)
        for m in movements
    ]
    events += [
        ((at, 1, False, f"{lc_id}/{line}"), (lc_id, line, s))
        for at, lc_id, line, s in allocate(list(landed), movements, fx, functional, skus or {})
    ]
    issues: dict[str, tuple[int, int, str, str]] = {}  # cost, qty, company, sku

    def ref_unit(pool: Pool, prefer_open: bool) -> tuple[int, int] | None:
        """(V, Q) of the oldest open layer, else of the last to enter; None if none ever did.

        V includes every landed share posted on the layer so far (`o.landed` holds those
        already processed, i.e. in effect before this movement): the layer's units are
        carried at (V + S) / Q, whether some of them were issued before or not."""
        origin_id = pool.layers[0][0] if prefer_open and pool.layers else pool.last
        if origin_id is None:
            return None
        o = res.origins[origin_id]
        return o.value + sum(o.landed), o.qty

    def at_ref(pool: Pool, q: int, prefer_open: bool) -> int:
        ref = ref_unit(pool, prefer_open)
        return 0 if ref is None else r_half_up(Decimal(q * ref[0]) / ref[1])

    def shortfall_ref(key: tuple, q: int) -> int:
        """P for q units short in pool `key`: its own reference; if it has no history, the
        reference now of the company's pool of the SKU (another warehouse) whose last
        inbound is the latest; zero if there is none (DOMAIN.md "Negative stock")."""
        pool = res.pools[key]
        if ref_unit(pool, prefer_open=False) is not None:
            return at_ref(pool, q, prefer_open=False)
        company, warehouse, sku = key
        others = [
            res.pools[k]
            for k in sku_pools[sku]
            if k[0] == company and k[1] != warehouse and res.pools[k].last_in is not None
        ]
        if not others:
            return 0
        return at_ref(max(others, key=lambda p: p.last_in), q, prefer_open=True)

    def priced(m: dict) -> int:
        return value_of(m, fx, functional)

    sku_pools: dict[str, list] = defaultdict(list)

    def post_landed(lc_id: str, line: str, s: int) -> None:
        o = res.origins[line]
        held = [sl for key in sku_pools[o.sku] for sl in res.pools[key].layers]
        held += [sl for _, sku, slices in res.transit.values() if sku == o.sku for sl in slices]
        cap = sum(part(s, a, b, o.qty) for origin_id, a, b in held if origin_id == line)
        res.expensed[(lc_id, line)] = s - cap
        o.landed.append(s)

    def enter(pool: Pool, slices: list, day: object) -> None:
        for origin_id, a, b in slices:
            while a < b and pool.shorts:
                sh = pool.shorts[0]
                out_id, _, sa, sb, s, p = sh
                k = min(b - a, sb - sa)
                share = part(p, sa, sa + k, s)
                res.true_up[(out_id, day)] += res.slice_cost(origin_id, a, a + k) - share
                a += k
                sh[2] = sa + k
                if sh[2] == sb:
                    pool.shorts.popleft()
            if a < b:
                pool.layers.append([origin_id, a, b])
            pool.last = origin_id

    def consume(key: tuple, m: dict) -> tuple[list, int, int]:
        pool = res.pools[key]
        need, taken = m["quantity"], []
        while need and pool.layers:
            layer = pool.layers[0]
            k = min(need, layer[2] - layer[1])
            taken.append((layer[0], layer[1], layer[1] + k))
            layer[1] += k
            need -= k
            if layer[1] == layer[2]:
                pool.layers.popleft()
        p = shortfall_ref(key, need) if need else 0
        if need:
            pool.shorts.append([m["movement_id"], m["movement_type"], 0, need, need, p])
        return taken, need, p

    for at, m in ((k[0], e) for k, e in sorted(events, key=lambda x: x[0])):
        if on_day is not None:
            report_until(at.date())
        if isinstance(m, tuple):
            post_landed(*m)
            continue
        key = (m["company"], m["warehouse"], m["sku"])
        if key not in res.pools:
            sku_pools[m["sku"]].append(key)
        pool, t, q, mid = res.pools[key], m["movement_type"], m["quantity"], m["movement_id"]
        day = m["occurred_at"].date()
        if t in INBOUND:
            pool.last_in = (m["occurred_at"], mid)
            transit = res.transit.get(m["reference"]) if t == "TRANSFER_IN" else None
            if transit is not None and transit[0] == m["company"]:
                del res.transit[m["reference"]]
                enter(pool, transit[2], day)
                continue
            if transit is not None:
                del res.transit[m["reference"]]
            if t == "RECEIPT" or (
                t in ("ADJUST_GAIN", "TRANSFER_IN") and m["unit_cost"] is not None
            ):
                value = priced(m)
            elif t == "RETURN" and issues.get(m["reference"], ())[2:] == (m["company"], m["sku"]):
                c, n, _, _ = issues[m["reference"]]
                value = r_half_up(Decimal(c * q) / n)
            else:
                value = at_ref(pool, q, prefer_open=True)
            res.origins[mid] = Origin(value, q, day, sku=m["sku"])
            enter(pool, [(mid, 0, q)], day)
        else:
            taken, short, p = consume(key, m)
            consumed = sum(res.slice_cost(*s) for s in taken)
            res.cost[mid] = (consumed, short, p)
            if t == "ISSUE":
                issues[mid] = (consumed + p, q, m["company"], m["sku"])
            if t == "TRANSFER_OUT":
                if short:
                    res.origins[f"SHORT:{mid}"] = Origin(p, short, day, sku=m["sku"])
                    taken.append((f"SHORT:{mid}", 0, short))
                res.transit[m["reference"]] = (m["company"], m["sku"], taken)
    if on_day is not None:
        report_until(last + timedelta(days=1))
    return res
