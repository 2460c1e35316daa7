"""The app's message catalogue: every user-facing string in Spanish and English."""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "LANGUAGES", "MESSAGES", "UNITS", "headers", "number", "numbers", "proper_case", "proper_names", "t", "unit"]

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
        "es": "Cada paso hacia una resolución más gruesa da celdas unas 7 veces más grandes. Más fina tarda más la primera vez.",
        "en": "Each step to a coarser resolution gives cells about 7 times larger. Finer takes longer the first time.",
    },
    "resolution_option": {"es": "{res} (≈ {area} km² por celda)", "en": "{res} (≈ {area} km² a cell)"},
    "uploaded_region": {"es": "{title} (subida)", "en": "{title} (uploaded)"},
    "region_error": {
        "es": "No se pudo cargar la región «{region}»: {error}. Se mantiene la región anterior.",
        "en": "The region “{region}” could not be loaded: {error}. The previous region is kept.",
    },
    "region_error_first": {
        "es": "No se pudo cargar la región «{region}»: {error}",
        "en": "The region “{region}” could not be loaded: {error}",
    },
    "own_region": {"es": "Su propia región", "en": "Your own region"},
    "own_region_help": {
        "es": "Suba los límites de sus unidades, los archivos de datos y un YAML de capas que los nombre (`source: archivo`); los perfiles son opcionales. Luego elija las columnas y construya la región.",
        "en": "Upload the boundaries of your units, the data files and a layers YAML naming them (`source: file`); profiles are optional. Then choose the columns and build the region.",
    },
    "upload_boundary": {"es": "Límites (GeoJSON, GeoPackage, shapefile en ZIP, GeoParquet)", "en": "Boundaries (GeoJSON, GeoPackage, zipped shapefile, GeoParquet)"},
    "upload_data": {"es": "Archivos de datos (GeoTIFF, vectores, CSV)", "en": "Data files (GeoTIFF, vector files, CSV)"},
    "upload_layers": {"es": "Capas (YAML)", "en": "Layers (YAML)"},
    "upload_profiles": {"es": "Perfiles (YAML, opcional)", "en": "Profiles (YAML, optional)"},
    "upload_clash": {"es": "Dos archivos distintos se llaman {name}: cambie el nombre de uno.", "en": "Two different files are named {name}: rename one."},
    "upload_need_layers": {"es": "Suba también el YAML de capas para construir la región.", "en": "Upload the layers YAML too, to build the region."},
    "no_columns": {"es": "{name} no tiene columnas de atributos: hace falta al menos el código de cada unidad.", "en": "{name} has no attribute columns: at least each unit's code is needed."},
    "code_column": {"es": "Columna del código de cada unidad", "en": "Column of each unit's code"},
    "name_column": {"es": "Columna del nombre", "en": "Column of the name"},
    "no_name_column": {"es": "(sin nombres)", "en": "(no names)"},
    "parent_column": {"es": "Columna del código de la unidad mayor (opcional)", "en": "Column of the parent unit's code (optional)"},
    "no_parent_column": {"es": "(sin unidad mayor)", "en": "(no parent unit)"},
    "parent_column_help": {"es": "Por ejemplo la provincia de cada comuna: los rankings se agregan también a ese nivel.", "en": "For example the province of each comuna: rankings also roll up to that level."},
    "parent_name_column": {"es": "Columna del nombre de la unidad mayor", "en": "Column of the parent unit's name"},
    "plan_title": {"es": "Plan: {n} sitios", "en": "Plan: {n} sites"},
    "plan_brief_sites": {"es": "Sitios", "en": "Sites"},
    "plan_reached": {"es": "Pobres con nicho alcanzados", "en": "Poor people with a niche reached"},
    "plan_brief_reach": {"es": "Alcance", "en": "Reach"},
    "plan_greedy": {"es": "Elección voraz, para comparar", "en": "Greedy choice, for comparison"},
    "smaller_than_cell": {"es": "menor que una celda: cifras de las {n} celdas que cubre", "en": "smaller than one cell: figures of the {n} cells it overlaps"},
    "region_id": {"es": "Identificador de la región", "en": "Region id"},
    "region_id_help": {"es": "Minúsculas, cifras, - y _.", "en": "Lowercase letters, digits, - and _."},
    "build_region": {"es": "Construir la región", "en": "Build the region"},
    "no_profiles": {
        "es": "Esta región no tiene perfiles: los puntajes motor, de necesidad, de acceso y de familias, la inclusión, la tipología y el encadenamiento no se calculan. Puntúela con el perfil propio (barra lateral), o suba perfiles YAML de los tipos engine, need, access y family.",
        "en": "This region has no profiles: the engine, need, access and family scores, inclusion, typology and linkage are not computed. Score it with the custom profile (sidebar), or upload profile YAML files of kinds engine, need, access and family.",
    },
    "missing_need": {
        "es": "Esta región no tiene perfil de necesidad (no hay datos de pobreza): la inclusión, la tipología y el encadenamiento no se calculan. Agregue un perfil de tipo `need` con una capa de pobreza o privación para calcularlos.",
        "en": "This region has no need profile (no poverty data): inclusion, typology and linkage are not computed. Add a profile of kind `need` with a poverty or deprivation layer to compute them.",
    },
    "missing_engine": {
        "es": "Esta región no tiene perfil motor: el puntaje motor, la tipología y el encadenamiento no se calculan. Agregue un perfil de tipo `engine` (recursos a escala, enlaces con mercados globales).",
        "en": "This region has no engine profile: the engine score, typology and linkage are not computed. Add a profile of kind `engine` (resources at scale, links to global markets).",
    },
    "missing_access": {
        "es": "Esta región no tiene perfil de acceso a mercados: el acceso, la inclusión, la tipología y el encadenamiento no se calculan. Agregue un perfil de tipo `access` (tiempos o distancias a ciudades y puertos).",
        "en": "This region has no market-access profile: access, inclusion, typology and linkage are not computed. Add a profile of kind `access` (travel times or distances to towns and ports).",
    },
    "missing_family": {
        "es": "Esta región no tiene perfiles de familias de nicho: las familias, la inclusión, la tipología y el encadenamiento no se calculan. Agregue al menos un perfil de tipo `family`.",
        "en": "This region has no niche-family profile: niche families, inclusion, typology and linkage are not computed. Add at least one profile of kind `family`.",
    },
    "uploaded_files": {"es": "Archivos subidos", "en": "Uploaded files"},
    "file": {"es": "Archivo", "en": "File"},
    "size_bytes": {"es": "Tamaño (bytes)", "en": "Size (bytes)"},
    "profile": {"es": "Perfil", "en": "Profile"},
    "show": {"es": "Mostrar en el mapa", "en": "Show on the map"},
    "weights": {"es": "Pesos", "en": "Weights"},
    "weights_help": {
        "es": "Mueva un peso y el mapa se vuelve a calcular.",
        "en": "Move a weight and the map is re-scored.",
    },
    "reset_weights": {"es": "Restablecer pesos", "en": "Reset weights"},
    "constraints": {"es": "Restricciones", "en": "Constraints"},
    "added_constraint": {"es": "{rule} (del escenario)", "en": "{rule} (from the scenario)"},
    "thresholds": {"es": "Umbrales de la tipología", "en": "Typology thresholds"},
    "engine_threshold": {"es": "Motor alto desde el cuantil", "en": "High engine from quantile"},
    "inclusion_threshold": {"es": "Inclusión alta desde el cuantil", "en": "High inclusion from quantile"},
    "focus": {"es": "Enfocar un departamento", "en": "Focus on a department"},
    "focus_unit": {"es": "Enfocar una unidad", "en": "Focus on a unit"},
    "focus_province": {"es": "Enfocar una provincia", "en": "Focus on a province"},
    "all_department": {"es": "Todo el departamento", "en": "Whole department"},
    "focus_department_is": {"es": "{name} (departamento)", "en": "{name} (department)"},
    "focus_province_is": {"es": "{name} (provincia)", "en": "{name} (province)"},
    "focus_unit_is": {"es": "{name} (unidad)", "en": "{name} (unit)"},
    "in_focus": {"es": "En foco: **{what}**. Mapa, tablas, rankings, comparaciones, sensibilidad, clústeres y descargas se limitan a esta zona.", "en": "In focus: **{what}**. Map, tables, rankings, comparisons, sensitivity, clusters and downloads are limited to this area."},
    "all_country": {"es": "Todo el país", "en": "Whole country"},
    "all_region": {"es": "Toda la región", "en": "Whole region"},
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
    "top_units": {"es": "Unidades con mayor puntaje (media ponderada por población donde se conoce)", "en": "Highest-scoring units (population-weighted mean where population is known)"},
    "find_cell": {"es": "Buscar un lugar: distrito, provincia, departamento, «lat, lon» o celda H3", "en": "Find a place: district, province, department, “lat, lon” or H3 cell"},
    "find_placeholder": {"es": "p. ej. Urubamba, o {lat}, {lon}", "en": "e.g. Urubamba, or {lat}, {lon}"},
    "place_found": {"es": "Encontrado: {name} ({kind}). Su ficha está abierta y el mapa enfocado.", "en": "Found: {name} ({kind}). Its card is open and the map focused on it."},
    "place_not_found": {"es": "No se encontró «{text}». Escriba el nombre de un distrito, provincia o departamento, «lat, lon» o una celda H3.", "en": "“{text}” was not found. Type the name of a district, province or department, “lat, lon” or an H3 cell."},
    "data_notes": {"es": "Notas sobre los datos ({n})", "en": "Notes on the data ({n})"},
    "show_clusters": {"es": "Mostrar clústeres significativos", "en": "Show significant clusters"},
    "opacity": {"es": "Opacidad de los hexágonos", "en": "Hexagon opacity"},
    "score_distribution": {
        "es": "Dónde queda esta celda entre las celdas {where}",
        "en": "Where this cell stands among the cells {where}",
    },
    "where_focus": {"es": "en foco", "en": "in focus"},
    "where_all": {"es": "de la región", "en": "of the region"},
    "this_cell": {"es": "esta celda", "en": "this cell"},
    "n_cells": {"es": "Celdas", "en": "Cells"},
    "ranking_chart": {"es": "Los {n} primeros según «{by}»", "en": "The first {n} by “{by}”"},
    "opacity_help": {
        "es": "Más baja deja ver el mapa de fondo: límites, ríos, lagos y nombres.",
        "en": "Lower shows more of the map underneath: borders, rivers, lakes and names.",
    },
    "clusters_help": {"es": "Puntos calientes Getis-Ord Gi* (999 permutaciones, FDR 5 %), agrupados en zonas contiguas de 5+ celdas.", "en": "Getis-Ord Gi* hot spots (999 permutations, FDR 5 %), grouped into contiguous zones of 5+ cells."},
    "clusters_note": {"es": "{n} clústeres significativos ({cells:,} celdas calientes) con contorno punteado. Haga clic dentro de uno para ver su perfil.", "en": "{n} significant clusters ({cells:,} hot cells), dashed outlines. Click inside one for its profile."},
    "cluster": {"es": "Clúster", "en": "Cluster"},
    "poor_population": {"es": "Población pobre", "en": "Poor population"},
    "cluster_line": {"es": "Rango {rank} · puntaje medio {score} · capas principales: {layers} · mediana a una ciudad de 50 000+: {town} min, a un puerto: {port} min · unidades: {districts}", "en": "Rank {rank} · mean score {score} · top layers: {layers} · median to a town of 50,000+: {town} min, to a port: {port} min · units: {districts}"},
    "custom_profile": {"es": "Perfil propio", "en": "Custom profile"},
    "custom_layers": {"es": "Capas del perfil propio", "en": "Layers of the custom profile"},
    "custom_empty": {"es": "Elija al menos una capa.", "en": "Choose at least one layer."},
    "aggregation": {"es": "Agregación", "en": "Aggregation"},
    "download_brief": {"es": "Ficha de la unidad (HTML imprimible)", "en": "Unit brief (printable HTML)"},
    "download_brief_pdf": {"es": "Ficha de la unidad (PDF, A4)", "en": "Unit brief (PDF, A4)"},
    "download_cluster_brief": {"es": "Ficha del clúster (HTML imprimible)", "en": "Cluster brief (printable HTML)"},
    "download_cluster_brief_pdf": {"es": "Ficha del clúster (PDF, A4)", "en": "Cluster brief (PDF, A4)"},
    "cluster_brief_title": {"es": "Clúster {id}", "en": "Cluster {id}"},
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
    "unit": {"es": "Unidad", "en": "Unit"},
    "parent": {"es": "Unidad mayor", "en": "Parent unit"},
    "code": {"es": "Código", "en": "Code"},
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
        "es": "Mejor familia: **{family}** (margen {margin} sobre la segunda)",
        "en": "Best family: **{family}** (margin {margin} over the second)",
    },
    "why_niche": {"es": "Nicho en {family}: {layer} es {value} {units}{per} (evidencia desde {threshold})", "en": "Niche in {family}: {layer} is {value} {units}{per} (evidence from {threshold})"},
    "why_near": {"es": "Nicho en {family}: {layer} de {value} {units}{per} o más a menos de {km} km", "en": "Niche in {family}: {layer} of {value} {units}{per} or more within {km} km"},
    "why_none": {"es": "Aún no hay evidencia de un nicho aquí: ninguna familia alcanza su umbral", "en": "No evidence of a niche here yet: no family reaches its threshold"},
    "evidence_items": {"es": "Evidencia de nicho: dónde existe la familia", "en": "Niche evidence: where the family exists"},
    "gate_items": {"es": "Compuerta de recurso: sin uno de estos recursos a escala, el puntaje es 0", "en": "Resource gate: without one of these resources at scale, the score is 0"},
    "hubs_items": {"es": "Sitios motor reales, para el vínculo", "en": "Real engine sites, for linkage"},
    "why_gate": {"es": "Compuerta de recurso abierta por {layer} (fuerza {strength} de 1): {reason}", "en": "Resource gate opened by {layer} (strength {strength} of 1): {reason}"},
    "why_gate_closed": {"es": "Compuerta de recurso cerrada: ningún recurso a escala en la celda ni a su alcance, así que el puntaje es 0.", "en": "Resource gate closed: no resource at scale in the cell or within reach, so the score is 0."},
    "why_hub": {"es": "el sitio motor más cercano (mina, fundición, puerto, núcleo agroexportador) está a {minutes} minutos", "en": "the nearest engine site (mine, smelter, port, agro-export core) is {minutes} minutes away"},
    "why_here_cell": {"es": " aquí", "en": " here"},
    "why_here_km2": {"es": " por km² aquí", "en": " per km² here"},
    "why_here_district": {"es": " en el distrito", "en": " in the district"},
    "why_there_cell": {"es": "", "en": ""},
    "why_there_km2": {"es": " por km²", "en": " per km²"},
    "why_there_district": {"es": " en un distrito", "en": " in a district"},
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
    "compare_side_by_side": {
        "es": "A y B lado a lado (se mueven y acercan juntos)",
        "en": "A and B side by side (they pan and zoom together)",
    },
    "compare_change": {"es": "Qué cambia de A a B", "en": "What changes from A to B"},
    "transitions": {"es": "Cambios de tipología de A a B", "en": "Typology transitions from A to B"},
    "transitions_help": {
        "es": "Personas en las celdas en foco: filas, la tipología en A; columnas, en B; la diagonal no cambia.",
        "en": "People in the cells in focus: rows, the typology in A; columns, in B; the diagonal is unchanged.",
    },
    "transitions_help_cells": {
        "es": "Celdas en foco: filas, la tipología en A; columnas, en B; la diagonal no cambia.",
        "en": "Cells in focus: rows, the typology in A; columns, in B; the diagonal is unchanged.",
    },
    "download_comparison": {"es": "Descargar la comparación (CSV, por celda)", "en": "Download the comparison (CSV, per cell)"},
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
    "stable_core_cells": {"es": "Núcleo estable: {n:,} celdas", "en": "Stable core: {n:,} cells"},
    "spearman": {"es": "Correlación media de Spearman con el ranking base: {rho:.3f}", "en": "Mean Spearman correlation with the base ranking: {rho:.3f}"},
    "layers_table": {"es": "Capas", "en": "Layers"},
    "method_title": {"es": "El método", "en": "The method"},
    "method_text": {
        "es": (
            "Carlota Pérez (Revista CEPAL 100, 2010) propone un **modelo dual integrado**: motores de crecimiento "
            "de arriba hacia abajo (industrias de procesos basadas en recursos, competitivas a escala global) y "
            "luchadores contra la pobreza de abajo hacia arriba (clústeres de nicho en lugares pobres, basados en "
            "ventajas locales). Cada hexágono recibe un puntaje **motor** (dotación de recursos a escala, enlaces "
            "con mercados globales, capacidades; sin un recurso a escala al alcance, no hay motor) y un puntaje de "
            "**inclusión** = evidencia de un nicho × √(necesidad × acceso): la evidencia es un nivel absoluto "
            "(producción, visitas, concesiones, caletas, permisos…) con umbrales declarados en cada perfil; un "
            "lugar pobre sin nicho evidenciado, o uno rico con nicho, no puede puntuar alto. La **tipología** "
            "cruza ambos (tercil superior por defecto). La **familia de nicho** es la de evidencia más fuerte. "
            "El **encadenamiento** marca lugares pobres al alcance de operaciones motoras reales (minas en "
            "operación, fundiciones, puertos, núcleos agroexportadores): oportunidades de proveedores y servicios intensivos en "
            "conocimiento. Cada puntaje se descompone exactamente en contribuciones por capa."
        ),
        "en": (
            "Carlota Pérez (CEPAL Review 100, 2010) argues for a **dual integrated model**: top-down engines of "
            "growth (resource-based process industries, competitive globally) and bottom-up poverty fighters "
            "(niche clusters in poor places, built on local advantages). Each hexagon gets an **engine** score "
            "(resource endowment at scale, links to global markets, capabilities; no resource at scale within "
            "reach, no engine) and an **inclusion** score = evidence of a niche × √(need × access): evidence "
            "is an absolute level (production, visits, concessions, landing sites, permits…) with thresholds "
            "declared in each profile; a poor place without an evidenced niche, or a rich one with one, cannot "
            "score high. The **typology** crosses both (top tercile by default). The **niche family** is the "
            "one with the strongest evidence. **Linkage** marks poor places within reach of real engine "
            "operations (operating mines, smelters, ports, agro-export cores): supplier and knowledge-service "
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
    "cluster_card": {"es": "Clúster {id}: {n} celdas, {pop} personas ({poor} pobres)", "en": "Cluster {id}: {n} cells, {pop} people ({poor} poor)"},
    "busy_clusters": {"es": "Buscando clústeres significativos (999 permutaciones)…", "en": "Finding significant clusters (999 permutations)…"},
    "busy_sensitivity": {"es": "Sorteando {n} juegos de pesos…", "en": "Drawing {n} sets of weights…"},
    "busy_compare": {"es": "Calculando el escenario B y la diferencia…", "en": "Computing scenario B and the difference…"},
    "busy_map": {"es": "Dibujando el mapa…", "en": "Drawing the map…"},
    "loading": {"es": "Calculando la región (la primera vez tarda unos segundos)…", "en": "Computing the region (the first time takes a few seconds)…"},
    "theme_resource": {"es": "Recursos", "en": "Resources"},
    "theme_infrastructure": {"es": "Infraestructura", "en": "Infrastructure"},
    "theme_social": {"es": "Social", "en": "Social"},
    "theme_environment": {"es": "Ambiente", "en": "Environment"},
    "top_share": {"es": "{share} % superior", "en": "the top {share} %"},
    "top_third": {"es": "tercio superior", "en": "the top third"},
    "why_typology": {"es": "**{typology}**: su puntaje motor {engine} está {engine_side} de los puntajes motor (umbral {engine_cut}) y su puntaje de inclusión {inclusion} está {inclusion_side} (umbral {inclusion_cut}).", "en": "**{typology}**: its engine score {engine} is {engine_side} of engine scores (threshold {engine_cut}) and its inclusion score {inclusion} is {inclusion_side} (threshold {inclusion_cut})."},
    "side_in": {"es": "en el {top}", "en": "in {top}"},
    "side_out": {"es": "fuera del {top}", "en": "outside {top}"},
    "why_score": {"es": "Puntaje {score} en «{profile}»: puesto {rank} de {n} celdas puntuadas (dentro del {pct} % superior). Lo que más suma: {drivers}.", "en": "Score {score} on “{profile}”: rank {rank} of {n} scored cells (top {pct} %). What adds most: {drivers}."},
    "why_inclusion": {"es": "Inclusión {score} = evidencia de nicho {niche} × necesidad {need}^{a} × acceso {access}^{b}; el factor más bajo ({weakest}) es el que más la limita.", "en": "Inclusion {score} = niche evidence {niche} × need {need}^{a} × access {access}^{b}; the lowest factor ({weakest}) holds it back most."},
    "why_unscored": {"es": "Esta celda no tiene puntaje: una restricción la excluye o le faltan datos.", "en": "This cell has no score: a constraint excludes it or data are missing."},
    "niche": {"es": "nicho", "en": "niche"},
    "hexagon_note": {"es": "En el mapa esta celda está dentro de un hexágono que promedia {n} celdas ({value}); la ficha describe solo esta celda.", "en": "On the map this cell lies in a hexagon averaging {n} cells ({value}); the card describes this cell alone."},
    "mean": {"es": "media", "en": "mean"},
    "cells_in_hexagon": {"es": "Celdas promediadas", "en": "Cells averaged"},
    "col_cells": {"es": "Celdas", "en": "Cells"},
    "col_cells_scored": {"es": "Celdas con puntaje", "en": "Cells scored"},
    "col_mean": {"es": "Puntaje medio", "en": "Mean score"},
    "col_max": {"es": "Mejor puntaje", "en": "Best score"},
    "col_pop_weighted_mean": {"es": "Puntaje medio ponderado por población", "en": "Population-weighted mean score"},
    "col_population_top": {"es": "Población en celdas del decil superior", "en": "Population in top-decile cells"},
    "col_share_pop_top": {"es": "Parte de la población en celdas del decil superior", "en": "Share of population in top-decile cells"},
    "col_poor_population_top": {"es": "Población pobre en celdas del decil superior", "en": "Poor population in top-decile cells"},
    "col_score_km2": {"es": "Puntaje por superficie (km² a puntaje pleno)", "en": "Score by area (km² at full score)"},
    "col_tie": {"es": "Empate", "en": "Tie"},
    "ties_note": {"es": "Las unidades marcadas con «Empate» tienen el mismo valor que su vecina; se ordenan por población pobre, luego por población.", "en": "Units marked “Tie” have the same value as their neighbour; they are ordered by poor population, then population."},
    "col_provinces": {"es": "Provincias", "en": "Provinces"},
    "col_departments": {"es": "Departamentos", "en": "Departments"},
    "col_lat": {"es": "Latitud del centro", "en": "Centre latitude"},
    "col_lon": {"es": "Longitud del centro", "en": "Centre longitude"},
    "col_fdr": {"es": "Tasa de falsos descubrimientos", "en": "False discovery rate"},
    "col_permutations": {"es": "Permutaciones", "en": "Permutations"},
    "col_rank": {"es": "Puesto", "en": "Rank"},
    "col_change": {"es": "Cambio medio", "en": "Mean change"},
    "col_area_km2": {"es": "Área (km²)", "en": "Area (km²)"},
    "col_top_layers": {"es": "Capas principales", "en": "Top layers"},
    "col_districts": {"es": "Distritos", "en": "Districts"},
    "col_minutes_town": {"es": "Mediana de minutos a una ciudad de 50 000+", "en": "Median minutes to a town of 50,000+"},
    "col_minutes_port": {"es": "Mediana de minutos a un puerto", "en": "Median minutes to a port"},
    "excluded": {"es": "{n:,} celdas excluidas por restricciones o falta de datos (en gris).", "en": "{n:,} cells excluded by constraints or missing data (grey)."},
    "tab_plan": {"es": "Plan", "en": "Plan"},
    "plan_intro": {
        "es": "Elija hasta N sitios que alcancen, dentro de un tiempo de viaje, al mayor número de personas pobres en celdas con evidencia de nicho (problema de cobertura máxima, resuelto de forma exacta con HiGHS). Los candidatos son las mejores celdas del perfil elegido.",
        "en": "Choose up to N sites that reach, within a travel time, the most poor people in cells with niche evidence (maximal covering problem, solved exactly with HiGHS). Candidates are the best cells of the chosen profile.",
    },
    "plan_needs_profile": {"es": "Elija un perfil (no «Inclusión») para planificar.", "en": "Choose a profile (not “Inclusion”) to plan."},
    "plan_sites": {"es": "Sitios", "en": "Sites"},
    "plan_reach": {"es": "Alcance (minutos de viaje)", "en": "Reach (travel minutes)"},
    "plan_min_km": {"es": "Distancia mínima entre sitios (km)", "en": "Minimum distance between sites (km)"},
    "plan_per_department": {"es": "Máximo por departamento (0 = sin límite)", "en": "Most per department (0 = no limit)"},
    "plan_niche_min": {"es": "Evidencia de nicho: posición mínima en el perfil", "en": "Niche evidence: least standing in the profile"},
    "plan_run": {"es": "Calcular el plan", "en": "Compute the plan"},
    "plan_front": {"es": "Trazar el frente crecimiento–inclusión", "en": "Trace the growth–inclusion front"},
    "plan_result": {
        "es": "Óptimo: **{best:,.0f}** personas pobres con nicho alcanzadas · voraz: {greedy:,.0f} ({gap:.1%} menos) · las {n} mejores celdas: {top:,.0f}",
        "en": "Optimum: **{best:,.0f}** poor people with a niche reached · greedy: {greedy:,.0f} ({gap:.1%} less) · the {n} best cells: {top:,.0f}",
    },
    "plan_minutes": {"es": "Minutos al sitio más cercano", "en": "Minutes to the nearest site"},
    "plan_point": {"es": "Punto del frente", "en": "Point of the front"},
    "plan_demand": {"es": "Personas pobres con nicho alcanzadas", "en": "Poor people with a niche reached"},
    "plan_growth": {"es": "Potencial de motor y enlace alcanzado", "en": "Engine and linkage potential reached"},
    "tab_decide": {"es": "Pesos y escenarios", "en": "Weights & scenarios"},
    "ahp_title": {"es": "Pesos por comparación de pares (AHP)", "en": "Weights by pairwise comparison (AHP)"},
    "ahp_intro": {
        "es": "Compare las capas del perfil de dos en dos en la escala de Saaty (1 = igual de importantes, 3 = moderadamente, 5 = fuertemente, 7 = muy fuertemente, 9 = extremadamente más importante). Los pesos son el vector propio principal de la matriz de juicios; la razón de consistencia (RC) dice si los juicios concuerdan entre sí: por encima de 0,1 conviene revisarlos. Con varios participantes, sus juicios se combinan por media geométrica.",
        "en": "Compare the profile's layers two at a time on Saaty's scale (1 = equally important, 3 = moderately, 5 = strongly, 7 = very strongly, 9 = extremely more important). The weights are the principal eigenvector of the matrix of judgements; the consistency ratio (CR) tells whether the judgements agree with each other: above 0.1 they should be revised. With several participants, their judgements are combined by the geometric mean.",
    },
    "ahp_needs_profile": {"es": "Elija un perfil con al menos dos capas (no «Inclusión») para comparar sus capas.", "en": "Choose a profile with at least two layers (not “Inclusion”) to compare its layers."},
    "ahp_participant": {"es": "Participante cuyos juicios se editan", "en": "Participant whose judgements are edited"},
    "ahp_new_name": {"es": "Nombre de un nuevo participante", "en": "Name of a new participant"},
    "ahp_add": {"es": "Añadir participante", "en": "Add participant"},
    "ahp_remove": {"es": "Quitar a este participante", "en": "Remove this participant"},
    "ahp_name_taken": {"es": "Ya hay un participante llamado «{name}».", "en": "There is already a participant named “{name}”."},
    "ahp_first": {"es": "Participante 1", "en": "Participant 1"},
    "ahp_equal": {"es": "igual", "en": "equal"},
    "ahp_more": {"es": "{layer} ×{n}", "en": "{layer} ×{n}"},
    "ahp_pairs": {"es": "{n} pares: a la izquierda pesa más la primera capa, a la derecha la segunda.", "en": "{n} pairs: to the left the first layer weighs more, to the right the second."},
    "ahp_weights_table": {"es": "Pesos resultantes", "en": "Resulting weights"},
    "ahp_group": {"es": "Grupo", "en": "Group"},
    "ahp_now": {"es": "Pesos actuales", "en": "Current weights"},
    "ahp_min": {"es": "Mínimo", "en": "Minimum"},
    "ahp_max": {"es": "Máximo", "en": "Maximum"},
    "ahp_sd": {"es": "Desv. estándar", "en": "Std. deviation"},
    "ahp_cr": {"es": "RC de {who}: {cr:.3f}", "en": "CR of {who}: {cr:.3f}"},
    "ahp_inconsistent": {
        "es": "{who}: la razón de consistencia {cr:.3f} supera 0,1. El juicio menos acorde con los demás es «{a}» frente a «{b}» ({ratio:.2f} veces lo que implican los otros juicios): revíselo.",
        "en": "{who}: the consistency ratio {cr:.3f} is above 0.1. The judgement least in line with the others is “{a}” vs “{b}” ({ratio:.2f} times what the other judgements imply): revise it.",
    },
    "ahp_use": {"es": "Usar estos pesos", "en": "Use these weights"},
    "ahp_refused": {"es": "Estos pesos no se aplican mientras su razón de consistencia supere 0,1: revise el juicio señalado.", "en": "These weights are not applied while their consistency ratio is above 0.1: revise the judgement named."},
    "ahp_used": {"es": "Pesos AHP aplicados a los deslizadores (el mayor en 5, redondeados a 0,1).", "en": "AHP weights applied to the sliders (the largest at 5, rounded to 0.1)."},
    "scenario_title": {"es": "Escenario: guardar, cargar, compartir", "en": "Scenario: save, load, share"},
    "scenario_intro": {
        "es": "Un escenario guarda el perfil, los pesos, las restricciones, los umbrales y el foco en un pequeño YAML que también lee la línea de comandos (opción `--scenario ARCHIVO`). La dirección de esta página ya contiene la vista: cópiela para compartirla.",
        "en": "A scenario keeps the profile, weights, constraints, thresholds and focus in a small YAML file that the command line also reads (option `--scenario FILE`). This page's address already holds the view: copy it to share it.",
    },
    "scenario_name": {"es": "Nombre del escenario", "en": "Scenario name"},
    "scenario_save": {"es": "Guardar esta vista como escenario (YAML)", "en": "Save this view as a scenario (YAML)"},
    "scenario_upload": {"es": "Cargar un escenario (YAML)", "en": "Load a scenario (YAML)"},
    "scenario_apply": {"es": "Aplicar el escenario", "en": "Apply the scenario"},
    "scenario_applied": {"es": "Escenario «{name}» aplicado.", "en": "Scenario “{name}” applied."},
    "scenario_unknown_profile": {"es": "El escenario es del perfil «{profile}», que esta región no tiene.", "en": "The scenario is for profile “{profile}”, which this region does not have."},
    "scenario_unknown_layers": {"es": "El escenario pesa capas que el perfil no tiene, ignoradas: {layers}.", "en": "The scenario weighs layers the profile does not have, ignored: {layers}."},
    "scenario_extra_constraints": {"es": "El escenario añade {n} restricciones al perfil: se aplican y se pueden desactivar en la barra lateral.", "en": "The scenario adds {n} constraints to the profile: they apply, and can be switched off in the sidebar."},
    "scenario_custom_extras": {"es": "El perfil propio del escenario define además {keys}, que la app no aplica (la línea de comandos sí).", "en": "The scenario's custom profile also sets {keys}, which the app does not apply (the command line does)."},
    "scenario_unknown_constraints": {"es": "El escenario restringe capas que esta región no tiene, ignoradas: {layers}.", "en": "The scenario constrains layers this region does not have, ignored: {layers}."},
    "scenario_scaled": {"es": "Los pesos del escenario pasan de 5: se escalaron para que el mayor sea 5 (las proporciones no cambian).", "en": "The scenario's weights exceed 5: they were scaled so the largest is 5 (their ratios are unchanged)."},
    "scenario_problem": {"es": "El escenario no se pudo leer: {error}", "en": "The scenario could not be read: {error}"},
    "link_problem": {"es": "El enlace trae una vista que no se pudo leer: {error}", "en": "The link holds a view that could not be read: {error}"},
    "scenario_err_yaml": {"es": "{where}, línea {line}: no es YAML válido; revise la sangría, los dos puntos y las comillas de esa línea o de la anterior", "en": "{where}, line {line}: not valid YAML; check the indentation, colons and quotes on that line or the one before"},
    "scenario_err_anchor": {"es": "{where}, línea {line}: usa un ancla (&) o un alias (*) de YAML, que no se aceptan; escriba cada valor completo", "en": "{where}, line {line}: uses a YAML anchor (&) or alias (*), which are not accepted; write each value out in full"},
    "scenario_err_unreadable": {"es": "{where}: no se puede leer como escenario (debe ser un texto YAML corto en UTF-8, sin anclas & ni alias *); guárdelo de nuevo desde esta pestaña", "en": "{where}: cannot be read as a scenario (it must be a short UTF-8 YAML text, without anchors & or aliases *); save it again from this tab"},
    "scenario_err_not_mapping": {"es": "{where}: un escenario es una lista de claves con valor ({keys})", "en": "{where}: a scenario is a mapping of keys to values ({keys})"},
    "scenario_err_missing": {"es": "{where}: falta la clave obligatoria «{field}»; añádala", "en": "{where}: the required key “{field}” is missing; add it"},
    "scenario_err_unknown_key": {"es": "{where}: la clave «{field}» no existe en un escenario; las claves son {keys}", "en": "{where}: there is no key “{field}” in a scenario; the keys are {keys}"},
    "scenario_err_number": {"es": "{where}: «{field}» = {value} debe ser un número ({limits}); corríjalo", "en": "{where}: “{field}” = {value} must be a number ({limits}); correct it"},
    "scenario_err_text": {"es": "{where}: «{field}» = {value} no es un texto válido (letras, cifras y _ . -, sin espacios, no demasiado largo); corríjalo", "en": "{where}: “{field}” = {value} is not valid text (letters, digits and _ . -, no spaces, not too long); correct it"},
    "scenario_err_weights": {"es": "{where}: «weights» nombra capas por su id y cada peso va de 0 a 1e6 (0 deja fuera la capa); corrija {value}", "en": "{where}: “weights” names layers by id and each weight is from 0 to 1e6 (0 leaves the layer out); correct {value}"},
    "scenario_err_value": {"es": "{where}: «{field}» tiene un valor no válido {value}; compárelo con un escenario guardado desde esta pestaña", "en": "{where}: “{field}” holds an invalid value {value}; compare it with a scenario saved from this tab"},
    "link_err_pairs": {"es": "parámetro {name}: {value} no es capa:peso; escriba p. ej. {name}=crops:3,roads:1", "en": "parameter {name}: {value} is not layer:weight; write e.g. {name}=crops:3,roads:1"},
    "link_err_thresholds": {"es": "parámetro thresholds: {value} no son dos números; escriba p. ej. 0.7,0.67", "en": "parameter thresholds: {value} is not two numbers; write e.g. 0.7,0.67"},
    "link_err_agg": {"es": "parámetro agg: {value} es la agregación del perfil personalizado, una de {options}, con profile=custom", "en": "parameter agg: {value} is the custom profile's aggregation, one of {options}, with profile=custom"},
    "link_err_add": {"es": "parámetro add: {value} no es capa, operador, número; escriba p. ej. add=protected_strict<0.5,slope<=15", "en": "parameter add: {value} is not layer, operator, number; write e.g. add=protected_strict<0.5,slope<=15"},
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
    return _Formatter(lang).format(text, **fields) if fields else text


class _Formatter(string.Formatter):
    """``str.format`` that writes numbers the language's way (Spanish: ``1.234,5``)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: object, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        if self.lang == "es" and isinstance(value, int | float) and not isinstance(value, bool):
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text


def number(value: float, lang: str, *, decimals: int = 0) -> str:
    """Return a number written the way ``lang`` writes it; "—" when it is missing.

    Spanish groups thousands with a point and uses a decimal comma; English the other way round.

    Examples
    --------
    >>> number(1234.5, "es", decimals=1), number(1234.5, "en", decimals=1)
    ('1.234,5', '1,234.5')
    >>> number(float("nan"), "es")
    '—'
    """
    try:
        finite = value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        return "—"
    text = f"{float(value):,.{decimals}f}"
    if lang == "es":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def numbers(values: Iterable[object], lang: str, *, decimals: int = 0,
            missing: str = "—") -> list[str]:
    """Return :func:`number` of every value, ``missing`` where a value is missing.

    Examples
    --------
    >>> numbers([1234.5, None], "es", decimals=1, missing="sin datos")
    ['1.234,5', 'sin datos']
    """
    items = values if isinstance(values, pd.Series | np.ndarray) else list(values)
    try:
        floats = np.asarray(items, dtype=float)
    except (TypeError, ValueError):  # text among the values: one at a time
        out = [number(v, lang, decimals=decimals) for v in items]  # type: ignore[arg-type]
        return [missing if text == "—" else text for text in out]
    # one format per value and one swap of marks for all (a map's thousands of tooltips)
    text = "\n".join(f"{v:,.{decimals}f}" if math.isfinite(v) else "" for v in floats.tolist())
    if lang == "es":
        text = text.translate(_SPANISH_MARKS)
    return [part or missing for part in text.split("\n")] if len(floats) else []


_SPANISH_MARKS = str.maketrans({",": ".", ".": ","})


UNITS: dict[str, str] = {
    "share of cell": "fracción de la celda",
    "minutes": "minutos",
    "count": "número",
    "resources per km²": "recursos por km²",
    "people": "personas",
    "t/year (fine metal)": "t/año (metal fino)",
    "t/year": "t/año",
    "share 0–1": "fracción 0–1",
    "index 0–1": "índice 0–1",
    "centres": "centros",
    "MW per km²": "MW por km²",
    "% of population": "% de la población",
    "% of area": "% del área",
    "sites per km²": "sitios por km²",
    "producers": "productores",
    "permits": "permisos",
    "ha (5 years)": "ha (5 años)",
    "thousand S/ (2023)": "miles de S/ (2023)",
    "class code (1 A tropical, 2 B arid, 3 C temperate, 4 D cold, 5 E polar)":
        "código de clase (1 A tropical, 2 B árido, 3 C templado, 4 D frío, 5 E polar)",
    "DMSP digital number (province sum)": "número digital DMSP (suma provincial)",
    "USD/year (2015–2019 prices)": "USD/año (precios 2015–2019)",
    "effort-weighted resources per km²": "recursos ponderados por esfuerzo por km²",
    "foreign visits (23 months) per km²": "visitas extranjeras (23 meses) por km²",
    "operators 0–4": "operadores 0–4",
    "people per km²": "personas por km²",
    "share 0–1 of rural households": "fracción 0–1 de los hogares rurales",
    "visits per year per km²": "visitas por año por km²",
    "visits per year": "visitas por año",
    "foreign visits (23 months)": "visitas extranjeras (23 meses)",
    "years": "años",
    "mines per km²": "minas por km²",
}
"""Layer units (as the layer specs write them, in English) → Spanish."""


def unit(text: str, lang: str) -> str:
    """Return a layer's units in ``lang`` (unchanged when not catalogued, or in English)."""
    return UNITS.get(text, text) if lang == "es" else text


COLUMNS: dict[str, str] = {
    "code": "code", "district": "district", "province": "province", "department": "department",
    "unit_code": "code", "cells": "col_cells", "cells_scored": "col_cells_scored",
    "population": "population", "mean": "col_mean", "max": "col_max",
    "pop_weighted_mean": "col_pop_weighted_mean", "population_top": "col_population_top",
    "share_pop_top": "col_share_pop_top", "score_km2": "col_score_km2", "rank": "col_rank", "change": "col_change",
    "poor_population": "poor_population", "poor_population_top": "col_poor_population_top",
    "cluster_id": "cluster", "tie": "col_tie", "provinces": "col_provinces",
    "departments": "col_departments", "centroid_lat": "col_lat", "centroid_lon": "col_lon",
    "fdr": "col_fdr", "permutations": "col_permutations", "n_cells": "col_cells", "area_km2": "col_area_km2",
    "mean_score": "col_mean", "max_score": "col_max", "poverty_rate": "poverty",
    "top_layers": "col_top_layers", "districts": "col_districts",
    "median_minutes_town50k": "col_minutes_town", "median_minutes_port": "col_minutes_port",
    "profile": "profile", "unit": "unit", "units": "units", "file": "file", "bytes": "size_bytes",
    "parent": "province", "grandparent": "department", "parents": "col_provinces",
    "grandparents": "col_departments",
}
"""Output column → catalogue message of its header (the platform's slots ``unit``, ``parent``,
``grandparent`` and Peru's level names alike)."""


def headers(frame: pd.DataFrame, lang: str, *, unit_key: str = "district") -> pd.DataFrame:
    """Return ``frame`` with its known columns renamed to headers in ``lang`` (:data:`COLUMNS`).

    ``unit_key`` names the finest level (``"unit"`` for a region without districts).
    """
    keys = {**COLUMNS, "district": unit_key, "unit": unit_key}
    return frame.rename(columns={c: t(keys[c], lang) for c in frame.columns if c in keys})


_SMALL_WORDS = {"de", "del", "la", "las", "los", "el", "y", "e", "en"}


def _bare(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def proper_case(name: str, accents: Mapping[str, str] | None = None) -> str:
    """Return a name written in capitals (``"SAN MARTIN DE PORRES"``) in proper case.

    Parameters
    ----------
    name : str
    accents : mapping, optional
        Bare capital word → the word as written with its accents (``"JUNIN"`` → ``"Junín"``),
        e.g. from the names of towns. Words not in it are capitalized as they are.

    Examples
    --------
    >>> proper_case("SAN MARTIN DE PORRES", {"MARTIN": "Martín"})
    'San Martín de Porres'
    >>> proper_case("Lima")
    'Lima'
    """
    if not isinstance(name, str) or name != name.upper():
        return name
    accents = accents or {}
    words = re.split(r"(\s+|-)", name)
    out = []
    for i, word in enumerate(words):
        low = word.lower()
        if i > 0 and low in _SMALL_WORDS:
            out.append(low)
        else:
            found = accents.get(_bare(word)) or word.capitalize()
            out.append(re.sub(r"cion$", "ción", found))  # Spanish -ción always bears its accent
    return "".join(out)


def proper_names(names: pd.DataFrame, accents: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Return a copy of a names table with its name columns (not codes) in :func:`proper_case`."""
    out = names.copy()
    for column in ("unit", "parent", "grandparent", "district", "province", "department"):
        if column in out:
            out[column] = [proper_case(v, accents) for v in out[column]]
    return out
