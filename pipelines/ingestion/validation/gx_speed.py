"""Speed-ups of GX 1.x's pandas engine for our validations (pipelines/ingestion/validation/runner.py).

Each is measured below and leaves GX's results unchanged (tests/ingestion/test_validation.py compares
every one both ways). The configuration cache, the narrowed column domains, the regex matched per
category and the metric graphs kept per suite act only while :func:`one_validation` is entered, so
any other GX use in the process sees GX's own; the JSON shortcut acts throughout, with GX's own
output. :func:`install_speedups` installs them once, after GX is imported.
"""

from __future__ import annotations

import contextlib
from typing import Any


def install_speedups(index_columns: list[str]) -> None:
    """Install the five speed-ups (idempotent); ``index_columns`` are the columns by which failing
    rows are reported (``unexpected_index_column_names``)."""
    _cache_configurations()
    _fast_json_conversion()
    _narrow_column_domains(list(index_columns))
    _regex_once_per_category()
    _cache_metric_graphs()


# GX 1.x rebuilds an expectation's configuration (a pydantic ``dict()``, then a new
# ExpectationConfiguration) on every read of ``Expectation.configuration``, and one validation reads
# it about 150 times per expectation (~3,200 times for the e-PPGBM suite): 0.08 of a validation's
# fixed 0.2 s. Within one validation nothing changes an expectation, so while one runs (and only
# then) each expectation's configuration is built once; the entries go when it ends. Measured
# (2026-12-02, same frames, outcomes identical): a 2,400-row batch 0.196 -> 0.116 s CPU, a
# 105,218-row e-PPGBM batch 0.496 -> 0.358 s. Skipped when the GX in use does not define
# ``configuration`` as a property (the lock pins GX; tests/ingestion/test_validation.py compares
# the outcomes with and without it).
CACHE_CONFIGURATIONS = True
_CONFIGURATIONS: dict[int, tuple[Any, Any]] = {}  # id(expectation) -> (expectation, configuration)
_CACHING = [False]


def _cache_configurations() -> None:
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415 - slow import

    original = Expectation.__dict__.get("configuration")
    if not isinstance(original, property) or getattr(original.fget, "_built_once_per_validation", False):
        return
    build = original.fget

    def configuration(self):
        if not _CACHING[0]:
            return build(self)
        hit = _CONFIGURATIONS.get(id(self))
        if hit is None or hit[0] is not self:  # the expectation is kept, so its id is not reused meanwhile
            hit = _CONFIGURATIONS[id(self)] = (self, build(self))
        return hit[1]

    configuration._built_once_per_validation = True  # type: ignore[attr-defined]
    Expectation.configuration = property(configuration, doc=original.__doc__)


# GX converts every metric's keyword arguments to JSON to name the metric (``IDDict.to_id``, ~2,500
# times per validation) and every result to JSON, each value through a chain of ~30 isinstance
# checks (pydantic's metaclass, numpy dtypes, ...) before reaching a plain str or int. Plain JSON
# values of the exact builtin types (str, int, bool, float, None, and dicts/lists/tuples of them)
# take a shortcut with the same output; anything else goes to GX's own function. Measured
# (2026-12-02, 2,400 rows, three runs each): GX's fixed cost per validation 0.100-0.113 -> 0.085-0.093 s
# CPU. Off (``FAST_JSON = False``): GX's own function throughout (the tests compare both).
FAST_JSON = True


def _fast_json_conversion() -> None:
    import sys  # noqa: PLC0415

    from great_expectations import util  # noqa: PLC0415 - slow import

    original = util.convert_to_json_serializable
    if getattr(original, "_plain_values_first", False):
        return

    def convert_to_json_serializable(data):
        if not FAST_JSON:
            return original(data)
        kind = type(data)
        if kind is str or kind is int or kind is bool or data is None:
            return data
        if kind is float:
            return None if data != data else data  # NaN -> None, as GX
        if kind is dict:
            return {str(k): convert_to_json_serializable(v) for k, v in data.items()}
        if kind is list or kind is tuple:
            return [convert_to_json_serializable(v) for v in data]
        return original(data)

    convert_to_json_serializable._plain_values_first = True  # type: ignore[attr-defined]
    convert_to_json_serializable.__wrapped__ = original  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if (name == "great_expectations" or name.startswith("great_expectations.")) and \
                getattr(module, "convert_to_json_serializable", None) is original:
            module.convert_to_json_serializable = convert_to_json_serializable


