"""Recommendations (``lakerec train``, ``lakerec recommend``, ``lakerec evaluate``).

- :mod:`lakerec.recs.interactions`: events into confidences, business keys into ids;
- :mod:`lakerec.recs.splits`: hold-out split protocols;
- :mod:`lakerec.recs.holdout`: the evaluation and validation holdouts of a run;
- :mod:`lakerec.recs.metrics`: ranking metrics, coverage, novelty, diversity;
- :mod:`lakerec.recs.baselines`: popularity;
- :mod:`lakerec.recs.search`: the Optuna search of ALS settings and confidences;
- :mod:`lakerec.recs.als`: ALS fit and scoring;
- :mod:`lakerec.recs.item_similarity`: item-item collaborative filtering (SAR-style);
- :mod:`lakerec.recs.scoring`: blocked top-k scoring of factor models;
- :mod:`lakerec.recs.content`: content neighbours of new items, explanations;
- :mod:`lakerec.recs.candidates`: who gets recommendations, fallbacks, the final lists;
- :mod:`lakerec.recs.promotion`: evidence and the champion / challenger decision;
- :mod:`lakerec.recs.plots`: pictures of the evidence;
- :mod:`lakerec.recs.training`: what the steps share (inputs, id maps, fitting, measuring);
- :mod:`lakerec.recs.train_step`, :mod:`lakerec.recs.recommend_step`,
  :mod:`lakerec.recs.evaluate_step`: the steps.
"""
