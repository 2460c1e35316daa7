"""The app's message catalogue: every user-facing string in Spanish and English."""

from __future__ import annotations

__all__ = ["LANGUAGES", "MESSAGES", "t"]

LANGUAGES = {"es": "Español", "en": "English"}
"""Languages of the interface."""

MESSAGES: dict[str, dict[str, str]] = {
    "app_title": {"es": "Plataforma de Oportunidades Territoriales", "en": "Territorial Opportunity Platform"},
    "app_subtitle": {
        "es": "Dónde, en cada rincón del territorio, un clúster de nicho podría crear riqueza, y para quién.",
        "en": "Where, in every corner of the territory, a niche cluster could create wealth, and for whom.",
    },
    "language": {"es": "Idioma", "en": "Language"},
    "region": {"es": "Región", "en": "Region"},
    "resolution": {"es": "Resolución H3", "en": "H3 resolution"},
    "resolution_help": {
        "es": "7 ≈ celdas de 5 km²; 6 ≈ 36 km²; 5 ≈ 250 km². Más fina tarda más la primera vez.",
        "en": "7 ≈ 5 km² cells; 6 ≈ 36 km²; 5 ≈ 250 km². Finer takes longer the first time.",
    },
    "profile": {"es": "Perfil", "en": "Profile"},
    "show": {"es": "Mostrar en el mapa", "en": "Show on the map"},
    "weights": {"es": "Pesos", "en": "Weights"},
    "weights_help": {
        "es": "Mueva un peso y el mapa se vuelve a calcular.",
        "en": "Move a weight and the map is re-scored.",
    },
    "reset_weights": {"es": "Restablecer pesos", "en": "Reset weights"},
    "constraints": {"es": "Restricciones", "en": "Constraints"},
    "thresholds": {"es": "Umbrales de la tipología", "en": "Typology thresholds"},
    "engine_threshold": {"es": "Motor alto desde el cuantil", "en": "High engine from quantile"},
    "inclusion_threshold": {"es": "Inclusión alta desde el cuantil", "en": "High inclusion from quantile"},
    "focus": {"es": "Enfocar un departamento", "en": "Focus on a department"},
    "all_country": {"es": "Todo el país", "en": "Whole country"},
    "tab_map": {"es": "Mapa", "en": "Map"},
    "tab_rankings": {"es": "Rankings", "en": "Rankings"},
    "tab_compare": {"es": "Comparar escenarios", "en": "Compare scenarios"},
    "tab_sensitivity": {"es": "Sensibilidad", "en": "Sensitivity"},
    "tab_data": {"es": "Datos y método", "en": "Data & method"},
    "map_note": {
        "es": "{n:,} hexágonos de resolución {res} (agregados desde {cells:,} celdas de resolución {grid_res}). Haga clic en uno para ver su ficha.",
        "en": "{n:,} hexagons at resolution {res} (aggregated from {cells:,} cells at resolution {grid_res}). Click one for its card.",
    },
    "top_districts": {"es": "Distritos con mayor puntaje (media ponderada por población)", "en": "Highest-scoring districts (population-weighted mean)"},
    "find_cell": {"es": "Ir a una ubicación (lat, lon) o celda H3", "en": "Go to a location (lat, lon) or H3 cell"},
    "data_notes": {"es": "Notas sobre los datos ({n})", "en": "Notes on the data ({n})"},
    "show_clusters": {"es": "Mostrar clústeres significativos", "en": "Show significant clusters"},
    "clusters_help": {"es": "Puntos calientes Getis-Ord Gi* (999 permutaciones, FDR 5 %), agrupados en zonas contiguas de 5+ celdas.", "en": "Getis-Ord Gi* hot spots (999 permutations, FDR 5 %), grouped into contiguous zones of 5+ cells."},
    "clusters_note": {"es": "{n} clústeres significativos ({cells:,} celdas calientes) con contorno punteado. Haga clic dentro de uno para ver su perfil.", "en": "{n} significant clusters ({cells:,} hot cells), dashed outlines. Click inside one for its profile."},
    "cluster": {"es": "Clúster", "en": "Cluster"},
    "poor_population": {"es": "Población pobre", "en": "Poor population"},
    "cluster_line": {"es": "Rango {rank} · puntaje medio {score:.2f} · capas principales: {layers} · mediana a una ciudad de 50 000+: {town:,.0f} min, a un puerto: {port:,.0f} min · distritos: {districts}", "en": "Rank {rank} · mean score {score:.2f} · top layers: {layers} · median to a town of 50,000+: {town:,.0f} min, to a port: {port:,.0f} min · districts: {districts}"},
    "custom_profile": {"es": "Perfil propio", "en": "Custom profile"},
    "custom_layers": {"es": "Capas del perfil propio", "en": "Layers of the custom profile"},
    "custom_empty": {"es": "Elija al menos una capa.", "en": "Choose at least one layer."},
    "aggregation": {"es": "Agregación", "en": "Aggregation"},
    "download_brief": {"es": "Descargar la ficha del distrito (HTML imprimible)", "en": "Download the district brief (printable HTML)"},
    "no_data": {"es": "sin datos", "en": "no data"},
    "score": {"es": "Puntaje", "en": "Score"},
    "engine": {"es": "Motor de crecimiento", "en": "Engine of growth"},
    "inclusion": {"es": "Inclusión", "en": "Inclusion"},
    "need": {"es": "Necesidad", "en": "Need"},
    "access": {"es": "Acceso a mercados", "en": "Market access"},
    "typology": {"es": "Tipología", "en": "Typology"},
    "niche_family": {"es": "Familia de nicho", "en": "Niche family"},
    "niche_margin": {"es": "Margen sobre la segunda", "en": "Margin over the second"},
    "linkage": {"es": "Encadenamiento con motores", "en": "Linkage to engines"},
    "p_top": {"es": "P(decil superior)", "en": "P(top decile)"},
    "population": {"es": "Población", "en": "Population"},
    "poverty": {"es": "Pobreza 2018 (%)", "en": "Poverty 2018 (%)"},
    "district": {"es": "Distrito", "en": "District"},
    "province": {"es": "Provincia", "en": "Province"},
    "department": {"es": "Departamento", "en": "Department"},
    "family_score": {"es": "Puntaje de familia: {name}", "en": "Family score: {name}"},
    "layer_raw": {"es": "Capa: {name} ({units})", "en": "Layer: {name} ({units})"},
    "score_units": {"es": "{name} (0–1)", "en": "{name} (0–1)"},
    "engine_hub": {"es": "Polo motor", "en": "Engine hub"},
    "inclusion_niche": {"es": "Nicho de inclusión", "en": "Inclusion niche"},
    "dual_zone": {"es": "Zona dual", "en": "Dual zone"},
    "latent": {"es": "Latente", "en": "Latent"},
    "card_title": {"es": "Ficha de la celda {h3}", "en": "Card of cell {h3}"},
    "card_none": {
        "es": "Haga clic en un hexágono del mapa para ver su ficha.",
        "en": "Click a hexagon on the map to see its card.",
    },
    "contributions": {"es": "Contribución de cada capa al puntaje", "en": "Contribution of each layer to the score"},
    "contributions_log": {
        "es": "Media geométrica: contribuciones en escala logarítmica (suman log del puntaje).",
        "en": "Geometric mean: contributions in log space (they add up to the log of the score).",
    },
    "raw_values": {"es": "Valores de las capas", "en": "Layer values"},
    "layer": {"es": "Capa", "en": "Layer"},
    "value": {"es": "Valor", "en": "Value"},
    "units": {"es": "Unidades", "en": "Units"},
    "normalized": {"es": "Normalizado", "en": "Normalized"},
    "weight": {"es": "Peso", "en": "Weight"},
    "contribution": {"es": "Contribución", "en": "Contribution"},
    "source": {"es": "Fuente", "en": "Source"},
    "what_it_takes": {"es": "Qué haría falta para llegar al decil superior", "en": "What it would take to reach the top decile"},
    "already_top": {"es": "Esta celda ya está en el decil superior.", "en": "This cell is already in the top decile."},
    "no_single_change": {
        "es": "Ningún cambio en una sola capa basta para llegar al decil superior.",
        "en": "No change in a single layer is enough to reach the top decile.",
    },
    "requirement": {
        "es": "{layer}: de {raw_from} a {raw_to} {units} (normalizado {n_from:.2f} → {n_to:.2f})",
        "en": "{layer}: from {raw_from} to {raw_to} {units} (normalized {n_from:.2f} → {n_to:.2f})",
    },
    "best_family_line": {
        "es": "Mejor familia: **{family}** (margen {margin:.2f} sobre la segunda)",
        "en": "Best family: **{family}** (margin {margin:.2f} over the second)",
    },
    "rank_level": {"es": "Nivel", "en": "Level"},
    "rank_by": {"es": "Ordenar por", "en": "Rank by"},
    "download_csv": {"es": "Descargar CSV", "en": "Download CSV"},
    "download_geojson": {"es": "Descargar GeoJSON", "en": "Download GeoJSON"},
    "download_gpkg": {"es": "Descargar GeoPackage", "en": "Download GeoPackage"},
    "downloads": {"es": "Descargas de lo que se ve en el mapa", "en": "Downloads of what is on the map"},
    "compare_a": {"es": "Escenario A", "en": "Scenario A"},
    "compare_b": {"es": "Escenario B", "en": "Scenario B"},
    "compare_what": {"es": "Diferencia de", "en": "Difference in"},
    "compare_score": {"es": "puntaje (B − A)", "en": "score (B − A)"},
    "compare_rank": {"es": "percentil (B − A)", "en": "percentile (B − A)"},
    "compare_typology": {"es": "tipología (A → B)", "en": "typology (A → B)"},
    "same_profile_defaults": {"es": "El mismo perfil con sus pesos por defecto", "en": "The same profile with its default weights"},
    "unchanged": {"es": "sin cambio", "en": "unchanged"},
    "biggest_movers": {"es": "Los que más cambian", "en": "Biggest movers"},
    "sensitivity_intro": {
        "es": "Pesos sorteados alrededor de los elegidos (Dirichlet, concentración κ): probabilidad de que cada celda quede en el decil superior. El núcleo estable son las celdas con P ≥ 0,9.",
        "en": "Weights drawn around the chosen ones (Dirichlet, concentration κ): probability that each cell is in the top decile. The stable core are the cells with P ≥ 0.9.",
    },
    "draws": {"es": "Sorteos", "en": "Draws"},
    "concentration": {"es": "Concentración κ", "en": "Concentration κ"},
    "run_sensitivity": {"es": "Calcular", "en": "Compute"},
    "stable_core": {"es": "Núcleo estable: {n:,} celdas, {pop:,.0f} personas", "en": "Stable core: {n:,} cells, {pop:,.0f} people"},
    "spearman": {"es": "Correlación media de Spearman con el ranking base: {rho:.3f}", "en": "Mean Spearman correlation with the base ranking: {rho:.3f}"},
    "layers_table": {"es": "Capas", "en": "Layers"},
    "method_title": {"es": "El método", "en": "The method"},
    "method_text": {
        "es": (
            "Carlota Pérez (Revista CEPAL 100, 2010) propone un **modelo dual integrado**: motores de crecimiento "
            "de arriba hacia abajo (industrias de procesos basadas en recursos, competitivas a escala global) y "
            "luchadores contra la pobreza de abajo hacia arriba (clústeres de nicho en lugares pobres, basados en "
            "ventajas locales). Cada hexágono recibe un puntaje **motor** (dotación de recursos a escala, enlaces "
            "con mercados globales, capacidades) y un puntaje de **inclusión** = raíz cúbica de (potencial de nicho "
            "× necesidad × acceso): un lugar pobre sin activos, o uno rico con activos, no puede puntuar alto. La "
            "**tipología** cruza ambos (tercil superior por defecto). La **familia de nicho** es aquella en la que "
            "la celda se ubica más alto respecto del resto del territorio. El **encadenamiento** marca lugares "
            "pobres al alcance de polos motores: oportunidades de proveedores y servicios intensivos en "
            "conocimiento. Cada puntaje se descompone exactamente en contribuciones por capa."
        ),
        "en": (
            "Carlota Pérez (CEPAL Review 100, 2010) argues for a **dual integrated model**: top-down engines of "
            "growth (resource-based process industries, competitive globally) and bottom-up poverty fighters "
            "(niche clusters in poor places, built on local advantages). Each hexagon gets an **engine** score "
            "(resource endowment at scale, links to global markets, capabilities) and an **inclusion** score = "
            "cube root of (niche potential × need × access): a poor place without assets, or a rich one with "
            "them, cannot score high. The **typology** crosses both (top tercile by default). The **niche "
            "family** is the one where the cell stands highest relative to the rest of the territory. "
            "**Linkage** marks poor places within reach of engine hubs: supplier and knowledge-service "
            "opportunities. Every score decomposes exactly into per-layer contributions."
        ),
    },
    "licence": {"es": "Licencia", "en": "Licence"},
    "vintage": {"es": "Periodo", "en": "Vintage"},
    "publisher": {"es": "Productor", "en": "Publisher"},
    "title": {"es": "Título", "en": "Title"},
    "theme": {"es": "Tema", "en": "Theme"},
    "kind": {"es": "Tipo", "en": "Kind"},
    "method": {"es": "Método", "en": "Method"},
    "rationale": {"es": "Justificación", "en": "Rationale"},
    "cluster_card": {"es": "Clúster {id}: {n} celdas, {pop:,.0f} personas ({poor:,.0f} pobres)", "en": "Cluster {id}: {n} cells, {pop:,.0f} people ({poor:,.0f} poor)"},
    "loading": {"es": "Calculando la región (la primera vez tarda unos segundos)…", "en": "Computing the region (the first time takes a few seconds)…"},
    "theme_resource": {"es": "Recursos", "en": "Resources"},
    "theme_infrastructure": {"es": "Infraestructura", "en": "Infrastructure"},
    "theme_social": {"es": "Social", "en": "Social"},
    "theme_environment": {"es": "Ambiente", "en": "Environment"},
    "excluded": {"es": "{n:,} celdas excluidas por restricciones o falta de datos (en gris).", "en": "{n:,} cells excluded by constraints or missing data (grey)."},
}
"""Message id → {language: text}; texts may hold ``str.format`` fields."""


def t(key: str, lang: str, **fields: object) -> str:
    """Return the message ``key`` in ``lang`` (English when missing), formatted with ``fields``.

    Examples
    --------
    >>> t("district", "es")
    'Distrito'
    """
    entry = MESSAGES.get(key)
    if entry is None:
        msg = f"no message {key!r} in the catalogue"
        raise KeyError(msg)
    text = entry.get(lang) or entry["en"]
    return text.format(**fields) if fields else text