# GX's pandas engine hands every single-column metric the WHOLE batch frame as its domain, and the
# map metrics then filter it by rows (``df[df[column].notnull()]``, ``df[unexpected]``) two or
# three times per expectation: each filter copies every column of the frame, ~20 of them for
# e-PPGBM, to read one column and the two index columns. While one of our validations runs (and
# only then), a column domain is that column plus the index columns, the only columns a
# column-domain metric reads with the runner's ``RESULT_FORMAT`` (no unexpected rows are returned). Row
# conditions are applied first, by GX, on the whole frame; column-pair and multi-column domains
# are left whole. Measured (2026-12-04, a 125,291-row e-PPGBM batch, 8 alternated pairs, results
# identical): a validation's CPU 0.439 -> 0.394 s (best), 0.501 -> 0.457 s (median). Off
# (``NARROW_COLUMN_DOMAINS = False``): GX's own domains (the tests compare both).
NARROW_COLUMN_DOMAINS = True
_NARROWED: dict[tuple[int, str], tuple[Any, Any]] = {}  # (id(frame), column) -> (frame, narrowed)
_NARROWING = [False]


def _narrow_column_domains(index_columns: list[str]) -> None:
    from great_expectations.execution_engine.pandas_execution_engine import (  # noqa: PLC0415 - slow import
        PandasExecutionEngine,
    )

    original = PandasExecutionEngine.get_domain_records
    if getattr(original, "_column_and_index_only", False):
        return

    def get_domain_records(self, domain_kwargs: dict):
        data = original(self, domain_kwargs)
        column = domain_kwargs.get("column")
        if (not _NARROWING[0] or column is None or "column_A" in domain_kwargs or "column_list" in domain_kwargs
                or column not in data.columns or any(c not in data.columns for c in index_columns)):
            return data
        hit = _NARROWED.get((id(data), column))
        if hit is None or hit[0] is not data:  # the frame is kept, so its id is not reused meanwhile
            keep = [column, *(c for c in index_columns if c != column)]
            hit = _NARROWED[(id(data), column)] = (data, data[keep])
        return hit[1]

    get_domain_records._column_and_index_only = True  # type: ignore[attr-defined]
    get_domain_records.__wrapped__ = original  # type: ignore[attr-defined]
    PandasExecutionEngine.get_domain_records = get_domain_records


# GX's pandas regex condition is ``column.astype(str).str.contains(regex)``. Our text reaches GX as
# categoricals (runner._categorical_text), and pandas 3 turns a categorical into text by building
# every row's string again before matching. While one of our validations runs (and only then), a
# categorical column without nulls (GX has dropped them) is matched once per category by that very
# expression, and each row takes its category's answer: the same values, dtype and index. Measured
# (2026-12-04, a 125,291-row e-PPGBM batch, four regex expectations, three on pseudonyms; 8
# alternated pairs, results identical): a validation's CPU 0.498 -> 0.430 s (best), 0.588 -> 0.460 s
# (median). Skipped when GX's regex condition is not laid out as in the GX the lock pins; off
# (``REGEX_ONCE_PER_CATEGORY = False``): GX's own (the tests compare both).
REGEX_ONCE_PER_CATEGORY = True
_PER_CATEGORY = [False]


def _regex_once_per_category() -> None:
    import pandas as pd  # noqa: PLC0415
    from great_expectations.expectations.registry import _registered_metrics  # noqa: PLC0415 - slow import

    try:  # GX's registered provider -> column_condition_partial's inner function -> GX's _pandas
        _, provider = _registered_metrics["column_values.match_regex.condition"]["providers"]["PandasExecutionEngine"]
        inner = _closure_cell(provider, "metric_fn").cell_contents
        cell = _closure_cell(inner, "metric_fn")
    except (KeyError, ValueError, TypeError, AttributeError):
        return
    original = cell.cell_contents
    if getattr(original, "_once_per_category", False):
        return

    def match_regex(cls, column, regex, **kwargs):
        if _PER_CATEGORY[0] and isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            if not len(codes) or codes.min() >= 0:  # with a null, GX's own way
                return _matched_per_category(original, cls, column, codes, regex, kwargs)
        return original(cls, column, regex, **kwargs)

    match_regex._once_per_category = True  # type: ignore[attr-defined]
    match_regex.__wrapped__ = original  # type: ignore[attr-defined]
    cell.cell_contents = match_regex


