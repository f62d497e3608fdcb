"""Model snapshots as data a worker can read from a topic without running anything in it.

A snapshot travels on the compacted models topic, which anyone allowed to produce there can
write, so it is read as data, never unpickled unverified:

* The default model (the fused standardized logistic regression with its binned AUC) is plain
  numbers, encoded with msgpack and checked field by field on the way in (types, finiteness,
  sizes). Its drift detector is not carried (River's ADWIN keeps its window in a C structure): a
  restored model watches for drift afresh, with its ``drifts`` and ``recovering`` counts kept.
* Any other estimator (a River pipeline, a tree, the uplift arms, the action bandits) is pickled
  and signed with HMAC-SHA256 under the ``model_snapshot_key`` secret. Without a key such models
  are left out of the snapshot (they start fresh after a restart); on the way in, an entry whose
  signature is missing or wrong is refused before a byte of it is unpickled.

Snapshots of format 1 (every model pickled, unsigned) are refused whole.

>>> from momentstream.models.online import ObjectiveModel
>>> model = ObjectiveModel("churn")
>>> for i in range(50):
...     model.learn({"silence": float(i % 9)}, i % 9 > 4)
>>> entry = encode_model("churn", model, key=None)
>>> entry[0]
'plain'
>>> again = decode_model("churn", entry, ObjectiveModel("churn"), key=None)
>>> again.score({"silence": 7.0}) == model.score({"silence": 7.0}), again.version
(True, 'churn@50')
>>> decode_model("churn", ["signed", b"\\x80\\x04K\\x01.", b"forged"], ObjectiveModel("churn"), key=None)
Traceback (most recent call last):
...
momentstream.models.snapshot_codec.SnapshotRefusedError: churn: a signed model entry and no model_snapshot_key ...
"""

from __future__ import annotations

import hashlib
import hmac
import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack
from river import metrics

from momentstream.models.action_bandit import ActionBandit
from momentstream.models.binned_auc import BinnedAUC
from momentstream.models.online import ObjectiveModel
from momentstream.models.scaled_logistic import ScaledLogistic
from momentstream.models.scaled_poisson import ScaledPoisson
from momentstream.models.uplift import UpliftModel

__all__ = [
    "PLAIN",
    "SIGNED",
    "SNAPSHOT_FORMAT",
    "Refusal",
    "SharedModel",
    "SnapshotRefusedError",
    "decode_model",
    "decode_snapshot",
    "encode_model",
    "encode_snapshot",
    "signature",
]

PLAIN = "plain"
SIGNED = "signed"
SNAPSHOT_FORMAT = 2
"""Format 1 pickled every model unsigned: refused whole."""
MAX_FEATURES = 10_000
MAX_BINS = 100_000
_NAME_LIMIT = 200

SharedModel = ObjectiveModel | UpliftModel | ActionBandit
M = TypeVar("M", bound=SharedModel)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A model of a snapshot that was not loaded (it starts fresh), and why (a metric label)."""

    name: str
    reason: str


class SnapshotRefusedError(ValueError):
    """A snapshot, or one model in it, that is not loaded; ``reason`` is a metric label."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def signature(key: bytes, name: str, body: bytes) -> bytes:
    """HMAC-SHA256 of a signed entry, bound to the model's name (an entry cannot be moved to another)."""
    return hmac.new(key, name.encode() + b"\0" + body, hashlib.sha256).digest()


def encode_snapshot(models: Mapping[str, SharedModel], key: bytes | None) -> tuple[bytes, list[str]]:
    """A snapshot of ``models`` by name, and the names left out (not plain data, and no key to sign them)."""
    body, omitted = {}, []
    for name, model in models.items():
        entry = encode_model(name, model, key)
        if entry is None:
            omitted.append(name)
        else:
            body[name] = entry
    return msgpack.packb([SNAPSHOT_FORMAT, sorted(body), body], use_bin_type=True), omitted


