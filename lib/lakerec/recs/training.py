"""What the train, evaluate and recommend steps share: their inputs (read through the lake),
the id maps they extend, the evaluation holdout, and how a model is measured on it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakerec.core import registry
from lakerec.core.dates import latest_run_rows, midnight
from lakerec.core.errors import InputError
from lakerec.core.lake import Lake
from lakerec.core.schemas import (
    CATEGORY,
    EVENT_TS,
    ITEM_ID,
    ITEM_IDX,
    RANK,
    SCORE,
    SEGMENT_ID,
    USER_ID,
    USER_IDX,
    Source,
)
from lakerec.core.settings import MlflowConfig
from lakerec.core.step import StepContext
from lakerec.core.tables import (
    GOLD_CUSTOMER_SEGMENTS,
    GOLD_ITEM_INDEX,
    GOLD_USER_INDEX,
    SILVER_EVENTS,
    SILVER_ITEMS,
    Table,
)
from lakerec.recs.als import fit_als, prepare_ratings, top_k
from lakerec.recs.baselines import popularity_top_k
from lakerec.recs.blend import BLEND, BlendWeights, blend
from lakerec.recs.ease import EaseModel, Gram, ease_top_k, gram_within, no_recommendations
from lakerec.recs.holdout import ConfidenceSpec, Holdout, make_holdout
from lakerec.recs.interactions import new_index_rows, with_indices
from lakerec.recs.item_similarity import item_item_top_k
from lakerec.recs.promotion import (
    Evidence,
    item_categories,
    item_interaction_counts,
    measure_many,
)
from lakerec.recs.search import AlsParams

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("lakerec.train")

HINT = "run `lakerec conform` first"
EXPERIMENT = "recommendations"  # MLflow experiment of train and evaluate runs
EVENTS_VERSION = SILVER_EVENTS.qualified_name  # key of the events' version in versions read


@dataclass
class Inputs:
    """What train and evaluate read, with the versions read."""

    events: DataFrame           # silver events before the run date
    items: DataFrame | None
    user_index: DataFrame       # existing ids plus new ones (written by train)
    item_index: DataFrame
    new_users: DataFrame
    new_items: DataFrame
    segments: DataFrame | None  # (user_id, segment_id) of the latest segmentation, if any
    versions: dict[str, int]


def read_inputs(ctx: StepContext) -> Inputs:
    lake = ctx.lake
    events, version = lake.snapshot(SILVER_EVENTS, hint=HINT)
    versions = {EVENTS_VERSION: version}
    events = events.where(F.col(EVENT_TS) < F.lit(midnight(ctx.run_date)))
    items = None
    if lake.exists(SILVER_ITEMS):
        items, versions[SILVER_ITEMS.qualified_name] = lake.snapshot(SILVER_ITEMS)
    user_old = lake.read_if_exists(GOLD_USER_INDEX)
    item_old = lake.read_if_exists(GOLD_ITEM_INDEX)
    item_keys = events.select(ITEM_ID)
    if items is not None:
        item_keys = item_keys.unionByName(items.select(ITEM_ID))
    new_users = new_index_rows(user_old, events, key_col=USER_ID, index_col=USER_IDX).cache()
    new_items = new_index_rows(item_old, item_keys, key_col=ITEM_ID, index_col=ITEM_IDX).cache()
    user_index = new_users if user_old is None else user_old.unionByName(new_users)
    item_index = new_items if item_old is None else item_old.unionByName(new_items)
    return Inputs(events, items, user_index.cache(), item_index.cache(), new_users, new_items,
                  latest_segments(ctx), versions)


def latest_segments(ctx: StepContext) -> DataFrame | None:
    """``(user_id, segment_id)`` of the latest segmentation on or before the run date."""
    segments = ctx.lake.read_if_exists(GOLD_CUSTOMER_SEGMENTS)
    if segments is None:
        return None
    return (latest_run_rows(segments, as_of=ctx.run_date)
            .select(USER_ID, F.col(SEGMENT_ID).cast("int")))


def write_indices(ctx: StepContext, inputs: Inputs) -> dict[str, int]:
    """Append the new ids (MERGE insert-only: a rerun adds nothing)."""
    lake = ctx.lake
    return {GOLD_USER_INDEX.qualified_name: lake.upsert(inputs.new_users, GOLD_USER_INDEX,
                                                        [USER_ID], update=False),
            GOLD_ITEM_INDEX.qualified_name: lake.upsert(inputs.new_items, GOLD_ITEM_INDEX,
                                                        [ITEM_ID], update=False)}


def confidence_spec(ctx: StepContext) -> ConfidenceSpec:
    """How events become confidences at the configured default point."""
    cfg = ctx.config.recommend
    weights = {str(name): value for name, value in cfg.event_weights.items()}
    return ConfidenceSpec(weights, cfg.half_life_days, cfg.explicit_ratings,
                          cfg.confidence_transform, cfg.confidence_epsilon)


def default_params(ctx: StepContext) -> AlsParams:
    """The configured default point: the search's first trial."""
    cfg = ctx.config.recommend
    return AlsParams(rank=cfg.als.rank, reg_param=cfg.als.reg_param, alpha=cfg.als.alpha,
                     transform=cfg.confidence_transform, half_life_days=cfg.half_life_days)