def _matched_per_category(original, cls, column, codes, regex, kwargs):
    """GX's ``original`` condition on the categories of ``column``, taken back to its rows."""
    import pandas as pd  # noqa: PLC0415

    categories = column.cat.categories
    matched = original(cls, pd.Series(categories, dtype=categories.dtype), regex, **kwargs).iloc[codes]
    matched.index = column.index
    matched.name = column.name
    return matched


def _closure_cell(function, name: str):
    """The cell of ``function``'s free variable ``name`` (ValueError when it has none)."""
    return function.__closure__[function.__code__.co_freevars.index(name)]


# Before resolving any metric, GX builds every expectation's metric dependency graph for the batch:
# a deep copy of its configuration (with the batch id), then the metrics it needs and, recursively,
# theirs (~1,300 metric configurations named by JSON for the e-PPGBM suite). That is a third of a
# validation's fixed cost, and it depends only on the configurations, the batch id (one per stream:
# ``submissions-<stream>``), the engine's type and the runtime configuration, never on the rows.
# While one of our validations runs (and only then), the graphs built for a suite are kept and
# given again to the next validation with the same key: new graph objects on the validator's own
# engine, over the same edges and the same evaluated configurations (which GX only reads after
# this step). A suite whose graphs failed to build (an exception recorded as a result) is not
# kept. Measured (2026-12-04, e-PPGBM suite, 10 validations each): building the graphs 39-55 ms of
# a validation; kept, ~4 ms (the key). Off (``CACHE_METRIC_GRAPHS = False``): GX builds them each
# time (the tests compare both).
CACHE_METRIC_GRAPHS = True
_GRAPHS: dict[tuple, list[tuple[Any, list]]] = {}  # key -> [(evaluated configuration, edges)]
_MAX_GRAPHS = 64  # suites x result formats kept; more is a use we do not make: start again
_KEEPING_GRAPHS = [False]


def _cache_metric_graphs() -> None:
    import json  # noqa: PLC0415

    from great_expectations.validator.validation_graph import (  # noqa: PLC0415 - slow import
        ExpectationValidationGraph,
        ValidationGraph,
    )
    from great_expectations.validator.validator import Validator  # noqa: PLC0415

    name = "_generate_metric_dependency_subgraphs_for_each_expectation_configuration"
    original = getattr(Validator, name, None)
    if original is None or getattr(original, "_kept_per_suite", False):
        return

    def generate(self, expectation_configurations, processed_configurations, catch_exceptions,
                 runtime_configuration=None):
        if not _KEEPING_GRAPHS[0] or processed_configurations:
            return original(self, expectation_configurations, processed_configurations, catch_exceptions,
                            runtime_configuration)
        key = (type(self._execution_engine), self.active_batch_id,
               json.dumps(runtime_configuration, sort_keys=True, default=repr),
               tuple(json.dumps(c.to_json_dict(), sort_keys=True, default=repr) for c in expectation_configurations))
        kept = _GRAPHS.get(key)
        if kept is None:
            graphs, evrs, processed = original(self, expectation_configurations, processed_configurations,
                                               catch_exceptions, runtime_configuration)
            if not evrs and len(graphs) == len(expectation_configurations):
                if len(_GRAPHS) >= _MAX_GRAPHS:
                    _GRAPHS.clear()
                _GRAPHS[key] = [(g.configuration, list(g.graph.edges)) for g in graphs]
            return graphs, evrs, processed
        graphs = [ExpectationValidationGraph(configuration=configuration,
                                             graph=ValidationGraph(execution_engine=self._execution_engine,
                                                                   edges=list(edges)))
                  for configuration, edges in kept]
        processed_configurations.extend(configuration for configuration, _ in kept)
        return graphs, [], processed_configurations

    generate._kept_per_suite = True  # type: ignore[attr-defined]
    generate.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(Validator, name, generate)


@contextlib.contextmanager
def one_validation():
    """Expectation configurations built once, column domains narrowed, regexes matched once per
    category and the suite's metric graphs kept while the validation inside runs (see above)."""
    _CACHING[0] = CACHE_CONFIGURATIONS
    _NARROWING[0] = NARROW_COLUMN_DOMAINS
    _PER_CATEGORY[0] = REGEX_ONCE_PER_CATEGORY
    _KEEPING_GRAPHS[0] = CACHE_METRIC_GRAPHS
    try:
        yield
    finally:
        _CACHING[0] = False
        _NARROWING[0] = False
        _PER_CATEGORY[0] = False
        _KEEPING_GRAPHS[0] = False
        _CONFIGURATIONS.clear()
        _NARROWED.clear()
