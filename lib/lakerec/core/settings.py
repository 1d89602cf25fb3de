"""The typed sections of the configuration: one model per ``base.yaml`` section.

Each is frozen, and an unknown key is an error; :mod:`lakerec.core.config` loads them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakerec.core.schemas import EventType


class Section(BaseModel):
    """Base of every config section: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PathsConfig(Section):
    """Where everything lives. Relative paths resolve against the working directory."""

    root: str
    landing: str
    ground_truth: str
    checkpoint: str
    data_docs: str
    artifacts: str
    campaigns: str


class SparkConfig(Section):
    """How the Spark session is built; ``conf`` holds any ``spark.*`` setting."""

    master: str | None
    app_name: str
    delta_package: str
    delta_jars_dir: str
    log_level: str
    conf: dict[str, str | int | float | bool]


class MlflowConfig(Section):
    tracking_uri: str
    artifact_location: str
    experiment_prefix: str


class SegmentShape(Section):
    """One planted behavioural segment of the synthetic customers."""

    share: float = Field(gt=0)
    events_per_customer: float = Field(gt=0)
    purchase_share: float = Field(ge=0, le=1)
    quantity_mean: float = Field(gt=0)
    active_days_ago: tuple[int, int]


class PlantedCampaign(Section):
    """A past campaign planted in the synthetic data; its holdout share, window and channel
    come from its definition, ``<paths.campaigns>/<name>.yaml``."""

    send_days_ago: int = Field(gt=0)
    audience_share: float = Field(gt=0, le=1)
    lift: dict[str, float]   # planted segment -> absolute conversion lift, in [-1, 1]

    @model_validator(mode="after")
    def _lifts(self) -> PlantedCampaign:
        bad = {k: v for k, v in self.lift.items() if not -1 <= v <= 1}
        if bad:
            raise ValueError(f"lifts must lie in [-1, 1]: {bad}")
        return self


class GenerateConfig(Section):
    """Synthetic landing data with planted structure (see docs/generate.md)."""

    seed: int
    customers: int = Field(gt=0)
    items: int = Field(gt=0)
    events: int = Field(gt=0)
    days: int = Field(gt=0)
    categories: int = Field(gt=0)
    taste_clusters: int = Field(gt=0)
    taste_affinity: float = Field(ge=0, le=1)
    zipf_exponent: float = Field(gt=0)
    bad_row_share: float = Field(ge=0, lt=1)
    return_share: float = Field(ge=0, le=1)
    bad_email_share: float = Field(ge=0, lt=1)
    opt_out_share: float = Field(ge=0, le=1)
    out_of_stock_share: float = Field(ge=0, lt=1)
    files: int = Field(gt=0)
    segments: dict[str, SegmentShape]
    campaigns: dict[str, PlantedCampaign] = {}


class OnlineRetailColumns(Section):
    """Column names of a transaction log shaped like the UCI Online Retail data."""

    invoice: str
    item: str
    description: str
    quantity: str
    timestamp: str
    price: str
    customer: str
    country: str
    cancellation_prefix: str


class IngestConfig(Section):
    events_adapter: Literal["auto", "none", "online_retail"]
    online_retail: OnlineRetailColumns
    csv_delimiter: str
    allow_partial_loads: bool  # ingest the readable files when others are rejected


class ConformConfig(Section):
    max_quantity: int = Field(gt=0)
    max_price: float = Field(gt=0)
    min_event_ts: date
    future_tolerance_hours: int = Field(ge=0)
    non_product_items: tuple[str, ...]


Severity = Literal["error", "warn"]


class QualityCheck(Section):
    """One data quality check: how bad a failure is and the share of rows that must pass."""

    severity: Severity
    mostly: float = Field(gt=0, le=1)


class VolumeCheck(Section):
    """Row count of this run within ``[min_ratio, max_ratio]`` x the mean of earlier runs."""

    severity: Severity
    min_ratio: float = Field(ge=0)
    max_ratio: float = Field(gt=0)
    history_runs: int = Field(gt=0)


class FreshnessCheck(Section):
    """Newest event at most ``max_days`` before the run date."""

    severity: Severity
    max_days: int = Field(ge=0)


class DriftCheck(Section):
    """Mean and quantiles of numeric columns within a relative change of the previous run."""

    severity: Severity
    columns: tuple[str, ...]
    quantiles: tuple[float, ...]
    max_relative_change: float = Field(gt=0)


class ValueRanges(Section):
    """Allowed ``[min, max]`` of numeric event columns (independent of conform's limits)."""

    quantity: tuple[float, float]
    price: tuple[float, float]
    rating: tuple[float, float]


