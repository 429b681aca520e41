"""Fits XGBoost on a Dask cluster with its first-party `xgboost.dask` interface, into an ordinary saved pipeline.

`fit_xgboost_dask(pipe, X, y, task, client)` fits the pipeline's preprocessing here, ships the encoded rows to the
workers once (one scattered block per worker), trains `xgboost.dask` on all of them, and puts the booster back in
the pipeline as the plain `xgboost` estimator the catalog builds, so the saved model loads, scores and explains
like one trained locally. XGBoost's distributed histogram sketches differ from one machine's, so the model is close
to, not identical with, a local fit (the difference is measured in tests/unit/test_dask_compute.py and bench).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np


def fit_xgboost_dask(pipe, X, y, task: str, client) -> None:
    """Fits `pipe` (prep → XGBoost, possibly label-encoded) on X, y with xgboost.dask on the client's cluster."""
    import dask.array as da
    import xgboost
    from xgboost import dask as dxgb

    from core.models.preprocess import EncodedLabelClassifier
    from core.models.compute import scratch_dir

    prep, model = pipe.named_steps["prep"], pipe.named_steps["model"]
    encoded = isinstance(model, EncodedLabelClassifier)
    inner = model.estimator if encoded else model
    target = np.asarray(y)
    if encoded:
        classes, target = np.unique(target, return_inverse=True)
    Xt = np.ascontiguousarray(np.asarray(prep.fit_transform(X, y), dtype=np.float32))
    params = {k: v for k, v in inner.get_params().items() if k != "n_jobs" and v is not None}
    n_parts = max(1, min(len(client.nthreads()), len(Xt)))
    blocks = np.array_split(np.arange(len(Xt)), n_parts)
    x_parts = client.scatter([Xt[b] for b in blocks], hash=False)
    y_parts = client.scatter([target[b] for b in blocks], hash=False)
    try:
        Xd = da.concatenate([da.from_delayed(f, shape=(len(b), Xt.shape[1]), dtype=np.float32)
                             for f, b in zip(x_parts, blocks)])
        yd = da.concatenate([da.from_delayed(f, shape=(len(b),), dtype=target.dtype)
                             for f, b in zip(y_parts, blocks)])
        trainer = (dxgb.DaskXGBRegressor if task == "regression" else dxgb.DaskXGBClassifier)(**params)
        with client.as_current():  # xgboost.dask looks for the current client
            trainer.fit(Xd, yd)
        fd, path = tempfile.mkstemp(suffix=".json", dir=scratch_dir())
        os.close(fd)
        try:
            trainer.save_model(path)
            fitted = (xgboost.XGBRegressor if task == "regression" else xgboost.XGBClassifier)()
            fitted.load_model(path)
        finally:
            os.unlink(path)
    finally:
        client.cancel(list(x_parts) + list(y_parts))
    fitted.set_params(**{k: v for k, v in inner.get_params().items() if k in fitted.get_params()})
    if encoded:
        model.classes_, model.estimator_, model.n_features_in_ = classes, fitted, Xt.shape[1]
    else:
        pipe.steps[-1] = ("model", fitted)
