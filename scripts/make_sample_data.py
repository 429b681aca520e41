"""Generate the synthetic sample CSVs in sample_data/ (seeded, so every run writes the same bytes).

    python scripts/make_sample_data.py [--out sample_data]

Four files, all made up (see sample_data/README.md for the story and every column):
- churn.csv             6,000 subscription customers observed monthly through 2025, churned yes/no.
- churn_next_month.csv  2,000 customers observed in January 2026, after a price rise: drifted inputs and a
                        slightly changed churn relationship, so a 2025 model loses a little accuracy.
- house_prices.csv      3,000 home sales 2023-2025 for a price regression.
- support_tickets.csv   2,000 support tickets in free text, urgent yes/no (a text-classification sample).

Each file draws from its own child of `numpy.random.default_rng(2026)`, so changing one generator leaves the other
files byte-identical. The functions are importable (`make_churn(rng, n)`, `make_house_prices(rng, n)`, ...) for tests.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2026
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data"
FILES = ("churn.csv", "churn_next_month.csv", "house_prices.csv", "support_tickets.csv")

CHURN_COLUMNS = (
    "customer_id", "signup_date", "observation_month", "region", "age_band", "plan", "contract",
    "tenure_months", "monthly_charges", "total_charges", "support_calls", "num_products",
    "paperless_billing", "last_login_days", "satisfaction_score", "churned",
)
TICKET_COLUMNS = ("ticket_id", "opened_at", "channel", "customer_tier", "text", "urgent")
HOUSE_COLUMNS = (
    "listing_id", "sale_date", "neighborhood", "property_type", "bedrooms", "bathrooms", "living_area_sqm",
    "lot_area_sqm", "year_built", "garage", "condition", "distance_to_center_km", "price",
)

# ---- churn -------------------------------------------------------------------------------------------------------

LAUNCH_MONTH = np.datetime64("2023-01", "M")  # the service opened in January 2023: no signup before it
OBSERVATION_MONTHS = np.arange(np.datetime64("2025-01", "M"), np.datetime64("2026-01", "M"))
NEXT_MONTH = np.datetime64("2026-01", "M")

REGIONS = ("North", "South", "East", "West", "Central")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
AGE_SHARES = (0.12, 0.27, 0.24, 0.20, 0.17)
# Younger customers prefer month-to-month contracts (added to the logit of choosing one); age never enters the
# churn formula directly, so any churn gap between age bands comes through contract and billing choices.
AGE_M2M_SHIFT = (0.7, 0.35, 0.0, -0.25, -0.45)
AGE_PAPERLESS = (0.78, 0.70, 0.60, 0.48, 0.36)
PLANS = ("basic", "standard", "premium")
PLAN_BASE_CHARGE = (29.0, 54.0, 84.0)
CONTRACTS = ("month-to-month", "one-year", "two-year")


@dataclass(frozen=True)
class ChurnScenario:
    """The knobs that differ between the 2025 history and the drifted January 2026 month."""

    region_shares: tuple[float, ...] = (0.31, 0.24, 0.19, 0.15, 0.11)
    plan_shares: tuple[float, ...] = (0.46, 0.38, 0.16)
    charge_factor: float = 1.0
    call_factor: float = 1.0
    intercept: float = -2.3
    coef_month_to_month: float = 1.5
    coef_tenure: float = -0.07
    coef_charges: float = 0.028
    coef_calls: float = 0.42
    coef_premium: float = 0.0
    noise_sd: float = 0.3


HISTORY = ChurnScenario()
# January 2026: a 12 % price rise, a support backlog, growth in the South and East, and a premium push. Customers
# also became more price-sensitive, premium buyers and long-standing customers less loyal, contracts and support
# calls weigh a little less, and more churn comes from causes no column records, so a model trained on 2025 ranks
# January a little worse.
NEXT_MONTH_SCENARIO = replace(
    HISTORY,
    region_shares=(0.24, 0.29, 0.24, 0.13, 0.10),
    plan_shares=(0.38, 0.34, 0.28),
    charge_factor=1.12,
    call_factor=1.35,
    intercept=-2.75,
    coef_month_to_month=1.1,
    coef_tenure=-0.04,
    coef_charges=0.042,
    coef_calls=0.32,
    coef_premium=0.45,
    noise_sd=1.0,
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_churn(
    rng: np.random.Generator, n: int, months: np.ndarray, ids: np.ndarray, sc: ChurnScenario
) -> pd.DataFrame:
    """Draw n customer-month rows for the given observation months under one scenario."""
    month_index = rng.integers(0, len(months), n)
    obs_month = months[month_index]
    # Months since launch, counted from the observation month; used for a gentle within-year price drift too.
    months_open = (obs_month - LAUNCH_MONTH).astype(int)
    region = rng.choice(len(REGIONS), n, p=sc.region_shares)
    age = rng.choice(len(AGE_BANDS), n, p=AGE_SHARES)

    # Skewed towards recent signups; capped by how long the service has existed at the observation month.
    tenure = np.floor(rng.beta(0.9, 1.4, n) * months_open).astype(int)
    # 1-27 days earlier still leaves fewer than one extra full month, even before a 28-day February.
    signup = (obs_month - tenure).astype("datetime64[D]") - rng.integers(1, 28, n).astype("timedelta64[D]")

    m2m = rng.random(n) < _sigmoid(1.0 - 0.07 * tenure + np.take(AGE_M2M_SHIFT, age))
    two_year = ~m2m & (rng.random(n) < 0.35 + 0.012 * tenure)
    contract = np.where(m2m, 0, np.where(two_year, 2, 1))

    plan = rng.choice(len(PLANS), n, p=sc.plan_shares)
    num_products = np.clip(1 + rng.poisson(0.6 + 0.4 * (plan == 2)), 1, 5)
    paperless = rng.random(n) < np.take(AGE_PAPERLESS, age)
    price_level = sc.charge_factor * (1.0 + 0.004 * (months_open - 24))
    monthly = np.clip(
        (np.take(PLAN_BASE_CHARGE, plan) + 7.5 * (num_products - 1) + rng.normal(0.0, 5.0, n)) * price_level, 12.0, None
    )
    # Billed so far: full months of tenure plus a part month, with past price changes folded into a factor.
    total = monthly * (tenure + rng.uniform(0.2, 1.0, n)) * rng.uniform(0.92, 1.03, n)

    # A hidden "unhappiness" drives satisfaction, support calls and logins, and adds churn no column fully explains.
    unhappy = rng.normal(0.0, 1.0, n)
    satisfaction = np.clip(np.round(6.8 - 1.3 * unhappy + rng.normal(0.0, 1.2, n)), 1, 10).astype(int)
    support_calls = rng.poisson(np.exp(0.05 + 0.45 * unhappy + 0.15 * (plan == 0)) * sc.call_factor)
    last_login = np.clip(np.round(rng.exponential(np.exp(1.9 + 0.35 * unhappy))), 0, 120).astype(int)

    logit = (
        sc.intercept
        + sc.coef_month_to_month * m2m
        - 0.9 * two_year
        + sc.coef_tenure * tenure
        + sc.coef_calls * support_calls
        + sc.coef_charges * (monthly - 60.0)
        - 0.38 * (satisfaction - 6.5)
        + 0.028 * last_login
        + 0.3 * paperless
        + sc.coef_premium * (plan == 2)
        + 0.25 * unhappy
        + rng.normal(0.0, sc.noise_sd, n)
    )
    churned = rng.random(n) < _sigmoid(logit)

    frame = pd.DataFrame({
        "customer_id": [f"C-{i:06d}" for i in ids],
        "signup_date": signup,
        "observation_month": obs_month.astype("datetime64[D]"),
        "region": np.take(REGIONS, region),
        "age_band": np.take(AGE_BANDS, age),
        "plan": np.take(PLANS, plan),
        "contract": np.take(CONTRACTS, contract),
        "tenure_months": tenure,
        "monthly_charges": np.round(monthly, 2),
        "total_charges": np.round(total, 2),
        "support_calls": support_calls,
        "num_products": num_products,
        "paperless_billing": np.where(paperless, "yes", "no"),
        "last_login_days": pd.array(last_login, dtype="Int64"),
        "satisfaction_score": pd.array(satisfaction, dtype="Int64"),
        "churned": np.where(churned, "yes", "no"),
    })
    # Gaps a real export has: unbilled totals, customers who never logged in on the new app, skipped surveys.
    for column, share in (("total_charges", 0.02), ("last_login_days", 0.025), ("satisfaction_score", 0.03)):
        frame[column] = frame[column].mask(rng.random(n) < share)
    return frame.sort_values(["observation_month", "customer_id"], ignore_index=True)


def _customer_ids(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Draw n distinct customer numbers from 1..99,999, avoiding the excluded ones."""
    pool = np.arange(1, 100_000)
    if exclude is not None and len(exclude):
        pool = np.setdiff1d(pool, exclude)
    return rng.choice(pool, n, replace=False)