class BronzeChecks(Section):
    columns: QualityCheck
    keys_not_null: QualityCheck
    event_types: QualityCheck
    timestamps: QualityCheck
    values: QualityCheck
    volume: VolumeCheck


class SilverChecks(Section):
    columns: QualityCheck
    keys_not_null: QualityCheck
    keys_unique: QualityCheck
    event_types: QualityCheck
    timestamps: QualityCheck
    values: QualityCheck
    referential: QualityCheck
    volume: VolumeCheck
    freshness: FreshnessCheck
    drift: DriftCheck


class GoldChecks(Section):
    keys: QualityCheck
    segment_coverage: QualityCheck
    recommendation_duplicates: QualityCheck
    already_purchased: QualityCheck
    recommendation_count: QualityCheck  # k is recommend.k
    volume: VolumeCheck


class QualityConfig(Section):
    """Data quality checks per layer, each with its severity and thresholds."""

    enabled: bool
    partial_unexpected_count: int = Field(ge=0)
    ranges: ValueRanges
    bronze: BronzeChecks
    silver: SilverChecks
    gold: GoldChecks


class FeaturesConfig(Section):
    """Customer features as of the run date (``gold.user_features``)."""

    enabled: bool
    top_categories: int = Field(gt=0)
    trend_recent_days: int = Field(gt=0)
    trend_baseline_days: int = Field(gt=0)


class SegmentConfig(Section):
    """KMeans segmentation of purchasing customers, and its champion checks."""

    enabled: bool
    k: int | None = Field(ge=2)
    k_min: int = Field(ge=2)
    k_max: int = Field(ge=2)
    seeds: tuple[int, ...] = Field(min_length=1)
    max_iter: int = Field(gt=0)
    model_features: tuple[str, ...] = Field(min_length=1)
    log_features: tuple[str, ...]
    min_stability: float = Field(ge=-1, le=1)
    stability_cost_tolerance: float = Field(ge=0)
    fit_sample: int = Field(gt=0)
    new_customer_days: int = Field(ge=0)
    min_silhouette: float = Field(ge=-1, le=1)
    min_segment_share: float = Field(ge=0, lt=1)
    promotion_margin: float = Field(ge=0)
    profile_top_categories: int = Field(gt=0)
    plot_sample: int = Field(gt=0)


class RecommendSplitConfig(Section):
    """How evaluation data is held out (and, the same way, validation data for tuning)."""

    protocol: Literal["time", "random"]
    test_days: int = Field(gt=0)
    ratio: float = Field(gt=0, lt=1)
    validation_ratio: float | None = Field(gt=0, lt=1)   # random protocol; null: ratio
    projection_share: float | None = Field(gt=0, lt=1)   # random protocol; null: none
    seed: int


ConfidenceTransform = Literal["binary", "linear", "log"]


class AlsConfig(Section):
    """Spark ALS: the default point of the search, and the settings never searched."""

    rank: int = Field(gt=0)
    reg_param: float = Field(gt=0)
    alpha: float = Field(gt=0)
    max_iter: int = Field(gt=0)
    checkpoint_interval: int = Field(gt=0)
    seed: int


class AlsStartPoint(Section):
    """Settings the search tries right after the default point (see ``search.start_points``)."""

    rank: int = Field(gt=0)
    reg_param: float = Field(gt=0)
    alpha: float = Field(gt=0)
    transform: ConfidenceTransform
    half_life_days: float | None = Field(gt=0)


class AlsSearchConfig(Section):
    """Optuna search: budgets, seed, and the space around the default point."""

    trials: int = Field(gt=0)
    timeout_seconds: float = Field(gt=0)
    seed: int
    prune_after_iterations: int | None = Field(gt=0)
    trial_max_iter: int | None = Field(gt=0)
    start_points: tuple[AlsStartPoint, ...]
    carry_champion: bool
    grow_rank: bool
    grow_tolerance_se: float = Field(ge=0)
    grow_rank_to: int | None = Field(gt=0)   # growth past rank's top; null: up to it only
    tolerance_se: float = Field(ge=0)
    confirm_draws: int = Field(ge=0)   # random protocol; 0: the search's draw alone
    rank: tuple[int, int]
    reg_param: tuple[float, float]
    alpha: tuple[float, float]
    transforms: tuple[ConfidenceTransform, ...] = Field(min_length=1)
    half_lives: tuple[float | None, ...] = Field(min_length=1)


SimilarityMetric = Literal["jaccard", "lift", "cooccurrence"]


class ItemItemConfig(Section):
    """Item-item collaborative filtering (SAR-style co-occurrence)."""

    similarity: SimilarityMetric
    min_cooccurrence: int = Field(ge=1)
    max_items_per_user: int = Field(gt=0)
    neighbours: int | None = Field(gt=0)  # each item's most similar items kept; null: all