@dataclass(frozen=True)
class Fitter:
    """Fits ALS with the given settings on the interactions of a holdout or of everything."""

    inputs: Inputs
    spec: ConfidenceSpec
    fit_args: dict[str, Any]
    num_blocks: int

    def spec_for(self, params: AlsParams) -> ConfidenceSpec:
        return self.spec.with_settings(transform=params.transform,
                                       half_life_days=params.half_life_days)

    def fit(self, interactions: DataFrame, params: AlsParams, *,
            max_iter: int | None = None) -> ALSModel:
        """ALS on ``interactions`` (``user_id, item_id, confidence``) with ``params``, for
        ``max_iter`` iterations instead of the configured number when given."""
        ratings = prepare_ratings(with_indices(interactions, self.inputs.user_index,
                                               self.inputs.item_index), self.num_blocks)
        fit_args = self.fit_args if max_iter is None else {**self.fit_args, "max_iter": max_iter}
        try:
            return fit_als(ratings, params, **fit_args)
        finally:
            ratings.unpersist()

    def on_holdout(self, holdout: Holdout, params: AlsParams, *,
                   max_iter: int | None = None) -> ALSModel:
        """Fitted on the holdout's training part only (to be measured on it)."""
        return self.fit(holdout.train_with(self.spec_for(params)), params, max_iter=max_iter)

    def on_everything(self, until: datetime, params: AlsParams) -> tuple[ALSModel, int]:
        """Fitted on every event before ``until``, held-out ones included (to be served),
        and the number of (customer, item) pairs it saw."""
        interactions = self.spec_for(params).of(
            self.inputs.events.where(F.col(EVENT_TS) < F.lit(until)), until).cache()
        try:
            return self.fit(interactions, params), interactions.count()
        finally:
            interactions.unpersist()


def make_fitter(ctx: StepContext, inputs: Inputs) -> Fitter:
    """ALS with the configured fixed settings (iterations, blocks, checkpoints, seed)."""
    cfg = ctx.config.recommend
    blocks = ctx.spark.sparkContext.defaultParallelism
    return Fitter(inputs, confidence_spec(ctx),
                  {"max_iter": cfg.als.max_iter, "num_blocks": blocks,
                   "checkpoint_interval": cfg.als.checkpoint_interval, "seed": cfg.als.seed,
                   "implicit": not cfg.explicit_ratings}, blocks)


class NothingToEvaluateError(InputError):
    """The split holds out nothing to measure a model on (tiny or degenerate data: every
    purchase on one side of the split, or none at all); ``train`` then trains nothing."""


def evaluation_holdout(ctx: StepContext, events: DataFrame) -> Holdout:
    cfg = ctx.config.recommend
    holdout = make_holdout(events, confidence_spec(ctx), protocol=cfg.split.protocol,
                           test_days=cfg.split.test_days, ratio=cfg.split.ratio,
                           seed=cfg.split.seed, run_date=ctx.run_date,
                           relevant_event_types=cfg.relevant_event_types)
    holdout.train = holdout.train.cache()
    holdout.relevant = holdout.relevant.cache()
    if holdout.relevant.limit(1).count() == 0:
        holdout.unpersist()
        raise NothingToEvaluateError(
            f"the {cfg.split.protocol} split holds out no relevant "
            f"{'/'.join(cfg.relevant_event_types)} events of known customers before "
            f"{ctx.run_date}: nothing to evaluate a model on (check --run-date, "
            "recommend.split.test_days or recommend.relevant_event_types)")
    return holdout


def model_top_k(model: ALSModel, holdout: Holdout, inputs: Inputs, k: int,
                users_per_block: int) -> DataFrame:
    """``(user_id, item_id, score, rank)`` of the model for the held-out customers, never
    recommending their training pairs."""
    users = holdout.relevant.select(USER_ID).distinct().join(inputs.user_index, USER_ID)
    seen = with_indices(holdout.train, inputs.user_index, inputs.item_index, columns=())
    scored = top_k(model, k, users=users, exclude_pairs=seen, users_per_block=users_per_block)
    return (scored.join(inputs.user_index, USER_IDX).join(inputs.item_index, ITEM_IDX)
            .select(USER_ID, ITEM_ID, SCORE, RANK))