def make_churn(rng: np.random.Generator, n: int = 6000) -> pd.DataFrame:
    """Return n churn rows observed monthly over January-December 2025."""
    return _draw_churn(rng, n, OBSERVATION_MONTHS, _customer_ids(rng, n), HISTORY)


def make_churn_next_month(
    rng: np.random.Generator, n: int = 2000, exclude_ids: np.ndarray | None = None
) -> pd.DataFrame:
    """Return n churn rows for January 2026, drifted in inputs and slightly in the churn relationship."""
    ids = _customer_ids(rng, n, exclude_ids)
    return _draw_churn(rng, n, np.array([NEXT_MONTH]), ids, NEXT_MONTH_SCENARIO)


# ---- house prices ------------------------------------------------------------------------------------------------

# name, share, km from centre, price per sqm (2023), oldest and newest typical build year, apartment share
NEIGHBORHOODS = (
    ("Old Town", 0.10, 0.8, 5600, 1880, 1960, 0.70),
    ("Riverside", 0.14, 2.4, 5000, 1950, 2022, 0.55),
    ("University", 0.12, 3.1, 4300, 1920, 2005, 0.60),
    ("Harbor", 0.10, 4.2, 4700, 1990, 2024, 0.50),
    ("Northgate", 0.16, 6.5, 3400, 1955, 2015, 0.30),
    ("Westfield", 0.15, 8.3, 3100, 1965, 2020, 0.20),
    ("Hillcrest", 0.12, 10.2, 3700, 1970, 2024, 0.10),
    ("Eastbrook", 0.11, 13.5, 2600, 1975, 2024, 0.12),
)
PROPERTY_TYPES = ("apartment", "townhouse", "semi-detached", "detached")
# median living area (sqm), median lot (sqm; apartments have none), garage chance, log-price premium
TYPE_TRAITS = (
    (68.0, 0.0, 0.25, 0.00),
    (105.0, 160.0, 0.50, 0.03),
    (122.0, 320.0, 0.65, 0.05),
    (158.0, 620.0, 0.85, 0.10),
)
SALE_START = np.datetime64("2023-01-01", "D")
SALE_DAYS = 1096  # through 2025-12-31