class EaseConfig(Section):
    """EASE, a closed-form item model (:mod:`lakerec.recs.ease`)."""

    lambdas: tuple[Annotated[float, Field(gt=0)], ...] = Field(min_length=1)
    dropout: float = Field(ge=0, lt=1)   # EDLAE's: penalises popular items more; 0: EASE
    max_items: int = Field(gt=0)   # above this many items the family is left out


class BlendConfig(Section):
    """The hybrid blend of ALS, item-item, EASE and popularity, weighted on validation."""

    families: tuple[Literal["als", "item_item", "ease", "popular"], ...] = Field(min_length=1)
    weight_step: float = Field(gt=0, le=1)
    depth: int = Field(gt=0)
    tolerance_se: float = Field(ge=0)


class RecommendConfig(Section):
    """ALS training and scoring (issue: recommendations)."""

    enabled: bool
    k: int = Field(gt=0)
    explicit_ratings: bool
    event_weights: dict[EventType, float]
    half_life_days: float | None = Field(gt=0)
    confidence_transform: ConfidenceTransform
    confidence_epsilon: float = Field(gt=0)
    relevant_event_types: tuple[EventType, ...] = Field(min_length=1)
    split: RecommendSplitConfig
    als: AlsConfig
    search: AlsSearchConfig
    item_item: ItemItemConfig
    ease: EaseConfig
    blend: BlendConfig
    metrics_ks: tuple[int, ...] = Field(min_length=1)
    promotion_margin: float = Field(ge=0)
    min_lift_over_popularity: float = Field(ge=0)
    active_window_days: int = Field(gt=0)
    max_per_category: int = Field(gt=0)
    excluded_items: tuple[str, ...]
    similar_items_k: int = Field(gt=0)
    foreign_champion: Literal["refuse", "popularity"]
    content_neighbours: int = Field(gt=0)
    users_per_block: int = Field(gt=0)

    @model_validator(mode="after")
    def _pruning_probe(self) -> RecommendConfig:
        probe = self.search.prune_after_iterations
        full = self.search.trial_max_iter or self.als.max_iter
        if probe is not None and probe >= full:
            raise ValueError(f"search.prune_after_iterations ({probe}) must be below the "
                             f"iterations of a search trial ({full}): it is the short fit "
                             "that decides whether a trial is worth the full one")
        return self


class ErasureConfig(Section):
    vacuum_retention_hours: int = Field(ge=0)


class ConsentConfig(Section):
    default: bool
    suppression_file: str | None


class PrivacyConfig(Section):
    pii_key_env: str
    local_pii_key: str
    erasure: ErasureConfig
    consent: ConsentConfig


class MaintenanceConfig(Section):
    """``lakerec maintain``: compaction and old-file clean-up of every table."""

    vacuum_retention_hours: float = Field(ge=0)


class LeaseConfig(Section):
    """One run at a time per lake (:mod:`lakerec.core.lease`)."""

    wait_seconds: float = Field(ge=0)
    poll_seconds: float = Field(gt=0)
    hours: float = Field(gt=0)


class DpReportsConfig(Section):
    """Differentially private aggregates for partners (``gold.*_dp``; docs/privacy.md)."""

    enabled: bool
    epsilon: float = Field(gt=0)   # budget of one run, split evenly between the reports
    delta: float = Field(gt=0, lt=1)  # spent by private group selection, which needs delta > 0
    window_days: int = Field(gt=0)
    max_revenue_per_customer: float = Field(gt=0)   # clipping, per segment report row
    max_revenue_per_category: float = Field(gt=0)   # clipping, per category report row
    max_categories_per_customer: int = Field(gt=0)
    min_group_size: int = Field(ge=1)


class UpliftConfig(Section):
    """The uplift model (T-learner of gradient-boosted trees) learned from past campaigns."""

    evaluation_share: float = Field(gt=0, lt=1)  # customers held out of the fit for Qini
    max_iter: int = Field(gt=0)
    max_depth: int = Field(gt=0)
    seed: int


class Config(Section):
    profile: str
    paths: PathsConfig
    spark: SparkConfig
    mlflow: MlflowConfig
    lease: LeaseConfig
    maintenance: MaintenanceConfig
    generate: GenerateConfig
    privacy: PrivacyConfig
    ingest: IngestConfig
    conform: ConformConfig
    quality: QualityConfig
    features: FeaturesConfig
    segment: SegmentConfig
    recommend: RecommendConfig
    dp_reports: DpReportsConfig
    uplift: UpliftConfig