def measure_model(name: str, model: ALSModel, holdout: Holdout, inputs: Inputs,
                  ctx: StepContext) -> Evidence:
    cfg = ctx.config.recommend
    recs = model_top_k(model, holdout, inputs, max(cfg.metrics_ks), cfg.users_per_block)
    return measure_recs(name, recs, holdout, inputs, ks=cfg.metrics_ks)


def measure_popularity(holdout: Holdout, inputs: Inputs, ctx: StepContext) -> Evidence:
    users = holdout.relevant.select(USER_ID).distinct()
    recs = popularity_top_k(holdout.train, users, max(ctx.config.recommend.metrics_ks))
    return measure_recs("popularity", recs, holdout, inputs, ks=ctx.config.recommend.metrics_ks)


def ease_gram(holdout: Holdout, ctx: StepContext, *, needed: bool = False
              ) -> tuple[Gram | None, str | None]:
    """EASE's Gram matrix of ``holdout``'s training part, or ``None`` when
    ``recommend.blend.families`` leaves EASE out (unless ``needed``, to measure a champion
    that weighs it), or (with the reason) when its items exceed ``recommend.ease.max_items``:
    the family is left out."""
    cfg = ctx.config.recommend
    if Source.EASE not in cfg.blend.families and not needed:
        return None, None
    gram, too_many = gram_within(holdout.train, max_items=cfg.ease.max_items)
    return gram, too_many and f"{too_many}: the family is left out"


@dataclass
class Candidates:
    """Each blend component's top ``depth`` ``(user_id, item_id, score, rank)`` for the
    held-out customers (``users``) of one holdout (:mod:`lakerec.recs.blend`), and EASE's
    Gram matrix of its training pairs, to score EASE at another lambda (:meth:`with_ease`)."""

    lists: dict[str, DataFrame]
    depth: int
    users: DataFrame
    pairs: DataFrame              # the holdout's training pairs: EASE's histories
    ease_gram: Gram | None = None
    # the training pairs' confidences item-item and popularity read (cached: computing them
    # from the events takes an aggregation, and the two lists read them five times)
    affinities: DataFrame | None = None

    def blended(self, weights: BlendWeights, k: int) -> DataFrame:
        if weights.family != BLEND:  # one component: its own list, as it ranked it
            return self.lists[weights.family].where(F.col(RANK) <= k)
        return blend(self.lists, weights, depth=self.depth, k=k)

    def with_als(self, recs: DataFrame) -> Candidates:
        """The same lists with another ALS model's."""
        return Candidates({**self.lists, Source.ALS: recs}, self.depth, self.users,
                          self.pairs, self.ease_gram, self.affinities)

    def with_ease(self, lamb: float, dropout: float, users_per_block: int) -> Candidates:
        """The same lists with EASE's at ``lamb`` and ``dropout`` (cached: :meth:`unpersist`
        it); an empty one without a Gram matrix (the catalogue is above
        ``recommend.ease.max_items``, as ``recommend`` serves then)."""
        if self.ease_gram is None:
            log.warning("no EASE Gram matrix (too many items): EASE proposes nothing")
            recs = no_recommendations(self.pairs.sparkSession)
        else:
            recs = ease_top_k(self.ease_gram.model(lamb, dropout), self.pairs, self.depth,
                              users=self.users, users_per_block=users_per_block).cache()
        return Candidates({**self.lists, Source.EASE: recs}, self.depth, self.users,
                          self.pairs, self.ease_gram, self.affinities)

    def unpersist(self) -> None:
        for df in self.lists.values():
            df.unpersist()
        if self.affinities is not None:
            self.affinities.unpersist()


