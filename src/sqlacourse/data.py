"""The course's sample data: a deterministic generator and a fast loader.

The CSV files in ``data/`` are produced by :func:`generate` and are never edited
by hand; :func:`load` inserts them into the tables of :mod:`sqlacourse.shop`.

    generate(out_dir, scale=1, seed=2026)  -> one ``<table>.csv`` per table
    load(engine_or_connection, source)     -> rows inserted, parents first
    python -m sqlacourse data generate [--scale N] [--seed S] [--out DIR]
    python -m sqlacourse data load --url URL [--source DIR]

Everything random comes from one ``random.Random(seed)`` (and only from its
``random()`` and ``randrange()``), all times are offsets from a fixed reference
date, and prices are computed in integer cents, so the same seed and scale give
the same bytes on every machine.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import heapq
import math
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, func, insert, select
from sqlalchemy import types as sqltypes

from sqlacourse import shop

__all__ = ["DATA_DIR", "cli", "generate", "load"]

#: The repository's ``data/`` folder (override with ``SQLACOURSE_DATA_DIR``).
DATA_DIR: Path = (
    Path(os.environ["SQLACOURSE_DATA_DIR"])
    if os.environ.get("SQLACOURSE_DATA_DIR")
    else Path(__file__).resolve().parents[2] / "data"
)

#: ``progress=None`` shows a progress bar only above this many rows.
PROGRESS_THRESHOLD = 50_000

# Files up to this size keep their parsed rows in memory between loads (the
# committed data is ~170 kB in all); bigger files are streamed every time.
_CACHE_MAX_BYTES = 4 * 1024 * 1024

# All timestamps lie between START and END (UTC), stored as whole seconds.
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
_SPAN = int((END - START).total_seconds())
_HOUR = 3600
_DAY = 24 * _HOUR

# Rows per unit of scale (scale=1 gives these, approximately for the random ones).
_CUSTOMERS = 200
_PRODUCTS = 120
_ORDERS = 600
# Expected rows of every table at scale 1, for the generator's progress bar.
_FIXED_ROWS = 13 + 15  # categories + tags
_ROWS_PER_SCALE = 200 + 150 + 120 + 300 + 600 + 1500 + 400


# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------

# (top-level name, [(leaf name, SKU prefix), ...]); ids are handed out in this
# order, so every parent gets a smaller id than its children.
CATEGORIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Electronics", [("Phones", "PHN"), ("Laptops", "LAP"), ("Audio", "AUD")]),
    ("Books", [("Fiction", "FIC"), ("Non-fiction", "NFI")]),
    ("Home & Kitchen", [("Cookware", "CKW"), ("Furniture", "FUR")]),
    ("Sports & Outdoors", [("Camping", "CMP"), ("Cycling", "CYC")]),
]

# Per SKU prefix: descriptors, and (name template, min price, max price) in
# whole currency units.
_CATALOG: dict[str, tuple[list[str], list[tuple[str, int, int]]]] = {
    "PHN": (
        ["Nova", "Orbit", "Lumio", "Kestrel", "Pixelon", "Vireo"],
        [
            ("{d} Smartphone", 189, 499),
            ("{d} Phone Case", 9, 39),
            ("{d} Screen Protector", 5, 19),
            ("{d} USB-C Charger", 12, 45),
            ("{d} Power Bank", 19, 79),
            ("{d} Car Mount", 10, 35),
        ],
    ),
    "LAP": (
        ["Nova", "Arcbook", "Slate", "Kestrel", "Quill", "Vireo"],
        [
            ("{d} 14-inch Laptop", 399, 500),
            ("{d} Chromebook", 199, 349),
            ("{d} Laptop Sleeve", 15, 49),
            ("{d} Wireless Mouse", 12, 59),
            ("{d} Mechanical Keyboard", 39, 149),
            ("{d} USB-C Hub", 19, 69),
        ],
    ),
    "AUD": (
        ["Echo Bay", "Lumio", "Resonant", "Tidal", "Vireo", "Bassline"],
        [
            ("{d} Over-ear Headphones", 39, 349),
            ("{d} Wireless Earbuds", 19, 199),
            ("{d} Bluetooth Speaker", 25, 249),
            ("{d} Soundbar", 99, 449),
            ("{d} Turntable", 89, 399),
        ],
    ),
    "FIC": (
        ["Silent", "Last", "Hidden", "Paper", "Winter", "Glass", "Northern", "Forgotten"],
        [
            ("The {d} Harbor", 8, 24),
            ("The {d} Orchard", 8, 24),
            ("The {d} Lighthouse", 9, 26),
            ("The {d} Cartographer", 10, 28),
            ("A {d} Season", 7, 19),
            ("The {d} Garden", 8, 22),
        ],
    ),
    "NFI": (
        ["Bread", "Sleep", "Mountains", "Coffee", "Money", "Habits", "Maps", "Bees"],
        [
            ("A Short History of {d}", 9, 24),
            ("The Science of {d}", 12, 32),
            ("{d} for Beginners", 8, 22),
            ("Everything About {d}", 14, 39),
        ],
    ),
    "CKW": (
        ["Cast Iron", "Stainless", "Nonstick", "Ceramic", "Copper", "Enamel"],
        [
            ("{d} Frying Pan", 19, 89),
            ("{d} Saucepan", 24, 99),
            ("{d} Dutch Oven", 49, 299),
            ("{d} Chef's Knife", 25, 180),
            ("{d} Kettle", 19, 129),
            ("{d} Measuring Spoons", 5, 15),
        ],
    ),
    "FUR": (
        ["Oak", "Walnut", "Pine", "Bamboo", "Steel", "Rattan"],
        [
            ("{d} Bookshelf", 59, 349),
            ("{d} Desk Chair", 79, 449),
            ("{d} Side Table", 39, 199),
            ("{d} Floor Lamp", 29, 159),
            ("{d} Bar Stool", 35, 149),
            ("{d} Coffee Table", 69, 399),
        ],
    ),
    "CMP": (
        ["Alpine", "Trail", "Summit", "Ridge", "Basecamp", "Ultralight"],
        [
            ("{d} 2-Person Tent", 59, 449),
            ("{d} Sleeping Bag", 29, 249),
            ("{d} Headlamp", 9, 69),
            ("{d} Camping Stove", 25, 149),
            ("{d} Water Filter", 15, 89),
            ("{d} Backpack 40L", 39, 299),
        ],
    ),
    "CYC": (
        ["Aero", "Urban", "Gravel", "Sprint", "Commuter", "Velo"],
        [
            ("{d} Bike Helmet", 29, 199),
            ("{d} Light Set", 15, 89),
            ("{d} Cycling Gloves", 12, 49),
            ("{d} U-Lock", 19, 99),
            ("{d} Saddle", 25, 149),
            ("{d} Bottle Cage", 4, 25),
        ],
    ),
}

# (tag name, relative popularity)
TAGS: list[tuple[str, int]] = [
    ("bestseller", 8),
    ("new-arrival", 10),
    ("on-sale", 9),
    ("eco-friendly", 6),
    ("gift-idea", 8),
    ("handmade", 3),
    ("limited-edition", 3),
    ("premium", 6),
    ("budget", 6),
    ("staff-pick", 4),
    ("clearance", 3),
    ("bundle", 2),
    ("made-in-eu", 4),
    ("vegan", 2),
    ("award-winner", 1),
]

# Name pools: (first names, last names); countries point at a pool.
_EN = (
    ["James", "Mary", "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan",
     "Sophia", "Mason", "Chloe", "Lucas", "Grace", "Henry", "Amelia", "Jack"],
    ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Clarke", "Walker",
     "Wright", "Thompson", "Evans", "Hughes", "Miller", "Moore", "O'Brien", "Lee"],
)  # fmt: skip
_DE = (
    ["Lukas", "Anna", "Felix", "Lena", "Jonas", "Marie", "Paul", "Sophie",
     "Maximilian", "Hannah", "Leon", "Emilia"],
    ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
     "Becker", "Hoffmann", "Schäfer", "Koch", "Richter"],
)  # fmt: skip
_FR = (
    ["Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Manon", "Gabriel",
     "Inès", "Arthur", "Zoé", "Raphaël"],
    ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
     "Durand", "Leroy", "Moreau", "Lefèvre", "Girard"],
)  # fmt: skip
_ES = (
    ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Daniel", "Valeria",
     "Alejandro", "Paula", "Pablo", "Carmen", "Javier"],
    ["García", "Fernández", "González", "Rodríguez", "López", "Martínez",
     "Sánchez", "Pérez", "Gómez", "Díaz", "Moreno", "Jiménez"],
)  # fmt: skip
_IT = (
    ["Giulia", "Francesco", "Sofia", "Alessandro", "Aurora", "Lorenzo", "Chiara",
     "Matteo", "Martina", "Leonardo", "Giorgia", "Andrea"],
    ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo",
     "Ricci", "Marino", "Greco", "Bruno", "Gallo"],
)  # fmt: skip
_NL = (
    ["Daan", "Emma", "Sem", "Julia", "Bram", "Tess", "Lars", "Sanne", "Thijs",
     "Fleur", "Ruben", "Noor"],
    ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit",
     "Meijer", "Mulder", "de Boer", "Bos", "Vos"],
)  # fmt: skip
_SE = (
    ["Erik", "Astrid", "Oskar", "Elsa", "Nils", "Maja", "Axel", "Freja", "Hugo",
     "Ebba", "Lars", "Ingrid"],
    ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
     "Olsson", "Persson", "Svensson", "Gustafsson", "Lindberg", "Berg"],
)  # fmt: skip
_JP = (
    ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura", "Riku",
     "Mei", "Kaito", "Rin"],
    ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
     "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada"],
)  # fmt: skip
_PT = (
    ["Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura", "Davi", "Valentina",
     "Bernardo", "Manuela", "Gabriel", "Beatriz"],
    ["Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa",
     "Ferreira", "Almeida", "Carvalho", "Ribeiro", "Rocha"],
)  # fmt: skip
_IN = (
    ["Aarav", "Ananya", "Vihaan", "Diya", "Arjun", "Saanvi", "Reyansh", "Aadhya",
     "Ishaan", "Kavya", "Rohan", "Priya"],
    ["Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair",
     "Mehta", "Joshi", "Rao", "Das"],
)  # fmt: skip

# (country code, weight, name pool)
_COUNTRIES: list[tuple[str, int, tuple[list[str], list[str]]]] = [
    ("US", 26, _EN), ("GB", 12, _EN), ("DE", 11, _DE), ("FR", 8, _FR),
    ("CA", 6, _EN), ("ES", 5, _ES), ("IT", 5, _IT), ("NL", 5, _NL),
    ("AU", 4, _EN), ("JP", 4, _JP), ("BR", 4, _PT), ("IN", 4, _IN),
    ("SE", 3, _SE), ("AT", 2, _DE), ("IE", 2, _EN), ("MX", 2, _ES),
    ("PT", 1, _PT),
]  # fmt: skip

_EMAIL_PATTERNS = [
    ("{f}.{l}", 40), ("{f}{l}", 14), ("{i}{l}", 14), ("{f}_{l}", 8),
    ("{f}.{l}{n}", 12), ("{l}.{f}", 8), ("{f}{n}", 4),
]  # fmt: skip
_EMAIL_DOMAINS = [("example.com", 70), ("example.org", 30)]

_BIOS = [
    "Weekend hiker and amateur photographer.",
    "Coffee first, questions later.",
    "Home cook, always looking for a better pan.",
    "Reads two books a week, mostly on the train.",
    "Commutes by bike, rain or shine.",
    "Collector of vinyl records and houseplants.",
    "Software developer who likes building furniture.",
    "Retired teacher; gardening and crosswords.",
    "Student. Budget shopper.",
    "Runs a small bakery.",
    "Camping every summer with the kids.",
    "Gadget enthusiast, early adopter.",
    "Music producer in my spare time.",
    "Trying to buy less and buy better.",
]

_REVIEW_BODIES = {
    5: ["Absolutely love it.", "Exceeded my expectations.",
        "Best purchase this year.", "Works perfectly, highly recommend.",
        "Great quality, would buy again."],
    4: ["Very good, a few minor quibbles.", "Solid quality for the price.",
        "Does the job well.", "Good value.", "Nice, but the manual is useless."],
    3: ["It's okay.", "Average quality.", "Does what it says, nothing more.",
        "Mixed feelings about this one."],
    2: ["Disappointed with the quality.", "Not quite as described.",
        "Broke after a few weeks."],
    1: ["Terrible, sent it back.", "Stopped working after two days.",
        "Do not buy."],
}  # fmt: skip
_REVIEW_EXTRAS = [
    "Shipping was fast.", "Packaging could be better.", "Arrived a day late.",
    "Customer service was helpful.", "Bought it as a gift.",
    "The colour is slightly different from the photos.",
]  # fmt: skip


# --------------------------------------------------------------------------
# Small deterministic helpers (only rng.random() and rng.randrange())
# --------------------------------------------------------------------------


def _cumulative(weights: Iterable[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick_index(rng: Random, cum: Sequence[float], k: int | None = None) -> int:
    """Index in ``[0, k)`` chosen with the weights whose running sums are ``cum``."""
    k = len(cum) if k is None else k
    return bisect.bisect_right(cum, rng.random() * cum[k - 1], 0, k - 1)


class _Weighted:
    """A fixed list of choices with integer weights."""

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.values = [v for v, _ in pairs]
        self.cum = _cumulative(w for _, w in pairs)

    def pick(self, rng: Random) -> Any:
        return self.values[_pick_index(rng, self.cum)]


def _choice(rng: Random, seq: Sequence[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def _ts(seconds: int) -> str:
    return (START + dt.timedelta(seconds=seconds)).isoformat()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _roman(n: int) -> str:
    out = []
    for value, numeral in (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    ):  # fmt: skip
        count, n = divmod(n, value)
        out.append(numeral * count)
    return "".join(out)


# --------------------------------------------------------------------------
# Progress bars
# --------------------------------------------------------------------------


class _Progress:
    """Thin wrapper around ``tqdm.auto`` that batches updates (or does nothing)."""

    def __init__(self, show: bool, total: int, desc: str) -> None:
        self._bar = None
        self._pending = 0
        if show:
            from tqdm.auto import tqdm  # imported lazily: only needed for big jobs

            self._bar = tqdm(total=total, desc=desc, unit=" rows", unit_scale=True)

    def add(self, n: int = 1) -> None:
        if self._bar is not None:
            self._pending += n
            if self._pending >= 1000:
                self._bar.update(self._pending)
                self._pending = 0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._pending)
            self._pending = 0
            if self._bar.n != self._bar.total:  # the generator's total is an estimate
                self._bar.total = self._bar.n
                self._bar.refresh()
            self._bar.close()


# --------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------


class _Sink:
    """One CSV writer per table, counting rows and feeding the progress bar."""

    def __init__(self, out_dir: Path, progress: _Progress) -> None:
        self.out_dir = out_dir
        self.progress = progress
        self.counts = {name: 0 for name in shop.TABLES}
        self._files: dict[str, Any] = {}
        self._writers: dict[str, Any] = {}

    def open(self, table: str) -> Callable[[Sequence[Any]], None]:
        f = open(self.out_dir / f"{table}.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._files[table] = f
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([c.name for c in shop.Base.metadata.tables[table].columns])
        counts, progress, writerow = self.counts, self.progress, writer.writerow

        def write(row: Sequence[Any]) -> None:
            writerow(row)
            counts[table] += 1
            progress.add()

        return write

    def close(self) -> None:
        for f in self._files.values():
            f.close()


def _gen_categories(sink: _Sink) -> list[tuple[int, str]]:
    """Writes the category tree; returns the leaves as (id, SKU prefix)."""
    write = sink.open("categories")
    leaves = []
    next_id = 1
    for top, children in CATEGORIES:
        top_id = next_id
        write((top_id, top, None))
        next_id += 1
        for name, code in children:
            write((next_id, name, top_id))
            leaves.append((next_id, code))
            next_id += 1
    return leaves


def _gen_tags(sink: _Sink) -> list[float]:
    """Writes the tags; returns the running sums of their popularity."""
    write = sink.open("tags")
    for i, (name, _) in enumerate(TAGS, start=1):
        write((i, name))
    return _cumulative(w for _, w in TAGS)


class _Customers:
    """What the order generator needs to know about customers."""

    def __init__(self) -> None:
        self.buyer_ids: list[int] = []  # customers who ever order, by id
        self.buyer_times: list[int] = []  # their created_at (non-decreasing)
        self.buyer_cum: list[float] = []  # running sums of their order weights
        self.review_chance: list[float] = [0.0]  # by customer id (index 0 unused)


def _gen_customers(rng: Random, sink: _Sink, n: int) -> _Customers:
    write_customer = sink.open("customers")
    write_profile = sink.open("customer_profiles")
    countries = _Weighted([((code, pool), w) for code, w, pool in _COUNTRIES])
    patterns = _Weighted(_EMAIL_PATTERNS)
    domains = _Weighted(_EMAIL_DOMAINS)
    seen_emails: dict[str, int] = {}
    info = _Customers()
    total_weight = 0.0
    span = _SPAN - 2 * _DAY
    for cid in range(1, n + 1):
        # Sign-ups spread evenly over the period, so ids follow created_at.
        created = int(span * ((cid - 1 + rng.random()) / n))
        country, (firsts, lasts) = countries.pick(rng)
        first, last = _choice(rng, firsts), _choice(rng, lasts)
        f, ln = _ascii(first), _ascii(last)
        local = patterns.pick(rng).format(f=f, l=ln, i=f[0], n=rng.randrange(10, 100))
        domain = domains.pick(rng)
        email = f"{local}@{domain}"
        if email in seen_emails:  # taken: append the next free number
            k = seen_emails[email]
            while f"{local}{k}@{domain}" in seen_emails:
                k += 1
            seen_emails[email] = k + 1
            email = f"{local}{k}@{domain}"
        seen_emails[email] = 2
        write_customer((cid, email, f"{first} {last}", country, _ts(created)))

        if rng.random() < 0.75:
            birth_year = None
            if rng.random() < 0.9:  # triangular around 1978
                birth_year = 1950 + int((rng.random() + rng.random()) * 28)
            newsletter = "true" if rng.random() < 0.4 else "false"
            bio = _choice(rng, _BIOS) if rng.random() < 0.35 else None
            write_profile((cid, birth_year, newsletter, bio))

        # About 15% of customers never order; a few order a lot.
        if rng.random() < 0.85:
            u = rng.random()
            weight = 0.4 + 2.0 * u * u * u + (4.0 if rng.random() < 0.05 else 0.0)
            total_weight += weight
            info.buyer_ids.append(cid)
            info.buyer_times.append(created)
            info.buyer_cum.append(total_weight)
        # Roughly half of the customers never write reviews.
        chance = 0.0 if rng.random() < 0.45 else 0.3 + 0.7 * rng.random()
        info.review_chance.append(chance)
    return info


class _Products:
    """What the order generator needs to know about products."""

    def __init__(self) -> None:
        self.times: list[int] = []  # created_at by index (= id - 1), non-decreasing
        self.prices: list[int] = []  # cents
        self.cum: list[float] = []  # running sums of their popularity
        self.reviewable: list[bool] = []


def _gen_products(
    rng: Random, sink: _Sink, n: int, leaves: list[tuple[int, str]], tag_cum: list[float]
) -> _Products:
    write_product = sink.open("products")
    write_tag = sink.open("product_tags")
    tag_counts = _Weighted([(0, 12), (1, 15), (2, 20), (3, 23), (4, 18), (5, 12)])
    endings = _Weighted([(1, 50), (51, 15), (0, 20), (5, 15)])  # .99 .49 .00 .95
    seen_names: dict[str, int] = {}
    info = _Products()
    total_weight = 0.0
    span = _SPAN - 30 * _DAY
    for pid in range(1, n + 1):
        # A big launch catalogue, then a slowing trickle of new products.
        x = (pid - 1 + rng.random()) / n
        created = int(span * x * x)
        category_id, code = _choice(rng, leaves)
        descriptors, items = _CATALOG[code]
        template, low, high = _choice(rng, items)
        name = template.format(d=_choice(rng, descriptors))
        if name in seen_names:
            seen_names[name] += 1
            name = f"{name} {_roman(seen_names[name])}"
        else:
            seen_names[name] = 1
        cents = min(rng.randrange(low, high + 1) * 100 - endings.pick(rng), 50_000)
        sku = f"{code}-{pid:05d}"
        write_product((pid, sku, name, _money(cents), category_id, _ts(created)))

        wanted = tag_counts.pick(rng)
        chosen: list[int] = []
        for _ in range(wanted * 4):
            if len(chosen) == wanted:
                break
            tag_id = _pick_index(rng, tag_cum) + 1
            if tag_id not in chosen:
                chosen.append(tag_id)
        for tag_id in sorted(chosen):
            write_tag((pid, tag_id))

        u = rng.random()
        total_weight += 0.15 + 3.0 * u * u * u
        info.times.append(created)
        info.prices.append(cents)
        info.cum.append(total_weight)
        info.reviewable.append(rng.random() < 0.92)
    return info


def _order_status(rng: Random, age: int) -> str:
    if age < 2 * _DAY:
        return _STATUS_NEW.pick(rng)
    if age < 8 * _DAY:
        return _STATUS_RECENT.pick(rng)
    return _STATUS_OLD.pick(rng)


_STATUS_NEW = _Weighted([("pending", 55), ("paid", 35), ("cancelled", 10)])
_STATUS_RECENT = _Weighted([("pending", 10), ("paid", 45), ("shipped", 40), ("cancelled", 5)])
_STATUS_OLD = _Weighted([("shipped", 81), ("cancelled", 12), ("paid", 4), ("pending", 3)])
_LINES = _Weighted([(1, 28), (2, 27), (3, 20), (4, 14), (5, 11)])
_QUANTITY = _Weighted([(1, 70), (2, 18), (3, 7), (4, 3), (5, 2)])
_DISCOUNT = _Weighted([(5, 20), (10, 40), (15, 15), (20, 15), (25, 10)])
_RATING = _Weighted([(1, 5), (2, 7), (3, 13), (4, 33), (5, 42)])


def _gen_orders(rng: Random, sink: _Sink, n: int, customers: _Customers, products: _Products) -> None:
    write_order = sink.open("orders")
    write_item = sink.open("order_items")
    write_review = sink.open("reviews")
    pending_reviews: list[tuple[int, int, int, int, int, str | None]] = []
    reviewed: set[int] = set()  # product_id * stride + customer_id
    stride = len(customers.review_chance)
    review_id = 0

    def flush_reviews(until: int) -> None:
        nonlocal review_id
        while pending_reviews and pending_reviews[0][0] <= until:
            when, _, product_id, customer_id, rating, body = heapq.heappop(pending_reviews)
            review_id += 1
            write_review((review_id, product_id, customer_id, rating, body, _ts(when)))

    # Orders grow with the customer base: density ~ t, so t ~ sqrt(uniform).
    origin = max(customers.buyer_times[0], products.times[0]) + _HOUR
    span = _SPAN - origin
    for order_id in range(1, n + 1):
        created = origin + int(span * math.sqrt((order_id - 1 + rng.random()) / n))
        flush_reviews(created)
        k = bisect.bisect_right(customers.buyer_times, created)
        customer_id = customers.buyer_ids[_pick_index(rng, customers.buyer_cum, k)]
        status = _order_status(rng, _SPAN - created)
        write_order((order_id, customer_id, status, _ts(created)))

        available = bisect.bisect_right(products.times, created)
        wanted = min(_LINES.pick(rng), available)
        chosen: list[int] = []
        for _ in range(wanted * 10):
            if len(chosen) == wanted:
                break
            index = _pick_index(rng, products.cum, available)
            if index not in chosen:
                chosen.append(index)
        chance = customers.review_chance[customer_id]
        for index in sorted(chosen):
            product_id = index + 1
            cents = products.prices[index]
            if rng.random() < 0.1:
                cents = cents * (100 - _DISCOUNT.pick(rng)) // 100
            write_item((order_id, product_id, _QUANTITY.pick(rng), _money(cents)))

            if status != "shipped" or not products.reviewable[index]:
                continue
            if rng.random() >= chance:
                continue
            key = product_id * stride + customer_id
            when = created + 2 * _DAY + rng.randrange(45 * _DAY)
            if key in reviewed or when > _SPAN:
                continue
            reviewed.add(key)
            rating = _RATING.pick(rng)
            body = None
            if rng.random() < 0.75:
                body = _choice(rng, _REVIEW_BODIES[rating])
                if rng.random() < 0.3:
                    body = f"{body} {_choice(rng, _REVIEW_EXTRAS)}"
            entry = (when, len(reviewed), product_id, customer_id, rating, body)
            heapq.heappush(pending_reviews, entry)
    flush_reviews(_SPAN)


def generate(
    out_dir: str | os.PathLike[str],
    *,
    scale: int = 1,
    seed: int = 2026,
    progress: bool | None = None,
) -> dict[str, int]:
    """Write one ``<table>.csv`` per shop table into ``out_dir``; return rows per table.

    ``scale`` multiplies customers, products, orders (and so order lines and
    reviews); categories and tags stay fixed.  The output depends only on
    ``scale`` and ``seed``.  ``progress=None`` shows a progress bar only for big
    jobs (more than 50,000 rows).
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, not {scale!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = Random(seed)
    estimate = _FIXED_ROWS + _ROWS_PER_SCALE * scale
    show = estimate > PROGRESS_THRESHOLD if progress is None else progress
    bar = _Progress(show, estimate, "generate")
    sink = _Sink(out, bar)
    try:
        leaves = _gen_categories(sink)
        tag_cum = _gen_tags(sink)
        customers = _gen_customers(rng, sink, _CUSTOMERS * scale)
        products = _gen_products(rng, sink, _PRODUCTS * scale, leaves, tag_cum)
        _gen_orders(rng, sink, _ORDERS * scale, customers, products)
    finally:
        sink.close()
        bar.close()
    return dict(sink.counts)


# --------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------

# resolved path -> ((mtime_ns, size), parsed rows)
_CACHE: dict[str, tuple[tuple[int, int], list[dict[str, Any]]]] = {}

_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "t": True, "f": False}


