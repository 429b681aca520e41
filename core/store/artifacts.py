"""Saves and loads fitted pipelines without ever unpickling: skops with a fixed allow-list, XGBoost in its own format.

A saved model is a small zip:
- `format.json`   {"format": "workbench-model", "version": 1,
                  "xgboost": null | {"slot": "final" | "wrapped", "class": ..., "params": {...}}}
- `pipeline.skops` the scikit-learn pipeline, loaded by skops against TRUSTED_TYPES below. When the model is an
                  XGBoost one, its booster is cut out first and a plain string stands in its place.
- `booster.ubj`   the XGBoost booster in XGBoost's own UBJSON format (only for XGBoost models).
Nothing in the file names code to run: skops refuses any type outside the allow-list, and the XGBoost class is
looked up in a fixed table, not imported by the name in the file.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

from core.errors import ArtifactRejected

FORMAT = "workbench-model"
VERSION = 1
BOOSTER_SLOT = "xgboost-booster:model"  # stands in for the fitted XGBoost object inside the saved pipeline
MAX_UNPACKED_BYTES = 2 * 1024**3

# Types that skops does not trust by default but a workbench pipeline needs. Reviewed by hand: each is plain data or
# a function of this project; skops' own defaults already cover scikit-learn estimators and numpy arrays.
TRUSTED_TYPES: tuple[str, ...] = (
    "core.models.preprocess.EncodedLabelClassifier",  # keeps a classifier's original labels (XGBoost needs 0..k-1)
    "core.models.preprocess.RareCategoryGrouper",  # keeps frequent category values, groups the rest as '(other)'
    "core.models.preprocess.as_flag",  # the module-level functions FunctionTransformer steps refer to
    "core.models.preprocess.as_text",
    "core.models.preprocess.date_parts",
    "core.models.preprocess.date_part_names",
    "core.models.preprocess.few_levels",  # pick a category column's encoding by its number of values, at fit time
    "core.models.preprocess.many_levels",
    "core.models.preprocess.as_documents",  # a text column as strings for TF-IDF
    "numpy.dtype",  # OneHotEncoder's output dtype
    "sklearn.model_selection._split.KFold",  # TargetEncoder's cross-fitting folds (plain settings)
    "sklearn.tree._tree.Tree",  # the fitted trees of decision tree and random forest
    "sklearn.neighbors._kd_tree.KDTree",  # k-nearest neighbours' search index, when it builds one
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",  # the distance those indexes measure with
    "xgboost.sklearn.XGBClassifier",  # the UNFITTED settings object inside the wrapper; its trees live in booster.ubj
)

# Models saved before the package move (0.1) name `core.preprocess.*`; `core/preprocess.py` keeps that path importable
# as an alias of `core.models.preprocess`, and these are the same six objects under their old names.
LEGACY_TRUSTED_TYPES: tuple[str, ...] = tuple(
    t.replace("core.models.preprocess.", "core.preprocess.") for t in TRUSTED_TYPES if t.startswith("core.models.")
)

_XGB_CLASSES = {"XGBClassifier", "XGBRegressor"}
_JSON_SCALARS = (str, int, float, bool, type(None))


def dump_model(pipeline: Any) -> bytes:
    """Serialises a fitted pipeline to bytes that load_model can read back without executing code."""
    import skops.io as sio

    detached, booster = _detach_xgboost(pipeline)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("format.json", json.dumps({"format": FORMAT, "version": VERSION,
                                               "xgboost": booster and booster["meta"]}))
        zf.writestr("pipeline.skops", sio.dumps(detached))
        if booster:
            zf.writestr("booster.ubj", booster["raw"])
    return buf.getvalue()


def load_model(data: bytes) -> Any:
    """Loads a pipeline saved by dump_model, refusing any file that is not one. Raises: ArtifactRejected."""
    if not isinstance(data, (bytes, bytearray)) or not zipfile.is_zipfile(io.BytesIO(data)):
        raise ArtifactRejected("This file is not a model saved by the workbench, so it was not loaded. "
                               "Retrain the model, or register it again from its run.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if sum(i.file_size for i in zf.infolist()) > MAX_UNPACKED_BYTES:
                raise ArtifactRejected("The saved model unpacks to more than 2 GB, so it was not loaded.")
            if not {"format.json", "pipeline.skops"} <= names or names - {"format.json", "pipeline.skops",
                                                                           "booster.ubj"}:
                raise ArtifactRejected("The saved model has unexpected contents, so it was not loaded. Retrain it.")
            meta = json.loads(zf.read("format.json"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
                raise ArtifactRejected("The saved model is in an unknown format version, so it was not loaded. "
                                       "Retrain it with this version of the workbench.")
            pipeline = _load_skops(zf.read("pipeline.skops"))
            xgb_meta = meta.get("xgboost")
            if xgb_meta:
                if "booster.ubj" not in names:
                    raise ArtifactRejected("The saved XGBoost model lacks its trees, so it was not loaded. Retrain it.")
                _attach_xgboost(pipeline, xgb_meta, zf.read("booster.ubj"))
            elif "booster.ubj" in names:
                raise ArtifactRejected("The saved model has unexpected contents, so it was not loaded. Retrain it.")
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as err:
        raise ArtifactRejected(f"The saved model is damaged ({type(err).__name__}), so it was not loaded. "
                               "Retrain it.") from err
    return pipeline


def _load_skops(raw: bytes) -> Any:
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.loads(raw, trusted=list(TRUSTED_TYPES + LEGACY_TRUSTED_TYPES))
    except UntrustedTypesFoundException as err:
        found = sorted(set(sio.get_untrusted_types(data=raw)) - set(TRUSTED_TYPES + LEGACY_TRUSTED_TYPES))
        listed = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
        raise ArtifactRejected(f"The saved model contains objects the workbench does not trust ({listed}), so it "
                               "was not loaded. Only load models trained in this workbench.") from err
    except (TypeError, AttributeError, ImportError, ModuleNotFoundError) as err:
        raise ArtifactRejected(f"The saved model could not be rebuilt ({type(err).__name__}: {err}); it may come "
                               "from another library version. Retrain it.") from err


# -- XGBoost: the booster leaves the pipeline before skops sees it ---------------------------------------------------
def _detach_xgboost(pipeline: Any) -> tuple[Any, dict | None]:
    """Returns a shallow copy of the pipeline with its XGBoost model replaced by BOOSTER_SLOT, plus the booster."""
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return pipeline, None
    name, final = steps[-1]
    xgb_model, holder = _find_xgb(final)
    if xgb_model is None:
        return pipeline, None
    raw = bytes(xgb_model.get_booster().save_raw(raw_format="ubj"))
    params = {k: v for k, v in xgb_model.get_params().items() if isinstance(v, _JSON_SCALARS)}
    meta = {"slot": "wrapped" if holder is not None else "final", "class": type(xgb_model).__name__,
            "params": params}
    out = copy.copy(pipeline)
    if holder is not None:
        wrapper = copy.copy(holder)
        wrapper.estimator_ = BOOSTER_SLOT
        out.steps = [*steps[:-1], (name, wrapper)]
    else:
        out.steps = [*steps[:-1], (name, BOOSTER_SLOT)]
    return out, {"meta": meta, "raw": raw}


def _find_xgb(final: Any) -> tuple[Any, Any]:
    try:
        from xgboost import XGBModel
    except ImportError:
        return None, None
    if isinstance(final, XGBModel):
        return final, None
    inner = getattr(final, "estimator_", None)
    if type(final).__name__ == "EncodedLabelClassifier" and isinstance(inner, XGBModel):
        return inner, final
    return None, None


def _attach_xgboost(pipeline: Any, meta: dict, raw: bytes) -> None:
    import xgboost

    cls_name = meta.get("class")
    params = meta.get("params") or {}
    if cls_name not in _XGB_CLASSES or not isinstance(params, dict):
        raise ArtifactRejected("The saved XGBoost model names an unknown model type, so it was not loaded.")
    params = {str(k): v for k, v in params.items() if isinstance(v, _JSON_SCALARS)}
    try:
        model = getattr(xgboost, cls_name)(**params)
        model.load_model(bytearray(raw))
    except (xgboost.core.XGBoostError, TypeError, ValueError) as err:
        raise ArtifactRejected(f"The saved XGBoost trees could not be read ({err}), so the model was not loaded. "
                               "Retrain it.") from err
    steps = getattr(pipeline, "steps", None)
    if not steps:
        raise ArtifactRejected("The saved XGBoost model has no pipeline to hold it, so it was not loaded.")
    name, final = steps[-1]
    if meta.get("slot") == "final" and final == BOOSTER_SLOT:
        pipeline.steps[-1] = (name, model)
    elif meta.get("slot") == "wrapped" and type(final).__name__ == "EncodedLabelClassifier" \
            and getattr(final, "estimator_", None) == BOOSTER_SLOT:
        final.estimator_ = model
    else:
        raise ArtifactRejected("The saved XGBoost model does not fit its pipeline, so it was not loaded. Retrain it.")