def candidates_on(holdout: Holdout, inputs: Inputs, als_model: ALSModel, spec: ConfidenceSpec,
                  ctx: StepContext, *, ease: EaseModel | None = None,
                  ease_gram: Gram | None = None) -> Candidates:
    """ALS (``als_model``), item-item, popularity and (with ``ease``) EASE candidates
    trained on ``holdout``'s training part; item-item affinities are confidences by
    ``spec``; EASE's histories are the training pairs its Gram matrix was built from (with
    ``spec``'s decay, a purchase returned later can drop a pair), and that Gram matrix,
    ``ease_gram``, is kept for :meth:`Candidates.with_ease`."""
    cfg = ctx.config.recommend
    depth = max(cfg.blend.depth, *cfg.metrics_ks)
    users = holdout.relevant.select(USER_ID).distinct()
    ease_list = (None if ease is None else
                 ease_top_k(ease, holdout.train, depth, users=users,
                            users_per_block=cfg.users_per_block))
    affinities = holdout.train_with(spec).cache()
    lists = component_lists(
        model_top_k(als_model, holdout, inputs, depth, cfg.users_per_block),
        affinities, users, depth, ctx, ease=ease_list)
    return Candidates({name: df.cache() for name, df in lists.items()}, depth, users,
                      holdout.train, ease_gram, affinities)


def component_lists(als: DataFrame, interactions: DataFrame, users: DataFrame, depth: int,
                    ctx: StepContext, *, ease: DataFrame | None = None
                    ) -> dict[str, DataFrame]:
    """The blend's components for ``users``: the given ALS and (when given) EASE lists, and
    the item-item and popularity lists of ``interactions`` ``(user_id, item_id,
    confidence)``, top ``depth``."""
    cfg = ctx.config.recommend
    item_item = cfg.item_item
    lists: dict[str, DataFrame] = {
        Source.ALS: als,
        Source.ITEM_ITEM: item_item_top_k(
            interactions, depth, users=users, metric=item_item.similarity,
            min_cooccurrence=item_item.min_cooccurrence,
            max_items_per_user=item_item.max_items_per_user, neighbours=item_item.neighbours),
        Source.POPULAR: popularity_top_k(interactions, users, depth)}
    if ease is not None:
        lists[Source.EASE] = ease
    return lists


def measure_recs(name: str, recs: DataFrame, holdout: Holdout, inputs: Inputs, *,
                 ks: tuple[int, ...]) -> Evidence:
    return measure_lists({name: recs}, holdout, inputs, ks=ks)[name]


def measure_lists(lists: Mapping[str, DataFrame], holdout: Holdout, inputs: Inputs, *,
                  ks: tuple[int, ...]) -> dict[str, Evidence]:
    """Every list of ``lists`` (by evidence name) on ``holdout``, measured together
    (:func:`~lakerec.recs.promotion.measure_many`)."""
    categories = (item_categories(inputs.items) if inputs.items is not None
                  else inputs.item_index.select(ITEM_ID, F.lit(None).cast("string")
                                                .alias(CATEGORY)))
    return measure_many(lists, holdout.relevant, ks=ks,
                        catalog_size=max(inputs.item_index.count(), 1),
                        item_popularity=item_interaction_counts(holdout.train),
                        item_categories=categories, segments=inputs.segments)


def load_version(mlflow_config: MlflowConfig, version: int) -> ALSModel:
    """The ALS model of registered version ``version`` of ``lakerec-als``."""
    import mlflow.spark

    registry.tracking(mlflow_config)
    pipeline = mlflow.spark.load_model(f"models:/{registry.ALS_MODEL}/{version}")
    return pipeline.stages[0]


EASE_LAMBDA_PARAM = "ease.lambda"  # MLflow param of the EASE lambda a version is served with
EASE_DROPOUT_PARAM = "ease.dropout"  # ... and of its EDLAE dropout (absent before: 0, EASE)

# The version tags that bind a registered model to the lake whose index tables its factor
# ids refer to.
BOUND_INDEXES = (GOLD_USER_INDEX, GOLD_ITEM_INDEX)
LAKE_ROOT_TAG = "lake.root"


def _id_tag(table: Table) -> str:
    return f"lake.{table.name}.id"


def lake_binding(lake: Lake) -> dict[str, str]:
    """Version tags tying a model to ``lake``: its root, and the Delta ids and versions of
    the index tables its factor ids refer to (write them before calling this)."""
    tags = {LAKE_ROOT_TAG: lake.root}
    for table in BOUND_INDEXES:
        tags[_id_tag(table)] = str(lake.table_id(table))
        tags[f"lake.{table.name}.version"] = str(lake.version(table))
    return tags


def foreign_to(binding: dict[str, str], lake: Lake) -> str | None:
    """Why a version with the tags ``binding`` cannot score ``lake``, or None when it can.

    Index tables are only ever extended, so a model serves its lake at any later index
    version; another lake's index tables have other Delta ids, whatever their versions.
    Versions registered before models were bound carry no tags and are not checked.
    """
    if LAKE_ROOT_TAG not in binding:
        return None
    for table in BOUND_INDEXES:
        theirs, ours = binding.get(_id_tag(table)), lake.table_id(table)
        if theirs != str(ours):
            return (f"it was trained on the lake at {binding[LAKE_ROOT_TAG]} "
                    f"({table.qualified_name} id {theirs}), not this one at {lake.root} "
                    f"({table.qualified_name} id {ours})")
    return None