def _parse_bool(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise ValueError(f"not a boolean: {text!r}") from None


def _parse_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _converter(type_: sqltypes.TypeEngine[Any]) -> Callable[[str], Any] | None:
    if isinstance(type_, sqltypes.TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, sqltypes.Boolean):
        return _parse_bool
    if isinstance(type_, sqltypes.Integer):
        return int
    if isinstance(type_, sqltypes.Float):
        return float
    if isinstance(type_, sqltypes.Numeric):
        return Decimal
    if isinstance(type_, sqltypes.DateTime):
        return _parse_datetime
    if isinstance(type_, sqltypes.Date):
        return dt.date.fromisoformat
    return None  # strings stay strings


def _read_rows(table: Table, path: Path) -> Iterator[dict[str, Any]]:
    """Yield the rows of one CSV file as dicts of Python values (streaming)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return
        unknown = [name for name in header if name not in table.c]
        if unknown:
            raise ValueError(f"{path}: no column(s) {unknown} in table {table.name!r}")
        fields = [(name, _converter(table.c[name].type)) for name in header]
        width = len(fields)
        for line, record in enumerate(reader, start=2):
            if len(record) != width:
                raise ValueError(f"{path}:{line}: expected {width} fields, got {len(record)}")
            row = {}
            for (name, convert), text in zip(fields, record, strict=True):
                if text == "":
                    row[name] = None
                elif convert is None:
                    row[name] = text
                else:
                    row[name] = convert(text)
            yield row


def _cached_rows(table: Table, path: Path) -> list[dict[str, Any]] | None:
    """The parsed rows of a small file (cached per path and mtime); None if big."""
    stat = path.stat()
    if stat.st_size > _CACHE_MAX_BYTES:
        return None
    key, version = str(path.resolve()), (stat.st_mtime_ns, stat.st_size)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    rows = list(_read_rows(table, path))
    _CACHE[key] = (version, rows)
    return rows


def _count_lines(path: Path) -> int:
    """Data rows in a big file, for the progress bar (assumes no quoted newlines)."""
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    if isinstance(rows, list):
        for start in range(0, len(rows), size):
            yield rows[start : start + size]
        return
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _reset_sequence(conn: Connection, table: Table) -> None:
    """PostgreSQL: move the id sequence past the explicitly inserted ids."""
    column = table.autoincrement_column
    if column is None or not isinstance(column.type, sqltypes.Integer):
        return
    # The table's name as PostgreSQL should resolve it: honour a
    # schema_translate_map, otherwise an unqualified name follows search_path.
    schema = table.schema
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(schema, schema)
    quote = conn.dialect.identifier_preparer
    name = (
        quote.quote(table.name)
        if schema is None
        else f"{quote.quote_schema(schema)}.{quote.quote(table.name)}"
    )
    sequence = func.pg_get_serial_sequence(name, column.name)
    conn.execute(select(func.setval(sequence, func.max(column))).select_from(table))


def _load_into(
    conn: Connection,
    plan: list[tuple[Table, Path, list[dict[str, Any]] | None]],
    chunk_size: int,
    bar: _Progress,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    postgres = conn.dialect.name == "postgresql"
    for table, path, rows in plan:
        stmt = insert(table)
        loaded = 0
        source = rows if rows is not None else _read_rows(table, path)
        for chunk in _chunks(source, chunk_size):
            conn.execute(stmt, chunk)
            loaded += len(chunk)
            bar.add(len(chunk))
        counts[table.name] = loaded
        if postgres and loaded:
            _reset_sequence(conn, table)
    return counts


def load(
    bind: Engine | Connection,
    source: str | os.PathLike[str] | None = None,
    *,
    progress: bool | None = None,
    chunk_size: int = 5000,
) -> dict[str, int]:
    """Insert the CSV files of ``source`` (default: ``DATA_DIR``) into the shop tables.

    The tables must exist already (``shop.Base.metadata.create_all``).  Given
    an Engine, everything happens in one transaction that is committed; given a
    Connection, the rows are inserted on it and committing is up to the caller.
    Files are loaded parents first with executemany in chunks of
    ``chunk_size`` rows; small files are parsed once and cached in memory.
    Returns the number of rows inserted per table.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size!r}")
    src = DATA_DIR if source is None else Path(source)
    if not src.is_dir():
        raise FileNotFoundError(f"no data directory {src}")
    tables = shop.Base.metadata.tables
    unknown = sorted(p.stem for p in src.glob("*.csv") if p.stem not in tables)
    if unknown:
        raise ValueError(f"{src}: CSV files for unknown tables: {unknown}")

    plan: list[tuple[Table, Path, list[dict[str, Any]] | None]] = []
    total = 0
    for table in shop.Base.metadata.sorted_tables:
        path = src / f"{table.name}.csv"
        if not path.is_file():
            continue
        rows = _cached_rows(table, path)
        plan.append((table, path, rows))
        if rows is not None:
            total += len(rows)
        elif progress is not False:
            total += _count_lines(path)
    if not plan:
        raise FileNotFoundError(f"no CSV files for the shop tables in {src}")

    show = total > PROGRESS_THRESHOLD if progress is None else progress
    bar = _Progress(show, total, "load")
    try:
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                return _load_into(conn, plan, chunk_size, bar)
        if isinstance(bind, Connection):
            return _load_into(bind, plan, chunk_size, bar)
        raise TypeError(f"bind must be an Engine or a Connection, not {type(bind).__name__}")
    finally:
        bar.close()


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _print_counts(counts: dict[str, int]) -> None:
    width = max(map(len, counts), default=0)
    for name, n in counts.items():
        print(f"  {name:<{width}}  {n:>10,}")
    print(f"  {'total':<{width}}  {sum(counts.values()):>10,}")