def decode_snapshot(
    data: bytes, configured: Mapping[str, SharedModel], key: bytes | None
) -> tuple[dict[str, SharedModel], list[Refusal]]:
    """The models of a snapshot that may replace the ``configured`` (fresh) ones, and those refused.

    Raises :class:`SnapshotRefusedError` for a snapshot that cannot be read or is of the pickled format 1.
    Entries the configuration has no model for are ignored; a bandit whose moment's actions changed is
    neither loaded nor refused (it starts again).
    """
    try:
        doc = msgpack.unpackb(data, raw=False)
    except (ValueError, msgpack.UnpackException) as err:
        raise SnapshotRefusedError(f"not a model snapshot: {err}", "unreadable") from None
    if isinstance(doc, list) and doc and doc[0] == 1:
        raise SnapshotRefusedError("model snapshot format 1 holds unsigned pickles: refused (models start fresh; the "
                                   "next snapshot a worker publishes is of the safe format)",
                                   "pickled_format")  # fmt: skip
    if not isinstance(doc, list) or len(doc) < 3 or doc[0] != SNAPSHOT_FORMAT or not isinstance(doc[2], dict):
        raise SnapshotRefusedError(f"model snapshot format is not {SNAPSHOT_FORMAT}", "unreadable")
    loaded: dict[str, SharedModel] = {}
    refused: list[Refusal] = []
    for name, entry in doc[2].items():
        fresh = configured.get(name) if isinstance(name, str) else None
        if fresh is None:
            continue
        try:
            model = decode_model(name, entry, fresh, key)
        except SnapshotRefusedError as err:
            refused.append(Refusal(name, err.reason))
            continue
        if not model.is_finite():
            refused.append(Refusal(name, "non_finite"))
        elif not (isinstance(model, ActionBandit) and model.actions != fresh.actions):  # type: ignore[union-attr]
            loaded[name] = model
    return loaded, refused


def encode_model(name: str, model: SharedModel, key: bytes | None) -> list[Any] | None:
    """The snapshot entry of one model: plain data, a signed pickle, or None (not plain and no key)."""
    if _is_plain(model):
        assert isinstance(model, ObjectiveModel)
        return [PLAIN, _plain_objective(model)]
    if key is None:
        return None
    body = pickle.dumps(model)
    return [SIGNED, body, signature(key, name, body)]


def decode_model(name: str, entry: Any, like: M, key: bytes | None) -> M:
    """The model of one snapshot entry, of the same kind as ``like`` (the configured fresh model).

    Raises :class:`SnapshotRefusedError` naming the reason: a malformed entry, a signed entry without a key
    or with a wrong signature, or a model of another kind than the configuration asks for.
    """
    if not isinstance(entry, list) or not entry or entry[0] not in (PLAIN, SIGNED):
        raise SnapshotRefusedError(f"{name}: not a model entry", "malformed")
    if entry[0] == PLAIN:
        if not _is_plain(like):
            raise SnapshotRefusedError(f"{name}: plain data for a model that is not a plain logistic model", "kind")
        assert isinstance(like, ObjectiveModel)
        try:
            model = _objective_from_plain(like, entry[1] if len(entry) == 2 else None)
        except (TypeError, ValueError, KeyError, IndexError) as err:
            raise SnapshotRefusedError(f"{name}: malformed plain model ({err})", "malformed") from None
        return model  # type: ignore[return-value]  # checked: like is an ObjectiveModel
    if key is None:
        raise SnapshotRefusedError(f"{name}: a signed model entry and no model_snapshot_key to check it", "unsigned")
    if len(entry) != 3 or not isinstance(entry[1], bytes) or not isinstance(entry[2], bytes):
        raise SnapshotRefusedError(f"{name}: malformed signed entry", "malformed")
    if not hmac.compare_digest(signature(key, name, entry[1]), entry[2]):
        raise SnapshotRefusedError(f"{name}: the signature does not match model_snapshot_key", "bad_signature")
    loaded = pickle.loads(entry[1])  # signed by a holder of the key: one of our own workers
    if type(loaded) is not type(like) or getattr(loaded, "estimator", None) != getattr(like, "estimator", None):
        raise SnapshotRefusedError(f"{name}: snapshot entry is not a {type(like).__name__}", "kind")
    same: M = loaded
    return same


def _is_plain(model: SharedModel) -> bool:
    return (
        isinstance(model, ObjectiveModel)
        and isinstance(model.pipeline, ScaledLogistic)
        and isinstance(model.auc, BinnedAUC)
    )


def _plain_objective(model: ObjectiveModel) -> dict[str, Any]:
    pipeline = model.pipeline
    auc = model.auc
    assert isinstance(pipeline, ScaledLogistic)
    assert isinstance(auc, BinnedAUC)
    mean = model.log_loss._mean
    return {
        "estimator": model.estimator,
        "counts": [model.learned, model.drifts, model.recovering, model.skipped, model.reverted],
        "rates": [pipeline.lr, pipeline.l2, pipeline.intercept_lr, pipeline.clip, pipeline.intercept],
        "averaging": [pipeline.recent, pipeline.last_at, pipeline.average_intercept],
        "stats": {k: list(s) for k, s in pipeline.stats.items()},
        "auc": [auc.positives, auc.negatives],
        "log_loss": [float(mean.n), float(mean._mean)],
        **({"target": _target(pipeline)} if isinstance(pipeline, ScaledPoisson) else {}),
    }