def make_house_prices(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    """Return n home sales from 2023-2025 with a price that follows size, place, age, condition and market trend."""
    nb = rng.choice(len(NEIGHBORHOODS), n, p=[row[1] for row in NEIGHBORHOODS])
    km, ppsqm, oldest, newest, apt_share = (np.array([row[i] for row in NEIGHBORHOODS], float)[nb] for i in range(2, 7))
    apartment = rng.random(n) < apt_share
    house_type = rng.choice([1, 2, 3], n, p=[0.3, 0.3, 0.4])
    ptype = np.where(apartment, 0, house_type)
    area_med, lot_med, garage_p, type_premium = (np.array([row[i] for row in TYPE_TRAITS])[ptype] for i in range(4))

    sale_day = rng.integers(0, SALE_DAYS, n)
    distance = np.clip(km + rng.normal(0.0, 0.9, n), 0.2, None)
    living = np.clip(area_med * np.exp(rng.normal(0.0, 0.28, n)), 24.0, 480.0)
    # Plots grow away from the centre.
    lot = np.where(ptype == 0, 0.0, lot_med * np.exp(rng.normal(0.0, 0.35, n)) * (1.0 + 0.04 * distance))
    bedrooms = np.clip(np.round(living / 32.0 + rng.normal(0.0, 0.6, n)), 1, 7).astype(int)
    bathrooms = np.clip(np.round((living / 65.0 + rng.normal(0.2, 0.4, n)) * 2) / 2, 1.0, 4.5)
    year_built = np.round(oldest + rng.beta(1.3, 1.3, n) * (newest - oldest)).astype(int)
    age_at_sale = 2024 - year_built
    condition = np.clip(np.round(3.2 - 0.012 * age_at_sale + rng.normal(0.0, 0.9, n) + 0.5), 1, 5).astype(int)
    garage = rng.random(n) < garage_p

    log_price = (
        np.log(ppsqm)
        + 0.92 * np.log(living)
        + type_premium
        + 0.07 * (condition - 3)
        # New builds sell at a premium that fades over ~40 years; pre-1930 character homes win a little back.
        - 0.15 * (1 - np.exp(-age_at_sale / 40.0))
        + 0.05 * (year_built < 1930)
        + 0.04 * garage
        + 0.06 * np.log1p(lot / 100.0)
        - 0.03 * (distance - km)
        + 0.04 * sale_day / 365.25  # market up ~4 % a year
        + rng.normal(0.0, 0.13, n)
    )
    price = np.round(np.exp(log_price) / 1000.0) * 1000.0

    frame = pd.DataFrame({
        "listing_id": [f"L-{i:05d}" for i in 10001 + np.arange(n)],
        "sale_date": SALE_START + sale_day.astype("timedelta64[D]"),
        "neighborhood": [NEIGHBORHOODS[i][0] for i in nb],
        "property_type": np.take(PROPERTY_TYPES, ptype),
        "bedrooms": bedrooms,
        "bathrooms": bathrooms,
        "living_area_sqm": np.round(living, 1),
        "lot_area_sqm": np.round(lot).astype(int),
        "year_built": pd.array(year_built, dtype="Int64"),
        "garage": np.where(garage, "yes", "no"),
        "condition": condition,
        "distance_to_center_km": np.round(distance, 2),
        "price": price.astype(np.int64),
    })
    # Listings in the wild miss a few facts: unknown build year, unrecorded garage, missing bathroom count.
    for column, share in (("year_built", 0.02), ("garage", 0.015), ("bathrooms", 0.01)):
        frame[column] = frame[column].mask(rng.random(n) < share)
    return frame.sort_values(["sale_date", "listing_id"], ignore_index=True)


# ---- writing -----------------------------------------------------------------------------------------------------


# ---- support tickets ---------------------------------------------------------------------------------------------

_URGENT_PROBLEMS = (
    "the whole site is down", "our production system is down", "I cannot log in at all", "payment failed twice",
    "we were charged twice", "all our data is gone", "I think my account was hacked", "checkout returns an error 500",
    "the app crashes on start for every user", "orders are not going through", "our integration stopped syncing",
    "customers see someone else's invoice",
)
_CALM_PROBLEMS = (
    "how do I change my email address", "can I get a copy of last month's invoice", "a feature request: dark mode",
    "where do I find the export button", "I would like to upgrade my plan", "the font on the report looks small",
    "is there a discount for yearly billing", "how do I add a second user", "a question about your privacy policy",
    "the tutorial video link is broken", "can you explain the new pricing", "I want to rename my workspace",
)
_URGENT_TAILS = ("Please help asap.", "This is urgent, we are losing sales.", "Need this fixed today.",
                 "Our customers are complaining.", "", "Please call me back.")
_CALM_TAILS = ("No rush, thanks!", "Thanks in advance.", "Whenever you have time.", "", "Have a nice day.",
               "Just curious.")
_OPENERS = ("Hi,", "Hello team,", "Good morning,", "Hey support,", "", "Dear support,")


def make_support_tickets(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    """Synthetic support tickets: free text plus channel and tier, `urgent` = needs a reply within the hour.

    About 30 % are urgent. Urgency follows the problem described (outages, failed payments, security) and its
    wording, with 8 % of labels flipped (triage is human) and some urgent problems written calmly, so words carry
    most but not all of the signal.
    """
    urgent = rng.random(n) < 0.3
    calm_wording = rng.random(n) < 0.15  # an urgent problem described without urgent words, or the other way round
    problem = np.where(urgent, rng.choice(_URGENT_PROBLEMS, n), rng.choice(_CALM_PROBLEMS, n))
    tail = np.where(urgent ^ calm_wording, rng.choice(_URGENT_TAILS, n), rng.choice(_CALM_TAILS, n))
    opener = rng.choice(_OPENERS, n)
    text = [" ".join(p for p in (o, str(pr)[:1].upper() + str(pr)[1:] + ".", t) if p) for o, pr, t in zip(opener, problem, tail)]
    channel = rng.choice(["email", "chat", "phone", "web form"], n, p=[0.45, 0.3, 0.1, 0.15])
    tier = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.35, 0.15])
    label = urgent ^ (rng.random(n) < 0.08)
    opened = np.datetime64("2025-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    ids = rng.permutation(np.arange(100_000, 100_000 + n))
    return pd.DataFrame({"ticket_id": [f"T-{i}" for i in ids], "opened_at": pd.to_datetime(np.sort(opened)),
                         "channel": channel, "customer_tier": tier, "text": text,
                         "urgent": np.where(label, "yes", "no")}, columns=list(TICKET_COLUMNS))


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write one frame as UTF-8 CSV with Unix line endings and ISO dates."""
    frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    return path


def write_samples(
    out_dir: str | Path = DEFAULT_OUT, seed: int = SEED, only: tuple[str, ...] = FILES
) -> dict[str, Path]:
    """Generate the sample CSVs into out_dir (all of them, or those named in `only`) and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    churn_rng, next_rng, house_rng, ticket_rng = np.random.default_rng(seed).spawn(4)  # a 4th child: the first 3 stay
    churn = make_churn(churn_rng, 6000)
    frames = {
        "churn.csv": lambda: churn,
        "churn_next_month.csv": lambda: make_churn_next_month(
            next_rng, 2000, exclude_ids=churn["customer_id"].str[2:].astype(int).to_numpy()
        ),
        "house_prices.csv": lambda: make_house_prices(house_rng, 3000),
        "support_tickets.csv": lambda: make_support_tickets(ticket_rng, 2000),
    }
    return {name: write_csv(frames[name](), out_dir / name) for name in FILES if name in only}


def main(argv: list[str] | None = None) -> int:
    """Write the sample CSVs and print one line per file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into (default: sample_data/)")
    args = parser.parse_args(argv)
    for name, path in write_samples(args.out).items():
        rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
        print(f"{name}: {rows:,} rows, {path.stat().st_size / 1e6:.2f} MB -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
