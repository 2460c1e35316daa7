"""How much of a region has niche evidence: per family and per evidence item, by cells and by people.

Run from the project root::

    python benchmarks/evidence_coverage.py [--resolution 7] [--region peru]

Prints, for the niche term of inclusion (the strongest evidence over the families) and for every
family and every item of its ``evidence`` section, the shares of cells, of people
(``population_2020``) and of poor people (people times the 2018 poverty rate) whose evidence is
above 0, at least 0.5 (the item's threshold) and at least 0.95 (near its ``full`` level), and for
the niche term the family that gives it. Evidence that covers most people cannot tell a niche
from a place: inclusion then follows need alone.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from geo_engine._errors import GeoEngineWarning
from geo_engine.pipeline import Run, run
from geo_engine.scoring.evidence import item_strengths

LEVELS = (0.0, 0.5, 0.95)
"""Evidence levels reported: any evidence, at the threshold, near the ``full`` level."""


def coverage(strength: np.ndarray, people: np.ndarray, poor: np.ndarray) -> dict[str, float]:
    """Return the shares of cells, people and poor people with evidence above 0, 0.5 and 0.95."""
    s = np.nan_to_num(np.asarray(strength, dtype=float))
    out: dict[str, float] = {}
    for level in LEVELS:
        hit = s > 0 if level == 0 else s >= level
        tag = ">0" if level == 0 else f">={level:g}"
        out[f"cells {tag}"] = float(hit.mean())
        for name, w in (("people", people), ("poor", poor)):
            out[f"{name} {tag}"] = float(w[hit].sum() / w.sum()) if w.sum() else np.nan
    return out


def weights(r: Run) -> tuple[np.ndarray, np.ndarray]:
    """Return the people per cell and the poor people per cell (people × 2018 poverty rate)."""
    people = np.nan_to_num(r.matrix["population_2020"].to_numpy(dtype=float))
    rate = np.nan_to_num(r.matrix["poverty_2018"].to_numpy(dtype=float)) / 100
    return people, people * rate


def table(r: Run) -> pd.DataFrame:
    """Return the coverage rows: the niche term, every family, every evidence item."""
    people, poor = weights(r)
    rows = {"niche (inclusion)": coverage(r.dual.niche, people, poor)}
    for pid, res in r.dual.results.items():
        prof = r.profiles[pid]
        if prof.kind != "family" or not prof.evidence:
            continue
        rows[pid] = coverage(res.prepared.evidence, people, poor)
        items = item_strengths(r.matrix, prof.evidence, cache=r.cache)
        for k, item in enumerate(prof.evidence):
            rows[f"  {item.layer} ({item.per})"] = coverage(items[:, k], people, poor)
    return pd.DataFrame(rows).T


def best_family(r: Run) -> pd.DataFrame:
    """Return the shares of people and of poor people whose niche term (>= 0.95) each family gives."""
    people, poor = weights(r)
    top = np.nan_to_num(r.dual.niche) >= 0.95
    fam = pd.Series(r.dual.best_family[top]).fillna("none").to_numpy()
    out = pd.DataFrame({"people": pd.Series(people[top]).groupby(fam).sum() / people.sum(),
                        "poor": pd.Series(poor[top]).groupby(fam).sum() / poor.sum()})
    return out.sort_values("people", ascending=False)


def main() -> None:
    """Print the coverage table and which families saturate the niche term."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--region", default="peru")
    args = parser.parse_args()
    warnings.simplefilter("ignore", GeoEngineWarning)
    pd.set_option("display.width", 160)
    r = run(region=args.region, resolution=args.resolution)
    print(table(r).round(3).to_string())
    print("\nshares of people and poor people with niche >= 0.95, by the family that gives it:")
    print(best_family(r).round(3).to_string())


if __name__ == "__main__":
    main()