def _target(pipeline: ScaledPoisson) -> list[float]:
    """A value model's unit and calibration: what its amounts are learned in and multiplied by."""
    return [pipeline.target_count, pipeline.target_mean, pipeline.label_sum, pipeline.predicted_sum,
            pipeline.calibrated_at]  # fmt: skip


def _objective_from_plain(like: ObjectiveModel, doc: Any) -> ObjectiveModel:
    """Rebuild an objective model from plain data, every field checked (a topic is not trusted)."""
    if not isinstance(doc, dict) or doc.get("estimator") != like.estimator:
        raise ValueError("another estimator than the objective's")
    counts = _numbers(doc["counts"], 5, integer=True)
    lr, l2, intercept_lr, clip, intercept = _numbers(doc["rates"], 5)
    stats = doc["stats"]
    if not isinstance(stats, dict) or len(stats) > MAX_FEATURES:
        raise ValueError("feature statistics")
    checked: dict[str, list[float]] = {}
    for feature, row in stats.items():
        if not isinstance(feature, str) or not 0 < len(feature) <= _NAME_LIMIT:
            raise ValueError("a feature name")
        values = [*row, row[3]] if isinstance(row, list) and len(row) == 5 else row  # before weights were averaged
        count, mean, var, weight, scale, average = _numbers(values, 6)
        if count < 0 or var < 0 or scale < 0:
            raise ValueError(f"statistics of {feature!r}")
        checked[feature] = [int(count), mean, var, weight, scale, average]
    positives, negatives = doc["auc"]
    bins = len(positives) - 1
    if not 0 < bins <= MAX_BINS or len(negatives) != bins + 1:
        raise ValueError("AUC bins")
    positives, negatives = _numbers(positives, bins + 1, integer=True), _numbers(negatives, bins + 1, integer=True)
    n, mean_loss = _numbers(doc["log_loss"], 2)
    if min(*counts, *positives, *negatives, n) < 0:
        raise ValueError("a negative count")
    model = ObjectiveModel(like.name, estimator=like.estimator)
    # The averaging window is the objective's (configuration, not data). An average of nothing yet (a snapshot
    # from before averaging, or of a model that did not average) starts at the weights it learned.
    recent, last_at, average_intercept = _numbers(doc.get("averaging", [0, 0, intercept]), 3)
    if recent < 0:
        raise ValueError("averaging")
    if not recent:
        average_intercept = intercept
        for row in checked.values():
            row[5] = row[3]
    window = like.pipeline.average_ms if isinstance(like.pipeline, ScaledLogistic) else 0
    kind = type(like.pipeline) if isinstance(like.pipeline, ScaledPoisson) else ScaledLogistic
    if ("target" in doc) != (kind is ScaledPoisson):
        raise ValueError("a value model for a probability objective, or the other way round")
    pipeline = kind(lr=lr, l2=l2, intercept_lr=intercept_lr, clip=clip, average_ms=window)
    if isinstance(pipeline, ScaledPoisson):
        target_count, target_mean, label_sum, predicted_sum, calibrated_at = _numbers(doc["target"], 5)
        if min(target_count, target_mean, label_sum, predicted_sum) < 0:
            raise ValueError("target statistics")
        pipeline.target_count, pipeline.target_mean = int(target_count), target_mean
        pipeline.label_sum, pipeline.predicted_sum = label_sum, predicted_sum
        pipeline.calibrated_at = int(calibrated_at)
    pipeline.stats, pipeline.intercept = checked, intercept
    pipeline.recent, pipeline.last_at, pipeline.average_intercept = recent, int(last_at), average_intercept
    model.pipeline = pipeline
    auc = BinnedAUC(bins)
    auc.positives, auc.negatives = [int(v) for v in positives], [int(v) for v in negatives]
    model.auc = auc
    model.log_loss = metrics.MAE() if model.predicts_value else metrics.LogLoss()  # type: ignore[no-untyped-call]
    model.log_loss._mean.n, model.log_loss._mean._mean = n, mean_loss
    model.learned, model.drifts, model.recovering, model.skipped, model.reverted = (int(c) for c in counts)
    return model


def _numbers(values: Any, length: int, integer: bool = False) -> list[float]:
    """``values`` as ``length`` finite numbers (whole ones if ``integer``), else ValueError."""
    if not isinstance(values, list) or len(values) != length:
        raise ValueError(f"expected a list of {length} numbers")
    kinds = (int,) if integer else (int, float)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kinds) or not math.isfinite(v):
            raise ValueError("a number that is missing, of the wrong type, or not finite")
        out.append(float(v) if not integer else v)
    return out