@dataclass(frozen=True)
class TrainedOn:
    """What a registered version was trained on, from its MLflow run and version tags."""

    params: AlsParams
    weights: BlendWeights
    trained_until: datetime | None    # None for versions logged before it was recorded
    binding: dict[str, str]           # lake_binding() tags; empty for older versions
    ease_lambda: float | None = None  # EASE's L2 strength, when it has a weight
    ease_dropout: float = 0.0         # and its EDLAE dropout

    def fair_on(self, holdout: Holdout) -> bool:
        """True when this version cannot have seen ``holdout``'s held-out events: its
        training data ended before them. (A served model is refitted on everything up to
        its run date, so the split it was measured on does not make it fair.)"""
        return holdout.unseen_by(self.trained_until)


def trained_on(client: MlflowClient, version: int) -> TrainedOn:
    """Hyperparameters, blend weights and training data of registered version ``version``."""
    model_version = client.get_model_version(registry.ALS_MODEL, str(version))
    run_id = model_version.run_id
    if run_id is None:
        raise InputError(f"{registry.ALS_MODEL} v{version} is not linked to an MLflow run")
    params = client.get_run(run_id).data.params
    until = params.get("trained_until")
    ease_lambda = params.get(EASE_LAMBDA_PARAM)
    return TrainedOn(params=AlsParams.from_logged(params),
                     weights=BlendWeights.from_logged(params),
                     trained_until=datetime.fromisoformat(until) if until else None,
                     binding={key: value for key, value in (model_version.tags or {}).items()
                              if key.startswith("lake.")},
                     ease_lambda=float(ease_lambda) if ease_lambda not in (None, "None")
                     else None,
                     ease_dropout=float(params.get(EASE_DROPOUT_PARAM, 0.0)))


def measure_version(name: str, model: ALSModel, version: TrainedOn, holdout: Holdout,
                    inputs: Inputs, ctx: StepContext, candidates: Candidates | None) -> Evidence:
    """A registered version (``model``, trained on ``version``) on ``holdout``: its ALS
    model, blended by its weights with the other components of ``candidates``. Item-item
    and popularity are recomputed from the data with today's settings, EASE with the
    version's lambda; ``None`` will do for ALS alone."""
    cfg = ctx.config.recommend
    weights = version.weights
    if weights.family == Source.ALS:
        return measure_model(name, model, holdout, inputs, ctx)
    if candidates is None:
        raise ValueError(f"measuring a {weights.family} needs the other components' candidates")
    own = model_top_k(model, holdout, inputs, candidates.depth, cfg.users_per_block).cache()
    lists = candidates.with_als(own)
    if weights.ease > 0:
        if version.ease_lambda is None:
            raise InputError(f"{name} weighs EASE but logged no {EASE_LAMBDA_PARAM}")
        lists = lists.with_ease(version.ease_lambda, version.ease_dropout,
                                cfg.users_per_block)
    try:
        return measure_recs(name, lists.blended(weights, max(cfg.metrics_ks)), holdout,
                            inputs, ks=cfg.metrics_ks)
    finally:
        own.unpersist()
        if weights.ease > 0:
            lists.lists[Source.EASE].unpersist()


def measure_champion(ctx: StepContext, version: int, champion: TrainedOn, holdout: Holdout,
                     inputs: Inputs, fitter: Fitter, candidates: Candidates) -> Evidence:
    """The champion (registered version ``version``, trained on ``champion``) on this
    holdout, fairly.

    The registered model is measured as it is when its training data ended before the
    held-out events start. Otherwise (the random protocol, or a champion trained on data
    reaching into this test window, as every served model is) it has seen held-out pairs and
    would score too high: its settings are refitted on this split's training part and that
    model is measured instead, under the name ``champion vN (refit)``. A blended champion
    is measured with its own weights.
    """
    if champion.fair_on(holdout):
        return measure_version(f"champion v{version}", load_version(ctx.config.mlflow, version),
                               champion, holdout, inputs, ctx, candidates)
    log.info("champion v%d was trained on data up to %s, which overlaps the held-out events: "
             "refitting its hyperparameters %s on this split", version,
             champion.trained_until or "an unrecorded date", champion.params)
    return measure_version(f"champion v{version} (refit)",
                           fitter.on_holdout(holdout, champion.params), champion, holdout,
                           inputs, ctx, candidates)