def cli(argv: list[str] | None = None) -> int:
    """``python -m sqlacourse data {generate,load}``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sqlacourse data",
        description="Generate the shop's CSV files or load them into a database.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write one CSV file per table")
    gen.add_argument("--scale", type=_positive_int, default=1,
                     help="multiply customers, products, orders, reviews (default 1)")  # fmt: skip
    gen.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    gen.add_argument("--out", type=Path, default=DATA_DIR,
                     help=f"output directory (default {DATA_DIR})")  # fmt: skip
    gen.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show a progress bar (default: only for big jobs)")  # fmt: skip
    ld = commands.add_parser("load", help="create the tables and load the CSV files")
    ld.add_argument("--url", required=True, help="SQLAlchemy database URL")
    ld.add_argument("--source", type=Path, default=DATA_DIR,
                    help=f"directory of CSV files (default {DATA_DIR})")  # fmt: skip
    ld.add_argument("--chunk-size", type=_positive_int, default=5000)
    ld.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.command == "generate":
        counts = generate(args.out, scale=args.scale, seed=args.seed, progress=args.progress)
        elapsed = time.perf_counter() - started
        size = sum((args.out / f"{name}.csv").stat().st_size for name in counts)
        print(
            f"Wrote {sum(counts.values()):,} rows ({size / 1e6:.1f} MB) to {args.out} "
            f"in {elapsed:.2f} s (scale {args.scale}, seed {args.seed}):"
        )
    else:
        from .backend import connect_timeout, parse_url, safe_url

        try:
            url = parse_url(args.url)
        except ValueError:
            parser.error("--url is not a database URL (its value is not shown, in case it holds a password)")
        connect_args = ({"connect_timeout": connect_timeout()}
                        if url.get_backend_name() == "postgresql"
                        and url.get_driver_name() in ("psycopg", "psycopg2") else {})
        engine = create_engine(url, connect_args=connect_args)
        try:
            shop.Base.metadata.create_all(engine)
            counts = load(engine, args.source, progress=args.progress, chunk_size=args.chunk_size)
        finally:
            engine.dispose()
        elapsed = time.perf_counter() - started
        print(
            f"Loaded {sum(counts.values()):,} rows from {args.source} into "
            f"{safe_url(url)} in {elapsed:.2f} s:"
        )
    _print_counts(counts)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
