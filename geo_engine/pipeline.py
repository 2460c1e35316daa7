"""Run the whole chain for a region: indicator matrix, layer specs, profiles, dual model, names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo_engine import settings
from geo_engine.dual import DualResult, dual_model
from geo_engine.indicators import build_indicators
from geo_engine.layers import LayerSpec, load_layers
from geo_engine.outputs import admin_names
from geo_engine.profiles import Profile, load_profiles

__all__ = ["Run", "run"]


@dataclass(frozen=True)
class Run:
    """Everything computed for one region and resolution.

    Attributes
    ----------
    matrix : pandas.DataFrame
        Indicator matrix.
    specs : dict
        Layer specs by id.
    profiles : dict
        Profiles by id.
    dual : DualResult
        Engine, inclusion, families, typology and linkage with the profiles' own weights.
    names : pandas.DataFrame
        District, province and department names by district code (empty for custom regions).
    """

    matrix: pd.DataFrame
    specs: dict[str, LayerSpec]
    profiles: dict[str, Profile]
    dual: DualResult
    names: pd.DataFrame
    hub_minutes: Callable[[np.ndarray], np.ndarray] | None = None

    def profile(self, profile_id: str) -> Profile:
        """Return a profile by id; the error lists the known ids."""
        if profile_id not in self.profiles:
            msg = f"no profile {profile_id!r}; known: {sorted(self.profiles)}"
            raise KeyError(msg)
        return self.profiles[profile_id]


def run(
    *,
    region: str = "peru",
    resolution: int = 7,
    data_dir: Path | None = None,
    layers: str | Path | None = None,
    profiles: str | Path | None = None,
    force: bool = False,
) -> Run:
    """Build (or load from cache) the matrix and score every profile of a region.

    Parameters
    ----------
    region : str, default "peru"
    resolution : int, default 7
    data_dir : pathlib.Path, optional
    layers, profiles : path, optional
        Spec file/folder and profile folder; the region's shipped ones by default.
    force : bool, default False
        Allow very large grids.

    Returns
    -------
    Run
    """
    data_dir = Path(data_dir or settings.data_dir)
    specs = {s.id: s for s in load_layers(layers, region=region)}
    matrix = build_indicators(region=region, resolution=resolution, layers=list(specs.values()),
                              data_dir=data_dir, force=force)
    profs = load_profiles(profiles, region=region)
    hub_minutes = _hub_minutes(matrix, data_dir=data_dir, region=region)
    dual = dual_model(matrix, profs, specs=specs, hub_minutes=hub_minutes)
    districts = data_dir / region / "districts.parquet"
    names = (admin_names(pd.read_parquet(districts)) if districts.is_file()
             else pd.DataFrame({"district_code": pd.Series(dtype="string")}))
    return Run(matrix=matrix, specs=specs, profiles=profs, dual=dual, names=names,
               hub_minutes=hub_minutes)


def _hub_minutes(matrix: pd.DataFrame, *, data_dir: Path, region: str
                 ) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return a function giving travel times to hub cells, or None without a region's terrain."""
    if not (data_dir / region / "elevation.tif").is_file():
        return None

    def minutes(hubs: np.ndarray) -> np.ndarray:
        from geo_engine.access import region_friction, travel_time

        friction = region_friction(matrix, data_dir=data_dir, region=region)
        targets = matrix["h3"].to_numpy()[np.asarray(hubs, dtype=bool)]
        return travel_time(matrix, friction, targets)

    return minutes
